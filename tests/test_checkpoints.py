import json
import pickle

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


@pytest.mark.parametrize("backbone,channels", [("lean", 1), ("lecture", 1), ("lean", 3)])
def test_checkpoint_round_trips_weights_and_metadata(tmp_path, backbone, channels):
    path = tmp_path / "model.safetensors"
    original = make_checkpoint(path, backbone, channels)
    loaded = load_checkpoint(path, expect_pair="mnist-usps", expect_method="dann")
    images = torch.rand(8, channels, 28, 28)
    assert torch.equal(predict(original, images)[0], predict(loaded.classifier, images)[0])
    assert loaded.metadata["hyperparameters"] == {"lr": 1e-4}
    assert loaded.metadata["metrics"]["target_acc"] == 0.95
    assert loaded.metadata["in_channels"] == channels and loaded.metadata["backbone"] == backbone
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
    assert loaded.metadata["stored_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.classifier.parameters())
    images = torch.rand(64, 1, 28, 28)
    original, restored = predict(classifier, images)[0], predict(loaded.classifier, images)[0]
    assert torch.equal(original.argmax(1), restored.argmax(1))
    assert (original - restored).abs().max() < 0.05
