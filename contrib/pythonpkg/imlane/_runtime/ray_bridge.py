"""The Ray backend: a function served by a pool of Ray actors instead of this executor's interpreter.

An executor started with --ray-address is a *bridge*: it serves its Lanes like any executor, but a
function whose definition says backend 'ray' is loaded as `replicas` actors of the Ray cluster, and
each batch goes to one of them. The engine's side does not change: DBEnd writes the batch into a
Lane, the bridge reads the columns from it (zero-copy views), puts them into Ray's object store once
(`ray.put`, the only copy, which is the transfer), and writes the actor's result back into the Lane.

    connect(address, runtime_dir, ring)   once per bridge, at its first Ray function
    RayFunction.submit(columns, n, valid) -> token; never blocks on the actor
    RayFunction.take_finished()           tokens whose batch is done (or failed for good)
    RayFunction.result(token)             the result columns, as the local runtime returns them

The pieces that keep actors busy and lose nothing:

- Several batches are in flight per actor (the bridge gets two Lanes per replica): while an actor
  computes one batch the next is already in its queue, so an actor never waits a network round trip.
  A batch goes to the ready actor with the fewest batches in flight.
- The one-off context (pyinitial / __init__) runs once per actor, in the actor's constructor; actors
  live as long as the function is loaded in the bridge, across queries and clients.
- Prediction functions are pure, so a batch whose actor or node died is sent again to another live
  actor (up to `retries` times; 0 turns this off), and the dead actor is replaced. What the batch
  returns the second time is what it would have returned the first.
- A completion callback rings the executor's bell (`ring`): the serving loop sleeps on its bell as
  usual and is woken both by new requests and by finished remote batches.
"""
import itertools
import os
import socket
import threading
import time

from .loading import FunctionLoadError, LoadedFunction, ReportedError, format_exception

_STATE = {"address": None, "runtime_dir": None, "ring": None, "connected": False, "error": None}
_CONNECT_LOCK = threading.Lock()
READY_TIMEOUT_S = 90.0  # the actors' one-off contexts; within the coordinator's load timeout (120 s)


class ClusterUnreachable(FunctionLoadError):
    """The cluster cannot be joined: the executor reports Unavailable, and the coordinator serves
    the function from local executors instead (a query must not depend on a cluster that is gone)."""


def configure(address, runtime_dir, ring):
    """Called by the executor at start: where the cluster is, and how to wake the serving loop."""
    _STATE.update(address=address, runtime_dir=runtime_dir, ring=ring)


def _check_reachable(address):
    """A dead address makes ray.init retry for minutes; a TCP connect says so in two seconds."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2.0):
            pass
    except ValueError:
        raise FunctionLoadError(f"the Ray address '{address}' is not HOST:PORT, 'auto' or ray://HOST:PORT") from None
    except OSError as e:
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address}: {e.strerror or e} "
                                "(imlane serve --ray-address / $IMLANE_RAY_ADDRESS)") from None


def connect():
    """Joins the cluster once per bridge process; FunctionLoadError names the address if it cannot."""
    address = _STATE["address"]
    if not address:
        raise FunctionLoadError("this executor is not a Ray bridge (imlane serve --ray-address ADDR)")
    with _CONNECT_LOCK:
        host = address.rpartition(":")[0]
        local = {}
        if host in ("127.0.0.1", "localhost"):
            # Several raylets on one machine (a test or benchmark cluster) share the session's cached
            # node address; the driver must join the head's raylet, never a node that may be removed.
            local["_node_ip_address"] = "127.0.0.1"
            # Ray turns a loopback address into the machine's own IP, where a cluster started on
            # loopback does not listen; this switch (read when ray is imported) keeps it loopback.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # A cluster that goes away ends this process after this long (Ray's default is 60 s): the
        # coordinator then fails its running batches and restarts the bridge.
        os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", "10")
        import ray
        if _STATE["connected"] and ray.is_initialized():
            return ray
        if _STATE["connected"]:  # joined once, and the cluster went: this process cannot join again
            raise ClusterUnreachable(f"the Ray cluster at {address} went away")
        _check_reachable(address)
        package = os.path.join(_STATE["runtime_dir"], "imlane")
        try:
            # The imlane package travels with the job, so every node's workers can run its runtime.
            ray.init(address=address, namespace="imlane", logging_level="WARNING", log_to_driver=False,
                     runtime_env={"py_modules": [package]}, ignore_reinit_error=True, **local)
        except Exception as e:  # ConnectionError, RuntimeError, ...: all mean the same to the user
            raise ClusterUnreachable(f"cannot join the Ray cluster at {address}: {type(e).__name__}: {e}") from None
        _STATE["connected"] = True
        return ray


class _Actor:
    """The actor's body: one LoadedFunction, built once, called per batch."""

    def __init__(self, spec):
        self.name = spec["name"]
        self.pid = os.getpid()
        try:
            self.fn = LoadedFunction(spec["name"], spec["source"], spec["filename"], spec["entry"], spec["arg_types"],
                                     spec["return_types"], spec["null_handling"], spec["exception_handling"],
                                     spec["context_cache"])
            self.load_error = None
        except BaseException as e:  # reported by ready(), formatted as the local runtime would
            self.fn = None
            self.load_error = format_exception(spec["name"], e)

    def ready(self):
        import ray
        ctx = ray.get_runtime_context()
        return {"error": self.load_error, "pid": self.pid, "node": ctx.get_node_id(),
                "node_ip": ray.util.get_node_ip_address()}

    def call(self, packed):
        columns, n_rows, valid = packed
        start = time.perf_counter_ns()
        try:
            parts = self.fn(columns, n_rows, valid)
        except BaseException as e:
            return ("error", format_exception(self.name, e), 0)
        return ("ok", parts, time.perf_counter_ns() - start)


_RETRYABLE = None


def _retryable():
    """The Ray errors that mean the actor or its node went away, not that the function failed."""
    global _RETRYABLE
    if _RETRYABLE is None:
        import ray.exceptions as rx
        names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "ObjectLostError", "OwnerDiedError",
                 "WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectFetchTimedOutError")
        _RETRYABLE = tuple(getattr(rx, n) for n in names if hasattr(rx, n))
    return _RETRYABLE


class _Replica:
    _ids = itertools.count(1)

    def __init__(self, handle):
        self.id = next(self._ids)
        self.handle = handle
        self.ready_ref = handle.ready.remote()
        self.info = None  # set once ready() answered
        self.state = "starting"
        self.in_flight = 0
        self.batches = 0
        self.rows = 0
        self.busy_ns = 0


class _Batch:
    __slots__ = ("args", "rows", "replica", "ref", "attempts", "outcome", "tried")

    def __init__(self, args, rows):
        self.args, self.rows = args, rows
        self.replica, self.ref, self.attempts, self.outcome, self.tried = None, None, 0, None, []


class RayFunction:
    """One function on `replicas` actors. Only the executor's serving thread calls it (callbacks only ring)."""

    def __init__(self, spec, replicas, retries):
        self.ray = connect()
        self.spec = spec
        self.name = spec["name"]
        self.retries = retries
        self.retried = 0
        ray = self.ray
        if replicas <= 0:
            replicas = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.replicas = replicas
        # One CPU per actor: the scheduler places each on a node with a free core, spread over nodes.
        self.actor_class = ray.remote(num_cpus=1, max_restarts=0)(_Actor)
        self.pool = [self._start_replica() for _ in range(replicas)]
        self.graveyard = []  # replaced actors, kept for stats
        self.batches = {}
        self.tokens = itertools.count(1)
        self.waiting = []  # batches to send again once an actor is ready
        self.done_lock = threading.Lock()
        self.finished = []  # filled by callbacks (any thread), drained by take_finished
        self._wait_ready(self.pool, READY_TIMEOUT_S)

    def _start_replica(self):
        replica = _Replica(self.actor_class.options(scheduling_strategy="SPREAD").remote(self.spec))
        ring = _STATE["ring"]
        if ring is not None:  # a replacement that becomes ready takes the batches waiting for it
            replica.ready_ref.future().add_done_callback(lambda _future: ring())
        return replica

    def _wait_ready(self, replicas, timeout):
        ray = self.ray
        refs = [r.ready_ref for r in replicas]
        ready, pending = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if pending:
            free = ray.available_resources().get("CPU", 0)
            self.close()
            raise FunctionLoadError(
                f"imlane function '{self.name}': only {len(ready)} of {len(refs)} Ray actors started within "
                f"{timeout:.0f} s (each takes one CPU; the cluster has {free:g} CPUs free): lower replicas "
                "or add nodes")
        for r in replicas:
            self._take_ready(r)
            if r.info.get("error"):
                error = r.info["error"]
                self.close()
                raise ReportedError(error)

    def _take_ready(self, r):
        try:
            r.info = self.ray.get(r.ready_ref, timeout=0)
            r.state = "ready"
        except _retryable() as e:
            r.info = {"error": None, "died": str(e)}
            r.state = "dead"

    def _pick(self, exclude):
        live = [r for r in self.pool if r.state == "ready" and r not in exclude]
        if not live:
            live = [r for r in self.pool if r.state == "ready"]
        return min(live, key=lambda r: r.in_flight) if live else None

    def _send(self, token, batch):
        replica = self._pick(batch.tried)
        if replica is None:
            self.waiting.append(token)
            return
        batch.replica = replica
        batch.tried.append(replica)
        batch.attempts += 1
        replica.in_flight += 1
        batch.ref = replica.handle.call.remote(batch.args)
        ring = _STATE["ring"]

        def finished(_future, token=token, ref=batch.ref):
            with self.done_lock:
                self.finished.append((token, ref))
            if ring is not None:
                ring()

        batch.ref.future().add_done_callback(finished)

    def submit(self, columns, n_rows, valid):
        # The one copy: out of the Lane into the object store, before the Lane is touched again.
        batch = _Batch(self.ray.put((columns, n_rows, valid)), n_rows)
        token = next(self.tokens)
        self.batches[token] = batch
        self._send(token, batch)
        return token

    def _replace(self, dead, why):
        if dead.state == "dead" and dead not in self.pool:
            return
        dead.state = "dead"
        dead.info = dict(dead.info or {}, died=why)
        fresh = self._start_replica()
        self.pool[self.pool.index(dead)] = fresh
        self.graveyard.append(dead)

    def _poll_starting(self):
        starting = [r for r in self.pool if r.state == "starting"]
        if not starting:
            return
        ready, _ = self.ray.wait([r.ready_ref for r in starting], num_returns=len(starting), timeout=0)
        ready = set(ready)
        for r in starting:
            if r.ready_ref in ready:
                self._take_ready(r)
                if r.state == "dead":
                    self._replace(r, r.info.get("died", "died while starting"))
                elif r.info.get("error"):  # its one-off context failed there: not used, not replaced again
                    r.state = "dead"
                    r.info["died"] = r.info["error"]

    def take_finished(self):
        """Tokens whose outcome is known; batches whose actor died are sent again instead."""
        with self.done_lock:
            finished, self.finished = self.finished, []
        out = []
        for token, ref in finished:
            batch = self.batches.get(token)
            if batch is None or batch.ref is not ref:
                continue  # a reply of an earlier attempt
            replica = batch.replica
            replica.in_flight -= 1
            try:
                status, value, busy_ns = self.ray.get(ref, timeout=0)
            except _retryable() as e:
                self._replace(replica, f"{type(e).__name__}: {e}")
                if batch.attempts <= self.retries:
                    self.retried += 1
                    self._send(token, batch)
                    continue
                how = "retry is off" if self.retries == 0 else f"tried {batch.attempts} times"
                batch.outcome = ReportedError(
                    f"imlane function '{self.name}': the Ray actor running this batch died ({how}): "
                    f"{type(e).__name__}: {e}")
            except Exception as e:
                batch.outcome = ReportedError(f"imlane function '{self.name}': Ray failed this batch: "
                                              f"{type(e).__name__}: {e}")
            else:
                if status == "ok":
                    replica.batches += 1
                    replica.rows += batch.rows
                    replica.busy_ns += busy_ns
                    batch.outcome = value
                else:
                    batch.outcome = ReportedError(value)
            batch.args = None  # the object store may free the columns
            out.append(token)
        self._poll_starting()
        if self.waiting:
            waiting, self.waiting = self.waiting, []
            for token in waiting:
                self._send(token, self.batches[token])
            if self.waiting and not any(r.state == "starting" for r in self.pool):
                for token in self.waiting:
                    self.batches[token].outcome = ReportedError(
                        f"imlane function '{self.name}': no Ray actor is left to run this batch")
                    out.append(token)
                self.waiting = []
        return out

    def pending(self):
        """Batches waiting for a replacement actor: the serving loop polls while there are any."""
        return bool(self.waiting) or any(r.state == "starting" for r in self.pool)

    def result(self, token):
        batch = self.batches.pop(token)
        if isinstance(batch.outcome, BaseException):
            raise batch.outcome
        return batch.outcome

    def stats(self):
        replicas = []
        for r in self.pool + self.graveyard:
            info = r.info or {}
            replicas.append({"actor": r.id, "state": r.state, "node": info.get("node", ""),
                             "node_ip": info.get("node_ip", ""), "pid": info.get("pid", 0), "batches": r.batches,
                             "rows": r.rows, "busy_ns": r.busy_ns, "in_flight": r.in_flight,
                             "died": info.get("died", "")})
        return {"replicas": self.replicas, "retries": self.retries, "retried": self.retried, "actors": replicas,
                "nodes": len({a["node"] for a in replicas if a["node"] and a["state"] != "dead"})}

    def close(self):
        for r in self.pool:
            try:
                self.ray.kill(r.handle)
            except Exception:
                pass  # already gone with its node
        self.pool = []


def load(name, source, filename, entry, arg_types, return_types, null_handling, exception_handling, context_cache,
         replicas, retries):
    spec = {"name": name, "source": source, "filename": filename, "entry": entry, "arg_types": list(arg_types),
            "return_types": list(return_types), "null_handling": null_handling,
            "exception_handling": exception_handling, "context_cache": context_cache}
    return RayFunction(spec, replicas, retries)


def bridge_stats():
    return {"address": _STATE["address"] or "", "connected": bool(_STATE["connected"])}
