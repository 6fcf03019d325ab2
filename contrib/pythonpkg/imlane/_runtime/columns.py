"""Input columns: what a function sees for a column in the Lane's form.

One rule, used by the executor (through adapt_column) and by imlane.run_local (through
function_input), so a function cannot tell them apart. The form of a column depends on its SQL type
and the function's null_handling, never on the batch (whether this batch happens to hold a NULL):

    SQL type        'default' (NULL rows never reach the function)   'special' (NULL rows included)
    TINYINT..BIGINT int8..int64 array                                 numpy.ma.MaskedArray of int8..int64,
                                                                      mask True = NULL (all False without)
    FLOAT, DOUBLE   float32 / float64 array                           numpy.ma.MaskedArray of float32/64
                                                                      (NaN under the mask, so NaN-based code
                                                                      still works on .data)
    BOOLEAN         bool array                                        numpy.ma.MaskedArray of bool
    DATE            datetime64[D] array                               same, NULL = NaT
    TIMESTAMP       datetime64[us] array                              same, NULL = NaT
    VARCHAR         object array of str                               same, NULL = None

Every array is read-only: most are zero-copy views of the Lane, and a function that works on one batch
must work on the next. Under 'special' a mask, not a NaN, marks the NULLs of numbers and BOOLEAN:
integers stay integers (a BIGINT 2**53 + 1 arrives exactly), and a NULL stays apart from a NaN value,
so the identity function returns its input exactly. NaT and None are exact already (neither is a
DuckDB value).

The C++ executor builds VARCHAR columns and the zero-copy numeric views itself (the same forms);
everything else comes here, one call per column: vectorised numpy, no per-row Python.
"""
import numpy as np

from .types import BOOLEAN, DATE, FLOAT_DTYPES, INT_DTYPES, TIMESTAMP, VARCHAR

MASKED_TYPES = tuple(INT_DTYPES) + tuple(FLOAT_DTYPES) + (BOOLEAN,)  # masked under 'special'


def _unpack(bitmap, n):
    return np.unpackbits(bitmap, count=n, bitorder="little").view(np.bool_)


def _read_only(a):
    a = a.view()  # a new array object: the caller's array (run_local's input) keeps its own flags
    a.flags.writeable = False
    return a


def adapt_column(type_id, data, validity, n, special=False):
    """The executor's entry: `data` at the Lane's width (BOOLEAN bit-packed), `validity` a packed bitmap
    or None. With special=False the caller passes NULL rows as if valid (it skips them itself)."""
    values = _unpack(data, n) if type_id == BOOLEAN else data
    valid = _unpack(validity, n) if validity is not None else None
    return function_input(type_id, values, valid, special)


def function_input(type_id, values, valid, special, read_only=True):
    """The array a function sees. `values`: one Lane value per row (bool or uint8 for BOOLEAN, int32
    days for DATE, int64 microseconds for TIMESTAMP, objects for VARCHAR); `valid`: a bool array
    (False = NULL) or None for no NULL."""
    finish = _read_only if read_only else (lambda a: a)
    n = len(values)
    if type_id in MASKED_TYPES:
        values = values.view(np.bool_) if type_id == BOOLEAN else values
        if not special:
            return finish(values)
        mask = np.zeros(n, dtype=np.bool_) if valid is None else ~valid
        if type_id in FLOAT_DTYPES and valid is not None and not valid.all():
            values = values.copy()
            values[mask] = np.nan
        out = np.ma.MaskedArray(finish(values), mask=mask, copy=False)
        if read_only:
            out._mask.flags.writeable = False  # a masked array's mask is its own array
        return out
    if type_id == VARCHAR:
        if valid is not None and not valid.all():
            values = values.copy()
            values[~valid] = None
        return finish(values)
    if type_id == DATE:
        values = values.astype("datetime64[D]")
    elif type_id == TIMESTAMP:
        values = values.view("datetime64[us]")
    else:
        raise ValueError(f"no input form for type id {type_id}")
    if valid is not None and not valid.all():
        values = values if type_id == DATE else values.copy()  # astype made DATE's copy already
        values[~valid] = np.datetime64("NaT")
    return finish(values)
