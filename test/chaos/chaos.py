#!/usr/bin/env python3
"""IMLane chaos run: 4 DuckDB clients run prediction queries while a driver kills executors and the
coordinator, sends malformed control frames and re-registers functions (issue 16, "Done means").

    .venv/bin/python test/chaos/chaos.py [--duration 600] [--seed N] [--clients 4] [--build-dir build]
    make chaos [CHAOS_SECONDS=600]

What it does (see docs/architecture.md, "Reliability testing"):
- Starts its own coordinator (`imlane serve` on a socket in a fresh temp dir, with its own executors
  and --python-env the project venv), so it never touches a user's coordinator.
- Starts N client processes (this file with `client`), each a DuckDB in-memory database with
  imlane.duckdb_extension loaded through the imlane Python package (`imlane.connect(socket=...)`).
  Each registers five functions itself (`CALL imlane_create_function`), builds a table of known
  inputs and runs prediction queries in a loop; every successful result is compared EXACTLY (==, row
  by row, NULLs included) with values computed in plain Python from the table's inputs.
  Clients are given IMLANE_COORDINATOR=<nonexistent>, so they can never start an embedded
  coordinator of their own: the driver's coordinator is the only one.
- Meanwhile the driver, from a seeded random.Random (the seed is printed; --seed N replays the same
  fault decisions: kinds, parameters, which executor or client by position among the live ones;
  their interleaving with the queries depends on timing), injects:
    kill_executor     SIGKILL of a random executor pid from `imlane status --json` (checked to be an
                      imlane-executor child of this run's coordinator);
    kill_coordinator  SIGKILL of the coordinator; the driver checks that its executors die with it,
                      waits a random 0.2-3 s outage, then starts a new coordinator on the same socket
                      (functions are NOT re-registered by the driver: a client's engine has to
                      reconnect and re-register what it registered, issue 16 item 10);
    malformed         one malformed control frame on a fresh connection (garbage, non-JSON payload,
                      non-object JSON, valid JSON with wrong field types, huge announced lengths,
                      half-sent frames, zero length, many idle connections with big announced
                      lengths), then close; the coordinator must still be alive and answer `status`;
    reregister        new code with the same results (variant v1 <-> v2) for one function, either with
                      `imlane register` (another connection) or by one client in its own connection
                      (CALL imlane_create_function), while queries run.
  The first faults cover every kind once (seeded order), then kinds are drawn with weights;
  coordinator kills are at least --coordinator-kill-gap s apart. The last --quiet s have no faults.
- Classifies every failed statement: clear (the message names the cause: executor died/killed,
  coordinator went away/unavailable, timeout, function re-registered/replaced) or unclear (internal
  or fatal errors, an invalidated database, anything else). Clients are supervised: a client whose
  process dies (crash) or whose statement runs longer than --hang-timeout s (hang) fails the run.
- At the end: stops the clients (each reports its fd count after warm-up, at the end with the
  connection open, before connecting and after closing), stops the coordinator, and checks for
  leaks: processes (every pid seen, and every process whose environment carries this run's
  IMLANE_CHAOS_RUN_ID or whose command line names this run's socket), client fds beyond
  --fd-slack, Lanes still mapped by a client after it closed its database, /dev/shm entries
  (Lanes are memfds, so none is expected: any new /dev/shm entry named like imlane or opened by a
  process of this run counts).
- Prints a summary (and writes it as JSON with --json PATH). Exit status 0 only when there was no
  wrong result, no unclear failure, no client crash or hang, no leak, and every fault was followed
  by a successful query that started after it (after a coordinator kill: in every client).
"""
import argparse
import collections
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
RUN_ENV = "IMLANE_CHAOS_RUN_ID"
FAULT_KINDS = ("kill_executor", "kill_coordinator", "malformed", "reregister")

# --------------------------------------------------------------------------------------------------
# The functions (two variants of each: same results, different code) and the queries.
# --------------------------------------------------------------------------------------------------

UDF_SOURCES = {
    "v1": {
        "f_affine": """\
import numpy as np
def pyfun(x, k):
    return x * 3.0 + k
""",
        "f_int": """\
import numpy as np
def pyfun(i):
    return (i * 7 + 3) % 1000003
""",
        "f_nulls": """\
import numpy as np
def pyfun(xn):
    # default null handling: only valid rows arrive; rows with round(xn*4) % 7 == 0 become NULL
    return [None if int(v * 4) % 7 == 0 else v * 2.0 for v in xn]
""",
        "f_label": """\
import numpy as np
def pyfun(i):
    return np.array(["r%d-\\u00e9%d" % (v, v % 13) for v in i.tolist()], dtype=object)
""",
        "f_slow": """\
import time
import numpy as np
def pyfun(x):
    time.sleep(0.15)
    return x + 0.5
""",
    },
    "v2": {
        "f_affine": """\
import numpy as np
_three = None
def pyinitial():
    global _three
    _three = 3.0
def pyfun(x, k):
    return np.add(np.multiply(x, _three), k.astype(np.float64))
""",
        "f_int": """\
import numpy as np
def pyfun(i):
    return np.remainder(np.add(np.multiply(i, 7), 3), 1000003).astype(np.int64)
""",
        "f_nulls": """\
def pyfun(xn):
    out = []
    for v in xn.tolist():
        out.append(None if round(v * 4) % 7 == 0 else 2.0 * v)
    return out
""",
        "f_label": """\
def pyfun(i):
    return ["r" + str(v) + "-\\u00e9" + str(v % 13) for v in i.tolist()]
""",
        "f_slow": """\
import time
def pyfun(x):
    time.sleep(0.1)
    return x + 0.5
""",
    },
}
SIGNATURES = {  # name -> (argument types, return type)
    "f_affine": ("DOUBLE, INTEGER", "DOUBLE"),
    "f_int": ("BIGINT", "BIGINT"),
    "f_nulls": ("DOUBLE", "DOUBLE"),
    "f_label": ("BIGINT", "VARCHAR"),
    "f_slow": ("DOUBLE", "DOUBLE"),
}


def _e_int(i):
    return (i * 7 + 3) % 1000003


def _e_nulls(xn):
    if xn is None:
        return None
    return None if int(xn * 4) % 7 == 0 else xn * 2.0


def _e_label(i):
    return "r%d-\u00e9%d" % (i, i % 13)


def expected_results(rows):
    """Expected results of every query, from the table's inputs [(id, x, k, xn)], in plain Python."""
    e = {}
    e["affine"] = [(i, x * 3.0 + k) for i, x, k, xn in rows]
    e["int_filter"] = [(i, _e_int(i)) for i, x, k, xn in rows if _e_int(i) % 3 == 0]
    e["nulls"] = [(i, _e_nulls(xn)) for i, x, k, xn in rows]
    e["label"] = [(i, _e_label(i)) for i, x, k, xn in rows]
    e["aggregate"] = [(len(rows), sum(_e_int(i) for i, _, _, _ in rows),
                       sum(1 for _, _, _, xn in rows if _e_nulls(xn) is None))]
    e["slow"] = [(i, x + 0.5) for i, x, k, xn in rows if i < 6000]
    e["two_functions"] = [(i, x * 3.0 + k, _e_label(i)) for i, x, k, xn in rows if i % 4 == 1]
    return e


QUERIES = {
    "affine": "SELECT id, f_affine(x, k) FROM t ORDER BY id",
    "int_filter": "SELECT id, f_int(id) AS v FROM t WHERE f_int(id) % 3 = 0 ORDER BY id",
    "nulls": "SELECT id, f_nulls(xn) FROM t ORDER BY id",
    "label": "SELECT id, f_label(id) FROM t ORDER BY id",
    "aggregate": "SELECT count(*), sum(f_int(id)), sum(CASE WHEN f_nulls(xn) IS NULL THEN 1 ELSE 0 END) FROM t",
    "slow": "SELECT id, f_slow(x) FROM t WHERE id < 6000 ORDER BY id",
    "two_functions": "SELECT id, f_affine(x, k), f_label(id) FROM t WHERE id % 4 = 1 ORDER BY id",
}
QUERY_WEIGHTS = {"affine": 3, "int_filter": 2, "nulls": 2, "label": 2, "aggregate": 2, "slow": 1, "two_functions": 2}


def first_difference(got, want):
    if len(got) != len(want):
        for j, (g, w) in enumerate(zip(got, want)):
            if g != w:
                return f"{len(got)} rows instead of {len(want)}; first differing row {j}: got {g!r}, expected {w!r}"
        return f"{len(got)} rows instead of {len(want)}"
    for j, (g, w) in enumerate(zip(got, want)):
        if tuple(g) != tuple(w):
            return f"row {j}: got {tuple(g)!r}, expected {w!r}"
    return None


# --------------------------------------------------------------------------------------------------
# Failure classification.
# --------------------------------------------------------------------------------------------------

# An error is clear when its message names its cause. Unclear ones are checked first: an internal or
# fatal error is unclear whatever else it says.
UNCLEAR_PATTERNS = [
    (re.compile(r"INTERNAL Error|InternalException|internal error", re.I), "internal error"),
    (re.compile(r"FATAL Error|FatalException|database has been invalidated|invalidated", re.I), "fatal / invalidated"),
    (re.compile(r"Attempting to execute an unsuccessful or closed pending query", re.I), "lost error"),
    (re.compile(r"terminate called|std::|nlohmann|json\.exception|\[json\.", re.I), "library exception"),
    (re.compile(r"Segmentation|core dumped|Aborted", re.I), "crash text"),
]
CLEAR_PATTERNS = [
    (re.compile(r"executor \d+ \(pid \d+\) died|executor.{0,80}(died|killed|exited|crashed|restart)|"
                r"killed by signal|ExecutorFailed", re.I), "executor died"),
    (re.compile(r"coordinator.{0,120}(went away|gone|unavailable|not running|restart|closed|reset|"
                r"not found|could not connect|no longer)|no coordinator listening|"
                r"the coordinator binary was not found|lost (the )?connection to the coordinator", re.I),
     "coordinator went away"),
    (re.compile(r"timed out|TimedOut|within \d+ ms|timeout", re.I), "timeout"),
    (re.compile(r"re-?regist|replaced|was dropped|not loaded in this executor|new version|version \d+ of", re.I),
     "re-registered"),
]


def classify(message):
    """('clear' | 'unclear', cause)."""
    for pattern, cause in UNCLEAR_PATTERNS:
        if pattern.search(message):
            return "unclear", cause
    for pattern, cause in CLEAR_PATTERNS:
        if pattern.search(message):
            return "clear", cause
    return "unclear", "unrecognised"


# --------------------------------------------------------------------------------------------------
# Client process.
# --------------------------------------------------------------------------------------------------

def count_fds(pid="self"):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def mapped_lanes(pid="self"):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return sum(1 for line in f if "memfd:imlane-lane" in line)
    except OSError:
        return -1


def client_main(args):
    events = os.fdopen(args.event_fd, "w", buffering=1)
    lock = threading.Lock()

    def emit(**ev):
        ev["t"] = time.time()
        ev["client"] = args.client_id
        line = json.dumps(ev)
        with lock:
            events.write(line + "\n")
            events.flush()

    commands = collections.deque()
    stop = threading.Event()

    def read_stdin():
        for line in sys.stdin:
            line = line.strip()
            if line == "stop":
                stop.set()
            elif line:
                commands.append(line)
        stop.set()  # the driver went away

    threading.Thread(target=read_stdin, daemon=True).start()
    rng = random.Random(args.seed * 1000 + args.client_id)
    fds_before_connect = count_fds()
    sys.path.insert(0, os.path.join(REPO, "contrib", "pythonpkg"))
    import duckdb  # noqa: F401  (the project venv's duckdb==1.4.4)
    import imlane
    fds_before_connect = count_fds()

    con = imlane.connect(extension=args.extension, socket=args.socket, lane_bytes=args.lane_bytes,
                         timeout_ms=args.timeout_ms)
    n = args.rows
    con.execute(f"CREATE TABLE t AS SELECT i::BIGINT AS id, (i * 0.5 - 1000)::DOUBLE AS x, (i % 97)::INTEGER AS k, "
                f"CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 0.25)::DOUBLE END AS xn FROM range({n}) r(i)")
    rows = con.execute("SELECT id, x, k, xn FROM t ORDER BY id").fetchall()
    expected = expected_results(rows)

    def register(name, variant):
        path = os.path.join(args.udf_dir, variant, name + ".py")
        a, r = SIGNATURES[name]
        con.execute("CALL imlane_create_function(?, ?, ?, ?)", [name, path, a, r])

    def statement(kind, what, fn):
        emit(ev="begin", kind=kind, what=what)
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported and classified by the driver
            emit(ev="fail", kind=kind, what=what, exc=type(e).__name__, msg=str(e)[:3000],
                 secs=time.monotonic() - t0)
            return False
        emit(ev="ok", kind=kind, what=what, secs=time.monotonic() - t0)
        return True

    def run_query(name):
        got = con.execute(QUERIES[name]).fetchall()
        diff = first_difference(got, expected[name])
        if diff is not None:
            raise WrongResult(diff)

    # Setup: register every function (retrying while the coordinator may be restarting), then one
    # warm-up round of every query, after which the fd baseline is taken.
    deadline = time.monotonic() + args.setup_timeout
    pending = list(SIGNATURES)
    while pending and time.monotonic() < deadline and not stop.is_set():
        name = pending[0]
        if statement("setup", f"register {name} v1", lambda: register(name, "v1")):
            pending.pop(0)
        else:
            time.sleep(0.5)
    warm = list(QUERIES)
    while warm and time.monotonic() < deadline and not stop.is_set():
        name = warm[0]
        if statement("setup", name, lambda: run_query(name)):
            warm.pop(0)
        else:
            time.sleep(0.5)
    fds_start = count_fds()
    emit(ev="ready", pid=os.getpid(), fds_before_connect=fds_before_connect, fds_start=fds_start,
         setup_complete=not pending and not warm, stopped=stop.is_set())

    names = list(QUERIES)
    weights = [QUERY_WEIGHTS[q] for q in names]
    while not stop.is_set():
        while commands:
            cmd = commands.popleft().split()
            if cmd[0] == "reregister":
                _, name, variant = cmd
                statement("reregister", f"{name} {variant}", lambda: register(name, variant))
        name = rng.choices(names, weights)[0]
        if not statement("query", name, lambda: run_query(name)):
            time.sleep(0.2)  # do not spin through an outage
    fds_end = count_fds()
    lanes_open = mapped_lanes()
    con.close()
    del con
    import gc
    gc.collect()
    time.sleep(0.5)
    emit(ev="end", fds_start=fds_start, fds_end=fds_end, fds_before_connect=fds_before_connect,
         fds_after_close=count_fds(), lanes_mapped_open=lanes_open, lanes_mapped_after_close=mapped_lanes())
    events.close()
    return 0


class WrongResult(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------------------

def proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def proc_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_ppid(int(d)) == pid:
            out.append(int(d))
    return out


def run_processes(run_id, socket_path):
    """Processes (not zombies) that belong to this run: its env tag, or its socket on the command line."""
    tag = f"{RUN_ENV}={run_id}".encode()
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        pid = int(d)
        mine = False
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                mine = tag in f.read().split(b"\0")
        except OSError:
            pass
        cmd = proc_cmdline(pid)
        if socket_path in cmd:
            mine = True
        if mine and proc_alive(pid):
            found[pid] = cmd
    return found


def shm_entries():
    try:
        return set(os.listdir("/dev/shm"))
    except OSError:
        return set()


def shm_used_by(pids):
    """/dev/shm paths a process has open or mapped."""
    used = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("/dev/shm/"):
                    used.add(target[len("/dev/shm/"):].split(" ")[0])
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    if "/dev/shm/" in line:
                        used.add(line.split("/dev/shm/", 1)[1].split(" ")[0].strip())
        except OSError:
            continue
    return used


class Run:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
        self.rng = random.Random(self.seed)
        self.run_id = uuid.uuid4().hex[:16]
        self.tmp = tempfile.mkdtemp(prefix="imlane-chaos-")
        self.socket = os.path.join(self.tmp, "imlane.sock")
        self.build = os.path.abspath(args.build_dir)
        self.imlane = os.path.join(self.build, "bin", "imlane")
        self.extension = os.path.join(self.build, "lib", "duckdb", "extensions", "imlane.duckdb_extension")
        self.python = args.python or (os.path.join(REPO, ".venv", "bin", "python")
                                      if os.path.exists(os.path.join(REPO, ".venv", "bin", "python"))
                                      else sys.executable)
        self.venv = os.path.realpath(os.path.join(os.path.dirname(self.python), ".."))
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.coord = None            # subprocess.Popen of the current coordinator
        self.coord_pid = None
        self.coord_up_since = None
        self.coord_generation = 0
        self.coord_log = None
        self.pids_seen = {}          # pid -> (what, start time)
        self.clients = {}            # slot -> the Client process serving it now
        self.all_clients = []        # every Client process, replaced ones included
        self.faults = []             # {kind, t, detail, ...}
        self.counts = collections.Counter()
        self.malformed_counts = collections.Counter()
        self.failures = []           # every failure: {client, kind, what, exc, msg, class, cause}
        self.problems = []           # run-level failures (coordinator died of a frame, status hangs, ...)
        self.observations = []       # things worth reporting that do not fail the run
        self.leaks = []
        self.replacements = []
        self.deaths = []             # coordinator deaths the driver did not cause
        self.stopping = False
        self.quiet_from = float("inf")  # no client replacement in the quiet tail
        self.t0 = time.time()
        self.kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
        for k in self.kinds:
            if k not in FAULT_KINDS:
                raise SystemExit(f"chaos: unknown fault kind {k!r} (known: {', '.join(FAULT_KINDS)})")
        self.env = dict(os.environ)
        self.env[RUN_ENV] = self.run_id
        self.env.pop("IMLANE_SOCKET", None)

    # ---- logging ------------------------------------------------------------------------------
    def log(self, msg):
        if self.args.verbose:
            with self.log_lock:
                print(f"[{time.time() - self.t0:7.1f}s] {msg}", flush=True)

    def note_pid(self, pid, what):
        if pid and pid > 0 and pid not in self.pids_seen:
            self.pids_seen[pid] = (what, proc_start_time(pid))

    # ---- coordinator --------------------------------------------------------------------------
    def status(self, timeout=10):
        try:
            p = subprocess.run([self.imlane, "status", "--json", "--socket", self.socket], env=self.env,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"imlane status did not answer within {timeout} s"
        if p.returncode != 0:
            return None, (p.stderr or p.stdout).strip()
        try:
            doc = json.loads(p.stdout)
        except ValueError as e:
            return None, f"imlane status printed no JSON: {e}"
        for e in doc.get("executors", []):
            if isinstance(e, dict) and isinstance(e.get("pid"), int):
                self.note_pid(e["pid"], "executor")
        return doc, None

    def start_coordinator(self):
        self.coord_generation += 1
        log_path = os.path.join(self.tmp, f"coordinator-{self.coord_generation}.log")
        self.coord_log = open(log_path, "wb")
        cmd = [self.imlane, "serve", "--socket", self.socket, "--executors", str(self.args.executors),
               "--lane-bytes", str(self.args.lane_bytes), "--max-lanes", str(self.args.max_lanes)]
        if self.args.python_env:
            cmd += ["--python-env", self.venv]
        self.coord = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=self.coord_log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.coord_pid = self.coord.pid
        self.note_pid(self.coord_pid, "coordinator")
        deadline = time.monotonic() + 90
        err = None
        while time.monotonic() < deadline:
            if self.coord.poll() is not None:
                raise RuntimeError(f"imlane serve exited with {self.coord.returncode} at start "
                                   f"(log {log_path}): {open(log_path, errors='replace').read()[-2000:]}")
            doc, err = self.status(timeout=10)
            if doc is not None and all(e.get("alive") for e in doc.get("executors", [])) \
                    and len(doc.get("executors", [])) == self.args.executors:
                self.coord_up_since = time.time()
                self.log(f"coordinator {self.coord_generation} up, pid {self.coord_pid}")
                return
            time.sleep(0.2)
        raise RuntimeError(f"the coordinator did not come up within 90 s: {err}")

    def coordinator_alive(self):
        return self.coord is not None and self.coord.poll() is None

    def ensure_coordinator(self, why):
        """Restarts a coordinator that died without the driver killing it (a failure of the run)."""
        if self.coordinator_alive():
            return
        rc = self.coord.returncode if self.coord else None
        tail = ""
        if self.coord_log:
            try:
                with open(self.coord_log.name, errors="replace") as f:
                    tail = " | ".join(line.strip() for line in f.read().splitlines()[-3:])
            except OSError:
                pass
        self.problems.append(f"the coordinator (pid {self.coord_pid}) died {why} (exit status {rc}; "
                             f"log {self.coord_log.name if self.coord_log else '?'}: {tail[-600:]})")
        self.counts["coordinator_unexpected_deaths"] += 1
        self.log(f"coordinator died {why}: restarting")
        death = {"t": time.time(), "clients": [c for c in self.clients.values()
                                               if c.ready and not c.dead and not c.stopping]}
        self.deaths.append(death)
        self.check_executors_die(children_of(self.coord_pid) if self.coord_pid else [], "after its unexpected death")
        self.start_coordinator()
        death["restarted_at"] = time.time()

    def check_executors_die(self, pids, when):
        deadline = time.monotonic() + 5
        left = [p for p in pids if proc_alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in left if proc_alive(p)]
        for p in left:
            self.leaks.append(f"executor pid {p} ({proc_cmdline(p)}) still alive 5 s after the coordinator died {when}")
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass

    # ---- faults -------------------------------------------------------------------------------
    def fault(self, kind, **detail):
        f = {"kind": kind, "t": time.time(), **detail}
        with self.lock:
            self.faults.append(f)
        self.counts[kind] += 1
        self.log(f"fault {kind} {detail}")
        return f

    def kill_executor(self):
        doc, err = self.status()
        if doc is None:
            self.observations.append(f"kill_executor skipped: {err}")
            self.counts["kill_executor_skipped"] += 1
            return False
        pids = [e["pid"] for e in doc.get("executors", []) if isinstance(e.get("pid"), int) and e["pid"] > 0]
        pids = [p for p in pids if proc_alive(p) and proc_ppid(p) == self.coord_pid
                and "imlane-executor" in proc_cmdline(p)]
        if not pids:
            self.counts["kill_executor_skipped"] += 1
            return False
        pid = self.rng.choice(sorted(pids))
        os.kill(pid, signal.SIGKILL)
        self.fault("kill_executor", pid=pid)
        return True

    def kill_coordinator(self):
        pid = self.coord_pid
        execs = [p for p in children_of(pid) if "imlane-executor" in proc_cmdline(p)]
        for p in execs:
            self.note_pid(p, "executor")
        outage = self.rng.uniform(0.2, 3.0)
        os.kill(pid, signal.SIGKILL)
        self.coord.wait()
        f = self.fault("kill_coordinator", pid=pid, outage_s=round(outage, 2))
        f["clients"] = [c for c in self.clients.values() if c.ready and not c.dead and not c.stopping]
        self.check_executors_die(execs, "of SIGKILL")
        time.sleep(outage)
        self.start_coordinator()
        f["restarted_at"] = time.time()
        return True

    def malformed_frame(self):
        kinds = {"garbage": 1, "not_json": 1, "json_not_object": 1, "wrong_types": 3, "huge_length": 1,
                 "half_sent": 1, "zero_length": 1, "many_idle": 1}
        kind = self.rng.choices(list(kinds), list(kinds.values()))[0]
        r = self.rng
        frames = 0
        sent_json = []  # the JSON payloads sent, named if the coordinator dies
        try:
            if kind == "many_idle":
                socks = []
                for _ in range(r.randint(4, 16)):
                    s = self.connect()
                    s.sendall(struct.pack("<I", r.randint(16 << 20, 64 << 20)) + b"{" * r.randint(0, 4096))
                    socks.append(s)
                    frames += 1
                time.sleep(r.uniform(0.5, 3.0))
                for s in socks:
                    s.close()
            else:
                s = self.connect()
                if kind == "garbage":
                    s.sendall(bytes(r.getrandbits(8) for _ in range(r.randint(1, 4096))))
                elif kind == "not_json":
                    payload = bytes(r.getrandbits(8) for _ in range(r.randint(1, 2048)))
                    s.sendall(struct.pack("<I", len(payload)) + payload)
                elif kind == "json_not_object":
                    payload = r.choice([b"[1,2,3]", b'"hello"', b"42", b"null", b"true", b"[]", b'{"op"',
                                        b'{"op": "status"', b"\xff\xfe{}", json.dumps([{"op": "status"}]).encode()])
                    sent_json.append(payload)
                    s.sendall(struct.pack("<I", len(payload)) + payload)
                elif kind == "wrong_types":
                    # A burst on one connection, each answered (or the connection closed) before the next.
                    for _ in range(r.randint(1, 6) - 1):
                        payload = json.dumps(self.wrong_types_message()).encode()
                        sent_json.append(payload)
                        s.sendall(struct.pack("<I", len(payload)) + payload)
                        frames += 1
                        s.settimeout(1.0)
                        try:
                            if not s.recv(65536):
                                break
                        except (socket.timeout, OSError):
                            break
                    payload = json.dumps(self.wrong_types_message()).encode()
                    sent_json.append(payload)
                    s.sendall(struct.pack("<I", len(payload)) + payload)
                elif kind == "huge_length":
                    length = r.choice([0xFFFFFFFF, 0x80000000, (64 << 20) + 1, 64 << 20, r.randint(1 << 20, 64 << 20)])
                    s.sendall(struct.pack("<I", length) + b"x" * r.randint(0, 1024))
                elif kind == "half_sent":
                    payload = json.dumps({"op": "status", "id": r.randint(1, 1000)}).encode()
                    cut = r.randint(1, len(payload) + 3)
                    s.sendall((struct.pack("<I", len(payload)) + payload)[:cut])
                elif kind == "zero_length":
                    s.sendall(struct.pack("<I", 0))
                frames += 1
                # Read whatever the coordinator answers (an error reply, or it closes), briefly.
                s.settimeout(r.uniform(0.05, 1.0))
                try:
                    s.recv(65536)
                except (socket.timeout, OSError):
                    pass
                s.close()
        except OSError as e:
            self.observations.append(f"malformed {kind}: socket error {e}")
        self.malformed_counts[kind] += frames
        f = self.fault("malformed", frame=kind, frames=frames)
        # The coordinator must survive and still answer.
        time.sleep(0.2)
        if not self.coordinator_alive():
            f["killed_coordinator"] = True
            sent = ("; payloads sent: " + " then ".join(x[:160].decode(errors="replace") for x in sent_json)
                    if sent_json else "")
            self.ensure_coordinator(f"after a malformed frame ({kind}{sent})")
        else:
            doc, err = self.status(timeout=15)
            if doc is None:
                self.problems.append(f"the coordinator did not answer status after a malformed frame ({kind}): {err}")
        return True

    def wrong_types_message(self):
        r = self.rng
        junk = r.choice([5, -1, 1.5, True, None, [], {}, [1, "a"], {"x": 1}, "", "x" * 300, 2**63, -2**63])
        name = r.choice(list(SIGNATURES))
        templates = [
            {"op": junk},
            {"op": "hello", "pid": r.choice(["me", [], {}, 1.5, 2**70]), "id": r.choice([junk, 1])},
            {"op": "status", "id": junk},
            {"op": "register", "name": junk, "source": "def pyfun(x):\n    return x\n", "filename": "x.py",
             "source_ref": "x.py", "entry": "", "arg_types": [r.choice(["DOUBLE", 5])], "return_types": junk},
            {"op": "register", "name": "chaos_bad", "source": junk, "filename": junk, "source_ref": junk,
             "entry": junk, "arg_types": junk, "return_types": ["DOUBLE"]},
            {"op": "acquire", "name": name, "executors": r.choice(["all", -5, [], 1.5]),
             "slots_per_executor": r.choice(["2", -1, None, {}]), "lane_bytes": r.choice(["big", -1, 1.5, []])},
            {"op": "acquire", "name": junk, "executors": 0, "slots_per_executor": 1, "lane_bytes": 1 << 20},
            {"op": "release", "lane_ids": r.choice(["abc", 5, [None, "x", 1.5], {"a": 1}])},
            {"op": "kill_executor", "index": r.choice(["0", None, [], 1.5, -1, 10**6]), "reason": junk},
            {"op": "drop", "name": r.choice([5, None, [], {}, True])},
            {"op": "reset_cache", "name": r.choice([5, [], {}, True])},
        ]
        msg = dict(r.choice(templates))
        if "id" not in msg:
            msg["id"] = r.choice([r.randint(1, 10**6), "id", None, [], 1.5])
        return msg

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.socket)
        return s

    def reregister(self):
        name = self.rng.choice(sorted(SIGNATURES))
        variant = self.rng.choice(["v1", "v2"])
        live = [c for _, c in sorted(self.clients.items()) if c.ready and not c.dead and not c.stopping]
        via = self.rng.choice(["cli"] + [f"client{c.cid}" for c in live])
        if via == "cli":
            a, ret = SIGNATURES[name]
            path = os.path.join(self.tmp, "udfs", variant, name + ".py")
            f = self.fault("reregister", function=name, variant=variant, via=via)
            try:
                p = subprocess.run([self.imlane, "register", "--socket", self.socket, name, path, "--args", a,
                                    "--returns", ret], env=self.env, capture_output=True, text=True,
                                   timeout=self.args.hang_timeout)
                f["ok"] = p.returncode == 0
                if p.returncode != 0:
                    msg = (p.stderr or p.stdout).strip()
                    cls, cause = classify(msg)
                    self.record_failure({"client": "driver", "kind": "reregister", "what": f"{name} {variant} (cli)",
                                         "exc": "imlane register", "msg": msg}, cls, cause)
                else:
                    self.counts["reregister_ok"] += 1
            except subprocess.TimeoutExpired:
                f["ok"] = False
                self.problems.append(f"imlane register {name} hung for more than {self.args.hang_timeout} s")
        else:
            c = next(c for c in live if f"client{c.cid}" == via)
            if not c.send(f"reregister {name} {variant}"):
                return False
            self.fault("reregister", function=name, variant=variant, via=via)
        return True

    # ---- failures -----------------------------------------------------------------------------
    def record_failure(self, ev, cls, cause):
        ev = dict(ev)
        ev["class"], ev["cause"] = cls, cause
        with self.lock:
            self.failures.append(ev)

    # ---- the run ------------------------------------------------------------------------------
    def write_udfs(self):
        for variant, fns in UDF_SOURCES.items():
            d = os.path.join(self.tmp, "udfs", variant)
            os.makedirs(d, exist_ok=True)
            for name, src in fns.items():
                with open(os.path.join(d, name + ".py"), "w") as f:
                    f.write(src)

    def schedule(self):
        """Yields fault kinds: each kind once first (seeded order), then weighted draws."""
        first = list(self.kinds)
        self.rng.shuffle(first)
        for k in first:
            yield k
        weights = {k: w for k, w in (("kill_executor", 4), ("kill_coordinator", 1), ("malformed", 4),
                                     ("reregister", 3)) if k in self.kinds}
        while True:
            yield self.rng.choices(list(weights), [weights[k] for k in weights])[0]

    def main(self):
        a = self.args
        for path in (self.imlane, self.extension):
            if not os.path.exists(path):
                print(f"chaos: {path} is missing: build first (make)", file=sys.stderr)
                return 2
        print(f"chaos: seed {self.seed}, duration {a.duration:.0f} s, {a.clients} clients, "
              f"{a.executors} executors, faults {','.join(self.kinds)}, run dir {self.tmp}", flush=True)
        shm_before = shm_entries()
        self.write_udfs()
        self.start_coordinator()
        client_env = dict(self.env)
        # Clients must never start a coordinator of their own: the driver's is the only one.
        client_env["IMLANE_COORDINATOR"] = os.path.join(self.tmp, "no-embedded-coordinator", "imlane")
        client_env["PYTHONPATH"] = os.path.join(REPO, "contrib", "pythonpkg") + (
            os.pathsep + client_env["PYTHONPATH"] if client_env.get("PYTHONPATH") else "")
        self.client_env = client_env
        for slot in range(a.clients):
            self.new_client(slot, 0)
        # Wait until every client is ready (registered, warmed up).
        deadline = time.monotonic() + a.setup_timeout + 30
        while time.monotonic() < deadline and not all(c.ready or c.dead for c in self.clients.values()):
            self.supervise()
            time.sleep(0.2)
        for c in self.clients.values():
            if not c.ready and not c.dead:
                self.problems.append(f"client {c.cid} not ready after {a.setup_timeout + 30:.0f} s")
        self.chaos_start = time.time()
        end = self.chaos_start + a.duration
        quiet_from = self.quiet_from = end - min(a.quiet, a.duration * 0.3)
        last_coord_kill = -1e9
        kinds = self.schedule()
        pending = None
        next_fault = time.time() + self.rng.uniform(0.5, 2.0) * a.fault_interval
        while time.time() < end:
            self.supervise()
            now = time.time()
            if now >= next_fault and now < quiet_from:
                kind = pending or next(kinds)
                pending = None
                if kind == "kill_coordinator" and now - last_coord_kill < a.coordinator_kill_gap \
                        and self.counts["kill_coordinator"] > 0:
                    others = [k for k in self.kinds if k != "kill_coordinator"]
                    kind = self.rng.choice(others) if others else None
                if kind is None:
                    next_fault = time.time() + self.rng.expovariate(1.0 / a.fault_interval)
                    continue
                try:
                    self.ensure_coordinator("between faults")
                    if kind == "kill_coordinator":
                        last_coord_kill = now
                    {"kill_executor": self.kill_executor, "kill_coordinator": self.kill_coordinator,
                     "malformed": self.malformed_frame, "reregister": self.reregister}[kind]()
                except Exception:  # noqa: BLE001 - a driver error must not hide the summary
                    self.problems.append(f"driver error during {kind}: {traceback.format_exc(limit=3)}")
                next_fault = time.time() + self.rng.expovariate(1.0 / a.fault_interval)
            time.sleep(0.1)
        self.chaos_end = time.time()
        self.log("stopping clients")
        self.ensure_coordinator("in the quiet tail")
        # Last look at /dev/shm use by this run's processes, before anything stops.
        shm_used = shm_used_by(list(run_processes(self.run_id, self.socket)))
        self.stopping = True
        for c in self.all_clients:
            c.send("stop")
        deadline = time.monotonic() + a.hang_timeout
        while time.monotonic() < deadline and not all(c.dead or c.ended for c in self.all_clients):
            self.supervise()
            time.sleep(0.2)
        for c in self.all_clients:
            if not c.dead and not c.ended:
                c.hang(f"did not stop within {a.hang_timeout:.0f} s of being asked")
            c.wait()
        self.supervise()
        self.stop_coordinator()
        self.check_leaks(shm_before, shm_used)
        return self.report()

    def new_client(self, slot, generation):
        c = Client(self, slot, generation, self.client_env)
        self.clients[slot] = c
        self.all_clients.append(c)
        c.start()
        return c

    def supervise(self):
        for c in list(self.all_clients):
            c.check()
        if self.stopping or time.time() >= self.quiet_from:
            return
        # A client whose engine does not recover (no successful query for --recovery-timeout s, several
        # failures since) is recorded and replaced by a fresh process, so that the rest of the run
        # still exercises the other faults. A replacement is itself a failed check.
        now = time.time()
        for slot, c in list(self.clients.items()):
            if not c.ready or c.dead or c.stopping:
                continue
            last_ok = max(c.ok_begin_times[-1] if c.ok_begin_times else 0, c.ready_at)
            if now - last_ok > self.args.recovery_timeout and c.fails_since_ok >= 3:
                self.replacements.append(
                    f"client {c.cid}: no successful query for {now - last_ok:.0f} s ({c.fails_since_ok} failures "
                    f"since; last: {c.last_error[:300]}); replaced by a fresh client process")
                self.log(self.replacements[-1])
                c.stopping = True
                c.send("stop")
                self.new_client(slot, c.generation + 1)

    def stop_coordinator(self):
        if not self.coordinator_alive():
            self.problems.append(f"the coordinator (pid {self.coord_pid}) was not running at the end of the run "
                                 f"(exit status {self.coord.returncode if self.coord else None})")
            return
        execs = children_of(self.coord_pid)
        subprocess.run([self.imlane, "stop", "--socket", self.socket], env=self.env, capture_output=True, timeout=30)
        try:
            self.coord.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.problems.append("the coordinator did not exit within 20 s of `imlane stop`; sent SIGKILL")
            self.coord.kill()
            self.coord.wait()
        if self.coord.returncode not in (0,):
            self.observations.append(f"the last coordinator exited with status {self.coord.returncode}")
        self.check_executors_die(execs, "at the end (imlane stop)")

    def check_leaks(self, shm_before, shm_used):
        time.sleep(0.5)
        for pid, (what, start) in sorted(self.pids_seen.items()):
            if proc_alive(pid) and proc_start_time(pid) == start:
                self.leaks.append(f"{what} pid {pid} still running: {proc_cmdline(pid)}")
        for pid, cmd in sorted(run_processes(self.run_id, self.socket).items()):
            if pid not in self.pids_seen:
                self.leaks.append(f"process {pid} of this run still running: {cmd}")
        for pid in list(run_processes(self.run_id, self.socket)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        new = shm_entries() - shm_before
        for e in sorted(new):
            if "imlane" in e.lower() or "lane" in e.lower() or e in shm_used:
                self.leaks.append(f"/dev/shm/{e} left by this run")
            else:
                self.observations.append(f"/dev/shm/{e} appeared during the run (not named like IMLane and not "
                                         "opened by its processes: not counted)")
        for e in sorted(shm_used):
            self.observations.append(f"a process of this run had /dev/shm/{e} open or mapped")
        for c in self.all_clients:
            if c.end is None:
                continue
            e = c.end
            if e["fds_end"] - e["fds_start"] > self.args.fd_slack:
                self.leaks.append(f"client {c.cid}: {e['fds_end']} fds at the end vs {e['fds_start']} after warm-up "
                                  f"(more than {self.args.fd_slack} more)")
            if e["fds_after_close"] - e["fds_before_connect"] > self.args.fd_slack:
                self.leaks.append(f"client {c.cid}: {e['fds_after_close']} fds after closing its database vs "
                                  f"{e['fds_before_connect']} before connecting (more than {self.args.fd_slack} more)")
            if e["lanes_mapped_after_close"] > 0:
                self.leaks.append(f"client {c.cid}: {e['lanes_mapped_after_close']} Lane mappings left after closing "
                                  "its database")

    # ---- summary ------------------------------------------------------------------------------
    def report(self):
        a = self.args
        q = collections.Counter()
        per_client = {}
        for c in self.all_clients:
            per_client[c.cid] = dict(c.stats)
            q.update(c.stats)
        by_cause = collections.Counter((f["class"], f["cause"]) for f in self.failures)
        unclear = [f for f in self.failures if f["class"] == "unclear"]
        unclear_msgs = collections.Counter(f"{f['exc']}: {f['msg'][:400]}" for f in unclear)
        clear_msgs = collections.Counter(f"[{f['cause']}] {f['exc']}: {f['msg'][:200]}" for f in self.failures
                                         if f["class"] == "clear")
        wrong = [w for c in self.all_clients for w in c.wrong]
        # Recovery: after every fault, a query that began after it succeeded (after a coordinator
        # kill: one in every client, begun after the restart).
        recovery = {}
        unrecovered_kills = []  # (time, what): coordinator kills and deaths that some client never recovered from
        for f in [f for f in self.faults if f["kind"] == "kill_coordinator"] + self.deaths:
            since = f.get("restarted_at", f["t"])
            if not all(any(t >= since for t in c.ok_begin_times) for c in f["clients"]):
                unrecovered_kills.append((f["t"], "coordinator kill" if "kind" in f else "coordinator death"))
        for kind in FAULT_KINDS:
            fs = [f for f in self.faults if f["kind"] == kind]
            ok = 0
            unrecovered = []
            for f in fs:
                since = f.get("restarted_at", f["t"])
                if kind == "kill_coordinator":
                    good = all(any(t >= since for t in c.ok_begin_times) for c in f["clients"])
                else:
                    good = any(any(t >= since for t in c.ok_begin_times) for c in self.all_clients)
                if good:
                    ok += 1
                else:
                    at = f"{f['t'] - self.t0:.1f}"
                    masked = [(k, what) for k, what in sorted(unrecovered_kills) if k < f["t"] and not any(
                        c.generation > 0 and k < c.ready_at < f["t"] for c in self.all_clients)]
                    if masked and masked[-1][0] != f["t"]:
                        at += f" (after the unrecovered {masked[-1][1]} at {masked[-1][0] - self.t0:.1f})"
                    unrecovered.append(at)
            recovery[kind] = {"faults": len(fs), "recovered": ok, "unrecovered_at_s": unrecovered[:20]}
        crashes = [c for c in self.all_clients if c.crashed]
        hangs = [c for c in self.all_clients if c.hung]
        checks = collections.OrderedDict()
        checks["queries succeeded"] = q["ok"] > 0
        checks["no wrong result"] = not wrong
        checks["no unclear failure"] = not unclear
        checks["no client crash"] = not crashes
        checks["no client hang"] = not hangs
        checks["no leak"] = not self.leaks
        checks["every client recovered by itself (none replaced)"] = not self.replacements
        checks["no run-level problem (coordinator deaths, status hangs)"] = not self.problems
        for kind in self.kinds:
            r = recovery[kind]
            checks[f"queries succeed after every {kind} ({r['recovered']}/{r['faults']})"] = \
                r["faults"] > 0 and r["recovered"] == r["faults"]
        passed = all(checks.values())
        summary = {
            "result": "PASS" if passed else "FAIL",
            "seed": self.seed,
            "duration_s": round(self.chaos_end - self.chaos_start, 1),
            "clients": a.clients, "executors": a.executors, "run_dir": self.tmp,
            "queries": {"ok": q["ok"], "failed_clear": q["fail_clear"], "failed_unclear": q["fail_unclear"],
                        "wrong_results": q["wrong"]},
            "per_client": per_client,
            "faults": {k: self.counts[k] for k in FAULT_KINDS},
            "kill_executor_skipped": self.counts["kill_executor_skipped"],
            "coordinator_unexpected_deaths": self.counts["coordinator_unexpected_deaths"],
            "malformed_frames": dict(self.malformed_counts),
            "malformed_frames_total": sum(self.malformed_counts.values()),
            "reregistrations": {"total": self.counts["reregister"], "cli_ok": self.counts["reregister_ok"],
                                "client_ok": q["rereg_ok"], "client_failed": q["rereg_fail"]},
            "failures_by_cause": {f"{k[0]}: {k[1]}": v for k, v in sorted(by_cause.items())},
            "unclear_failures": [{"count": n, "message": m} for m, n in unclear_msgs.most_common(15)],
            "clear_failures": [{"count": n, "message": m} for m, n in clear_msgs.most_common(10)],
            "wrong_results": wrong[:10],
            "crashes": [c.crash_text for c in crashes],
            "hangs": [c.hang_text for c in hangs],
            "recovery": recovery,
            "leaks": self.leaks,
            "problems": self.problems,
            "observations": self.observations[:30],
            "client_fds": {c.cid: c.end for c in self.all_clients},
            "client_replacements": self.replacements,
            "checks": dict(checks),
        }
        if a.json:
            with open(a.json, "w") as f:
                json.dump(summary, f, indent=2)
        self.print_summary(summary)
        if passed and not a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 0 if passed else 1

    def print_summary(self, s):
        p = print
        p("")
        p("=" * 100)
        p(f"IMLane chaos run: {s['result']}   seed {s['seed']}   {s['duration_s']} s   {s['clients']} clients   "
          f"{s['executors']} executors")
        qq = s["queries"]
        p(f"queries: {qq['ok']} ok, {qq['failed_clear']} failed-clear, {qq['failed_unclear']} failed-unclear, "
          f"{qq['wrong_results']} wrong results")
        for cid, st in s["per_client"].items():
            p(f"  client {cid}: " + ", ".join(f"{k} {v}" for k, v in sorted(st.items())))
        f = s["faults"]
        p(f"faults: {f['kill_executor']} executor kills ({s['kill_executor_skipped']} skipped: no live executor), "
          f"{f['kill_coordinator']} coordinator kills, {s['malformed_frames_total']} malformed frames in "
          f"{f['malformed']} injections, {f['reregister']} re-registrations")
        p("  malformed frames: " + ", ".join(f"{k} {v}" for k, v in sorted(s["malformed_frames"].items())))
        r = s["reregistrations"]
        p(f"  re-registrations: cli ok {r['cli_ok']}, by clients ok {r['client_ok']} / failed {r['client_failed']}")
        if s["coordinator_unexpected_deaths"]:
            p(f"  coordinator died unexpectedly {s['coordinator_unexpected_deaths']} times (restarted by the driver)")
        p("recovery (a query begun after the fault succeeded; after a coordinator kill: in every client):")
        for k, v in s["recovery"].items():
            extra = ("   unrecovered faults at (s, as in the log): " + ", ".join(v["unrecovered_at_s"])
                     if v["unrecovered_at_s"] else "")
            p(f"  {k:17s} {v['recovered']}/{v['faults']}{extra}")
        if s["failures_by_cause"]:
            p("failures by cause: " + ", ".join(f"{k} {v}" for k, v in s["failures_by_cause"].items()))
        if s["clear_failures"]:
            p("most frequent clear failures:")
            for u in s["clear_failures"][:6]:
                p(f"  {u['count']:5d} x {u['message']}")
        if s["unclear_failures"]:
            p("unclear failures:")
            for u in s["unclear_failures"][:10]:
                p(f"  {u['count']:5d} x {u['message']}")
        for w in s["wrong_results"]:
            p(f"WRONG RESULT: client {w['client']} {w['what']}: {w['msg']}")
        for c in s["crashes"]:
            p(f"CLIENT CRASH: {c}")
        for h in s["hangs"]:
            p(f"CLIENT HANG: {h}")
        p("leaks: " + ("none" if not s["leaks"] else ""))
        for l in s["leaks"]:
            p(f"  LEAK: {l}")
        for rp in s["client_replacements"]:
            p(f"REPLACED: {rp}")
        for pr in s["problems"]:
            p(f"PROBLEM: {pr}")
        for o in s["observations"][:10]:
            p(f"note: {o}")
        p("client fds (before connect / after warm-up / end / after close): " + "; ".join(
            f"{cid}: {e['fds_before_connect']}/{e['fds_start']}/{e['fds_end']}/{e['fds_after_close']}"
            if e else f"{cid}: -" for cid, e in s["client_fds"].items()))
        p("checks:")
        for k, v in s["checks"].items():
            p(f"  [{'ok' if v else 'FAIL'}] {k}")
        p(f"run dir: {s['run_dir']}" + ("" if s["result"] == "FAIL" or self.args.keep else " (removed)"))
        p("=" * 100)


class Client:
    """One supervised client process and what it reported."""

    def __init__(self, run, slot, generation, env):
        self.run, self.slot, self.generation, self.env = run, slot, generation, env
        self.cid = str(slot) if generation == 0 else f"{slot}.{generation}"
        self.proc = None
        self.stopping = False
        self.ready_at = 0.0
        self.fails_since_ok = 0
        self.last_error = ""
        self.last_event = time.monotonic()
        self.stats = collections.Counter()
        self.wrong = []
        self.ok_begin_times = []
        self.current = None        # (begin event, monotonic time) of the statement running now
        self.ready = False
        self.ended = False
        self.end = None
        self.dead = False
        self.crashed = False
        self.hung = False
        self.crash_text = None
        self.hang_text = None
        self.reader = None

    def start(self):
        r = self.run
        rfd, wfd = os.pipe()
        cmd = [r.python, os.path.abspath(__file__), "client", "--client-id", str(self.slot * 100 + self.generation),
               "--socket", r.socket, "--extension", r.extension, "--seed", str(r.seed),
               "--rows", str(r.args.rows + 1000 * self.slot),
               "--timeout-ms", str(r.args.timeout_ms), "--lane-bytes", str(r.args.lane_bytes),
               "--udf-dir", os.path.join(r.tmp, "udfs"), "--event-fd", str(wfd),
               "--setup-timeout", str(r.args.setup_timeout)]
        self.log = open(os.path.join(r.tmp, f"client-{self.cid}.log"), "wb")
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
                                     pass_fds=(wfd,), cwd=r.tmp)
        os.close(wfd)
        r.note_pid(self.proc.pid, f"client {self.cid}")
        self.events = os.fdopen(rfd, "r")
        self.reader = threading.Thread(target=self.read_events, daemon=True)
        self.reader.start()

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def read_events(self):
        for line in self.events:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.handle(ev)

    def handle(self, ev):
        self.last_event = time.monotonic()
        e = ev["ev"]
        r = self.run
        if e == "begin":
            self.current = (ev, time.monotonic())
        elif e in ("ok", "fail"):
            begin = self.current[0] if self.current else ev
            self.current = None
            kind = ev["kind"]
            if e == "ok":
                if kind == "query":
                    self.stats["ok"] += 1
                    self.ok_begin_times.append(begin["t"])
                    self.fails_since_ok = 0
                elif kind == "reregister":
                    self.stats["rereg_ok"] += 1
                else:
                    self.stats["setup_ok"] += 1
                return
            if ev["exc"] == "WrongResult":
                self.stats["wrong"] += 1
                self.wrong.append({"client": self.cid, "what": ev["what"], "msg": ev["msg"]})
                r.log(f"client {self.cid} WRONG RESULT {ev['what']}: {ev['msg'][:300]}")
                return
            cls, cause = classify(f"{ev['exc']}: {ev['msg']}")
            ev["client"] = self.cid
            r.record_failure(ev, cls, cause)
            self.fails_since_ok += 1
            self.last_error = f"{ev['exc']}: {ev['msg']}"
            if kind == "query":
                self.stats["fail_clear" if cls == "clear" else "fail_unclear"] += 1
            elif kind == "reregister":
                self.stats["rereg_fail"] += 1
                if cls == "unclear":
                    self.stats["fail_unclear"] += 1
            else:
                self.stats["setup_fail"] += 1
                if cls == "unclear":
                    self.stats["fail_unclear"] += 1
            if cls == "unclear" or r.args.verbose > 1:
                r.log(f"client {self.cid} {kind} {ev['what']} failed ({cls}: {cause}): {ev['exc']}: {ev['msg'][:300]}")
        elif e == "ready":
            self.ready = True
            self.ready_at = time.time()
            r.note_pid(ev["pid"], f"client {self.cid}")
            if not ev.get("setup_complete") and not ev.get("stopped"):
                r.problems.append(f"client {self.cid} could not register its functions and warm up within "
                                  f"{r.args.setup_timeout:.0f} s")
        elif e == "end":
            self.end = ev
            self.ended = True

    def check(self):
        if self.dead or self.proc is None:
            return
        rc = self.proc.poll()
        if rc is not None:
            self.reader.join(timeout=5)
            self.dead = True
            if not self.ended or rc != 0:
                self.crashed = True
                tail = ""
                try:
                    with open(self.log.name, errors="replace") as f:
                        tail = f.read()[-1500:]
                except OSError:
                    pass
                how = f"exit status {rc}" if rc >= 0 else f"killed by signal {-rc}"
                self.crash_text = f"client {self.cid} (pid {self.proc.pid}) died ({how}) " + \
                    (f"while running {self.current[0]['kind']} {self.current[0]['what']}" if self.current else "") + \
                    f"; log tail: {tail.strip()[-1000:]}"
                self.run.log(self.crash_text)
            return
        limit = self.run.args.hang_timeout
        if self.current is not None:
            ev, since = self.current
            if time.monotonic() - since > limit:
                self.hang(f"{ev['kind']} {ev['what']} ran for more than {limit:.0f} s")
        elif not self.ended and time.monotonic() - self.last_event > limit:
            self.hang(f"reported nothing for more than {limit:.0f} s (between statements)")

    def hang(self, what):
        if self.hung or self.dead:
            return
        self.hung = True
        stacks = ""
        try:  # where its threads are, for the report
            for tid in sorted(os.listdir(f"/proc/{self.proc.pid}/task"))[:8]:
                with open(f"/proc/{self.proc.pid}/task/{tid}/wchan") as f:
                    stacks += f"{tid}:{f.read().strip()} "
        except OSError:
            pass
        self.hang_text = f"client {self.cid} (pid {self.proc.pid}): {what} (thread wait channels: {stacks.strip()})"
        self.run.log(f"HANG {self.hang_text}")
        self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=5)
        self.dead = True

    def wait(self):
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.hang("did not exit after stopping")
        self.check()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode")
    ap.add_argument("--duration", type=float, default=float(os.environ.get("CHAOS_SECONDS", 600)),
                    help="seconds of chaos (default 600, or $CHAOS_SECONDS)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the fault sequence (default: random, printed)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--executors", type=int, default=2)
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    ap.add_argument("--python", default=None, help="Python of the clients (default: the project .venv)")
    ap.add_argument("--no-python-env", dest="python_env", action="store_false",
                    help="do not pass the clients' venv to the coordinator as --python-env")
    ap.add_argument("--rows", type=int, default=20000, help="rows of client 0's table (client i: +1000 i)")
    ap.add_argument("--lane-bytes", type=int, default=4 << 20, help="Lane size (coordinator and clients)")
    ap.add_argument("--max-lanes", type=int, default=512, help="the coordinator's --max-lanes")
    ap.add_argument("--timeout-ms", type=int, default=30000, help="the clients' imlane_timeout_ms")
    ap.add_argument("--faults", default=",".join(FAULT_KINDS),
                    help="comma-separated fault kinds to inject (default: all; the run then checks only these)")
    ap.add_argument("--fault-interval", type=float, default=4.0, help="mean seconds between faults")
    ap.add_argument("--coordinator-kill-gap", type=float, default=60.0,
                    help="at least this many seconds between coordinator kills")
    ap.add_argument("--quiet", type=float, default=30.0, help="no faults in the last QUIET s (at most 30%% of the run)")
    ap.add_argument("--hang-timeout", type=float, default=150.0,
                    help="a statement (or a client stop) longer than this is a hang")
    ap.add_argument("--setup-timeout", type=float, default=120.0)
    ap.add_argument("--recovery-timeout", type=float, default=45.0,
                    help="a client with no successful query for this long is replaced (and the run fails)")
    ap.add_argument("--fd-slack", type=int, default=4, help="fds a client may gain without counting as a leak")
    ap.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the run directory (logs) even when the run passes")
    ap.add_argument("-v", "--verbose", action="count", default=1)
    ap.add_argument("-q", "--quiet-log", dest="verbose", action="store_const", const=0)
    c = sub.add_parser("client", help=argparse.SUPPRESS)
    c.add_argument("--client-id", type=int, required=True)
    c.add_argument("--socket", required=True)
    c.add_argument("--extension", required=True)
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--rows", type=int, required=True)
    c.add_argument("--timeout-ms", type=int, required=True)
    c.add_argument("--lane-bytes", type=int, required=True)
    c.add_argument("--udf-dir", required=True)
    c.add_argument("--event-fd", type=int, required=True)
    c.add_argument("--setup-timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    if args.mode == "client":
        return client_main(args)
    run = Run(args)
    try:
        return run.main()
    except KeyboardInterrupt:
        print("chaos: interrupted", file=sys.stderr)
        return 130
    finally:
        # Never leave anything of this run behind, whatever happened above.
        for cl in run.all_clients:
            if cl.proc is not None and cl.proc.poll() is None:
                cl.proc.kill()
        if run.coord is not None and run.coord.poll() is None:
            run.coord.kill()
            run.coord.wait()
        for pid in run_processes(run.run_id, run.socket):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
