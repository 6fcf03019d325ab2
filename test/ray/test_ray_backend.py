"""Backend Executors on a Ray cluster (imlane serve --ray-address; docs/scale-out.md).

A real two-node Ray cluster on loopback (ray.cluster_utils: a head and a second raylet, one CPU each,
in a temp dir of its own), a real coordinator whose Ray bridge joins it, and prediction queries through
imlane-duckdb. Run with the project venv's python (Ray is pinned in requirements/ray.txt) and
IMLANE_BUILD_DIR set: ctest ray_backend.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

# Ray turns 127.0.0.1 into the machine's address unless told otherwise; the cluster stays on loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
# A killed node is noticed in about two seconds rather than Ray's default fifteen or more.
os.environ.setdefault("RAY_health_check_period_ms", "500")
os.environ.setdefault("RAY_health_check_failure_threshold", "3")
from ray.cluster_utils import Cluster  # noqa: E402

BUILD = os.environ.get("IMLANE_BUILD_DIR", "")
IMLANE = os.path.join(BUILD, "bin", "imlane")
SHELL = os.path.join(BUILD, "bin", "imlane-duckdb")
VENV = os.path.realpath(sys.prefix)

pytestmark = pytest.mark.skipif(not os.path.exists(SHELL), reason="IMLANE_BUILD_DIR/bin/imlane-duckdb not built")

# A model-like function: a fixed linear map, with a per-batch cost so that a query spans seconds.
UDF = """
import time
import numpy as np
def pyinitial():
    global w
    w = np.array([0.5, -2.0, 3.0])
def pyfun(a, b, label):
    time.sleep({sleep})
    out = w[0] * a + w[1] * b + w[2] * np.array([len(s) if s is not None else 0 for s in label])
    return out
"""

EXPECTED = "0.5 * a - 2.0 * b + 3.0 * length(label)"  # the UDF in SQL (NULL where label is NULL)
TABLE = """CREATE TABLE t AS SELECT i::DOUBLE AS a, (i % 97)::DOUBLE / 7 AS b,
    CASE WHEN i % 13 = 0 THEN NULL ELSE 'row' || (i % 11)::VARCHAR END AS label FROM range({rows}) r(i);"""


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    temp = tempfile.mkdtemp(prefix="imlane-ray-", dir="/tmp")  # short: Ray's socket paths must fit
    c = Cluster(initialize_head=True,
                head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "temp_dir": temp,
                                "resources": {"head": 1}})
    try:
        # Its own loopback address: a driver on 127.0.0.1 (the Ray bridge) then always joins the head
        # node, as on a real cluster with one raylet per machine, never the node the test kills.
        c.extra = c.add_node(num_cpus=1, node_ip_address="127.0.0.2", resources={"second": 1})
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()
        if not os.environ.get("IMLANE_KEEP"):
            shutil.rmtree(temp, ignore_errors=True)


class Coordinator:
    def __init__(self, workdir, *extra):
        self.sock = os.path.join(workdir, "s.sock")
        self.log = open(os.path.join(workdir, "serve.log"), "w+")
        self.proc = subprocess.Popen([IMLANE, "serve", "--socket", self.sock, "--executors", "1", "--python-env", VENV,
                                      *extra], stdout=self.log, stderr=subprocess.STDOUT, text=True)
        for _ in range(600):
            if os.path.exists(self.sock):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"imlane serve did not start: {self.logs()}")

    def logs(self):
        """The coordinator's log without its connection lines (the status polls make many)."""
        self.log.seek(0)
        return "".join(line for line in self.log if not line.rstrip().endswith("connected"))

    def sql(self, script, timeout=240, check=True):
        r = subprocess.run([SHELL, "-c", ".mode csv", "-c", script], capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, IMLANE_SOCKET=self.sock, IMLANE_IDLE_EXIT_MS="0"))
        if check:
            assert r.returncode == 0, f"{r.stderr}\n--- coordinator log ---\n{self.logs()[-4000:]}"
        return r

    def status(self):
        r = subprocess.run([IMLANE, "status", "--socket", self.sock, "--json"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="imlane-rayt-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def coordinator(cluster, workdir):
    c = Coordinator(workdir, "--ray-address", cluster.address)
    yield c
    c.stop()


def create(name, path, backend, **options):
    extra = "".join(f", {k} := {v!r}" for k, v in options.items())
    return (f"CALL imlane_create_function('{name}', '{path}', 'DOUBLE, DOUBLE, VARCHAR', 'DOUBLE', "
            f"backend := '{backend}'{extra});")


def write_udf(workdir, sleep):
    path = os.path.join(workdir, "model.py")
    with open(path, "w") as f:
        f.write(UDF.replace("{sleep}", str(sleep)))
    return path


def ray_row(status, name):
    return next(f for f in status["functions"] if f["name"] == name)


def test_a_query_on_two_nodes_returns_the_local_rows(coordinator, workdir):
    path = write_udf(workdir, 0)
    script = (TABLE.format(rows=100000) + create("m_local", path, "local") + create("m_ray", path, "ray", replicas=2) +
              "SET imlane_batch_size = 2048;"
              "SELECT count(*) AS n, count(*) FILTER (WHERE l IS DISTINCT FROM r) AS differ, count(r) AS valid "
              "FROM (SELECT m_local(a, b, label) AS l, m_ray(a, b, label) AS r FROM t);")
    out = coordinator.sql(script).stdout.strip().splitlines()
    assert out[-1] == f"100000,0,{100000 - 100012 // 13}", out  # NULL where label is NULL
    ray = ray_row(coordinator.status(), "m_ray")
    assert ray["backend"] == "ray"
    actors = [a for a in ray["ray"]["actors"] if a["state"] == "ready"]
    assert len(actors) == 2 and ray["ray"]["nodes"] == 2, ray
    assert all(a["batches"] > 0 for a in actors), ray  # both nodes ran batches
    assert sum(a["rows"] for a in ray["ray"]["actors"]) == 100000
    # The same in SQL.
    out = coordinator.sql("SELECT backend, actors, nodes, json_array_length(actor_stats) FROM imlane_functions() "
                          "WHERE name = 'm_ray';").stdout.strip().splitlines()
    assert out[-1] == "ray,2,2,2", out


def test_both_backends_share_a_query_and_agree(coordinator, workdir):
    path = write_udf(workdir, 0.002)
    script = (TABLE.format(rows=60000) + create("m_both", path, "both", replicas=2) +
              "SET imlane_batch_size = 1024;"
              f"SELECT count(p), count(*) FILTER (WHERE abs(p - e) > 1e-9) FROM (SELECT m_both(a, b, label) AS p, "
              f"{EXPECTED} AS e FROM t);")
    out = coordinator.sql(script).stdout.strip().splitlines()
    assert out[-1] == f"{60000 - 60012 // 13},0", out
    status = coordinator.status()
    used = [e for e in status["executors"] if any(f["name"] == "m_both" and f["batches"] > 0 for f in e["functions"])]
    assert len(used) == 2, status["executors"]  # the local executor and the Ray bridge both served batches


def test_registration_against_a_dead_address_names_it(workdir):
    dead = f"127.0.0.1:{free_port()}"
    c = Coordinator(workdir, "--ray-address", dead)
    try:
        path = write_udf(workdir, 0)
        r = c.sql(create("m_dead", path, "ray"), check=False, timeout=120)
        assert r.returncode != 0 and f"cannot reach the Ray cluster at {dead}" in r.stderr, r.stderr
        # Local functions of the same coordinator are unaffected.
        out = c.sql(TABLE.format(rows=100) + create("m_here", path, "local") +
                    "SELECT count(m_here(a, b, label)) FROM t;").stdout.strip().splitlines()
        assert out[-1] == "92", out  # NULL where label is NULL
    finally:
        c.stop()


def test_a_ray_function_without_a_cluster_is_refused_naming_the_option(workdir):
    c = Coordinator(workdir)
    try:
        r = c.sql(create("m_nowhere", write_udf(workdir, 0), "ray"), check=False)
        assert r.returncode != 0 and "no Ray cluster (imlane serve --ray-address ADDR" in r.stderr, r.stderr
        r = c.sql(create("m_bad", write_udf(workdir, 0), "cloud"), check=False)
        assert "backend must be 'local', 'ray' or 'both', got 'cloud'" in r.stderr, r.stderr
    finally:
        c.stop()


def test_the_python_api_creates_a_ray_function(coordinator, workdir):
    import imlane

    con = imlane.connect(socket=coordinator.sock, python_env=VENV)
    with pytest.raises(ValueError, match="backend must be 'local', 'ray' or 'both', got 'cloud'"):
        imlane.create_function(con, "p_bad", write_udf(workdir, 0), args=["DOUBLE", "DOUBLE", "VARCHAR"],
                               returns="DOUBLE", backend="cloud")
    imlane.create_function(con, "p_ray", write_udf(workdir, 0), args=["DOUBLE", "DOUBLE", "VARCHAR"],
                           returns="DOUBLE", backend="ray", replicas=2, retries=0)
    assert con.sql("SELECT p_ray(1.0, 2.0, 'abc')").fetchall() == [(0.5 - 4.0 + 9.0,)]
    row = con.sql("SELECT backend, actors FROM imlane_functions() WHERE name = 'p_ray'").fetchall()
    assert row == [("ray", 2)], row


def test_a_node_killed_mid_query_loses_no_row(cluster, coordinator, workdir):
    """Last of the module: it takes the second node away (and puts a new one back for nothing else)."""
    path = write_udf(workdir, 0.2)
    rows = 80000  # 40 batches of 2048 rows, 200 ms each: about four seconds on two actors
    script = (TABLE.format(rows=rows) + create("m_kill", path, "ray", replicas=2) + "SET imlane_batch_size = 2048;" +
              f"SELECT count(*), count(p), count(*) FILTER (WHERE abs(p - e) > 1e-9) FROM (SELECT m_kill(a, b, label) "
              f"AS p, {EXPECTED} AS e FROM t);")
    result = {}

    def run():
        result["r"] = coordinator.sql(script, check=False)

    query = threading.Thread(target=run)
    query.start()
    # Kill the second node once its actor is running batches.
    deadline = time.time() + 120
    while time.time() < deadline:
        fns = [f for f in coordinator.status()["functions"] if f["name"] == "m_kill"]
        if fns and any(a["batches"] > 0 and a["node_ip"] and a["state"] == "ready" for a in fns[0]["ray"]["actors"]):
            busy_nodes = {a["node"] for a in fns[0]["ray"]["actors"] if a["batches"] > 0}
            if cluster.extra.node_id in busy_nodes:
                break
        time.sleep(0.1)
    else:
        pytest.fail("the second node never ran a batch")
    cluster.remove_node(cluster.extra, allow_graceful=False)
    query.join(timeout=300)
    r = result["r"]
    assert r.returncode == 0, f"{r.stderr}\n{coordinator.logs()[-4000:]}"
    assert r.stdout.strip().splitlines()[-1] == f"{rows},{rows - (rows + 12) // 13},0", r.stdout
    ray = ray_row(coordinator.status(), "m_kill")["ray"]
    assert ray["retried"] > 0, ray  # batches of the dead actor ran again elsewhere
    assert any(a["state"] == "dead" for a in ray["actors"]), ray


def test_a_cluster_that_goes_away_fails_the_query_cleanly_and_the_next_runs_locally(workdir):
    """A cluster of its own, stopped whole mid-query: the query fails within its timeout, not hangs,
    and the next query of the same function runs on the local executor."""
    temp = tempfile.mkdtemp(prefix="imlane-ray2-", dir="/tmp")
    gone = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                          "temp_dir": temp})
    c = None
    try:
        c = Coordinator(workdir, "--ray-address", gone.address)
        path = write_udf(workdir, 0.2)
        script = (TABLE.format(rows=200000) + create("m_gone", path, "ray", replicas=1) + "SET imlane_batch_size = 2048; SET imlane_timeout_ms = 60000;" +
                  "SELECT count(m_gone(a, b, label)) FROM t;")
        result = {}
        query = threading.Thread(target=lambda: result.update(r=c.sql(script, check=False)))
        started = time.time()
        query.start()
        time.sleep(3)
        gone.shutdown()  # every node of the cluster, GCS included
        query.join(timeout=120)
        r = result["r"]
        assert r.returncode != 0 and "Error" in r.stderr, r.stdout
        assert time.time() - started < 90, "the query did not fail within its timeout"
        out = c.sql(TABLE.format(rows=5000) + create("m_gone", path, "ray", replicas=1) + "SET imlane_batch_size = 2048; SELECT count(m_gone(a, b, label)) FROM t;")
        assert out.stdout.strip().splitlines()[-1] == str(5000 - 5012 // 13), out.stdout
        assert "runs on local executors until its Ray cluster is back" in c.logs()
    finally:
        if c:
            c.stop()
        try:
            gone.shutdown()
        except Exception:
            pass
        shutil.rmtree(temp, ignore_errors=True)


def test_with_retries_off_a_dead_actor_fails_the_query_naming_it(cluster, coordinator, workdir):
    """After the node test (whose coordinator, and with it its actors, went): a fresh node joins."""
    fresh = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.3")
    cluster.wait_for_nodes()
    path = write_udf(workdir, 0.2)
    script = (TABLE.format(rows=80000) + create("m_once", path, "ray", replicas=2, retries=0) +
              "SET imlane_batch_size = 2048; SELECT count(m_once(a, b, label)) FROM t;")
    result = {}
    query = threading.Thread(target=lambda: result.update(r=coordinator.sql(script, check=False)))
    query.start()
    deadline = time.time() + 120
    while time.time() < deadline:
        fns = [f for f in coordinator.status()["functions"] if f["name"] == "m_once"]
        if fns and any(a["node"] == fresh.node_id and a["batches"] > 0 for a in fns[0]["ray"]["actors"]):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the fresh node never ran a batch")
    cluster.remove_node(fresh, allow_graceful=False)
    query.join(timeout=300)
    r = result["r"]
    assert r.returncode != 0 and "the Ray actor running this batch died (retry is off)" in r.stderr, r.stderr
    assert ray_row(coordinator.status(), "m_once")["ray"]["retried"] == 0
