"""Where runs execute: in this process, on a local process pool, or on a Dask cluster.

Every backend is an iterator of :class:`RunOutcome` in completion order; the sweep's parent
consumes it and is the only writer of the results store. Workers run :func:`run_one`, which
never raises, so a failing run comes back as an outcome rather than killing the sweep.

Why ``spawn`` workers: aihwkit's compiled core and torch's thread pools are not safe to
``fork`` after they were initialised in the parent (which validating a sweep does).

Why threads per worker: torch uses every core by default; ``N`` workers each doing so
oversubscribe the machine and run slower together than alone. Each worker gets
``cores // N`` threads, so the total never exceeds the cores. torch's own pool is set with
``torch.set_num_threads``, but aihwkit's compiled core ships its *own* OpenMP and OpenBLAS, which
read ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` once when loaded: workers are therefore
started with those set (:func:`_thread_environment`). Without it, two workers on two cores ran
each run three times slower than one worker alone (see docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import os
import queue as queue_module
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from aimc_plugins.host import plugins
from aimc_plugins.sweep import endings
from aimc_plugins.sweep.endings import WorkerDied
from aimc_plugins.training import accelerators
from aimc_plugins.training.run import FAILED, PlannedRun, RunOutcome, run_one
from aimc_plugins.training.tracking import Tracking

EpochEvent = tuple[str, int, int]  # run_id, epoch, epochs
EpochSink = Callable[[str, int, int], None]


def available_cores() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """torch threads for each of ``workers`` so that together they use at most the cores."""
    return max(1, (cores or available_cores()) // max(1, workers))


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _thread_environment(threads: int) -> Iterator[None]:
    """Thread-count variables set while worker processes are started (they inherit the
    environment), then restored: the parent's own libraries are loaded already."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def in_process_plugins() -> tuple[list[str], list[str]]:
    """Plugins registered in this process by :func:`plugins.register` rather than found by the
    entry points: (importable module names a worker can re-register, names it cannot)."""
    plugins.load_plugins()
    modules, unreachable = [], []
    for name, plugin in plugins.pm.list_name_plugin():
        if name in plugins.distributions() or plugins.pm.is_blocked(name):
            continue  # built-in or entry point: the worker loads it itself
        if isinstance(plugin, types.ModuleType) and plugin.__name__ != "__main__":
            modules.append(plugin.__name__)
        else:
            unreachable.append(name)
    return modules, unreachable


def _register_modules(modules: Sequence[str]) -> None:
    import importlib

    plugins.load_plugins()
    for module_name in modules:
        module = importlib.import_module(module_name)
        if not plugins.pm.is_registered(module):
            plugins.pm.register(module, name=module_name)


def _thread_only_progress_lock() -> None:
    """Give tqdm a lock of this process's threads before anything makes a bar.

    tqdm's default lock holds a ``multiprocessing.RLock``: a POSIX semaphore registered with the
    sweep's resource tracker, created in the worker by the first (even disabled) bar of a run.
    A stopped sweep terminates its workers, so the semaphore's finaliser never runs and the
    tracker printed "There appear to be N leaked semaphore objects" after the sweep's one clean
    line. Workers draw no bars (progress travels to the parent), so a thread lock is enough."""
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already started
        pass


def _run_with_progress(
    run: PlannedRun, accelerator: str, sink: EpochSink | None, tracking: Tracking | None = None
) -> RunOutcome:
    from aimc_plugins.training import loop as training

    if sink is not None:
        training.set_epoch_callback(lambda epoch, epochs, _m: sink(run.run_id, epoch, epochs))
    try:
        return run_one(run, accelerator=accelerator, tracking=tracking)
    finally:
        training.set_epoch_callback(None)


# -- in this process ---------------------------------------------------------------------------


def run_serial(
    runs: Sequence[PlannedRun],
    accelerator: str = "cpu",
    on_epoch: EpochSink | None = None,
    tracking: Tracking | None = None,
) -> Iterator[RunOutcome]:
    """One run after another in this process (``--workers 0``, and plugins a worker cannot
    import)."""
    for run in runs:
        yield _run_with_progress(run, accelerator, on_epoch, tracking)


# -- local process pool ------------------------------------------------------------------------

_worker_queue: object = None


def _init_worker(
    threads: int,
    modules: Sequence[str],
    events: object,
    parent: int,
    gpus: Sequence[str] = (),
    counter: object = None,
) -> None:
    global _worker_queue
    endings.worker_setup(parent)  # dies with the parent; Ctrl-C is the parent's to handle
    accelerators.pin_worker(counter, gpus)  # before anything touches CUDA in this worker
    _thread_only_progress_lock()  # no semaphore a terminated worker would leak
    _set_threads(threads)
    _register_modules(modules)
    _worker_queue = events


def _pool_task(run: PlannedRun, accelerator: str, tracking: Tracking | None = None) -> RunOutcome:
    events = _worker_queue

    def sink(run_id: str, epoch: int, epochs: int) -> None:
        events.put((run_id, epoch, epochs))  # type: ignore[attr-defined]

    return _run_with_progress(run, accelerator, sink if events is not None else None, tracking)


def run_pool(
    runs: Sequence[PlannedRun],
    workers: int,
    accelerator: str = "cpu",
    on_epoch: EpochSink | None = None,
    threads: int | None = None,
    tracking: Tracking | None = None,
) -> Iterator[RunOutcome]:
    """Runs on ``workers`` spawned processes, yielded as they finish (the trackers of
    ``tracking`` receive each run's events in the worker that trains it)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    modules, _ = in_process_plugins()
    threads = threads or threads_per_worker(workers)
    events: Any = None
    pool: ProcessPoolExecutor | None = None
    complete = False
    # --accelerator cuda on several GPUs: each worker pinned to one (training/accelerators.py).
    gpus = accelerators.visible_gpus() if accelerator == "cuda" else []
    counter = context.Value("i", 0) if len(gpus) > 1 else None
    try:
        # Workers are spawned as tasks are submitted: they inherit the thread variables, and
        # SIGINT / SIGHUP blocked, so a Ctrl-C while one starts cannot give it a traceback.
        with _thread_environment(threads), endings.blocked_signals(endings.GROUP_SIGNALS):
            events = context.Queue() if on_epoch is not None else None
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(threads, modules, events, os.getpid(), gpus, counter),
            )
            futures: dict[Future[RunOutcome], PlannedRun] = {
                pool.submit(_pool_task, run, accelerator, tracking): run for run in runs
            }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(events, on_epoch)
            for future in done:
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise WorkerDied(
                        "a worker process died (killed or out of memory); finished runs are "
                        "stored, run the sweep again to resume"
                    ) from None
                except Exception as exc:  # e.g. an outcome that could not be pickled
                    yield RunOutcome(futures[future], FAILED, error=f"worker: {exc!r}")
        complete = True
    finally:
        # Stopped early (a signal, a dead worker, a store error, the consumer gave up): the runs
        # in flight are dropped, so their workers are stopped now rather than left computing.
        _close_pool(pool, events, stop=not complete)


def _close_pool(pool: Any, events: Any, stop: bool) -> None:
    if pool is not None:
        if stop:
            # the pool's own pid -> Process map: private, but there since Python 3.2
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.kill()
                    process.join(timeout=5)
        pool.shutdown(wait=True, cancel_futures=True)
    if events is not None:
        events.cancel_join_thread()
        events.close()


def _drain(events: object, on_epoch: EpochSink | None) -> None:
    if events is None or on_epoch is None:
        return
    while True:
        try:
            run_id, epoch, epochs = events.get_nowait()  # type: ignore[attr-defined]
        except queue_module.Empty:
            return
        on_epoch(run_id, epoch, epochs)


# -- Dask --------------------------------------------------------------------------------------


def _dask_task(
    run: PlannedRun,
    accelerator: str,
    threads: int,
    modules: Sequence[str],
    tracking: Tracking | None = None,
) -> RunOutcome:
    _set_threads(threads)
    _register_modules(modules)
    return run_one(run, accelerator=accelerator, tracking=tracking)


@dataclass(frozen=True)
class DaskTarget:
    """A running scheduler to join (``address``), or a local cluster of ``workers`` to start
    (``processes=False`` keeps its workers as threads of this process: quick to start, for
    tests and small sweeps)."""

    address: str | None = None
    workers: int = 2
    processes: bool = True


def run_dask(
    runs: Sequence[PlannedRun],
    target: DaskTarget,
    accelerator: str = "cpu",
    tracking: Tracking | None = None,
) -> Iterator[RunOutcome]:
    """Runs as Dask tasks, yielded as they finish. Needs the ``dask`` extra."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RuntimeError(
            "Dask is not installed: pip install 'aimc-plugins[dask]' (dask[distributed])"
        ) from None
    modules, _ = in_process_plugins()
    cluster = None
    if target.address:
        # A remote worker runs one task per Dask thread: one torch thread each (start remote
        # workers with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 for aihwkit's own pools).
        client = Client(target.address)
        threads = 1
    else:
        threads = threads_per_worker(target.workers) if target.processes else 1
        with _thread_environment(threads):
            cluster = LocalCluster(
                n_workers=target.workers,
                threads_per_worker=1,
                processes=target.processes,
                dashboard_address=None,
            )
        client = Client(cluster)
    try:
        futures = {
            client.submit(
                _dask_task, run, accelerator, threads, modules, tracking, pure=False
            ): run
            for run in runs
        }
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:
                yield RunOutcome(futures[future], FAILED, error=f"dask: {exc!r}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
