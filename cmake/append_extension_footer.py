#!/usr/bin/env python3
"""Appends DuckDB's 512-byte extension metadata footer to a freshly linked extension.

    append_extension_footer.py FILE --platform linux_amd64 --duckdb-version v1.4.4 --extension-version v0.1.0

Layout (DuckDB 1.4): 8 fields of 32 bytes, NUL-padded, then a 256-byte signature (all zeros: the
extension is unsigned, so loading it needs allow_unsigned_extensions). DuckDB reads the fields from
the last one: field 7 the magic "4", 6 the platform, 5 the DuckDB version, 4 the extension version,
3 the ABI type "CPP", 0-2 empty. Run once per link (the linker writes a new file each time); a file
that already ends in a footer is refused rather than given a second one.
"""
import argparse
import sys

FIELD = 32
SIGNATURE = 256


def field(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > FIELD:
        sys.exit(f"append_extension_footer.py: {value!r} is longer than {FIELD} bytes")
    return raw.ljust(FIELD, b"\0")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--platform", required=True)
    p.add_argument("--duckdb-version", required=True)
    p.add_argument("--extension-version", required=True)
    p.add_argument("--abi", default="CPP")
    a = p.parse_args()
    fields = [b"", b"", b"", a.abi, a.extension_version, a.duckdb_version, a.platform, "4"]
    footer = b"".join(field(f.decode() if isinstance(f, bytes) else f) for f in fields)
    footer += b"\0" * SIGNATURE
    with open(a.file, "r+b") as f:
        f.seek(0, 2)
        if f.tell() >= len(footer):
            f.seek(-len(footer), 2)
            tail = f.read(8 * FIELD)
            if tail[7 * FIELD:7 * FIELD + 1] == b"4" and tail[7 * FIELD + 1:8 * FIELD] == b"\0" * (FIELD - 1):
                sys.exit(f"append_extension_footer.py: {a.file} already has a footer")
        f.seek(0, 2)
        f.write(footer)


if __name__ == "__main__":
    main()
