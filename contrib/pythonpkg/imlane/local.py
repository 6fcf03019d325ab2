"""Run an AI function locally, exactly as an IMLane executor would, without a database."""
import numpy as np

from . import _runtime as _rt
from ._runtime.columns import function_input
from ._runtime.results import _convert_one
from ._runtime.types import BOOLEAN, BY_NAME, FLOAT_DTYPES, VARCHAR
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
        arg_ids = self.arg_ids = [BY_NAME[t].id for t in self.arg_types]
        ret_ids = self.ret_ids = [BY_NAME[t].id for t in self.return_types]
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
        """Runs one batch: one array-like (or a DataFrame) per argument.

        NULL in an argument: None, pandas NA / NaT, NaT, NaN in a FLOAT/DOUBLE column (pandas' missing
        value), or a masked element of a numpy masked array (then a NaN is a value, as in SQL). The
        columns are converted to the Lane's form with the executor's result checks and handed to the
        function exactly as an executor would (columns.py). Returns each result column as a numpy masked
        array (mask True = NULL, so a NULL and a NaN stay apart) of the type's input dtype (int8..int64,
        float32/64, bool, datetime64[D]/[us], object of str), or a tuple of them for several results.
        """
        if len(columns) == 1 and hasattr(columns[0], "columns") and hasattr(columns[0], "iloc"):
            frame = columns[0]
            columns = tuple(frame.iloc[:, i] for i in range(frame.shape[1]))
        if len(columns) != len(self.arg_types):
            raise TypeError(f"{self.name} takes {len(self.arg_types)} columns "
                            f"({', '.join(self.arg_types)}), got {len(columns)}")
        n = len(columns[0]) if columns else 0
        for i, c in enumerate(columns):
            if len(c) != n:
                raise ValueError(f"column {i + 1} has {len(c)} rows, column 1 has {n}")
        lane = [_to_lane(c, t, n, self.name, i + 1) for i, (c, t) in enumerate(zip(columns, self.arg_ids))]
        special = self.null_handling == "special"
        valid = None  # null_handling 'default': the rows with every argument valid (None: all of them)
        if not special:
            for _, v in lane:
                if v is not None:
                    valid = v if valid is None else valid & v
        arrays = [function_input(t, values, v if special else None, special)
                  for t, (values, v) in zip(self.arg_ids, lane)]
        out = []
        for t, (values, packed) in zip(self.ret_ids, self._fn(arrays, n, valid)):
            ok = None if packed is None else np.unpackbits(packed, count=n, bitorder="little").view(np.bool_)
            col = function_input(t, values, ok, special=True, read_only=False)
            if not isinstance(col, np.ma.MaskedArray):  # NULL apart from NaN: a DOUBLE result may hold both
                col = np.ma.MaskedArray(col, mask=np.zeros(n, dtype=np.bool_) if ok is None else ~ok)
            out.append(col)
        return out[0] if len(out) == 1 else tuple(out)


def _to_lane(column, type_id, n, name, position):
    """A local argument column in the Lane's form (values, valid), checked like a function's result."""
    if isinstance(column, np.ma.MaskedArray):
        return _convert_one(column, n, type_id, name, position, role="argument")
    if hasattr(column, "to_numpy") and not isinstance(column, np.ndarray):
        column = column.to_numpy()
    column = np.asarray(column) if not isinstance(column, np.ndarray) else column
    nan = None
    if column.dtype.kind == "f":
        nan = np.isnan(column)
    elif column.dtype.kind == "O" and type_id in FLOAT_DTYPES:
        nan = np.fromiter((isinstance(v, float) and v != v for v in column), dtype=np.bool_, count=n)
    if nan is not None and nan.any():
        column = np.ma.MaskedArray(column, mask=nan)
    values, valid = _convert_one(column, n, type_id, name, position, role="argument")
    if type_id == BOOLEAN:
        values = values.view(np.bool_)
    elif type_id == VARCHAR and any(isinstance(v, bytes) for v in values):
        # The Lane holds UTF-8 bytes either way, and an executor hands the function str.
        values = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values], dtype=object)
    return values, valid


class _Wrapped:
    def __init__(self, target, name, ret_ids, null_handling, exception_handling):
        self.target, self.name, self.ret_ids = target, name, ret_ids
        self.null_handling, self.exception_handling = null_handling, exception_handling

    def __call__(self, columns, n, valid=None):
        return _rt.call_batch(self.target, columns, n, valid, self.ret_ids, self.name, self.null_handling,
                              self.exception_handling)


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
