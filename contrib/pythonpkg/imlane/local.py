"""Run an AI function locally, exactly as an IMLane executor would, without a database."""
import numpy as np

from . import _runtime as _rt
from ._runtime.results import _is_missing
from ._runtime.types import BY_NAME
from .function import _normalise, signature_of


class LocalFunction:
    """An AI function loaded once (its one-off context built), callable on many batches."""

    def __init__(self, source, args=None, returns=None, name="local", entry="", null_handling="default",
                 exception_handling="default"):
        _rt.check_options(null_handling, exception_handling, f"imlane function '{name}'")
        self.null_handling = null_handling
        declared = signature_of(source) if not isinstance(source, str) else None
        if declared is not None:
            args = args if args is not None else declared[0]
            returns = returns if returns is not None else declared[1]
        if args is None or returns is None:
            raise ValueError("declare the SQL types: pass args= and returns=, or use @imlane.function")
        self.arg_types = _normalise(args, "argument")
        self.return_types = _normalise(returns, "return")
        arg_ids = [BY_NAME[t].id for t in self.arg_types]
        ret_ids = [BY_NAME[t].id for t in self.return_types]
        self.name = name
        if isinstance(source, str):
            if "\n" not in source and source.endswith(".py"):
                with open(source, "rb") as f:  # bytes: Python honours the file's coding cookie
                    code, filename = f.read(), source
            else:
                code, filename = source, f"<inline:{name}>"
            self._fn = _rt.load(name, code, filename, entry, arg_ids, ret_ids, null_handling, exception_handling)
        else:
            target = source() if isinstance(source, type) else source
            self._fn = _Wrapped(target, name, ret_ids, null_handling, exception_handling)

    def __call__(self, *columns):
        """Runs one batch: one array-like (or a DataFrame) per argument; NaN / None are NULL.

        Returns a numpy array (object dtype with None where the result is NULL), or a tuple of them
        for several result columns.
        """
        if len(columns) == 1 and hasattr(columns[0], "columns") and hasattr(columns[0], "iloc"):
            frame = columns[0]
            columns = tuple(frame.iloc[:, i].to_numpy() for i in range(frame.shape[1]))
        if len(columns) != len(self.arg_types):
            raise TypeError(f"{self.name} takes {len(self.arg_types)} columns "
                            f"({', '.join(self.arg_types)}), got {len(columns)}")
        arrays = [np.asarray(c) for c in columns]
        n = len(arrays[0]) if arrays else 0
        for i, a in enumerate(arrays):
            if len(a) != n:
                raise ValueError(f"column {i + 1} has {len(a)} rows, column 1 has {n}")
        valid = _valid_rows(arrays, n) if self.null_handling == "default" else None
        if valid is not None:
            # What the executor hands the function for the valid rows: the declared dtype, not NaN-promoted.
            arrays = [_as_declared(a, t, valid) for a, t in zip(arrays, self.arg_types)]
        out = []
        for values, packed in self._fn(arrays, n, valid):
            col = values
            if packed is not None:
                valid = np.unpackbits(packed, count=n, bitorder="little").astype(bool)
                col = values.astype(object)
                col[~valid] = None
            out.append(col)
        return out[0] if len(out) == 1 else tuple(out)


class _Wrapped:
    def __init__(self, target, name, ret_ids, null_handling, exception_handling):
        self.target, self.name, self.ret_ids = target, name, ret_ids
        self.null_handling, self.exception_handling = null_handling, exception_handling

    def __call__(self, columns, n, valid=None):
        return _rt.call_batch(self.target, columns, n, valid, self.ret_ids, self.name, self.null_handling,
                              self.exception_handling)


def _missing(a):
    """Where a local column is NULL (NaN, NaT, None or pandas NA), or None if nowhere."""
    if a.dtype.kind == "f":
        m = np.isnan(a)
    elif a.dtype.kind == "M":
        m = np.isnat(a)
    elif a.dtype.kind == "O":
        m = np.fromiter(((isinstance(v, float) and v != v) or _is_missing(v) for v in a),
                        dtype=np.bool_, count=len(a))
    else:
        return None
    return m if m.any() else None


def _valid_rows(arrays, n):
    valid = None
    for a in arrays:
        m = _missing(a)
        if m is not None:
            valid = ~m if valid is None else valid & ~m
    return valid


def _as_declared(a, type_name, valid):
    dtype = BY_NAME[type_name].dtype
    if dtype == object or a.dtype == dtype:
        return a
    try:  # NULL rows become 0 first: they are skipped anyway
        filled = a.copy()
        filled[~valid] = 0 if a.dtype.kind != "M" else np.datetime64(0, "D")
        return filled.astype(dtype)
    except (TypeError, ValueError):
        return a


def run_local(source, *columns, args=None, returns=None, name="local", entry="", null_handling="default",
              exception_handling="default"):
    """Loads an AI function and runs it once on local data, with the executor's checks.

    source: a path to a .py file, Python code, or an @imlane.function function or class.
    columns: one array-like per argument, or a single pandas DataFrame.

        import imlane, pandas as pd
        df = pd.DataFrame({"amount": [10.0, 900.0], "hour": [3.0, 14.0]})
        imlane.run_local("fraud.py", df, args="DOUBLE, DOUBLE", returns="INTEGER")

    null_handling and exception_handling are those of imlane_create_function / create_function.
    """
    return LocalFunction(source, args=args, returns=returns, name=name, entry=entry, null_handling=null_handling,
                         exception_handling=exception_handling)(*columns)
