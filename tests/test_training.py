"""The trainer and every registered method, on a tiny generated pair."""

import threading

import pytest
import torch

from da_demo.engine.runs import Run
from da_demo.engine.trainer import train
from da_demo.methods import Method, SourceBatch, get_method, method_names, register
from da_demo.methods.base import Hyperparameters
from da_demo.models import build_classifier
from da_demo.artifacts.checkpoints import Checkpoint


def weak_model(pair, method, start=None) -> Checkpoint:
    """A model trained a few steps only, so methods warm-started from it still have a loss to bring down."""
    run = Run(pair, method, {"steps": 8, "batch_size": 32}, device="cpu", precision="fp32", start_model=start)
    list(run.events())
    return Checkpoint(run.method.classifier, run.metadata())


@pytest.fixture(scope="module")
def weak_models(tiny_pair):
    source_only = weak_model(tiny_pair, "source_only")
    return {None: None, "source_only": source_only, "dann": weak_model(tiny_pair, "dann", source_only)}


STEP_METHODS = [name for name in method_names() if issubclass(get_method(name).hyperparameters_class, Hyperparameters)]


@pytest.mark.parametrize("method", STEP_METHODS)
def test_each_method_training_loss_falls_on_a_tiny_pair(method, tiny_pair, weak_models):
    hparams = get_method(method).hyperparameters_class.from_dict({"steps": 40, "batch_size": 32})
    start = get_method(method).warm_start_from(hparams)
    if start is None:
        hparams.lr = 3e-3
    run = Run(tiny_pair, method, hparams, device="cpu", precision="fp32", start_model=weak_models[start], seed=0)
    events = list(run.events(log_every=5))
    first, last = events[0].metrics, events[-2].metrics
    # the total objective; alignment weights ramp up over the run (λ(p)), so it need not halve
    assert last["loss"] < 0.9 * first["loss"], (first, last)
    assert events[-1].done and 0.0 <= events[-1].target_acc <= 1.0


def test_source_only_learns_the_source_domain(tiny_pair):
    run = Run(tiny_pair, "source_only", {"steps": 60, "batch_size": 32, "lr": 3e-3}, device="cpu", precision="fp32")
    *_, final = run.events()
    assert final.source_acc > 0.9  # ten classes: chance is 0.1


class Spy(Method):
    """Records what the trainer hands a method."""

    name = "spy_for_tests"
    title = "spy"
    calls: list

    def __init__(self, classifier, hparams):
        super().__init__(classifier, hparams)
        self.calls = []

    def training_step(self, source, target_images, progress):
        self.calls.append((source, target_images, progress))
        return {"class_loss": 0.0}


def test_training_code_never_receives_target_labels(tiny_pair):
    assert not hasattr(tiny_pair.target_train, "labels")
    spy = Spy(build_classifier("lean", 1), Hyperparameters(steps=12, batch_size=16))
    list(train(spy, tiny_pair, device=torch.device("cpu")))
    assert len(spy.calls) == 12
    target_rows = {row.numpy().tobytes() for row in tiny_pair.target_train.images.flatten(1)}
    for source, target_images, progress in spy.calls:
        assert isinstance(source, SourceBatch)
        assert isinstance(target_images, torch.Tensor) and target_images.shape == (16, 1, 28, 28)
        # the target batch is target training images and nothing else: no labels, no test images
        assert all(row.numpy().tobytes() in target_rows for row in target_images.contiguous().flatten(1))
    assert [call[2] for call in spy.calls] == [step / 12 for step in range(12)]


def test_stop_signal_ends_the_run_and_still_evaluates(tiny_pair):
    stop = threading.Event()
    run = Run(tiny_pair, "source_only", {"steps": 1000, "batch_size": 16}, device="cpu", precision="fp32")
    for event in run.events(log_every=1, stop=stop):
        if event.step == 5:
            stop.set()
    assert run.result.done and run.result.ended_early == "stopped" and run.result.step == 5
    assert run.result.target_acc is not None


def test_time_budget_ends_the_run(tiny_pair):
    run = Run(tiny_pair, "source_only", {"steps": 100000, "batch_size": 16}, device="cpu", precision="fp32")
    list(run.events(time_budget=0.5))
    assert run.result.ended_early == "time budget"
    assert 0 < run.result.step < 100000


def test_training_is_reproducible_for_a_seed(tiny_pair):
    def final_weights(seed):
        run = Run(tiny_pair, "source_only", {"steps": 10, "batch_size": 16}, device="cpu", precision="fp32", seed=seed)
        list(run.events())
        return torch.cat([p.flatten() for p in run.method.classifier.parameters()])

    assert torch.equal(final_weights(3), final_weights(3))
    assert not torch.equal(final_weights(3), final_weights(4))


def test_bad_hyperparameters_get_clear_errors():
    params = get_method("dann").hyperparameters_class
    with pytest.raises(ValueError, match="Unknown hyperparameter"):
        params.from_dict({"lamda_max": 1})
    with pytest.raises(ValueError, match="steps must be at least 1"):
        params.from_dict({"steps": 0})
    with pytest.raises(ValueError, match="not a valid float"):
        params.from_dict({"lr": "fast"})
    with pytest.raises(ValueError, match="Unknown method"):
        get_method("danm")
