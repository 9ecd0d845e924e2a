import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from da_demo.artifacts.checkpoints import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from da_demo.models import build_classifier, predict


def make_checkpoint(path, backbone="lean", channels=1, pair="mnist-usps", method="dann"):
    torch.manual_seed(0)
    classifier = build_classifier(backbone, channels)
    classifier.eval()
    metadata = {
        "method": method,
        "pair": pair,
        "backbone": backbone,
        "seed": 0,
        "hyperparameters": {"lr": 1e-4},
        "metrics": {"source_acc": 0.99, "target_acc": 0.95},
    }
    save_checkpoint(path, classifier, metadata)
    return classifier


@pytest.mark.parametrize("backbone,channels", [("lean", 1), ("lecture", 1), ("lean", 3), ("wide_gn_in", 3)])
def test_checkpoint_round_trips_weights_and_metadata(tmp_path, backbone, channels):
    path = tmp_path / "model.safetensors"
    original = make_checkpoint(path, backbone, channels)
    loaded = load_checkpoint(path, expect_pair="mnist-usps", expect_method="dann")
    images = torch.rand(8, channels, 28, 28)
    assert torch.equal(predict(original, images)[0], predict(loaded.classifier, images)[0])
    assert loaded.metadata.hyperparameters == {"lr": 1e-4}
    assert loaded.metadata.metrics["target_acc"] == 0.95
    assert loaded.metadata.in_channels == channels and loaded.metadata.backbone == backbone
    assert read_metadata(path) == loaded.metadata


def test_a_corrupt_checkpoint_is_refused_clearly(tmp_path):
    path = tmp_path / "model.safetensors"
    make_checkpoint(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))  # truncated download
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(path)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path)


def test_a_pickle_is_never_unpickled(tmp_path):
    path = tmp_path / "model.safetensors"

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_mismatched_checkpoints_are_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    make_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds pair 'mnist-usps', not 'mnist-mnistm'"):
        load_checkpoint(path, expect_pair="mnist-mnistm")
    with pytest.raises(CheckpointError, match="holds method 'dann'"):
        load_checkpoint(path, expect_method="deepcoral")

    # weights of one backbone declared as another
    foreign = tmp_path / "foreign.safetensors"
    make_checkpoint(foreign, backbone="lean")
    from safetensors import safe_open

    with safe_open(str(foreign), "pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = json.loads(handle.metadata()["da_demo"])
    metadata["backbone"] = "lecture"
    save_file(tensors, foreign, metadata={"da_demo": json.dumps(metadata)})
    with pytest.raises(CheckpointError, match="does not match its declared model"):
        load_checkpoint(foreign)

    # a safetensors file from elsewhere
    other = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a da_demo checkpoint"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_half_precision_storage_halves_the_file_and_keeps_predictions(tmp_path):
    torch.manual_seed(0)
    classifier = build_classifier("lean", 1).eval()
    metadata = {"method": "dann", "pair": "mnist-usps", "backbone": "lean"}
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_checkpoint(full, classifier, metadata)
    save_checkpoint(half, classifier, metadata, half_precision=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_checkpoint(half)
    assert loaded.metadata.stored_dtype == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.classifier.parameters())
    images = torch.rand(64, 1, 28, 28)
    original, restored = predict(classifier, images)[0], predict(loaded.classifier, images)[0]
    assert torch.equal(original.argmax(1), restored.argmax(1))
    assert (original - restored).abs().max() < 0.05


def test_every_crafted_checkpoint_is_refused_with_a_checkpoint_error(tmp_path):
    """Wrong JSON types, deep nesting, missing or absurd fields, an absurd header length, tensors of
    another shape, a truncated file: each a CheckpointError (timing and memory: the benchmark
    ``da_demo.benchmarks.crafted_checkpoints``)."""
    from da_demo.benchmarks.crafted_checkpoints import crafted_checkpoints

    files = crafted_checkpoints(tmp_path)
    assert len(files) >= 10
    for name, path in files.items():
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
        if name != "weights of another shape" and name != "truncated download":
            with pytest.raises(CheckpointError):
                read_metadata(path)


def test_a_checkpoint_written_to_a_read_only_folder_fails_clearly_and_leaves_nothing(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(CheckpointError, match="read-only or full"):
            make_checkpoint(folder / "model.safetensors")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_a_full_disk_while_writing_fails_clearly_and_leaves_no_partial_file(tmp_path, monkeypatch):
    from da_demo.artifacts import checkpoints

    def half_written(tensors, path, metadata=None):
        Path(path).write_bytes(b"\0" * 100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "save_file", half_written)
    with pytest.raises(CheckpointError, match="No space left on device"):
        make_checkpoint(tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backbone,channels", [("lean_in", 1), ("wide_gn_in", 3)])
def test_a_standardised_input_backbone_reads_every_brightness_and_contrast_alike(backbone, channels):
    torch.manual_seed(0)
    classifier = build_classifier(backbone, channels).eval()
    images = torch.rand(8, channels, 28, 28)
    with torch.no_grad():
        plain, relit = classifier(images)[0], classifier(0.4 * images + 0.3)[0]
    assert torch.allclose(plain, relit, atol=1e-3)
