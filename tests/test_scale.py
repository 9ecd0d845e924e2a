"""Beyond one machine: the sweep on Ray (a local instance with 2 CPUs, in CI too) gives the same
records as the local executor; both executors that use other processes survive a worker killed
mid-task, and a worker whose parent is killed ends too; bad Ray input gets one sentence; and ZeroGPU is
used only on a ZeroGPU Space."""

import os
import signal
import subprocess
import sys
import time
import types

import pytest

from da_demo.workflows.executors import ExecutorError, LocalExecutor, ProcessExecutor, RayExecutor
from da_demo.workflows.sweep import plan_trials, run_sweep
from da_demo.workflows.tasks import run_task


def tiny_trials(steps=8):
    return plan_trials(
        ["mnist-usps"],
        ["deepcoral"],
        grid_overrides={
            "steps": [steps],
            "batch_size": [16],
            "coral_weight": [1.0, 100.0],
            "entropy_weight": [0.0],
        },
    )


def dies_on_weight_one(task, context):
    """A task runner whose worker process is killed (as the kernel kills one out of memory) for one
    of the two trials."""
    if task.settings["coral_weight"] == 1.0:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_task(task, context)


def assert_the_dead_task_failed_and_the_other_finished(records, trials):
    by_key = {record["key"]: record for record in records}
    assert set(by_key) == {trial.key for trial in trials}
    dead = next(trial for trial in trials if trial.settings["coral_weight"] == 1.0)
    assert by_key[dead.key]["status"] == "failed"
    assert (by_key[dead.key]["pair"], by_key[dead.key]["method"]) == ("mnist-usps", "deepcoral")
    others = [record for key, record in by_key.items() if key != dead.key]
    assert [record["status"] for record in others] == ["ok"], [record.get("error") for record in others]


def test_a_worker_whose_parent_is_killed_ends_rather_than_training_on(tmp_path):
    """A sweep killed by its PID (not Ctrl-C, which reaches the workers too) leaves no worker running
    its task for nobody: the worker notices its parent is gone and ends, mid-call."""
    (tmp_path / "endless.py").write_text(
        "import time\n\ndef forever(setup, stop):\n    while True:\n        time.sleep(0.05)\n    yield\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys; sys.path.insert(0, sys.argv[1]); import endless\n"
            "from da_demo.workflows.processes import WorkerProcess\n"
            "worker = WorkerProcess()\n"
            "calls = worker.call(endless.forever)\n"
            "print(worker.process.pid, flush=True)\n"
            "next(calls)\n"
        ), str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    worker = int(parent.stdout.readline())
    assert _running(worker)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(worker):
        time.sleep(0.1)
    assert not _running(worker)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an ended one that nobody reaped, a zombie, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_process_executor_survives_a_killed_worker(trial_context, tmp_path):
    trials = tiny_trials()
    records = list(
        run_sweep(
            trials,
            tmp_path / "sweep.jsonl",
            ProcessExecutor(2, run=dies_on_weight_one),
            context=trial_context,
            log=lambda line: None,
        )
    )
    assert_the_dead_task_failed_and_the_other_finished(records, trials)


def comparable(record):
    """The record's measurements, flat (steps, accuracies, validator scores)."""
    values = []
    for point in record["points"]:
        values += [point["step"], point["target_acc"], point["source_acc"], *point["validators"].values()]
    return values


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module's Ray tests (each executor joins it; starting Ray takes
    seconds), shut down after the last."""
    ray = pytest.importorskip("ray")
    yield ray
    ray.shutdown()


def test_a_tiny_sweep_on_ray_records_what_the_local_executor_records(local_ray, trial_context, tmp_path):
    from ray import cloudpickle

    # Ray's workers cannot import this test module by name (spawned processes can): ship its code
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

    trials = tiny_trials()
    local = list(
        run_sweep(
            trials,
            tmp_path / "local.jsonl",
            LocalExecutor(),
            context=trial_context,
            log=lambda line: None,
        )
    )
    executor = RayExecutor(num_cpus=2)
    on_ray = list(run_sweep(trials, tmp_path / "ray.jsonl", executor, context=trial_context, log=lambda line: None))
    killed = list(
        run_sweep(
            trials,
            tmp_path / "ray-killed.jsonl",
            RayExecutor(num_cpus=2, run=dies_on_weight_one),
            context=trial_context,
            log=lambda line: None,
        )
    )
    assert_the_dead_task_failed_and_the_other_finished(killed, trials)
    assert all(record["status"] == "ok" for record in on_ray), [record.get("error") for record in on_ray]
    by_key = {record["key"]: record for record in on_ray}
    assert set(by_key) == {record["key"] for record in local}
    for record in local:
        # the same numbers, up to float summation order in another process's thread count
        assert comparable(by_key[record["key"]]) == pytest.approx(comparable(record), rel=1e-3, abs=1e-3)


def test_bad_ray_input_gets_one_sentence(monkeypatch):
    with pytest.raises(ExecutorError, match="Could not reach the Ray cluster at 127.0.0.1:1"):
        RayExecutor("127.0.0.1:1")
    with pytest.raises(ExecutorError, match="looks like HOST:PORT"):
        RayExecutor("not an address")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ExecutorError, match="Ray is not installed: `pip install -r requirements-scale.txt`"):
        RayExecutor()


def test_zero_gpu_is_used_only_on_a_zero_gpu_space(monkeypatch, tiny_pair):
    from da_demo.ui import make_trainer
    from da_demo.ui.appdata import AppData
    from da_demo.ui.live_runs import MAX_SECONDS, ZERO_GPU_SECONDS
    from da_demo.ui.zoo import ModelZoo
    from da_demo.workflows import live
    from da_demo.workflows.workers import TrainingWorkers

    live.zero_gpu_spaces.cache_clear()
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    data = AppData(None)
    assert isinstance(make_trainer(ModelZoo(), data), TrainingWorkers)  # everywhere else: as it always was
    lent, calls = [], []

    def gpu(duration):
        lent.append(duration)
        return lambda function: (
            lambda request, pair, environment, stop: calls.append(environment.device) or iter(())
        )

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    live.zero_gpu_spaces.cache_clear()
    try:
        trainer = make_trainer(ModelZoo(), data)
        assert isinstance(trainer, live.ZeroGPUTrainer) and lent == [ZERO_GPU_SECONDS]
        assert lent[0] >= MAX_SECONDS  # the lent time covers a capped run
        trainer.pairs = lambda name: tiny_pair
        request = live.LiveRequest(live.RunSpec.resolve("mnist-usps", "dann"), "unused.safetensors")
        list(trainer.run(request, None))
        assert calls == ["cuda"]
    finally:
        live.zero_gpu_spaces.cache_clear()


def test_a_live_run_as_a_ray_task_streams_its_events_and_honours_stop(local_ray, data_dir, tmp_path):
    import threading

    from da_demo.engine.spec import RunSpec
    from da_demo.workflows.live import Environment, LiveRequest
    from da_demo.workflows.ray_live import RayTrainer

    options = {"log_every": 1, "eval_samples": 100, "final_eval_samples": 100}
    trainer = RayTrainer(None, Environment(data_dir=str(data_dir)), num_cpus=2)
    assert trainer.slots == 2  # the cluster's CPUs
    short = LiveRequest(
        RunSpec.resolve("mnist-usps", "deepcoral", {"steps": 4, "batch_size": 16}),
        str(tmp_path / "short.safetensors"),
        options,
    )
    messages = list(trainer.run(short, threading.Event()))
    assert [kind for kind, _ in messages].count("event") >= 4 and messages[-1] == ("done", short.output)
    assert (tmp_path / "short.safetensors").is_file()
    stop = threading.Event()
    long = LiveRequest(
        RunSpec.resolve("mnist-usps", "deepcoral", {"steps": 3000, "batch_size": 16}),
        str(tmp_path / "long.safetensors"),
        options,
    )
    events = []
    for kind, payload in trainer.run(long, stop):
        if kind == "event":
            events.append(payload)
            stop.set()
    assert events[-1].done and events[-1].ended_early.value == "stopped" and events[-1].step < 3000
