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
