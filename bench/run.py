#!/usr/bin/env python3
"""The Q1-Q8 prediction-query benchmark: IMLane against the systems a user would use instead.

  python3 bench/run.py --scale 1 [--queries Q1,Q3] [--systems imlane,limit] [--repeat 3] [--out DIR]

Builds the data and models once per (scale, seed) under DIR (default bench/out/scale-<S>), runs every
query on every system, checks that all systems return the same rows, and writes DIR/results.json,
DIR/results.md and DIR/results.png. See bench/README.md.
"""
import os
import sys

# The UDFs need Debian's Python and its packages (numpy, sklearn, xgboost, torch, statsmodels) plus the
# peers and original models from PyPI: the project venv (install_deps.sh), which is Debian's
# /usr/bin/python3 with --system-site-packages. Never a pyenv interpreter that happens to be on PATH.
VENV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")
PYTHON = os.path.join(VENV, "bin", "python")
if not os.path.exists(PYTHON):
    sys.exit(f"bench/run.py: {PYTHON} is missing: run ./install_deps.sh (or make) first")
if os.path.abspath(sys.prefix) != VENV:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    os.execve(PYTHON, [PYTHON] + sys.argv, env)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import compare  # noqa: E402
import postgres  # noqa: E402
import ray_cluster  # noqa: E402
import report  # noqa: E402
from workloads import all_queries, dataset_module  # noqa: E402
from workloads.common import MODEL_SETS  # noqa: E402

# imlane-holistic: the holistic UDF files (the model loaded inside the function) under IMLane, whose
# executors memoise the model loaders (context cache), against imlane's staged files.
# The peers under bench/peers/ (one script each, run by the venv's python; the interface is in
# bench/peers/__init__.py): what a user would run instead of IMLane.
PEERS = {"duckdb-python-arrow": "duckdb_python.py", "duckdb-python-native": "duckdb_python.py",
         "spark-pandas-udf": "spark_pandas_udf.py", "ray-data": "ray_data.py"}
# Peers whose --result-csv holds the UDF's inputs and result per input row, not the query's rows (Ray
# Data runs only the UDF, over rows DuckDB selected): checked against `limit`'s rows (limit.py
# --result-csv writes the same), once limit has run; it runs last.
UDF_ROWS = {"ray-data"}
# imlane-noop: the query on imlane with a no-op UDF of the same signature (bench/run.py writes it):
# the engine's own work (scans, joins, the Lane transfer, strings turned into Python objects) without
# the model. Its rows differ from the query's by design and are not compared.
NOT_COMPARED = {"imlane-noop", "limit"}
SYSTEMS = report.SYSTEMS  # the order they run in and appear in results.md
# What a no-op UDF returns per SQL return type.
NOOP_VALUES = {"DOUBLE": "0.0", "FLOAT": "0.0", "INTEGER": "0", "BIGINT": "0", "SMALLINT": "0", "TINYINT": "0",
               "BOOLEAN": "False", "VARCHAR": "''"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        self.bin = os.path.join(os.path.abspath(args.build_dir), "bin")
        self.db = os.path.join(self.out, "bench.duckdb")
        self.data_dir = os.path.join(self.out, "data")
        self.model_dir = os.path.join(self.out, "models")
        self.udf_dir = os.path.join(self.out, "udfs")
        self.input_dir = os.path.join(self.out, "inputs")
        self.result_dir = os.path.join(self.out, "rows")
        for d in (self.out, self.data_dir, self.model_dir, self.udf_dir, self.input_dir, self.result_dir):
            os.makedirs(d, exist_ok=True)
        self.cluster = None
        self.ray = None  # the local Ray cluster of imlane-ray

    # ---- data -------------------------------------------------------------------------------------

    def duckdb(self, statements):
        """Runs SQL statements on the benchmark database with imlane-duckdb."""
        path = os.path.join(self.out, "statements.sql")
        with open(path, "w") as f:
            f.write(";\n".join(s.strip().rstrip(";") for s in statements) + ";\n")
        r = subprocess.run([os.path.join(self.bin, "imlane-duckdb"), self.db, "-f", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"DuckDB failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        return r.stdout

    def export_csv(self, sql, path, header=True):
        self.duckdb([f"COPY ({sql}) TO '{path}' (FORMAT csv, HEADER {str(header).lower()})"])

    def prepare_dataset(self, name):
        """Builds the dataset's tables (once per scale, seed and generator code) and trains the models
        of the chosen set (once per set as well). Returns True when the tables were rebuilt."""
        mod = dataset_module(name)
        with open(mod.__file__, "rb") as f:
            code = hashlib.sha256(f.read()).hexdigest()[:16]
        stamp = {"scale": self.args.scale, "seed": self.args.seed, "code": code}
        stamp_path = os.path.join(self.data_dir, f"{name}.done")
        # A dataset without Debian variants has one model set, whichever --models says.
        variants = any(has_debian_variant(q) for q in mod.QUERIES)
        models = self.args.models if variants else "original"
        trained_path = os.path.join(self.data_dir, f"{name}.trained-{models if variants else 'all'}")
        rebuilt = not (os.path.exists(stamp_path) and json.load(open(stamp_path)) == stamp)
        if rebuilt:
            for old in [f for f in os.listdir(self.data_dir) if f.startswith(f"{name}.trained-")]:
                os.remove(os.path.join(self.data_dir, old))  # models of the old tables
            t0 = time.perf_counter()
            mod.generate_base(self.data_dir, self.args.scale, self.args.seed)
            t1 = time.perf_counter()
            self.duckdb(mod.build_sql(self.data_dir, self.args.scale, self.args.seed))
            for train_name, sql in mod.TRAINING_SQL.items():
                self.export_csv(sql, os.path.join(self.data_dir, f"train_{train_name}.csv"))
            log(f"{name}: base data {t1 - t0:.1f} s, tables {time.perf_counter() - t1:.1f} s")
            with open(stamp_path, "w") as f:
                json.dump(stamp, f)
        if not (os.path.exists(trained_path) and json.load(open(trained_path)) == stamp):
            t0 = time.perf_counter()
            mod.train(self.data_dir, self.model_dir, self.args.seed, models)
            log(f"{name}: {models + ' ' if variants else ''}models {time.perf_counter() - t0:.1f} s")
            with open(trained_path, "w") as f:
                json.dump(stamp, f)
        return rebuilt

    def table_rows(self, tables):
        sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
        path = os.path.join(self.out, "table_rows.csv")
        self.export_csv(sql, path, header=False)
        with open(path) as f:
            return {line.split(",")[0]: int(line.split(",")[1]) for line in f if line.strip()}

    def _udf_subdir(self, q):
        # The Debian-only variants (bench/udfs/debian/) replace the originals under --models debian.
        return "debian" if self.args.models == "debian" and has_debian_variant(q) else ""

    def copy_udfs(self, queries):
        for q in queries:
            sub = self._udf_subdir(q)
            os.makedirs(os.path.join(self.udf_dir, sub), exist_ok=True)
            for style in ("staged", "holistic"):
                shutil.copy(os.path.join(BENCH, "udfs", sub, f"{q.udf}_{style}.py"), os.path.join(self.udf_dir, sub))
            ret = q.returns.strip().upper()
            with open(self.udf_file(q, "noop"), "w") as f:
                f.write(f'"""A no-op UDF of {q.name}\'s signature ({q.args} -> {ret}): bench/run.py, imlane-noop."""\n'
                        "import numpy as np\n\n\n"
                        "def pyfun(*columns):\n"
                        f"    return np.full(len(columns[0]), {NOOP_VALUES[ret]}"
                        f"{', dtype=object' if ret == 'VARCHAR' else ''})\n")

    def udf_file(self, q, style):
        return os.path.join(self.udf_dir, self._udf_subdir(q), f"{q.udf}_{style}.py")

    # ---- PostgreSQL -------------------------------------------------------------------------------

    def start_postgres(self, datasets, changed, queries):
        with_imlane = "postgres-imlane" in self.args.systems
        self.cluster = postgres.Cluster(os.path.join(self.out, "pg"),
                                        os.path.abspath(self.args.build_dir) if with_imlane else None)
        os.makedirs(self.cluster.root, exist_ok=True)
        self.cluster.start()
        loaded_path = os.path.join(self.cluster.root, "loaded.json")
        loaded = json.load(open(loaded_path)) if os.path.exists(loaded_path) else {}
        for name in datasets:
            stamp = open(os.path.join(self.data_dir, f"{name}.done")).read()
            if loaded.get(name) == stamp and name not in changed:
                continue
            t0 = time.perf_counter()
            for table in dataset_module(name).TABLES:
                cols_csv = os.path.join(self.out, "columns.csv")
                self.export_csv(f"SELECT column_name, data_type FROM information_schema.columns "
                                f"WHERE table_name = '{table}' ORDER BY ordinal_position", cols_csv, header=False)
                columns = [tuple(line.strip().split(",", 1)) for line in open(cols_csv) if line.strip()]
                rows_csv = os.path.join(self.out, f"pg_{table}.csv")
                self.export_csv(f"SELECT * FROM {table}", rows_csv, header=False)
                self.cluster.load_table(table, columns, rows_csv)
                os.remove(rows_csv)
            loaded[name] = stamp
            with open(loaded_path, "w") as f:
                json.dump(loaded, f)
            log(f"{name}: copied into PostgreSQL in {time.perf_counter() - t0:.1f} s")
        for q in queries:
            self.cluster.create_udf(q.udf, self.udf_file(q, "staged"), _types(q.args), q.returns.strip().upper(),
                                    site_dir=sysconfig.get_paths()["purelib"])  # this venv's site-packages
            if with_imlane:
                self.cluster.create_imlane_udf(f"{q.udf}_imlane", self.udf_file(q, "staged"), q.args, q.returns)

    # ---- systems ----------------------------------------------------------------------------------

    def time_limit(self, system):
        """Seconds one run may take. DuckDB's row-at-a-time Python UDF gets less: where it does not
        finish, its time is a lower bound anyway, and waiting the full limit for it on four queries
        kept the whole benchmark over its 45 minutes."""
        if system == "duckdb-python-native":
            return min(self.args.time_limit, self.args.row_at_a_time_limit)
        return self.args.time_limit

    def run_system(self, q, system):
        rows_csv = os.path.join(self.result_dir, f"{q.name}-{system}.csv")
        if os.path.exists(rows_csv):
            os.remove(rows_csv)
        a = self.args
        sql = q.sql.replace("{udf}", q.udf)
        if system in ("imlane", "imlane-holistic", "imlane-noop", "imlane-ray", "duckdb-inproc",
                      "duckdb-inproc-holistic"):
            style = "holistic" if system.endswith("holistic") else "noop" if system.endswith("noop") else "staged"
            on_imlane = system.startswith("imlane")
            cmd = [os.path.join(self.bin, "bench_duckdb"), "--system", "imlane" if on_imlane else "inproc",
                   "--db", self.db, "--udf-name", q.udf, "--udf-file", self.udf_file(q, style), "--args", q.args,
                   "--returns", q.returns, "--query", sql, "--repeat", str(a.repeat), "--warmup", "1",
                   "--time-limit", str(a.time_limit), "--result-csv", rows_csv]
            if on_imlane and a.batch_size:
                cmd += ["--set", f"imlane_batch_size={a.batch_size}"]
            # The executors (and the in-process interpreter) import the venv's packages too.
            cmd += ["--set", f"imlane_python_env='{VENV}'"] if on_imlane else ["--python-env", VENV]
            env = None
            if on_imlane:  # a coordinator of its own, apart from any other client of this user
                sock = "imlane-ray.sock" if system == "imlane-ray" else "imlane.sock"
                cmd += ["--set", f"imlane_socket='{os.path.join(self.out, sock)}'"]
            if system == "imlane-ray":  # the same Lanes, served by the Ray bridge from actors on both nodes
                cmd += ["--backend", "ray"]
                env = dict(os.environ, IMLANE_RAY_ADDRESS=self.ray.address, **ray_cluster.LOOPBACK_ENV)
            result = _run_json(cmd, a.time_limit * (a.repeat + 2) + 300, env=env)
        elif system in ("postgres-plpython", "postgres-imlane"):
            # psql (running as the cluster's user) writes the rows into the cluster's directory.
            pg_rows = os.path.join(self.cluster.root, f"{q.name}.csv")
            # The same query on the imlane extension's function (same signature, other name).
            udf = q.udf + ("_imlane" if system == "postgres-imlane" else "")
            # One call loads the model (into the session's SD; into the executors) before the timed runs.
            cols = [f"c{i}" for i in range(len(_types(q.args)))]
            warm = f"SELECT {udf}({', '.join(cols)}) FROM ({q.inputs_sql}) AS w({', '.join(cols)}) LIMIT 1"
            pg_sql = (q.pg_sql or q.sql).replace("{udf}", udf)
            if system == "postgres-imlane":  # as imlane's --warmup 1: one whole run, so every executor has the model
                warm = pg_sql
            result = self.cluster.run_query(pg_sql, a.time_limit, pg_rows, a.repeat, warm)
            if os.path.exists(pg_rows):
                shutil.move(pg_rows, rows_csv)
        elif system in PEERS:
            cmd = [PYTHON, os.path.join(BENCH, "peers", PEERS[system]), "--system", system, "--query", q.name,
                   "--db", self.db, "--sql", sql, "--inputs-sql", q.inputs_sql, "--udf-name", q.udf,
                   "--udf-file", self.udf_file(q, "staged"), "--args", q.args, "--returns", q.returns,
                   "--repeat", str(a.repeat), "--time-limit", str(self.time_limit(system)),
                   "--result-csv", rows_csv, "--work-dir", os.path.join(self.out, "peers")]
            if a.no_peer_sweep:
                cmd += ["--sweep", ""]  # only the peers' default batch sizes (the smoke run)
            result = _run_json(cmd, a.time_limit * (a.repeat + 2) + 600)
        else:
            inputs = os.path.join(self.input_dir, f"{q.name}.csv")
            cmd = [PYTHON, os.path.join(BENCH, "limit.py"), "--udf-file", self.udf_file(q, "staged"),
                   "--args", q.args, "--inputs-csv", inputs, "--repeat", str(a.repeat),
                   "--returns", q.returns, "--result-csv", rows_csv]
            result = _run_json(cmd, a.time_limit * (a.repeat + 2) + 300)
        return result, rows_csv

    def run(self):
        a = self.args
        queries = [q for q in all_queries() if q.name in a.queries]
        datasets = list(dict.fromkeys(q.dataset for q in queries))
        changed = {d for d in datasets if self.prepare_dataset(d)}
        self.copy_udfs(queries)
        all_tables = [t for d in datasets for t in dataset_module(d).TABLES]
        sizes = self.table_rows(all_tables)
        for q in queries:
            self.export_csv(q.inputs_sql, os.path.join(self.input_dir, f"{q.name}.csv"))
        records = []
        try:
            if "postgres-plpython" in a.systems or "postgres-imlane" in a.systems:
                self.start_postgres(datasets, changed, queries)
            if "imlane-ray" in a.systems:
                self.ray = ray_cluster.LocalCluster(nodes=2, cpus_per_node=1)
            if a.prepare_only:
                return records
            for q in queries:
                rows_in = max(sizes[t] for t in all_tables if _mentions(q.sql, t))
                with open(os.path.join(self.input_dir, f"{q.name}.csv")) as f:
                    rows_udf = max(0, sum(1 for _ in f) - 1)
                reference = None
                unchecked = []  # (record, rows_csv) of UDF_ROWS systems, until limit's rows exist
                for system in [s for s in SYSTEMS if s in a.systems]:
                    log(f"{q.name} {system} ...")
                    result, rows_csv = self.run_system(q, system)
                    rec = _record(q, system, result, self.time_limit(system), rows_in)
                    if system == "postgres-plpython" and rec["status"] in ("ok", "timeout"):
                        rec.update(rows_udf=rows_udf, mean_batch_rows=1.0)  # row at a time
                    if rec["status"] == "ok" and system in UDF_ROWS:
                        unchecked.append((rec, rows_csv))
                    elif rec["status"] == "ok" and system not in NOT_COMPARED:
                        if reference is None:
                            reference = (system, rows_csv)
                        else:
                            diff = compare.compare_csv(reference[1], rows_csv)
                            if diff:
                                rec.update(status="mismatch", error=f"differs from {reference[0]}: {diff}")
                    log(f"{q.name} {system}: {rec['status']} median {rec['median_s']:.3f} s"
                        + (f" ({rec.get('error', '')[:300]})" if rec["status"] != "ok" else ""))
                    records.append(rec)
                    if system == "limit" and rec["status"] == "ok":
                        for other, other_csv in unchecked:
                            diff = compare.compare_csv(rows_csv, other_csv)
                            if diff:
                                other.update(status="mismatch", error=f"differs from limit: {diff}")
                            log(f"{q.name} {other['system']}: rows {'differ' if diff else 'agree'} with limit's")
                        unchecked = []
                    self.save(records)
                for other, _ in unchecked:
                    other["unchecked"] = "its rows are checked against limit's, and limit did not succeed or run"
                    log(f"{q.name} {other['system']}: rows not checked ({other['unchecked']})")
        finally:
            if self.cluster:
                self.cluster.stop()
            if self.ray:
                self.ray.stop()
        self.save(records, final=True)
        return records

    def save(self, records, final=False):
        meta = {"scale": self.args.scale, "seed": self.args.seed, "models": self.args.models,
                "repeat": self.args.repeat,
                "time_limit_s": self.args.time_limit, "cores": os.cpu_count(), "commit": _git_commit(),
                "command": " ".join(["python3", "bench/run.py"] + sys.argv[1:])}
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(records, f, indent=1)
        with open(os.path.join(self.out, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        if final:
            with open(os.path.join(self.out, "results.md"), "w") as f:
                f.write(report.markdown(records, meta, all_queries()))
            if not self.args.no_chart:
                report.chart(records, os.path.join(self.out, "results.png"))


def has_debian_variant(q):
    return os.path.exists(os.path.join(BENCH, "udfs", "debian", f"{q.udf}_staged.py"))


def _types(arg_list):
    return [t.strip().upper() for t in arg_list.split(",")]


def _mentions(sql, table):
    return re.search(rf"\b{re.escape(table)}\b", sql, re.IGNORECASE) is not None


def _run_json(cmd, timeout, env=None):
    env = {k: v for k, v in (env or os.environ).items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    # Each system's coordinator ends with its run: none stays idle (imlane_idle_exit_ms) beside the next.
    env.setdefault("IMLANE_IDLE_EXIT_MS", "0")
    # Its own process group, killed as a whole if it overruns (or this runner is interrupted): what a
    # system started (executors, a Ray cluster's agents, a JVM) must not outlive a killed system.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException as e:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        if isinstance(e, subprocess.TimeoutExpired):
            return {"status": "timeout", "times_s": [], "error": f"killed after {timeout} s"}
        raise
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind in its group
    except ProcessLookupError:
        pass
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"status": "error", "times_s": [], "error": (stderr or stdout)[-2000:] or f"exit {proc.returncode}"}


_RESULT_KEYS = {"status", "times_s", "rows", "rows_udf", "mean_batch_rows", "error", "batches"}


def _record(q, system, result, time_limit, rows_in):
    times = result.get("times_s") or []
    status = result.get("status", "error")
    if status == "ok" and not times:
        status = "error"
    rec = {"query": q.name, "system": system, "status": status, "times_s": times,
           "min_s": min(times) if times else None, "median_s": statistics.median(times) if times else None,
           "rows_in": rows_in, "rows_out": result.get("rows"), "rows_udf": result.get("rows_udf"),
           "mean_batch_rows": result.get("mean_batch_rows")}
    extra = {k: v for k, v in result.items() if k not in _RESULT_KEYS}
    if extra:
        rec["extra"] = extra  # system-specific figures (a peer's start-up time, its batch-size sweep)
    if status == "timeout":
        rec["min_s"] = rec["median_s"] = float(time_limit)  # a lower bound: the run was stopped there
    if result.get("error"):
        rec["error"] = result["error"]
    if rec["median_s"] is None:
        rec["median_s"] = float("nan")
    return rec


def _git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description="Q1-Q8 prediction-query benchmark (bench/README.md)")
    ap.add_argument("--scale", type=float, default=1.0, help="1 = the full benchmark; 0.01 = smoke test")
    ap.add_argument("--queries", default="Q1,Q2,Q3,Q4,Q5,Q6,Q7,Q8")
    ap.add_argument("--systems", default=None, help=f"default: all of {','.join(SYSTEMS)} (postgres-imlane only "
                    "when the build has the PostgreSQL extension)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per query and system (after a warm-up)")
    ap.add_argument("--time-limit", type=float, default=60, help="seconds one run may take")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--models", choices=MODEL_SETS, default="original",
                    help="Q1/Q5/Q8 with the original frameworks (ONNX Runtime, LightGBM, Surprise; PyPI) "
                         "or with their Debian-only stand-ins (bench/README.md)")
    ap.add_argument("--batch-size", type=int, default=0, help="imlane_batch_size for imlane (0 = adaptive)")
    ap.add_argument("--out", help="output directory (default bench/out/scale-<S>)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--row-at-a-time-limit", type=float, default=20,
                    help="--time-limit for duckdb-python-native (the smaller of the two applies)")
    ap.add_argument("--no-peer-sweep", action="store_true",
                    help="run the swept peers (spark-pandas-udf, ray-data) at their default batch size only")
    ap.add_argument("--prepare-only", action="store_true",
                    help="build the data and models (and load PostgreSQL), run nothing")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every system returned the same rows (the smoke test in make test)")
    a = ap.parse_args()
    a.queries = [s.strip().upper() for s in a.queries.split(",") if s.strip()]
    if a.systems is None:  # the PostgreSQL extension is optional in the build (pg_config, server headers)
        pg_ext = os.path.join(os.path.abspath(a.build_dir), "lib", "postgresql", "imlane.so")
        a.systems = ",".join(s for s in SYSTEMS if s not in report.OPT_IN and
                             (s != "postgres-imlane" or os.path.exists(pg_ext)))
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    unknown = [s for s in a.systems if s not in SYSTEMS]
    if unknown:
        ap.error(f"unknown system(s) {unknown}; choose from {SYSTEMS}")
    a.out = a.out or os.path.join(BENCH, "out", f"scale-{a.scale:g}")
    start = time.perf_counter()
    records = Bench(a).run()
    if a.prepare_only:
        log(f"prepared {a.out} in {time.perf_counter() - start:.0f} s")
        return
    log(f"done in {time.perf_counter() - start:.0f} s: {os.path.join(a.out, 'results.md')}")
    print(open(os.path.join(a.out, "results.md")).read())
    if a.check:
        bad = [r for r in records if r["status"] not in ("ok",) or r.get("unchecked")]
        for r in bad:
            print(f"FAILED {r['query']} {r['system']}: {r['status']} {r.get('error', r.get('unchecked', ''))}",
                  file=sys.stderr)
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
