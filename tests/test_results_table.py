"""The shipped checkpoints, their manifest, and the README's results table generated from it."""

from pathlib import Path

from da_demo.artifacts.checkpoints import read_metadata
from da_demo.artifacts.manifest import read_manifest
from da_demo.artifacts.store import SHIPPED_DIRECTORY, sha256
from da_demo.data import PAIRS
from da_demo.methods import method_names

REPO = Path(__file__).resolve().parents[1]
REQUIRED = {
    "pair",
    "method",
    "file",
    "source_acc",
    "target_acc",
    "seed",
    "steps",
    "train_seconds",
    "hyperparameters",
    "code_version",
    "data_fingerprint",
    "sha256",
}


def test_readme_tables_are_the_ones_generated_from_the_manifest_and_the_selection():
    from da_demo.workflows.results import updated_readme

    readme = (REPO / "README.md").read_text()
    assert updated_readme(readme) == readme, (
        "README.md is stale: run `python -m da_demo results --write-readme`"
    )


def test_manifest_covers_every_pair_and_method_and_matches_the_files():
    entries = read_manifest(SHIPPED_DIRECTORY)
    assert {(entry["pair"], entry["method"]) for entry in entries} == {
        (p, m) for p in PAIRS for m in method_names()
    }
    for entry in entries:
        assert REQUIRED <= set(entry), REQUIRED - set(entry)
        path = SHIPPED_DIRECTORY / entry["file"]
        assert sha256(path) == entry["sha256"]
        metadata = read_metadata(path)
        assert (metadata["pair"], metadata["method"], metadata["seed"]) == (
            entry["pair"],
            entry["method"],
            entry["seed"],
        )
        assert 0.0 <= entry["target_acc"] <= 1.0 and 0.0 <= entry["source_acc"] <= 1.0
        if "seeds" in entry:  # adversarial methods: several seeds, the median one shipped
            accuracies = sorted(seed["target_acc"] for seed in entry["seeds"])
            assert len(accuracies) >= 3 and entry["target_acc"] == accuracies[(len(accuracies) - 1) // 2]


def test_the_shipped_checkpoints_stay_small():
    total = sum(path.stat().st_size for path in SHIPPED_DIRECTORY.rglob("*.safetensors"))
    assert total < 12 * 2**20, f"{total / 2**20:.1f} MB of checkpoints"
