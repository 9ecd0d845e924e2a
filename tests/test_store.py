"""Where models load from: the Hub (tested offline, from a pre-populated cache) and the shipped files."""

import json

import pytest
import torch
from huggingface_hub import constants

from da_demo.artifacts.checkpoints import CheckpointError, save_checkpoint
from da_demo.artifacts.manifest import read_manifest, write_manifest
from da_demo.artifacts.schemas import ManifestEntry, StartModel
from da_demo.artifacts.store import ModelStore, checkpoint_file, sha256, start_model_file
from da_demo.models import build_classifier

REPO_ID = "someone/da-demo-checkpoints"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_model(directory, pair="mnist-usps", method="dann", seed=0):
    torch.manual_seed(seed)
    path = directory / checkpoint_file(pair, method)
    save_checkpoint(
        path, build_classifier("lean", 1), {"method": method, "pair": pair, "backbone": "lean", "seed": seed}
    )
    entry = ManifestEntry(
        pair=pair,
        method=method,
        file=checkpoint_file(pair, method),
        sha256=sha256(path),
        source_acc=0.99,
        target_acc=0.9,
    )
    write_manifest(directory, [entry])
    return path


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """A huggingface_hub cache holding one snapshot of REPO_ID, with the Hub itself unreachable."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    repo = cache / f"models--{REPO_ID.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    return snapshot


@pytest.fixture
def shipped(tmp_path):
    directory = tmp_path / "shipped"
    write_model(directory, seed=1)
    return directory


def test_loads_from_the_hub_cache_when_offline(offline_hub, shipped):
    write_model(offline_hub, seed=2)
    store = ModelStore(hub_repo=REPO_ID, directory=shipped, revision=COMMIT)
    loaded = store.load("mnist-usps", "dann")
    assert loaded.origin == f"Hub repo {REPO_ID}"
    assert loaded.checkpoint.metadata.seed == 2
    assert store.notes == []


def test_a_file_missing_on_the_hub_falls_back_to_the_shipped_one(offline_hub, shipped):
    write_manifest(offline_hub, [])  # the Hub repo has no such checkpoint
    store = ModelStore(hub_repo=REPO_ID, directory=shipped, revision=COMMIT)
    loaded = store.load("mnist-usps", "dann")
    assert loaded.origin.startswith("shipped") and loaded.checkpoint.metadata.seed == 1
    assert any("Hub copy not used" in note for note in store.notes)


def test_a_corrupt_hub_file_is_refused_and_the_shipped_one_used(offline_hub, shipped):
    path = write_model(offline_hub, seed=2)
    path.write_bytes(path.read_bytes()[:200])  # a broken download in the cache
    store = ModelStore(hub_repo=REPO_ID, directory=shipped, revision=COMMIT)
    loaded = store.load("mnist-usps", "dann")
    assert loaded.checkpoint.metadata.seed == 1
    assert any("SHA-256" in note for note in store.notes)


def test_an_unreachable_hub_without_cache_falls_back(tmp_path, monkeypatch, shipped):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    store = ModelStore(hub_repo=REPO_ID, directory=shipped)
    assert store.load("mnist-usps", "dann").origin.startswith("shipped")
    assert store.manifest() == read_manifest(shipped)


def test_no_model_anywhere_is_a_clear_error(tmp_path):
    store = ModelStore(directory=tmp_path, use_hub=False)
    with pytest.raises(CheckpointError, match="No trained deepcoral model for mnist-usps"):
        store.load("mnist-usps", "deepcoral")


def test_a_hub_file_is_never_used_without_a_trusted_hash(offline_hub, shipped):
    """Without a pinned revision the Hub's own manifest proves nothing (it comes from the same place
    as the file): the shipped file is used, and the note says how to trust the Hub."""
    write_model(offline_hub, seed=2)
    store = ModelStore(hub_repo=REPO_ID, directory=shipped)
    loaded = store.load("mnist-usps", "dann")
    assert loaded.checkpoint.metadata.seed == 1
    assert any("DA_DEMO_HUB_REVISION" in note for note in store.notes)


def test_a_hub_file_the_shipped_manifest_vouches_for_is_used(offline_hub, shipped):
    (offline_hub / "mnist-usps").mkdir(parents=True)
    (offline_hub / "mnist-usps" / "dann.safetensors").write_bytes(
        (shipped / "mnist-usps" / "dann.safetensors").read_bytes()
    )
    store = ModelStore(hub_repo=REPO_ID, directory=shipped)
    assert store.load("mnist-usps", "dann").origin == f"Hub repo {REPO_ID}"


def test_a_hub_file_that_differs_from_the_pinned_manifest_is_refused(offline_hub, shipped):
    write_model(offline_hub, seed=2)
    entry = json.loads((offline_hub / "manifest.json").read_text())
    entry[0]["sha256"] = "0" * 64  # the pinned manifest says another file
    (offline_hub / "manifest.json").write_text(json.dumps(entry))
    store = ModelStore(hub_repo=REPO_ID, directory=shipped, revision=COMMIT)
    assert store.load("mnist-usps", "dann").checkpoint.metadata.seed == 1
    assert any("trusted SHA-256" in note for note in store.notes)


def test_a_malformed_revision_is_refused_with_a_sentence(shipped, monkeypatch):
    monkeypatch.setenv("DA_DEMO_HUB_REVISION", "main")
    store = ModelStore(hub_repo=REPO_ID, directory=shipped)
    assert store.load("mnist-usps", "dann").origin.startswith("shipped")
    assert any("40-character commit" in note for note in store.notes)


def write_start_model(directory, seed):
    """A start model on the bounded variant, and a DeepJDOT entry naming it (as pretraining ships them)."""
    torch.manual_seed(seed)
    name = start_model_file("mnist-usps", "source_only", "lean_sigmoid")
    path = directory / name
    save_checkpoint(
        path,
        build_classifier("lean_sigmoid", 1),
        {"method": "source_only", "pair": "mnist-usps", "backbone": "lean_sigmoid", "seed": seed},
    )
    entries = read_manifest(directory)
    entries.append(
        ManifestEntry(
            pair="mnist-usps", method="deepjdot", file=checkpoint_file("mnist-usps", "deepjdot"), sha256="0" * 64,
            source_acc=0.99, target_acc=0.9, start_model=StartModel(file=name, sha256=sha256(path)),
        )  # fmt: skip
    )
    write_manifest(directory, entries)


def test_a_start_model_comes_from_the_hub_when_a_trusted_manifest_names_it(offline_hub, shipped):
    write_start_model(shipped, seed=1)
    write_model(offline_hub, seed=2)
    write_start_model(offline_hub, seed=2)
    loaded = ModelStore(hub_repo=REPO_ID, directory=shipped, revision=COMMIT).load_start(
        "mnist-usps", "source_only", "lean_sigmoid"
    )
    assert loaded.origin == f"Hub repo {REPO_ID}" and loaded.checkpoint.metadata.seed == 2
    # not pinned: the Hub's manifest proves nothing, the shipped one does not vouch for the Hub's file
    store = ModelStore(hub_repo=REPO_ID, directory=shipped)
    loaded = store.load_start("mnist-usps", "source_only", "lean_sigmoid")
    assert loaded.origin.startswith("shipped") and loaded.checkpoint.metadata.seed == 1
    assert any("SHA-256" in note for note in store.notes)
    # nowhere at all: None (the caller trains one)
    assert ModelStore(directory=shipped, use_hub=False).load_start("mnist-usps", "source_only", "lean") is None
