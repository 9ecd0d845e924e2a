"""The Gradio app: its handlers as plain functions, and its public endpoints through gradio_client
against an app launched in this process (on the shipped checkpoints)."""

import io
import socket

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
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
