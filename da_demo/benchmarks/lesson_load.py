"""A class running the lesson's "adapt a model yourself" step at once:
``python -m da_demo.benchmarks.lesson_load [--students 30] [--within 20] [--class-sweep]``.

The app is started here (worker processes, warm-up) and ``--students`` visitors press Start on the
lesson's preset (DANN, 600 steps on MNIST → USPS, seed 0) at random moments within ``--within``
seconds, through ``/adapt`` as programs do; one more visitor keeps asking ``/predict`` meanwhile
(a new digit a second after each answer).
Reports when each student saw their first curve point (median and slowest), how many distinct runs
were trained for the class, whether every student got the model, the predicting visitor's latency
(and the part of it spent in the models) and time-outs, and the memory of the app with its workers.

The visitors' clients run beside the app on its two cores, as they never would in a class: the 30
students' clients (about one core of polling and parsing) run at the lowest priority, as a stand-in
for their phones, so what they measure is if anything late; the predicting visitor runs in a process
of its own at normal priority.

With ``--class-sweep`` the class runs the lesson's race as a sweep instead: a teacher opens a class
(``/open_class``), each student joins it (``/join_class``) and trains their own seat's setting and
seed; reported are when every run had finished and how many runs the class board shows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..reporting import format_markdown
from .class_load import percentile, resident_megabytes
from .loadtest import digit_picture, serve_warmed

PRESET = {"steps": 600, "seed": 0}  # the lesson's step 3 (ui.lesson.LESSON_STEPS), over the pick's settings
PRESET_WORDS = "lesson preset: DANN, 600 steps, seed 0"
PREDICT_TIMEOUT = 5.0
#: the predicting visitor asks again this long after the last answer came: faster than anyone draws
#: and presses Predict, but not a flood (asked back to back, its requests alone take a core from training)
PREDICT_PAUSE = 1.0
STUDENTS_NICENESS = 19  # the 30 students' clients stand in for 30 phones: they get what the app leaves


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


def student_or_failure(url: str, moment: float, started: float, class_code: str = "") -> dict:
    """``student``, with an error (a refused connection, a failed run) reported as that student's
    failure: one student's trouble is a finding, not the end of the benchmark."""
    try:
        return student(url, moment, started, class_code)
    except Exception as error:  # noqa: BLE001 - every failure is the finding
        now = time.perf_counter()
        status = f"failed: {type(error).__name__}: {str(error)[:120]}"
        return {"first": None, "status": status, "model": None, "seconds": 0.0, "ended": now - started}


def _has_curve(curves) -> bool:
    """Whether an /adapt output holds a curve point (a waiting message's skipped output does not)."""
    return isinstance(curves, dict) and bool(curves.get("accuracy", {}).get("target test", {}).get("step"))


def predicting_visitor(url: str, folder: Path, until) -> tuple[list[float], list[float], int, list[str]]:
    """``/predict`` one after another (``PREDICT_PAUSE`` between them) until ``until`` (an event of
    this or another process) is set:
    latencies, the part of each spent in the models (as the app measured it), time-outs, errors."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    pictures = [digit_picture(folder, digit, 0) for digit in range(10)]
    latencies, in_models, timeouts, errors = [], [], 0, []
    while not until.wait(PREDICT_PAUSE if latencies else 0):
        started = time.perf_counter()
        job = client.submit(handle_file(random.choice(pictures)), "mnist-usps", api_name="/predict")
        try:
            answer = job.result(timeout=PREDICT_TIMEOUT)
            latencies.append(time.perf_counter() - started)
            in_models.append(answer["model_ms"] / 1000)
        except TimeoutError:
            timeouts += 1
        except Exception as error:  # noqa: BLE001 - every failure is the finding
            errors.append(f"predict: {type(error).__name__}: {str(error)[:120]}")
    return latencies, in_models, timeouts, errors


def _students(url: str, moments: list[float], class_code: str, answers) -> None:
    """The students (in a process of their own, at the lowest priority: in a class their clients
    run on their own phones, not on the app's cores): what each saw, put on ``answers``."""
    os.nice(STUDENTS_NICENESS)
    with ThreadPoolExecutor(len(moments)) as pool:
        started = time.perf_counter()
        answers.put(list(pool.map(lambda moment: student_or_failure(url, moment, started, class_code), moments)))


def _predictor(url: str, until, answers) -> None:
    """The predicting visitor (a process of its own at normal priority, so its latencies are the
    app's and not the students' clients'): what it saw, put on ``answers`` once ``until`` is set."""
    answers.put(predicting_visitor(url, Path(tempfile.mkdtemp(prefix="da-demo-lesson-")), until))


def run(students: int, within: float, seed: int, class_sweep: bool = False) -> tuple[list[list[str]], bool]:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ..ui import configure_serving

    configure_serving()
    demo, url = serve_warmed()
    rng = random.Random(seed)
    moments = sorted(rng.uniform(0, within) for _ in range(students))
    class_code = ""
    if class_sweep:
        from gradio_client import Client

        class_code = Client(url, verbose=False).predict("dann", api_name="/open_class")
    # the visitors run in processes of their own, as on their own devices: their clients do not
    # share the app's interpreter, and their memory is not counted as the app's
    context = multiprocessing.get_context("spawn")
    seen, predicted, done = context.Queue(), context.Queue(), context.Event()
    visitors = [
        context.Process(target=_students, args=(url, moments, class_code, seen), daemon=True),
        context.Process(target=_predictor, args=(url, done, predicted), daemon=True),
    ]
    for process in visitors:
        process.start()
    peak = 0.0
    while visitors[0].is_alive() and seen.empty():
        peak = max(peak, resident_megabytes() - sum(resident_megabytes(process.pid) for process in visitors))
        time.sleep(1)
    done.set()
    results = _answer(seen, visitors[0], "the students' process")
    latencies, in_models, timeouts, errors = _answer(predicted, visitors[1], "the predicting visitor's process")
    for process in visitors:
        process.join(timeout=30)
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
        ["… of it in the models: p50 / p95 (ms)", _latency(in_models)],
        [f"/predict time-outs (> {PREDICT_TIMEOUT:g} s) / errors", f"{timeouts} / {len(errors)}"],
        ["memory, app and workers, peak (MB)", f"{peak:.0f}"],
    ]
    if class_sweep:
        rows.insert(4, ["runs on the class board at the end", f"{on_board} of {students}"])
    ok = not failed and not errors and not timeouts and len(firsts) == students
    ok = ok and (not class_sweep or on_board == students)
    return rows + [[f"failure: {text[:100]}", ""] for text in (failed + errors)[:5]], ok


def _answer(answers, process, who: str, timeout: float = 60.0):
    """What ``process`` put on ``answers``; a clear error, not a wait without end, if it died first."""
    try:
        return answers.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(
            f"{who} ended without reporting (exit code {process.exitcode}); see its traceback above"
        ) from None


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
