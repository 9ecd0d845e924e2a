"""Pretraining on a tiny generated pair: picks from a selection, three seeds, seed 0 shipped."""

import json
import shutil
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from da_demo.artifacts.checkpoints import load_checkpoint
from da_demo.artifacts.manifest import read_manifest, results_table, write_manifest
from da_demo.artifacts.schemas import (
    ManifestEntry,
    ManifestSelection,
    SeedResult,
    SelectedPoint,
    SelectionFile,
    SnapshotRef,
    StartModel,
)
from da_demo.artifacts.store import ModelStore, sha256, start_model_file
from da_demo.engine.spec import RunSpec
from da_demo.engine.trainer import ProgressEvent
from da_demo.validators import PRIOR_MATCHED, classes_to_text
from da_demo.workflows import pretrain as pretrain_module
from da_demo.workflows import start_models
from da_demo.workflows.tasks import TaskContext
from da_demo.workflows.training import TrainingJob, find_start_model, restore_start_model, start_model_path


@pytest.fixture(scope="module")
def tiny_pretrain(tmp_path_factory, tiny_pair):
    tmp_path = tmp_path_factory.mktemp("pretrain")
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield run_tiny_pretrain(tmp_path, tiny_pair, monkeypatch)


def run_tiny_pretrain(tmp_path, tiny_pair, monkeypatch):
    start = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 8, "batch_size": 16}),
        device="cpu",
        precision="fp32",
    )
    start.run_to_end()
    start_path = start.save(tmp_path / "start.safetensors")
    context = TaskContext(
        device="cpu",
        precision="fp32",
        pairs={"mnist-usps": tiny_pair},
        starts={("mnist-usps", "source_only", "lean"): load_checkpoint(start_path)},
        checks={"mnist-usps": tiny_pair.source_test},
    )
    selection = {
        "pairs": {
            "mnist-usps": {
                "validator": "information_maximization",
                "methods": {
                    "deepcoral": {
                        "validator": "information_maximization",
                        "gap_points": 1.5,
                        "pick": {
                            "trial": "x",
                            "settings": {"coral_weight": 100.0},
                            "step": 6,
                            "target_acc": 0.5,
                        },
                        "oracle": {
                            "trial": "y",
                            "settings": {"coral_weight": 1000.0},
                            "step": 12,
                            "target_acc": 0.6,
                        },
                    }
                },
            }
        }
    }
    arguments = dict(
        directory=tmp_path / "out",
        seeds=3,
        selection=SelectionFile.model_validate(selection),
        context=context,
        overrides={"steps": "12", "batch_size": "16"},
        progress_records=tmp_path / "progress.jsonl",
        log=lambda line: None,
    )
    entries = pretrain_module.pretrain(["mnist-usps"], ["dann", "source_only", "deepcoral"], **arguments)
    calls = []
    resumed = pretrain_module.pretrain(
        ["mnist-usps"], ["dann", "source_only", "deepcoral"], **{**arguments, "log": calls.append}
    )
    return tmp_path / "out", entries, start_path, resumed, calls, arguments


def test_pretrain_writes_checkpoints_and_a_manifest(tiny_pretrain):
    directory, *_ = tiny_pretrain
    entries = read_manifest(directory)
    assert [entry.method for entry in entries] == ["source_only", "dann", "deepcoral"]  # teaching order
    for entry in entries:
        path = directory / entry.file
        assert path.is_file() and sha256(path) == entry.sha256
        checkpoint = load_checkpoint(path)
        assert checkpoint.metadata.stored_dtype == "float16"
        assert entry.warm_start_from == (None if entry.method == "source_only" else "source_only")
        assert 0 <= entry.drawn_acc <= 1
    assert "MNIST → USPS" in results_table(entries)


def test_every_method_runs_three_seeds_and_ships_seed_zero(tiny_pretrain):
    directory, entries, start_path, *_ = tiny_pretrain
    for entry in entries:
        assert [seed.seed for seed in entry.seeds] == [0, 1, 2]
        assert entry.seed == 0 and entry.target_acc == entry.seeds[0].target_acc
        mean = sum(seed.target_acc for seed in entry.seeds) / 3
        assert abs(entry.target_acc_mean - mean) < 1e-3
    source_only = next(entry for entry in entries if entry.method == "source_only")
    # the shipped source-only model is the very model every other method started from
    assert (
        load_checkpoint(directory / source_only.file).metadata.created
        == load_checkpoint(start_path).metadata.created
    )


def test_the_picked_settings_and_the_validators_step_are_used(tiny_pretrain):
    _, entries, *_ = tiny_pretrain
    coral = next(entry for entry in entries if entry.method == "deepcoral")
    assert coral.hyperparameters["coral_weight"] == 100.0 and coral.validator == "information_maximization"
    assert coral.picked_by == "information_maximization" and coral.steps in (2, 4, 6, 8, 10, 12)
    assert coral.selection.oracle_target_acc == 0.6 and coral.selection.gap_points == 1.5
    dann = next(entry for entry in entries if entry.method == "dann")
    assert dann.validator == "information_maximization"  # the pair's validator, defaults for settings


def test_an_interrupted_pretraining_resumes_without_training_a_finished_seed_again(tiny_pretrain):
    _, entries, _, resumed, calls, _ = tiny_pretrain
    assert "9 seeds already done, 0 to run" in calls[0]
    assert [entry.sha256 for entry in resumed] == [entry.sha256 for entry in entries]


@pytest.mark.parametrize("same_step", [True, False])
def test_more_seeds_of_a_shipped_pick_keep_its_shipped_seed_zero(tiny_pretrain, tmp_path, same_step):
    """Seeds added later for a pick already shipped train only the new seeds: the shipped file is
    seed 0 when it was shipped from the same pick (settings, step, validator); another pick's
    seed 0 trains again."""
    directory, entries, *_, arguments = tiny_pretrain
    shipped = next(entry for entry in entries if entry.method == "deepcoral")
    copy = shutil.copytree(directory, tmp_path / "out")
    document = arguments["selection"].model_dump()
    document["pairs"]["mnist-usps"]["methods"]["deepcoral"]["pick"]["step"] = shipped.steps + (0 if same_step else 1)
    selection = SelectionFile.model_validate(document)
    arguments = {**arguments, "directory": copy, "selection": selection, "progress_records": tmp_path / "p.jsonl"}
    (entry,) = pretrain_module.pretrain(["mnist-usps"], ["deepcoral"], **arguments)
    assert entry.seeds[0].origin == ("reused deepcoral.safetensors" if same_step else "trained")
    assert [seed.origin for seed in entry.seeds[1:]] == ["trained", "trained"]
    if same_step:
        ours, theirs = (load_checkpoint(folder / entry.file).classifier.state_dict() for folder in (copy, directory))
        assert all(torch.equal(value, theirs[name]) for name, value in ours.items())
        assert [seed.target_acc for seed in entry.seeds] == [seed.target_acc for seed in shipped.seeds]


def test_retrain_trains_seed_zero_again_where_the_shipped_file_is_that_seed(tiny_pretrain, tmp_path):
    """After a change to a method's code, ``retrain`` trains every seed with it: the shipped file is
    not reused as seed 0, nor is a finished seed that was a reused file or that another code version
    trained; a seed this code trained is kept (an interrupted retrain resumes)."""
    directory, entries, *_, arguments = tiny_pretrain
    copy = shutil.copytree(directory, tmp_path / "out")
    progress = tmp_path / "p.jsonl"
    arguments = {**arguments, "directory": copy, "progress_records": progress}
    (reused,) = pretrain_module.pretrain(["mnist-usps"], ["deepcoral"], **arguments)
    assert reused.seeds[0].origin == "reused deepcoral.safetensors"
    lines = progress.read_text().splitlines()
    older = json.loads(lines[-1])
    assert older["seed"] == 2
    progress.write_text("\n".join(lines[:-1] + [json.dumps({**older, "code_version": "0.0.1+older"})]) + "\n")
    said = []
    (entry,) = pretrain_module.pretrain(
        ["mnist-usps"], ["deepcoral"], **{**arguments, "retrain": True, "log": said.append}
    )
    assert "1 seeds already done, 2 to run" in said[0]
    assert [seed.origin for seed in entry.seeds] == ["trained", "trained", "trained"]
    assert entry.seeds[1] == reused.seeds[1]


@pytest.mark.parametrize("origin", ["the start model", "trained"])
def test_a_shipped_start_model_is_what_every_session_starts_from(tiny_pair, tmp_path, monkeypatch, origin):
    """A fresh machine restores the start model from the shipped file when the manifest says the
    shipped model is that start model, instead of training one whose rounding differs; a shipped
    model trained some other way is never used."""
    monkeypatch.setenv("DA_DEMO_CACHE_DIR", str(tmp_path / "cache"))
    spec = RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 4, "batch_size": 16})
    job = TrainingJob(tiny_pair, spec, device="cpu", precision="fp32")
    job.run_to_end()
    shipped = job.save(tmp_path / "shipped" / "mnist-usps" / "source_only.safetensors", half_precision=True)
    cached = start_model_path(tiny_pair, spec)
    said = f"reused {cached.name}" if origin == "the start model" else origin
    seed = SeedResult(seed=0, source_acc=0.9, target_acc=0.5, origin=said)
    entry = ManifestEntry(
        pair=tiny_pair.name, method="source_only", file="mnist-usps/source_only.safetensors",
        sha256=sha256(shipped), source_acc=0.9, target_acc=0.5, seeds=[seed],
    )  # fmt: skip
    write_manifest(tmp_path / "shipped", [entry])
    restored = restore_start_model(tiny_pair, spec, tmp_path / "shipped")
    assert restored == (origin == "the start model") and cached.is_file() == restored
    if restored:
        context = TaskContext(device="cpu", precision="fp32", pairs={tiny_pair.name: tiny_pair})
        assert context.start(spec).metadata.created == load_checkpoint(shipped).metadata.created


@pytest.mark.parametrize("vouched", [True, False])
def test_a_shipped_start_model_on_a_backbone_variant_is_restored_too(tiny_pair, tmp_path, monkeypatch, vouched):
    """A sweep on a fresh machine starts a backbone variant's runs (DeepJDOT's bounded embedding) from
    the shipped start model a manifest entry names with its SHA-256, as the shipped model did; a file
    no entry vouches for is never used."""
    monkeypatch.setenv("DA_DEMO_CACHE_DIR", str(tmp_path / "cache"))
    spec = RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 4, "batch_size": 16}, backbone="lean_in_sigmoid")
    job = TrainingJob(tiny_pair, spec, device="cpu", precision="fp32")
    job.run_to_end()
    name = start_model_file(tiny_pair.name, "source_only", "lean_in_sigmoid")
    shipped = job.save(tmp_path / "shipped" / name)
    entry = ManifestEntry(
        pair=tiny_pair.name, method="deepjdot", file="mnist-usps/deepjdot.safetensors", sha256="0" * 64,
        source_acc=0.9, target_acc=0.5, start_model=StartModel(file=name, sha256=sha256(shipped) if vouched else "1" * 64),
    )  # fmt: skip
    write_manifest(tmp_path / "shipped", [entry])
    assert restore_start_model(tiny_pair, spec, tmp_path / "shipped") == vouched
    cached = start_model_path(tiny_pair, spec)
    assert cached.is_file() == vouched and (not vouched or sha256(cached) == sha256(shipped))


def test_a_seed_the_guards_let_no_point_through_stops_at_the_picks_step(tiny_pretrain, tmp_path, monkeypatch):
    """A pick that passed the handwriting guard sits just before the guard's edge, where another
    seed can fall short: a seed with no point the guards let through ships at the pick's step. For
    a pick that waived the guard it is the validator's best of all points, wherever the pick was."""

    class RejectAll:
        def __init__(self, context, job):
            pass

        def at(self, event):
            return SimpleNamespace(reject=lambda event: True)

    monkeypatch.setattr(pretrain_module, "GuardReader", RejectAll)
    *_, arguments = tiny_pretrain

    def shipped_step(pick_step: int, waived: bool) -> int:
        document = arguments["selection"].model_dump()
        document["pairs"]["mnist-usps"]["methods"]["deepcoral"]["pick"]["step"] = pick_step
        document["pairs"]["mnist-usps"]["methods"]["deepcoral"]["handwriting_waived"] = waived
        folder = tmp_path / f"{pick_step}-{waived}"
        (entry,) = pretrain_module.pretrain(
            ["mnist-usps"],
            ["deepcoral"],
            **{
                **arguments,
                "directory": folder,
                "selection": SelectionFile.model_validate(document),
                "progress_records": folder / "progress.jsonl",
                "seeds": 1,
            },
        )
        return entry.steps

    assert shipped_step(2, waived=False) == 2 and shipped_step(4, waived=False) == 4
    assert shipped_step(2, waived=True) == shipped_step(4, waived=True)


def test_seed_zero_reuses_the_sweeps_snapshot_only_at_the_picks_step(tiny_pretrain, tmp_path):
    """The sweep keeps each validator's best point whatever the guards say; where the guards moved
    the pick to another step, that snapshot is not the pick, and seed 0 trains."""
    *_, arguments = tiny_pretrain
    context = arguments["context"]
    spec = RunSpec.resolve("mnist-usps", "deepcoral", {"coral_weight": 100.0})
    task = pretrain_module.PretrainTask(spec, ("coral_weight",), "information_maximization")
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "information_maximization.safetensors").write_bytes(b"model")
    snapshot = SnapshotRef(step=6, file="trial/information_maximization.safetensors")
    record = SimpleNamespace(key="x", ok=True, snapshots={"information_maximization": snapshot})
    said = []
    for step, expected in ((6, str(tmp_path / "trial" / "information_maximization.safetensors")), (4, None)):
        picked = SelectedPoint(trial="x", step=step)
        assert pretrain_module._reuse(context, task, picked, [record], tmp_path, said.append) == expected
    assert said == ["mnist-usps deepcoral: no sweep snapshot of the pick (step 4)"]


def test_a_model_on_a_variant_backbone_ships_beside_its_start_model_and_runs_start_from_it(tmp_path, tiny_pair):
    settings = {"bounded_embedding": True, "unbalanced": True}
    start_spec = RunSpec.resolve(tiny_pair.spec, "deepjdot", settings).start
    job = TrainingJob(tiny_pair, replace(start_spec, hparams=replace(start_spec.hparams, steps=4)), device="cpu")
    job.run_to_end()
    start = load_checkpoint(job.save(tmp_path / "start.safetensors"))
    assert start.metadata.backbone == "lean_sigmoid"
    starts = {("mnist-usps", "source_only", "lean_sigmoid"): start}
    context = TaskContext(device="cpu", precision="fp32", pairs={"mnist-usps": tiny_pair}, starts=starts)
    directory = tmp_path / "shipped"
    directory.mkdir()
    (directory / "mnist-usps" / "start").mkdir(parents=True)
    (directory / "mnist-usps" / "start" / "mcc-lean_sigmoid.safetensors").write_bytes(b"stale")
    entry = ManifestEntry(
        pair="mnist-usps", method="deepjdot", file="mnist-usps/deepjdot.safetensors", sha256="0" * 64,
        backbone="lean_sigmoid", source_acc=0.9, target_acc=0.9, selection=ManifestSelection(settings=settings),
    )  # fmt: skip
    write_manifest(directory, [entry])
    start_models.ship_start_models(directory, context, log=lambda line: None)
    shipped = directory / start_model_file("mnist-usps", "source_only", "lean_sigmoid")
    assert shipped.read_bytes() == (tmp_path / "start.safetensors").read_bytes()
    assert not (directory / "mnist-usps" / "start" / "mcc-lean_sigmoid.safetensors").exists()
    # the model's entry names its start model and vouches for it (the Hub copy is checked against it)
    (listed,) = read_manifest(directory)
    named = shipped.relative_to(directory).as_posix()
    assert (listed.start_model.file, listed.start_model.sha256) == (named, sha256(shipped))
    # a visitor's run of those settings starts from the shipped start model, without training one
    found = find_start_model(
        tiny_pair, start_spec, store=ModelStore(directory=directory, use_hub=False), train_missing=False
    )
    assert found.metadata.created == start.metadata.created


def test_a_pick_at_another_validators_snapshot_step_reuses_that_file(tiny_pretrain, tmp_path):
    """The same trial at the same step is the same model, whichever validator's best it was kept as."""
    *_, arguments = tiny_pretrain
    spec = RunSpec.resolve("mnist-usps", "deepcoral", {"coral_weight": 100.0})
    task = pretrain_module.PretrainTask(spec, ("coral_weight",), PRIOR_MATCHED)
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "target_entropy.safetensors").write_bytes(b"model")
    snapshots = {"target_entropy": SnapshotRef(step=6, file="trial/target_entropy.safetensors")}
    record = SimpleNamespace(key="x", ok=True, snapshots=snapshots)
    picked = SelectedPoint(trial="x", step=6)
    found = pretrain_module._reuse(arguments["context"], task, picked, [record], tmp_path, print)
    assert found == str(tmp_path / "trial" / "target_entropy.safetensors")


def test_each_seeds_step_is_scored_by_the_methods_own_validator_with_the_pairs_prior(tmp_path):
    prior = [0.3] + [0.7 / 9] * 9
    selection = SelectionFile.model_validate(
        {
            "pairs": {
                "mnist-usps": {
                    "validator": PRIOR_MATCHED,
                    "target_prior": prior,
                    "methods": {
                        "dann": {"validator": PRIOR_MATCHED},
                        "mmd": {"validator": "information_maximization"},  # not scored by the pair's
                    },
                }
            }
        }
    )
    tasks = pretrain_module.plan_pretraining(
        ["mnist-usps"], ["dann", "mmd"], seeds=1, selection=selection, overrides={}, staging=tmp_path,
        reuse=lambda task, picked: None,
    )  # fmt: skip
    (dann,), (mmd,) = tasks["mnist-usps", "dann"], tasks["mnist-usps", "mmd"]
    assert (dann.validator, mmd.validator) == (PRIOR_MATCHED, "information_maximization")
    assert dann.prior == pytest.approx(tuple(prior))
    lopsided = classes_to_text(np.repeat(np.arange(10), [30] + [7] * 9)[:93])
    even = classes_to_text(np.arange(90) % 10)
    scores = {}
    for name, classes in (("lopsided", lopsided), ("even", even)):
        event = ProgressEvent(1, 2, 0.0, 0.0, 0.0, validators={"target_entropy": -0.1}, target_classes=classes)
        scores[name] = dann._scored(event).validators[PRIOR_MATCHED]
        assert PRIOR_MATCHED not in mmd._scored(event).validators
    assert scores["lopsided"] > scores["even"]  # the class mix of the prior wins
