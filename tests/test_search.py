"""The search (successive halving over a grid, Optuna's pruner deciding from our training loop), on
the tiny generated pair, and its refusals of bad requests before anything trains."""

import json
import math

import pytest
from conftest import tiny_task_context

from da_demo.engine.trainer import ProgressEvent
from da_demo.validators import classes_to_text
from da_demo.workflows.executors import ProcessExecutor
from da_demo.workflows.search import Halving, journal_of, plan_search, promotion_score, run_search, summarize
from da_demo.workflows.sweep import PRUNED, pending, read_sweep
from da_demo.workflows.tasks import Guards

pytest.importorskip("optuna")


@pytest.mark.parametrize(
    ("method", "options", "steps", "grid", "says"),
    [
        ("mcc", {"patience": "3"}, 6000, {}, "Unknown scheduler option 'patience'"),
        ("mcc", {"reduction_factor": "1"}, 6000, {}, "reduction_factor must be at least 2"),
        ("mcc", {"min_steps": "many"}, 6000, {}, "min_steps must be a whole number"),
        ("mcc", {"promote_by": "ensemble_agreement"}, 6000, {}, "not 'ensemble_agreement'"),
        ("mcc", {}, 400, {}, "A budget of 400 steps is below one evaluation (min_steps=500)"),
        ("mcc", {}, 6000, {"temperature": ["2.5"]}, "A grid of 2 setting(s) is too small to rank"),
        ("ot_sinkhorn", {}, 6000, {}, "ot_sinkhorn is fitted in stages"),
        ("mcc", {}, 6000, {"warp": ["1"]}, "None of the chosen methods has a setting 'warp'"),
    ],
)
def test_bad_search_requests_get_one_sentence_before_anything_trains(method, options, steps, grid, says, tmp_path):
    with pytest.raises(ValueError) as raised:
        plan_search("mnist-usps", method, grid, steps, Halving.from_options(options), tmp_path / "r.jsonl")
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_the_promotion_score_is_a_validator_behind_the_selections_guards():
    def event(classes):
        return ProgressEvent(
            step=10, total_steps=20, epoch=0.1, elapsed=1.0, train_seconds=1.0,
            validators={"information_maximization": 1.5, "source_accuracy": 0.9},
            target_classes=classes_to_text(classes),
        )  # fmt: skip

    balanced, one_class = [digit % 10 for digit in range(200)], [3] * 200
    reads, forgets = Guards(math.log(10), 0.91, 0.92), Guards(math.log(10), 0.85, 0.92)
    assert promotion_score(event(balanced), "information_maximization", reads) == 1.5
    assert promotion_score(event(one_class), "source_accuracy", reads) == -math.inf  # collapsed
    assert promotion_score(event(balanced), "information_maximization", forgets) == -math.inf  # handwriting
    assert Halving(min_steps=4, reduction_factor=2).rungs(32) == [4, 8, 16]


def test_a_rerun_of_an_interrupted_trial_competes_with_the_other_settings_not_with_its_first_run():
    optuna = pytest.importorskip("optuna")
    halving = Halving(min_steps=10)

    def reported(study, key: str, score: float):
        trial = study.ask()
        trial.set_user_attr("key", key)
        trial.report(score, 10)
        return trial

    for pruner, rerun_pruned in ((halving.pruner(), False), (optuna.pruners.SuccessiveHalvingPruner(10, 3), True)):
        study = optuna.create_study(direction="maximize", pruner=pruner)
        first = reported(study, "a", 2.23681)
        assert not first.should_prune()  # alone at its rung; then interrupted, failed when the search resumed
        study.tell(first, state=optuna.trial.TrialState.FAIL)
        rerun = reported(study, "a", 2.23676)  # the same training, other last digits (another thread count)
        assert rerun.should_prune() is rerun_pruned
        study.tell(rerun, 2.5)
        assert reported(study, "b", 2.0).should_prune()  # another setting still meets both runs' scores


@pytest.fixture(scope="module")
def search_context(tiny_pair):
    """The tiny pair with a source-only start model that reads every class (the 8-step one of the
    sweep's tests predicts one class everywhere, which the collapse guard scores −∞)."""
    return tiny_task_context(tiny_pair, steps=20, lr=0.01)


def test_a_search_prunes_at_rungs_records_every_trial_and_resumes(search_context, tmp_path):
    records = tmp_path / "sweep.jsonl"
    grid = {"batch_size": [16], "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], "coral_weight": [1.0], "entropy_weight": [0.0]}
    halving = Halving(min_steps=4, reduction_factor=2)
    trials = plan_search("mnist-usps", "deepcoral", grid, 32, halving, records)
    assert len(trials) == 5 and all(trial.key.startswith("search/mnist-usps/deepcoral/") for trial in trials)
    # one worker process: the trials report to the study from another process, in a fixed order
    results = list(run_search(trials, records, ProcessExecutor(1), context=search_context, log=lambda line: None))
    assert [record["status"] for record in results] == ["ok"] * 5
    saved = {record.key: record for record in read_sweep(records)}
    pruned = [record for record in saved.values() if record.ended_early == PRUNED]
    finished = [record for record in saved.values() if record.ended_early is None]
    assert pruned and finished and len(pruned) + len(finished) == 5
    for record in pruned:  # stopped at a rung, every point before it recorded
        steps = [point.step for point in record.points]
        assert steps[-1] in (4, 8, 16) and steps == list(range(4, steps[-1] + 1, 4)) and not record.snapshots
    for record in finished:
        assert record.points[-1].step == 32 and record.metrics is not None
    # the study (Optuna's journal beside the records) saw each trial end as its record says
    journal = [json.loads(line) for line in journal_of(records).read_text().splitlines()]
    assert sum(1 for op in journal if op.get("state") == 2) == len(pruned)  # TrialState.PRUNED
    summary = summarize(trials, read_sweep(records))
    assert summary.steps_trained < summary.steps_full_grid == 5 * 32
    assert summary.seconds_trained < summary.seconds_full_grid and summary.pick.key in saved
    assert "pruned at" in summary.text() and "% saved" in summary.text()
    assert summary.trials_run == summary.trials == 5 and "trials have run" not in summary.text()
    partial = summarize(trials, read_sweep(records)[:2])  # an interrupted search says what its figures cover
    assert partial.trials_run == 2 and "2 of the grid's 5 trials have run" in partial.text()
    assert pending(trials, records) == []  # a finished search resumes with nothing to run
