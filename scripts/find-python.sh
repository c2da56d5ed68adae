#!/usr/bin/env bash
# Print the path of a working Python X.Y, or nothing (exit 1): scripts/find-python.sh 3.12
#
# `make install` (the default pair, py312) needs a Python 3.12 beside the machine's default one. Where it lives
# differs: on PATH as python3.12, or installed through pyenv, whose python3.12 shim is on PATH but
# fails unless that version is selected. So each candidate is run and its version checked, rather
# than trusted by name; pyenv's own versions folder is searched last (newest patch release first).
set -uo pipefail
want="${1:?usage: find-python.sh X.Y}"

works() {
    "$1" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" \
        >/dev/null 2>&1
}

candidates=()
command -v "python$want" >/dev/null 2>&1 && candidates+=("$(command -v "python$want")")
root="${PYENV_ROOT:-$HOME/.pyenv}"
if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root 2>/dev/null || echo "$root")"
fi
while IFS= read -r dir; do
    candidates+=("$dir/bin/python$want")
done < <(ls -d "$root/versions/$want".* 2>/dev/null | sort -Vr)

for py in "${candidates[@]}"; do
    if works "$py"; then
        # A pyenv shim works only while its version is selected: report the real interpreter.
        "$py" -c 'import sys; print(sys.executable)'
        exit 0
    fi
done
exit 1
