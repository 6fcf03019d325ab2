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
    if v is None or v is np.ma.masked:
        return True
    pd = sys.modules.get("pandas")  # only when the function already uses pandas
    return pd is not None and (v is pd.NA or v is pd.NaT)


def _as_array(result, n, type_name, fname, col, role):
    where = _where(fname, col, role)
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


def _unmask(result):
    """A numpy masked array (what 'special' functions get for integers and BOOLEAN) -> (values, valid):
    masked rows are NULL whatever their data holds (filled with a harmless value so no check trips on
    them). Anything else passes through, with valid None."""
    if isinstance(result, list) and any(v is np.ma.masked for v in result):
        # Iterating a masked array yields np.ma.masked for its NULLs: a list of them means NULL too.
        return [None if v is np.ma.masked else v for v in result], None
    if not isinstance(result, np.ma.MaskedArray):
        return result, None
    if result.ndim == 2 and result.shape[1] == 1:
        result = result.reshape(-1)
    mask = np.ma.getmaskarray(result)
    if mask.ndim != 1 or not mask.any():  # a wrong shape is reported by _as_array
        return result.data, None
    data = result.data.copy()
    data[mask] = None if data.dtype == object else (np.datetime64("NaT") if data.dtype.kind in "mM" else 0)
    return data, ~mask


def _first_bad(mask):
    return int(np.flatnonzero(mask)[0])


def _where(fname, col, role):
    return f"imlane function '{fname}'" + (f" {role} column {col}" if col is not None else "")


def _convert_one(result, n, t, fname, col, role="result"):
    """Returns (values, valid) where valid is None or a bool array (False = NULL). `role` names what is
    converted in errors: a result column, or (run_local) an argument column."""
    tname = TYPE_NAMES[t]
    result, valid = _unmask(result)
    arr = _as_array(result, n, tname, fname, col, role)
    where = _where(fname, col, role)
    if arr.dtype.kind == "O":
        missing = np.fromiter((_is_missing(v) for v in arr), dtype=np.bool_, count=n)
        if t == VARCHAR:  # pandas marks missing strings with NaN
            missing |= np.fromiter((isinstance(v, float) and v != v for v in arr), dtype=np.bool_, count=n)
        if missing.any():
            valid = ~missing if valid is None else valid & ~missing
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
        # numpy turned a list mixing numbers and strings into strings: name the first real string.
        i = 0
        if isinstance(result, (list, tuple)):
            i = next((i for i, v in enumerate(result) if isinstance(v, _STRINGS)), 0)
        raise ResultError(f"{where}: expected {tname} values, got strings, e.g. {arr[i]!r} at row {i}")
    if arr.dtype.kind == "O":
        # One answer whatever the container: a list, an object Series or an object array of the same
        # values convert (or fail) exactly as a typed numpy array would.
        arr = _unbox_objects(arr, valid, t, tname, where)
    if arr.dtype.kind == "c":
        imag = arr.imag != 0
        if valid is not None:
            imag &= valid
        if imag.any():
            i = _first_bad(imag)
            raise ResultError(f"{where}: complex value {arr[i]!r} at row {i} cannot be converted to {tname} "
                              f"(its imaginary part would be lost)")
        arr = arr.real
    if t in FLOAT_DTYPES:
        try:
            with np.errstate(over="ignore"):  # overflow is reported below, with its row
                out = arr.astype(FLOAT_DTYPES[t], copy=False)
        except (TypeError, ValueError) as e:
            raise ResultError(f"{where}: expected {tname} values: {e}") from None
        if out.dtype != arr.dtype and arr.dtype.kind == "f":
            overflow = np.isinf(out) & np.isfinite(arr)
            if valid is not None:
                overflow &= valid
            if overflow.any():
                i = _first_bad(overflow)
                raise ResultError(f"{where}: value {arr[i]!r} at row {i} is out of range for {tname}")
        return out, valid
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
        if arr.dtype.kind != "M":
            try:
                arr = arr.astype("datetime64[us]" if t == TIMESTAMP else "datetime64[D]")
            except (TypeError, ValueError, OverflowError) as e:
                raise ResultError(f"{where}: expected {tname} values (numpy datetime64): {e}") from None
        # Checked in days, which any finer unit converts to without overflow: numpy would wrap a
        # year beyond the type's range into some other date.
        days = arr.astype("datetime64[D]").view(np.int64)
        lo, hi = _DAY_RANGE[t]
        bad = ~np.isnat(arr) & ((days < lo) | (days > hi))
        if valid is not None:
            bad &= valid
        if bad.any():
            i = _first_bad(bad)
            raise ResultError(f"{where}: value {arr[i]!r} at row {i} is out of range for {tname}")
        unit = "datetime64[D]" if t == DATE else "datetime64[us]"
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
            if valid is not None:
                bad &= valid
            if bad.any():
                i = _first_bad(bad)
                raise ResultError(f"{where}: value {arr[i]} at row {i} is out of range for {tname}")
            arr = np.where(valid, arr, 0)
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
    # The upper bound is -min (2**63 for BIGINT), which a double holds exactly; max itself (2**63 - 1)
    # rounds up to it, so `num > max` would let 2.0**63 through to wrap to INT64_MIN.
    out_of_range = ((num < info.min) | (num >= -float(info.min))) & check
    if out_of_range.any():
        i = _first_bad(out_of_range)
        raise ResultError(f"{where}: value {num[i]!r} at row {i} is out of range for {tname}")
    if valid is not None:
        num = np.where(valid, num, 0)
    return num.astype(dtype), valid


# Days from 1970-01-01 each type holds: DATE is DuckDB's int32 day count without its +-infinity
# (+-(2**31 - 1)); TIMESTAMP is int64 microseconds without its +-infinity.
_DAY_RANGE = {DATE: (-(2**31) + 2, 2**31 - 2), TIMESTAMP: (-((2**63 - 2) // 86_400_000_000), (2**63 - 2) // 86_400_000_000 - 1)}

_STRINGS = (str, bytes, np.str_, np.bytes_)


def _unbox_objects(arr, valid, t, tname, where):
    """An object array (a list with None, an object Series) of numbers as a typed array: strings are
    refused as in a numpy string array, and Python integers keep every digit for integer types."""
    rows = range(len(arr)) if valid is None else np.flatnonzero(valid)
    kinds = set()
    for i in rows:
        v = arr[i]
        if isinstance(v, _STRINGS):
            raise ResultError(f"{where}: expected {tname} values, got strings, e.g. {v!r} at row {i}")
        if isinstance(v, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(v, (int, np.integer)):
            kinds.add("i")
        elif isinstance(v, (complex, np.complexfloating)):
            kinds.add("c")
        else:
            kinds.add("o")
    if t in INT_DTYPES and kinds <= {"b", "i"}:
        info = np.iinfo(INT_DTYPES[t])
        for i in rows:
            if not info.min <= int(arr[i]) <= info.max:
                raise ResultError(f"{where}: value {arr[i]} at row {i} is out of range for {tname}")
        return arr.astype(INT_DTYPES[t])
    if t in (DATE, TIMESTAMP):
        return arr
    try:
        return arr.astype(np.complex128 if "c" in kinds else np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise ResultError(f"{where}: expected {tname} values: {e}") from None


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
