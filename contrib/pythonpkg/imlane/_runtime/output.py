"""Per-function output: what a function prints goes to the executor's log, a line each with the
function's name, and its last lines join the error when its load or batch fails, instead of going
to the engine's terminal (or nowhere: an executor's stdout is /dev/null).

Only in an executor (set_output_log installs the log); imlane.run_local leaves sys.stdout and
sys.stderr alone, so local prints show as usual. Python-level writes are captured (print, sys.stdout,
sys.stderr, warnings, logging to a stream handler made during the call); a C library writing to file
descriptor 1 or 2 is not.
"""
import collections
import io
import sys

KEEP_LINES = 20  # of a load or batch, for its error

_log = None  # the executor's log: a callable taking one line
_outputs = {}  # function name -> Output


def set_output_log(log):
    global _log
    _log = log


class _Lines(io.TextIOBase):
    """A text stream that logs each complete line and keeps the last ones."""

    def __init__(self, name, stream, tail):
        self._name, self._stream, self._tail, self._partial = name, stream, tail, ""

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        *lines, self._partial = (self._partial + s).split("\n")
        for line in lines:
            self._emit(line)
        return len(s)

    def finish(self):
        """A last line without its newline (the call ended) is still a line."""
        if self._partial:
            self._emit(self._partial)
            self._partial = ""

    def _emit(self, line):
        self._tail.append(f"{self._stream}: {line}")
        _log(f"function '{self._name}' {self._stream}: {line}")


class Output:
    """sys.stdout and sys.stderr of one function while its code runs (a context manager)."""

    def __init__(self, name):
        self.tail = collections.deque(maxlen=KEEP_LINES)
        self.stdout = _Lines(name, "stdout", self.tail)
        self.stderr = _Lines(name, "stderr", self.tail)
        self._saved = None
        _outputs[name] = self

    def __enter__(self):
        if _log is None:
            return self
        self.tail.clear()  # an error shows the output of its own load or batch
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = self.stdout, self.stderr
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            self.stdout.finish()
            self.stderr.finish()
            sys.stdout, sys.stderr = self._saved
            self._saved = None
        return False


def last_lines(name):
    """The last lines function `name` printed in its latest load or batch (for its error)."""
    out = _outputs.get(name)
    return list(out.tail) if out is not None else []
