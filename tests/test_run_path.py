"""One run's path from the planner to the trained model (issues 19 and 28): the planner decides
each run's kind once and writes it on the run, resolves its parameters once and the worker
hands them down without resolving them again, the run's main path climbs back at most twice
(tests/run_path_trace.py), a device's factory runs once per process, run ids are what they
always were, and a run's ``deterministic`` record is a fact about that run."""

from __future__ import annotations

import itertools
import types
import warnings
from dataclasses import replace

import pytest
import sweep_fake_plugin
from run_path_trace import RunPath, traced

from aimc_plugins import Device, RunConfig, TrainingSetup, hookimpl
from aimc_plugins.host import plugins
from aimc_plugins.sweep.engine import ExecutionOptions, run_sweep
from aimc_plugins.sweep.execute import run_pool
from aimc_plugins.sweep.spec import check_runs, plan
from aimc_plugins.sweep.store import ResultsStore
from aimc_plugins.training import determinism
from aimc_plugins.training.identity import RunKind
from aimc_plugins.training.run import DONE, run_one
from aimc_plugins.training.setup import kind_of, resolve, resolved_by_planner

SERIAL = ExecutionOptions(workers=0, show_progress=False)

# Run ids computed on the code before issue 19 (commit e2ff87d): a store written then must
# resume without rerunning anything, so the ids may never change.
KNOWN_IDS = {
    ("floating point", "digital", 0): "54e175b0c8781f81",
    ("floating point", "digital", 1): "f51e77a2da56ad32",
    ("ReRamSB", "sgd", 0): "c4bba4dab911ac9e",
    ("ReRamSB", "sgd", 1): "60ab4099b57cd88f",
    ("TikiTakaReRamSBPreset", "preset", 0): "434420488d5454e6",
    ("TikiTakaReRamSBPreset", "preset", 1): "6cbfce0242e5c70e",
    ("power(g=0.5, tau=0.7)", "sgd", 0): "b57bb37987ac1e9e",
    ("power(g=0.5, tau=0.7)", "sgd", 1): "226003481a769fa9",
}


def _known_runs():
    return plan(
        "digits-mlp",
        ["ReRamSB", "TikiTakaReRamSBPreset", "power(tau=0.7, g=0.5)"],
        ["sgd", "digital"],
        [0, 1],
        epochs=2,
        params={"lr": 0.05},
        options={"n_train": 300},
    )


def test_run_ids_are_those_of_the_previous_release():
    runs = _known_runs()
    assert {(r.device, r.optimizer, r.seed): r.run_id for r in runs} == KNOWN_IDS
    # ttv1's ids changed in 0.2.0, on purpose: it gained the parameter `implementation` and runs
    # as a transfer rule, a different computation, so a 0.1 store must not resume its runs
    # (CHANGELOG.md). These are 0.2.0's.
    (ttv1,) = plan("digits-mlp", ["ReRamSB"], ["ttv1"], [3], epochs=1)
    assert ttv1.run_id == "ad55020c72e7c85b"
    assert replace(ttv1, split="validation").run_id == "9c676abb66911dac"


def test_the_planner_writes_each_runs_kind_outside_its_id():
    kinds = {(r.device, r.optimizer): r.kind for r in _known_runs()}
    assert kinds == {
        ("floating point", "digital"): RunKind.DIGITAL,
        ("ReRamSB", "sgd"): RunKind.DEVICE,
        ("TikiTakaReRamSBPreset", "preset"): RunKind.PRESET,
        ("power(g=0.5, tau=0.7)", "sgd"): RunKind.DEVICE,
    }
    run = _known_runs()[0]
    unkinded = replace(run, kind=None)
    assert unkinded == run and unkinded.run_id == run.run_id and "kind" not in run.config()
    assert kind_of(unkinded) == run.kind  # a run from an older store is classified alike
    assert {r.registered_device for r in _known_runs()} == {
        "floating point",
        "ReRamSB",
        "TikiTakaReRamSBPreset",
        "power",
    }


def test_a_stored_run_keeps_its_kind(tmp_path, fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    runs = plan(sweep_fake_plugin.RECIPE, ["Idealized"], ["digital", "sgd"], 1, 1)
    with ResultsStore.in_folder(tmp_path) as store:
        run_sweep(runs, store, "t", SERIAL)
        stored = {o.run.run_id: o.run.kind for o in store.outcomes()}
    assert stored == {r.run_id: r.kind for r in runs}
    assert set(stored.values()) == {RunKind.DIGITAL, RunKind.DEVICE}


# -- the factory runs once per device per process -----------------------------------------------

CALLS = itertools.count()
COUNTED: list[int] = []


def counting_factory(w_max: float = 0.6):
    """A plugin device whose factory counts its calls."""
    from aihwkit.simulator.configs import SoftBoundsDevice

    COUNTED.append(next(CALLS))
    return SoftBoundsDevice(w_max=w_max, w_min=-w_max)


class CountingPlugin:
    @hookimpl
    def register_devices(self, register):
        register(Device(name="counted", factory=counting_factory))


def test_a_device_factory_runs_at_most_twice_for_a_four_run_sweep(tmp_path, fresh_plugins):
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    plugins.register(CountingPlugin(), name="counting")
    COUNTED.clear()
    runs = check_runs(plan(sweep_fake_plugin.RECIPE, ["counted"], ["sgd", "ttv1"], 2, 1))
    assert len(runs) == 4
    with ResultsStore.in_folder(tmp_path) as store:
        report = run_sweep(runs, store, "t", SERIAL)
    assert [o.status for o in report.outcomes] == [DONE] * 4
    assert len(COUNTED) <= 2, f"the factory ran {len(COUNTED)} times for 4 runs"
    assert all(o.versions["table_error"] == "0" for o in report.outcomes)


def test_resolve_gives_one_object_with_the_setup_and_the_adaptation():
    run = next(r for r in _known_runs() if r.device.startswith("power"))
    resolved = resolve(run)
    assert resolved.kind == RunKind.DEVICE and resolved.recipe.name == "digits-mlp"
    assert resolved.adapted is not None and resolved.adapted.table_note == ""
    assert resolved.setup.rpu_config is not None
    digital = next(r for r in _known_runs() if r.kind == RunKind.DIGITAL)
    assert resolve(digital).adapted is None and resolve(digital).setup.rpu_config is None


# -- the run's main path (issue 28) --------------------------------------------------------------


@pytest.fixture
def main_paths(tmp_path, fresh_plugins, monkeypatch) -> dict[tuple[str, str], RunPath]:
    """The main path of each kind of run (digital, preset device, preset configuration,
    response device) through run_sweep, each in a fresh worker's state (no adapted device
    cached), on the fast fake recipe: the path to the recipe is the host's, whatever it trains."""
    from aimc_plugins.devices import build

    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    runs = plan(
        sweep_fake_plugin.RECIPE,
        ["ReRamSB", "TikiTakaReRamSBPreset", "power(tau=0.7, g=0.5)"],
        ["sgd", "digital"],
        [0],
        epochs=1,
        params={"lr": 0.05},
    )
    paths = {}
    for index, run in enumerate(runs):
        monkeypatch.setattr(build, "_adapted", {})
        with ResultsStore.in_folder(tmp_path / str(index)) as store, traced() as path:
            report = run_sweep([run], store, "t", SERIAL)
        assert report.outcomes[0].status == DONE, report.outcomes[0].error
        paths[(run.device, run.optimizer)] = path
    assert len(paths) == 4
    return paths


def test_a_runs_main_path_climbs_back_at_most_twice(main_paths):
    """Down the layers once and back: from the devices to training, from training to the sweep.
    Before issue 28 a device run climbed back three times (the optimizer's factory was reached
    through Optimizer.build in the records layer, which re-resolved the parameters)."""
    for (device, optimizer), path in main_paths.items():
        assert len(path.climbs) <= 2, f"{device} / {optimizer}: {path.summary()}\n{path}"
        assert "aimc_plugins.host.records" not in path.modules, f"{device}: {path}"


def test_each_module_is_entered_once_on_the_main_path(main_paths):
    """One exception, inside the devices layer: the adapter evaluates the plugin's response
    (devices.response calls its q+-) at its fit points, then at its check points."""
    for (device, optimizer), path in main_paths.items():
        twice = {m: n for m, n in path.entries.items() if n > 1}
        assert set(twice) <= {"aimc_plugins.devices.response"}, f"{device} / {optimizer}: {path}"


def test_the_worker_does_not_resolve_parameters_again(main_paths):
    """The planner resolved every parameter once (PlannedRun.params / device_params); the
    worker hands them to the factories as they are."""
    for (device, optimizer), path in main_paths.items():
        again = [c for c in path.calls if c.startswith("aimc_plugins.host.records:")]
        again = [c for c in again if "resolve_params" in c or "coerce" in c or ".build" in c]
        assert again == [], f"{device} / {optimizer} resolved again: {again}"


def test_a_run_not_resolved_by_the_planner_is_resolved_by_the_worker():
    """A run built by hand or read from an older store (no kind) may hold only some
    parameters: the worker resolves them, defaults included, as before."""
    run = next(r for r in _known_runs() if r.device.startswith("power"))
    assert resolved_by_planner(run, plugins.registry.optimizer("sgd").parameters, run.params)
    by_hand = replace(run, kind=None, params={"lr": 0.05}, device_params={"g": 0.5, "tau": 0.7})
    assert not resolved_by_planner(by_hand, (), by_hand.params)
    assert resolve(by_hand).setup.lr == resolve(run).setup.lr == 0.05
    partial = replace(run, params={"lr": 0.05})  # planned kind, but a parameter missing
    assert resolve(partial).setup.lr == 0.05
    assert resolve(replace(run, kind=None, device_params={})).adapted is not None


def test_a_presets_learning_rate_is_checked_when_planned():
    """The planner resolves a preset's lr as it resolves every other parameter, so a bad one
    fails at plan time, where the worker no longer checks it."""
    from aimc_plugins.sweep.spec import SpecError

    with pytest.raises(SpecError, match=r"preset 'TikiTakaReRamSBPreset': lr=-0.1 is below"):
        plan("digits-mlp", ["TikiTakaReRamSBPreset"], ["sgd"], [0], 1, params={"lr": -0.1})


# -- RunConfig.accelerator ------------------------------------------------------------------------


def test_run_config_device_is_the_accelerator_with_a_warning():
    setup = TrainingSetup(rpu_config=None, lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = RunConfig(setup, 1, 2, "cuda")
        assert config.accelerator == "cuda"
        assert replace(config, seed=3).accelerator == "cuda"  # no warning from replace
    with pytest.warns(DeprecationWarning, match=r"RunConfig\(accelerator=...\)"):
        old = RunConfig(setup=setup, device="cuda")
    assert old.accelerator == "cuda" and old == replace(config, seed=0, epochs=None)
    with pytest.warns(DeprecationWarning, match="RunConfig.accelerator"):
        assert old.device == "cuda"


# -- determinism is a fact about the run ----------------------------------------------------------


def unseeded_run(config: RunConfig):
    """A recipe that never seeds anything."""
    from aimc_plugins.host.records import RunResult

    return RunResult(({"epoch": 1, "loss": 1.0},), {"loss": 1.0})


def seeded_run(config: RunConfig):
    from aimc_plugins.host.records import RunResult
    from aimc_plugins.training.loop import seed_everything

    seed_everything(config.seed)
    return RunResult(({"epoch": 1, "loss": 1.0},), {"loss": 1.0})


def _recipes_module() -> types.ModuleType:
    from aimc_plugins import Recipe

    module = types.ModuleType("determinism_recipes")

    @hookimpl
    def register_recipes(register):
        register(Recipe(name="unseeded", run=unseeded_run, metric="loss"))
        register(Recipe(name="seeded", run=seeded_run, metric="loss"))

    module.register_recipes = register_recipes  # type: ignore[attr-defined]
    return module


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def determinism_recipes(fresh_plugins, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plugins.register(_recipes_module(), name="determinism_recipes")


def _run(recipe: str):
    (run,) = plan(recipe, [], ["digital"], [0], 1)
    return run_one(run)


def test_a_recipe_that_does_not_seed_is_not_deterministic(determinism_recipes, one_thread):
    assert _run("seeded").versions["deterministic"] == "yes"
    # after a seeded run in the same process, an unseeded one is still recorded as such
    verdict = _run("unseeded").versions["deterministic"]
    assert verdict.startswith("no: the run did not seed"), verdict


def test_a_run_on_several_threads_says_so(determinism_recipes, one_thread, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    verdict = _run("seeded").versions["deterministic"]
    assert verdict.startswith("no: ran on 4 threads"), verdict
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS")
    torch.set_num_threads(2)
    assert _run("seeded").versions["deterministic"].startswith("no: ran on 2 threads")


def test_the_self_check_runs_once_and_passes(one_thread):
    assert determinism.self_check() == ""
    assert determinism._checked == [""]


def test_a_fresh_worker_records_the_run_it_ran(fresh_plugins):
    """In a fresh spawned worker on one thread, a seeded run is deterministic and a run of a
    recipe that never seeds (the fake one) is not: the record follows the run, not the
    process."""
    plugins.register(sweep_fake_plugin, name="sweep_fake_plugin")
    runs = plan("digits-mlp", [], ["digital"], [0], 1, options={"n_train": 100})
    runs += plan(sweep_fake_plugin.RECIPE, [], ["digital"], [0], 1)
    outcomes = {o.run.recipe: o for o in run_pool(runs, workers=1, threads=1)}
    assert outcomes["digits-mlp"].status == DONE, outcomes["digits-mlp"].error
    assert outcomes["digits-mlp"].versions["deterministic"] == "yes"
    fake = outcomes[sweep_fake_plugin.RECIPE].versions["deterministic"]
    assert fake.startswith("no: the run did not seed"), fake
