"""The same prediction query through the Python API (imlane.connect in duckdb==1.4.4) and through
imlane-duckdb: same data, same UDF file, same pinned batch size. Prints both times (median of
--repeat runs, each after a warm-up), the ratio, and checks that both return the same rows.

    .venv/bin/python bench/python_api_bench.py [--rows N] [--batch-size B] [--repeat R]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "contrib", "pythonpkg"))
import imlane  # noqa: E402

# Deterministic data (hash, not random()), so both systems see the same rows.
TABLE = """CREATE TABLE transactions AS
SELECT range AS id, (hash(range) % 50000) / 100.0 AS amount, (hash(range + 1) % 24)::DOUBLE AS hour,
       (hash(range + 2) % 10000) / 100.0 AS distance, (18 + hash(range + 3) % 72)::DOUBLE AS age
FROM range({rows})"""
QUERY = ("SELECT predicted, count(*) AS n, round(avg(amount), 4) AS a FROM (SELECT fraud(amount, hour, distance, age) "
         "AS predicted, amount FROM transactions) GROUP BY predicted ORDER BY predicted")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=16384)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="imlane-pybench-")
    model = os.path.join(work, "fraud_model.pkl")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "demo", "duckdb", "train_model.py"), model], check=True,
                   stdout=subprocess.DEVNULL)
    env = dict(os.environ, IMLANE_DEMO_MODEL=model)
    env.setdefault("IMLANE_IDLE_EXIT_MS", "0")  # the shell's coordinator ends with the shell
    os.environ["IMLANE_DEMO_MODEL"] = model  # read by the UDF inside the executors
    udf = os.path.join(ROOT, "demo", "duckdb", "fraud_udf.py")
    create = f"CALL imlane_create_function('fraud', '{udf}', 'DOUBLE, DOUBLE, DOUBLE, DOUBLE', 'INTEGER')"

    # Python API; its own coordinator (socket), started by the extension.
    ext = os.path.join(a.build_dir, "lib", "duckdb", "extensions", "imlane.duckdb_extension")
    con = imlane.connect(extension=ext, batch_size=a.batch_size, socket=os.path.join(work, "py.sock"))
    con.execute(TABLE.format(rows=a.rows))
    con.execute(create)
    py_rows, py_times = con.execute(QUERY).fetchall(), []
    for _ in range(a.repeat):
        start = time.perf_counter()
        rows = con.execute(QUERY).fetchall()
        py_times.append(time.perf_counter() - start)
        assert rows == py_rows
    py_batch = con.sql("SELECT mean_batch_rows FROM imlane_functions() WHERE name = 'fraud'").fetchone()[0]
    con.close()

    # imlane-duckdb, one process: the same statements, timed by its own .timer.
    script = os.path.join(work, "shell.sql")
    with open(script, "w") as f:
        f.write(f"SET imlane_batch_size = {a.batch_size};\nSET imlane_socket = '{os.path.join(work, 'sh.sock')}';\n")
        f.write(TABLE.format(rows=a.rows) + ";\n" + create + ";\n" + QUERY + ";\n.timer on\n")
        f.write((QUERY + ";\n") * a.repeat)
        f.write("SELECT mean_batch_rows FROM imlane_functions() WHERE name = 'fraud';\n")
    out = subprocess.run([os.path.join(a.build_dir, "bin", "imlane-duckdb"), "-f", script], check=True, env=env,
                         capture_output=True, text=True).stdout
    sh_times = [float(t) for t in re.findall(r"^Run Time: (?:real )?([0-9.]+)", out, re.M)][: a.repeat]
    assert len(sh_times) == a.repeat, out
    for predicted, n, _ in py_rows:  # the same groups and counts in the shell's output
        assert re.search(rf"\b{predicted}\b.*\b{n}\b", out), (predicted, n, out)

    py, sh = statistics.median(py_times), statistics.median(sh_times)
    print(f"rows={a.rows} batch_size={a.batch_size} repeat={a.repeat}")
    print(f"python API : median {py:.3f} s  runs {[round(t, 3) for t in py_times]}  mean batch {py_batch:.0f}")
    print(f"imlane-duckdb: median {sh:.3f} s  runs {[round(t, 3) for t in sh_times]}")
    print(f"python / imlane-duckdb = {py / sh:.3f}; both returned {py_rows}")


if __name__ == "__main__":
    main()
