"""Loading: compiles a function file into its own namespace, finds its entry point and builds its
one-off context (pyinitial() or the class's __init__) once.

Accepted styles: IMBridge's staged pyinitial()/pyfun(*cols), an @imlane.function (or
`__imlane_function__`-marked) function or class, a callable with the function's name, or the one
class of the file that has __call__; an explicit entry name overrides the search.
"""
import sys
import traceback
import types

from .calling import call_batch, check_options
from .context_cache import CACHE
from .output import Output, last_lines
from .process_state import Switched
from .results import ResultError


class FunctionLoadError(Exception):
    pass


def _own_callable_classes(module):
    """Classes defined by the function's own source (not imported) that have __call__."""
    return [v for v in module.__dict__.values()
            if isinstance(v, type) and v.__module__ == module.__name__ and v.__call__ is not object.__call__
            and "__call__" in vars(v)]


def _resolve_entry(module, name, entry):
    ns = module.__dict__
    if entry == "pyfun":
        entry = ""  # the staged style named explicitly: pyinitial() still runs
    if entry:
        if entry not in ns:
            raise FunctionLoadError(f"entry '{entry}' is not defined in the source")
        obj = ns[entry]
    elif "pyfun" in ns:
        obj = None  # IMBridge staged style
    else:
        marked = [v for v in ns.values() if getattr(v, "__imlane_function__", None) is not None]
        if len(marked) == 1:
            obj = marked[0]
        elif len(marked) > 1:
            raise FunctionLoadError(
                "the source defines several @imlane functions (" +
                ", ".join(getattr(m, "__name__", "?") for m in marked) + "); name one as the entry")
        elif name in ns and callable(ns[name]):
            obj = ns[name]
        elif len(_own_callable_classes(module)) == 1:
            obj = _own_callable_classes(module)[0]
        elif len(_own_callable_classes(module)) > 1:
            raise FunctionLoadError(
                "the source defines several classes with __call__ (" +
                ", ".join(c.__name__ for c in _own_callable_classes(module)) + "); name one as the entry")
        else:
            raise FunctionLoadError(
                "no entry point found: define pyfun(*columns) (and optionally pyinitial()), a class with "
                f"__init__ and __call__(self, *columns), a callable named '{name}', or pass an entry name")
    if obj is None:
        pyfun = ns["pyfun"]
        if not callable(pyfun):
            raise FunctionLoadError("pyfun is not callable")
        init = ns.get("pyinitial")
        if init is not None:
            init()
        return pyfun, "staged"
    if isinstance(obj, type):
        if not callable(getattr(obj, "__call__", None)) or obj.__call__ is object.__call__:
            raise FunctionLoadError(f"class {obj.__name__} has no __call__(self, *columns)")
        return obj(), "class"
    if not callable(obj):
        raise FunctionLoadError(f"entry '{entry or name}' is not callable")
    return obj, "function"


def _compile(source, filename):
    """Compiles a function's source. A file's bytes are decoded by Python itself, as `python file.py`
    would (PEP 263 coding cookie, else UTF-8); inline code (filename "<inline...>") is text, UTF-8."""
    if isinstance(source, (bytes, bytearray)) and filename.startswith("<"):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as e:
            raise FunctionLoadError(f"the source of {filename} is not UTF-8 text (byte {e.start}: "
                                    f"{bytes(source)[e.start:e.start + 1]!r}); pass a file to use another encoding") from None
    try:
        return compile(source, filename, "exec")
    except SyntaxError as e:
        if e.lineno is None:  # undecodable bytes or NUL bytes: no line to point at
            raise FunctionLoadError(f"cannot compile {filename}: {e.msg}") from None
        raise FunctionLoadError(f"syntax error in {filename}, line {e.lineno}: {e.msg}") from None
    except (ValueError, UnicodeDecodeError) as e:  # e.g. NUL bytes (ValueError before Python 3.11.4)
        raise FunctionLoadError(f"cannot compile {filename}: {e}") from None


class ReportedError(Exception):
    """An error already formatted where it happened (a Ray actor): its text is passed on as it is."""


class LoadedFunction:
    """One AI function in its own namespace; its one-off context is built here, once."""

    def __init__(self, name, source, filename, entry, arg_types, return_types, null_handling="default",
                 exception_handling="default", context_cache=True):
        check_options(null_handling, exception_handling, f"imlane function '{name}'")
        self.name = name
        self.null_handling = null_handling
        self.exception_handling = exception_handling
        self.context_cache = context_cache  # memoise model loaders (context_cache.py); off per function
        self.calls = [0]  # calls of the function itself (more than batches with return_null retries)
        self.arg_types = list(arg_types)
        self.return_types = list(return_types)
        module = types.ModuleType(f"imlane_udf_{name}")
        module.__file__ = filename
        code = _compile(source, filename)
        # Registered so that pickle/inspect find classes defined in the function's source.
        sys.modules[module.__name__] = module
        # The source, its one-off context and every batch run with the loader cache on (context_cache),
        # and in the function's own cwd, environment, sys.path and signal handlers (process_state.py).
        self.process_state = None  # starts from the executor's
        self.output = Output(name)  # what it prints: to the executor's log (output.py)
        with Switched(self), self.output:
            CACHE.run(self, exec, code, module.__dict__)
            self.callable, self.style = CACHE.run(self, _resolve_entry, module, name, entry)
        self.module = module

    def __call__(self, columns, n_rows, valid=None):
        """One batch; `valid` (bool array, or None) marks the rows whose arguments are all valid."""
        with Switched(self), self.output:
            return CACHE.run(self, call_batch, self.callable, columns, n_rows, valid, self.return_types, self.name,
                             self.null_handling, self.exception_handling, self.calls)


def load(name, source, filename, entry, arg_types, return_types, null_handling="default",
         exception_handling="default", context_cache=True):
    return LoadedFunction(name, source, filename, entry, arg_types, return_types, null_handling, exception_handling,
                          context_cache)


def format_exception(name, exc, tb=None):
    text = "".join(traceback.format_exception(type(exc), exc, tb if tb is not None else exc.__traceback__))
    prefix = f"imlane function '{name}'"
    printed = last_lines(name)
    tail = ("\nlast output of the function:\n" + "\n".join("  " + line for line in printed)) if printed else ""
    if isinstance(exc, ReportedError):
        return str(exc)
    if isinstance(exc, (FunctionLoadError, ResultError)):
        text = str(exc)
        if text.startswith(prefix):  # our own errors already say whose they are
            return text.rstrip() + tail
    return f"{prefix}: {text.rstrip()}{tail}"
