"""Long trials survive the end of their process: a run's state saved between two events resumes it
exactly, and a sweep or search trial cut short goes on from its saved step (tiny generated pair)."""

import contextlib
import io

import pytest
import torch

from da_demo.artifacts.checkpoints import load_checkpoint
from da_demo.engine.runs import Run
from da_demo.engine.spec import RunSpec
from da_demo.workflows import resuming
from da_demo.workflows.search import Halving, _OptunaJudge, _storage, plan_search, summarize
from da_demo.workflows.sweep import plan_trials


@contextlib.contextmanager
def raising_at_step(monkeypatch, step: int, error: BaseException):
    """While inside, a task's evaluation at ``step`` or later raises ``error``: a session that ends
    (``KeyboardInterrupt``) or a run that fails, part-way through training."""
    from da_demo.workflows import tasks

    read = tasks.GuardReader.at

    def raising(self, event):
        if event.step >= step:
            raise error
        return read(self, event)

    with monkeypatch.context() as patch:
        patch.setattr(tasks.GuardReader, "at", raising)
        yield


def _weights(run: Run) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in run.method.kept_classifier().state_dict().items()}


@pytest.mark.parametrize(
    "method,settings",
    [
        # a weight average, a teacher refreshed in the DIRT-T phase, a step counter, VAT's random nudges
        ("vada_dirtt", {"dirtt_fraction": 0.5, "teacher_refresh": 5, "weight_average": 0.9}),
        # its own augmentation generator and teacher, augmented source batches from the loop's generator
        ("self_ensembling", {"source_augment": True, "warm_start": False}),
    ],
)
def test_a_run_resumed_from_its_saved_state_ends_exactly_where_an_uninterrupted_run_does(tiny_pair, method, settings):
    spec = RunSpec.resolve(tiny_pair.spec, method, {"steps": 24, "batch_size": 16, **settings}, seed=3)
    start = None
    if spec.start is not None:  # a short source-only run to start from
        start = Run(tiny_pair, RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 8, "batch_size": 16}))
        for _ in start.events(log_every=8):
            pass

    def new_run() -> Run:
        return Run(tiny_pair, spec, device="cpu", precision="fp32", start_classifier=start and start.method.classifier)

    whole = new_run()
    final = [event for event in whole.events(log_every=4) if event.done][0]

    first = new_run()
    buffer = io.BytesIO()
    for event in first.events(log_every=4):
        if event.step == 12:  # the process ends here, its state saved as a file would hold it
            torch.save(first.state(), buffer)
            break
    torch.manual_seed(12345)  # whatever the new process's random state was
    buffer.seek(0)
    resumed = new_run()
    resumed.resume(torch.load(buffer, weights_only=False))
    events = list(resumed.events(log_every=4))
    assert [event.step for event in events] == [16, 20, 24, 24] and resumed.resumed_at == [12]  # the last: done
    assert events[-1].target_acc == final.target_acc and events[-1].train_seconds > 0
    for name, value in _weights(whole).items():
        assert torch.equal(_weights(resumed)[name], value), name


def test_a_run_refuses_a_saved_state_of_other_settings(tiny_pair):
    spec = RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 8, "batch_size": 16})
    other = Run(tiny_pair, RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 8, "batch_size": 32}), device="cpu")
    with pytest.raises(ValueError, match="not a source_only run of these settings"):
        Run(tiny_pair, spec, device="cpu").resume(other.state())


class _EndsAt:
    """A judge whose process ends (raises) at an evaluation point."""

    def __init__(self, step: int) -> None:
        self.step = step

    def stops(self, event, guards) -> bool:
        if event.step >= self.step:
            raise KeyboardInterrupt("the session ended")
        return False

    def state(self):
        return None

    def restore(self, state) -> None:
        pass


def test_a_sweep_trial_cut_short_resumes_from_its_saved_step(trial_context, tmp_path, monkeypatch):
    monkeypatch.setattr(resuming, "RESUME_EVERY", 0.0)  # save at every event
    grid = {"steps": [24], "batch_size": [16], "lambda_max": [1.0], "entropy_weight": [0.0]}
    (trial,) = plan_trials(["mnist-usps"], ["dann"], grid_overrides=grid)
    uninterrupted = trial.train(trial_context)
    context = trial_context.portable()
    context.resume_dir = tmp_path / "resume"
    with pytest.raises(KeyboardInterrupt):
        trial.train(context, _EndsAt(16))
    saved = sorted(path.name for path in context.resume_dir.iterdir())
    assert saved == [f"{trial.slug}.json", f"{trial.slug}.pt"]
    assert resuming.saved_step(context.resume_dir, trial.slug) == 12  # what --dry-run and the summary say

    resumed = trial.train(context)
    assert resumed["resumed_at"] == [12]  # the last event before the end (evaluated every 4 steps)
    assert [point["step"] for point in resumed["points"]] == [point["step"] for point in uninterrupted["points"]]
    for ours, theirs in zip(resumed["points"], uninterrupted["points"]):
        assert ours["target_acc"] == theirs["target_acc"] and ours["validators"] == theirs["validators"]
    assert "resumed_at" not in uninterrupted and not list(context.resume_dir.iterdir())  # removed once done


def test_an_unreadable_saved_state_is_set_aside_and_the_trial_starts_afresh(trial_context, tmp_path):
    grid = {"steps": [8], "batch_size": [16], "coral_weight": [1.0], "entropy_weight": [0.0]}
    (trial,) = plan_trials(["mnist-usps"], ["deepcoral"], grid_overrides=grid)
    context = trial_context.portable()
    context.resume_dir = tmp_path
    (tmp_path / f"{trial.slug}.pt").write_bytes(b"half a file")
    record = trial.train(context)
    assert "resumed_at" not in record and record["points"][-1]["step"] == 8
    assert (tmp_path / f"{trial.slug}.unreadable").is_file()


def test_a_resumed_search_trial_keeps_the_rungs_its_first_run_passed(tmp_path):
    optuna = pytest.importorskip("optuna")
    records = tmp_path / "sweep.jsonl"
    grid = {"batch_size": [16], "lr": [1e-4, 1e-3], "coral_weight": [1.0], "entropy_weight": [0.0]}
    trials = plan_search("mnist-usps", "deepcoral", grid, 32, Halving(min_steps=4, reduction_factor=2), records)
    optuna.create_study(study_name=trials[0].study, storage=_storage(trials[0].journal), direction="maximize")
    judge = _OptunaJudge(trials[0])
    judge.restore([(4, 1.5), (8, 1.7)])  # the interrupted run reached step 8: past the rungs at 4 and 8
    attrs = judge.study.get_trials(deepcopy=False)[-1].system_attrs
    assert {"completed_rung_0", "completed_rung_1"} <= set(attrs)
    assert judge.state() == [(4, 1.5), (8, 1.7)] and judge.trial.user_attrs["key"] == trials[0].key


def test_a_search_summary_says_where_a_cut_short_trial_resumes(trial_context, tmp_path):
    records = tmp_path / "sweep.jsonl"
    grid = {"batch_size": [16], "lr": [1e-4, 1e-3], "coral_weight": [1.0], "entropy_weight": [0.0]}
    trials = plan_search("mnist-usps", "deepcoral", grid, 32, Halving(min_steps=4, reduction_factor=2), records)
    job = trial_context.job(trials[0].spec)
    for event in job.events(log_every=4):
        if event.step == 8:
            resuming.ResumeFile(tmp_path / f"{trials[0].slug}.pt", job, trials[0].key).save({})
            break
    text = summarize(trials, [], tmp_path).text()
    assert "cut short: resumes at step 8" in text and text.count("not run yet") == 1


def test_a_pretraining_seed_cut_short_resumes_and_saves_the_same_model(trial_context, tmp_path, monkeypatch):
    from da_demo.workflows.pretrain import PretrainTask

    monkeypatch.setattr(resuming, "RESUME_EVERY", 0.0)
    spec = RunSpec.resolve("mnist-usps", "dann", {"steps": 24, "batch_size": 16})
    context = trial_context.portable()
    context.checks = {"mnist-usps": context.pair("mnist-usps").source_test}
    whole = PretrainTask(spec, ("steps",), "information_maximization", str(tmp_path / "whole.safetensors"))
    whole._train(context)

    context.resume_dir = tmp_path / "resume"
    task = PretrainTask(spec, ("steps",), "information_maximization", str(tmp_path / "cut.safetensors"))
    with raising_at_step(monkeypatch, 16, KeyboardInterrupt("the session ended")):
        with pytest.raises(KeyboardInterrupt):
            task._train(context)
    assert (context.resume_dir / f"{task.slug}.pt").is_file()
    task._train(context)
    assert not list(context.resume_dir.iterdir())
    ours, theirs = (load_checkpoint(tmp_path / name) for name in ("cut.safetensors", "whole.safetensors"))
    assert ours.metadata.steps == theirs.metadata.steps
    for name, value in theirs.classifier.state_dict().items():
        assert torch.equal(ours.classifier.state_dict()[name], value), name


def test_a_task_that_fails_starts_afresh_but_one_whose_process_ends_resumes(trial_context, tmp_path, monkeypatch):
    from da_demo.workflows import tasks

    monkeypatch.setattr(resuming, "RESUME_EVERY", 0.0)
    grid = {"steps": [24], "batch_size": [16], "coral_weight": [1.0], "entropy_weight": [0.0]}
    (trial,) = plan_trials(["mnist-usps"], ["deepcoral"], grid_overrides=grid)
    context = trial_context.portable()
    context.resume_dir = tmp_path
    with raising_at_step(monkeypatch, 16, RuntimeError("out of memory")):
        record = tasks.run_task(trial, context)
    assert record["status"] == "failed" and "out of memory" in record["error"]
    assert resuming.saved_step(tmp_path, trial.slug) is None and (tmp_path / f"{trial.slug}.failed").is_file()
    assert "resumed_at" not in tasks.run_task(trial, context)  # the next run starts from step 0
