"""Pretraining on a tiny generated pair: checkpoints, manifest, seeds and the median seed."""

import pytest

from da_demo.artifacts.checkpoints import load_checkpoint
from da_demo.artifacts.manifest import read_manifest, results_table
from da_demo.artifacts.store import sha256
from da_demo.workflows import pretrain as pretrain_module


@pytest.fixture
def tiny_pretrain(tmp_path, tiny_pair, monkeypatch):
    monkeypatch.setattr(pretrain_module, "load_pair", lambda name, data_dir=None: tiny_pair)
    return pretrain_module.pretrain(
        ["mnist-usps"],
        ["dann", "source_only", "deepcoral"],
        directory=tmp_path,
        seeds=3,
        device="cpu",
        precision="fp32",
        overrides={"steps": "6", "batch_size": "16"},
        log=lambda line: None,
    )


def test_pretrain_writes_checkpoints_and_a_manifest(tmp_path, tiny_pretrain):
    entries = read_manifest(tmp_path)
    assert [entry["method"] for entry in entries] == ["source_only", "dann", "deepcoral"]  # dependency order
    for entry in entries:
        path = tmp_path / entry["file"]
        assert path.is_file() and sha256(path) == entry["sha256"]
        checkpoint = load_checkpoint(path)
        assert checkpoint.metadata["stored_dtype"] == "float16"
        assert checkpoint.metadata["hyperparameters"]["steps"] == 6
        assert entry["warm_start_from"] == (None if entry["method"] == "source_only" else "source_only")
    assert "MNIST → USPS" in results_table(entries)


def test_adversarial_methods_run_three_seeds_and_ship_the_median(tmp_path, tiny_pretrain):
    dann = next(entry for entry in read_manifest(tmp_path) if entry["method"] == "dann")
    assert [seed["seed"] for seed in dann["seeds"]] == [0, 1, 2]
    assert dann["target_acc"] == sorted(seed["target_acc"] for seed in dann["seeds"])[1]
    assert abs(dann["target_acc_mean"] - sum(s["target_acc"] for s in dann["seeds"]) / 3) < 1e-3
    source_only = next(entry for entry in read_manifest(tmp_path) if entry["method"] == "source_only")
    assert "seeds" not in source_only
