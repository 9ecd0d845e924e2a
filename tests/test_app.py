"""The Gradio app: its handlers as plain functions, and its public endpoints through gradio_client
against an app launched in this process (on the shipped checkpoints)."""

import io
import socket

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from da_demo.data import PAIRS
from da_demo.methods import method_names
from da_demo.ui import build_demo, launch_options
from da_demo.ui.api import predict_payload
from da_demo.ui.appdata import AppData
from da_demo.ui.context import AppContext
from da_demo.ui.session import Session
from da_demo.ui.try_it import AS_DRAWN, show_digit
from da_demo.ui.zoo import ModelZoo
from da_demo.data.digit_input import prepare_digit


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
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                            **launch_options())
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
    view, gallery, table, status, session = show_digit(zoo, app_data, session, "mnist-usps", digit, [])
    assert view.shape == (168, 168, 3)
    assert {name for _, name in gallery} == {"USPS-like", "noisy", "MNIST-M-like"}
    assert table.count("<tr>") == 1 + len(method_names())
    assert "in USPS style" in table and "models answered in" in status
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


@pytest.mark.parametrize("name,content,message", [
    ("notes.txt", b"hello, not an image", "not a readable image"),
    ("broken.png", None, "not a readable image"),
    ("blank.png", "blank", "blank"),
])
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


def test_adapt_settings_are_checked_with_clear_messages():
    from da_demo.ui.adapt import MAX_STEPS, settings_for

    assert settings_for("dann", 100, 0.5, None, 1e-4, 64) == {"steps": 100, "lr": 1e-4, "batch_size": 64, "lambda_max": 0.5}
    assert settings_for("lmmd", 100, None, 20, None, None) == {"steps": 100, "warmup_steps": 20}
    assert settings_for("ot_sinkhorn", 100, 0.05, None, None, None) == {"reg_e": 0.05}
    assert settings_for("deepcoral", 100, None, None, None, None, entropy=0.0) == {"steps": 100, "entropy_weight": 0.0}
    assert settings_for("cyclegan", 100, None, None, None, None, entropy=0.5) == {"steps": 100}  # has no such term
    for bad, message in [((MAX_STEPS + 1, None, None, None, None), "Steps must be"),
                         ((100, -1.0, None, None, None), "alignment weight"),
                         ((100, None, None, 5.0, None), "learning rate"),
                         ((100, None, None, None, 1024), "batch size")]:
        with pytest.raises(ValueError, match=message):
            settings_for("dann", *bad)
    with pytest.raises(ValueError, match="warm-up must be shorter"):
        settings_for("lmmd", 100, None, 500, None, None)


def test_live_curves_reserve_every_line_from_the_first_frame():
    from da_demo.engine.trainer import ProgressEvent
    from da_demo.ui.adapt import curves

    start = ProgressEvent(0, 100, 0, 0, 0, {}, 0.98, 0.71)  # evaluate_first: accuracies, no losses yet
    events = [start] + [ProgressEvent(step, 100, 0, 0, 0, {"class_loss": 1.0 / step}, None, None) for step in (10, 20)]
    losses, accuracy = curves(events, late_metrics=("lmmd_loss",))
    assert set(losses.series) == {"class_loss", "lmmd_loss"}
    assert (losses.step.min(), losses[losses.series == "lmmd_loss"].value.isna().all()) == (0, True)
    assert set(accuracy.series) == {"source test", "target test"}
    assert accuracy[accuracy.step == 0].value.dropna().tolist() == [0.98, 0.71]


def test_a_visitors_trained_model_is_theirs_alone(app_url, tmp_path):
    trainer, other = Client(app_url, verbose=False), Client(app_url, verbose=False)
    status, *_ = trainer.predict("mnist-usps", "deepcoral", 30, None, None, None, None, 32, 0, api_name="/adapt")
    assert status.startswith("done: 30 steps") and "target test" in status
    seven = handle_file(seven_png(tmp_path / "seven.png"))
    mine = trainer.predict(seven, "mnist-usps", api_name="/predict")
    theirs = other.predict(seven, "mnist-usps", api_name="/predict")
    assert [m["method"] for m in mine["models"] if m["owner"] == "yours"] == ["deepcoral"]
    assert [m for m in theirs["models"] if m["owner"] == "yours"] == []
    assert [m for m in trainer.predict(seven, "mnist-noisy", api_name="/predict")["models"] if m["owner"] == "yours"] == []


def test_stop_ends_a_run_quickly_and_keeps_what_it_learned(app_url, tmp_path):
    import time

    client = Client(app_url, verbose=False)
    job = client.submit("mnist-usps", "dann", 3000, None, None, None, None, 32, 0, api_name="/adapt")
    time.sleep(6)
    assert "Stopping" in client.predict(api_name="/stop")
    stopped_at = time.perf_counter()
    status, *_ = job.result(timeout=120)
    assert time.perf_counter() - stopped_at < 10  # the last step, a quick evaluation, saving
    assert status.startswith("stopped by you")
    result = client.predict(handle_file(seven_png(tmp_path / "seven.png")), "mnist-usps", api_name="/predict")
    assert "dann" in [m["method"] for m in result["models"] if m["owner"] == "yours"]


def test_bad_settings_or_a_failed_run_leave_the_app_usable(app_url, tmp_path):
    client = Client(app_url, verbose=False)
    # the Steps slider's own bounds are checked by Gradio, with a plain message
    with pytest.raises(AppError, match="less than minimum value 10"):
        client.predict("mnist-usps", "dann", 5, None, None, None, None, 32, 0, api_name="/adapt")
    # values the components allow but a run cannot use: refused by the app, the run never starts
    status, *_ = client.predict("mnist-usps", "dann", 30, None, None, None, 5.0, 32, 0, api_name="/adapt")
    assert status.startswith("Not started") and "learning rate must be" in status
    with pytest.raises(Exception):
        client.predict("mnist-usps", "no_such_method", 30, None, None, None, None, 32, 0, api_name="/adapt")
    assert client.predict(handle_file(seven_png(tmp_path / "seven.png")), "mnist-usps", api_name="/predict")["models"]


def test_adapt_fields_show_the_pairs_own_defaults(zoo, app_data):
    """A pair's tuned settings (plain DeepCORAL on MNIST-M) reach the Adapt tab's fields."""
    from da_demo.ui import adapt

    with gr.Blocks():
        context = AppContext(zoo=zoo, data=app_data, session=gr.State(Session()), pair=gr.Dropdown(list(PAIRS)))
        describe, *_ = adapt.build(context)
    entropy_field = 2
    assert describe("deepcoral", "mnist-mnistm")[entropy_field]["value"] == 0.0
    assert describe("deepcoral", "mnist-usps")[entropy_field]["value"] == 0.1
