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
