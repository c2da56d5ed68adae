"""One writer per results store: an OS-level lock on ``OUT/results.lock``.

A second sweep on an output folder whose store another sweep is writing is refused, with a
message naming the holder (host, PID, since when). Why refuse rather than wait or share the runs:
the ground rule of the store is "nothing lost, nothing computed twice", and refusing keeps it with
the least machinery. Waiting would silently stall a scheduler's job for hours; sharing the work
needs per-run claims in the store and their recovery after a kill, and the same effect is had by
giving the second sweep its own ``--out`` (or ``--workers``/``--scheduler`` to the first).

Why ``flock`` on a separate file: the kernel releases it when its holder dies, however it dies
(SIGKILL, out of memory, a crashed node's local disk), so a stale lock never needs cleaning up and
a store is never wrongly refused. The file's text (host, PID, start time) is for the message
only; the lock is the kernel's. On NFS, Linux emulates ``flock`` with POSIX byte-range locks,
which the server arbitrates across clients.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from aimc_plugins.sweep.store import STORE_NAME, store_errors

LOCK_NAME = "results.lock"

try:
    import fcntl
except ImportError:  # not POSIX: no lock (the store is still crash-safe, only not exclusive)
    fcntl = None  # type: ignore[assignment]


class StoreBusy(RuntimeError):
    """Another sweep holds the output folder's store."""

    def __init__(self, folder: Path, holder: dict[str, object]) -> None:
        self.folder = folder
        self.holder = holder
        super().__init__(f"{folder} is in use by another sweep: {describe(holder)}")


def describe(holder: dict[str, object]) -> str:
    """``host H, PID P, since 2025-01-31 14:02:11`` (what is known of it)."""
    if not holder:
        return "holder unknown (it is starting, or wrote no details)"
    parts = [f"host {holder.get('host', '?')}", f"PID {holder.get('pid', '?')}"]
    since = holder.get("since")
    if isinstance(since, int | float):
        parts.append("since " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)))
    command = holder.get("command")
    if command:
        parts.append(f"running `{command}`")
    return ", ".join(parts)


def read_holder(folder: str | Path) -> dict[str, object]:
    """What the lock file says of its last holder ({} if nothing readable)."""
    try:
        data = json.loads((Path(folder) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def holder_if_locked(folder: str | Path) -> dict[str, object] | None:
    """The holder of ``folder``'s lock if a live process holds it, else None (takes nothing)."""
    path = Path(folder) / LOCK_NAME
    if fcntl is None or not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_holder(folder)
    finally:
        os.close(fd)  # closing drops the shared lock taken just now
    return None


class StoreLock:
    """Exclusive lock on an output folder, held from :meth:`acquire` until :meth:`release` or
    process exit. Raises :class:`StoreBusy` when another process holds it, and
    :class:`~aimc_plugins.sweep.store.StoreError` when the folder or the lock file cannot be
    created (a path under a file, a read-only folder)."""

    def __init__(self, folder: str | Path, command: str = "") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        if fcntl is None or self._fd is not None:
            return self
        with store_errors(self.folder / STORE_NAME):  # a path under a file, a read-only folder
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._lock(fd)
        except BlockingIOError:
            os.close(fd)
            raise StoreBusy(self.folder, read_holder(self.folder)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": time.time(),
            "command": self.command,
        }
        try:  # the details are a courtesy: a full disk must not stop a sweep that holds the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        except OSError:
            pass
        return self

    @staticmethod
    def _lock(fd: int, tries: int = 5, pause: float = 0.1) -> None:
        """Take the lock, or raise BlockingIOError. A few tries: :func:`holder_if_locked` takes
        a shared lock for an instant, which must not make a sweep starting then refuse."""
        for attempt in range(tries):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if attempt == tries - 1:
                    raise
                time.sleep(pause)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock; the file stays
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
