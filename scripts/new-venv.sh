#!/usr/bin/env bash
# Create a pair's venv with the Python it needs, or fail with one line saying what is missing:
#   scripts/new-venv.sh PYTHON X.Y VENV WHAT
# Called by `make install`: PYTHON is what scripts/find-python.sh found (empty when nothing was)
# or what the user passed; WHAT names the choice that needs X.Y (e.g. PAIR=py312) in the message.
set -euo pipefail
python="$1" want="$2" venv="$3" what="$4"
if [[ -z "$python" ]]; then
    echo "make: $what needs Python $want: no python$want on PATH or in pyenv's versions; install it (e.g. pyenv install $want) or pass PYTHON=/path/to/python$want" >&2
    exit 1
fi
have="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
if [[ "$have" != "$want" ]]; then
    echo "make: $what needs Python $want, and PYTHON=$python is ${have:-not a working Python}" >&2
    exit 1
fi
"$python" -m venv "$venv"
