"""The command line, run as a user runs it (subprocesses, real data)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, data_dir=None, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if data_dir is not None:
        env["DA_DEMO_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "da_demo", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_train_shows_progress_and_ends_with_both_accuracies(data_dir, tmp_path):
    out = tmp_path / "dann.safetensors"
    result = run_cli(
        "train",
        "--pair",
        "mnist-usps",
        "--method",
        "dann",
        "--steps",
        "30",
        "--out",
        str(out),
        data_dir=data_dir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mnist-usps dann" in result.stderr and "30/30" in result.stderr  # the tqdm bar
    assert (
        "source-test accuracy (mnist):" in result.stdout and "target-test accuracy (usps):" in result.stdout
    )
    assert out.is_file()


def test_bench_prints_json_rows_with_the_promised_keys(data_dir):
    result = run_cli(
        "bench",
        "--pair",
        "mnist-usps",
        "--method",
        "deepcoral",
        "--method",
        "ot_sinkhorn",
        "--steps",
        "20",
        "--json",
        data_dir=data_dir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["method"] for row in rows] == ["deepcoral", "ot_sinkhorn"]
    for row in rows:
        assert {
            "pair",
            "method",
            "source_acc",
            "target_acc",
            "published",
            "steps",
            "wall_s",
            "ms_per_step",
        } <= set(row)
        assert 0 <= row["target_acc"] <= 100
    assert rows[0]["steps"] == 20 and rows[0]["published"] == "90.4 (lecture)"


def test_time_budget_stops_training(data_dir):
    from da_demo.methods import get_method

    default_steps = get_method("dann").hyperparameters_class().steps
    result = run_cli(
        "bench", "--pair", "mnist-usps", "--method", "dann", "--time-budget", "2", "--json", data_dir=data_dir
    )
    assert result.returncode == 0, result.stderr[-2000:]
    row = json.loads(result.stdout.strip().splitlines()[-1])
    # ended by the budget: at least 2 s of training, and before the method's own last step
    assert row["wall_s"] >= 2 and 0 < row["steps"] < default_steps, row


def test_clear_errors_for_bad_input(tmp_path):
    result = run_cli("train", "--pair", "mnist-usps", "--method", "dann", data_dir=tmp_path)
    assert result.returncode == 2 and "MNIST is missing" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("bench", "--pair", "mnist-usps", "--method", "danm", data_dir=tmp_path)
    assert result.returncode == 2 and "Unknown method 'danm'" in result.stderr
    result = run_cli(
        "train", "--pair", "mnist-usps", "--method", "dann", "--set", "lamda_max=1", data_dir=tmp_path
    )
    assert result.returncode == 2 and "Unknown hyperparameter" in result.stderr


def test_the_backbone_help_names_every_backbone():
    """``--backbone``'s help is written by hand (the CLI names things without importing torch): it must
    still name every backbone ``models.build_classifier`` knows, the bounded variants by their suffix."""
    from da_demo.cli import build_parser
    from da_demo.models.backbones import BACKBONES, BOUNDED

    train = next(
        action for action in build_parser()._subparsers._group_actions[0].choices["train"]._actions
        if "--backbone" in action.option_strings
    )
    for name in BACKBONES:
        assert name.removesuffix(BOUNDED) in train.help
    assert f"NAME{BOUNDED}" in train.help
