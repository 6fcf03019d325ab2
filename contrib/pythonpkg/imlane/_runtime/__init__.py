"""imlane._runtime: the Python half of imlane-executor (and of imlane.run_local).

The executor (src/executor/python_runtime.cpp) imports this package from its --runtime-dir
(share/imlane/python, which holds the `imlane` package) and calls load(), adapt_column() and
format_exception(); a loaded function is called with (columns, n_rows, valid) and returns to_columns().

    types     the SQL type table (ids, names, aliases, numpy dtypes)
    loading   a function file in its own namespace, its entry point, its one-off context
    columns   Lane columns that need a conversion before the function sees them
    calling   one batch through a function: null_handling and exception_handling
    results   checking and converting what a function returns
"""
from .calling import EXCEPTION_HANDLING, NULL_HANDLING, call_batch, check_options
from .columns import adapt_column
from .loading import FunctionLoadError, LoadedFunction, format_exception, load
from .results import ResultError, to_columns
from .types import (BOOLEAN, DATE, DOUBLE, FLOAT, FLOAT_DTYPES, INT8, INT16, INT32, INT64, INT_DTYPES,
                    SQL_TYPES, TIMESTAMP, TYPE_NAMES, VARCHAR)

__all__ = ["load", "adapt_column", "call_batch", "check_options", "NULL_HANDLING", "EXCEPTION_HANDLING",
           "format_exception", "to_columns", "LoadedFunction", "FunctionLoadError", "ResultError", "SQL_TYPES", "TYPE_NAMES", "BOOLEAN", "INT8", "INT16", "INT32", "INT64", "FLOAT",
           "DOUBLE", "VARCHAR", "DATE", "TIMESTAMP"]
