"""One truth for every figure: each accuracy the app shows for a shipped model is the one the manifest
measured from that very file (the Results tab's seed mean, Try it's shipped seed)."""

import statistics

import pytest
import torch

from da_demo.artifacts.manifest import read_manifest
from da_demo.artifacts.store import SHIPPED_DIRECTORY
from da_demo.data import PAIRS
from da_demo.ui.appdata import AppData
from da_demo.ui.domains import resolve_page_pair
from da_demo.ui.predicting import AS_DRAWN, predict_digit
from da_demo.ui.results import result_rows, results_html
from da_demo.ui.session import Session
from da_demo.ui.zoo import ModelZoo


@pytest.fixture(scope="module")
def manifest():
    return {(entry.pair, entry.method): entry for entry in read_manifest(SHIPPED_DIRECTORY)}


def test_try_it_shows_the_manifests_accuracy_of_each_shipped_file(manifest):
    zoo, digit, data = ModelZoo(), torch.zeros(1, 28, 28), AppData()
    digit[0, 6:22, 13:15] = 1.0  # a plain 1
    for pair, spec in PAIRS.items():
        page = resolve_page_pair(zoo, data, pair, Session())
        prediction = predict_digit(zoo, Session(), page, {AS_DRAWN: digit})
        assert {model.method for model in prediction.models} == {m for p, m in manifest if p == pair}
        for model in prediction.models:
            entry = manifest[pair, model.method]
            assert model.note == f"{100 * entry.target_acc:.1f}% on the {spec.target.title} test set", (
                pair,
                model.method,
            )


def test_results_show_the_manifests_seed_mean_and_spread(manifest):
    entries = list(manifest.values())
    for pair in PAIRS:
        rows = result_rows(entries, pair)
        page = results_html(rows)
        for row in rows:
            entry = manifest[pair, row["key"]]
            accuracies = [seed.target_acc for seed in entry.seeds] or [entry.target_acc]
            assert row["mean"] == pytest.approx(100 * statistics.fmean(accuracies))
            assert f"<b>{row['mean']:.1f}</b>" in page
            if entry.target_acc_mean is not None:
                assert row["mean"] == pytest.approx(100 * entry.target_acc_mean, abs=0.01)


def test_the_lessons_strongest_method_is_the_manifests_best_step_trained_one_on_usps(manifest):
    from da_demo.artifacts.manifest import reported_target
    from da_demo.methods import get_method
    from da_demo.ui.lesson import STRONGEST

    trained = {
        method: reported_target(entry)[0]
        for (pair, method), entry in manifest.items()
        if pair == "mnist-usps" and get_method(method).trained_by_steps
    }
    assert max(trained, key=trained.get) == STRONGEST  # step 8 says it is the best without labels
