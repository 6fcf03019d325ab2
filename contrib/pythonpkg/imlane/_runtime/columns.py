"""Input columns: what a Lane column that cannot be passed as-is becomes for the function.

The C++ executor already hands fixed-width columns without NULLs (and TIMESTAMP is viewed here
without a copy) as read-only numpy views of the Lane, and builds VARCHAR columns itself. Only
BOOLEAN bit-packing, DATE and columns with NULLs (with null_handling 'special'; with 'default' they come
as if without NULLs and calling.py skips those rows) come here, one call per column: vectorised numpy,
no per-row Python.
"""
import numpy as np

from .types import BOOLEAN, DATE, INT_DTYPES, TIMESTAMP


def _unpack(bitmap, n):
    return np.unpackbits(bitmap, count=n, bitorder="little").view(np.bool_)


def adapt_column(type_id, data, validity, n):
    """Turns a Lane column that cannot be passed as-is into the array a function sees.

    NULLs: floating columns get NaN, integer columns become float64 with NaN, DATE/TIMESTAMP get NaT,
    BOOLEAN becomes an object array with None. VARCHAR never comes here (built in C++).
    """
    valid = _unpack(validity, n) if validity is not None else None
    if type_id == BOOLEAN:
        values = _unpack(data, n)
        if valid is None:
            return values
        out = values.astype(object)
        out[~valid] = None
        return out
    if type_id == DATE:
        values = data.astype("datetime64[D]")
    elif type_id == TIMESTAMP:
        values = data.view("datetime64[us]")
    elif type_id in INT_DTYPES:
        values = data.astype(np.float64)
    else:
        values = data.copy()
    if valid is not None:
        if type_id in (DATE, TIMESTAMP):
            values = values.copy() if values.base is not None else values
            values[~valid] = np.datetime64("NaT")
        else:
            values[~valid] = np.nan
    return values
