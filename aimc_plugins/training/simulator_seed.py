"""Seeding aihwkit's compiled random generators, which its Python API leaves unseeded.

aihwkit 1.1.0's C++ core (``rpu_base``) seeds every generator it creates (the tile's Gaussian
table and fast generator, its "real-world" generator, device-to-device draws without a
``construction_seed``) from ``std::chrono::high_resolution_clock`` whenever the seed is 0, and its
Python bindings never pass anything else. So two runs with the same ``torch.manual_seed`` differ:
the cycle-to-cycle noise, the stochastic pulse trains and the read noise all start from the clock.

The options investigated, and why this module takes the one it takes:

- ``srand`` from Python after the tiles exist: too late, each generator was already seeded from
  the clock, and every copy of a tile (``deepcopy``, pickling to a worker) reseeds from it again.
- A source-built aihwkit exposing ``RPUSimple::setRandomSeed``: the cleanest, but not the wheel
  everyone installs, and it still leaves copies reseeding from the clock.
- ``LD_PRELOAD`` of a fake clock (libfaketime or a shim of our own): needs a compiler or a system
  package, must be set before the interpreter starts, and fakes the clock of torch and Python too.
- **Rebinding the clock of ``rpu_base`` alone** (chosen). ``rpu_base`` calls
  ``std::chrono::system_clock::now`` through its procedure linkage table, i.e. through one pointer
  in its global offset table. Pointing that slot at C's ``rand`` turns every "read the clock" of
  aihwkit's core, and of aihwkit's core only, into a draw from C's generator; seeding that
  generator with the run's seed before the model is built makes every generator aihwkit creates
  a function of the seed. ``rand`` is native code, so no Python callback runs inside aihwkit
  (no GIL to take in OpenMP threads), and it is thread-safe. aihwkit's core only reads the clock
  to seed generators, so nothing it times is affected. Torch, Python and every other library
  keep the real clock.

The patch needs an ELF shared object on Linux whose clock import is a lazily bound, writable
slot (true of the 1.1.0 wheel: partial RELRO). Where any of that fails, :func:`seed_simulator`
returns ``False`` with the reason in :func:`status`, and callers record the run as not
deterministic instead of claiming what they cannot deliver. Runs are bitwise reproducible on the
CPU with one thread; several OpenMP threads may consume random numbers in a different order
(:mod:`aimc_plugins.training.determinism` records which a run had). aihwkit's CUDA generators
(the cuRAND states and the context's generator, ``src/rpucuda/cuda/cuda_util.cu``) take their
seeds on the host from the same clock, ``std::chrono::high_resolution_clock`` (libstdc++'s
``system_clock``) whenever the seed is 0, so the rebinding reaches them too; whether a CUDA run
then repeats bitwise has not been checked on a GPU (its kernels may also reduce in a varying
order), so CUDA runs are not recorded as deterministic.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from dataclasses import dataclass

CLOCK_SYMBOL = "_ZNSt6chrono3_V212system_clock3nowEv"  # std::chrono::system_clock::now()
_R_X86_64_GLOB_DAT, _R_X86_64_JUMP_SLOT = 6, 7
_R_AARCH64_GLOB_DAT, _R_AARCH64_JUMP_SLOT = 1025, 1026
_SLOT_TYPES = {_R_X86_64_GLOB_DAT, _R_X86_64_JUMP_SLOT, _R_AARCH64_GLOB_DAT, _R_AARCH64_JUMP_SLOT}


@dataclass
class _State:
    attempted: bool = False
    patched: bool = False
    reason: str = "not attempted yet"
    seedings: int = 0  # successful seed_simulator calls in this process (a run counts its own)


_state = _State()


def status() -> tuple[bool, str]:
    """(whether aihwkit's generators follow :func:`seed_simulator`, why not if they do not)."""
    return _state.patched, _state.reason


def seed_simulator(seed: int) -> bool:
    """Make the random generators aihwkit's core creates from now on a function of ``seed``.

    Call it before building analog layers (``seed_everything`` in :mod:`aimc_plugins.training.loop`
    does). Returns whether that holds; see the module docstring for when it cannot.
    """
    if not _state.attempted:  # once per process: a core that cannot be patched stays so
        _state.attempted = True
        _install()
    if not _state.patched:
        return False
    libc = ctypes.CDLL(None)
    # glibc treats srand(0) as srand(1): mix the seed so that seeds 0 and 1 differ.
    libc.srand(ctypes.c_uint(_mix32(seed)))
    _state.seedings += 1
    return True


def seedings() -> int:
    """How many times :func:`seed_simulator` seeded aihwkit's generators in this process: a run
    that compares the count before and after knows whether *it* seeded them."""
    return _state.seedings


def _mix32(seed: int) -> int:
    """A non-zero 32-bit value from any integer seed (splitmix64's finaliser)."""
    z = (seed + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return ((z ^ (z >> 31)) & 0xFFFFFFFF) or 1


def _install() -> None:
    if not sys.platform.startswith("linux"):
        _state.reason = f"needs Linux (ELF), this is {sys.platform}"
        return
    try:
        from aihwkit.simulator import rpu_base
    except ImportError as exc:
        _state.reason = f"aihwkit's core does not import: {exc}"
        return
    path = os.path.realpath(rpu_base.__file__)
    try:
        offset = _slot_offset(path, CLOCK_SYMBOL)
        base = _load_base(path)
    except (OSError, ValueError, struct.error) as exc:
        _state.reason = f"cannot read {path}: {exc}"
        return
    if offset is None:
        _state.reason = f"{os.path.basename(path)} does not import {CLOCK_SYMBOL} (not a 1.x core?)"
        return
    if base is None:
        _state.reason = f"{path} is not mapped as a file in this process"
        return
    address = base + offset
    if not _writable(address):
        _state.reason = "the clock slot of rpu_base is read-only (full RELRO build)"
        return
    rand = ctypes.cast(ctypes.CDLL(None).rand, ctypes.c_void_p).value
    ctypes.c_void_p.from_address(address).value = rand
    _state.patched, _state.reason = True, ""


def _slot_offset(path: str, symbol: str) -> int | None:
    """The offset (from the load base) of the slot through which ``path`` calls ``symbol``."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian 64-bit ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    header = "<IIQQQQIIQQ"  # Elf64_Shdr
    sections = [struct.unpack_from(header, data, shoff + i * shentsize) for i in range(shnum)]
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 4 or not entsize:  # SHT_RELA
            continue
        symtab = sections[link]
        strtab = sections[symtab[6]]
        for start in range(offset, offset + size, entsize):
            r_offset, r_info, _addend = struct.unpack_from("<QQq", data, start)
            if r_info & 0xFFFFFFFF not in _SLOT_TYPES:
                continue
            entry = symtab[4] + (r_info >> 32) * symtab[9]
            name_at = strtab[4] + struct.unpack_from("<I", data, entry)[0]
            if data[name_at : data.index(b"\0", name_at)].decode() == symbol:
                return r_offset
    return None


def _mappings(path: str) -> list[tuple[int, int, str, int]]:
    """(start, end, permissions, file offset) of every mapping of ``path`` in this process."""
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and os.path.realpath(fields[5].strip()) == path:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                found.append((start, end, fields[1], int(fields[2], 16)))
    return found


def _load_base(path: str) -> int | None:
    # The first PT_LOAD of a shared object starts at virtual address 0 and file offset 0.
    return next((start for start, _, _, offset in _mappings(path) if offset == 0), None)


def _writable(address: int) -> bool:
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if start <= address < end:
                return perms[1] == "w"
    return False
