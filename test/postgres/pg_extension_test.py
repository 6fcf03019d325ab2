#!/usr/bin/env python3
"""End-to-end test of the PostgreSQL extension in a throwaway PostgreSQL 15 cluster.

Run as root (ctest) or as the `postgres` user: usage pg_extension_test.py SOURCE_DIR BUILD_DIR.

The server runs from a private copy of Debian's server tree that loads the build tree's extension
(database/postgres/pg_private_tree.py): nothing is installed into the system. The cluster (Unix
socket only) and the coordinator it starts are stopped at the end, also when a check fails.

Every answer is compared with the same function computed in plain Python.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PORT = "55491"

SRC, BUILD = (os.path.abspath(a) for a in sys.argv[1:3])
sys.path.insert(0, os.path.join(SRC, "database", "postgres"))
from pg_private_tree import make_private_tree  # noqa: E402
AS_PG = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def same(out, want, what):
    """check(out == want) that shows the first differing line."""
    if out != want:
        a, b = out.split("\n"), want.split("\n")
        diff = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        what += f" (line {diff}: got {a[diff:diff + 2]}, want {b[diff:diff + 2]}; {len(a)} vs {len(b)} lines)"
    check(out == want, what)


def run(args, **kw):
    return subprocess.run(AS_PG + args, capture_output=True, text=True, **kw)


class Cluster:
    def __init__(self, root):
        self.root = root
        self.tree = os.path.join(root, "pg")
        self.data = os.path.join(root, "data")
        self.sock = os.path.join(root, "sock")
        self.imlane_sock = os.path.join(root, "imlane", "imlane.sock")

    def make_tree(self):
        self.bindir = make_private_tree(self.tree, BUILD)

    def start(self):
        os.makedirs(self.sock)
        os.makedirs(os.path.dirname(self.imlane_sock), mode=0o700)
        if os.geteuid() == 0:
            for d in (self.root, self.sock, os.path.dirname(self.imlane_sock)):
                shutil.chown(d, "postgres", "postgres")
        r = run([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                 "--locale=C"])
        assert r.returncode == 0, r.stderr
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.sock}'\nport = {PORT}\n"
                    f"fsync = off\nimlane.socket = '{self.imlane_sock}'\nimlane.executors = 2\n"
                    "max_worker_processes = 8\nmax_parallel_workers = 4\n"
                    # The planner hook that batches calls must be there before the first query plans.
                    "session_preload_libraries = 'imlane'\n")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "IMLANE_SOCKET")}
        r = run([f"{self.bindir}/pg_ctl", "-D", self.data, "-l", os.path.join(self.root, "server.log"), "-w",
                 "-t", "60", "start"], env=env)
        assert r.returncode == 0, r.stderr + r.stdout

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            run([f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])
        # The coordinator a backend started outlives the backends (imlane.idle_exit_ms): stop it.
        run([os.path.join(BUILD, "bin/imlane"), "stop", "--socket", self.imlane_sock])

    def psql_args(self):
        return AS_PG + ["/usr/bin/psql", "-X", "-q", "-A", "-t", "-h", self.sock, "-p", PORT, "-U", "postgres",
                        "-d", "postgres"]

    def sql(self, text, timeout=120, env=None):
        """One session; returns (stdout, stderr). Statements after an error still run."""
        r = subprocess.run(self.psql_args(), input=text, capture_output=True, text=True, timeout=timeout,
                           env=env)
        return r.stdout, r.stderr

    def ok(self, text):
        out, err = self.sql(text)
        assert "ERROR" not in err, f"{err} (in: {text[:300]})"
        return out.strip()


UDFS = {
    # name: (code, arg types, return type, python reference per row or None)
    "lin2": ("def pyfun(a, b):\n    return a * 2.0 + b\n", "DOUBLE, DOUBLE", "DOUBLE"),
    "slen": ("import numpy as np\ndef pyfun(s):\n    return np.array([len(v) for v in s], dtype=np.int32)\n",
             "VARCHAR", "INTEGER"),
    "shout": ("def pyfun(s):\n    return [v.upper() + '!' for v in s]\n", "VARCHAR", "VARCHAR"),
    "neg": ("def pyfun(b):\n    return ~b\n", "BOOLEAN", "BOOLEAN"),
    "inc8": ("def pyfun(v):\n    return v + 1\n", "TINYINT", "TINYINT"),
    "inc16": ("def pyfun(v):\n    return v + 1\n", "SMALLINT", "SMALLINT"),
    "inc64": ("def pyfun(v):\n    return v + 1\n", "BIGINT", "BIGINT"),
    "half": ("def pyfun(v):\n    return v / 2\n", "REAL", "REAL"),
    "nextday": ("import numpy as np\ndef pyfun(d):\n    return d + np.timedelta64(1, 'D')\n", "DATE", "DATE"),
    "plus1s": ("import numpy as np\ndef pyfun(t):\n    return t + np.timedelta64(1, 's')\n", "TIMESTAMP", "TIMESTAMP"),
    "boom": ("def pyfun(x):\n    raise ValueError('boom from the udf')\n", "DOUBLE", "DOUBLE"),
    "crash": ("import os\ndef pyfun(x):\n    os._exit(3)\n", "DOUBLE", "DOUBLE"),
    "hang": ("import time\ndef pyfun(x):\n    time.sleep(3600)\n    return x\n", "DOUBLE", "DOUBLE"),
    "badutf": ("def pyfun(s):\n    return [b'\\xff' + v.encode() for v in s]\n", "VARCHAR", "VARCHAR"),
    # In DuckDB's DATE range (the Lane's), beyond PostgreSQL's: the backend refuses it as it reads.
    "farday": ("import numpy as np\ndef pyfun(d):\n    return np.full(len(d), np.datetime64('5878000-01-01'))\n",
               "DATE", "DATE"),
}

# A model loaded once per executor: pyinitial counts as a load in imlane_functions().
WARM = ("import numpy as np\nSTATE = {}\ndef pyinitial():\n    STATE['w'] = 3.0\n"
        "def pyfun(x):\n    return x * STATE['w']\n")

N = 3000


def ref_rows():
    rows = []
    for i in range(1, N + 1):
        x = None if i % 97 == 0 else i * 0.5
        y = None if i % 89 == 0 else float(i % 13)
        s = None if i % 83 == 0 else "v" * (i % 7) + str(i)
        rows.append((i, x, y, s))
    return rows


def fmt(v):
    if isinstance(v, float):  # PostgreSQL prints the shortest exact form, without a trailing ".0"
        r = repr(v)
        return r[:-2] if r.endswith(".0") else r
    return "" if v is None else str(v)


def main():
    root = tempfile.mkdtemp(prefix="imlane-pg-test-")
    os.chmod(root, 0o755)
    cl = Cluster(root)
    try:
        cl.make_tree()
        udf_dir = os.path.join(root, "udf")
        os.makedirs(udf_dir)
        for name, (code, _, _) in UDFS.items():
            with open(os.path.join(udf_dir, name + ".py"), "w") as f:
                f.write(code)
        with open(os.path.join(udf_dir, "warm.py"), "w") as f:
            f.write(WARM)
        os.chmod(udf_dir, 0o755)
        cl.start()
        try:
            tests(cl, udf_dir)
        except Exception as e:  # a failed step: recorded, the cluster still stopped below
            check(False, f"{type(e).__name__}: {e}")
    finally:
        cl.stop()
        log = os.path.join(root, "server.log")
        if FAILURES and os.path.exists(log):
            print("---- server.log (tail)\n" + "".join(open(log).readlines()[-60:]))
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(FAILURES)} failure(s)" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


def tests(cl, udf_dir):
    cl.ok("CREATE EXTENSION imlane")
    for name, (_, args, ret) in UDFS.items():
        out = cl.ok(f"SELECT signature FROM imlane_create_function('{name}', '{udf_dir}/{name}.py', '{args}', '{ret}')")
        check(out.startswith(name + "("), f"imlane_create_function('{name}') -> {out}")
    rows = ref_rows()
    values = ",".join(f"({i},{'NULL' if x is None else x},{'NULL' if y is None else y},"
                      f"{'NULL' if s is None else repr(s)})" for i, x, y, s in rows)
    cl.ok(f"CREATE TABLE t (id int, x float8, y float8, s text); INSERT INTO t VALUES {values}; ANALYZE t")

    lin = {i: (None if x is None or y is None else x * 2.0 + y) for i, x, y, _ in rows}
    expected = "\n".join(f"{i}|{fmt(lin[i])}" for i in sorted(lin))
    for batching in ("on", "off"):
        out = cl.ok(f"SET imlane.enable_batching = {batching}; SELECT id, lin2(x, y) FROM t ORDER BY id")
        same(out, expected, f"SELECT list, NULLs, batching {batching}")
    plan = cl.ok("EXPLAIN SELECT id, lin2(x, y) FROM t")
    check("IMLane Batch" in plan, "EXPLAIN shows the batching scan in the SELECT list")
    # Without session_preload_libraries the planner hook is missing until the first call loads the
    # module: that query runs row at a time, and correctly.
    out, err = cl.sql("EXPLAIN SELECT id, lin2(x, y) FROM t; SELECT id, lin2(x, y) FROM t ORDER BY id;",
                      env=dict(os.environ, PGOPTIONS="-c session_preload_libraries="))
    check("IMLane Batch" not in out and out.split("\n", 1)[1].strip().endswith(expected.split("\n")[-1])
          and "ERROR" not in err, "not preloaded: the first query runs row at a time")
    same(out[out.index("1|"):].strip(), expected, "not preloaded: row-at-a-time results")
    plan = cl.ok("SET imlane.enable_batching = off; EXPLAIN SELECT id, lin2(x, y) FROM t")
    check("IMLane Batch" not in plan, "imlane.enable_batching = off: row at a time")

    want = sum(1 for v in lin.values() if v is not None and v > 1000)
    out = cl.ok("SELECT count(*) FROM t WHERE lin2(x, y) > 1000 AND id > 0")
    check(out == str(want), f"WHERE: {out} == {want}")
    check("IMLane Batch" in cl.ok("EXPLAIN SELECT count(*) FROM t WHERE lin2(x, y) > 1000"), "EXPLAIN: WHERE batched")

    want = sum(v for v in lin.values() if v is not None)
    out = cl.ok("SELECT sum(lin2(x, y)) FROM t")
    check(abs(float(out) - want) < 1e-6 * abs(want), f"aggregate sum(lin2(x, y)): {out} ~ {want}")
    check("IMLane Batch" in cl.ok("EXPLAIN SELECT sum(lin2(x, y)) FROM t"), "EXPLAIN: aggregate argument batched")

    # A join: the call over columns of both sides, batched above the join.
    cl.ok("CREATE TABLE u (id int, w float8); INSERT INTO u SELECT g, g * 0.25 FROM generate_series(1, 3000, 3) g;"
          " ANALYZE u")
    u = {i: i * 0.25 for i in range(1, N + 1, 3)}
    xs = {i: x for i, x, _, _ in rows}
    want = sorted((i, xs[i] * 2.0 + u[i]) for i in u if xs[i] is not None)
    out = cl.ok("SELECT t.id, lin2(t.x, u.w) FROM t JOIN u ON t.id = u.id WHERE lin2(t.x, u.w) IS NOT NULL ORDER BY 1")
    same(out, "\n".join(f"{i}|{fmt(v)}" for i, v in want), "join: call over both sides, in SELECT and WHERE")

    plan = cl.ok("EXPLAIN SELECT t.id FROM t JOIN u ON t.id = u.id WHERE lin2(t.x, u.w) > 100")
    check("IMLane Batch" in plan and "Join" in plan, "EXPLAIN: a call over both sides of an inner join is batched")
    # In an outer join's condition the call decides which rows match: it stays there, row at a time.
    out = cl.ok("SELECT t.id, u.id FROM t LEFT JOIN u ON t.id = u.id AND lin2(t.x, u.w) > 100 "
                "WHERE t.id <= 600 ORDER BY 1")
    want = "\n".join(f"{i}|{i if i in u and xs[i] is not None and xs[i] * 2.0 + u[i] > 100 else ''}"
                     for i in range(1, 601))
    same(out, want, "a call in a LEFT JOIN condition (row at a time)")

    # A correlated sub-query: its batching scan is rescanned once per outer row.
    ys = {i: y for i, _, y, _ in rows}
    out = cl.ok("SELECT id, (SELECT lin2(t2.x, t.y) FROM t t2 WHERE t2.id = t.id + 1) FROM t WHERE id <= 200 ORDER BY id")
    want = "\n".join(f"{i}|{fmt(None if xs.get(i + 1) is None or ys[i] is None else xs[i + 1] * 2.0 + ys[i])}"
                     for i in range(1, 201))
    same(out, want, "a call in a correlated sub-query (rescans)")

    # Parallel query: each worker has its own DBEndContext.
    par = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
           "SET min_parallel_table_scan_size = 0; ")
    plan = cl.ok(par + "EXPLAIN SELECT sum(lin2(x, y)) FROM t")
    check("Gather" in plan and "IMLane Batch" in plan, "parallel plan with the batching scan in the workers")
    out = cl.ok(par + "SELECT sum(lin2(x, y)), count(lin2(x, y)) FROM t")
    check(out.split("|")[1] == str(sum(1 for v in lin.values() if v is not None)) and
          abs(float(out.split("|")[0]) - want_sum(lin)) < 1e-6 * want_sum(lin), f"parallel aggregate: {out}")

    # Every Lane type, with NULLs, batched and row at a time.
    typed = [
        ("slen(s)", lambda r: None if r[3] is None else len(r[3])),
        ("shout(s)", lambda r: None if r[3] is None else r[3].upper() + "!"),
        ("neg(id % 2 = 0)", lambda r: "f" if r[0] % 2 == 0 else "t"),
        ("inc8((id % 100)::smallint)", lambda r: r[0] % 100 + 1),
        ("inc16(id::smallint)", lambda r: r[0] + 1),
        ("inc64(id::bigint * 1000000000)", lambda r: r[0] * 1000000000 + 1),
        ("half(id::real)", lambda r: fmt_real(r[0] / 2)),
        ("nextday(date '2024-02-27' + id)", lambda r: None),
        ("plus1s(timestamp '2024-01-01 00:00:00' + id * interval '1 minute')", lambda r: None),
    ]
    for expr, ref in typed:
        for batching in ("on", "off"):
            out = cl.ok(f"SET imlane.enable_batching = {batching}; SELECT id, {expr} FROM t WHERE id <= 400 ORDER BY id")
            if ref(rows[0]) is None and expr.startswith(("nextday", "plus1s")):
                sql_ref = ("date '2024-02-27' + id + 1" if expr.startswith("nextday")
                           else "timestamp '2024-01-01 00:00:00' + id * interval '1 minute' + interval '1 second'")
                want_out = cl.ok(f"SELECT id, {sql_ref} FROM t WHERE id <= 400 ORDER BY id")
            else:
                want_out = "\n".join(f"{r[0]}|{fmt(ref(r))}" for r in rows[:400])
            same(out, want_out, f"type {expr.split('(')[0]}, batching {batching}")

    _, err = cl.sql("SELECT inc8(300::smallint)")
    check("out of range for TINYINT" in err and 'imlane function "inc8"' in err, f"TINYINT range: {err.strip()[:120]}")

    # Faults: an ERROR naming the function; the session and the backend go on.
    for batching in ("on", "off"):
        out, err = cl.sql(f"SET imlane.enable_batching = {batching}; SELECT boom(x) FROM t WHERE id < 5;"
                          "SELECT pg_backend_pid() > 0, 'alive';")
        check('imlane function "boom"' in err and "boom from the udf" in err and "t|alive" in out,
              f"a raising UDF: an ERROR naming it, the next query works (batching {batching})")
        out, err = cl.sql(f"SET imlane.enable_batching = {batching}; SELECT crash(x) FROM t WHERE id < 5;"
                          "SELECT 'alive'; SELECT lin2(1, 2);")
        check('imlane function "crash"' in err and "alive" in out and "4" in out.split(),
              f"a crashing UDF: an ERROR naming it, then the executor is replaced (batching {batching}): {err.strip()[:200]}")
    t0 = time.time()
    out, err = cl.sql("SET statement_timeout = '1500ms'; SELECT hang(x) FROM t WHERE id < 3; "
                      "RESET statement_timeout; SELECT 'alive';", timeout=60)
    check("statement timeout" in err and "alive" in out and time.time() - t0 < 20,
          f"statement_timeout stops a hanging UDF ({time.time() - t0:.1f} s)")
    out, err = cl.sql("SET imlane.timeout_ms = 1500; SET imlane.enable_batching = off; SELECT hang(1.0); "
                      "SELECT 'alive';", timeout=60)
    check('imlane function "hang"' in err and "imlane.timeout_ms" in err and "alive" in out,
          f"imlane.timeout_ms fails a hanging UDF: {err.strip()[:200]}")
    proc = subprocess.Popen(cl.psql_args() + ["-c", "SELECT hang(x) FROM t WHERE id < 3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    t0 = time.time()
    cl.ok("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT hang%' AND pid <> pg_backend_pid()")
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        err = "still running"
    check("canceling statement due to user request" in err and time.time() - t0 < 10,
          f"pg_cancel_backend stops a hanging UDF: {err.strip()[:200]}")
    out = cl.ok("SELECT lin2(2, 3)")
    check(out == "7", "after the faults the function works")
    # Cancelled hanging batches do not keep their executors: many small batches over both finish.
    out = cl.ok("SET imlane.timeout_ms = 20000; SET imlane.batch_size = 64; SELECT count(lin2(x, y)) FROM t")
    check(out == str(sum(1 for v in lin.values() if v is not None)), "every executor is free again after the cancels")

    # Results are checked as the backend reads them: no invalid text, no date PostgreSQL cannot hold.
    for batching in ("on", "off"):
        _, err = cl.sql(f"SET imlane.enable_batching = {batching}; SELECT badutf(s) FROM t")
        check('imlane function "badutf"' in err and "is not valid UTF-8 (byte 0xff" in err,
              f"a non-UTF-8 VARCHAR result is an error ({batching}): {err.strip()[:200]}")
        _, err = cl.sql(f"SET imlane.enable_batching = {batching}; SELECT farday(current_date) FROM t")
        check('imlane function "farday"' in err and "out of PostgreSQL's date range" in err,
              f"a date beyond PostgreSQL's range is an error ({batching}): {err.strip()[:200]}")

    # Errors in registration are named and change nothing.
    _, err = cl.sql("SELECT imlane_create_function('bad', 'def pyfun(:', 'DOUBLE', 'DOUBLE')")
    check('imlane function "bad"' in err, f"broken code fails at registration: {err.strip()[:160]}")
    _, err = cl.sql("SELECT imlane_create_function('bad', 'x.py', 'NOTATYPE', 'DOUBLE')")
    check("NOTATYPE" in err, "an unknown type is named")

    # The registry outlives a restarted coordinator: the next backend registers the function again.
    run([os.path.join(BUILD, "bin/imlane"), "stop", "--socket", cl.imlane_sock])
    for _ in range(150):  # until the process has gone (it stops its executors first)
        if subprocess.run(["pgrep", "-f", f"serve --socket {cl.imlane_sock}"], capture_output=True).returncode != 0:
            break
        time.sleep(0.2)
    out = cl.ok("SELECT lin2(2, 3)")
    check(out == "7", "after the coordinator restarted, a new backend re-registers from imlane_registry")
    # The same backend survives its coordinator's death: the next statement connects again (an
    # embedded coordinator starts) and registers the functions it uses again, batching or not.
    pid = json.loads(cl.ok("SELECT imlane_status()"))["pid"]
    want_count = str(sum(1 for v in lin.values() if v is not None))
    out, err = cl.sql(f"SELECT lin2(2, 3);\n\\! kill -9 {pid}\nSELECT pg_sleep(0.5);\nSELECT lin2(4, 5);\n"
                      "SELECT count(lin2(x, y)) FROM t;\n")
    lines = [l for l in out.splitlines() if l.strip()]
    check("ERROR" not in err and lines == ["7", "13", want_count],
          f"one backend survives a coordinator restart: {lines} {err.strip()[:300]}")

    # imlane_functions / imlane_drop_function.
    cl.ok("SET imlane.batch_size = 512; SELECT sum(lin2(x, y)) FROM t")
    out = cl.ok("SELECT batches, rows, mean_batch_rows FROM imlane_functions() WHERE name = 'lin2'")
    b, r, mean = out.split("|")
    check(int(b) >= 1 and float(mean) > 100, f"imlane_functions() counts batches of many rows: {out}")
    check(cl.ok("SELECT imlane_reset_cache() >= 0") == "t", "imlane_reset_cache()")
    check(cl.ok("SELECT imlane_drop_function('neg')") == "t", "imlane_drop_function")
    _, err = cl.sql("SELECT neg(true)")
    check("does not exist" in err, "a dropped function is gone from SQL")
    check(cl.ok("SELECT count(*) FROM imlane_functions() WHERE name = 'neg'") == "0", "and from the coordinator")
    # A SQL function dropped by hand: re-registering (or dropping) the name still works.
    cl.ok("DROP FUNCTION inc64(bigint)")
    out = cl.ok(f"SELECT version FROM imlane_create_function('inc64', '{udf_dir}/inc64.py', 'BIGINT', 'BIGINT');"
                " SELECT inc64(41)")
    check(out.split()[-1] == "42", "re-created after DROP FUNCTION by hand")

    warm_shared(cl, udf_dir)


def warm_shared(cl, udf_dir):
    """A PostgreSQL backend (user postgres) and a DuckDB process of the same OS user share one
    coordinator (the socket in imlane.socket / $IMLANE_SOCKET): the model is loaded once per executor."""
    path = os.path.join(udf_dir, "warm.py")
    cl.ok(f"SELECT imlane_create_function('warm', '{path}', 'DOUBLE', 'DOUBLE')")
    out = cl.ok("SET max_parallel_workers_per_gather = 0; SELECT sum(warm(x)) FROM t")
    want = sum(x * 3.0 for _, x, _, _ in ref_rows() if x is not None)
    check(abs(float(out) - want) < 1e-6 * want, "warm(x) in PostgreSQL")
    loads_pg = int(cl.ok("SELECT loads FROM imlane_functions() WHERE name = 'warm'"))
    duck = [os.path.join(BUILD, "bin/imlane-duckdb"), "-c",
            f"SELECT version FROM imlane_create_function('warm', '{path}', 'DOUBLE', 'DOUBLE')",
            "-c", "SELECT sum(warm(i * 0.5)) AS s FROM range(1, 20001) t(i)"]
    r = subprocess.run(AS_PG + ["env", f"IMLANE_SOCKET={cl.imlane_sock}"] + duck, capture_output=True, text=True,
                       timeout=300)
    check(r.returncode == 0 and str(sum(i * 0.5 * 3.0 for i in range(1, 20001))) in r.stdout,
          f"DuckDB calls the same function on the shared coordinator: {r.stdout[-300:]} {r.stderr[-300:]}")
    out = cl.ok("SELECT loads, executors_loaded, version FROM imlane_functions() WHERE name = 'warm'")
    loads, loaded, version = (int(v) for v in out.split("|"))
    status = json.loads(cl.ok("SELECT imlane_status()"))
    n_exec = len(status.get("executors", []))
    check(loads == loaded and loads <= n_exec and loads >= loads_pg and version == 1,
          f"one pyinitial per executor across PostgreSQL and DuckDB: loads {loads}, executors {n_exec}, version {version}")


def want_sum(lin):
    return sum(v for v in lin.values() if v is not None)


def fmt_real(v):
    return ("%g" % v)


if __name__ == "__main__":
    sys.exit(main())
