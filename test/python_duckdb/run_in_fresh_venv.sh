#!/usr/bin/env bash
# Runs test/python_duckdb as a new user would: a fresh virtualenv of Debian's Python 3.11 (seeing
# Debian's numpy, pandas, scikit-learn, pytest), `pip install` of the pinned duckdb and of the imlane
# package, then pytest with that venv and no PYTHONPATH, so the installed package is the one tested.
#   run_in_fresh_venv.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
venv=$build/python-duckdb-venv
rm -rf "$venv"
/usr/bin/python3 -m venv --system-site-packages "$venv"
pip=("$venv/bin/python" -m pip install -q --no-input --disable-pip-version-check)
"${pip[@]}" -r "$src/requirements/duckdb.txt"
IMLANE_BUILD_DIR=$build "${pip[@]}" --no-build-isolation --no-deps "$src/contrib/pythonpkg"
rm -rf "$src/contrib/pythonpkg/build" "$src/contrib/pythonpkg/"*.egg-info
cd "$build"
exec env -u PYTHONPATH IMLANE_BUILD_DIR="$build" IMLANE_EXPECT_PREFIX="$venv" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$src/test/python_duckdb"
