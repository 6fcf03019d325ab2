#!/usr/bin/env bash
# Installs the Debian packages IMLane needs to build, test and run. Idempotent: when everything is
# present it prints nothing and touches no package list. Then DuckDB from npm (cmake/fetch_duckdb.sh)
# and the project virtualenv .venv/ from requirements/*.txt (cmake/setup_venv.sh).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  python3-dev libpython3.11-dev python3-numpy python3-pip python3-setuptools python3-venv
  pybind11-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libedit-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  graphviz python3-pandas python3-sklearn python3-pytest
  clang libclang-rt-14-dev clang-format clang-tidy python3-cloudpickle
  python3-scipy python3-xgboost python3-torch python3-statsmodels python3-matplotlib
  python3-cairo  # pygobject (pulled in by matplotlib) requires it: without it `pip check` fails
  postgresql-15 postgresql-plpython3-15 postgresql-server-dev-15
  npm
)

missing=()
for p in "${PACKAGES[@]}"; do
  # npm may come with a Node.js installed outside Debian's packages: any npm on PATH will do.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  "$(dirname "$0")/cmake/fetch_duckdb.sh"
  exec "$(dirname "$0")/cmake/setup_venv.sh"
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install_deps.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

"$(dirname "$0")/cmake/fetch_duckdb.sh"
exec "$(dirname "$0")/cmake/setup_venv.sh"
