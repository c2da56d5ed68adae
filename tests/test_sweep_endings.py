"""How a sweep ends, each ending for real: its parent killed alone, SIGTERM, Ctrl-C to the process
group, a second sweep on the same store, a full disk, an unwritable or unreadable store; exit
codes; plain log lines when stderr is not a terminal.

The subprocess tests run the real ``aimc compare`` on the fake recipe (installed as a
distribution, so pool workers load it the way they load any plugin) in a session of its own, and
look at every process of that session through /proc.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sweep_fake_plugin
from click.testing import CliRunner
from conftest import fake_sweep_env

from aimc_plugins.cli.main import cli
from aimc_plugins.host import plugins
from aimc_plugins.sweep import endings, lock, runlog
from aimc_plugins.sweep.spec import plan
from aimc_plugins.sweep.store import ResultsStore, StoreError
from aimc_plugins.training.run import DONE, RunOutcome

HERE = Path(__file__).resolve().parent
LINUX = sys.platform.startswith("linux")
needs_proc = pytest.mark.skipif(not LINUX, reason="reads processes from /proc (Linux)")


def spec_text(seeds: int, epochs: int, seconds: float, **options: object) -> str:
    extra = "".join(f", {key} = {value!r}" for key, value in options.items()).replace("'", '"')
    return (
        f'recipe = "fake-quick"\nseeds = {seeds}\nepochs = {epochs}\n'
        f"options = {{ epoch_seconds = {seconds}{extra} }}\n"
        'devices = ["Idealized"]\noptimizers = ["digital"]\n'
    )


@pytest.fixture
def sweep_env(tmp_path: Path) -> dict[str, str]:
    return fake_sweep_env(tmp_path)


_sessions: list[int] = []


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    """Whatever a test asserts, it leaves no process of its sweeps running (a failing test
    included: orphaned workers are what some of these tests look for)."""
    yield
    while _sessions:
        pgid = _sessions.pop()
        if LINUX and group(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)


def aimc(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``aimc ARGS`` in a new session (its PID is its process group), stdout and stderr apart."""
    command = [sys.executable, "-c", "from aimc_plugins.cli.main import main; main()", *args]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _sessions.append(process.pid)
    return process


def group(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_for(condition: Callable[[], object], timeout: float, what: str, sweep=None) -> float:
    """Seconds until ``condition()`` holds; fails after ``timeout`` (or if ``sweep`` ended)."""
    start = time.monotonic()
    while not condition():
        if sweep is not None and sweep.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {sweep.communicate()}")
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # tables not made yet
        return 0


def workers_of(pid: int) -> list[int]:
    """The pool workers among ``pid``'s children (the resource tracker is not one)."""
    found = []
    for child in group(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(child)
    return found


def semaphores_of(pid: int) -> set[int]:
    """Inodes of the POSIX semaphores ``pid`` has mapped (multiprocessing's locks and queues;
    glibc maps a semaphore under a temporary name, so the inode is what identifies it)."""
    inodes = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[5].startswith("/dev/shm/sem."):
            inodes.add(int(parts[4]))
    return inodes


def leaked(inodes: set[int]) -> list[str]:
    """Files left in /dev/shm that are one of ``inodes``."""
    left = []
    for entry in Path("/dev/shm").iterdir():
        try:
            if entry.stat().st_ino in inodes:
                left.append(entry.name)
        except OSError:
            continue
    return left


def start_pool_sweep(
    tmp_path: Path, env: dict[str, str], seeds: int, seconds: float, wait_stored: int = 1
):
    """A sweep of ``seeds`` runs of 4 epochs on a pool of 2 workers, returned once it stored
    ``wait_stored`` runs."""
    spec = tmp_path / "endings.toml"
    spec.write_text(spec_text(seeds=seeds, epochs=4, seconds=seconds))
    out = tmp_path / "out"
    args = ["compare", str(spec), "--out", str(out), "--workers", "2", "--no-report"]
    sweep = aimc(args, env)
    store = out / "results.sqlite"
    wait_for(lambda: stored(store) >= wait_stored, 120, f"{wait_stored} runs stored", sweep)
    assert len(workers_of(sweep.pid)) == 2
    return sweep, out


@needs_proc
def test_parent_killed_alone_takes_its_workers_and_helper_along(tmp_path, sweep_env):
    """SIGKILL to the parent only (a scheduler, `kill -9 PID`): no process of the sweep outlives
    it by more than 5 s, and the semaphores are unlinked by the helper as it goes."""
    sweep, out = start_pool_sweep(tmp_path, sweep_env, seeds=40, seconds=0.1)
    semaphores = semaphores_of(sweep.pid)
    assert semaphores  # the pool's queues: if none were found, the leak check below is void
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait(timeout=10)
    took = wait_for(lambda: not group(sweep.pid), 5, "every worker and helper ended")
    print(f"workers and helper gone {took:.2f} s after the parent's SIGKILL")
    wait_for(lambda: not leaked(semaphores), 5, "semaphores unlinked")
    with sqlite3.connect(out / "results.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@needs_proc
@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-to-the-group", "sigterm-to-the-parent"],
)
def test_a_stop_signal_stops_the_pool_cleanly(tmp_path, sweep_env, signum, to_group, code):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM to the
    parent: exit 128 + signal, one line saying what was kept, no traceback from the parent or a
    worker, no process left, no semaphore leaked, the store consistent. The signal comes when one
    worker runs the last run and the other waits for work: both kinds of worker see it."""
    sweep, out = start_pool_sweep(tmp_path, sweep_env, seeds=3, seconds=0.5, wait_stored=2)
    semaphores = semaphores_of(sweep.pid)
    assert semaphores
    if to_group:
        os.killpg(sweep.pid, signum)
    else:
        os.kill(sweep.pid, signum)
    stdout, stderr = sweep.communicate(timeout=30)
    assert sweep.returncode == code, stdout + stderr
    wait_for(lambda: not group(sweep.pid), 5, "every process of the sweep ended")
    assert "Traceback" not in stdout + stderr and "Aborted" not in stdout + stderr
    assert (
        stored(out / "results.sqlite") == 2
    )  # the last run was in flight: dropped, not half-written
    # stderr: the log lines of the two finished runs, then one line and nothing else (a worker
    # that saw the Ctrl-C would add "Process SpawnProcess-N:" and its traceback)
    name = signal.Signals(signum).name
    stopped = (
        f"stopped by {name}: 2 of 3 runs are kept in {out / 'results.sqlite'}; run the same "
        "command again to resume"
    )
    assert [line for line in stderr.splitlines() if " sweep: " not in line] == [stopped]
    # and nothing after it: no "resource_tracker: There appear to be N leaked semaphore objects"
    # from a worker's semaphore (each run makes a tqdm bar, whose default lock is one)
    assert stderr.rstrip("\n").endswith(stopped) and "resource_tracker" not in stderr, stderr
    assert not leaked(semaphores)
    with sqlite3.connect(out / "results.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_second_sweep_on_the_same_store_is_refused_naming_the_first(tmp_path, sweep_env):
    """Two sweeps on one output folder: the second exits 3 naming the first (host, PID, since
    when) and computes nothing; the first computes every run once and frees the folder. The
    first sweep's runs wait for a release file, so it cannot finish before the second starts,
    however slowly a loaded machine starts Python."""
    traces = tmp_path / "traces"
    traces.mkdir()
    release = tmp_path / "release"
    spec = tmp_path / "two.toml"
    spec.write_text(
        spec_text(seeds=4, epochs=2, seconds=0.05, trace_dir=str(traces), hold_until=str(release))
    )
    out = tmp_path / "out"
    args = ["compare", str(spec), "--out", str(out), "--workers", "0", "--no-report"]
    first = aimc(args, sweep_env)
    wait_for(lambda: lock.holder_if_locked(out), 60, "the first sweep holds the folder", first)
    second = aimc(args, sweep_env)
    stdout, stderr = second.communicate(timeout=60)
    assert first.poll() is None, "the first sweep ended before the second was refused"
    assert second.returncode == endings.EXIT_STORE_BUSY, stdout + stderr
    assert f"{out} is in use by another sweep: host {socket.gethostname()}" in stderr
    assert f"PID {first.pid}, since 20" in stderr and "Traceback" not in stderr
    release.touch()
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stdout + stderr
    runs = sorted(path.name.split("-")[0] for path in traces.iterdir())
    assert runs == ["seed0", "seed1", "seed2", "seed3"]  # each run computed once
    assert lock.holder_if_locked(out) is None


def test_lock_is_exclusive_names_its_holder_and_dies_with_it(tmp_path):
    with lock.StoreLock(tmp_path, command="compare x.toml"):
        holder = lock.holder_if_locked(tmp_path)
        assert holder is not None and holder["pid"] == os.getpid()
        with pytest.raises(lock.StoreBusy, match=rf"PID {os.getpid()}, since .*`compare x.toml`"):
            lock.StoreLock(tmp_path).acquire()
    assert lock.holder_if_locked(tmp_path) is None
    # A holder killed with SIGKILL releases the lock: the kernel drops it with the process.
    code = (
        "import sys, time; from aimc_plugins.sweep.lock import StoreLock; "
        f"StoreLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder_process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert holder_process.stdout is not None
        assert holder_process.stdout.readline().strip() == b"held"
        with pytest.raises(lock.StoreBusy, match=f"PID {holder_process.pid}"):
            lock.StoreLock(tmp_path).acquire()
    finally:
        holder_process.kill()
        holder_process.wait()
    with lock.StoreLock(tmp_path) as again:
        assert again.held


# -- in this process: exit codes, store errors, log lines ---------------------------------------


@pytest.fixture
def fake(fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")


def compare(tmp_path: Path, *extra: str, seeds: int = 3, **options: object):
    tmp_path.mkdir(exist_ok=True)
    spec = tmp_path / "s.toml"
    spec.write_text(spec_text(seeds=seeds, epochs=2, seconds=0.0, **options))
    args = ["compare", str(spec), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet"]
    return CliRunner().invoke(cli, [*args, "--no-report", *extra])


def test_exit_codes_for_failed_and_diverged_runs(tmp_path, fake):
    clean = compare(tmp_path / "a")
    assert clean.exit_code == 0, clean.output
    some = compare(tmp_path / "b", diverge_seeds=[1])
    assert some.exit_code == endings.EXIT_RUNS_FAILED
    assert "1 of 3 runs failed or diverged (exit 1" in some.output
    # the state of the sweep decides, not the last call: a resumed sweep that ran nothing too
    assert compare(tmp_path / "b", diverge_seeds=[1]).exit_code == endings.EXIT_RUNS_FAILED
    allowed = compare(tmp_path / "b", "--allow-failures", diverge_seeds=[1])
    assert allowed.exit_code == 0, allowed.output
    failed = compare(tmp_path / "c", "--allow-failures", seeds=2, fail_seeds=[0, 1])
    assert failed.exit_code == endings.EXIT_RUNS_FAILED  # nothing worked: allowed or not


def test_help_documents_the_exit_codes():
    result = CliRunner().invoke(cli, ["compare", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Exit codes: 0 every run of the sweep is done" in text
    assert "3 another sweep holds OUT" in text and "130 / 143" in text
    assert "--allow-failures" in text


def test_a_dead_worker_exits_5_with_one_line(tmp_path, fake, monkeypatch):
    from aimc_plugins.sweep import engine, execute

    def dying(*_args, **_kwargs):
        raise execute.WorkerDied("a worker process died (killed or out of memory)")

    monkeypatch.setattr(engine, "run_sweep", dying)
    result = compare(tmp_path)
    assert result.exit_code == endings.EXIT_WORKER_DIED
    assert result.output.strip().splitlines()[-1] == (
        "Error: a worker process died (killed or out of memory)"
    )


class FullDisk:
    """A sqlite3 connection that fails like a full disk on the statement ``when`` picks."""

    def __init__(self, conn: sqlite3.Connection, when: Callable[[str], bool]) -> None:
        self._conn = conn
        self._when = when

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if self._when(sql):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def fill_disk(monkeypatch, when: Callable[[str], bool]) -> None:
    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: FullDisk(real(*a, **k), when))


def test_a_full_disk_is_one_line_and_the_sweep_resumes_after(tmp_path, fake, monkeypatch):
    writes = []

    def third_run(sql: str) -> bool:
        if sql.startswith("INSERT OR REPLACE INTO runs"):
            writes.append(sql)
        return len(writes) == 3

    fill_disk(monkeypatch, third_run)
    result = compare(tmp_path, seeds=4)
    assert result.exit_code == endings.EXIT_STORE_ERROR, result.output
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: no space left to write") and "database or disk is full" in last
    assert "free some space and run the same command again to resume" in last
    monkeypatch.undo()
    with ResultsStore.in_folder(tmp_path / "out") as store:
        assert store.integrity_ok() and store.count() == {DONE: 2}  # the two before: whole
    resumed = compare(tmp_path, seeds=4)
    assert resumed.exit_code == 0 and "2 already in" in resumed.output, resumed.output


def test_schema_is_made_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "results.sqlite"
    fill_disk(monkeypatch, lambda sql: "CREATE TABLE IF NOT EXISTS epochs" in sql)
    with pytest.raises(StoreError, match="no space left"):
        ResultsStore(path)
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == set()  # not `meta` and `runs` without `epochs`
    with ResultsStore(path) as store:  # and a later open makes it whole
        assert store.count() == {} and store.integrity_ok()


def test_an_output_path_under_a_file_is_one_line(tmp_path, fake):
    (tmp_path / "file").write_text("not a folder")
    spec = tmp_path / "s.toml"
    spec.write_text(spec_text(seeds=1, epochs=1, seconds=0.0))
    out = tmp_path / "file" / "out"
    result = CliRunner().invoke(cli, ["compare", str(spec), "--out", str(out), "--workers", "0"])
    assert result.exit_code == endings.EXIT_STORE_ERROR
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith(
            f"Error: cannot write the results store {out / 'results.sqlite'}: Not a directory"
        )
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_one_line(tmp_path, fake):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = CliRunner().invoke(
            cli,
            [
                "compare",
                "--recipe",
                "fake-quick",
                "--device",
                "Idealized",
                "--optimizer",
                "digital",
                "--seeds",
                "1",
                "--out",
                str(folder),
                "--workers",
                "0",
            ],
        )
    finally:
        folder.chmod(0o755)
    assert result.exit_code == endings.EXIT_STORE_ERROR
    assert (
        "cannot write the results store" in result.output and "Permission denied" in result.output
    )


@pytest.mark.parametrize(
    "content", [b"just some text\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4080]
)
def test_report_on_a_file_that_is_not_a_store_is_one_line(tmp_path, content):
    (tmp_path / "results.sqlite").write_bytes(content)
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == endings.EXIT_STORE_ERROR, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(f"Error: {tmp_path / 'results.sqlite'} is not a readable")


def test_store_errors_outside_the_command_are_store_errors(tmp_path):
    (tmp_path / "results.sqlite").write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match="is not a readable results store"):
        ResultsStore.in_folder(tmp_path)


def test_plain_log_lines_when_stderr_is_not_a_terminal(tmp_path, sweep_env):
    """stderr piped (CI, nohup): timestamped lines, one per finished run, no control codes."""
    spec = tmp_path / "log.toml"
    spec.write_text(spec_text(seeds=3, epochs=2, seconds=0.0, diverge_seeds=[2]))
    args = ["compare", str(spec), "--out", str(tmp_path / "out"), "--workers", "0"]
    sweep = aimc([*args, "--no-report", "--allow-failures"], sweep_env)
    stdout, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 0, stdout + stderr
    assert "\x1b" not in stderr and "\r" not in stderr
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d sweep: "
    finished = [line for line in stderr.splitlines() if re.match(stamp + r"\[\d/3\] ", line)]
    assert len(finished) == 3, stderr
    assert any(line.endswith("test_accuracy 0.53") for line in finished), finished
    assert any(": diverged in " in line for line in finished)
    assert re.search(stamp + "3 runs to do, 0 already stored", stderr)


def test_progress_mode_bars_only_on_a_terminal_and_without_tqdm_disable(monkeypatch):
    class Terminal:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert runlog.resolve_mode("auto", Terminal()) == "bars"
    assert runlog.resolve_mode("auto", Pipe()) == "lines"
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert runlog.resolve_mode("auto", Terminal()) == "lines"
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert runlog.resolve_mode("auto", Terminal()) == "bars"
    assert runlog.resolve_mode("off", Terminal()) == "off"


def test_line_progress_writes_one_line_per_run(capsys, fake):
    (run,) = plan(sweep_fake_plugin.RECIPE, ["Idealized"], ["digital"], 1, 2)
    progress = runlog.LineProgress([run], already_done=2)
    progress.epoch(run.run_id, 1, 2)  # epochs are not logged
    progress.finished(RunOutcome(run, DONE, final={"epoch": 2, "test_accuracy": 0.91234}))
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[1].endswith(
        "sweep: [3/3] floating point / digital seed 0: done in 0.0 s, test_accuracy 0.9123"
    )


def test_a_signal_during_a_store_write_waits_for_it(tmp_path):
    """deferred_signals: SIGTERM sent while a run is written is handled after the write, also
    when another thread of the process receives it (a sweep has several)."""
    import threading

    seen: list[object] = []
    busy = threading.Event()
    other = threading.Thread(target=busy.wait, args=(10,))  # a thread that may take the signal
    other.start()
    try:
        with endings.stop_signals_raise():
            try:
                with endings.deferred_signals():
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.2)  # the handler runs here, whichever thread got the signal
                    seen.append("written")
                seen.append("not reached")
            except endings.SweepInterrupted as stop:
                seen.append(stop.exit_code)
    finally:
        busy.set()
        other.join()
    assert seen == ["written", 143]


def test_a_full_disk_while_writing_the_report_is_one_line(tmp_path, fake, monkeypatch):
    import errno

    from aimc_plugins.report import summary as report

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "a.png"))

    monkeypatch.setattr(report, "write_report", full)
    spec = tmp_path / "s.toml"
    spec.write_text(spec_text(seeds=1, epochs=1, seconds=0.0))
    args = ["compare", str(spec), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == endings.EXIT_STORE_ERROR, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: no space left to write {tmp_path / 'out' / 'a.png'} (No space left on device); "
        "finished runs are kept in the store: free some space and run the same command again"
    )
