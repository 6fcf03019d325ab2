"""imlane._runtime: the Python half of imlane-executor (and of imlane.run_local).

The executor (src/executor/python_runtime.cpp) imports this package from its --runtime-dir
(share/imlane/python, which holds the `imlane` package) and calls load(), adapt_column() and
format_exception(); a loaded function is called with (columns, n_rows, valid) and returns to_columns().

    types     the SQL type table (ids, names, aliases, numpy dtypes)
    loading   a function file in its own namespace, its entry point, its one-off context
    columns   Lane columns that need a conversion before the function sees them
    calling   one batch through a function: null_handling and exception_handling
    results   checking and converting what a function returns
    output    what a function prints: to the executor's log, its last lines into its errors
    context_cache  memoised model loaders, so holistic UDFs load their model once per executor
                   (installed by the executor through install_context_cache(), not by run_local)
"""
from .calling import EXCEPTION_HANDLING, NULL_HANDLING, call_batch, check_options
from .columns import adapt_column
from .context_cache import CACHE as _CONTEXT_CACHE
from .loading import FunctionLoadError, LoadedFunction, format_exception, load
from .output import set_output_log
from .results import ResultError, to_columns
from .types import (BOOLEAN, DATE, DOUBLE, FLOAT, FLOAT_DTYPES, INT8, INT16, INT32, INT64, INT_DTYPES,
                    SQL_TYPES, TIMESTAMP, TYPE_NAMES, VARCHAR)



def install_context_cache(max_bytes=None):
    """Patches the model loaders of this process (the executor's): see context_cache.py."""
    if max_bytes is not None:
        if int(max_bytes) <= 0:
            return  # the cache is off for this process: loaders stay as they are
        _CONTEXT_CACHE.max_bytes = int(max_bytes)
    _CONTEXT_CACHE.install()


def context_cache_stats(name):
    """(hits, misses, bytes, saved seconds) of function `name`, for the executor's stats."""
    s = _CONTEXT_CACHE.stats_for(name)
    return s.hits, s.misses, s.bytes, s.saved_s


def reset_context_cache(name=""):
    """Empties the cache (or function `name`'s objects); returns the number of objects dropped."""
    return _CONTEXT_CACHE.reset(name or None)


__all__ = ["load", "adapt_column", "call_batch", "check_options", "NULL_HANDLING", "EXCEPTION_HANDLING",
           "install_context_cache", "set_output_log",
           "context_cache_stats", "reset_context_cache", "format_exception", "to_columns",
           "LoadedFunction", "FunctionLoadError", "ResultError", "SQL_TYPES", "TYPE_NAMES", "BOOLEAN", "INT8", "INT16",
           "INT32", "INT64", "FLOAT",
           "DOUBLE", "VARCHAR", "DATE", "TIMESTAMP"]
