"""Shared fixtures: a tiny generated domain pair, and the real data when it is available."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from da_demo.data import PAIRS
from da_demo.data.images import LabeledImages
from da_demo.data.pairs import DomainPair
from da_demo.engine.spec import RunSpec

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    # gradio's queue raises pandas' Pandas4Warning and similar noise that says nothing about us
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::FutureWarning")


def find_data_dir() -> Path | None:
    """The real datasets: $DA_DEMO_DATA_DIR, else ../shared/data beside the checkout."""
    for candidate in (os.environ.get("DA_DEMO_DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test session gets its own cache: nothing leaks into ~/.cache or between runs."""
    previous = os.environ.get("DA_DEMO_CACHE_DIR")
    os.environ["DA_DEMO_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("DA_DEMO_CACHE_DIR", None)
    else:
        os.environ["DA_DEMO_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir()
    if found is None:
        pytest.skip("real data not found: set DA_DEMO_DATA_DIR (see ../shared/data/README.md)")
    return found


def make_digits(count: int, seed: int, shift: bool, channels: int = 1, size: int = 28) -> LabeledImages:
    """Ten classes of smooth random strokes; the "shifted" domain is scaled up, blurred and inverted-ish.

    Classes are separable in both domains, and the two domains differ the way USPS and MNIST do
    (size and stroke style), so adaptation losses have something to align.
    """
    generator = torch.Generator().manual_seed(1234)  # the class templates are shared by both domains
    templates = F.avg_pool2d(torch.rand(10, 1, size, size, generator=generator), 5, 1, 2)
    templates = (templates > templates.flatten(1).quantile(0.8, dim=1).view(10, 1, 1, 1)).float()
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    images = templates[labels] + 0.15 * torch.rand(count, 1, size, size, generator=generator)
    if shift:
        images = F.interpolate(
            images[..., 3:-3, 3:-3], size=(size, size), mode="bilinear", align_corners=False
        )
        images = 0.3 + 0.6 * images
    return LabeledImages(images.clamp(0, 1).expand(-1, channels, -1, -1).contiguous(), labels)


@pytest.fixture(scope="session")
def tiny_pair() -> DomainPair:
    """A 300-image source / 300-image target pair made here (28x28, one channel), 100-image test and validation sets."""
    source, target = make_digits(300, 1, shift=False), make_digits(300, 2, shift=True)
    return DomainPair(
        PAIRS["mnist-usps"],
        source,
        target.without_labels(),
        make_digits(100, 3, shift=False),
        make_digits(100, 4, shift=True),
        make_digits(100, 5, shift=False),
    )


def tiny_task_context(tiny_pair, **start_settings):
    """A sweep context on the tiny pair with its source-only start model trained (``start_settings``
    over 8 steps of 32); the data travels with it to other processes (Ray, workers), since the tiny
    pair cannot be loaded by name."""
    from da_demo.workflows.tasks import TaskContext
    from da_demo.workflows.training import TrainingJob

    start = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 8, "batch_size": 32, **start_settings}),
        device="cpu",
        precision="fp32",
    )
    start.run_to_end()
    return TaskContext(
        device="cpu",
        precision="fp32",
        pairs={"mnist-usps": tiny_pair},
        starts={("mnist-usps", "source_only", "lean"): start.checkpoint()},
        share_data=True,
    )


@pytest.fixture(scope="module")
def trial_context(tiny_pair):
    """The sweep's context on the tiny pair (an 8-step source-only start model)."""
    return tiny_task_context(tiny_pair)
