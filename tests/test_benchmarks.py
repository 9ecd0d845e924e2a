"""The load benchmarks report a visitor's failure instead of hanging on it."""

import multiprocessing
import socket
import sys

import pytest

from da_demo.benchmarks import lesson_load


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_student_who_cannot_reach_the_app_is_a_reported_failure():
    result = lesson_load.student_or_failure(f"http://127.0.0.1:{_closed_port()}/", 0.0, 0.0)
    assert result["status"].startswith("failed: ")
    assert result["first"] is None and result["model"] is None


def test_a_visitor_process_that_dies_without_answering_is_one_clear_error():
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=sys.exit, args=(3,))
    process.start()
    process.join()
    with pytest.raises(RuntimeError, match=r"the students' process ended without reporting \(exit code 3\)"):
        lesson_load._answer(answers, process, "the students' process", timeout=0.5)


def test_the_papers_usps_is_padded_into_the_frame_and_their_pick_trains_on_it(data_dir, tiny_pair, tmp_path):
    """USPS's real 16-px digits sit in the middle of a 28-px frame, their ink unchanged; a method's
    pick trains to its step on a pair whose target is that (here the generated tiny pair)."""
    import torch

    from da_demo.artifacts.manifest import read_manifest
    from da_demo.artifacts.schemas import PaddedUSPSRecord
    from da_demo.artifacts.store import SHIPPED_DIRECTORY
    from da_demo.workflows import padded_usps

    pair = padded_usps.padded_pair(str(data_dir))
    native = padded_usps.load_usps(False, str(data_dir), size=16)
    assert pair.target_test.images.shape[1:] == (1, 28, 28) and len(pair.target_test) == len(native)
    assert torch.equal(pair.target_test.images[:, :, 6:22, 6:22], native.images)
    assert pair.target_test.images.sum() == native.images.sum()  # nothing but black around them
    accuracy = padded_usps.measure(tiny_pair, "deepcoral", {"steps": 8, "batch_size": 16}, 4, "cpu")
    assert 0.0 <= accuracy <= 1.0
    # the table shows the shipped pick's own settings; a record of an earlier pick is left out
    (shipped,) = [e for e in read_manifest(SHIPPED_DIRECTORY) if (e.pair, e.method) == ("mnist-usps", "deepcoral")]
    rows = [PaddedUSPSRecord(key="k", method="deepcoral", settings=shipped.selection.settings, step=4, target_acc=accuracy)]
    assert "DeepCORAL" in padded_usps.table(rows) and "95.6 (SKADA-Bench)" in padded_usps.table(rows)
    stale = PaddedUSPSRecord(key="old", method="deepcoral", settings={"coral_weight": 0.5}, step=4, target_acc=0.123)
    assert "12.3" not in padded_usps.table([stale]) and "DeepCORAL" not in padded_usps.table([stale])


def test_the_padded_benchmark_changes_settings_of_the_defaults_only(capsys):
    from da_demo.benchmarks import padded_usps

    with pytest.raises(SystemExit):
        padded_usps.main(["--methods", "deepjdot", "--set", "bounded_embedding=true"])
    assert "--steps and --set go with --defaults" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        padded_usps.main(["--defaults", "--set", "bounded_embedding"])
    assert "--set expects NAME=VALUE" in capsys.readouterr().err
