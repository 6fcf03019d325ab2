"""The Python type table (imlane._runtime.types) against the C++ one, read from the C++ sources.

Ids come from `enum class TypeId` in include/imlane/types.h, canonical names from TypeName() and
aliases from ParseType()'s table in src/common/types.cpp. $IMLANE_SOURCE_DIR (set by ctest) names
the source tree; without it the tree this file lives in is used.
"""
import os
import re

import pytest

import imlane
from imlane._runtime import types
from imlane.function import _normalise

SOURCE_DIR = os.environ.get("IMLANE_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _read(rel):
    with open(os.path.join(SOURCE_DIR, rel)) as f:
        return f.read()


def _strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _block(text, start_pattern, what):
    """The text between the `{` that ends start_pattern and its matching `}`."""
    m = re.search(start_pattern, text)
    assert m, f"{what} not found (pattern {start_pattern!r}): update this test to the C++ source"
    depth, i = 1, m.end()
    while depth:
        assert i < len(text), f"{what}: no closing brace"
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end():i - 1]


def cpp_enum():
    """{"kBoolean": 1, ...} from `enum class TypeId`, implicit values included."""
    body = _block(_strip_comments(_read("include/imlane/types.h")), r"enum\s+class\s+TypeId\s*(?::\s*\w+\s*)?\{",
                  "enum class TypeId")
    out, value = {}, 0
    for item in (s.strip() for s in body.split(",")):
        if not item:
            continue
        m = re.fullmatch(r"(k\w+)\s*(?:=\s*(0x[0-9a-fA-F]+|\d+))?", item)
        assert m, f"cannot read enumerator {item!r} of TypeId"
        value = int(m.group(2), 0) if m.group(2) else value + 1
        out[m.group(1)] = value
    assert out, "no enumerators in TypeId"
    return out


def _types_cpp():
    return _strip_comments(_read("src/common/types.cpp"))


def cpp_type_names():
    """{"kBoolean": "BOOLEAN", ...} from TypeName()."""
    body = _block(_types_cpp(), r"const\s+char\s*\*\s*TypeName\s*\(\s*TypeId\s+\w+\s*\)\s*\{", "TypeName()")
    pairs = re.findall(r"case\s+TypeId::(k\w+)\s*:\s*return\s+\"([^\"]*)\"\s*;", body)
    assert len(pairs) == body.count("case "), "a case of TypeName() was not understood"
    return dict(pairs)


def cpp_aliases():
    """[("BOOLEAN", "kBoolean"), ("BOOL", "kBoolean"), ...] from ParseType()'s table."""
    parse_type = _block(_types_cpp(), r"Result<TypeId>\s+ParseType\s*\([^)]*\)\s*\{", "ParseType()")
    table = _block(parse_type, r"kAliases\s*\[\s*\]\s*=\s*\{", "ParseType()'s kAliases")
    pairs = re.findall(r"\{\s*\"([^\"]*)\"\s*,\s*TypeId::(k\w+)\s*\}", table)
    assert pairs and len(pairs) == table.count("TypeId::"), "an entry of kAliases was not understood"
    return pairs


def test_ids_equal_the_cpp_enum():
    enum = cpp_enum()
    assert sorted(t.id for t in types.TABLE) == sorted(enum.values())
    for enumerator, value in enum.items():
        # kInt32 -> types.INT32, kBoolean -> types.BOOLEAN
        assert getattr(types, enumerator[1:].upper()) == value, enumerator
        assert types.BY_ID[value].id == value


def test_names_equal_cpp_type_name():
    enum, names = cpp_enum(), cpp_type_names()
    assert set(names) == set(enum), "TypeName() should name every TypeId"
    assert {enum[e]: n for e, n in names.items()} == types.TYPE_NAMES
    assert types.SQL_TYPES == tuple(names[e] for e in sorted(enum, key=enum.get))
    assert imlane.SQL_TYPES == types.SQL_TYPES


def test_every_cpp_alias_parses_the_same_in_python():
    enum, names = cpp_enum(), cpp_type_names()
    for alias, enumerator in cpp_aliases():
        for spelling in (alias, alias.lower(), f"  {alias.title()}\t"):  # ParseType trims and ignores case
            t = types.lookup(spelling)
            assert t is not None, f"{spelling!r} is accepted by ParseType but not in Python"
            assert t.id == enum[enumerator], spelling
            assert _normalise([spelling], "argument") == [names[enumerator]]
    assert _normalise("int, TEXT ,double precision", "argument") == ["INTEGER", "VARCHAR", "DOUBLE"]


def test_python_accepts_no_name_that_cpp_rejects():
    cpp = {alias for alias, _ in cpp_aliases()}
    python = {n for t in types.TABLE for n in (t.name,) + t.aliases}
    assert python == cpp
    for unknown in ("BLOB", "HUGEINT", "DOUBLEPRECISION", ""):
        assert types.lookup(unknown) is None
        with pytest.raises(ValueError, match="unknown argument type"):
            _normalise([unknown], "argument")
