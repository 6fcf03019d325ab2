"""The inference-context cache (imlane._runtime.context_cache) with real loaders and real model files.

Loads are counted by a side effect of unpickling the model file (a marker object whose __setstate__
appends to a file), or, for loaders that read the file in C (xgboost), by the number of distinct model
objects the function saw; never by timing. The tests use the process's one cache (the loaders are
patched once per process, as in an executor), emptied before each.
"""
import os
import pickle
import textwrap

import numpy as np
import pytest

from imlane._runtime import context_cache as cc
from imlane._runtime import loading


class LoadCounter:
    """Pickled into model files: every unpickling appends a line to `log`."""

    def __init__(self, log, payload=b""):
        self.log, self.payload = log, payload

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(self.log, "a") as f:
            f.write("load\n")


def loads_in(log):
    return open(log).read().count("load") if os.path.exists(log) else 0


@pytest.fixture
def cache():
    c = cc.CACHE
    c.reset()
    c.stats.clear()
    c.max_bytes = 1 << 30
    c.install()
    yield c
    c.reset()


def holistic(body, name="f", **kw):
    source = "import numpy as np\n" + textwrap.dedent(body)
    return loading.LoadedFunction(name, source, "<test>", "f", [6], [6], **kw)


def write_model(path, log, payload=b""):
    with open(path, "wb") as f:
        pickle.dump(LoadCounter(str(log), payload), f)


def run_batches(fn, n):
    for i in range(n):
        fn([np.arange(4, dtype=np.float64)], 4)


@pytest.mark.parametrize("call", ["pickle.load(open(PATH, 'rb'))", "joblib.load(PATH)",
                                  "torch.load(PATH)", "load(open(PATH, 'rb'))"])
def test_a_holistic_udf_loads_its_model_once_across_50_batches(cache, tmp_path, call):
    model, log = tmp_path / "m.pkl", tmp_path / "loads.log"
    if call.startswith("torch"):
        import torch
        torch.save(LoadCounter(str(log)), model)
    else:
        write_model(model, log)
    fn = holistic(f"""
        import pickle, joblib, torch
        from pickle import load
        PATH = {str(model)!r}
        def f(x):
            m = {call}
            return x * 2
    """)
    run_batches(fn, 50)
    assert loads_in(log) == 1
    stats = cache.stats_for("f")
    assert (stats.misses, stats.hits) == (1, 49) and stats.bytes == model.stat().st_size


def test_another_function_and_a_reload_reuse_the_object(cache, tmp_path):
    model, log = tmp_path / "m.pkl", tmp_path / "loads.log"
    write_model(model, log)
    body = f"""
        import pickle
        def f(x):
            return x + (pickle.load(open({str(model)!r}, 'rb')) is not None)
    """
    run_batches(holistic(body, name="a"), 3)
    run_batches(holistic(body, name="b"), 3)  # another function (or client) of the same executor
    assert loads_in(log) == 1


def test_a_rewritten_model_file_is_loaded_again(cache, tmp_path):
    model, log = tmp_path / "m.pkl", tmp_path / "loads.log"
    write_model(model, log)
    fn = holistic(f"""
        import pickle
        def f(x):
            m = pickle.load(open({str(model)!r}, 'rb'))
            return x + len(m.payload)
    """)
    out = fn([np.zeros(2)], 2)
    write_model(model, log, payload=b"abc")  # new size, mtime and inode
    out2 = fn([np.zeros(2)], 2)
    assert loads_in(log) == 2
    assert out[0][0].tolist() == [0, 0] and out2[0][0].tolist() == [3, 3]


def test_streams_without_a_file_and_unkeyable_arguments_are_not_cached(cache, tmp_path):
    model, log = tmp_path / "m.pkl", tmp_path / "loads.log"
    write_model(model, log)
    fn = holistic(f"""
        import io, pickle
        DATA = open({str(model)!r}, 'rb').read()
        def f(x):
            pickle.load(io.BytesIO(DATA))
            return x
    """)
    run_batches(fn, 5)
    assert loads_in(log) == 5 and cache.stats_for("f").misses == 0


def test_the_off_switch(cache, tmp_path):
    model, log = tmp_path / "m.pkl", tmp_path / "loads.log"
    write_model(model, log)
    fn = holistic(f"""
        import pickle
        def f(x):
            pickle.load(open({str(model)!r}, 'rb'))
            return x
    """, context_cache=False)
    run_batches(fn, 5)
    assert loads_in(log) == 5


def test_outside_a_function_nothing_is_cached(cache, tmp_path):
    model, log = tmp_path / "m.pkl", tmp_path / "loads.log"
    write_model(model, log)
    for _ in range(3):
        with open(model, "rb") as f:
            pickle.load(f)
    assert loads_in(log) == 3


def test_the_byte_bound_evicts_the_least_recently_used(cache, tmp_path):
    small = cache
    logs, paths = [], []
    for i in range(3):
        paths.append(tmp_path / f"m{i}.pkl")
        logs.append(tmp_path / f"l{i}.log")
        write_model(paths[-1], logs[-1], payload=b"x" * 1000)
    size = paths[0].stat().st_size
    small.max_bytes = 2 * size  # room for two models
    fn = holistic(f"""
        import pickle
        PATHS = {[str(p) for p in paths]!r}
        which = [0]
        def f(x):
            pickle.load(open(PATHS[which[0]], 'rb'))
            return x
    """)
    for i in (0, 1, 0, 2, 0, 1):  # after 2 comes in, 1 (least recently used) goes
        fn.module.which[0] = i
        fn([np.zeros(1)], 1)
    assert [loads_in(log) for log in logs] == [1, 2, 1]
    assert small.bytes == 2 * size and len(small) == 2
    assert small.reset("f") == 2 and small.bytes == 0


def test_xgboost_booster_from_a_model_file(cache, tmp_path):
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    x = rng.random((200, 2))
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=x[:, 0] > 0.5), num_boost_round=3)
    path = tmp_path / "model.json"
    booster.save_model(str(path))
    fn = holistic(f"""
        import xgboost
        SEEN = []  # keeps every model object alive, so distinct objects have distinct ids
        def f(x):
            b = xgboost.Booster(model_file={str(path)!r})
            SEEN.append(b)
            return b.predict(xgboost.DMatrix(np.column_stack([x, x])))
    """)
    run_batches(fn, 20)
    assert len({id(b) for b in fn.module.SEEN}) == 1
    assert isinstance(fn.module.SEEN[0], xgb.Booster)
    # A Booster built without a file, and a subclass, are untouched.
    assert xgb.Booster() is not xgb.Booster()

    class Mine(xgb.Booster):
        def __init__(self, path):
            super().__init__(model_file=path)
            self.mine = True

    assert Mine(str(path)).mine


def _distinct_models(fn):
    return len({id(m) for m in fn.module.SEEN})


def test_onnxruntime_inference_session_from_a_model_file(cache, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    # y = x + [1, 2]: a graph small enough to build by hand, read from a file as a UDF's model is.
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["y"])], "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(np.array([1, 2], dtype=np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # onnxruntime 1.20 reads IR <= 10; onnx 1.17 writes 10 by default
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    fn = holistic(f"""
        import onnxruntime as ort
        SEEN = []  # keeps every session alive, so distinct sessions have distinct ids
        def f(x):
            s = ort.InferenceSession({str(path)!r}, providers=["CPUExecutionProvider"])
            SEEN.append(s)
            y = s.run(["y"], {{"x": np.column_stack([x, x]).astype(np.float32)}})[0]
            return y[:, 1].astype(np.float64)
    """)
    out = fn([np.arange(4, dtype=np.float64)], 4)
    assert out[0][0].tolist() == [2.0, 3.0, 4.0, 5.0]
    run_batches(fn, 19)
    assert _distinct_models(fn) == 1 and isinstance(fn.module.SEEN[0], ort.InferenceSession)
    stats = cache.stats_for("f")
    assert (stats.misses, stats.hits) == (1, 19) and stats.bytes == path.stat().st_size

    # Built from bytes, or with a SessionOptions (which cannot be compared), a session is not cached.
    data = path.read_bytes()
    options = ort.SessionOptions()
    fn2 = holistic(f"""
        import onnxruntime as ort
        SEEN = []
        OPTIONS = []
        def f(x):
            SEEN.append(ort.InferenceSession(DATA, providers=["CPUExecutionProvider"]))
            SEEN.append(ort.InferenceSession({str(path)!r}, OPTIONS[0], providers=["CPUExecutionProvider"]))
            return x
    """, name="g")
    fn2.module.DATA, fn2.module.OPTIONS[:] = data, [options]
    run_batches(fn2, 3)
    assert _distinct_models(fn2) == 6 and cache.stats_for("g").misses == 0


def test_lightgbm_booster_from_a_model_file(cache, tmp_path):
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    x = rng.random((200, 2))
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, label=x[:, 0] > 0.5), num_boost_round=3)
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    fn = holistic(f"""
        import lightgbm
        SEEN = []
        def f(x):
            b = lightgbm.Booster(model_file={str(path)!r})
            SEEN.append(b)
            return b.predict(np.column_stack([x, x]), num_threads=1)
    """)
    run_batches(fn, 20)
    assert _distinct_models(fn) == 1 and isinstance(fn.module.SEEN[0], lgb.Booster)
    assert fn.module.SEEN[0].num_trees() == 3
    # A Booster from a model string (no file) is built every time.
    text = path.read_text()
    assert lgb.Booster(model_str=text) is not lgb.Booster(model_str=text)


def test_surprise_dump_load_goes_through_pickle_load(cache, tmp_path):
    surprise = pytest.importorskip("surprise")
    import pandas as pd
    ratings = pd.DataFrame({"u": [1, 1, 2, 2, 3], "i": [10, 11, 10, 12, 11], "r": [5, 3, 4, 2, 1]})
    data = surprise.Dataset.load_from_df(ratings, surprise.Reader(rating_scale=(1, 5)))
    algo = surprise.SVD(n_factors=2, n_epochs=2, random_state=0).fit(data.build_full_trainset())
    path = tmp_path / "svd.dump"
    surprise.dump.dump(str(path), algo=algo)
    fn = holistic(f"""
        from surprise import dump
        SEEN = []
        def f(x):
            _, algo = dump.load({str(path)!r})
            SEEN.append(algo)
            return np.array([algo.predict(1, 10).est] * len(x))
    """)
    run_batches(fn, 10)
    assert _distinct_models(fn) == 1
    assert cache.stats_for("f").misses == 1
