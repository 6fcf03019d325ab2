#!/usr/bin/env bash
# Fetches DuckDB 1.4.4 from the npm registry into third_party/duckdb (git-ignored): the C++ headers
# from the `duckdb` package and libduckdb.so from `@duckdb/node-bindings-linux-x64`. Both tarballs
# are checked against third_party/duckdb.sha256. Does nothing when they are already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/third_party/duckdb
[ -f "$dest/lib/libduckdb.so" ] && [ -f "$dest/include/duckdb.hpp" ] && exit 0
command -v npm >/dev/null || { echo "fetch_duckdb.sh: npm is missing (install_deps.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch_duckdb.sh: fetching duckdb@1.4.4 and @duckdb/node-bindings-linux-x64@1.4.4-r.4 from npm"
(cd "$work" && npm pack --silent duckdb@1.4.4 @duckdb/node-bindings-linux-x64@1.4.4-r.4 >/dev/null)
(cd "$work" && sha256sum --quiet -c "$root/third_party/duckdb.sha256") || {
  echo "fetch_duckdb.sh: checksum mismatch: refusing to use the downloaded DuckDB" >&2
  exit 1
}
mkdir -p "$work/headers" "$work/lib"
tar -xzf "$work/duckdb-1.4.4.tgz" -C "$work/headers" package/src/duckdb/src/include
tar -xzf "$work/duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz" -C "$work/lib" package/libduckdb.so
rm -rf "$dest"
mkdir -p "$dest/lib"
mv "$work/headers/package/src/duckdb/src/include" "$dest/include"
mv "$work/lib/package/libduckdb.so" "$dest/lib/libduckdb.so"
echo "fetch_duckdb.sh: DuckDB 1.4.4 ready in $dest"
