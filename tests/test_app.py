"""The Gradio app: its handlers as plain functions, and its public endpoints through gradio_client
against an app launched in this process (on the shipped checkpoints)."""

import io
import re
import socket
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from da_demo.data import PAIRS
from da_demo.data.digit_input import prepare_digit
from da_demo.methods import method_names
from da_demo.ui import build_demo, launch_options
from da_demo.ui.api import predict_payload
from da_demo.ui.appdata import AppData
from da_demo.ui.context import AppContext
from da_demo.ui.predicting import AS_DRAWN
from da_demo.ui.session import Session
from da_demo.ui.try_it import show_digit
from da_demo.ui.zoo import ModelZoo


def seven_png(path, size=280):
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).line([(70, 60), (200, 60), (120, 230)], fill="black", width=22)
    image.save(path)
    return str(path)


@pytest.fixture(scope="module")
def zoo():
    return ModelZoo()


@pytest.fixture(scope="module")
def app_data(data_dir):
    return AppData(str(data_dir))


@pytest.fixture(scope="module")
def app_url(zoo, app_data):
    demo = build_demo(zoo, app_data)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options()
    )
    yield url
    demo.close()


def test_every_pair_has_every_method_shipped(zoo):
    for pair in PAIRS:
        assert zoo.pair(pair).missing == {}, zoo.pair(pair).missing
        assert [model.method for model in zoo.pair(pair).models] == method_names()
        assert zoo.pair(pair).generators is not None


def test_show_digit_predicts_with_every_model_in_both_styles(zoo, app_data, tmp_path):
    digit, _ = prepare_digit(seven_png(tmp_path / "seven.png"))
    session = Session()
    context = AppContext(zoo=zoo, data=app_data, session=None, pair=None)
    view, gallery, table, status, session = show_digit(
        context, session, "mnist-usps", digit, [], "your drawing"
    )
    assert Image.open(view).size == (168, 168)  # a file: Gradio copies it once instead of rewriting it
    assert {name for _, name in gallery["value"]} == {"USPS-like", "noisy", "MNIST-M-like"}
    assert table.count("<tr>") == 1 + len(method_names())
    assert "in USPS style" in table and table.count("<img class=da-thumb") == 2  # each input shown
    assert "Predictions for <b>your drawing</b>" in status and "models answered in" in status
    assert session.digit is not None


def test_predict_payload_for_programs(zoo, app_data, tmp_path):
    context = AppContext(zoo=zoo, data=app_data, session=None, pair=None)
    payload = predict_payload(context, seven_png(tmp_path / "seven.png"), "mnist-mnistm", Session())
    assert payload["inputs"] == [AS_DRAWN, "in MNIST-M style"]
    assert [model["method"] for model in payload["models"]] == method_names()
    for model in payload["models"]:
        for prediction in model["predictions"].values():
            assert abs(sum(prediction["probabilities"]) - 1) < 1e-3
    source_only = payload["models"][0]["predictions"][AS_DRAWN]
    assert source_only["class"] == 7  # a clear 7, as drawn, is an easy MNIST digit
    with pytest.raises(gr.Error, match="blank"):
        predict_payload(context, np.full((280, 280, 3), 255, np.uint8), "mnist-usps", Session())
    with pytest.raises(gr.Error, match="Unknown pair"):
        predict_payload(context, seven_png(tmp_path / "seven.png"), "mnist-svhn", Session())


def test_endpoints_through_gradio_client(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    seven = seven_png(tmp_path / "seven.png")
    result = client.predict(handle_file(seven), "mnist-usps", api_name="/predict")
    assert [model["method"] for model in result["models"]] == method_names()
    assert result["models"][0]["predictions"][AS_DRAWN]["class"] == 7
    translated, reconstructed = client.predict(handle_file(seven), "mnist-usps", api_name="/translate")
    for path in (translated, reconstructed):
        assert Image.open(path).size == (168, 168)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.txt", b"hello, not an image", "not a readable image"),
        ("broken.png", None, "not a readable image"),
        ("blank.png", "blank", "blank"),
    ],
)
def test_bad_input_gets_a_short_message_not_a_traceback(app_url, tmp_path, name, content, message):
    path = tmp_path / name
    if content == "blank":
        Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(path)
    elif content is None:
        buffer = io.BytesIO()
        Image.open(seven_png(tmp_path / "seven.png")).save(buffer, format="PNG")
        path.write_bytes(buffer.getvalue()[:400])
    else:
        path.write_bytes(content)
    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match=message) as error:
        client.predict(handle_file(str(path)), "mnist-usps", api_name="/predict")
    assert "Traceback" not in str(error.value)


def test_huge_and_transparent_uploads_are_read(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    huge = seven_png(tmp_path / "huge.png", size=4000)
    result = client.predict(handle_file(huge), "mnist-usps", api_name="/predict")
    assert any("4000×4000" in note for note in result["notes"])
    transparent = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).line([(70, 60), (200, 60), (120, 230)], fill=(0, 0, 0, 255), width=22)
    transparent.save(tmp_path / "transparent.png")
    result = client.predict(handle_file(str(tmp_path / "transparent.png")), "mnist-usps", api_name="/predict")
    assert result["models"][0]["predictions"][AS_DRAWN]["class"] == 7


def test_adapt_settings_are_named_and_checked_by_the_methods_dataclass():
    from da_demo.ui.live_runs import MAX_STEPS, SettingsError, adaptation_spec

    spec = adaptation_spec("mnist-usps", "dann", {"steps": 100, "lambda_max": 0.5, "lr": 1e-4, "seed": 3})
    hparams = spec.hparams
    assert (hparams.steps, hparams.lambda_max, hparams.lr, spec.seed) == (100, 0.5, 1e-4, 3)
    assert spec.method.name == "dann" and spec.start.method.name == "source_only"  # resolved once, here
    assert adaptation_spec("mnist-usps", "ot_sinkhorn", {"reg_e": 0.05}).hparams.reg_e == 0.05
    hparams = adaptation_spec(
        "mnist-mnistm", "deepcoral", {}, picked={"entropy_weight": 0.0, "steps": 9000}
    ).hparams
    assert hparams.entropy_weight == 0.0 and hparams.steps == MAX_STEPS  # the label-free pick, capped
    hparams = adaptation_spec("mnist-usps", "deepjdot", {}).hparams
    assert hparams.batch_size <= 256  # the paper's 500 is more than a live session allows
    for bad, text in [
        ({"steps": MAX_STEPS + 1}, "Steps must be at most"),
        ({"lambda_max": -1.0}, r"lambda_max \(Gradient-reversal strength λ\) must be between"),
        ({"lr": 5.0}, "lr .* must be between"),
        ({"batch_size": 1024}, "batch size must be at most"),
        ({"lamda_max": 1.0}, "Unknown hyperparameter"),
        ({"seed": "x"}, "seed must be a whole number"),
    ]:
        with pytest.raises(SettingsError, match=text):
            adaptation_spec("mnist-usps", "dann", bad)
    with pytest.raises(SettingsError, match="Unknown method"):
        adaptation_spec("mnist-usps", "source_only", {})


def test_adapt_slots_map_to_each_methods_own_settings():
    from da_demo.ui.adapt import settings_from_slots

    values = {"steps": 100, "weight": 0.5, "warmup": 20, "entropy": 0.0, "lr": 1e-4, "batch_size": 64}
    assert settings_from_slots("dann", values) == {
        "steps": 100,
        "lambda_max": 0.5,
        "entropy_weight": 0.0,
        "lr": 1e-4,
        "batch_size": 64,
    }
    assert settings_from_slots("lmmd", values)["warmup_steps"] == 20
    assert settings_from_slots("ot_sinkhorn", values) == {"reg_e": 0.5}
    assert "entropy_weight" not in settings_from_slots("cyclegan", values)  # it has no such term


def test_live_curves_have_plain_names_and_the_target_line():
    from da_demo.engine.trainer import ProgressEvent
    from da_demo.ui.adapt import reported_metrics
    from da_demo.ui.glossary import explanations
    from da_demo.ui.live_runs import curves

    start = ProgressEvent(0, 100, 0, 0, 0, {}, 0.98, 0.71)  # evaluate_first: accuracies, no losses yet
    events = [start] + [
        ProgressEvent(
            step, 100, 0, 0, 0, {"class_loss": 1.0 / step, "domain_acc": 0.8, "grl_lambda": 0.5}, None, None
        )
        for step in (10, 20)
    ]
    events.append(ProgressEvent(30, 100, 0, 0, 0, {"class_loss": 0.01, "lmmd_loss": 0.2}, 0.99, 0.9))
    losses, accuracy = curves(events)
    assert set(losses) == {
        "source classification loss",
        "class-wise gap (LMMD)",
    }  # not grl_lambda, not code names
    assert losses["source classification loss"] == ([10, 20, 30], [0.1, 0.05, 0.01])
    assert accuracy["target test"] == ([0, 30], [0.71, 0.9]) and accuracy["domain classifier"][0] == [10, 20]
    text = explanations(reported_metrics(events))
    assert "**target test**" in text and "never used to train" in text and "**domain classifier**" in text


def test_a_visitors_trained_model_is_theirs_alone(app_url, tmp_path):
    trainer, other = Client(app_url, verbose=False), Client(app_url, verbose=False)
    status, curves, model_file = trainer.predict(
        "mnist-usps", "deepcoral", {"steps": 30, "batch_size": 32}, api_name="/adapt"
    )
    assert status.startswith("done: 30 steps") and "target test" in status
    assert curves["accuracy"]["target test"]["step"][0] == 0 and model_file.endswith(".safetensors")
    assert "source classification loss" in curves["losses"]
    seven = handle_file(seven_png(tmp_path / "seven.png"))
    mine = trainer.predict(seven, "mnist-usps", api_name="/predict")
    theirs = other.predict(seven, "mnist-usps", api_name="/predict")
    assert [m["method"] for m in mine["models"] if m["owner"] == "yours"] == ["deepcoral"]
    assert [m for m in theirs["models"] if m["owner"] == "yours"] == []
    assert [
        m
        for m in trainer.predict(seven, "mnist-noisy", api_name="/predict")["models"]
        if m["owner"] == "yours"
    ] == []


def test_stop_ends_a_run_quickly_and_keeps_what_it_learned(app_url, tmp_path):
    import time

    client = Client(app_url, verbose=False)
    job = client.submit("mnist-usps", "dann", {"steps": 3000, "batch_size": 32}, api_name="/adapt")
    time.sleep(6)
    assert "Stopping" in client.predict(api_name="/stop")
    status, *_ = job.result(timeout=180)
    assert status.startswith("stopped by you")
    assert int(status.split(": ")[1].split()[0]) < 3000  # it ended at the stop, not at its last step
    result = client.predict(handle_file(seven_png(tmp_path / "seven.png")), "mnist-usps", api_name="/predict")
    assert "dann" in [m["method"] for m in result["models"] if m["owner"] == "yours"]


def test_bad_settings_or_a_failed_run_leave_the_app_usable(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    # settings a run cannot use: refused with the dataclass's own message, the run never starts
    status, *_ = client.predict("mnist-usps", "dann", {"steps": 30, "lr": 5.0}, api_name="/adapt")
    assert status.startswith("Not started") and "lr (Learning rate) must be between" in status
    status, *_ = client.predict("mnist-usps", "dann", {"steps": 30, "lamda_max": 2}, api_name="/adapt")
    assert status.startswith("Not started") and "Unknown hyperparameter(s) lamda_max" in status
    with pytest.raises(AppError):
        client.predict("mnist-usps", "no_such_method", {"steps": 30}, api_name="/adapt")
    assert client.predict(handle_file(seven_png(tmp_path / "seven.png")), "mnist-usps", api_name="/predict")[
        "models"
    ]


def test_adapt_fields_show_the_label_free_picks(app_data):
    """The selection's picks (plain DeepCORAL on MNIST-M, say) reach the Adapt tab's fields."""
    from da_demo.artifacts.schemas import SelectionFile
    from da_demo.ui import adapt

    def picked(entropy_weight):
        point = {"trial": "t", "step": 10, "settings": {"entropy_weight": entropy_weight}}
        return {
            "validator": "source_accuracy",
            "methods": {"deepcoral": {"validator": "source_accuracy", "pick": point}},
        }

    selection = SelectionFile.model_validate(
        {"pairs": {"mnist-mnistm": picked(0.0), "mnist-usps": picked(0.1)}}
    )
    with gr.Blocks():
        zoo = ModelZoo(selection=selection)
        context = AppContext(
            zoo=zoo, data=app_data, session=gr.State(Session()), pair=gr.Dropdown(list(PAIRS))
        )
        tab = adapt.build(context)
    entropy_field = 3
    assert tab.describe("deepcoral", "mnist-mnistm")[entropy_field]["value"] == 0.0
    assert tab.describe("deepcoral", "mnist-usps")[entropy_field]["value"] == 0.1
    session = Session()
    session.presets[("mnist-usps", "dann")] = {"steps": 600}  # what a lesson step sets up
    assert tab.describe("dann", "mnist-usps", session)[0]["value"] == 600
    assert tab.describe("dann", "mnist-mnistm", session)[0]["value"] != 600  # only where it was set up
    weight_field = tab.describe("dann", "mnist-usps")[1]
    assert weight_field["label"] == "Gradient-reversal strength λ" and weight_field["maximum"] == 10.0


def test_start_and_stop_pressed_rapidly_by_several_visitors(app_url, tmp_path):
    """Three visitors start and stop runs as fast as they can click: every run ends with a status,
    nobody gets an error, and both training slots are free afterwards."""
    import concurrent.futures
    import time

    def impatient(seed):
        client = Client(app_url, verbose=False)
        finals = []
        for _ in range(2):
            job = client.submit(
                "mnist-usps", "mmd", {"steps": 300, "batch_size": 16, "seed": seed}, api_name="/adapt"
            )
            while (
                not job.done() and len(job.outputs()) == 0
            ):  # in line, or loading: Stop is pressed once it runs
                time.sleep(0.05)
            for _ in range(3):
                client.predict(api_name="/stop")
            finals.append(job.result(timeout=300)[0])
        client.predict(api_name="/stop")  # with nothing running
        return finals

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(impatient, range(3)))
    for finals in results:
        for status in finals:
            assert re.match(r"^(stopped by you|done|Not started)", status), status
    seven = handle_file(seven_png(tmp_path / "seven.png"))
    assert Client(app_url, verbose=False).predict(seven, "mnist-usps", api_name="/predict")["models"]


def test_digit_files_are_written_once_by_content():
    """Images reach Gradio as files (copied into its cache once), never re-encoded in place."""
    from da_demo.ui.render import IMAGE_DIR, digit_file

    digit = torch.zeros(1, 28, 28)
    digit[0, 8:20, 12:16] = 1.0
    path = digit_file(digit)
    inode = Path(path).stat().st_ino
    assert digit_file(digit.clone()) == path and Path(path).stat().st_ino == inode  # not rewritten
    assert digit_file(1 - digit) != path
    assert Image.open(path).size == (168, 168) and Image.open(digit_file(digit, scale=2)).size == (56, 56)
    assert not list(IMAGE_DIR.glob(".staging-*"))


def test_without_data_the_page_says_so_in_one_sentence_and_the_log_in_one_line(tmp_path, caplog):
    from da_demo.ui import missing_data_notice

    empty = AppData(str(tmp_path))
    with caplog.at_level("WARNING"):
        notice = missing_data_notice(empty)
    assert "not available" in notice and "DA_DEMO_DATA_DIR" in notice and "MNIST → USPS" in notice
    assert len([r for r in caplog.records if r.name == "da_demo.data"]) == len(PAIRS)
    assert not any(record.exc_info for record in caplog.records)
    assert missing_data_notice(empty) == notice  # asked again: nothing new is tried or logged


def test_class_and_shift_endpoints_answer_bad_input_with_one_sentence_and_store_nothing(app_url):
    client = Client(app_url, verbose=False)
    code = client.predict("mmd", api_name="/open_class")
    seat = client.predict(code, "Ada", api_name="/join_class")
    assert seat["name"] == "Ada" and seat["class"] == code and seat["preset"]["steps"] > 0
    board = client.predict(code, api_name="/class_board")
    assert board["runs"] == [] and board["pick"] is None and board["validator"] == "information_maximization"
    for endpoint, arguments, message in (
        ("/join_class", ("ZZZZZ", ""), "There is no class ZZZZZ"),
        ("/join_class", (code, "x" * 10_000), "at most 24 characters"),
        ("/join_class", (code, "<b>Ada</b>"), "letters, digits"),
        ("/class_board", ("NOPE",), "letters and digits"),
        ("/open_class", ("danm",), "Unknown method"),
        ("/shift", ({"rotation": 400},), "rotation must be between -180 and 180"),
        ("/shift", ({"colour": True},), "Unknown shift setting 'colour'"),
    ):
        with pytest.raises(Exception, match=message) as error:
            client.predict(*arguments, api_name=endpoint)
        assert "Traceback" not in str(error.value)
    assert client.predict(code, "", api_name="/join_class")["student"] == 2  # the refused ones took no seat
    picture, summary = client.predict({"rotation": 180}, api_name="/shift")
    assert summary["recipe"] == {"rotation": 180.0} and summary["source_only_accuracy"] < 0.6
    assert Image.open(picture).size[0] > 200


def test_adapt_trains_on_a_built_domain_given_its_recipe(app_url):
    client = Client(app_url, verbose=False)
    status, curves, model = client.predict(
        "custom", "deepcoral", {"steps": 20, "batch_size": 16, "shift": {"rotation": 45}}, api_name="/adapt"
    )
    assert status.startswith("done"), status
    assert curves["accuracy"]["target test"]["step"][-1] == 20 and model
    for shift, message in (({"rotation": 400}, "rotation must be between"), ({"hue": 1}, "Unknown shift setting")):
        status, *_ = client.predict("custom", "deepcoral", {"steps": 20, "shift": shift}, api_name="/adapt")
        assert status.startswith("Not started") and message in status, status
