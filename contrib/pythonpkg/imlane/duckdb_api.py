"""IMLane in DuckDB's Python package: load the extension, register functions from a notebook.

    import imlane
    con = imlane.connect()                                   # duckdb.DuckDBPyConnection
    imlane.create_function(con, "fraud", lambda a, h: model.predict(np.column_stack([a, h])),
                           args=["DOUBLE", "DOUBLE"], returns="INTEGER")
    con.sql("SELECT fraud(amount, hour) FROM t").df()

The extension (imlane.duckdb_extension) is found from `extension=`, $IMLANE_EXTENSION, next to
the installed package (<prefix>/lib/duckdb/extensions/), in the build tree of the checkout the
package was pip-installed from, in the project venv's repository build/, or in /usr/local. Functions run in IMLane's executors, not
in this process: module-level functions and classes are shipped as their module's source,
everything else (lambdas, closures over a fitted model, notebook cells) with cloudpickle.
"""
import base64
import ctypes
import inspect
import json
import os
import sys
import types as _pytypes

from .function import signature_of
from ._runtime.calling import check_options
from ._runtime.types import lookup

_EXTENSION_NAME = "imlane.duckdb_extension"
_SETTINGS = ("executors", "batch_size", "max_inflight", "timeout_ms", "socket", "lane_bytes", "python_env")


def _duckdb():
    try:
        import duckdb
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("imlane's DuckDB API needs the duckdb package (pip install duckdb==1.4.4)") from e
    return duckdb


def find_extension(extension=None):
    """The path of imlane.duckdb_extension, or FileNotFoundError naming where it was looked for."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [extension] if extension else []
    if not extension and os.environ.get("IMLANE_EXTENSION"):
        candidates.append(os.environ["IMLANE_EXTENSION"])
    if not extension:
        # <prefix>/share/imlane/python/imlane (build and install trees) -> <prefix>/lib/duckdb/extensions
        candidates.append(os.path.join(here, "..", "..", "..", "..", "lib", "duckdb", "extensions", _EXTENSION_NAME))
        # pip-installed from a source checkout: the build tree setup.py recorded.
        try:
            from ._build_tree import BUILD_TREE
            candidates.append(os.path.join(BUILD_TREE, "lib", "duckdb", "extensions", _EXTENSION_NAME))
        except ImportError:
            pass
        # The project venv (<repo>/.venv): the repository's build tree.
        candidates.append(os.path.join(sys.prefix, "..", "build", "lib", "duckdb", "extensions", _EXTENSION_NAME))
        # `make install` with the default PREFIX.
        candidates.append(os.path.join("/usr/local/lib/duckdb/extensions", _EXTENSION_NAME))
    for c in candidates:
        if c and os.path.isfile(c):
            return os.path.abspath(c)
    raise FileNotFoundError(f"{_EXTENSION_NAME} not found (looked at: {', '.join(map(str, candidates))}); "
                            "pass extension=PATH or set IMLANE_EXTENSION")


def _promote_duckdb_symbols():
    # DuckDB dlopens extensions RTLD_LOCAL, and Python loaded _duckdb RTLD_LOCAL too: a C++ extension
    # could not see DuckDB's symbols. Re-opening the loaded module RTLD_GLOBAL makes them visible.
    module = sys.modules.get("_duckdb") or sys.modules.get("duckdb.duckdb")
    path = getattr(module, "__file__", None)
    if path:
        ctypes.CDLL(path, mode=os.RTLD_GLOBAL | os.RTLD_NOLOAD | os.RTLD_NOW)


def _sql_literal(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _apply_settings(con, settings):
    for key, value in settings.items():
        if key not in _SETTINGS:
            raise TypeError(f"unknown IMLane setting {key!r} (known: {', '.join(_SETTINGS)})")
        con.execute(f"SET imlane_{key} = {_sql_literal(value)}")


def load(con, extension=None, **settings):
    """Loads IMLane into an existing connection (its database must allow unsigned extensions)."""
    _promote_duckdb_symbols()
    path = find_extension(extension)
    try:
        con.execute(f"LOAD {_sql_literal(path)}")
    except _duckdb().Error as e:
        if "unsigned" in str(e):
            raise type(e)(f"{e}\n(open the database with config={{'allow_unsigned_extensions': 'true'}}, "
                          "or use imlane.connect())") from None
        raise
    settings.setdefault("python_env", _own_venv())
    _apply_settings(con, {k: v for k, v in settings.items() if v is not None})
    return con


def _own_venv():
    """This interpreter's virtualenv, when it is one of the Python the executors embed (Debian's
    /usr/bin/python3): an embedded coordinator's executors then import the same packages as this
    script (python_env setting). None otherwise: a venv of another Python cannot serve them."""
    if sys.prefix == sys.base_prefix or os.path.realpath(sys.base_prefix) != "/usr":
        return None
    return sys.prefix


def connect(database=":memory:", read_only=False, config=None, extension=None, **settings):
    """duckdb.connect() with IMLane loaded; keyword settings become SET imlane_<name> = value."""
    config = dict(config or {})
    config.setdefault("allow_unsigned_extensions", "true")
    con = _duckdb().connect(database, read_only=read_only, config=config)
    return load(con, extension, **settings)


def _type_name(t, what):
    name = str(t).strip()
    canonical = lookup(name)
    if canonical is None:
        raise ValueError(f"unknown {what} type {name!r}")
    return canonical.name


def _module_source(obj):
    """The source of the module defining obj, when shipping it as source is faithful."""
    if isinstance(obj, _pytypes.FunctionType) and (obj.__closure__ or obj.__name__ == "<lambda>"):
        return None
    if "<locals>" in getattr(obj, "__qualname__", "<locals>"):
        return None
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None or module.__name__ == "__main__" or not getattr(module, "__file__", None):
        return None  # a notebook or a script: its module source would run the whole program
    try:
        return inspect.getsource(module)
    except (OSError, TypeError):
        return None


def _pickled_source(obj):
    import cloudpickle  # Debian's python3-cloudpickle: the same version in the executors

    blob = base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")
    if inspect.isclass(obj):
        return ("import base64, cloudpickle\n"
                f"_cls = cloudpickle.loads(base64.b64decode({blob!r}))\n"
                "_instance = None\n"
                "def pyinitial():\n    global _instance\n    _instance = _cls()\n"
                "def pyfun(*columns):\n    return _instance(*columns)\n")
    return ("import base64, cloudpickle\n"
            f"_fn = cloudpickle.loads(base64.b64decode({blob!r}))\n"
            "def pyfun(*columns):\n    return _fn(*columns)\n")


def create_function(con, name, function, args=None, returns=None, entry=None, batch_size=0,
                    null_handling="default", exception_handling="default", side_effects=False, context_cache=True,
                    backend="local", replicas=0, retries=3):
    """Registers `function` as the SQL function `name`.

    `function` is a path to a .py file, or a function or class from this Python session. Types are
    DuckDB types or their names; with @imlane.function they may be left out. The function gets one
    numpy array per argument and returns one value per row (a tuple of columns for several results).
    `batch_size` pins the rows per batch for this function (0: the imlane_batch_size setting, whose
    default 0 is the adaptive tuner); in SQL it is imlane_create_function(..., batch_size := N).

    As in DuckDB's create_function: `null_handling` 'default' makes a row with a NULL argument NULL
    without calling the function on it, 'special' passes NULLs in (masked arrays for numbers and
    BOOLEAN, NaT / None for the others: see _runtime/columns.py);
    `exception_handling` 'default' fails the query on an exception, 'return_null' makes only the
    rows whose call raises NULL (a wrong result, e.g. of the wrong length, still fails);
    `side_effects=True` makes the function VOLATILE (evaluated for every row, never folded).
    `context_cache=False` turns off the executors' memoised model loaders for this function (on by
    default: a function that loads its model itself, on every call, loads it once per executor).
    `backend` 'ray' runs the function on `replicas` Ray actors (0: one per CPU of the cluster) of the
    coordinator's cluster (imlane serve --ray-address), 'both' on those and the local executors;
    `retries` resends a batch whose actor died that often (0: off, for a function that is not pure).
    See docs/scale-out.md.
    """
    if backend not in ("local", "ray", "both"):
        raise ValueError(f"create_function({name!r}): backend must be 'local', 'ray' or 'both', got {backend!r}")
    for option, value, high in (("replicas", replicas, 1024), ("retries", retries, 100)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
            raise ValueError(f"create_function({name!r}): {option} must be an integer from 0 to {high}, got {value!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 0:
        raise ValueError(f"batch_size must be 0 (adaptive) or a positive number of rows, not {batch_size!r}")
    check_options(null_handling, exception_handling, f"create_function({name!r})")
    for option, value in (("side_effects", side_effects), ("context_cache", context_cache)):
        if not isinstance(value, bool):
            raise ValueError(f"create_function({name!r}): {option} must be True or False, got {value!r}")
    if isinstance(function, (str, os.PathLike)):
        source, entry_name = os.fspath(function), entry or ""
    elif callable(function):
        declared = signature_of(function)
        if declared:
            args = declared[0] if args is None else args
            returns = declared[1] if returns is None else returns
        source = _module_source(function)
        entry_name = entry or (function.__name__ if source is not None else "")
        if source is None:
            source = _pickled_source(function)
    else:
        raise TypeError(f"create_function needs a function, a class or a .py path, not {type(function).__name__}")
    if args is None or returns is None:
        raise TypeError("create_function needs args=[...] and returns=... (or an @imlane.function declaration)")
    if isinstance(returns, (list, tuple)):
        return_names = [_type_name(t, "return") for t in returns]
    else:
        return_names = [_type_name(returns, "return")]
    arg_names = [_type_name(t, "argument") for t in args]
    con.execute("CALL imlane_create_function(?, ?, ?, ?, entry := ?, batch_size := ?, null_handling := ?, "
                "exception_handling := ?, side_effects := ?, context_cache := ?, backend := ?, replicas := ?, "
                "retries := ?)",
                [name, source, ", ".join(arg_names), ", ".join(return_names), entry_name or None, batch_size,
                 null_handling, exception_handling, side_effects, context_cache, backend, replicas, retries])
    return con


def drop_function(con, name):
    con.execute("CALL imlane_drop_function(?)", [name])
    return con


def functions(con):
    """imlane_functions() as a pandas DataFrame."""
    return con.sql("SELECT * FROM imlane_functions()").df()


def status(con):
    """The coordinator's status document (`imlane status --json`) as a dict."""
    return json.loads(con.sql("SELECT status FROM imlane_status()").fetchone()[0])
