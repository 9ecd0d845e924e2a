"""Build your own shift: recipes checked with one sentence naming the field, a build that keeps the
digits and labels it should, and what a shift costs the source-only model, on real MNIST."""

import hashlib

import pytest
import torch

from da_demo.data.shift import PRESETS, ShiftError, ShiftRecipe, build_shifted, custom_pair, parse_recipe


@pytest.mark.parametrize(
    ("recipe", "names"),
    [
        ('{"rotation": 400}', "rotation must be between -180 and 180"),
        ('{"colour": true}', "Unknown shift setting 'colour'"),
        ('{"noise": -0.1}', "noise must be between 0 and 1"),
        ('{"skew": 1}', "skew 1 leaves digits 5-9 with no examples"),
        ('{"background": "pink"}', "background must be one of"),
        ('{"thickness": 1.5}', "thickness"),
        ("[45]", "a JSON object of settings"),
        ("{rotation: 45", "not valid JSON"),
        ('{"rotation": "' + "4" * (1 << 20) + '"}', "at most 4 KB"),
    ],
)
def test_a_bad_recipe_is_one_sentence_naming_the_field(recipe, names):
    with pytest.raises(ShiftError, match=names) as raised:
        parse_recipe(recipe)
    assert str(raised.value).count(". ") == 0 and len(str(raised.value)) < 200


def test_recipes_round_trip_through_their_json_and_presets_are_valid():
    for name, recipe in PRESETS.items():
        assert parse_recipe(recipe.changed()) == recipe, name
    assert parse_recipe("") == ShiftRecipe() and ShiftRecipe().describe().startswith("none")
    assert parse_recipe({"rotation": 45, "noise": 0.2}).describe() == "rotation 45°, noise 0.2"


def test_a_build_is_deterministic_keeps_labels_and_only_skew_drops_digits():
    images = torch.rand(200, 1, 28, 28)
    labels = torch.arange(200) % 10
    recipe = ShiftRecipe(rotation=30, tilt=10, blur=0.8, noise=0.1, occlusion=2, background="colour", seed=3)
    first, again = build_shifted(images, labels, recipe, seed=1), build_shifted(images, labels, recipe, seed=1)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, labels)
    assert first.images.shape == (200, 3, 28, 28) and 0 <= first.images.min() and first.images.max() <= 1
    assert not torch.equal(build_shifted(images, labels, recipe, seed=2).images, first.images)
    skewed = build_shifted(images, labels, ShiftRecipe(skew=0.9), seed=1)
    rare = (skewed.labels >= 5).sum().item()
    assert (skewed.labels < 5).sum().item() == 100 and 0 < rare < 30


@pytest.fixture(scope="module")
def mnist(data_dir):
    from da_demo.data.pairs import load_pair

    return load_pair("mnist-usps", data_dir)


@pytest.fixture(scope="module")
def source_only():
    from da_demo.ui.zoo import ModelZoo

    return next(entry for entry in ModelZoo().pair("mnist-usps").models if entry.method == "source_only").model


def test_identity_keeps_mnist_accuracy_and_a_rotation_lowers_it(mnist, source_only):
    from da_demo.workflows.shifting import measure_shift

    same = measure_shift(ShiftRecipe(), mnist.source_test, source_only, samples=1000)
    assert same.shifted_acc == same.mnist_acc > 0.97
    turned = measure_shift(PRESETS["rotated 45°"], mnist.source_test, source_only, samples=1000)
    assert turned.mnist_acc == same.mnist_acc and turned.shifted_acc < same.mnist_acc - 0.15
    assert turned.domain_acc > same.domain_acc and turned.mmd > same.mmd


def test_a_built_domain_never_holds_a_digit_of_the_source_training_split(mnist):
    pair = custom_pair(ShiftRecipe(), mnist)  # the identity recipe: the target digits are MNIST digits as they are
    seen = {hashlib.sha1(image.numpy().tobytes()).digest() for image in mnist.source_train.images[:, :1]}
    target = pair.target_train.images
    assert len(target) == len(mnist.source_val) and target.shape[1] == 1
    assert not any(hashlib.sha1(image.numpy().tobytes()).digest() in seen for image in target)
    assert pair.source_train is mnist.source_train and pair.name == "custom"


def test_a_method_adapts_to_a_built_domain_through_the_live_path(mnist, tmp_path):
    """DANN on MNIST → "rotated 45°" with the one live-run routine: it starts from the shipped MNIST
    source-only model of the pair with the domain's channels, and its model says which domain."""
    import threading

    from da_demo.artifacts.checkpoints import load_checkpoint
    from da_demo.data.shift import custom_spec
    from da_demo.engine.spec import RunSpec
    from da_demo.workflows.live import InProcessTrainer, LiveRequest

    recipe = PRESETS["rotated 45°"]
    spec = RunSpec.resolve(custom_spec(recipe), "dann", {"steps": 6, "batch_size": 16})
    other = RunSpec.resolve(custom_spec(PRESETS["thick pens"]), "dann", {"steps": 6, "batch_size": 16})
    assert spec.identity != other.identity  # the recipe is part of what a run is
    loads = []
    trainer = InProcessTrainer(lambda name: loads.append(name) or mnist)
    output = tmp_path / "custom.safetensors"
    options = {"log_every": 2, "eval_every": 3, "eval_samples": 200, "final_eval_samples": 200}
    for _ in range(2):  # the second run finds the domain built
        messages = list(trainer.run(LiveRequest(spec, str(output), options), threading.Event()))
        assert messages[-1].kind == "done", messages[-1]
    assert loads == ["mnist-usps"]
    events = [payload for kind, payload in messages if kind == "event"]
    assert events[-1].step == 6 and 0 < events[-1].target_acc < events[-1].source_acc
    metadata = load_checkpoint(output).metadata
    assert metadata.pair == "custom" and metadata.shift == {"rotation": 45.0}  # the file says which domain


def test_your_domain_joins_try_it_and_feature_space_and_is_freed_on_leave(data_dir, tmp_path):
    """The pair menu's "your domain" is the Shift tab's last recipe: Try it predicts a visitor's
    model of it beside the MNIST source-only model, on examples of that domain; Feature space
    projects both; the visitor's copy of the domain is a few MB and goes when they leave."""
    import gc
    import threading
    import weakref

    from da_demo.artifacts.checkpoints import load_checkpoint
    from da_demo.data.shift import custom_spec
    from da_demo.engine.spec import RunSpec
    from da_demo.ui.appdata import AppData
    from da_demo.ui.domains import resolve_page_pair
    from da_demo.ui.features import FeatureViews, model_choices
    from da_demo.ui.predicting import AS_DRAWN, examples_for, predict_digit
    from da_demo.ui.session import Session
    from da_demo.ui.zoo import ModelZoo, zoo_model
    from da_demo.workflows.live import InProcessTrainer, LiveRequest

    zoo, data, session = ModelZoo(), AppData(str(data_dir)), Session()
    session.recipe = recipe = PRESETS["rotated 45°"]
    spec = RunSpec.resolve(custom_spec(recipe), "dann", {"steps": 4, "batch_size": 16})
    output = tmp_path / "yours.safetensors"
    options = {"log_every": 2, "eval_every": 4, "eval_samples": 100, "final_eval_samples": 100}
    messages = list(InProcessTrainer(data.pair).run(LiveRequest(spec, str(output), options), threading.Event()))
    assert messages[-1].kind == "done", messages[-1]
    session.trained[("custom", "dann")] = zoo_model(load_checkpoint(output), "trained in this session", owner="yours")

    page = resolve_page_pair(zoo, data, "custom", session)
    examples = examples_for(page)  # the visitor's domain is built when a view first needs it
    assert page.built and page.spec.target.recipe == recipe and session.domain.recipe == recipe
    assert session.domain.nbytes <= 300 * 2**20
    assert [example.domain.title for example in examples[-10:]] == ["your domain"] * 10
    prediction = predict_digit(zoo, session, page, {AS_DRAWN: examples[-1].image})
    assert [(model.method, model.owner) for model in prediction.models] == [("source_only", "shipped"), ("dann", "yours")]
    assert prediction.models[0].note == ""  # the MNIST model's USPS figure is not this domain's
    assert model_choices(page, session) == [("DANN (gradient reversal) (yours)", "dann@yours")]
    coordinates, labels, domains, figures = FeatureViews().view(page, "dann@yours", "pca", session)
    assert len(coordinates) == len(labels) == len(domains) and set(domains.tolist()) == {0, 1}
    assert 0.0 <= figures["domain_acc"] <= 1.0

    built = weakref.ref(session.domain.pair.target_test.images)
    del page, examples, prediction
    session.close()  # what the app does when the visitor's page closes
    gc.collect()
    assert session.domain is None and built() is None


def test_the_study_plans_every_preset_with_fixed_methods_and_tabulates_its_records():
    """``shift-study``: every preset but MNIST itself × the fixed methods, each with the label-free
    pick of its base pair and the Shift tab's step budget; the latest record of each run is shown."""
    from da_demo.artifacts.schemas import ShiftStudyRecord
    from da_demo.workflows.selection import read_selection
    from da_demo.workflows.shift_study import (
        STUDY_METHODS,
        STUDY_STEPS,
        plan_study,
        study_chart,
        study_rows,
        study_table,
    )

    trials = plan_study()
    assert len(trials) == (len(PRESETS) - 1) * len(STUDY_METHODS) == len({trial.key for trial in trials})
    colour = next(trial for trial in trials if trial.preset == "colour photos" and trial.method == "dann")
    assert colour.spec.pair.models_from == "mnist-mnistm" and colour.spec.hparams.steps == STUDY_STEPS
    picked = read_selection().picked_settings("mnist-mnistm", "dann")
    assert all(getattr(colour.spec.hparams, name) == value for name, value in picked.items())

    def record(preset, method, before, after, created="1"):
        trial = next(t for t in trials if t.preset == preset and t.method == method)
        return ShiftStudyRecord(**trial.header(), status="ok", source_only_acc=before, target_acc=after, created=created)

    records = [
        record("upside down (180°)", "dann", 0.40, 0.42),
        record("rotated 45°", "dann", 0.55, 0.60, "1"),
        record("rotated 45°", "dann", 0.55, 0.80, "2"),  # run again: the latest counts
        record("rotated 45°", "mcc", 0.55, 0.85),
    ]
    rows = study_rows(records)
    assert [(row.preset, row.adapted) for row in rows] == [
        ("rotated 45°", {"dann": 0.80, "mcc": 0.85}),
        ("upside down (180°)", {"dann": 0.42}),
    ]
    table = study_table(rows)
    assert "| rotated 45° | 55.0 | 80.0 | 85.0 | — |" in table
    assert study_chart(records) is not None and study_chart([]) is None
