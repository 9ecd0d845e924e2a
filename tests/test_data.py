"""The domains, on the real data in ../shared/data (skipped where it is absent)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from da_demo.data import DataMissingError
from da_demo.data.mnistm import blend_over_photos
from da_demo.data.noisy_mnist import add_gaussian_noise
from da_demo.data.pairs import load_domain, load_pair

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
USPS_TRAIN = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
USPS_TEST = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def test_label_counts_match_the_known_ones(data_dir):
    assert load_domain("mnist", True, data_dir).label_counts() == MNIST_TRAIN
    assert load_domain("mnist", False, data_dir).label_counts() == MNIST_TEST
    assert load_domain("usps", True, data_dir).label_counts() == USPS_TRAIN
    assert load_domain("usps", False, data_dir).label_counts() == USPS_TEST
    assert load_domain("mnistm", False, data_dir).label_counts() == MNIST_TEST
    assert load_domain("noisy", True, data_dir).label_counts() == MNIST_TRAIN


@pytest.mark.parametrize(
    "name,channels,target_train,target_test",
    [("mnist-usps", 1, 7291, 2007), ("mnist-mnistm", 3, 60000, 10000), ("mnist-noisy", 1, 60000, 10000)],
)
def test_pairs_share_one_shape_and_hide_target_train_labels(
    data_dir, name, channels, target_train, target_test
):
    pair = load_pair(name, data_dir)
    for images in (
        pair.source_train.images,
        pair.target_train.images,
        pair.source_test.images,
        pair.target_test.images,
    ):
        assert images.shape[1:] == (channels, 28, 28) and images.dtype == torch.float32
        assert 0.0 <= images.min() and images.max() <= 1.0
    assert (
        len(pair.source_train) == 55000
        and len(pair.source_val) == 5000
        and len(pair.target_train) == target_train
    )
    # the validation split is held out: none of its images is among the training images
    train_rows = {row.numpy().tobytes() for row in pair.source_train.images[:, 0].flatten(1)}
    assert not any(row.numpy().tobytes() in train_rows for row in pair.source_val.images[:500, 0].flatten(1))
    assert len(pair.target_test) == target_test
    assert not hasattr(pair.target_train, "labels")


def test_pairs_with_one_source_share_its_tensors(data_dir):
    # read once per process: a worker holding all three pairs keeps one MNIST, not three
    usps, mnistm, noisy = (load_pair(name, data_dir) for name in ("mnist-usps", "mnist-mnistm", "mnist-noisy"))
    for part in ("source_train", "source_val", "source_test"):
        pointers = {getattr(pair, part).images.untyped_storage().data_ptr() for pair in (usps, mnistm, noisy)}
        assert len(pointers) == 1, part


def test_mnistm_is_deterministic_and_differs_from_mnist(data_dir):
    from da_demo.data.mnistm import bsds_photo_paths, load_photos

    photos = load_photos(bsds_photo_paths(data_dir)[:5])
    digits = (load_domain("mnist", False, data_dir).images[:50, 0] * 255).to(torch.uint8).numpy()
    first, again = blend_over_photos(digits, photos, seed=7), blend_over_photos(digits, photos, seed=7)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, blend_over_photos(digits, photos, seed=8))
    # |crop - digit|: where the digit is full ink (255) the pixel is the photo inverted
    assert first.shape == (50, 28, 28, 3)

    mnistm = load_domain("mnistm", False, data_dir)
    mnist = load_domain("mnist", False, data_dir, channels=3)
    assert torch.equal(mnistm.labels, mnist.labels)
    assert (mnistm.images - mnist.images).abs().mean() > 0.2
    channel_spread = (mnistm.images.max(dim=1).values - mnistm.images.min(dim=1).values).mean()
    assert channel_spread > 0.05  # colour, not grey


def test_blend_formula_on_a_tiny_case():
    photo = np.full((30, 30, 3), 200, np.uint8)
    digits = np.zeros((1, 28, 28), np.uint8)
    digits[0, 10, 10] = 255
    blended = blend_over_photos(digits, [photo], seed=0)
    assert blended[0, 10, 10].tolist() == [55, 55, 55] and blended[0, 0, 0].tolist() == [200, 200, 200]


def test_noisy_mnist_is_deterministic_with_the_asked_sigma():
    images = torch.full((200, 1, 28, 28), 0.5)
    noisy = add_gaussian_noise(images, 0.3, seed=1)
    assert torch.equal(noisy, add_gaussian_noise(images, 0.3, seed=1))
    assert not torch.equal(noisy, add_gaussian_noise(images, 0.3, seed=2))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert (
        abs((add_gaussian_noise(images, 0.1, seed=1) - images).std().item() - 0.1) < 0.005
    )  # no clipping at 5σ


def test_missing_data_gives_one_clear_error(tmp_path):
    with pytest.raises(DataMissingError) as error:
        load_domain("mnist", True, tmp_path)
    message = str(error.value)
    assert "MNIST/raw" in message and "--data-dir" in message and "DA_DEMO_DATA_DIR" in message
    with pytest.raises(DataMissingError, match="usps.bz2"):
        load_domain("usps", True, tmp_path)
    with pytest.raises(DataMissingError, match="does not exist"):
        load_domain("usps", True, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="Unknown domain pair"):
        load_pair("mnist-svhn", tmp_path)


def test_mnistm_built_from_scratch_twice_is_the_same(data_dir, tmp_path, monkeypatch):
    from da_demo.data.mnistm import load_mnistm

    builds = []
    for attempt in ("first", "second"):
        monkeypatch.setenv("DA_DEMO_CACHE_DIR", str(tmp_path / attempt))  # nothing cached: a fresh build
        builds.append(load_mnistm(False, data_dir))
        assert list((tmp_path / attempt / "mnistm").glob("*.safetensors"))
    assert torch.equal(builds[0].images, builds[1].images) and torch.equal(builds[0].labels, builds[1].labels)


def test_usps_is_decoded_once_and_read_from_the_cache_until_its_file_changes(data_dir, tmp_path, monkeypatch):
    from da_demo.data import usps

    monkeypatch.setenv("DA_DEMO_CACHE_DIR", str(tmp_path / "cache"))
    local = tmp_path / "data"
    local.mkdir()
    (local / "usps.t.bz2").write_bytes((Path(data_dir) / "usps.t.bz2").read_bytes())
    decoded = []
    real_decode = usps._decode
    monkeypatch.setattr(usps, "_decode", lambda *args, **kw: decoded.append(args) or real_decode(*args, **kw))
    first, second = usps.load_usps(False, local), usps.load_usps(False, local)
    assert len(decoded) == 1  # the second load read the cached tensors
    assert torch.equal(first.images, second.images) and first.label_counts() == USPS_TEST
    assert first.images.shape == (2007, 1, 28, 28) and 0 <= first.images.min() <= first.images.max() <= 1
    (local / "usps.t.bz2").write_bytes(b"not a USPS file")  # another file: decoded afresh, and refused
    with pytest.raises(DataMissingError, match="USPS could not be loaded"):
        usps.load_usps(False, local)
    assert len(decoded) == 2


def test_noisy_mnist_train_and_test_noise_are_independent(data_dir):
    clean_train, clean_test = load_domain("mnist", True, data_dir), load_domain("mnist", False, data_dir)
    noise_train = load_domain("noisy", True, data_dir).images[:10000] - clean_train.images[:10000]
    noise_test = load_domain("noisy", False, data_dir).images - clean_test.images
    # where neither pixel is clipped, the two noise fields do not move together
    inside = (
        (clean_train.images[:10000] > 0.3)
        & (clean_train.images[:10000] < 0.7)
        & (clean_test.images > 0.3)
        & (clean_test.images < 0.7)
    )
    a, b = noise_train[inside], noise_test[inside]
    correlation = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    assert abs(correlation) < 0.02 and a.std() > 0.2 and b.std() > 0.2


def test_two_writers_of_one_cache_file_never_rename_each_others_half_written_file(tmp_path):
    """Two pretraining processes extracting MNIST into the same cache at once: each writes under its
    own name, so neither finds its half-written file renamed away by the other."""
    from da_demo.data import whole_file

    target = tmp_path / "cache" / "train-images-idx3-ubyte"
    with whole_file(target) as first:
        first.write_bytes(b"first")
        with whole_file(target) as second:
            second.write_bytes(b"second")
        assert target.read_bytes() == b"second"
    assert target.read_bytes() == b"first"
    assert list(target.parent.iterdir()) == [target]
