"""The @imlane.function decorator: marks the entry point of a file and declares its SQL types."""

from ._runtime import types as _types

SQL_TYPES = _types.SQL_TYPES


def _split(types):
    """A comma-separated type list, commas inside parentheses or brackets kept (DECIMAL(10,2))."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(types):
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth > 0:
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(types[start:i])
            start = i + 1
    return out + [types[start:]]


def _normalise(types, what):
    if isinstance(types, str):
        types = _split(types)
    out = []
    for t in types:
        sql_type = _types.lookup(t)
        if sql_type is None:
            raise ValueError(f"unknown {what} type {str(t).strip()!r} (supported: {', '.join(SQL_TYPES)})")
        out.append(sql_type.name)
    return out


def function(args, returns, name=None):
    """Marks a function or class as an IMLane AI function with declared SQL types.

    args: list of SQL type names (or one comma-separated string), one per argument column.
    returns: a SQL type name, or a list of them for several result columns.
    name: the SQL name it is usually registered under (informational).

    A class is instantiated once per executor (its __init__ builds the model context) and then
    called once per batch; a plain function is called once per batch.
    """
    arg_types = _normalise(args, "argument")
    return_types = _normalise(returns, "return")
    if not return_types:
        raise ValueError("an AI function returns at least one column")

    def mark(obj):
        if isinstance(obj, type):
            if "__call__" not in vars(obj) and not any("__call__" in vars(b) for b in obj.__mro__[1:-1]):
                raise TypeError(f"class {obj.__name__} needs a __call__(self, *columns) method")
        elif not callable(obj):
            raise TypeError("@imlane.function applies to a function or a class")
        obj.__imlane_function__ = {"args": arg_types, "returns": return_types,
                                   "name": name or getattr(obj, "__name__", None)}
        return obj

    return mark


def signature_of(obj):
    """(argument types, return types) declared with @imlane.function, or None."""
    info = getattr(obj, "__imlane_function__", None)
    return None if info is None else (list(info["args"]), list(info["returns"]))
