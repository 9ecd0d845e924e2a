"""Beyond one machine: the sweep on Ray (a local instance with 2 CPUs, in CI too) gives the same
records as the local executor; bad Ray input gets one sentence; and ZeroGPU is used only on a
ZeroGPU Space."""

import sys
import types

import pytest

from da_demo.workflows.executors import ExecutorError, LocalExecutor, RayExecutor
from da_demo.workflows.sweep import plan_trials, run_sweep


def comparable(record):
    """The record's measurements, flat (steps, accuracies, validator scores)."""
    values = []
    for point in record["points"]:
        values += [point["step"], point["target_acc"], point["source_acc"], *point["validators"].values()]
    return values


def test_a_tiny_sweep_on_ray_records_what_the_local_executor_records(trial_context, tmp_path):
    pytest.importorskip("ray")
    import ray

    trials = plan_trials(
        ["mnist-usps"],
        ["deepcoral"],
        grid_overrides={"steps": [8], "batch_size": [16], "coral_weight": [1.0, 100.0]},
    )
    local = list(
        run_sweep(
            trials,
            tmp_path / "local.jsonl",
            LocalExecutor(),
            context=trial_context,
            log=lambda line: None,
        )
    )
    try:
        executor = RayExecutor(num_cpus=2)
        on_ray = list(
            run_sweep(trials, tmp_path / "ray.jsonl", executor, context=trial_context, log=lambda line: None)
        )
    finally:
        ray.shutdown()
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


def test_zero_gpu_is_used_only_on_a_zero_gpu_space(monkeypatch):
    from da_demo.ui import serving

    serving.zero_gpu_trainer.cache_clear()
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert serving.zero_gpu_trainer() is None  # everywhere else: the app as it always was
    lent = []
    fake = types.SimpleNamespace(GPU=lambda duration: lambda function: lent.append(duration) or function)
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    serving.zero_gpu_trainer.cache_clear()
    try:
        trainer = serving.zero_gpu_trainer()
        assert trainer is not None and lent == [serving.ZERO_GPU_SECONDS]
        assert lent[0] >= serving.MAX_SECONDS  # the lent time covers a capped run
        calls = []
        monkeypatch.setattr(
            serving, "_train_here", lambda *args, device="cpu": calls.append(device) or iter(())
        )
        list(trainer(None, None, None, None))
        assert calls == ["cuda"]
    finally:
        serving.zero_gpu_trainer.cache_clear()
