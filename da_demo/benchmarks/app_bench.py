"""Timing of the app's own work on this machine: ``python -m da_demo.benchmarks.app_bench``.

Prints a table of:
* start-up: seconds from ``python app.py`` to its first page (checkpoints loaded);
* one digit through every model of each pair: model time (a timer around the models, median of
  30) and end to end through gradio_client (upload, preparation, all models, JSON; median of 30);
* UMAP of 2,000 features, first call in a process and warm;
* a live DANN session on MNIST → USPS through the app's /adapt endpoint: wall time and accuracy.

Run it on an otherwise idle machine; timings move by up to 2x when the cores are shared.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from ..data import PAIRS
from ..reporting import format_markdown
from .loadtest import digit_picture, free_port

REPO = Path(__file__).resolve().parents[2]


def startup_seconds() -> float:
    """Seconds from starting ``python app.py`` to an HTTP 200 on its first page."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200:
                    return time.perf_counter() - started
            except OSError:
                if process.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("app.py did not start") from None
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)


def live_session_row(client, steps: int) -> list[str]:
    """A DANN session through /adapt, watched as the page watches it: when the streamed target
    accuracy (on 1,000 test images) first reaches 90%, and where the run ends."""
    started = time.perf_counter()
    job = client.submit(
        "mnist-usps", "dann", {"steps": steps, "batch_size": 64, "seed": 0}, api_name="/adapt"
    )
    reached, status = None, ""
    for outputs in job:
        status = outputs[0]
        accuracy = re.search(r"target ([0-9.]+)%", status)
        if reached is None and accuracy and float(accuracy.group(1)) >= 90:
            reached = (
                f"90% reached {time.perf_counter() - started:.0f} s after Start ({status.split(': ', 1)[-1]})"
            )
    ended = status.split(". ")[1] if ". " in status else status
    return [
        f"live DANN session, MNIST → USPS, {steps} steps via /adapt",
        f"{reached or '90% not reached'}; ended after {time.perf_counter() - started:.0f} s: {ended}",
        "≥ 90% USPS within 60 s",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.app_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--session-steps", type=int, default=2500, help="steps of the live DANN session")
    args = parser.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    rows = [["start-up: `python app.py` to first page", f"{startup_seconds():.1f} s", "≤ 10 s"]]

    from gradio_client import Client, handle_file

    from ..data.digit_input import prepare_digit
    from ..ui import build_demo, launch_options
    from ..ui.appdata import AppData
    from ..ui.domains import resolve_page_pair
    from ..ui.predicting import digit_inputs, predict_digit, style_renderings
    from ..ui.session import Session
    from ..ui.zoo import ModelZoo

    zoo, data = ModelZoo(), AppData(os.environ.get("DA_DEMO_DATA_DIR"))
    picture = digit_picture(Path(tempfile.mkdtemp()), 7, 0)
    digit, _ = prepare_digit(picture)
    demo = build_demo(zoo, data)
    _, url, _ = demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(),
    )
    client = Client(url, verbose=False)
    for pair in PAIRS:
        page = resolve_page_pair(zoo, data, pair, Session())
        inputs = digit_inputs(page.spec, digit, style_renderings(digit, data))
        predict_digit(zoo, Session(), page, inputs)  # warm-up
        model_ms = [1000 * predict_digit(zoo, Session(), page, inputs).seconds for _ in range(args.repeats)]
        client.predict(handle_file(picture), pair, api_name="/predict")
        end_to_end = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            client.predict(handle_file(picture), pair, api_name="/predict")
            end_to_end.append(1000 * (time.perf_counter() - started))
        count = len(zoo.pair(pair).models)
        rows.append(
            [
                f"{PAIRS[pair].title}: one digit (as drawn + target style) through all {count} models",
                f"model {statistics.median(model_ms):.1f} ms; end to end {statistics.median(end_to_end):.0f} ms",
                "≤ 100 ms (model)",
            ]
        )

    from ..viz.projections import project

    features = np.random.default_rng(0).normal(size=(2000, 128)).astype(np.float32)
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        project(features, "umap")
        timings.append(time.perf_counter() - started)
    rows.append(
        ["UMAP of 2,000 × 128 features", f"first {timings[0]:.1f} s; warm {timings[1]:.1f} s", "≤ 5 s warm"]
    )

    rows.append(live_session_row(client, args.session_steps))
    demo.close()
    print(format_markdown(["what", "measured", "goal"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
