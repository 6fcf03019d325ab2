"""The SQL type table of IMLane, the one copy in Python.

It mirrors the C++ side: wire ids from `enum class TypeId` in include/imlane/types.h, canonical
names from TypeName() and aliases from ParseType() in src/common/types.cpp
(test/python/test_type_table.py parses both and compares). `dtype` is the numpy dtype of the
values a function sees in a column without NULLs (and returns for that type).
"""
from typing import NamedTuple, Tuple

import numpy as np


class SqlType(NamedTuple):
    id: int                  # wire value of TypeId
    name: str                # canonical SQL name, as TypeName() prints it
    aliases: Tuple[str, ...]  # other names ParseType() accepts (upper case)
    dtype: np.dtype


TABLE = (
    SqlType(1, "BOOLEAN", ("BOOL",), np.dtype(np.bool_)),
    SqlType(2, "TINYINT", ("INT8",), np.dtype(np.int8)),
    SqlType(3, "SMALLINT", ("INT16", "INT2"), np.dtype(np.int16)),
    SqlType(4, "INTEGER", ("INT", "INT32", "INT4"), np.dtype(np.int32)),
    SqlType(5, "BIGINT", ("INT64", "LONG"), np.dtype(np.int64)),
    SqlType(6, "FLOAT", ("REAL", "FLOAT4", "FLOAT32"), np.dtype(np.float32)),
    SqlType(7, "DOUBLE", ("FLOAT8", "FLOAT64", "DOUBLE PRECISION"), np.dtype(np.float64)),
    SqlType(8, "VARCHAR", ("TEXT", "STRING"), np.dtype(object)),
    SqlType(9, "DATE", (), np.dtype("datetime64[D]")),
    SqlType(10, "TIMESTAMP", (), np.dtype("datetime64[us]")),
)

# Wire ids by their TypeId enumerator names (kInt32 -> INT32).
BOOLEAN, INT8, INT16, INT32, INT64, FLOAT, DOUBLE, VARCHAR, DATE, TIMESTAMP = (t.id for t in TABLE)

BY_ID = {t.id: t for t in TABLE}
BY_NAME = {t.name: t for t in TABLE}
SQL_TYPES = tuple(t.name for t in TABLE)
TYPE_NAMES = {t.id: t.name for t in TABLE}
INT_DTYPES = {t: BY_ID[t].dtype.type for t in (INT8, INT16, INT32, INT64)}
FLOAT_DTYPES = {t: BY_ID[t].dtype.type for t in (FLOAT, DOUBLE)}

_LOOKUP = {n: t for t in TABLE for n in (t.name,) + t.aliases}


def lookup(name):
    """The SqlType for a name or alias (surrounding blanks and case ignored, as in ParseType), or None."""
    return _LOOKUP.get(str(name).strip().upper())


# The numpy dtype of a result column as written into the Lane (what results.to_columns produces):
# BOOLEAN one byte per value, DATE int32 days, TIMESTAMP int64 microseconds, VARCHAR objects.
LANE_DTYPES = {t.id: t.dtype for t in TABLE}
LANE_DTYPES.update({BOOLEAN: np.dtype(np.uint8), DATE: np.dtype(np.int32), TIMESTAMP: np.dtype(np.int64)})
