"""The `postgres-plpython` system: a throwaway PostgreSQL 15 cluster on a Unix socket, the same tables
copied out of the benchmark's DuckDB file, and each staged UDF wrapped as a row-at-a-time PL/Python
function that keeps the loaded model in SD (what a careful PL/Python user does; the original scripts
reloaded the model on every row).
"""
import csv
import os
import shutil
import subprocess
import sys

PG_BIN = "/usr/lib/postgresql/15/bin"
DB = "bench"

# Lane/DuckDB type -> PostgreSQL column type and the numpy dtype PL/Python arguments are wrapped in,
# the same dtype IMLane hands the function.
PG_TYPES = {
    "DOUBLE": ("float8", "np.float64"), "FLOAT": ("float4", "np.float32"),
    "INTEGER": ("integer", "np.int32"), "BIGINT": ("bigint", "np.int64"),
    "SMALLINT": ("smallint", "np.int16"), "TINYINT": ("smallint", "np.int8"),
    "VARCHAR": ("varchar", "object"), "BOOLEAN": ("boolean", "bool"),
    "DATE": ("date", "'datetime64[D]'"), "TIMESTAMP": ("timestamp", "'datetime64[us]'"),
}
# How a PL/Python function turns the UDF's first value into its SQL return value.
RETURN_CAST = {"DOUBLE": "float", "FLOAT": "float", "INTEGER": "int", "BIGINT": "int", "SMALLINT": "int",
               "TINYINT": "int", "VARCHAR": "str", "BOOLEAN": "bool"}


def _as_postgres_user():
    """initdb refuses root: run the cluster as the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Cluster:
    def __init__(self, root, imlane_build=None):
        """imlane_build: a build directory whose PostgreSQL extension the server loads (the
        postgres-imlane system), from a private copy of the server tree (pg_private_tree.py)."""
        self.root = os.path.abspath(root)
        self.imlane_build = imlane_build
        self.pg_ctl = f"{PG_BIN}/pg_ctl"
        self.imlane_sock = os.path.join(self.root, "imlane", "imlane.sock")
        self.data = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "sock")
        self.port = "55432"
        self.log = os.path.join(self.root, "server.log")

    def _run(self, args, **kw):
        return subprocess.run(_as_postgres_user() + args, check=True, capture_output=True, text=True, **kw)

    def start(self):
        os.makedirs(self.sock, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self._run([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync",
                       "-E", "UTF8", "--locale=C"])
        self.stop()  # a cluster left running by an interrupted run
        imlane_opts = ""
        if self.imlane_build:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                            "database", "postgres"))
            from pg_private_tree import make_private_tree
            self.pg_ctl = os.path.join(make_private_tree(os.path.join(self.root, "tree"), self.imlane_build), "pg_ctl")
            os.makedirs(os.path.dirname(self.imlane_sock), mode=0o700, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(os.path.dirname(self.imlane_sock), "postgres", "postgres")
            # The planner hook that batches calls is there from a session's first query on.
            # Executors import from the venv this runs in, as the imlane system's do.
            imlane_opts = (f" -c session_preload_libraries=imlane -c imlane.socket='{self.imlane_sock}'"
                           f" -c imlane.python_env='{sys.prefix}'")
        # Loopback-free: Unix socket only. One thread per BLAS library, as in the executors.
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        for var in ("PYTHONHOME", "PYTHONPATH"):
            env.pop(var, None)
        self._run([self.pg_ctl, "-D", self.data, "-l", self.log, "-w", "-t", "60", "start", "-o",
                   f"-c listen_addresses='' -c unix_socket_directories='{self.sock}' -p {self.port} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c shared_buffers=1GB -c work_mem=256MB -c max_wal_size=8GB" + imlane_opts], env=env)
        if DB not in self.psql("SELECT datname FROM pg_database", db="postgres"):
            self.psql(f"CREATE DATABASE {DB}", db="postgres")
        self.psql("CREATE EXTENSION IF NOT EXISTS plpython3u")
        if self.imlane_build:
            self.psql("CREATE EXTENSION IF NOT EXISTS imlane")

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(_as_postgres_user() + [self.pg_ctl, "-D", self.data, "-m", "fast", "-w", "stop"],
                           capture_output=True)
        if self.imlane_build:  # the coordinator the backends started (it outlives them by imlane.idle_exit_ms)
            subprocess.run(_as_postgres_user() + [os.path.join(self.imlane_build, "bin", "imlane"), "stop", "--socket",
                                                  self.imlane_sock], capture_output=True)

    def psql_args(self, db=DB):
        return _as_postgres_user() + ["/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                                      "-p", self.port, "-U", "postgres", "-d", db]

    def psql(self, sql, db=DB):
        r = subprocess.run(self.psql_args(db) + ["-A", "-t", "-c", sql], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()} (in: {sql[:200]})")
        return r.stdout

    def load_table(self, name, columns, csv_path):
        """columns: [(name, duckdb type)] from DuckDB's DESCRIBE; csv_path: header-less CSV."""
        cols = ", ".join(f"{c} {_pg_column_type(t)}" for c, t in columns)
        self.psql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({cols})")
        self.psql(f"COPY {name} FROM '{os.path.abspath(csv_path)}' WITH (FORMAT csv)")
        self.psql(f"ANALYZE {name}")

    def create_udf(self, name, udf_file, arg_types, return_type, site_dir=None):
        """A row-at-a-time PL/Python wrapper around the staged UDF file: pyinitial() once per backend
        (kept in SD), pyfun() per row on one-element numpy arrays. site_dir: a site-packages directory
        the backend's Python imports from as well (the project venv's, built on the same Debian
        python3.11 that PL/Python embeds), for the original models' PyPI packages."""
        params = ", ".join(f"a{i} {PG_TYPES[t][0]}" for i, t in enumerate(arg_types))
        arrays = ", ".join(f"np.array([a{i}], dtype={PG_TYPES[t][1]})" for i, t in enumerate(arg_types))
        body = f"""
if 'pyfun' not in SD:
    import site
    if {site_dir!r}:
        site.addsitedir({site_dir!r})
    import numpy as np
    path = {udf_file!r}
    ns = {{'__file__': path, '__name__': 'imlane_udf_{name}'}}
    with open(path) as f:
        exec(compile(f.read(), path, 'exec'), ns)
    if 'pyinitial' in ns:
        ns['pyinitial']()
    SD['pyfun'] = ns['pyfun']
    SD['np'] = np
np = SD['np']
v = SD['pyfun']({arrays})[0]
return {RETURN_CAST[return_type]}(v)
"""
        self.psql(f"DROP FUNCTION IF EXISTS {name}; CREATE FUNCTION {name}({params}) RETURNS "
                  f"{PG_TYPES[return_type][0]} AS $body${body}$body$ LANGUAGE plpython3u PARALLEL SAFE")

    def create_imlane_udf(self, name, udf_file, args, returns):
        """The same staged UDF through the imlane extension: imlane_create_function makes the SQL
        function `name`, whose calls the extension runs in batches on IMLane executors."""
        self.psql(f"DROP FUNCTION IF EXISTS {name}; SELECT imlane_drop_function('{name}'); "
                  f"SELECT imlane_create_function('{name}', '{udf_file}', '{args}', '{returns}')")

    def run_query(self, sql, time_limit, result_csv, repeat, warmup_sql):
        """Times the query with psql's \\timing (server execution plus the transfer of every row).
        Each session first runs warmup_sql, which loads the model into SD. A first run longer than a
        tenth of the time limit is not repeated."""
        out = {"status": "ok", "times_s": []}
        for runs in (1, repeat - 1):
            if runs <= 0 or (out["times_s"] and out["times_s"][0] > time_limit / 10):
                break
            session = self._session(sql, time_limit, result_csv, runs, warmup_sql)
            out["times_s"] += session["times_s"]
            if session["status"] != "ok":
                out.update(status=session["status"], error=session["error"])
                return out
        with open(result_csv) as f:
            out["rows"] = max(0, sum(1 for _ in csv.reader(f)) - 1)
        return out

    def _session(self, sql, time_limit, result_csv, runs, warmup_sql):
        query = sql.rstrip().rstrip(";")
        script = (f"SET statement_timeout = '{int(time_limit * 1000)}ms';\n\\o /dev/null\n{warmup_sql};\n"
                  "\\timing on\n")
        for i in range(runs):
            script += f"\\o {result_csv if i == runs - 1 else '/dev/null'}\n{query};\n"
        r = subprocess.run(self.psql_args() + ["--csv"], input=script, capture_output=True, text=True)
        times = [float(line.split()[1]) / 1000 for line in r.stdout.splitlines() if line.startswith("Time: ")]
        if r.returncode == 0:
            return {"status": "ok", "times_s": times}
        if "statement timeout" in r.stderr:
            return {"status": "timeout", "times_s": times, "error": f"stopped after {time_limit:g} s"}
        return {"status": "error", "times_s": times, "error": r.stderr.strip()[-2000:]}


def _pg_column_type(duck_type):
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "numeric")
    return PG_TYPES[t][0] if t in PG_TYPES else t
