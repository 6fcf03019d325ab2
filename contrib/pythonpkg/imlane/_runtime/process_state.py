"""Per-function process state: working directory, environment, sys.path and signal handlers.

The functions loaded into one executor share its process. Each LoadedFunction keeps its own copy of
these four: its copy is switched in around its load and each of its batches, and the caller's state
is put back afterwards. So a function's os.chdir, os.environ change, sys.path edit or signal.signal
persists for that function's own later batches but never reaches another function. Everything else
of the process stays shared (sys.modules and module globals, threads, open files, umask, rlimits,
C-level state such as handlers installed outside Python's signal module); docs/architecture.md says so.
"""
import os
import signal
import sys

# Signals whose handler anybody set through signal.signal (wrapped below): only those can differ
# between functions, so a batch does not query all 60-odd handlers twice.
_touched = set()
_initial = {}  # each touched signal's handler before anybody touched it
_original_signal = signal.signal


def _tracking_signal(signum, handler):
    signum = int(signum)
    if signum not in _touched:
        _initial[signum] = signal.getsignal(signum)
        _touched.add(signum)
    return _original_signal(signum, handler)


_tracking_signal.__doc__ = _original_signal.__doc__
_tracking_signal.__wrapped__ = _original_signal
signal.signal = _tracking_signal


def _handlers():
    out = {}
    for signum in _touched:
        try:
            out[signum] = signal.getsignal(signum)
        except (ValueError, OSError):
            pass
    return out


class ProcessState:
    __slots__ = ("cwd", "environ", "path", "handlers")

    @classmethod
    def capture(cls):
        state = cls.__new__(cls)
        try:
            state.cwd = os.getcwd()
        except OSError:  # the directory was removed under us: nothing to go back to
            state.cwd = None
        state.environ = os.environ._data.copy()  # encoded keys and values: a plain dict copy
        state.path = list(sys.path)
        state.handlers = _handlers()
        return state

    def apply(self):
        """Makes this the process's state; only what differs is touched."""
        if self.cwd is not None:
            try:
                if os.getcwd() != self.cwd:
                    os.chdir(self.cwd)
            except OSError:
                try:
                    os.chdir(self.cwd)
                except OSError:
                    pass  # removed meanwhile: stay where we are rather than fail the batch
        data = os.environ._data
        if data != self.environ:
            # Through os.environ, so that putenv/unsetenv keep the C environment (and children) in step.
            decode = os.fsdecode
            for key in [k for k in data if k not in self.environ]:
                del os.environ[decode(key)]
            for key, value in self.environ.items():
                if data.get(key) != value:
                    os.environ[decode(key)] = decode(value)
        if sys.path != self.path:
            sys.path[:] = self.path  # the same list object: others may hold it
        for signum in _touched:
            handler = self.handlers.get(signum, _initial.get(signum))
            if handler is None:
                continue  # installed outside Python: cannot be restored from here
            try:
                if signal.getsignal(signum) is not handler:
                    _original_signal(signum, handler)
            except (ValueError, OSError):  # not the main thread (run_local from a thread)
                break


class Switched:
    """`with Switched(function):` runs a block in the function's process state and keeps what the block
    left as the function's state; the caller's state is restored on the way out."""
    __slots__ = ("owner", "outer")

    def __init__(self, owner):
        self.owner = owner

    def __enter__(self):
        self.outer = ProcessState.capture()
        own = getattr(self.owner, "process_state", None)
        if own is not None:
            own.apply()
        return self

    def __exit__(self, *exc):
        self.owner.process_state = ProcessState.capture()
        self.outer.apply()
        return False
