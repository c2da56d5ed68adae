#!/usr/bin/env bash
# The GPU path, end to end, on a machine with an NVIDIA GPU: build aihwkit with CUDA for this
# machine's GPU architecture only, then `aimc doctor`, the CPU-vs-CUDA benchmark and the digits
# recipe on cuda (one run, and a 2-worker sweep), with every result written under $OUT.
#
#   scripts/gpu-check.sh [--out DIR] [--sdist FILE] [--wheelhouse DIR] [--venv DIR]
#                        [--python PY] [--phase all|build|run] [--dry-run]
#   scripts/gpu-check.sh --prepare DIR [--python-version 3.12] [--skip numpy ...]
#                                          # on a machine with an index: the wheelhouse
#
# The GPU machine needs: nvidia-smi, nvcc (CUDA toolkit), a C++ compiler, OpenBLAS
# (libopenblas-dev; installed with apt-get when possible), and a Python whose torch is a CUDA
# build for the same CUDA major version as nvcc. aihwkit is compiled against *that* torch: the
# environment ($VENV, default .venv-gpu) is created with --system-site-packages to reuse it.
# Without a package index, run `--prepare DIR` on a machine that has one, carry DIR there and
# pass `--wheelhouse DIR`: it holds aihwkit's sdist and wheels for the target Python of
# what the build and the checks import (scikit-build, pybind11, pluggy, click, tqdm, numpy,
# scikit-learn and scipy for the digits data: about 62 MB for CPython 3.12; `--skip numpy`
# leaves out what the GPU machine's Python already has). No plots are drawn there (no matplotlib).
# The project itself is not installed: it runs from this checkout (PYTHONPATH).
#
# The build resumes: it happens in place in $VENV/aihwkit-src, so `--phase build` cut short by a
# time limit continues where it stopped when run again on the same machine. Building one architecture:
# its time is not measured yet (no GPU machine was lent so far; docs/install.md).
# --dry-run prints every command (and checks the script's own logic) without a GPU.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/gpu-check-out}"
VENV="${VENV:-$ROOT/.venv-gpu}"
PYTHON="${PYTHON:-python3}"
AIHWKIT_VERSION="${AIHWKIT_VERSION:-1.2.0}"
SDIST=""
WHEELHOUSE=""
PHASE=all
DRY=0
PREPARE=""
PY_VERSION=3.12
SKIP=()

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) OUT="$2"; shift 2 ;;
        --sdist) SDIST="$2"; shift 2 ;;
        --wheelhouse) WHEELHOUSE="$2"; shift 2 ;;
        --venv) VENV="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --phase) PHASE="$2"; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        --prepare) PREPARE="$2"; shift 2 ;;
        --python-version) PY_VERSION="$2"; shift 2 ;;
        --skip) SKIP+=("$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$PHASE" in all|build|run) ;; *) echo "gpu-check: --phase all, build or run" >&2; exit 2 ;; esac

say() { echo "gpu-check: $*"; }
run() {
    if [[ $DRY == 1 ]]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}
# run CMD..., stdout also into $OUT/NAME (the first argument)
run_to() {
    local name="$1"; shift
    if [[ $DRY == 1 ]]; then
        printf '+'; printf ' %q' "$@"; printf ' > %q\n' "$OUT/$name"
    else
        "$@" 2>&1 | tee "$OUT/$name"
        return "${PIPESTATUS[0]}"
    fi
}

# Packages the build and the checks import, beyond torch (which must come with the machine).
RUNTIME=(pluggy click tqdm numpy scikit-learn)
BUILD=(setuptools wheel "scikit-build>=0.18.1" "pybind11>=3.0.1")

fetch_sdist() {  # DIR: aihwkit's sdist from the package index (its simple API), hash-checked
    "${PYTHON}" - "$1" "$AIHWKIT_VERSION" <<'EOF'
import hashlib, json, os, sys, urllib.request
target, version = sys.argv[1], sys.argv[2]
index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
request = urllib.request.Request(f"{index}/aihwkit/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(request, timeout=60))["files"]
(entry,) = [f for f in files if f["filename"] == f"aihwkit-{version}.tar.gz"]
data = urllib.request.urlopen(entry["url"], timeout=300).read()
assert hashlib.sha256(data).hexdigest() == entry["hashes"]["sha256"], "sha256 mismatch"
path = os.path.join(target, entry["filename"])
open(path, "wb").write(data)
print(f"gpu-check: {path} ({len(data)} bytes, sha256 ok)")
EOF
}

if [[ -n "$PREPARE" ]]; then
    say "wheelhouse for CPython $PY_VERSION, manylinux x86_64, into $PREPARE"
    run mkdir -p "$PREPARE"
    WANTED=()
    for package in "${BUILD[@]}" "${RUNTIME[@]}"; do
        [[ " ${SKIP[*]} " == *" ${package%%>*} "* ]] || WANTED+=("$package")
    done
    run "$PYTHON" -m pip download --only-binary :all: --python-version "$PY_VERSION" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
        --platform linux_x86_64 -d "$PREPARE" "${WANTED[@]}"
    if [[ $DRY == 1 ]]; then
        run fetch_sdist "$PREPARE"
    else
        fetch_sdist "$PREPARE"
        du -sh "$PREPARE"
    fi
    exit 0
fi

run mkdir -p "$OUT"

# --- facts --------------------------------------------------------------------------------
ARCH="${RPU_CUDA_ARCHITECTURES:-}"
if command -v nvidia-smi >/dev/null; then
    [[ -n "$ARCH" ]] || ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader \
        | tr -d ' .' | sort -u | paste -sd';' -)
    [[ $DRY == 1 ]] || nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total \
        --format=csv | tee "$OUT/gpus.csv"
elif [[ $DRY == 1 ]]; then
    ARCH="${ARCH:-90}"
    say "dry run without nvidia-smi: assuming compute capability 9.0 (architecture $ARCH)"
else
    say "no nvidia-smi here: this check needs a machine with an NVIDIA GPU." >&2
    exit 3
fi
if [[ $DRY == 0 ]]; then
    {
        echo "compute architectures: $ARCH"
        command -v nvcc >/dev/null && nvcc --version | tail -n 2
        "$PYTHON" -c "import sys, torch; print('python', sys.version.split()[0]); \
print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available', torch.cuda.is_available())"
    } 2>&1 | tee "$OUT/facts.txt"
    nvcc_major=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
    torch_major=$("$PYTHON" -c "import torch; print((torch.version.cuda or '').split('.')[0])")
    if [[ -z "$torch_major" ]]; then
        say "the torch of $PYTHON is not a CUDA build: aihwkit's CUDA core must be built against \
a CUDA torch (pip install torch for your CUDA, or PYTHON=... a Python that has one)." >&2
        exit 3
    fi
    if [[ -n "$nvcc_major" && "$nvcc_major" != "$torch_major" ]]; then
        say "WARNING: nvcc is CUDA $nvcc_major, torch was built for CUDA $torch_major: \
the build may fail to link or load; use the CUDA toolkit that matches torch." | tee -a "$OUT/facts.txt"
    fi
fi

# --- environment --------------------------------------------------------------------------
PY="$VENV/bin/python"
PIP_INDEX=()
if [[ -n "$WHEELHOUSE" ]]; then
    PIP_INDEX=(--no-index --find-links "$WHEELHOUSE")
    export PIP_FIND_LINKS="$WHEELHOUSE"
    [[ -n "$SDIST" ]] || SDIST=$(ls "$WHEELHOUSE"/aihwkit-"$AIHWKIT_VERSION".tar.gz 2>/dev/null || true)
fi
if [[ -z "$SDIST" ]]; then
    SDIST="$VENV/aihwkit-$AIHWKIT_VERSION.tar.gz"
    if [[ $DRY == 1 ]]; then
        run fetch_sdist "$VENV"
    elif [[ ! -f "$SDIST" ]]; then
        mkdir -p "$VENV" && fetch_sdist "$VENV"
    fi
fi
if [[ ! -x "$PY" ]]; then
    run "$PYTHON" -m venv --system-site-packages "$VENV"  # the machine's CUDA torch
fi

if [[ $PHASE != run ]]; then
    say "Python packages (those already on the machine are kept)"
    run "$PY" -m pip install -q "${PIP_INDEX[@]}" "${BUILD[@]}" "${RUNTIME[@]}"
    say "building aihwkit $AIHWKIT_VERSION with CUDA for architecture(s) $ARCH"
    BUILD_ARGS=(--venv "$VENV" --constraints "" --cuda --cuda-arch "$ARCH" --sdist "$SDIST" --no-deps)
    [[ -n "$WHEELHOUSE" ]] && BUILD_ARGS+=(--offline)
    [[ $DRY == 1 ]] && BUILD_ARGS+=(--dry-run)
    start=$SECONDS
    if [[ $DRY == 1 ]]; then
        "$ROOT/scripts/build-aihwkit.sh" "${BUILD_ARGS[@]}"
    else
        status=0
        "$ROOT/scripts/build-aihwkit.sh" "${BUILD_ARGS[@]}" 2>&1 | tee "$OUT/build.txt" \
            || status=$?
        cp "$VENV/aihwkit-build.log" "$OUT/aihwkit-build.log" 2>/dev/null || true
        echo "build wall time: $((SECONDS - start)) s (this call; a resumed build adds up)" \
            | tee -a "$OUT/build.txt"
        [[ $status == 0 ]] || exit "$status"
    fi
fi
[[ $PHASE == build ]] && exit 0

# --- checks -------------------------------------------------------------------------------
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
AIMC=("$PY" -c "from aimc_plugins.cli import main; main()")
cd "$ROOT"
failed=0
check() { run_to "$@" || { failed=$((failed + 1)); say "FAILED: $*"; }; }
check doctor.txt "${AIMC[@]}" doctor
check doctor.json "${AIMC[@]}" doctor --json
check benchmark-paper-batch.md "$PY" benchmarks/accelerators.py --json "$OUT/benchmark-paper-batch.json"
check benchmark-batch-128.md "$PY" benchmarks/accelerators.py --batch 128 --json "$OUT/benchmark-batch-128.json"
for accelerator in cuda cpu; do
    check "digits-$accelerator.jsonl" "$PY" recipes/digits_mlp.py --device ReRamSB --optimizer sgd \
        --epochs 5 --accelerator "$accelerator" --json
done
check sweep-cuda.txt "${AIMC[@]}" compare --recipe digits-mlp --device ReRamSB --device Idealized \
    --optimizer sgd --seeds 2 --epochs 3 --accelerator cuda --workers 2 --no-report \
    --out "$OUT/sweep-cuda"
if "$PY" -c "import pytest" 2>/dev/null; then
    check pytest.txt "$PY" -m pytest -q -p no:cacheprovider tests/test_build_info.py \
        tests/test_accelerators.py
fi
say "results in $OUT ($failed check(s) failed)"
[[ $failed == 0 ]]
