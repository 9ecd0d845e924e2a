"""Serving a class: visitors' runs in worker processes, and the faults a class will cause: a tab
closed mid-run, a worker killed, a run that fails or diverges, a full disk, visitors who leave."""

import gzip
import threading
import time
from types import SimpleNamespace

import pytest

from da_demo.artifacts.store import ModelStore
from da_demo.engine.spec import RunSpec
from da_demo.engine.trainer import EndReason, ProgressEvent
from da_demo.ui import live_runs
from da_demo.ui.appdata import AppData
from da_demo.ui.context import AppContext
from da_demo.ui.session import Session
from da_demo.ui.zoo import ModelZoo
from da_demo.workflows.live import Environment, InProcessTrainer, LiveRequest
from da_demo.workflows.workers import PREPARING, TrainingWorkers


def request(tmp_path, data_dir=None, steps=3000, **options):
    return LiveRequest(
        RunSpec.resolve("mnist-usps", "deepcoral", {"steps": steps, "batch_size": 16}),
        str(tmp_path / f"model-{time.monotonic_ns()}.safetensors"),
        {"log_every": 1, "eval_samples": 100, "final_eval_samples": 100, **options},
    )


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def workers(data_dir):
    pool = TrainingWorkers(1, Environment(data_dir=str(data_dir)))
    yield pool
    pool.close()


def test_every_transport_starts_from_the_model_store_it_is_given(tmp_path, data_dir):
    """The worker path once fell back to a default store: an empty store must reach the worker."""
    from da_demo.data.pairs import load_pair

    empty = Environment(data_dir=str(data_dir), store=ModelStore(directory=tmp_path / "none", use_hub=False))
    pair = load_pair("mnist-usps", data_dir)
    pool = TrainingWorkers(1, empty)
    try:
        first = list(pool.run(request(tmp_path, steps=3), threading.Event()))
        # a fresh worker first says it is loading the data (waiting is watching), then fails clearly
        assert first[0] == ("preparing", PREPARING)
        again = list(pool.run(request(tmp_path, steps=3), threading.Event()))  # its data is loaded now
        here = list(InProcessTrainer(lambda name: pair, empty).run(request(tmp_path, steps=3), threading.Event()))
        for messages in (first, again, here):
            kind, text = messages[-1]
            assert kind == "failed" and "no trained source_only model" in text
        assert len(again) == len(here) == 1
    finally:
        pool.close()


def test_a_run_trains_in_another_process_and_streams_back(workers, tmp_path, data_dir):
    messages = list(workers.run(request(tmp_path, steps=5), threading.Event()))
    kinds = [kind for kind, _ in messages]
    assert kinds[-1] == "done" and kinds.count("event") >= 5
    assert all(isinstance(payload, ProgressEvent) for kind, payload in messages if kind == "event")
    assert workers.processes()[0].pid != threading.get_native_id()  # not this process


def test_a_consumer_that_stops_at_done_leaves_nothing_for_the_next_run(workers, tmp_path):
    """The app stops reading at "done": the call's end must not reach the next run on that worker."""
    for _ in range(2):
        wanted = request(tmp_path, steps=3)
        for message in workers.run(wanted, threading.Event()):
            if message.kind in ("done", "failed"):
                break
        assert tuple(message) == ("done", wanted.output)


def test_a_closed_tab_stops_the_run_and_frees_the_worker(workers, tmp_path, data_dir):
    run = workers.run(request(tmp_path), threading.Event())
    assert next(run)[0] == "event"
    started = time.monotonic()
    run.close()  # what Gradio does with a visitor's generator when they leave
    assert wait_for(lambda: len(workers.processes()) == 1, 30), "the worker was not freed"
    print(f"worker free again {time.monotonic() - started:.1f} s after the visitor left")


def test_stop_ends_the_run_at_the_next_step(workers, tmp_path, data_dir):
    stop = threading.Event()
    events = []
    for kind, payload in workers.run(request(tmp_path), stop):
        if kind == "event":
            events.append(payload)
            if len(events) == 3:
                stop.set()
    assert events[-1].done and events[-1].ended_early is EndReason.STOPPED and events[-1].step < 3000


def test_a_killed_worker_is_reported_replaced_and_the_pool_keeps_serving(workers, tmp_path, data_dir):
    run = workers.run(request(tmp_path), threading.Event())
    assert next(run)[0] == "event"
    (victim,) = workers.busy_processes()
    victim.kill()
    kind, text = [message for message in run if message[0] != "event"][-1]
    assert kind == "failed" and "stopped unexpectedly" in text and "previous model is kept" in text
    assert len(workers.processes()) == 1 and workers.processes()[0].pid != victim.pid
    assert [kind for kind, _ in workers.run(request(tmp_path, steps=3), threading.Event())][-1] == "done"


@pytest.fixture
def context(data_dir):
    return AppContext(zoo=ModelZoo(), data=AppData(str(data_dir)), session=None, pair=None)


class FakeTrainer:
    """A trainer that answers every run with the given messages."""

    def __init__(self, messages):
        self.messages = messages

    def run(self, request, stop):
        yield from self.messages(request)


def test_a_run_that_fails_or_diverges_keeps_the_previous_model(context):
    session = Session()
    previous = object()
    session.trained[("mnist-usps", "dann")] = previous

    def adapt(trainer):
        return live_runs.adapt(
            context.zoo, context.data, session, "mnist-usps", "dann", {"steps": 20}, trainer
        )

    *_, last = adapt(FakeTrainer(lambda request: [("failed", "RuntimeError: boom")]))
    assert last.text.startswith("Not started: RuntimeError: boom")
    event = ProgressEvent(
        7, 20, 0, 1, 1, {"loss": float("nan")}, 0.1, 0.1, done=True, ended_early=EndReason.DIVERGED
    )
    *_, last = adapt(FakeTrainer(lambda request: [("event", event), ("done", request.output)]))
    assert last.text.startswith("Diverged") and "previous model is kept" in last.text
    assert session.trained[("mnist-usps", "dann")] is previous
    late = ProgressEvent(
        7, 20, 0, 1, 150, {"loss": 0.5}, 0.9, 0.8, done=True, ended_early=EndReason.TIME_BUDGET
    )
    *_, last = adapt(FakeTrainer(lambda request: [("event", late), ("done", request.output)]))
    assert last.text.startswith("Out of time") and "previous model is kept" in last.text
    assert session.trained[("mnist-usps", "dann")] is previous and last.model_path is not None


@pytest.mark.parametrize("refresh,expected", [(1e9, [1, 25, 50, 75, 100]), (0.0, list(range(1, 101)))])
def test_a_watcher_gets_every_accuracy_point_and_loss_points_at_the_refresh_rate(
    context, monkeypatch, refresh, expected
):
    monkeypatch.setattr(live_runs, "REFRESH_SECONDS", refresh)

    def event(step, done=False):
        accuracy = 0.5 + step / 1000 if step % 25 == 0 else None
        return ProgressEvent(step, 100, 0, 0, 0, {"class_loss": 1 / step}, accuracy, accuracy, done=done)

    def messages(request):
        yield from (("event", event(step)) for step in range(1, 101))
        yield from (("event", event(100, done=True)), ("done", request.output))

    *streamed, last = live_runs.adapt(
        context.zoo, context.data, Session(), "mnist-usps", "dann", {"steps": 100}, FakeTrainer(messages)
    )
    # a refresh a second at most between accuracy points (the first frame at once): none is skipped
    assert [update.events[-1].step for update in streamed] == expected
    assert len(last.events) == 101  # the finished run's curves hold every point


def test_the_engine_stops_a_run_whose_loss_becomes_nan(tiny_pair):
    import torch

    from da_demo.engine.trainer import train
    from da_demo.methods import Method
    from da_demo.methods.base import Hyperparameters
    from da_demo.models import build_classifier

    class Exploding(Method):
        name, title = "exploding_for_tests", "exploding"

        def training_step(self, source, target_images, progress):
            return {"loss": float("nan") if progress > 0.4 else 1.0}

    events = list(
        train(
            Exploding(build_classifier("lean", 1), Hyperparameters(steps=10, batch_size=8)),
            tiny_pair,
            device=torch.device("cpu"),
        )
    )
    assert events[-1].ended_early is EndReason.DIVERGED and events[-1].step == 6


def test_a_visitor_who_leaves_has_their_run_stopped_and_models_dropped(context):
    session = Session()
    session.stop_signal = threading.Event()
    session.trained[("mnist-usps", "dann")] = object()
    visitor = SimpleNamespace(session_hash="abc123")
    context.remember(visitor, session)
    context.forget(visitor)
    assert session.stop_signal.is_set() and session.trained == {} and "abc123" not in context.visitors


def test_a_full_disk_while_extracting_mnist_leaves_no_partial_file(tmp_path, monkeypatch):
    from da_demo.data import DataMissingError, mnist

    source = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(source, "wb") as handle:
        handle.write(b"\0" * 1000)
    target = tmp_path / "cache" / "train-images-idx3-ubyte"
    target.parent.mkdir()

    def full_disk(source_file, target_file):
        target_file.write(b"\0" * 10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mnist.shutil, "copyfileobj", full_disk)
    with pytest.raises(DataMissingError, match="No space left on device"):
        mnist._gunzip_once(source, target)
    assert list(target.parent.iterdir()) == []


def test_a_client_gone_mid_upload_is_one_log_line_and_real_failures_keep_their_traceback(caplog):
    import logging

    from starlette.requests import ClientDisconnect

    from da_demo.ui import configure_logging

    configure_logging()
    log = logging.getLogger("uvicorn.error")
    for error in (ClientDisconnect(), ValueError("a real failure")):
        try:
            raise error
        except Exception as raised:  # noqa: BLE001 - logged as uvicorn logs it
            log.error("Exception in ASGI application\n", exc_info=raised)
    gone, real = caplog.records[-2:]
    assert gone.levelname == "INFO" and gone.exc_info is None and "disconnected" in gone.getMessage()
    assert real.levelname == "ERROR" and isinstance(real.exc_info[1], ValueError)


def test_every_run_of_a_session_is_kept_and_any_can_be_chosen_again(context):
    trainer = InProcessTrainer(context.data.pair)
    session = Session()
    for seed in (0, 1):
        settings = {"steps": 5, "batch_size": 16, "seed": seed}
        *_, last = live_runs.adapt(
            context.zoo, context.data, session, "mnist-usps", "deepcoral", settings, trainer
        )
        assert last.text.startswith("done"), last.text
    first, second = session.runs
    assert (first.number, second.number) == (1, 2) and "seed 0" in first.label and "seed 1" in second.label
    assert session.trained[("mnist-usps", "deepcoral")] is second.model  # the latest is in use
    assert session.choose_run(1) is first and session.trained[("mnist-usps", "deepcoral")] is first.model


def test_a_loaded_pair_is_answered_while_another_still_loads(monkeypatch):
    """The app's warm-up loads the pairs one after another: a visitor asking for one already loaded
    is never held up by the next one loading (each pair has its own lock), and a pair loads once."""
    from da_demo.ui import appdata

    release, calls = threading.Event(), []

    def slow_load(name, data_dir):
        calls.append(name)
        if name == "mnist-mnistm":
            release.wait(10)
        return f"data of {name}"

    monkeypatch.setattr(appdata, "load_pair", slow_load)
    data = appdata.AppData()
    assert data.pair("mnist-usps") == "data of mnist-usps"
    loading = [threading.Thread(target=data.pair, args=("mnist-mnistm",)) for _ in range(2)]
    for thread in loading:
        thread.start()
    answered = threading.Thread(target=lambda: calls.append(data.pair("mnist-usps")))
    answered.start()
    answered.join(timeout=2)
    assert not answered.is_alive() and calls[-1] == "data of mnist-usps"  # not held up
    release.set()
    for thread in loading:
        thread.join(timeout=5)
    assert calls.count("mnist-mnistm") == 1 and data.pair("mnist-mnistm") == "data of mnist-mnistm"
