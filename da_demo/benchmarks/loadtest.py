"""Many visitors at once: ``python -m da_demo.benchmarks.loadtest [--visitors 20] [--seconds 240]``.

Launches the app in this process on loopback, then runs one gradio_client per visitor in threads:
two visitors train (one of them stops its run part-way, the other lets it finish), a third asks to
train while both slots are taken (it must wait, told its place in line), one asks for a run with
invalid settings, and the rest draw, predict and switch pairs until the trainings end.
It checks that every visitor gets their own results (only a trainer sees "(yours)" models, and
only their own) and that nobody gets an error, and reports prediction latency while training runs.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from ..data import PAIRS
from ..ui.live_runs import MAX_SECONDS


@dataclass
class VisitorReport:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    own_models_seen: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def digit_picture(folder: Path, digit: int, seed: int) -> str:
    """A digit written with PIL's default font at a random size and place (no dataset images)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(image).text(
        (rng.randint(20, 60), rng.randint(0, 30)), str(digit), fill="black", font_size=rng.randint(120, 160)
    )
    path = folder / f"digit-{digit}-{seed}.png"
    image.save(path)
    return str(path)


def predictor(url: str, report: VisitorReport, folder: Path, until: threading.Event, seed: int) -> None:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    rng = random.Random(seed)
    while not until.is_set():
        pair = rng.choice(list(PAIRS))
        picture = digit_picture(folder, rng.randint(0, 9), rng.randint(0, 10**6))
        started = time.perf_counter()
        try:
            result = client.predict(handle_file(picture), pair, api_name="/predict")
        except Exception as error:  # noqa: BLE001 - every failure is the finding
            report.errors.append(f"{type(error).__name__}: {error}")
            continue
        report.latencies.append(time.perf_counter() - started)
        report.own_models_seen |= {model["method"] for model in result["models"] if model["owner"] == "yours"}
        time.sleep(rng.uniform(0.2, 1.0))


def trainer(
    url: str, report: VisitorReport, method: str, steps: int, stop_after: float | None, folder: Path
) -> None:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    try:
        job = client.submit("mnist-usps", method, {"steps": steps, "batch_size": 64}, api_name="/adapt")
        if stop_after is not None:
            time.sleep(stop_after)
            report.notes.append(client.predict(api_name="/stop"))
        outputs = job.result(timeout=600)
        report.notes.append(outputs[0])
        result = client.predict(handle_file(digit_picture(folder, 7, 1)), "mnist-usps", api_name="/predict")
        report.own_models_seen |= {model["method"] for model in result["models"] if model["owner"] == "yours"}
    except Exception as error:  # noqa: BLE001
        report.errors.append(f"{type(error).__name__}: {error}")


def waiting_trainer(url: str, report: VisitorReport, folder: Path) -> None:
    """Asks for a third run while two are training: it must wait in line, told its place, then run."""
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    time.sleep(4)  # let the two trainings take both slots
    client = Client(url, verbose=False)
    try:
        job = client.submit("mnist-usps", "mmd", {"steps": 50, "batch_size": 64}, api_name="/adapt")
        ranks = []
        while not job.done():
            status = job.status()
            if status.code == Status.IN_QUEUE and status.rank is not None:
                ranks.append(status.rank)
            time.sleep(0.2)
        report.notes.append(
            f"waited in line (places seen: {sorted(set(ranks))})" if ranks else "never waited"
        )
        report.notes.append(job.result()[0])
        result = client.predict(handle_file(digit_picture(folder, 4, 2)), "mnist-usps", api_name="/predict")
        report.own_models_seen |= {model["method"] for model in result["models"] if model["owner"] == "yours"}
    except Exception as error:  # noqa: BLE001
        report.errors.append(f"{type(error).__name__}: {error}")


def bad_trainer(url: str, report: VisitorReport) -> None:
    """Asks for a run with out-of-range settings: the app must answer with a message and stay usable."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    try:
        outputs = client.predict(
            "mnist-usps", "dann", {"steps": 5, "lambda_max": -3.0, "lr": 50.0}, api_name="/adapt"
        )
        report.notes.append(outputs[0])
    except Exception as error:  # noqa: BLE001
        report.notes.append(f"refused: {error}")


#: how long the trainers may take: the app's own cap on a live run plus time for its final evaluation
#: and save, so a run slowed down by the predicting crowd still finishes inside the test
TRAINING_WAIT_SECONDS = MAX_SECONDS + 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


WARM_UP_LIMIT = 600.0


def serve_warmed(**build_options):
    """The app built and served here once its warm-up is over (test data, training workers and
    UMAP's first compilation, which alone takes a minute on a 2-core machine), as on a Space before
    the class arrives: ``(demo, url)``. A load measured during the warm-up measures the warm-up."""
    from ..ui import build_demo, launch_options

    started = time.perf_counter()
    demo = build_demo(warm_up=True, **build_options)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **launch_options()
    )
    if not demo.da_context.warmed.wait(WARM_UP_LIMIT):
        raise RuntimeError(f"the app's warm-up did not end within {WARM_UP_LIMIT:.0f} s")
    print(f"app warmed up in {time.perf_counter() - started:.0f} s", flush=True)
    return demo, url


def run(
    visitors: int = 20,
    seconds: float = TRAINING_WAIT_SECONDS,
    steps: int = 400,
    train_in_workers: bool = True,
) -> dict:
    from ..ui import configure_serving

    if train_in_workers:
        configure_serving()
    demo, url = serve_warmed(train_in_workers=train_in_workers)
    folder = Path(tempfile.mkdtemp(prefix="da-demo-load-"))
    until = threading.Event()
    special = ("trainer-finishes", "trainer-stops", "trainer-waits", "bad-settings")
    reports = {name: VisitorReport(name) for name in special}
    threads = [
        threading.Thread(
            target=trainer, args=(url, reports["trainer-finishes"], "dann", steps, None, folder)
        ),
        threading.Thread(
            target=trainer, args=(url, reports["trainer-stops"], "deepcoral", steps, 8.0, folder)
        ),
        threading.Thread(target=waiting_trainer, args=(url, reports["trainer-waits"], folder)),
        threading.Thread(target=bad_trainer, args=(url, reports["bad-settings"])),
    ]
    for index in range(max(visitors - len(special), 0)):
        reports[f"visitor-{index}"] = report = VisitorReport(f"visitor-{index}")
        threads.append(threading.Thread(target=predictor, args=(url, report, folder, until, index)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads[: len(special)]:
        thread.join(timeout=seconds)
    until.set()
    for thread in threads[len(special) :]:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - started
    demo.close()

    latencies = sorted(latency for report in reports.values() for latency in report.latencies)
    summary = {
        "training": "worker processes" if train_in_workers else "in the serving process (the old path)",
        "visitors": visitors,
        "seconds": round(elapsed, 1),
        "predictions": len(latencies),
        "predictions_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1) if latencies else None,
        "errors": {name: report.errors for name, report in reports.items() if report.errors},
        "own_models": {
            name: sorted(report.own_models_seen) for name, report in reports.items() if report.own_models_seen
        },
        "trainer_notes": {name: reports[name].notes for name in special},
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument(
        "--seconds", type=float, default=TRAINING_WAIT_SECONDS, help="cap on the trainings' wait"
    )
    parser.add_argument("--steps", type=int, default=400, help="steps of each training visitor's run")
    parser.add_argument("--in-process-training", action="store_true", help="train in the serving process")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run twice, training in worker processes and in the serving process (the old path)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    expected = {"trainer-finishes": ["dann"], "trainer-stops": ["deepcoral"], "trainer-waits": ["mmd"]}
    ok = True
    for mode in (False, True) if args.compare else (True,):
        # each mode in a fresh process, so neither inherits the other's threads or memory
        if args.compare:
            import subprocess
            import sys

            flag = [] if mode else ["--in-process-training"]
            command = [
                sys.executable,
                "-m",
                "da_demo.benchmarks.loadtest",
                "--visitors",
                str(args.visitors),
                "--seconds",
                str(args.seconds),
                "--steps",
                str(args.steps),
                *flag,
            ]
            ok &= subprocess.run(command).returncode == 0
            continue
        summary = run(args.visitors, args.seconds, args.steps, train_in_workers=not args.in_process_training)
        for key, value in summary.items():
            print(f"{key}: {value}")
        ok &= not summary["errors"] and summary["own_models"] == expected
    print(
        "OK: every visitor got their own results and no errors"
        if ok
        else "PROBLEM: see errors / own_models above"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
