#!/usr/bin/env bash
# Makes the project virtualenv .venv/ (git-ignored) at the repository root and fills it from the
# pinned requirement files requirements/*.txt. --system-site-packages keeps Debian's numpy,
# scikit-learn, torch visible. Idempotent: quiet and without network access when .venv/ already holds
# what the requirement files (compared by sha256) ask for. Never installs into the system Python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
stamp=$venv/.requirements.sha256
shopt -s nullglob
reqs=("$root"/requirements/*.txt)
want=$(cd "$root" && sha256sum requirements/*.txt 2>/dev/null || true)
[ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
if [ ! -x "$venv/bin/python" ]; then
  echo "setup_venv.sh: creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
for r in "${reqs[@]}"; do
  echo "setup_venv.sh: pip install -r ${r#"$root"/}"
  "$venv/bin/python" -m pip install --no-input -q --disable-pip-version-check -r "$r"
done
printf '%s\n' "$want" > "$stamp.tmp"
mv "$stamp.tmp" "$stamp"
