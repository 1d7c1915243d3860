#!/usr/bin/env bash
# Create .venv/<name> with Python 3.10 and install the pinned lock file into it.
set -euo pipefail
name="$1"; lock="$2"
venv=".venv/$name"

find_python() {
  for candidate in python3.10 "$HOME/.pyenv/versions/3.10.13/bin/python3.10" /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

if ! py=$(find_python); then
  cat >&2 <<MSG
ERROR: Python 3.10 is needed (Rasa 3.6 supports Python 3.8-3.10) and none was found.
       Install it, e.g. 'pyenv install 3.10.13' (this project's .python-version names it),
       or your distribution's python3.10 package, then run make again.
MSG
  exit 1
fi
echo "==> creating the $name environment in $venv with $py (a few minutes the first time)"
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade 'pip<27' 'setuptools==70.3.0' 'wheel==0.45.1'
echo "==> installing $lock into $venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$lock"
touch "$venv/.installed"
echo "==> $name environment ready"
