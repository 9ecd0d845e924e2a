"""A class pressing Start on the same preset: identical requests train once and everyone watches
the same run; a differing setting trains separately; Stop detaches a watcher; a request in line
hears its place."""

import threading
from concurrent.futures import ThreadPoolExecutor

from da_demo.engine.spec import RunSpec
from da_demo.workflows.live import InProcessTrainer, LiveRequest
from da_demo.workflows.sharing import SharedRuns


def request(tmp_path, steps=30, lr=1e-3, key=None):
    spec = RunSpec.resolve("mnist-usps", "source_only", {"steps": steps, "batch_size": 16, "lr": lr})
    options = {"log_every": 1, "eval_every": 10, "eval_samples": 50, "final_eval_samples": 50}
    return LiveRequest(spec, str(tmp_path / f"{spec.identity}.safetensors"), options, key or spec.identity)


def watch(shared, wanted, stop=None):
    return list(shared.run(wanted, stop or threading.Event()))


def test_identical_requests_train_once_and_see_identical_curves(tiny_pair, tmp_path):
    shared = SharedRuns(InProcessTrainer(lambda name: tiny_pair), slots=2)
    with ThreadPoolExecutor(3) as pool:
        watched = list(pool.map(lambda _: watch(shared, request(tmp_path)), range(3)))
    assert shared.runs_trained() == 1
    curves = [
        [(m.payload.step, m.payload.metrics) for m in messages if m.kind == "event"] for messages in watched
    ]
    assert curves[0] == curves[1] == curves[2] and len(curves[0]) >= 30
    assert {messages[-1] for messages in watched} == {watched[0][-1]} and watched[0][-1].kind == "done"
    later = watch(shared, request(tmp_path))  # a finished run is shared too
    assert shared.runs_trained() == 1 and later[-1] == watched[0][-1]
    different = watch(shared, request(tmp_path, lr=3e-3))  # one setting differs: its own run
    assert shared.runs_trained() == 2 and different[-1].payload != watched[0][-1].payload


def test_stop_detaches_a_watcher_and_the_run_goes_on_for_the_others(tiny_pair, tmp_path):
    shared = SharedRuns(InProcessTrainer(lambda name: tiny_pair), slots=1)
    long_run = request(tmp_path, steps=200)
    first_stop = threading.Event()

    def first():
        for message in shared.run(long_run, first_stop):
            if message.kind == "event":
                first_stop.set()  # Stop pressed as soon as the curve shows
            yield message

    with ThreadPoolExecutor(2) as pool:
        stays = pool.submit(watch, shared, long_run)
        while shared.watchers(long_run.key) == 0:
            pass
        leaves = pool.submit(lambda: list(first()))
        left, stayed = leaves.result(timeout=300), stays.result(timeout=300)
    assert left[-1].kind == "detached" and left[-1].payload.others == 1
    assert stayed[-1].kind == "done" and stayed[-2].payload.ended_early is None  # trained to the end
    assert shared.runs_trained() == 1


def test_the_last_watchers_stop_ends_the_run_and_a_later_request_trains_anew(tiny_pair, tmp_path):
    shared = SharedRuns(InProcessTrainer(lambda name: tiny_pair), slots=1)
    stop = threading.Event()
    seen = []
    for message in shared.run(request(tmp_path, steps=300), stop):
        seen.append(message)
        if message.kind == "event" and message.payload.step >= 3:
            stop.set()
    assert seen[-1].kind == "done" and seen[-2].payload.ended_early.value == "stopped"
    again = watch(shared, request(tmp_path, steps=300))  # the same request: the stopped run is not reused
    assert shared.runs_trained() == 2 and again[-1].kind == "done"


def test_a_request_in_line_hears_its_place_and_what_is_training(tiny_pair, tmp_path):
    shared = SharedRuns(InProcessTrainer(lambda name: tiny_pair), slots=1)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(watch, shared, request(tmp_path, steps=150))
        while shared.runs_trained() == 0:
            pass
        second = watch(shared, request(tmp_path, steps=10, lr=2e-3))
        first.result(timeout=300)
    waiting = [message.payload for message in second if message.kind == "waiting"]
    assert waiting and waiting[0].place == 1 and "Source only" in waiting[0].training[0]
    assert second[-1].kind == "done"
