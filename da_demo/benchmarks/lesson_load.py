"""A class running the lesson's "adapt a model yourself" step at once:
``python -m da_demo.benchmarks.lesson_load [--students 30] [--within 20] [--class-sweep]``.

The app is started here (worker processes, warm-up) and ``--students`` visitors press Start on the
lesson's preset (DANN, 600 steps on MNIST → USPS, seed 0) at random moments within ``--within``
seconds, through ``/adapt`` as programs do; one more visitor keeps asking ``/predict`` meanwhile.
Reports when each student saw their first curve point (median and slowest), how many distinct runs
were trained for the class, whether every student got the model, the predicting visitor's latency
and time-outs, and the memory of the app with its workers.

With ``--class-sweep`` the class runs the lesson's race as a sweep instead: a teacher opens a class
(``/open_class``), each student joins it (``/join_class``) and trains their own seat's setting and
seed; reported are when every run had finished and how many runs the class board shows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..reporting import format_markdown
from .class_load import percentile, resident_megabytes
from .loadtest import digit_picture, free_port

PRESET = {"steps": 600, "seed": 0}  # the lesson's step 3 (ui.lesson.LESSON_STEPS), over the pick's settings
PRESET_WORDS = "lesson preset: DANN, 600 steps, seed 0"
PREDICT_TIMEOUT = 5.0


def student(url: str, moment: float, started: float, class_code: str = "") -> dict:
    """One student: waits until ``moment``, presses Start, notes the first streamed curve point. In a
    class (``class_code``) they join it first and train their seat's run."""
    from gradio_client import Client

    time.sleep(max(0.0, moment - (time.perf_counter() - started)))
    client = Client(url, verbose=False)
    settings = PRESET
    if class_code:
        seat = client.predict(class_code, "", api_name="/join_class")
        settings = {**seat["preset"], "seed": seat["seed"]}
    pressed = time.perf_counter()
    job = client.submit("mnist-usps", "dann", settings, api_name="/adapt")
    first = None
    while not job.done():
        if first is None and any(_has_curve(output[1]) for output in job.outputs()):
            first = time.perf_counter() - pressed
        time.sleep(0.1)
    status, curves, model = job.result()
    if first is None and _has_curve(curves):
        first = time.perf_counter() - pressed
    now = time.perf_counter()
    return {"first": first, "status": status, "model": model, "seconds": now - pressed, "ended": now - started}


def _has_curve(curves) -> bool:
    """Whether an /adapt output holds a curve point (a waiting message's skipped output does not)."""
    return isinstance(curves, dict) and bool(curves.get("accuracy", {}).get("target test", {}).get("step"))


def predicting_visitor(url: str, folder: Path, until: threading.Event) -> tuple[list[float], int, list[str]]:
    """``/predict`` one after another until ``until`` is set: latencies, time-outs, errors."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    pictures = [digit_picture(folder, digit, 0) for digit in range(10)]
    latencies, timeouts, errors = [], 0, []
    while not until.is_set():
        started = time.perf_counter()
        job = client.submit(handle_file(random.choice(pictures)), "mnist-usps", api_name="/predict")
        try:
            job.result(timeout=PREDICT_TIMEOUT)
            latencies.append(time.perf_counter() - started)
        except TimeoutError:
            timeouts += 1
        except Exception as error:  # noqa: BLE001 - every failure is the finding
            errors.append(f"predict: {type(error).__name__}: {str(error)[:120]}")
    return latencies, timeouts, errors


def _visitors(url: str, moments: list[float], class_code: str, answers) -> None:
    """The students and the predicting visitor (in their own process): what each saw, put on ``answers``."""
    folder = Path(tempfile.mkdtemp(prefix="da-demo-lesson-"))
    until = threading.Event()
    with ThreadPoolExecutor(len(moments) + 1) as pool:
        predictions = pool.submit(predicting_visitor, url, folder, until)
        started = time.perf_counter()
        results = list(pool.map(lambda moment: student(url, moment, started, class_code), moments))
        until.set()
        answers.put((results, *predictions.result()))


def run(students: int, within: float, seed: int, class_sweep: bool = False) -> tuple[list[list[str]], bool]:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ..ui import build_demo, configure_serving, launch_options

    configure_serving()
    demo = build_demo(warm_up=True)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **launch_options()
    )
    time.sleep(30)  # the warm-up: test data, training workers, UMAP's first compilation
    rng = random.Random(seed)
    moments = sorted(rng.uniform(0, within) for _ in range(students))
    class_code = ""
    if class_sweep:
        from gradio_client import Client

        class_code = Client(url, verbose=False).predict("dann", api_name="/open_class")
    # the visitors run in a process of their own, as on their own devices: their clients do not
    # share the app's interpreter, and their memory is not counted as the app's
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    visitors = context.Process(target=_visitors, args=(url, moments, class_code, answers), daemon=True)
    visitors.start()
    peak = 0.0
    while visitors.is_alive() and answers.empty():
        peak = max(peak, resident_megabytes() - resident_megabytes(visitors.pid))
        time.sleep(1)
    results, latencies, timeouts, errors = answers.get()
    visitors.join(timeout=30)
    trained = demo.da_context.trainer.runs_trained()
    on_board = len(demo.da_context.classroom.board(class_code).runs) if class_code else 0
    demo.close()
    firsts = [result["first"] for result in results if result["first"] is not None]
    failed = [result["status"] for result in results if not result["status"].startswith("done")]
    what = "class sweep: DANN, each student's own grid setting and seed" if class_sweep else PRESET_WORDS
    rows = [
        [f"students pressing Start ({what})", f"{students} within {within:g} s"],
        ["distinct runs trained for them", str(trained)],
        ["first curve point: median / slowest (s)", _pair_of(firsts)],
        ["every student's run done, with the model", f"{students - len(failed)} of {students}"],
        ["last run finished, seconds after the first Start", f"{max(result['ended'] for result in results):.0f}"],
        ["/predict meanwhile: p50 / p95 (ms)", _latency(latencies)],
        [f"/predict time-outs (> {PREDICT_TIMEOUT:g} s) / errors", f"{timeouts} / {len(errors)}"],
        ["memory, app and workers, peak (MB)", f"{peak:.0f}"],
    ]
    if class_sweep:
        rows.insert(4, ["runs on the class board at the end", f"{on_board} of {students}"])
    ok = not failed and not errors and not timeouts and len(firsts) == students
    ok = ok and (not class_sweep or on_board == students)
    return rows + [[f"failure: {text[:100]}", ""] for text in (failed + errors)[:5]], ok


def _pair_of(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "—"


def _latency(values: list[float]) -> str:
    return " / ".join(f"{1000 * percentile(values, share):.0f}" for share in (0.5, 0.95)) if values else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m da_demo.benchmarks.lesson_load", description=__doc__)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--within", type=float, default=20, help="students press Start within this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--class-sweep", action="store_true", help="the students join a class and each trains their own seat's run"
    )
    args = parser.parse_args(argv)
    rows, ok = run(args.students, args.within, args.seed, args.class_sweep)
    print(format_markdown(["a class in the lesson", "measured"], rows))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
