#!/usr/bin/env bash
# Installs IMLane into a scratch prefix, builds demo/cpp_example against it with find_package(imlane),
# and runs it on a private coordinator socket.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d /tmp/imlane-install-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/demo/cpp_example" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/example" >/dev/null
test -x "$work/prefix/bin/imlane" && test -x "$work/prefix/bin/imlane-executor"
test -f "$work/prefix/share/imlane/python/imlane/_runtime/__init__.py"
IMLANE_SOCKET="$work/imlane.sock" "$work/example/cpp_example" --rows 1000000 --executors 2 \
  --model "$source_dir/demo/cpp_example/model.py" | tee "$work/out.txt"
grep -q "2 executor(s)" "$work/out.txt"
grep -q "all 1000000 results checked: OK" "$work/out.txt"
test ! -e "$work/imlane.sock"  # the embedded coordinator exited with its last client
