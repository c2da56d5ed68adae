"""A sweep killed with SIGKILL in the middle of a run resumes: the store is intact, finished
runs are kept and not run again, and the rest runs on the next call. A real subprocess, a real
kill (of the whole process group: the sweep and its worker)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import fake_sweep_env

HERE = Path(__file__).resolve().parent
RUNS = 6

SPEC = f"""
recipe = "fake-quick"
seeds = {RUNS}
epochs = 3
options = {{ epoch_seconds = 0.4 }}
devices = ["Idealized"]
optimizers = ["digital"]
"""


def aimc(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-c", "from aimc_plugins.cli.main import main; main()", *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )


def stored(store: Path) -> dict[str, tuple[str, float]]:
    if not store.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("SELECT run_id, status, finished_at FROM runs").fetchall()
    except sqlite3.OperationalError:  # the sweep is still creating the file's tables
        return {}
    return {run_id: (status, finished) for run_id, status, finished in rows}


def test_killed_sweep_resumes_without_losing_or_redoing_finished_runs(tmp_path):
    env = fake_sweep_env(tmp_path)
    spec = tmp_path / "resume.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    store = out / "results.sqlite"
    args = ["compare", str(spec), "--out", str(out), "--workers", "1", "--quiet"]

    sweep = aimc(args, env, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(stored(store)) < 2:
        assert sweep.poll() is None, sweep.stdout.read()
        assert time.monotonic() < deadline, "the sweep never stored two runs"
        time.sleep(0.1)
    os.killpg(sweep.pid, signal.SIGKILL)  # mid-run: runs take 1.2 s, we poll every 0.1 s
    sweep.wait(timeout=30)
    assert sweep.returncode == -signal.SIGKILL

    before = stored(store)
    assert 2 <= len(before) < RUNS
    assert {status for status, _ in before.values()} == {"done"}
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # every stored run has all its epochs: no half-written run
        counts = conn.execute("SELECT run_id, COUNT(*) FROM epochs GROUP BY run_id").fetchall()
    assert dict(counts) == {run_id: 3 for run_id in before}

    resumed = aimc(args, env)
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    assert f"{len(before)} already in" in output and f"{RUNS - len(before)} run now" in output
    after = stored(store)
    assert len(after) == RUNS
    for run_id, (_, finished_at) in before.items():
        assert after[run_id][1] == finished_at  # not run again

    again = aimc([*args, "--no-report"], env)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0 and f"{RUNS} already in" in output and "0 run now" in output
