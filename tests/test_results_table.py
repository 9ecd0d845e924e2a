"""The shipped checkpoints, their manifest, and the README's results table generated from it."""

from pathlib import Path

import pytest

from da_demo.artifacts.checkpoints import read_metadata
from da_demo.artifacts.manifest import read_manifest
from da_demo.artifacts.schemas import ManifestEntry, ManifestSelection, SeedResult
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
    assert {(entry.pair, entry.method) for entry in entries} == {
        (p, m) for p in PAIRS for m in method_names()
    }
    for entry in entries:
        assert REQUIRED <= set(entry.model_dump(exclude_none=True)), REQUIRED - set(
            entry.model_dump(exclude_none=True)
        )
        path = SHIPPED_DIRECTORY / entry.file
        assert sha256(path) == entry.sha256
        metadata = read_metadata(path)
        assert (metadata.pair, metadata.method, metadata.seed) == (
            entry.pair,
            entry.method,
            entry.seed,
        )
        assert 0.0 <= entry.target_acc <= 1.0 and 0.0 <= entry.source_acc <= 1.0
        if (
            entry.validator is not None
        ):  # chosen without target labels: seed 0, fixed before training, shipped
            accuracies = [seed.target_acc for seed in entry.seeds]
            assert entry.seed == entry.seeds[0].seed == 0 and entry.target_acc == accuracies[0]
            assert entry.target_acc_mean == pytest.approx(sum(accuracies) / len(accuracies), abs=1e-4)
        elif entry.seeds:  # older adversarial models: several seeds, the median one shipped
            accuracies = sorted(seed.target_acc for seed in entry.seeds)
            assert len(accuracies) >= 3 and entry.target_acc == accuracies[(len(accuracies) - 1) // 2]


def test_the_shipped_checkpoints_stay_small():
    """42 models (14 methods x 3 pairs, float16) and the projection caches: about 21 MB, 43% of it
    the OT mappings' reference features (1.2-2.8 MB each; the largest keeps the 5,000 source points its
    plan was fitted on, moved and unmoved). A Space clones all of it at every start."""
    total = sum(path.stat().st_size for path in SHIPPED_DIRECTORY.rglob("*.safetensors"))
    assert total < 24 * 2**20, f"{total / 2**20:.1f} MB of checkpoints"


def test_the_goals_table_counts_the_protocols_own_goals():
    from da_demo.artifacts.manifest import goals_table

    def entry(method: str, seeds: int, gap: float | None, validator: str | None = "information_maximization"):
        return ManifestEntry(
            pair="mnist-usps", method=method, file=f"mnist-usps/{method}.safetensors", sha256="0" * 64,
            source_acc=0.99, target_acc=0.9, validator=validator,
            seeds=[SeedResult(seed=seed, source_acc=0.99, target_acc=0.9) for seed in range(seeds)],
            selection=ManifestSelection(settings={}, gap_points=gap) if validator else None,
        )  # fmt: skip

    rows = goals_table([entry("source_only", 3, 0.0), entry("dann", 3, 1.0), entry("mmd", 1, 3.0, None)])
    assert "| all pairs | mean oracle gap ≤ 1.5 points (1 adapted rows with one) | 1.00 | ✓ |" in rows
    assert "| all pairs | every row a label-free pick (no † or ‡) | 2 of 3 | ✗ (1 to go) |" in rows
    assert "| all pairs | every step-trained row over 3 seeds | 2 of 3 | ✗ (1 to go) |" in rows


def test_a_row_says_how_its_model_was_chosen():
    from da_demo.artifacts.manifest import DEFAULT_SETTINGS, HANDWRITING_WAIVED, results_table, row_marks

    def entry(method: str, selection: ManifestSelection | None):
        return ManifestEntry(
            pair="mnist-usps", method=method, file=f"mnist-usps/{method}.safetensors", sha256="0" * 64,
            source_acc=0.99, target_acc=0.9, validator="information_maximization", selection=selection,
        )  # fmt: skip

    picked = entry("dann", ManifestSelection(settings={"lambda_max": 1.0}))
    unpicked = entry("mmd", ManifestSelection(settings=None))  # swept, but every point collapsed
    waived = entry("shot", ManifestSelection(settings={"lr": 1e-4}, handwriting_waived=True))
    assert [row_marks(e) for e in (picked, unpicked, waived)] == ["", DEFAULT_SETTINGS, HANDWRITING_WAIVED]
    table = results_table([picked, unpicked, waived])
    assert "| 90.0 § |" in table and "| 90.0 ‡ |" in table
    assert "§ No point of its sweep read drawn-style digits" in table and "‡ The method's default settings" in table
