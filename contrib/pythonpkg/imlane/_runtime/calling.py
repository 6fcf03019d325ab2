"""Calling: one batch through a function, with DuckDB's per-function NULL and exception options.

null_handling
    'default'  a row with a NULL in any argument is NULL without the function seeing it: the
               caller hands `valid` (a bool array, True = every argument is valid), the function is
               called on the valid rows only (compacted arrays) and its results are scattered back.
               A batch without a valid row does not call the function at all.
    'special'  the function sees every row, NULLs included (masks for numbers and BOOLEAN, NaT /
               None for the others, see columns.py).
exception_handling
    'default'      an exception fails the batch (and the query) with its traceback.
    'return_null'  rows that raise become NULL: a failing batch is retried as its two halves,
                   recursively, down to single rows, so k bad rows cost O(k log n) extra calls.
                   A wrong result (ResultError: length, type...) is a bug in the function, not a
                   per-row failure, and still fails the batch.

Without NULLs and with exception_handling 'default' a batch is exactly one call and one conversion.
"""
import numpy as np

from .results import convert_columns, pack
from .types import LANE_DTYPES

NULL_HANDLING = ("default", "special")
EXCEPTION_HANDLING = ("default", "return_null")


def check_options(null_handling, exception_handling, where):
    """Raises ValueError naming the option and its accepted values."""
    for option, value, accepted in (("null_handling", null_handling, NULL_HANDLING),
                                    ("exception_handling", exception_handling, EXCEPTION_HANDLING)):
        if value not in accepted:
            raise ValueError(f"{where}: {option} must be " + " or ".join(f"'{a}'" for a in accepted) +
                             f", got {value!r}")


def _nulls(return_types, n):
    """n NULL rows per result column, in the Lane's layout ([(values, valid)])."""
    return [(np.empty(n, dtype=object) if LANE_DTYPES[t] == object else np.zeros(n, dtype=LANE_DTYPES[t]),
             np.zeros(n, dtype=np.bool_)) for t in return_types]


def _concat(left, right, n_left, n_right):
    out = []
    for (lv, lm), (rv, rm) in zip(left, right):
        lm = np.ones(n_left, dtype=np.bool_) if lm is None else lm
        rm = np.ones(n_right, dtype=np.bool_) if rm is None else rm
        out.append((np.concatenate([lv, rv]), np.concatenate([lm, rm])))
    return out


def _guarded(fn, columns, n, return_types, name, calls):
    """The function on `columns` (n rows), raising rows NULL: bisects a failing batch."""
    calls[0] += 1
    try:
        result = fn(*columns)
    except Exception:
        if n <= 1:
            return _nulls(return_types, n)
        half = n // 2
        left = _guarded(fn, [c[:half] for c in columns], half, return_types, name, calls)
        right = _guarded(fn, [c[half:] for c in columns], n - half, return_types, name, calls)
        return _concat(left, right, half, n - half)
    return convert_columns(result, n, return_types, name)  # a ResultError is not retried


def _scatter(parts, rows, n):
    """Results for the compacted rows `rows` -> n rows, NULL elsewhere."""
    out = []
    for values, valid in parts:
        full = np.empty(n, dtype=object) if values.dtype == object else np.zeros(n, dtype=values.dtype)
        full[rows] = values
        full_valid = np.zeros(n, dtype=np.bool_)
        full_valid[rows] = True if valid is None else valid
        out.append((full, full_valid))
    return out


def call_batch(fn, columns, n, valid, return_types, name, null_handling="default",
               exception_handling="default", calls=None):
    """Runs fn(*columns) on one batch; returns [(values, packed_validity)] per result column.

    `valid` is None (no row to skip: the caller computes it only for null_handling 'default' and a
    batch with NULLs) or a bool array of n. `calls`, a one-element list, counts the function's calls.
    """
    calls = calls if calls is not None else [0]
    if valid is not None and null_handling == "default":
        rows = np.flatnonzero(valid)
        if len(rows) == 0:
            return pack(_nulls(return_types, n))
        if len(rows) < n:
            parts = _call(fn, [_compact(c, rows) for c in columns], len(rows), return_types, name,
                          exception_handling, calls)
            return pack(_scatter(parts, rows, n))
    return pack(_call(fn, columns, n, return_types, name, exception_handling, calls))


def _compact(column, rows):
    out = column[rows]
    out.flags.writeable = False  # as read-only as the batch's other forms (columns.py)
    return out


def _call(fn, columns, n, return_types, name, exception_handling, calls):
    if exception_handling == "return_null":
        return _guarded(fn, columns, n, return_types, name, calls)
    calls[0] += 1
    return convert_columns(fn(*columns), n, return_types, name)
