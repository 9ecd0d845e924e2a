"""The Gradio app: one module per tab, built here and wired to shared, read-only resources.

Per-visitor state lives in ``gr.State`` (``session.Session``); nothing mutable is kept at module level.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace

import gradio as gr

from .. import __version__
from ..data import PAIRS
from ..workflows.classroom import Classroom
from ..workflows.live import Environment, InProcessTrainer, ZeroGPUTrainer, zero_gpu_spaces
from ..workflows.ray_live import RAY_ADDRESS_ENV, RayTrainer
from ..workflows.sharing import SharedRuns
from ..workflows.workers import TrainingWorkers
from . import adapt, api, features, learn, lesson, results, shift, translate, try_it
from . import classroom as classroom_panel
from .appdata import AppData
from .classroom import open_classroom
from .context import AppContext
from .domains import pair_choices
from .live_runs import TRAINING_SLOTS, ZERO_GPU_SECONDS
from .render import CSS, Drawings
from .session import Session
from .zoo import ModelZoo

INTRO = """# Domain Adaptation Playground
A digit classifier trained on **MNIST** stumbles on **USPS**, **MNIST-M** and **noisy MNIST**: same digits,
another *domain*. Draw a digit and compare the source-only model with models adapted to the target
domain (using target images but **never** their labels). Pick the domain pair here:"""


def make_trainer(zoo: ModelZoo, data: AppData, train_in_workers: bool = True):
    """Where visitors' runs train, chosen once: a Ray cluster (``DA_DEMO_RAY_ADDRESS``), the GPU a
    ZeroGPU Space lends, worker processes, or (``train_in_workers=False``, for comparisons) this
    process. Start models come from the app's own model store either way."""
    environment = Environment(device="cpu", store=zoo.store, data_dir=data.data_dir)
    spaces = zero_gpu_spaces()
    if os.environ.get(RAY_ADDRESS_ENV):  # a class bigger than this machine: runs on a Ray cluster
        return RayTrainer(os.environ[RAY_ADDRESS_ENV], environment)
    if spaces is not None:
        return ZeroGPUTrainer(data.pair, replace(environment, device="cuda"), spaces, ZERO_GPU_SECONDS)
    if train_in_workers:
        return TrainingWorkers(TRAINING_SLOTS, environment)
    return InProcessTrainer(data.pair, environment)


def build_demo(
    zoo: ModelZoo | None = None,
    data: AppData | None = None,
    warm_up: bool = False,
    trainer=None,
    train_in_workers: bool = True,
    classroom: Classroom | None = None,
) -> gr.Blocks:
    """The whole app. ``warm_up`` loads the test data and starts the training workers in the
    background right away (for serving). Visitors' runs train with ``trainer`` (default:
    ``make_trainer``'s choice). Classes are kept in ``classroom`` (default: ``open_classroom``'s file)."""
    zoo = zoo or ModelZoo()
    data = data or AppData(os.environ.get("DA_DEMO_DATA_DIR"))
    if trainer is None:
        transport = make_trainer(zoo, data, train_in_workers)
        trainer = SharedRuns(transport, getattr(transport, "slots", TRAINING_SLOTS))
    for pair in PAIRS:  # the shipped models are loaded before the first page is served
        zoo.pair(pair)
    warmed = threading.Event()
    if warm_up:
        threading.Thread(
            target=_warm_up, args=(data, trainer, warmed), name="da-demo-warm-up", daemon=True
        ).start()

    with gr.Blocks(title="Domain Adaptation Playground") as demo:
        gr.Markdown(INTRO)
        pair = gr.Dropdown(
            choices=pair_choices(),
            value="mnist-usps",
            label="Domain pair",
            elem_id="pair",
            interactive=True,
        )
        notes = zoo.notes()
        if notes:
            gr.Markdown("Model source: " + "; ".join(notes))
        data_notice = gr.Markdown(elem_id="data_notice")
        context = AppContext(
            zoo=zoo,
            data=data,
            session=gr.State(Session()),
            pair=pair,
            trainer=trainer,
            drawings=Drawings(),
            classroom=classroom or open_classroom(),
            warmed=warmed,
        )
        with gr.Tabs() as tabs:
            with gr.Tab("Try it", id="try", elem_id="tab-try") as try_page:
                try_tab = try_it.build(context)
            with gr.Tab("Translate", id="translate", elem_id="tab-translate"):
                translate.build(context)
            with gr.Tab("Adapt", id="adapt", elem_id="tab-adapt"):
                adapt_tab = adapt.build(context)
            with gr.Tab("Shift", id="shift", elem_id="tab-shift"):
                shift_tab = shift.build(context)
            with gr.Tab("Feature space", id="features", elem_id="tab-features") as features_tab:
                feature_view = features.build(context)
            with gr.Tab("Results", id="results", elem_id="tab-results") as results_page:
                results_tab = results.build(context)
            with gr.Tab("Learn", id="learn", elem_id="tab-learn"):
                learn.build(context)
            with gr.Tab("Lesson", id="lesson", elem_id="tab-lesson"):
                class_view = classroom_panel.build(context)
                lesson_buttons = lesson.layout()
        lesson.wire(
            lesson_buttons,
            tabs,
            pair,
            context.session,
            try_tab,
            adapt_tab,
            feature_view,
            results_tab,
            class_view,
        )
        api.build(context)
        gr.Markdown(
            f"<small>da_demo {__version__} · data: MNIST, USPS, BSDS500 (see README for terms)</small>"
        )
        demo.unload(context.forget)
        demo.load(lambda: missing_data_notice(data), None, data_notice, api_visibility="private")
        demo.load(
            classroom_panel.class_code_from_link,
            None,
            [class_view.code, class_view.panel],
            api_visibility="private",
        )
        demo.load(try_tab.example_gallery, pair, try_tab.examples, api_visibility="private")
        # "your domain" is whatever the Shift tab built last: its examples are redrawn on coming back
        try_page.select(try_tab.example_gallery, [pair, context.session], try_tab.examples, api_visibility="private")
        shift_tab.redraw(demo.load(shift_tab.from_link, None, shift_tab.controls, api_visibility="private"))
        demo.load(adapt_tab.describe, adapt_tab.inputs, adapt_tab.fields, api_visibility="private")
        demo.load(results_tab.show, pair, results_tab.outputs, api_visibility="private").then(
            results_tab.show_selection,
            results_tab.selection_inputs,
            results_tab.selection_outputs,
            api_visibility="private",
        )
        # opening Results draws the pair chosen now (a quick switch of pairs while another tab was
        # open could leave the previous pair's chart and table behind)
        results_page.select(results_tab.show, pair, results_tab.outputs, api_visibility="private").then(
            results_tab.show_selection,
            results_tab.selection_inputs,
            results_tab.selection_outputs,
            api_visibility="private",
        )
        features_tab.select(
            feature_view.refresh_menu, feature_view.menu_inputs, feature_view.menu, api_visibility="private"
        ).then(feature_view.draw, feature_view.inputs, feature_view.outputs, api_visibility="private")
    for name, value in QUEUE_ANALYTICS.items():  # read by the queue made here
        os.environ.setdefault(name, value)
    demo.queue(default_concurrency_limit=4, max_size=128)
    demo.da_context = context  # for diagnostics and benchmarks: the shared resources and the visitors
    return demo


def missing_data_notice(data: AppData) -> str:
    """One sentence in the page when datasets are missing here (empty when everything loaded)."""
    missing = [PAIRS[name].title for name in PAIRS if data.pair(name) is None]
    if not missing:
        return ""
    return (
        f"⚠️ The datasets for {', '.join(missing)} are not available on this server "
        f"({next(iter(data.errors.values()), 'not found')[:160]}), so examples, feature plots and training are "
        "off for them; predictions on your own drawings work. Whoever runs the app: point `DA_DEMO_DATA_DIR` at "
        "a data folder (see the README's Data section), or give the server internet access to download them."
    )


def _warm_up(data: AppData, trainer, warmed: threading.Event) -> None:
    """After launch: start the training workers, load the test data, and compile UMAP once (numba's
    first call takes 15 s or more), so visitors do not wait for any of them. Each pair the app has
    loaded is handed to the workers at once (the first pair, which the lesson and built domains
    train on, is ready there while the others load); pairs that cannot load are not asked for again.
    ``warmed`` is set at the end."""
    workers = getattr(trainer, "trainer", trainer)  # the processes under the sharing
    if isinstance(workers, TrainingWorkers):
        workers.start()
    import numpy as np

    from ..viz.projections import project

    data.photos()
    for name in PAIRS:
        loaded = data.pair(name)
        if loaded is None:
            continue
        loaded.fingerprint  # noqa: B018 - hashed once now, not when the first visitor trains
        if isinstance(workers, TrainingWorkers):
            workers.preload([name])
    project(np.random.default_rng(0).random((64, 8), dtype=np.float32), "umap")
    warmed.set()


def configure_logging() -> None:
    """One line per expected rejection or finished run (``da_demo.*`` at INFO); tracebacks only for
    real failures; the HTTP clients' request lines left out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "urllib3", "gradio_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").addFilter(_client_gone)


def _client_gone(record: logging.LogRecord) -> bool:
    """A visitor who leaves mid-upload (a closed tab, a cancelled or refused upload) makes Gradio's
    upload route raise Starlette's ``ClientDisconnect``, which uvicorn logs as a 40-line traceback:
    it becomes one line, since nothing failed on our side."""
    from starlette.requests import ClientDisconnect

    if record.exc_info and isinstance(record.exc_info[1], ClientDisconnect):
        record.msg, record.args = "a client disconnected before its request was read (upload cancelled)", ()
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


#: Gradio's queue rebuilds a pandas table of its last events (up to 10,000) after every event, for its
#: monitoring page; with a class predicting and streaming that costs more than the predictions do
QUEUE_ANALYTICS = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "500", "GRADIO_ANALYTICS_MAX_EVENTS": "2000"}


def configure_serving(threads: int = 1) -> None:
    """The serving process's own torch threads: one per request, since Gradio answers many requests
    at once on its own threads (training runs in the worker processes)."""
    import torch

    torch.set_num_threads(threads)


def launch_options() -> dict:
    """What ``demo.launch`` gets everywhere: our CSS, a cap on upload size, the API link in the footer."""
    return {"css": CSS, "max_file_size": "20mb", "footer_links": ["api", "gradio"]}
