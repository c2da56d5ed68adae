#!/usr/bin/env bash
# Build aihwkit from its source distribution against the torch in a virtual environment, on the
# CPU (default) or with CUDA, and install it there. `make install AIHWKIT=source` calls this, then
# installs the project into the same environment with constraints/source-cpu.txt.
#
#   scripts/build-aihwkit.sh [--venv DIR] [--python PY] [--constraints FILE] [--sdist FILE|DIR]
#                            [--cuda] [--cuda-arch "90"] [--offline] [--no-deps] [--force]
#                            [--dry-run]
#
# What it needs and does, in order (docs/install.md has the measured times):
#   1. OpenBLAS headers and library (Debian: libopenblas-dev) and a C++17 compiler. Installed
#      with apt-get when missing and this user may (root, or sudo without a password); otherwise
#      it stops and names the package for your distribution.
#   2. DIR (default .venv-source) is created if missing, and torch is installed there from the
#      constraints file (default constraints/source-cpu.txt: torch 2.13.0; --constraints '' keeps
#      the torch already there). The aihwkit core is compiled against exactly this torch.
#   3. The build tools aihwkit's pyproject names (scikit-build, cmake, pybind11, ninja, mypy for
#      stubgen), then `pip install --no-build-isolation --no-cache-dir aihwkit==VERSION`, so the
#      build sees the environment's torch rather than a fresh one, and no wheel cached from a build
#      against another torch is reused. With --sdist, the archive is unpacked into DIR/aihwkit-src
#      and built there in place: an interrupted build resumes where it stopped (CMake/ninja).
#   With --cuda: USE_CUDA=ON and RPU_CUDA_ARCHITECTURES (default: the architectures of the GPUs
#   nvidia-smi sees, e.g. "90" on an H100/H200); nvcc must be on PATH and the environment's torch
#   must be a CUDA build for the same CUDA major version.
#   --offline: no package index; what is missing must be found in PIP_FIND_LINKS (a wheelhouse).
#   --no-deps: install aihwkit without its Python dependencies (check them yourself).
#   --dry-run prints the commands instead of running them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-.venv-source}"
PYTHON="${PYTHON:-python3}"
CONSTRAINTS="${CONSTRAINTS-$ROOT/constraints/source-cpu.txt}"
AIHWKIT_VERSION="${AIHWKIT_VERSION:-1.2.0}"
SDIST=""
CUDA=0
CUDA_ARCH="${RPU_CUDA_ARCHITECTURES:-}"
OFFLINE=0
NO_DEPS=0
FORCE=0
DRY=0

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --venv) VENV="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --constraints) CONSTRAINTS="$2"; shift 2 ;;
        --sdist) SDIST="$2"; shift 2 ;;
        --version) AIHWKIT_VERSION="$2"; shift 2 ;;
        --cuda) CUDA=1; shift ;;
        --cuda-arch) CUDA_ARCH="$2"; CUDA=1; shift 2 ;;
        --offline) OFFLINE=1; shift ;;
        --no-deps) NO_DEPS=1; shift ;;
        --force) FORCE=1; shift ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-aihwkit: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

PY="$VENV/bin/python"
PIP_OPTS=()
[[ -n "$CONSTRAINTS" ]] && PIP_OPTS+=(-c "$CONSTRAINTS")
[[ $OFFLINE == 1 ]] && PIP_OPTS+=(--no-index)

say() { echo "build-aihwkit: $*"; }
run() {
    if [[ $DRY == 1 ]]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}
die() { echo "build-aihwkit: ERROR: $*" >&2; exit 1; }

# --- 1. system packages --------------------------------------------------------------------
have_openblas() {
    local dir
    for dir in /usr/include /usr/include/*-linux-gnu /usr/include/openblas \
        /usr/include/*-linux-gnu/openblas* /usr/local/include /opt/homebrew/opt/openblas/include \
        ${OpenBLAS_HOME:+"$OpenBLAS_HOME/include"}; do
        [[ -f "$dir/cblas.h" || -f "$dir/openblas_config.h" ]] && return 0
    done
    return 1
}

openblas_help() {
    cat >&2 <<'EOF'
build-aihwkit: aihwkit's C++ core needs OpenBLAS (headers and library), and it is not installed.
  Debian / Ubuntu:  sudo apt-get install libopenblas-dev
  Fedora / RHEL:    sudo dnf install openblas-devel
  Arch:             sudo pacman -S openblas
  conda:            conda install -c conda-forge openblas
  macOS:            brew install openblas   (then: export OpenBLAS_HOME=$(brew --prefix openblas))
Then run this script again.
EOF
}

if ! have_openblas; then
    if [[ $DRY == 1 ]]; then
        run apt-get install -y libopenblas-dev
    elif command -v apt-get >/dev/null && [[ $OFFLINE == 0 ]]; then
        SUDO=()
        if [[ $(id -u) != 0 ]]; then
            if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
                SUDO=(sudo -n)
            else
                openblas_help
                die "no root rights to run apt-get here (and sudo asks for a password)."
            fi
        fi
        say "installing libopenblas-dev with apt-get"
        "${SUDO[@]}" apt-get update -qq || true
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq libopenblas-dev \
            >/dev/null || { openblas_help; die "apt-get install libopenblas-dev failed."; }
    else
        openblas_help
        die "OpenBLAS missing."
    fi
fi
command -v c++ >/dev/null || command -v g++ >/dev/null \
    || die "no C++ compiler (Debian: apt-get install g++; Fedora: dnf install gcc-c++)."

if [[ $CUDA == 1 ]]; then
    command -v nvcc >/dev/null || [[ $DRY == 1 ]] \
        || die "--cuda: nvcc is not on PATH (install the CUDA toolkit, or export PATH=/usr/local/cuda/bin:\$PATH)."
    if [[ -z "$CUDA_ARCH" ]] && command -v nvidia-smi >/dev/null; then
        # "9.0" -> "90"; one entry per distinct GPU kind.
        CUDA_ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader \
            | tr -d ' .' | sort -u | paste -sd';' -)
    fi
    [[ -n "$CUDA_ARCH" ]] || die "--cuda: no GPU seen by nvidia-smi; name the architectures \
with --cuda-arch (e.g. \"80;90\" for A100 and H100/H200, \"89\" for L4/L40, \"120\" for RTX 50xx)."
fi

# --- 2. environment and torch --------------------------------------------------------------
if [[ ! -x "$PY" ]]; then
    say "creating $VENV with $PYTHON"
    run "$PYTHON" -m venv "$VENV"
    [[ $OFFLINE == 1 ]] || run "$PY" -m pip install -q --upgrade pip
fi

if [[ $FORCE == 0 && $DRY == 0 ]] && "$PY" - "$AIHWKIT_VERSION" "$CUDA" <<'EOF' 2>/dev/null; then
import sys, importlib.metadata as md
from aihwkit.simulator import rpu_base
assert md.version("aihwkit").split("+")[0] == sys.argv[1]
assert bool(rpu_base.cuda.is_compiled()) == (sys.argv[2] == "1")
EOF
    say "aihwkit $AIHWKIT_VERSION is already built in $VENV (--force rebuilds it)"
    exit 0
fi

say "torch into $VENV (${CONSTRAINTS:-no constraints: the torch already there})"
run "$PY" -m pip install -q "${PIP_OPTS[@]}" torch
say "build tools"
TOOLS=(setuptools wheel "scikit-build>=0.18.1" "pybind11>=3.0.1")
# Offline (a GPU machine without an index), CMake, ninja and stubgen already on PATH are used;
# otherwise the versions aihwkit's pyproject asks for come from the index.
for tool in "cmake>=3.18:cmake" "ninja:ninja" "mypy:stubgen"; do
    if [[ $OFFLINE == 0 ]] || ! command -v "${tool#*:}" >/dev/null; then
        TOOLS+=("${tool%%:*}")
    fi
done
run "$PY" -m pip install -q "${PIP_OPTS[@]}" "${TOOLS[@]}"

# --- 3. aihwkit ----------------------------------------------------------------------------
export PATH="$VENV/bin:$PATH"  # cmake, ninja and stubgen from the environment
if [[ $CUDA == 1 ]]; then
    export USE_CUDA=ON
    export CMAKE_ARGS="${CMAKE_ARGS:-} -DRPU_CUDA_ARCHITECTURES=$CUDA_ARCH"
    say "CUDA build for architectures $CUDA_ARCH (nvcc: $(command -v nvcc || echo '?'))"
else
    export USE_CUDA=OFF
fi
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
TARGET="aihwkit==$AIHWKIT_VERSION"
if [[ -n "$SDIST" ]]; then
    if [[ -d "$SDIST" ]]; then
        TARGET="$SDIST"
    else
        SRC="$VENV/aihwkit-src"
        TARGET="$SRC/$(basename "$SDIST" .tar.gz)"
        if [[ ! -f "$TARGET/setup.py" ]]; then
            run mkdir -p "$SRC"
            run tar -xzf "$SDIST" -C "$SRC"
        fi
    fi
fi
INSTALL=("$PY" -m pip install -v "${PIP_OPTS[@]}" --no-build-isolation --no-cache-dir)
[[ $NO_DEPS == 1 ]] && INSTALL+=(--no-deps)
LOG="$VENV/aihwkit-build.log"
say "building $TARGET (CPU: about 6 minutes on 2 idle cores; log: $LOG)"
start=$SECONDS
if [[ $DRY == 1 ]]; then
    run env USE_CUDA="$USE_CUDA" CMAKE_ARGS="${CMAKE_ARGS:-}" "${INSTALL[@]}" "$TARGET"
    exit 0
fi
if ! "${INSTALL[@]}" "$TARGET" >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    die "the aihwkit build failed; the whole log is $LOG"
fi
elapsed=$((SECONDS - start))
"$PY" - <<'EOF'
import importlib.metadata as md
import torch
from aihwkit.simulator import rpu_base
print(f"build-aihwkit: aihwkit {md.version('aihwkit')} against torch {torch.__version__}, "
      f"CUDA compiled: {bool(rpu_base.cuda.is_compiled())}")
EOF
say "built and installed in $((elapsed / 60)) min $((elapsed % 60)) s"
