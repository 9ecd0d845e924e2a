"""A class of visitors, open loop: ``python -m da_demo.benchmarks.class_load [--visitors 30]``.

Visitors arrive at random over the first ``--arrival`` seconds; each then sends a request about
every 5 seconds (exponential gaps), whether or not the previous answer has come back: mostly a
digit to ``/predict`` on a randomly switching pair, sometimes ``/translate`` (another tab). Two
visitors train (DANN and MMD, long runs) and a third asks to train while both slots are taken.
Reports prediction latency percentiles, throughput and errors, checks that each visitor sees only
their own models, and measures the app's memory: fresh, under load, and after ``--leavers``
visitors have each trained a short run and left (what Gradio does when a tab closes is done for
them: the app's unload handler).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from ..data import PAIRS
from ..reporting import format_markdown
from .loadtest import digit_picture, serve_warmed


def resident_megabytes(pid: int | None = None) -> float:
    """Resident memory of this process (or ``pid``) and all its children, in MB (from /proc)."""
    pids = [pid or os.getpid()]
    total = 0.0
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS")) / 1024
            with open(f"/proc/{current}/task/{current}/children") as handle:
                pids += [int(child) for child in handle.read().split()]
        except (OSError, StopIteration):
            continue
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1) + 0.5))]


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.class_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=180, help="how long the class lasts")
    parser.add_argument("--arrival", type=float, default=30, help="visitors arrive within this many seconds")
    parser.add_argument("--every", type=float, default=5, help="mean seconds between one visitor's requests")
    parser.add_argument("--leavers", type=int, default=30, help="visitors who train a short run and leave")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    from gradio_client import Client, handle_file

    from ..ui import configure_serving

    configure_serving()
    demo, url = serve_warmed()
    folder = Path(tempfile.mkdtemp(prefix="da-demo-class-"))
    pictures = [digit_picture(folder, digit, seed) for digit in range(10) for seed in range(3)]
    fresh_mb = resident_megabytes()
    rng = random.Random(args.seed)
    latencies, errors, seen, lock = [], [], {}, threading.Lock()

    def request(client, name, kind):
        picture = handle_file(rng.choice(pictures))
        pair = rng.choice(list(PAIRS))
        started = time.perf_counter()
        try:
            if kind == "predict":
                result = client.predict(picture, pair, api_name="/predict")
                with lock:
                    latencies.append(time.perf_counter() - started)
                    seen.setdefault(name, set()).update(
                        m["method"] for m in result["models"] if m["owner"] == "yours"
                    )
            else:
                client.predict(picture, pair, api_name="/translate")
        except Exception as error:  # noqa: BLE001 - every failure is the finding
            with lock:
                errors.append(f"{name} {kind}: {type(error).__name__}: {str(error)[:120]}")

    clients, schedule = visitors_schedule(args, rng, url)
    trainers = {
        "trainer-dann": ("dann", 2500),
        "trainer-mmd": ("mmd", 2500),
        "trainer-waits": ("deepcoral", 200),
    }
    jobs = {}
    for name in trainers:
        clients[name] = Client(url, verbose=False)
    started = time.perf_counter()
    for name, (method, steps) in trainers.items():
        jobs[name] = clients[name].submit(
            "mnist-usps", method, {"steps": steps, "batch_size": 64}, api_name="/adapt"
        )
        time.sleep(2)
    with ThreadPoolExecutor(max_workers=64) as pool:
        for moment, name, kind in schedule:  # open loop: requests go out on time, answered or not
            delay = moment - (time.perf_counter() - started)
            if delay > 0:
                time.sleep(delay)
            pool.submit(request, clients[name], name, kind)
        under_load_mb = resident_megabytes()
    elapsed = time.perf_counter() - started
    errors += finish_trainers(clients, jobs, seen, pictures[0])
    errors += train_and_leave(demo.da_context, url, args.leavers)
    time.sleep(2)
    after_mb = resident_megabytes()
    demo.close()

    expected_own = {"trainer-dann": {"dann"}, "trainer-mmd": {"mmd"}, "trainer-waits": {"deepcoral"}}
    isolation = all(seen.get(name, set()) == expected_own.get(name, set()) for name in seen)
    rows = report_rows(args, latencies, elapsed, errors, isolation, (fresh_mb, under_load_mb, after_mb))
    print(format_markdown(["class of visitors", "measured"], rows))
    for line in errors[:20]:
        print("error:", line)
    return 0 if not errors and isolation else 1


def visitors_schedule(args, rng, url):
    """A client per visitor and the open-loop schedule of their requests: (moment, visitor, kind)."""
    from gradio_client import Client

    clients, schedule = {}, []
    for index in range(args.visitors):
        name = f"visitor-{index}"
        clients[name] = Client(url, verbose=False)
        moment = rng.uniform(0, args.arrival)
        while moment < args.seconds:
            schedule.append((moment, name, "translate" if rng.random() < 0.15 else "predict"))
            moment += rng.expovariate(1 / args.every)
    return clients, sorted(schedule)


def finish_trainers(clients, jobs, seen, picture) -> list[str]:
    """Stop the long runs, wait for them, and note which models each trainer then sees; the errors."""
    from gradio_client import handle_file

    errors = []
    for name, job in jobs.items():
        clients[name].predict(api_name="/stop")
        try:
            job.result(timeout=300)
        except Exception as error:  # noqa: BLE001
            errors.append(f"{name} training: {type(error).__name__}: {error}")
        result = clients[name].predict(handle_file(picture), "mnist-usps", api_name="/predict")
        seen[name] = {m["method"] for m in result["models"] if m["owner"] == "yours"}
    return errors


def train_and_leave(context, url: str, count: int) -> list[str]:
    """Visitors who each train a short run, then leave (what the unload handler does); their errors."""
    from gradio_client import Client

    errors = []
    for index in range(count):
        client = Client(url, verbose=False)
        status = client.predict(
            "mnist-usps", "deepcoral", {"steps": 20, "batch_size": 32}, api_name="/adapt"
        )[0]
        if not status.startswith("done"):
            errors.append(f"leaver-{index}: {status}")
        context.forget(SimpleNamespace(session_hash=client.session_hash))
    return errors


def report_rows(args, latencies, elapsed, errors, isolation, memory) -> list[list[str]]:
    fresh_mb, under_load_mb, after_mb = memory
    return [
        [f"visitors (open loop, a request every ~{args.every:g} s each)", str(args.visitors)],
        ["predictions answered", str(len(latencies))],
        ["throughput (predictions / s)", f"{len(latencies) / elapsed:.1f}"],
        [
            "latency p50 / p95 / p99 (ms)",
            " / ".join(f"{1000 * percentile(latencies, q):.0f}" for q in (0.5, 0.95, 0.99))
            if latencies
            else "—",
        ],
        ["latency mean (ms)", f"{1000 * statistics.fmean(latencies):.0f}" if latencies else "—"],
        ["errors", str(len(errors))],
        ["each visitor sees only their own models", "yes" if isolation else "NO"],
        ["memory: fresh app (MB, with workers)", f"{fresh_mb:.0f}"],
        ["memory: under load", f"{under_load_mb:.0f}"],
        [
            f"memory: after {args.leavers} visitors trained and left",
            f"{after_mb:.0f} ({after_mb - fresh_mb:+.0f})",
        ],
    ]


if __name__ == "__main__":
    raise SystemExit(main())
