"""The engine and every registered method, on a tiny generated pair: one contract for methods
trained by steps and for fitted ones (the Sinkhorn mapping)."""

import threading

import pytest
import torch

from da_demo.artifacts.checkpoints import load_checkpoint
from da_demo.data.images import LabeledImages, UnlabeledImages
from da_demo.engine.sampling import Draws
from da_demo.engine.spec import RunSpec
from da_demo.engine.trainer import EndReason, train
from da_demo.methods import FittedMethod, HyperparameterSet, Method, SourceBatch, get_method, method_names
from da_demo.methods.base import Hyperparameters
from da_demo.models import build_classifier, predict
from da_demo.workflows.training import TrainingJob


def weak_model(pair, method, start=None):
    """A model trained a few steps only, so methods warm-started from it still have a loss to bring down."""
    job = TrainingJob(
        pair,
        RunSpec.resolve(pair.spec, method, {"steps": 8, "batch_size": 32}),
        device="cpu",
        precision="fp32",
        start=start,
    )
    job.run_to_end()
    return job.checkpoint()


@pytest.fixture(scope="module")
def weak_models(tiny_pair):
    source_only = weak_model(tiny_pair, "source_only")
    return {None: None, "source_only": source_only, "dann": weak_model(tiny_pair, "dann", source_only)}


STEP_METHODS = [name for name in method_names() if get_method(name).trained_by_steps]
FITTED_METHODS = [name for name in method_names() if not get_method(name).trained_by_steps]


def test_both_kinds_of_method_are_registered():
    assert "ot_sinkhorn" in FITTED_METHODS and {"dann", "deepcoral", "cyclegan"} <= set(STEP_METHODS)


#: what each method lowers, compared with itself from the start of a short run to its end
FALLING = {
    "source_only": "class_loss",
    "cyclegan": "cycle_loss",
    "dann": "class_loss",
    "deepcoral": "coral_loss",
    "mmd": "mmd_loss",
    "lmmd": "class_loss",
    "deepjdot": "transport_loss",
    "mi_max": "class_loss",
    "shot": "target_entropy",
    "self_ensembling": "class_loss",
    "vada_dirtt": "target_entropy",
    "mcc": "mcc_loss",
}
#: settings that keep the run in one phase, so the metric means the same thing throughout
ONE_PHASE = {
    "cyclegan": {"gan_fraction": 1.0, "batch_size": 8},  # its generators are slow in fp32 on a CPU
    "vada_dirtt": {"dirtt_fraction": 0.0},
    "lmmd": {"warmup_steps": 40},
}


def test_every_method_trained_by_steps_names_the_loss_it_lowers():
    assert set(FALLING) == set(STEP_METHODS)


@pytest.mark.parametrize("method", STEP_METHODS)
def test_each_method_lowers_its_own_loss_on_a_tiny_pair(method, tiny_pair, weak_models):
    hparams = get_method(method).hyperparameters_class.from_dict(
        {"steps": 40, "batch_size": 32, **ONE_PHASE.get(method, {})}
    )
    start = get_method(method).warm_start_from(hparams)
    if start is None:
        hparams.lr = 3e-3
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, method, hparams, seed=0),
        device="cpu",
        precision="fp32",
        start=weak_models[start],
    )
    events = list(job.events(log_every=5))
    metric = FALLING[method]
    first, last = events[0].metrics[metric], events[-2].metrics[metric]
    assert last < first, (metric, first, last)
    assert events[-1].done and 0.0 <= events[-1].target_acc <= 1.0


def test_the_sinkhorn_mapping_moves_source_references_onto_the_target(tiny_pair, weak_models):
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(
            tiny_pair.spec,
            "ot_sinkhorn",
            {"fit_samples": 200, "reference_samples": 200, "keep_unmapped": False},
        ),
        device="cpu",
        precision="fp32",
        start=weak_models["source_only"],
    )
    job.run_to_end()
    method = job.run.method
    target = predict(method.classifier, tiny_pair.target_train.images)[1]

    def nearest(references):
        return torch.cdist(target, references).min(dim=1).values.mean()

    assert nearest(method.references.features) < 0.8 * nearest(method.unmapped_.features)


def test_the_ot_fit_never_hands_target_labels_to_pot(tiny_pair, weak_models, monkeypatch):
    import ot

    seen = []
    fit = ot.da.SinkhornTransport.fit

    def spy(self, Xs=None, ys=None, Xt=None, yt=None):
        seen.append(yt)
        return fit(self, Xs=Xs, ys=ys, Xt=Xt, yt=yt)

    monkeypatch.setattr(ot.da.SinkhornTransport, "fit", spy)
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "ot_sinkhorn", {"fit_samples": 100, "reference_samples": 100}),
        device="cpu",
        precision="fp32",
        start=weak_models["source_only"],
    )
    job.run_to_end()
    assert seen == [None]


def test_the_sinkhorn_mapping_fits_in_stages_and_beats_nothing_worse_than_chance(tiny_pair, weak_models):
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "ot_sinkhorn", {"fit_samples": 200, "reference_samples": 200}),
        device="cpu",
        precision="fp32",
        start=weak_models["source_only"],
    )
    events = list(job.events(eval_every=1))
    assert (
        [event.step for event in events] == [1, 2, 3, 3]
        and events[-1].done
        and events[-1].ended_early is None
    )
    assert all(event.target_acc is not None for event in events[:2])  # evaluated between stages too
    assert "plan_entropy" in events[1].metrics and "baseline_1nn_target_acc" in events[-1].metrics
    assert events[-1].source_acc > 0.5  # ten classes: chance is 0.1


def test_source_only_learns_the_source_domain(tiny_pair):
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 60, "batch_size": 32, "lr": 0.003}),
        device="cpu",
        precision="fp32",
    )
    final = job.run_to_end()
    assert final.source_acc > 0.9  # ten classes: chance is 0.1


class Spy(Method):
    """Records what the engine hands a method trained by steps."""

    name = "spy_for_tests"
    title = "spy"
    calls: list

    def __init__(self, classifier, hparams):
        super().__init__(classifier, hparams)
        self.calls = []

    def training_step(self, source, target_images, progress):
        self.calls.append((source, target_images, progress))
        return {"class_loss": 0.0}


class FittedSpy(FittedMethod):
    """Records what the engine hands a fitted method."""

    name = "fitted_spy_for_tests"
    title = "fitted spy"
    hyperparameters_class = HyperparameterSet
    stages = 3

    def __init__(self, classifier, hparams):
        super().__init__(classifier, hparams)
        self.received = []

    def fit(self, source, target, *, seed=0, device=None):
        self.received.append((source, target))
        for stage in range(self.stages):
            yield {"stage": float(stage)}


def target_rows(pair) -> set:
    return {row.numpy().tobytes() for row in pair.target_train.images.flatten(1)}


def test_training_code_never_receives_target_labels(tiny_pair):
    assert not hasattr(tiny_pair.target_train, "labels")
    spy = Spy(build_classifier("lean", 1), Hyperparameters(steps=12, batch_size=16))
    list(train(spy, tiny_pair, device=torch.device("cpu")))
    assert len(spy.calls) == 12
    allowed = target_rows(tiny_pair)
    for source, target_images, _progress in spy.calls:
        assert isinstance(source, SourceBatch)
        assert isinstance(target_images, torch.Tensor) and target_images.shape == (16, 1, 28, 28)
        # the target batch is target training images and nothing else: no labels, no test images
        assert all(row.numpy().tobytes() in allowed for row in target_images.contiguous().flatten(1))
    assert [call[2] for call in spy.calls] == [step / 12 for step in range(12)]


def test_a_fitted_method_never_receives_target_labels_either(tiny_pair):
    spy = FittedSpy(build_classifier("lean", 1), HyperparameterSet())
    events = list(train(spy, tiny_pair, device=torch.device("cpu")))
    ((source, target),) = spy.received
    assert (
        isinstance(source, LabeledImages)
        and type(target) is UnlabeledImages
        and not hasattr(target, "labels")
    )
    assert target.images is tiny_pair.target_train.images  # the training images, not the labeled test set
    assert [event.step for event in events] == [1, 2, 3, 3] and events[-1].done


@pytest.mark.parametrize("kind", ["steps", "fitted"])
def test_stop_signal_ends_the_run_and_still_evaluates(tiny_pair, kind):
    stop = threading.Event()
    method = (
        Spy(build_classifier("lean", 1), Hyperparameters(steps=1000, batch_size=16))
        if kind == "steps"
        else FittedSpy(build_classifier("lean", 1), HyperparameterSet())
    )
    events = []
    for event in train(method, tiny_pair, device=torch.device("cpu"), log_every=1, stop=stop):
        events.append(event)
        if event.step == 2:
            stop.set()
    final = events[-1]
    assert final.done and final.ended_early is EndReason.STOPPED and final.step == 2
    assert final.target_acc is not None


@pytest.mark.parametrize("kind", ["steps", "fitted"])
def test_time_budget_ends_the_run(tiny_pair, kind):
    if kind == "steps":
        job = TrainingJob(
            tiny_pair,
            RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 100000, "batch_size": 16}),
            device="cpu",
            precision="fp32",
        )
        final = job.run_to_end(time_budget=0.5)
        assert 0 < final.step < 100000
    else:
        method = FittedSpy(build_classifier("lean", 1), HyperparameterSet())
        *_, final = train(method, tiny_pair, device=torch.device("cpu"), time_budget=1e-9)
        assert final.step == 1  # the budget is checked between stages
    assert final.ended_early is EndReason.TIME_BUDGET and final.target_acc is not None


def test_a_non_positive_time_budget_is_refused(tiny_pair):
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 10, "batch_size": 16}),
        device="cpu",
        precision="fp32",
    )
    with pytest.raises(ValueError, match="positive number of seconds"):
        job.run_to_end(time_budget=-3)


def test_training_is_reproducible_for_a_seed(tiny_pair):
    def final_weights(seed):
        job = TrainingJob(
            tiny_pair,
            RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 10, "batch_size": 16}, seed=seed),
            device="cpu",
            precision="fp32",
        )
        job.run_to_end()
        return torch.cat([p.flatten() for p in job.run.method.classifier.parameters()])

    assert torch.equal(final_weights(3), final_weights(3))
    assert not torch.equal(final_weights(3), final_weights(4))


def test_bad_hyperparameters_get_clear_errors():
    params = get_method("dann").hyperparameters_class
    with pytest.raises(ValueError, match="Unknown hyperparameter"):
        params.from_dict({"lamda_max": 1})
    with pytest.raises(ValueError, match="steps .* must be between 1 and"):
        params.from_dict({"steps": 0})
    with pytest.raises(ValueError, match="not a valid float"):
        params.from_dict({"lr": "fast"})
    with pytest.raises(ValueError, match="not a valid float"):
        params.from_dict({"lr": "nan"})
    with pytest.raises(ValueError, match="Unknown method"):
        get_method("danm")


def test_every_setting_declares_a_label_and_numbers_a_range():
    for name in method_names():
        for info in get_method(name).hyperparameters_class.settings().values():
            assert info.label and info.label != info.name.replace("_", " "), (name, info.name)
            if info.kind in (int, float):
                assert (
                    info.low is not None and info.high is not None and info.low <= info.default <= info.high
                ), (name, info.name)


def test_a_warm_starting_method_refuses_a_start_model_of_another_pair(tiny_pair, weak_models):
    other = weak_models["source_only"]
    foreign = type(other)(other.classifier, other.metadata.model_copy(update={"pair": "mnist-noisy"}))
    with pytest.raises(ValueError, match="starts from source_only on mnist-usps"):
        TrainingJob(
            tiny_pair, RunSpec.resolve(tiny_pair.spec, "dann", {"steps": 5}), device="cpu", start=foreign
        )


@pytest.mark.parametrize("separate, teacher_target_only", [(False, False), (True, False), (True, True)])
def test_self_ensembling_can_send_each_domain_through_batch_norm_alone(tiny_pair, separate, teacher_target_only):
    """The paper's code passes source and target batches through the student separately, so each is
    normalised by its own batch statistics, and shows the teacher target images only, so the batch-norm
    statistics it predicts with are the target's; the default passes them together to both."""
    settings = {"steps": 1, "batch_size": 16, "separate_batches": separate, "teacher_target_only": teacher_target_only}
    spec = RunSpec.resolve(tiny_pair.spec, "self_ensembling", settings)
    method = spec.method(build_classifier("lean", 1, 28), spec.hparams)
    sizes = {"student": [], "teacher": []}
    for role, network in (("student", method.student), ("teacher", method.classifier)):
        norm = next(module for module in network.modules() if isinstance(module, torch.nn.BatchNorm2d))
        norm.register_forward_hook(lambda module, inputs, output, role=role: sizes[role].append(len(inputs[0])))
    source = SourceBatch(tiny_pair.source_train.images[:16], tiny_pair.source_train.labels[:16])
    metrics = method.training_step(source, tiny_pair.target_train.images[:16], 0.0)
    assert torch.isfinite(metrics["loss"])
    assert sizes["student"] == ([16, 16] if separate else [32])
    assert sizes["teacher"] == ([16] if teacher_target_only else [16, 16] if separate else [32])


@pytest.mark.parametrize("method", ["dann", "mcc", "deepcoral", "vada_dirtt"])
def test_adapting_methods_can_send_each_domain_through_batch_norm_alone(tiny_pair, method):
    """With ``separate_batches`` each domain's batch is normalised by its own statistics, and the
    running statistics kept for predicting come from the target batch alone (two different source
    batches leave them the same); by default one pass normalises both domains together."""
    target = tiny_pair.target_train.images[:16]
    sources = [
        SourceBatch(tiny_pair.source_train.images[rows], tiny_pair.source_train.labels[rows])
        for rows in (slice(0, 16), slice(16, 32))
    ]
    for separate in (False, True):
        spec = RunSpec.resolve(tiny_pair.spec, method, {"steps": 1, "batch_size": 16, "separate_batches": separate})
        statistics = []
        for source in sources:
            torch.manual_seed(0)
            model = spec.method(build_classifier("lean", 1, 28), spec.hparams)
            norm = next(module for module in model.classifier.modules() if isinstance(module, torch.nn.BatchNorm2d))
            sizes = []
            norm.register_forward_hook(lambda module, inputs, output, sizes=sizes: sizes.append(len(inputs[0])))
            assert torch.isfinite(model.training_step(source, target, 0.0)["loss"])
            statistics.append(norm.running_mean.clone())
            assert sizes[: 2 if separate else 1] == ([16, 16] if separate else [32])  # VADA's VAT passes follow
        assert torch.equal(statistics[0], statistics[1]) == separate


@pytest.mark.parametrize("keep", [False, True])
def test_shot_can_adapt_its_weights_and_keep_the_sources_batch_norm_statistics(tiny_pair, keep):
    """With ``keep_source_statistics`` SHOT's target batches change the weights but not the running
    statistics the model predicts with; by default they move towards the target's (as in AdaBN)."""
    spec = RunSpec.resolve(tiny_pair.spec, "shot", {"steps": 1, "batch_size": 16, "keep_source_statistics": keep})
    model = spec.method(build_classifier("lean", 1, 28), spec.hparams)
    norm = next(module for module in model.classifier.modules() if isinstance(module, torch.nn.BatchNorm2d))
    before = norm.running_mean.clone()
    weights = next(model.classifier.extractor.parameters()).detach().clone()
    source = SourceBatch(tiny_pair.source_train.images[:16], tiny_pair.source_train.labels[:16])
    assert torch.isfinite(model.training_step(source, tiny_pair.target_train.images[:16], 0.0)["loss"])
    assert torch.equal(norm.running_mean, before) == keep
    assert not torch.equal(next(model.classifier.extractor.parameters()), weights)


def test_a_method_with_a_warm_start_setting_can_start_from_fresh_weights():
    for method in ("self_ensembling", "dann", "lmmd", "mcc"):
        method_class = get_method(method)
        assert method_class.warm_start_from(method_class.hyperparameters_class()) == "source_only"
        assert method_class.warm_start_from(method_class.hyperparameters_class(warm_start=False)) is None


def source_rows(pair) -> set:
    return {row.numpy().tobytes() for row in pair.source_train.images.flatten(1)}


@pytest.mark.parametrize("augment", [False, True])
def test_source_augmentation_perturbs_every_source_batch_and_keeps_its_labels(tiny_pair, augment):
    spy = Spy(build_classifier("lean", 1), Hyperparameters(steps=4, batch_size=16, source_augment=augment))
    list(train(spy, tiny_pair, device=torch.device("cpu")))
    originals = source_rows(tiny_pair)
    for source, _target, _progress in spy.calls:
        seen = [row.numpy().tobytes() in originals for row in source.images.contiguous().flatten(1)]
        assert (not any(seen)) if augment else all(seen)
        assert source.images.min() >= 0 and source.images.max() <= 1 and source.labels.shape == (16,)


def test_a_weight_average_is_what_the_run_evaluates_and_keeps(tiny_pair, weak_models, tmp_path):
    spec = RunSpec.resolve(tiny_pair.spec, "dann", {"steps": 6, "batch_size": 16, "weight_average": 0.5})
    job = TrainingJob(tiny_pair, spec, device="cpu", precision="fp32", start=weak_models["source_only"])
    job.run_to_end()
    method = job.run.method
    trained, averaged = method.classifier, method.kept_classifier()
    assert averaged is method.averaged is method.evaluation_classifier() and averaged is not trained
    assert all(not weight.requires_grad for weight in averaged.parameters())
    differs = [not torch.equal(a, b) for a, b in zip(averaged.parameters(), trained.parameters())]
    assert any(differs)  # an average of the steps' weights, not the last ones
    saved = load_checkpoint(job.save(tmp_path / "dann.safetensors"))
    for name, value in saved.classifier.state_dict().items():
        assert torch.equal(value, averaged.state_dict()[name])


def test_vada_can_start_where_dann_ended():
    """VADA is DANN plus the cluster terms: with ``dann_start`` its run begins from the DANN model."""
    assert RunSpec.resolve("mnist-mnistm", "vada_dirtt").start.method.name == "source_only"
    start = RunSpec.resolve("mnist-mnistm", "vada_dirtt", {"dann_start": True}).start
    assert start.method.name == "dann" and start.pair.name == "mnist-mnistm" and start.seed == 0


def test_balanced_source_batches_hold_every_class_equally_and_resume_where_they_stopped():
    labels = torch.cat([torch.full((n,), digit) for digit, n in enumerate([300, 40, 25, 60, 33, 90, 51, 47, 38, 70])])
    draws = Draws(len(labels), 100, 50, seed=0, source_labels=labels)
    for _ in range(7):  # more batches than the rarest class has items: it is reshuffled and drawn again
        batch = draws.source.next()
        assert torch.equal(torch.bincount(labels[batch], minlength=10), torch.full((10,), 5))
    saved = draws.state()
    following = [draws.source.next() for _ in range(3)]
    again = Draws(len(labels), 100, 50, seed=1, source_labels=labels)
    again.restore(saved)
    assert all(torch.equal(a, b) for a, b in zip(following, [again.source.next() for _ in range(3)], strict=True))
