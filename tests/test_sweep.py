"""The sweep (trials → appended records, resumable) and label-free selection, on a tiny generated pair."""

import json
import random

import numpy as np
import pytest

from da_demo.artifacts.records import RecordsError, append_record
from da_demo.artifacts.schemas import SweepRecord, read_lines
from da_demo.validators import PRIOR_MATCHED, SELECTION_VALIDATORS, VALIDATORS
from da_demo.workflows import selection
from da_demo.workflows.executors import LocalExecutor
from da_demo.workflows.sweep import pending, plan_trials, read_sweep, run_sweep
from da_demo.workflows.tasks import failed_record, run_task


def tiny_trials():
    return plan_trials(
        ["mnist-usps"],
        ["deepcoral"],
        grid_overrides={
            "steps": [16],
            "batch_size": [16],
            "coral_weight": [1.0, 100.0],
            "entropy_weight": [0.0],
        },
    )


def test_a_sweep_records_every_trial_once_and_resumes(trial_context, tmp_path):
    records = tmp_path / "sweep.jsonl"
    trials = tiny_trials()
    assert len(trials) == 2 and len({trial.key for trial in trials}) == 2
    first = list(
        run_sweep(trials[:1], records, LocalExecutor(), context=trial_context, log=lambda line: None)
    )
    assert [record["status"] for record in first] == ["ok"]
    assert pending(trials, records) == trials[1:]  # an interrupted sweep resumes where it stopped
    list(run_sweep(trials, records, LocalExecutor(), context=trial_context, log=lambda line: None))
    saved = read_sweep(records)
    assert [record.key for record in saved] == [trial.key for trial in trials]
    for record in saved:
        steps = [point.step for point in record.points]
        assert steps == sorted(steps) and steps[-1] == 16 and len(steps) >= 4
        assert all(set(point.validators) == set(VALIDATORS) for point in record.points)
        assert all(len(point.target_classes) == 300 for point in record.points)  # the tiny pair's 300 targets
        assert 0 < record.source_class_entropy <= np.log(10) + 1e-9
        # the handwriting guard's numbers: each point on drawn-style digits, and source-only's reference
        assert all(0 <= point.drawn_acc <= 1 for point in record.points) and 0 <= record.reference_drawn_acc <= 1
        assert record.settings["coral_weight"] in (1.0, 100.0) and record.hyperparameters["steps"] == 16
    assert pending(trials, records) == []

    # a record from before the handwriting guard (no drawn-digit scores) is run again on --refresh,
    # and the newer record stands for its trial
    old = saved[0].model_dump(mode="json")
    old["points"] = [{**point, "drawn_acc": None} for point in old["points"]]
    append_record(records, old)
    assert not read_sweep(records)[-1].guarded and len(read_sweep(records)) == 2
    assert pending(trials, records) == [] and pending(trials, records, refresh=True) == trials[:1]
    rerun = run_sweep(trials, records, LocalExecutor(), context=trial_context, log=lambda line: None, refresh=True)
    assert [record["key"] for record in rerun] == [trials[0].key]
    assert [record.key for record in read_sweep(records)] == [trials[1].key, trials[0].key]
    assert all(record.guarded for record in read_sweep(records))


def test_a_trial_that_raises_is_recorded_as_failed_and_the_sweep_goes_on(trial_context, tmp_path):
    def sometimes_fails(trial, trial_context):
        if trial.settings["coral_weight"] == 1.0:
            raise RuntimeError("boom")
        return run_task(trial, trial_context)

    def guarded(trial, trial_context):
        try:
            return sometimes_fails(trial, trial_context)
        except RuntimeError as error:
            return failed_record(trial, str(error))

    records = tmp_path / "sweep.jsonl"
    results = list(
        run_sweep(
            tiny_trials(), records, LocalExecutor(guarded), context=trial_context, log=lambda line: None
        )
    )
    assert sorted(record["status"] for record in results) == ["failed", "ok"]
    assert len(pending(tiny_trials(), records)) == 1  # the failed one is tried again next time


def test_bad_sweep_requests_get_one_clear_sentence_before_training():
    with pytest.raises(ValueError, match="Unknown method"):
        plan_trials(["mnist-usps"], ["danm"])
    with pytest.raises(ValueError, match="None of the chosen methods has a setting 'lamda_max'"):
        plan_trials(["mnist-usps"], ["dann"], grid_overrides={"lamda_max": [1]})
    with pytest.raises(ValueError, match="grid for lambda_max is empty"):
        plan_trials(["mnist-usps"], ["dann"], grid_overrides={"lambda_max": []})
    with pytest.raises(ValueError, match="not a valid float"):
        plan_trials(["mnist-usps"], ["dann"], grid_overrides={"lambda_max": ["strong"]})
    with pytest.raises(ValueError, match="Unknown domain pair"):
        plan_trials(["mnist-svhn"], ["dann"])


def test_every_method_declares_a_small_grid_of_valid_settings():
    from da_demo.methods import get_method, method_names
    from da_demo.workflows.sweep import grid_points

    for name in method_names():
        points = grid_points(get_method(name).sweep_grid)
        assert 1 <= len(points) <= 8, (name, len(points))
    trials = plan_trials(["mnist-usps", "mnist-mnistm", "mnist-noisy"], method_names())
    assert len(trials) == 3 * sum(len(grid_points(get_method(name).sweep_grid)) for name in method_names())


def test_a_corrupt_records_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "sweep.jsonl"
    good = {"key": "a", "pair": "mnist-usps", "method": "dann", "status": "ok"}
    append_record(path, good)
    with open(path, "a") as handle:
        handle.write('{"key": "b", "points": [\n')
    append_record(path, {**good, "key": "c"})
    with pytest.raises(RecordsError, match="line 2"):
        read_lines(path, SweepRecord)
    path.write_text(json.dumps(good) + "\n[1, 2]\n")
    with pytest.raises(RecordsError, match="line 2: expected a JSON object"):
        read_lines(path, SweepRecord)
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "status": "maybe"}) + "\n")
    with pytest.raises(RecordsError, match="line 2: field status"):
        read_lines(path, SweepRecord)


def fake_records(seed=0):
    """Three pairs × two methods × three trials, four points each, with made-up scores."""
    rng = random.Random(seed)
    records = []
    for pair in ("mnist-usps", "mnist-mnistm", "mnist-noisy"):
        for method in ("dann", "mmd"):
            for trial in range(3):
                points = []
                for step in (10, 20, 30, 40):
                    quality = rng.random()
                    points.append(
                        {
                            "step": step,
                            "target_acc": quality,
                            "source_acc": 0.99,
                            "validators": {
                                name: quality + rng.gauss(0, 0.3 if name == "source_accuracy" else 0.05)
                                for name in VALIDATORS
                            },
                        }
                    )
                key = f"{pair}/{method}/w{trial}/seed0"
                records.append(
                    {
                        "key": key,
                        "pair": pair,
                        "method": method,
                        "settings": {"w": trial},
                        "seed": 0,
                        "status": "ok",
                        "points": points,
                    }
                )
    return records


def typed(records):
    return [SweepRecord.model_validate(record) for record in records]


def test_selection_never_reads_target_accuracy():
    records = fake_records()
    picks, _ = selection.select(
        typed(records), ["mnist-usps", "mnist-mnistm", "mnist-noisy"], ["dann", "mmd"]
    )
    shuffled = json.loads(json.dumps(records))
    rng = random.Random(1)
    for record in shuffled:
        for point in record["points"]:
            point["target_acc"] = rng.random()
    removed = json.loads(json.dumps(records))
    for record in removed:
        for point in record["points"]:
            del point["target_acc"]
    for validator in VALIDATORS:
        for pair in ("mnist-usps", "mnist-noisy"):
            expected = selection.pick(selection.points_of(typed(records), pair, "dann"), validator)
            for variant in (shuffled, removed):
                got = selection.pick(selection.points_of(typed(variant), pair, "dann"), validator)
                assert (got.key, got.step) == (expected.key, expected.step)
    assert all(chosen.pick is not None for chosen in picks.values())


def test_the_deciding_validator_is_chosen_on_the_other_pairs_only():
    records = fake_records()
    rhos = selection.correlations(
        typed(records), ["mnist-usps", "mnist-mnistm", "mnist-noisy"], ["dann", "mmd"]
    )
    # the noisier validator (source accuracy here) ranks worse on every pair
    chosen, means = selection.choose_validator(rhos, "mnist-usps")
    assert chosen != "source_accuracy" and means[chosen] == max(means.values())
    # whatever the pair's own target accuracies say, its validator stays the same
    scrambled = [
        dict(r, points=[dict(p, target_acc=1 - p["target_acc"]) for p in r["points"]])
        if r["pair"] == "mnist-usps"
        else r
        for r in records
    ]
    rhos_scrambled = selection.correlations(
        typed(scrambled), ["mnist-usps", "mnist-mnistm", "mnist-noisy"], ["dann", "mmd"]
    )
    assert selection.choose_validator(rhos_scrambled, "mnist-usps")[0] == chosen


def test_the_oracle_uses_target_accuracy_and_the_gap_is_measured_against_it():
    records = fake_records()
    picks, _ = selection.select(
        typed(records), ["mnist-usps", "mnist-mnistm", "mnist-noisy"], ["dann", "mmd"]
    )
    for chosen in picks.values():
        assert chosen.oracle.target_acc >= chosen.pick.target_acc and chosen.gap >= 0


def test_the_collapse_guard_keeps_a_collapsed_point_from_being_picked_and_ensv_is_scored():
    records = fake_records()
    record = records[0]  # mnist-usps dann, first trial
    best = max(record["points"], key=lambda point: point["validators"]["information_maximization"])
    balanced = "0123456789" * 30
    for other in records:
        for point in other["points"]:
            point["target_classes"] = balanced
        other["source_class_entropy"] = float(np.log(10))
    best["target_classes"] = "0" * 300  # the validator's favourite predicts one class only
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    chosen = selection.pick(points, "information_maximization")
    assert chosen is not None and (chosen.key, chosen.step) != (record["key"], best["step"])
    assert sum(point.collapsed for point in points) == 1
    scores = [point.validators["ensemble_agreement"] for point in points]
    assert min(scores) == pytest.approx(0.1) and max(scores) == pytest.approx(1.0)


def test_the_handwriting_guard_keeps_a_pick_that_reads_drawn_digits_badly_from_being_picked():
    records = fake_records()
    record = records[0]  # mnist-usps dann, first trial
    best = max(record["points"], key=lambda point: point["validators"]["information_maximization"])
    for other in records:
        other["reference_drawn_acc"] = 0.90
        for point in other["points"]:
            point["drawn_acc"] = 0.88  # within the margin: still reads handwriting
    best["drawn_acc"] = 0.80  # the validator's favourite no longer reads plain handwriting
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    chosen = selection.pick(points, "information_maximization")
    assert chosen is not None and (chosen.key, chosen.step) != (record["key"], best["step"])
    assert [point.step for point in points if point.unreadable] == [best["step"]]
    assert not selection.unreadable(None, 0.9) and not selection.unreadable(0.5, None)  # older records pass


def test_the_results_tab_says_when_the_handwriting_guard_moved_the_pick_and_greys_what_it_kept_out():
    from da_demo.ui.results import guard_note
    from da_demo.viz.results import validator_scatter

    records = fake_records()
    best = max(records[0]["points"], key=lambda point: point["validators"]["information_maximization"])
    for record in records:
        record["reference_drawn_acc"] = 0.90
        for point in record["points"]:
            point["drawn_acc"] = 0.88
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    chosen, waived = selection.guarded_pick(points, "information_maximization")
    assert guard_note(points, chosen, "information_maximization", waived, "dann") == ""  # nothing moved it
    best["drawn_acc"] = 0.80  # the validator's favourite no longer reads plain handwriting
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    chosen, waived = selection.guarded_pick(points, "information_maximization")
    note = guard_note(points, chosen, "information_maximization", waived, "dann")
    assert f"at step {best['step']}" in note and "the handwriting guard kept it out" in note
    figure = validator_scatter(
        [point.validators["information_maximization"] for point in points],
        [point.target_acc for point in points],
        (chosen.validators["information_maximization"], chosen.target_acc),
        None,
        "information maximisation",
        0.5,
        "MNIST → USPS, DANN",
        [point.unreadable for point in points],
    )
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert "kept out by a guard" in labels and "label-free pick (highest score of the rest)" in labels


def test_when_no_point_reads_drawn_digits_the_pick_waives_that_guard_and_says_so():
    records = fake_records()
    for record in records:
        record["reference_drawn_acc"] = 0.90
        for point in record["points"]:
            point["drawn_acc"] = 0.70  # every point of every trial reads plain handwriting badly
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    assert selection.pick(points, "information_maximization") is None
    selections, _ = selection.select(typed(records), ["mnist-usps"], ["dann"])
    chosen = selections["mnist-usps", "dann"]
    assert chosen.handwriting_waived and chosen.to_dict()["handwriting_waived"] is True
    assert chosen.pick == selection.pick(points, chosen.validator, handwriting=False)
    assert selection.guarded_pick(points, chosen.validator) == (chosen.pick, True)  # the Results tab's view
    records[0]["points"][0]["drawn_acc"] = 0.88  # one point reads it: the guard holds again
    selections, _ = selection.select(typed(records), ["mnist-usps"], ["dann"])
    assert not selections["mnist-usps", "dann"].handwriting_waived
    assert selections["mnist-usps", "dann"].pick.step == records[0]["points"][0]["step"]


def test_selection_reads_only_the_trials_of_the_pairs_current_backbone():
    records = fake_records()
    for record in records:
        record["backbone"] = "lean"
    before = len(selection.points_of(typed(records), "mnist-usps", "dann"))
    records[0]["backbone"] = "lecture"  # trained when the pair had another backbone
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    assert len(points) == before - 4 and all(point.key != records[0]["key"] for point in points)


def test_the_results_tab_reads_settings_in_words_and_switches_as_on_or_off():
    from da_demo.ui.results import settings_text

    assert settings_text("deepjdot", {"unbalanced": True, "feature_weight": 0.01, "balanced_source": False}) == (
        "class-balanced source batches off, feature-distance weight α 0.01, unbalanced plan (JUMBOT) on"
    )
    assert settings_text("dann", {}) == "the default settings"
    assert settings_text("mmd", {"mmd_weight": 1.0}) == "MMD weight 1"  # an acronym keeps its capitals


def test_the_results_tab_says_which_term_of_information_maximisation_won_its_pick():
    """A pick that uses the classes more evenly but is less sure than the best model won on evenness;
    one that is surer won on confidence; nothing is said when the pick is the best model."""
    from da_demo.ui.results import information_note

    def point(key, information, entropy, accuracy):
        scores = {"information_maximization": information, "target_entropy": entropy}
        return selection.Point(key, {}, 0, 100, scores, accuracy, 0.99)

    best = point("best", 2.2528, -0.011, 0.97)  # evenness 2.2638, surer
    even = point("even", 2.2587, -0.035, 0.89)  # evenness 2.2937, less sure
    note = information_note(even, best, "information_maximization")
    assert "2.2937" in note and "2.2638" in note and "won on evenness, though it is the less sure" in note
    surer = point("surer", 2.2600, -0.002, 0.95)  # evenness 2.2620
    assert "won on confidence" in information_note(surer, best, "information_maximization")
    assert information_note(best, best, "information_maximization") == ""
    assert information_note(even, best, "target_entropy") == ""


def test_the_prior_matched_im_is_scored_where_classes_were_kept_and_otherwise_the_next_validator_decides():
    records = fake_records()
    mix = "0" * 40 + "1" * 30 + "2" * 20 + "3" * 20 + "456789" * 15  # every class, 0 the most common
    for record in records:
        record["source_class_entropy"] = float(np.log(10))
        if record["method"] == "dann":
            for index, point in enumerate(record["points"]):
                point["target_classes"] = mix if index % 4 else "0123456789" * 20  # 3 of 4 points
    points = selection.points_of(typed(records), "mnist-usps", "dann")
    scores = [point.validators[PRIOR_MATCHED] for point in points]
    assert all(score is not None for score in scores)
    matched = [s for p, s in zip(points, scores) if p.step != 10]  # the points predicting the vote's mix
    entropy = [p.validators["target_entropy"] for p in points if p.step != 10]
    assert matched == pytest.approx(entropy, abs=0.02)  # barely any divergence from the prior
    means = dict.fromkeys(SELECTION_VALIDATORS, 0.0) | {PRIOR_MATCHED: 0.9, "information_maximization": 0.8}
    assert selection.scoring_validator(points, means) == PRIOR_MATCHED
    unscored = selection.points_of(typed(records), "mnist-usps", "mmd")  # its records kept no classes
    assert selection.scoring_validator(unscored, means) == "information_maximization"


def test_the_results_tab_shows_each_method_with_the_validator_that_decided_its_pick():
    from da_demo.artifacts.schemas import SelectionFile
    selection = SelectionFile.model_validate(
        {
            "pairs": {
                "mnist-usps": {
                    "validator": PRIOR_MATCHED,
                    "methods": {
                        "dann": {"validator": PRIOR_MATCHED},
                        "mmd": {"validator": "information_maximization"},  # its records kept no classes
                    },
                }
            }
        }
    )
    assert selection.validator_for("mnist-usps", "dann") == PRIOR_MATCHED
    assert selection.validator_for("mnist-usps", "mmd") == "information_maximization"
    assert selection.validator_for("mnist-usps", "lmmd") == PRIOR_MATCHED  # not selected: the pair's
    assert selection.validator_for("mnist-noisy", "dann") == "source_accuracy"  # nothing selected
