"""Small pieces of presentation shared by the tabs: digit images and the prediction table."""

from __future__ import annotations

import base64
import collections
import hashlib
import html
import io
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..workflows.shift_study import study_chart

DIGIT_SCALE = 6  # 28 px → 168 px, nearest neighbour so pixels stay crisp


def with_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """``(..., C, H, W)`` with C = 1 repeated to ``channels`` (a view); other counts unchanged."""
    if images.shape[-3] == channels:
        return images
    return images.expand(*images.shape[:-3], channels, *images.shape[-2:])


def digit_image(digit: torch.Tensor, scale: int = DIGIT_SCALE) -> np.ndarray:
    """``(C, H, W)`` float in [0, 1] → ``(H·scale, W·scale, 3)`` uint8 for display."""
    array = digit.detach().float().clamp(0, 1).cpu()
    if array.shape[0] == 1:
        array = array.expand(3, -1, -1)
    array = (array.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return np.kron(array, np.ones((scale, scale, 1), np.uint8))


IMAGE_DIR = Path(tempfile.gettempdir()) / "da-demo-images"
IMAGE_MAX_AGE_S = 3600.0
_last_prune = 0.0


def image_file(image: np.ndarray) -> str:
    """A uint8 image as a PNG file, the form every image output (``gr.Image``, ``gr.Gallery``,
    the canvas) gets.

    Given an array, Gradio re-encodes it into its cache file each time it is sent, truncating the
    file first; a browser still fetching the previous copy (the blank canvas is sent again and
    again) then receives too few bytes and the server logs a traceback. A file is copied into
    Gradio's cache once, atomically. Files are named by their content (the same image is one file),
    written under a temporary name and renamed; those unused for an hour are removed now and then.
    """
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return png_file(buffer.getvalue())


def figure_file(figure) -> str:
    """A matplotlib figure rendered once to a PNG file (see ``image_file``): every visitor watching
    the same shared run is then sent this file, not a rendering of their own."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return png_file(buffer.getvalue())


def png_file(data: bytes) -> str:
    """PNG bytes as a file named by its content, written once, atomically (see ``image_file``)."""
    path = IMAGE_DIR / f"{hashlib.sha256(data).hexdigest()[:24]}.png"
    try:
        os.utime(path)  # in use again: not pruned
    except FileNotFoundError:
        IMAGE_DIR.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(dir=IMAGE_DIR, prefix=".staging-")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(staging, path)
    _prune_old_images()
    return str(path)


def digit_file(digit: torch.Tensor, scale: int = DIGIT_SCALE) -> str:
    """``digit_image`` as a file (see ``image_file``)."""
    return image_file(digit_image(digit, scale))


def _prune_old_images() -> None:
    global _last_prune
    now = time.time()
    if now - _last_prune < 600:
        return
    _last_prune = now
    for old in IMAGE_DIR.glob("*.png"):
        try:
            if now - old.stat().st_mtime > IMAGE_MAX_AGE_S:
                old.unlink()
        except OSError:  # another process pruned it first
            pass


def _bars(probabilities: torch.Tensor, predicted: int) -> str:
    cells = []
    for label, value in enumerate(probabilities.tolist()):
        colour = "#2563eb" if label == predicted else "#94a3b8"
        cells.append(
            f'<div class="da-bar" title="{label}: {100 * value:.1f}%"><div style="height:{max(2, round(40 * value))}px;'
            f'background:{colour}"></div><span>{label}</span></div>'
        )
    return '<div class="da-bars">' + "".join(cells) + "</div>"


def png_data_uri(image: np.ndarray) -> str:
    """A small uint8 image as an inline ``data:`` URI (for thumbnails inside HTML)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def prediction_table(
    models: list, columns: list[str], thumbnails: dict[str, np.ndarray] | None = None
) -> str:
    """HTML: one row per model, one column per input variant (headed by a thumbnail of that input),
    each cell the predicted class, its probability and bars for all ten classes. ``models``:
    ``predicting.ModelPrediction``s (``title``, ``note``, ``probabilities``: column → (10,)). On a
    phone the bars fold under the class and the table scrolls sideways rather than being cut."""
    thumbnails = thumbnails or {}
    head = "".join(
        f"<th>{f'<img class=da-thumb alt=input src={png_data_uri(thumbnails[c])}>' if c in thumbnails else ''}"
        f"<span>{html.escape(c)}</span></th>"
        for c in columns
    )
    body = []
    for row in models:
        cells = []
        for column in columns:
            probabilities = row.probabilities[column]
            predicted = int(probabilities.argmax())
            cells.append(
                f'<td><div class="da-cell"><div class="da-pred"><b>{predicted}</b> '
                f"<small>{100 * float(probabilities[predicted]):.0f}%</small></div>"
                f"{_bars(probabilities, predicted)}</div></td>"
            )
        note = f"<br><small>{html.escape(row.note)}</small>" if row.note else ""
        body.append(f"<tr><td><b>{html.escape(row.title)}</b>{note}</td>{''.join(cells)}</tr>")
    return (
        f'<div class="da-scroll"><table class="da-table"><thead><tr><th>model</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


CSS = """
.da-scroll { overflow-x: auto; max-width: 100%; }
.da-table { border-collapse: collapse; width: 100%; }
.da-table th, .da-table td { border-bottom: 1px solid #e5e7eb; padding: 6px 8px; text-align: left; vertical-align: middle; }
.da-table th { word-break: normal; overflow-wrap: normal; }
.da-table th span { display: block; font-weight: 600; }
.da-thumb { width: 42px; height: 42px; image-rendering: pixelated; border-radius: 4px; display: block; }
.da-cell { display: flex; align-items: flex-end; gap: 10px; }
.da-pred { min-width: 64px; }
.da-pred b { font-size: 1.5em; }
.da-bars { display: inline-flex; gap: 2px; align-items: flex-end; height: 52px; }
.da-bar { display: flex; flex-direction: column; align-items: center; justify-content: flex-end;
          width: 12px; font-size: 9px; }
.da-bar div { width: 10px; border-radius: 2px 2px 0 0; }
.da-message { padding: 6px 10px; border-radius: 6px; background: #fef3c7; color: #92400e; }
.da-caption { color: #4b5563; font-size: 0.9em; margin: 4px 0; }
/* Markdown tables (results, alignment) never break a word in the middle */
.prose table th, .prose table td { word-break: normal; overflow-wrap: normal; }
.prose table { display: block; overflow-x: auto; }
/* a long formula scrolls inside its own box instead of being cut at the screen's edge */
.katex-display { overflow-x: auto; overflow-y: hidden; max-width: 100%; padding-bottom: 2px; }
/* the class board (two plots stacked) fits a laptop's screen height */
#class_board img { max-height: 85vh; object-fit: contain; }
@media (max-width: 720px) {
  /* the results table keeps what a student compares (method, ours, oracle, published) on a phone */
  .da-results th:nth-child(3), .da-results td:nth-child(3), .da-results th:nth-child(4),
  .da-results td:nth-child(4), .da-results th:nth-child(6), .da-results td:nth-child(6) { display: none; }
  /* phones: the prediction cells stack the bars under the class, so three columns fit */
  .da-cell { flex-direction: column; align-items: flex-start; gap: 2px; }
  .da-pred { min-width: 0; }
  /* the examples show five digits a row (Gradio's gallery keeps tiles at least 100 px wide: three) */
  #examples .grid-container { grid-template-columns: repeat(5, minmax(0, 1fr)) !important;
                              grid-auto-rows: minmax(56px, auto) !important; gap: 4px !important; }
  /* the ten bars share the cell's width, so 7, 8 and 9 are never cut off */
  .da-bars { display: flex; width: 100%; min-width: 60px; gap: 1px; }
  .da-bar { flex: 1 1 0; width: auto; min-width: 5px; font-size: 7px; }
  .da-bar div { width: 100%; }
  .da-table th, .da-table td { padding: 4px 3px; }
  /* every tab stays reachable: the tab bar wraps onto a second line instead of hiding tabs in "⋯"
     (Gradio measures the hidden copy of the tab buttons to decide which fit) */
  .tab-container.visually-hidden button { width: 1px !important; min-width: 0 !important; padding: 0 !important;
                                          font-size: 1px !important; }
  .tab-wrapper { height: auto !important; }
  .tab-wrapper .tab-container[role="tablist"] { flex-wrap: wrap; height: auto !important; row-gap: 2px; }
  .overflow-menu { display: none !important; }
}
"""


class Drawings:
    """The app's last few drawings, by key (a shared run's curves at one moment, a class board with
    its runs): drawn once, sent to every visitor who asks for the same one."""

    def __init__(self, size: int = 256) -> None:
        self.size, self._lock = size, threading.Lock()
        self._pictures: collections.OrderedDict[tuple, tuple] = collections.OrderedDict()

    def get(self, key: tuple, draw: Callable[[], tuple]) -> tuple:
        with self._lock:
            if key in self._pictures:
                self._pictures.move_to_end(key)
                return self._pictures[key]
        pictures = draw()  # outside the lock: two watchers may draw the same moment once each
        with self._lock:
            self._pictures[key] = pictures
            while len(self._pictures) > self.size:
                self._pictures.popitem(last=False)
        return pictures


LOG = logging.getLogger("da_demo.ui")


def shift_study_picture(drawings: Drawings) -> str | None:
    """The "which shifts can adaptation fix?" chart (``workflows.shift_study``, from its committed
    records) as a file, drawn once; None before the study has run."""
    def draw() -> tuple[bytes]:
        figure = study_chart()
        if figure is None:
            return (b"",)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        return (buffer.getvalue(),)

    (data,) = drawings.get(("shift-study",), draw)
    return png_file(data) if data else None


def message(text: str) -> str:
    """A short notice for the visitor (Markdown), or "" for none."""
    return f'<div class="da-message">{html.escape(text)}</div>' if text else ""


def rejected(text: str) -> str:
    """An expected refusal (a blank canvas, a file that is not a picture, settings out of range):
    one line in the server log, no traceback, so real failures stand out. Returns ``text``."""
    LOG.info("rejected: %s", text)
    return text


def rejection(text: str):
    """``rejected`` as the ``gradio.Error`` an API client receives (Gradio prints no traceback for it)."""
    import gradio as gr

    return gr.Error(rejected(text), print_exception=False)


def friendly(handler):
    """Wrap an event handler (plain or generator) so an unexpected failure reaches the visitor as
    one short sentence (``gr.Error``), never as a traceback; the traceback goes to the server log."""
    import functools
    import inspect

    import gradio as gr

    def explain() -> gr.Error:
        LOG.exception("handler %s failed", handler.__name__)
        return gr.Error(
            "Something went wrong on our side; please try again. (The details are in the server log.)"
        )

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:
                raise explain() from error

        return generator_wrapper

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:
            raise explain() from error

    return wrapper
