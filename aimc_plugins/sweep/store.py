"""The results store: one SQLite file per output folder, written by one process only.

Why SQLite: it is embedded (nothing to install or start), and a transaction either lands whole
or not at all. Each finished run is committed in its own transaction together with its per-epoch
metrics, in WAL mode, so killing the sweep at any moment loses only the runs still in flight and
never leaves a half-written run or a corrupt file. Runs in flight are not written at all: a run
is in the store exactly when it finished (``done``, ``diverged`` or ``failed``), and re-running a
sweep skips those.

Only the sweep's parent process writes; workers return outcomes to it (and
:mod:`.lock` keeps a second sweep off a store in use). A store that cannot be written or read (a
full disk, a read-only folder, a path under a file, a file that is not SQLite) raises
:class:`StoreError`, one line saying which and what to do; the store is left consistent, since
every write, the schema's creation included, is one transaction.
"""

from __future__ import annotations

import errno
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar, cast

from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import FINISHED, RunOutcome

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 3  # 2: runs.notes; 3: runs.pulses

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    recipe TEXT NOT NULL,
    device TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    seed INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    config TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'diverged', 'failed')),
    error TEXT NOT NULL DEFAULT '',
    final TEXT NOT NULL DEFAULT '{}',
    versions TEXT NOT NULL DEFAULT '{}',
    duration_s REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL,
    notes TEXT NOT NULL DEFAULT '[]',
    pulses TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""


class StoreError(RuntimeError):
    """The results store cannot be written or read; the message is one line for the user."""


_FULL = ("database or disk is full",)
_UNWRITABLE = ("unable to open database file", "readonly database", "attempt to write")
_CORRUPT = ("file is not a database", "malformed", "database disk image")


def describe_error(path: Path, exc: BaseException) -> str:
    """One line for a store error: what happened to ``path`` and what to do."""
    text = str(exc).lower()
    no_space = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    if no_space or any(mark in text for mark in _FULL):
        return (
            f"no space left to write {path} ({exc}): the store is consistent and keeps every "
            "run finished so far; free some space and run the same command again to resume"
        )
    if "disk i/o error" in text:
        return (
            f"a write to {path} failed ({exc}: the disk may be full, over quota or failing); "
            "the store keeps every run finished so far: fix the disk and run the same command "
            "again to resume"
        )
    if any(mark in text for mark in _CORRUPT):
        return f"{path} is not a readable results store ({exc})"
    if isinstance(exc, OSError) or any(mark in text for mark in _UNWRITABLE):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = exc.filename if isinstance(exc, OSError) and exc.filename else path
        return (
            f"cannot write the results store {path}: {reason} ({where}); choose another --out, "
            "or make the folder writable"
        )
    return f"results store {path}: {exc}"


@contextmanager
def store_errors(path: Path) -> Iterator[None]:
    """SQLite and file-system errors on the store, as :class:`StoreError`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(describe_error(path, exc)) from exc


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _translated(method: _Method) -> _Method:
    """A store method whose SQLite and file-system errors are :class:`StoreError`."""

    @functools.wraps(method)
    def wrapper(self: ResultsStore, *args: Any, **kwargs: Any) -> Any:
        with store_errors(self.path):
            return method(self, *args, **kwargs)

    return cast(_Method, wrapper)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _dumps(value: Any) -> str:
    # NaN is kept (json writes it as NaN and reads it back): a diverged run's metrics say so.
    return json.dumps(value, sort_keys=True, default=str)


class ResultsStore:
    """Finished runs of one output folder. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with store_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                self._open()
            except BaseException:
                self._conn.close()
                raise

    def _open(self) -> None:
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against kills
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._transaction():  # all of the schema or none of it (a full disk)
            for statement in _statements(_SCHEMA):  # idempotent: CREATE ... IF NOT EXISTS
                self._conn.execute(statement)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
            for added in ("notes", "pulses"):  # an older store keeps its runs
                if added not in columns:
                    self._conn.execute(
                        f"ALTER TABLE runs ADD COLUMN {added} TEXT NOT NULL DEFAULT '[]'"
                    )
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    @classmethod
    def in_folder(cls, folder: str | Path) -> ResultsStore:
        return cls(Path(folder) / STORE_NAME)

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back already (a full disk): then there is nothing to undo
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    @_translated
    def record(self, outcome: RunOutcome, sweep: str = "") -> None:
        """Store one finished run and its epochs in a single transaction (replacing an earlier
        result of the same run, e.g. a failed run retried)."""
        run = outcome.run
        with self._transaction():
            self._conn.execute("DELETE FROM epochs WHERE run_id = ?", (run.run_id,))
            self._conn.execute(
                "INSERT OR REPLACE INTO runs (run_id, sweep, recipe, device, optimizer, seed, "
                "epochs, config, spec, status, error, final, versions, duration_s, finished_at, "
                "notes, pulses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    sweep,
                    run.recipe,
                    run.device,
                    run.shown_optimizer,
                    run.seed,
                    run.epochs,
                    _dumps(run.config()),
                    _dumps(asdict(run)),
                    outcome.status,
                    outcome.error,
                    _dumps(dict(outcome.final)),
                    _dumps(dict(outcome.versions)),
                    outcome.duration_s,
                    time.time(),
                    _dumps(list(outcome.notes)),
                    _dumps([dict(row) for row in outcome.pulses]),
                ),
            )
            self._conn.executemany(
                "INSERT INTO epochs (run_id, epoch, metrics) VALUES (?, ?, ?)",
                [
                    (run.run_id, int(metrics.get("epoch", index)), _dumps(dict(metrics)))
                    for index, metrics in enumerate(outcome.history, 1)
                ],
            )

    @_translated
    def finished_ids(self, statuses: Iterable[str] = FINISHED) -> set[str]:
        """Ids of runs finished with one of ``statuses``."""
        statuses = tuple(statuses)
        if not statuses:
            return set()
        marks = ",".join("?" * len(statuses))
        rows = self._conn.execute(
            f"SELECT run_id FROM runs WHERE status IN ({marks})", statuses
        ).fetchall()
        return {row[0] for row in rows}

    @_translated
    def outcomes(self, run_ids: Iterable[str] | None = None) -> list[RunOutcome]:
        """Finished runs (all, or those in ``run_ids``) in the order they finished."""
        wanted = set(run_ids) if run_ids is not None else None
        histories: dict[str, list[dict[str, float]]] = {}
        for run_id, metrics in self._conn.execute(
            "SELECT run_id, metrics FROM epochs ORDER BY run_id, epoch"
        ):
            histories.setdefault(run_id, []).append(json.loads(metrics))
        known = {f.name for f in fields(PlannedRun)}
        outcomes = []
        for (
            run_id,
            spec,
            status,
            error,
            final,
            versions,
            duration,
            notes,
            pulses,
        ) in self._conn.execute(
            "SELECT run_id, spec, status, error, final, versions, duration_s, notes, pulses "
            "FROM runs ORDER BY finished_at"
        ):
            if wanted is not None and run_id not in wanted:
                continue
            data = {k: v for k, v in json.loads(spec).items() if k in known}
            outcomes.append(
                RunOutcome(
                    run=PlannedRun(**data),
                    status=status,
                    history=tuple(histories.get(run_id, ())),
                    final=json.loads(final),
                    error=error,
                    versions=json.loads(versions),
                    duration_s=duration,
                    notes=tuple(json.loads(notes)),
                    pulses=tuple(json.loads(pulses)),
                )
            )
        return outcomes

    @_translated
    def run_times(self, run_ids: Iterable[str] | None = None) -> dict[str, tuple[str, float]]:
        """Run id -> (sweep name, finished_at in seconds since the epoch) of finished runs (all,
        or those in ``run_ids``): what a report says about which sweep ran them, and when."""
        wanted = set(run_ids) if run_ids is not None else None
        return {
            run_id: (sweep, finished_at)
            for run_id, sweep, finished_at in self._conn.execute(
                "SELECT run_id, sweep, finished_at FROM runs"
            )
            if wanted is None or run_id in wanted
        }

    @_translated
    def set_meta(self, key: str, value: Any) -> None:
        """Keep a fact about the comparison as a whole (its time-to-target ``target``, say) as
        JSON beside its runs; ``None`` removes it."""
        if key == "schema_version":
            raise ValueError("schema_version is the store's own")
        with self._transaction():
            if value is None:
                self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _dumps(value))
                )

    @_translated
    def get_meta(self, key: str, default: Any = None) -> Any:
        """A fact :meth:`set_meta` kept, or ``default``."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    @_translated
    def count(self) -> dict[str, int]:
        """Number of runs per status."""
        return dict(self._conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
