"""The results store: one SQLite file per output folder, written by one process only.

Why SQLite: it is embedded (nothing to install or start), and a transaction either lands whole
or not at all. Each finished run is committed in its own transaction together with its per-epoch
metrics, in WAL mode, so killing the sweep at any moment loses only the runs still in flight and
never leaves a half-written run or a corrupt file. Runs in flight are not written at all: a run
is in the store exactly when it finished (``done``, ``diverged`` or ``failed``), and re-running a
sweep skips those.

Only the sweep's parent process writes; workers return outcomes to it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from aimc_plugins.training.identity import PlannedRun
from aimc_plugins.training.run import FINISHED, RunOutcome

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 2  # 2: runs.notes

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
    notes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""


def _dumps(value: Any) -> str:
    # NaN is kept (json writes it as NaN and reads it back): a diverged run's metrics say so.
    return json.dumps(value, sort_keys=True, default=str)


class ResultsStore:
    """Finished runs of one output folder. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against kills
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)  # idempotent: CREATE ... IF NOT EXISTS
        with self._transaction():
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
            if "notes" not in columns:  # a store written before schema 2 keeps its runs
                self._conn.execute("ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '[]'")
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
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def record(self, outcome: RunOutcome, sweep: str = "") -> None:
        """Store one finished run and its epochs in a single transaction (replacing an earlier
        result of the same run, e.g. a failed run retried)."""
        spec = outcome.run
        with self._transaction():
            self._conn.execute("DELETE FROM epochs WHERE run_id = ?", (spec.run_id,))
            self._conn.execute(
                "INSERT OR REPLACE INTO runs (run_id, sweep, recipe, device, optimizer, seed, "
                "epochs, config, spec, status, error, final, versions, duration_s, finished_at, "
                "notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    spec.run_id,
                    sweep,
                    spec.recipe,
                    spec.device,
                    spec.shown_optimizer,
                    spec.seed,
                    spec.epochs,
                    _dumps(spec.config()),
                    _dumps(asdict(spec)),
                    outcome.status,
                    outcome.error,
                    _dumps(dict(outcome.final)),
                    _dumps(dict(outcome.versions)),
                    outcome.duration_s,
                    time.time(),
                    _dumps(list(outcome.notes)),
                ),
            )
            self._conn.executemany(
                "INSERT INTO epochs (run_id, epoch, metrics) VALUES (?, ?, ?)",
                [
                    (spec.run_id, int(metrics.get("epoch", index)), _dumps(dict(metrics)))
                    for index, metrics in enumerate(outcome.history, 1)
                ],
            )

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
        for run_id, spec, status, error, final, versions, duration, notes in self._conn.execute(
            "SELECT run_id, spec, status, error, final, versions, duration_s, notes FROM runs "
            "ORDER BY finished_at"
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
                )
            )
        return outcomes

    def count(self) -> dict[str, int]:
        """Number of runs per status."""
        return dict(self._conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
