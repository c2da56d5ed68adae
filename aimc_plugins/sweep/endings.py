"""How a sweep ends: exit codes, signals, and workers that never outlive their parent.

Signals. While a sweep runs, SIGINT (Ctrl-C), SIGTERM (``kill``, a scheduler) and SIGHUP (a
closed terminal) raise :class:`SweepInterrupted` in the parent; the pool's workers are then
terminated and joined, the queues closed (so their semaphores are unlinked), and the command
prints one line saying what the store kept and exits ``128 + signal`` (130, 143, 129). Workers
ignore SIGINT and SIGHUP, which a terminal sends to the whole process group: the parent alone
decides how a sweep stops, so no worker prints a traceback. A signal arriving while a finished
run is being written waits for the write (:func:`deferred_signals`): a run finished is a run kept.

Parent death. A worker asks the kernel for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, Linux), and also watches its parent's PID from a thread (every
other POSIX system, and a parent that died before the worker asked): a parent killed with
SIGKILL, which cannot be caught, takes its workers with it, and the multiprocessing helper
(the resource tracker), whose pipe they held, then exits and unlinks the semaphores. (Linux sends
the signal when the *thread* that started the worker ends: that is the thread iterating
:func:`~aimc_plugins.sweep.execute.run_pool`, which lives as long as the pool.) Killing the whole
process group with SIGKILL kills that helper too, and the pool's semaphores stay in /dev/shm.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

EXIT_OK = 0
EXIT_RUNS_FAILED = 1  # some runs of the sweep failed or diverged (all of them, --allow-failures)
EXIT_USAGE = 2  # click's: bad flags, a bad spec
EXIT_STORE_BUSY = 3  # another sweep holds the output folder
EXIT_STORE_ERROR = 4  # the store cannot be written or read: full disk, read-only, not SQLite
EXIT_WORKER_DIED = 5  # a worker process was killed (out of memory?); finished runs are kept

EXIT_CODES_HELP = (
    "Exit codes: 0 every run of the sweep is done (failed or diverged runs allowed with "
    "--allow-failures); 1 some runs failed or diverged (with --allow-failures: every run); "
    "2 bad usage or spec; 3 another sweep holds OUT; 4 the results store cannot be written or "
    "read (full disk, read-only folder, not a store); 5 a worker process died; 129 / 130 / 143 "
    "stopped by SIGHUP / SIGINT (Ctrl-C) / SIGTERM. Finished runs are always kept: run the same "
    "command again to resume."
)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GROUP_SIGNALS = (signal.SIGINT, signal.SIGHUP)  # what a terminal sends to every process


class SweepInterrupted(BaseException):
    """A stop signal reached the sweep's parent. A BaseException, like KeyboardInterrupt, so that
    no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal_name(signum))

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class WorkerDied(RuntimeError):
    """A worker process died (killed, out of memory): its run is lost, finished runs are not."""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _Deferral:
    """Stop signals that came while a store write was under way, to raise once it is done."""

    depth = 0
    pending: int | None = None


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise :class:`SweepInterrupted` (once; a second signal
    while the first is handled is ignored, so stopping cannot be interrupted half-way)."""
    if not _in_main_thread():  # signal handlers can only be set from the main thread
        yield
        return
    fired: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if fired:
            return
        fired.append(signum)
        if _Deferral.depth:
            _Deferral.pending = signum
            return
        raise SweepInterrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        _Deferral.pending = None


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Within: a stop signal waits until the block ends, then raises :class:`SweepInterrupted`
    (for a store write: a run finished is a run kept). In Python, not by the signal mask: any
    thread of the process may receive a signal, and a sweep has several."""
    _Deferral.depth += 1
    try:
        yield
    finally:
        _Deferral.depth -= 1
    if _Deferral.depth == 0 and _Deferral.pending is not None:
        signum, _Deferral.pending = _Deferral.pending, None
        raise SweepInterrupted(signum)


@contextlib.contextmanager
def blocked_signals(signals: tuple[int, ...]) -> Iterator[None]:
    """Within: ``signals`` blocked for this thread (held by the kernel, not lost). Processes
    started meanwhile inherit the block, which :func:`worker_setup` lifts once it has set how
    the worker answers them."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# -- worker side --------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def _parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies. False if it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:  # re-parented: the parent is gone
            os._exit(1)


def die_with_parent(parent_pid: int, interval: float = 1.0) -> bool:
    """Make this (worker) process end when ``parent_pid``, its parent, ends; True if the kernel
    does it (Linux), else a thread checks every ``interval`` seconds."""
    by_kernel = _parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request: nothing will come
        os._exit(1)
    watcher = threading.Thread(
        target=_watch_parent, args=(parent_pid, interval), name="parent-watch", daemon=True
    )
    watcher.start()
    return by_kernel


def worker_setup(parent_pid: int) -> None:
    """First thing in a pool worker: die with the parent; leave SIGINT and SIGHUP, which reach
    the whole process group, to the parent; SIGTERM (the parent's terminate) ends it at once."""
    die_with_parent(parent_pid)
    if _in_main_thread():
        for signum in GROUP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if hasattr(signal, "pthread_sigmask"):  # blocked while the parent started this process
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


# -- the command's side ------------------------------------------------------------------------


class Session:
    """What a stopped sweep can say it kept: its store and its runs (set once known)."""

    def __init__(self) -> None:
        self.store: Path | None = None
        self.run_ids: list[str] = []

    def kept(self) -> str:
        """``7 of 24 runs are kept in OUT/results.sqlite`` (read from the store itself)."""
        if self.store is None or not self.run_ids:
            return "no run had started"
        if not self.store.exists():
            return f"none of the {len(self.run_ids)} runs had finished"
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=10)
            ) as conn:
                stored = {row[0] for row in conn.execute("SELECT run_id FROM runs")}
        except sqlite3.Error:
            return f"finished runs are kept in {self.store}"
        held = len(stored & set(self.run_ids))
        return f"{held} of {len(self.run_ids)} runs are kept in {self.store}"


_session: Session | None = None


def _click_error(message: str, code: int) -> Exception:
    import click

    class Error(click.ClickException):
        exit_code = code

    return Error(message)


@contextlib.contextmanager
def command_endings() -> Iterator[Session]:
    """Around a sweep command: stop signals end it with one line and ``128 + signal``; a busy
    store, a store error and a dead worker become one-line errors with their exit codes."""
    from aimc_plugins.sweep.lock import StoreBusy
    from aimc_plugins.sweep.store import StoreError

    global _session
    session = _session = Session()
    try:
        with stop_signals_raise():
            yield session
    except SweepInterrupted as stop:
        again = "; run the same command again to resume" if session.run_ids else ""
        sys.stderr.write(f"stopped by {signal_name(stop.signum)}: {session.kept()}{again}\n")
        sys.stderr.flush()
        raise SystemExit(stop.exit_code) from None
    except StoreBusy as exc:
        raise _click_error(
            f"{exc}. Wait for it to finish, or give this sweep another --out", EXIT_STORE_BUSY
        ) from None
    except StoreError as exc:
        raise _click_error(str(exc), EXIT_STORE_ERROR) from None
    except WorkerDied as exc:
        raise _click_error(str(exc), EXIT_WORKER_DIED) from None
    except OSError as exc:  # writing the report, say, on a full disk
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise _click_error(
            f"no space left to write {exc.filename or 'the output'} ({exc.strerror}); finished "
            "runs are kept in the store: free some space and run the same command again",
            EXIT_STORE_ERROR,
        ) from None
    finally:
        _session = None


def note_sweep(store: Path, run_ids: Iterable[str]) -> None:
    """Tell the command's endings which store and runs a stop message should count."""
    if _session is not None:
        _session.store = store
        _session.run_ids = list(run_ids)


_Command = TypeVar("_Command", bound=Callable[..., Any])


def with_endings(command: _Command) -> _Command:
    """A click command run inside :func:`command_endings` (place it below the click decorators)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with command_endings():
            return command(*args, **kwargs)

    return cast(_Command, wrapper)
