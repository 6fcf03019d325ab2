#!/usr/bin/env bash
# imlane-duckdb already has IMLane; LOADing imlane.duckdb_extension into it must change nothing:
# the second registration is skipped, functions and queries keep working, a second LOAD is a no-op.
#   extension_in_shell_test.sh IMLANE_DUCKDB EXTENSION_FILE
set -euo pipefail
shell=$1
ext=$2
dir=$(mktemp -d /tmp/imlane-ext-shell-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export IMLANE_SOCKET=$dir/imlane.sock

# Without --unsigned the shell refuses the unsigned extension, with DuckDB's message.
if "$shell" -c "LOAD '$ext';" >"$dir/out0" 2>"$dir/err0"; then
  echo "FAIL: LOAD of an unsigned extension succeeded without --unsigned" >&2
  exit 1
fi
grep -q "allow_unsigned_extensions" "$dir/err0" || { cat "$dir/err0" >&2; exit 1; }

status=0
"$shell" --unsigned >"$dir/out" 2>"$dir/err" <<SQL || status=$?
CALL imlane_create_function('lin', 'def pyfun(a, b):
    return a * 2 + b
', 'DOUBLE, DOUBLE', 'DOUBLE');
LOAD '$ext';
LOAD '$ext';
LOAD imlane;
SELECT name AS fn FROM imlane_functions();
SELECT sum(lin(range::DOUBLE, 1.0)) AS total FROM range(3000);
SELECT count(*) AS n FROM range(3000) WHERE lin(range::DOUBLE, 0.5) > 1000;
SELECT count(*) AS settings FROM duckdb_settings() WHERE name LIKE 'imlane_%';
SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'imlane';
SQL
fail() {
  echo "FAIL: $1" >&2
  echo "--- stdout" >&2; cat "$dir/out" >&2
  echo "--- stderr" >&2; cat "$dir/err" >&2
  exit 1
}
[ $status -eq 0 ] || fail "imlane-duckdb exited with $status"
[ ! -s "$dir/err" ] || fail "errors on stderr"
grep -q "│ lin " "$dir/out" || fail "imlane_functions() lost 'lin'"
# sum(2 * i + 1) for i < 3000 = 3000^2; 2 * i + 0.5 > 1000 for i >= 500: 2500 rows; eight settings.
grep -q "9000000" "$dir/out" || fail "sum(lin(...)) is not 9000000"
grep -q "│ *2500 *│" "$dir/out" || fail "WHERE lin(...) > 1000 did not select 2500 rows"
grep -q "│ *8 *│" "$dir/out" || fail "not exactly eight imlane_* settings"
grep -q "│ true *│" "$dir/out" || fail "duckdb_extensions() does not show imlane loaded"
echo OK
