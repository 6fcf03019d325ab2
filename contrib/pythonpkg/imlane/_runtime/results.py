"""Results: checks what a function returned against its declared types and converts it for the Lane.

A wrong result (length, column count, NaN for an integer type, strings for a number...) becomes a
ResultError with a precise message instead of garbage in the database. to_columns returns, per
result column, the values (contiguous at the Lane's width; VARCHAR as an object array of str) and
a packed validity bitmap or None; the C++ executor (WriteColumn) writes them into the Lane.
"""
import sys

import numpy as np

from .types import BOOLEAN, DATE, FLOAT_DTYPES, INT_DTYPES, TIMESTAMP, TYPE_NAMES, VARCHAR


class ResultError(Exception):
    pass


def _is_missing(v):
    if v is None:
        return True
    pd = sys.modules.get("pandas")  # only when the function already uses pandas
    return pd is not None and (v is pd.NA or v is pd.NaT)


def _as_array(result, n, type_name, fname, col):
    where = f"imlane function '{fname}'" + (f" result column {col}" if col is not None else "")
    if result is None:
        raise ResultError(f"{where}: returned None; expected {n} values of type {type_name}")
    if hasattr(result, "to_numpy") and not isinstance(result, np.ndarray):
        result = result.to_numpy()
    if isinstance(result, (str, bytes)) or np.isscalar(result):
        raise ResultError(f"{where}: returned a single {type(result).__name__}; expected {n} values "
                          f"(one per input row) of type {type_name}")
    try:
        arr = np.asarray(result)
    except Exception as e:
        raise ResultError(f"{where}: result of type {type(result).__name__} is not array-like: {e}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ResultError(f"{where}: returned an array of shape {arr.shape}; expected {n} values "
                          f"(one per input row) of type {type_name}")
    if len(arr) != n:
        raise ResultError(f"{where}: returned {len(arr)} values for {n} input rows (expected {n} values of "
                          f"type {type_name})")
    return arr


def _first_bad(mask):
    return int(np.flatnonzero(mask)[0])


def _convert_one(result, n, t, fname, col):
    """Returns (values, valid) where valid is None or a bool array (False = NULL)."""
    tname = TYPE_NAMES[t]
    arr = _as_array(result, n, tname, fname, col)
    where = f"imlane function '{fname}'" + (f" result column {col}" if col is not None else "")
    valid = None
    if arr.dtype.kind == "O":
        missing = np.fromiter((_is_missing(v) for v in arr), dtype=np.bool_, count=n)
        if t == VARCHAR:  # pandas marks missing strings with NaN
            missing |= np.fromiter((isinstance(v, float) and v != v for v in arr), dtype=np.bool_, count=n)
        if missing.any():
            valid = ~missing
            if t != VARCHAR:
                arr = arr.copy()
                arr[missing] = 0 if t not in (DATE, TIMESTAMP) else np.datetime64("NaT")
    if t == VARCHAR:
        if arr.dtype.kind in "US":
            return arr.astype(object), valid
        if arr.dtype.kind != "O":
            raise ResultError(f"{where}: expected VARCHAR (str) values, got numpy dtype {arr.dtype}")
        return arr, valid
    if arr.dtype.kind in "USV":
        raise ResultError(f"{where}: expected {tname} values, got strings (numpy dtype {arr.dtype}), "
                          f"e.g. {arr[0]!r}")
    if t in FLOAT_DTYPES:
        try:
            return arr.astype(FLOAT_DTYPES[t], copy=False), valid
        except (TypeError, ValueError) as e:
            raise ResultError(f"{where}: expected {tname} values: {e}") from None
    if t == BOOLEAN:
        if arr.dtype.kind == "b":
            return arr.astype(np.uint8), valid
        try:
            num = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ResultError(f"{where}: expected BOOLEAN values: {e}") from None
        bad = ~np.isin(num, (0.0, 1.0))
        if valid is not None:
            bad &= valid
        if bad.any():
            i = _first_bad(bad)
            raise ResultError(f"{where}: expected BOOLEAN values, got {arr[i]!r} at row {i}")
        return num.astype(np.uint8), valid
    if t in (DATE, TIMESTAMP):
        unit = "datetime64[D]" if t == DATE else "datetime64[us]"
        if arr.dtype.kind != "M":
            try:
                arr = arr.astype(unit)
            except (TypeError, ValueError) as e:
                raise ResultError(f"{where}: expected {tname} values (numpy datetime64): {e}") from None
        arr = arr.astype(unit)
        nat = np.isnat(arr)
        if nat.any():
            valid = ~nat if valid is None else (valid & ~nat)
        raw = arr.view(np.int64)
        return (raw.astype(np.int32) if t == DATE else raw.copy()), valid
    # Integer types: exact conversions only.
    dtype = INT_DTYPES[t]
    info = np.iinfo(dtype)
    if arr.dtype.kind == "b":
        return arr.astype(dtype), valid
    if arr.dtype.kind in "iu":
        if len(arr) and (arr.min() < info.min or arr.max() > info.max):
            bad = (arr < info.min) | (arr > info.max)
            i = _first_bad(bad)
            raise ResultError(f"{where}: value {arr[i]} at row {i} is out of range for {tname}")
        return arr.astype(dtype), valid
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ResultError(f"{where}: expected {tname} values: {e}") from None
    check = np.ones(n, dtype=np.bool_) if valid is None else valid
    nan = np.isnan(num) & check
    if nan.any():
        i = _first_bad(nan)
        raise ResultError(f"{where}: NaN at row {i} cannot be converted to {tname} (return None for NULL, "
                          f"or declare a DOUBLE result)")
    frac = (num != np.floor(num)) & check
    if frac.any():
        i = _first_bad(frac)
        raise ResultError(f"{where}: non-integral value {num[i]!r} at row {i} cannot be converted to {tname}")
    out_of_range = ((num < info.min) | (num > info.max)) & check
    if out_of_range.any():
        i = _first_bad(out_of_range)
        raise ResultError(f"{where}: value {num[i]!r} at row {i} is out of range for {tname}")
    if valid is not None:
        num = np.where(valid, num, 0)
    return num.astype(dtype), valid


def convert_columns(result, n, return_types, fname):
    """Checks a function's result against its declared types; returns [(values, valid)] with valid a
    bool array (False = NULL) or None."""
    if len(return_types) == 1:
        parts = [result]
    else:
        if hasattr(result, "columns") and hasattr(result, "iloc"):  # pandas DataFrame
            parts = [result.iloc[:, i] for i in range(result.shape[1])]
        elif isinstance(result, np.ndarray) and result.ndim == 2:
            parts = [result[:, i] for i in range(result.shape[1])]
        elif isinstance(result, (tuple, list)):
            parts = list(result)
        else:
            raise ResultError(f"imlane function '{fname}': declared {len(return_types)} result columns; return a "
                              f"tuple of {len(return_types)} arrays or a DataFrame, not {type(result).__name__}")
        if len(parts) != len(return_types):
            raise ResultError(f"imlane function '{fname}': returned {len(parts)} result columns, declared "
                              f"{len(return_types)}")
    out = []
    for i, (part, t) in enumerate(zip(parts, return_types)):
        values, valid = _convert_one(part, n, t, fname, i if len(return_types) > 1 else None)
        if values.dtype != object:
            values = np.ascontiguousarray(values)
        out.append((values, valid))
    return out


def pack(columns):
    """[(values, valid)] -> [(values, packed_validity)], the form the C++ executor writes."""
    return [(values, None if valid is None else np.packbits(valid, bitorder="little")) for values, valid in columns]


def to_columns(result, n, return_types, fname):
    """Checks a function's result against its declared types; returns [(values, packed_validity)]."""
    return pack(convert_columns(result, n, return_types, fname))
