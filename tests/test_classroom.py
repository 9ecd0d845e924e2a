"""A class as a sweep: codes, seats handed out from the method's grid, the board and its pick, a
board that survives a restart, and bad input answered in one sentence with nothing stored."""

import sqlite3

import pytest

from da_demo.methods import get_method
from da_demo.workflows.classroom import CLASS_LIFETIME_SECONDS, Classroom, ClassroomError
from da_demo.workflows.sweep import grid_points


def test_students_get_the_grid_in_turn_then_new_seeds(tmp_path):
    classroom = Classroom(tmp_path / "classes.sqlite")
    code = classroom.open_class("mnist-usps", "dann")
    grid = grid_points(get_method("dann").sweep_grid)
    seats = [classroom.join(code.lower(), "") for _ in range(len(grid) + 1)]  # codes are read case-blind
    assert [seat.student for seat in seats] == list(range(1, len(grid) + 2))
    assert [seat.spec.typed(sorted(grid[0])) for seat in seats[: len(grid)]] == grid
    assert [seat.spec.seed for seat in seats] == [0] * len(grid) + [1]
    assert seats[0].name == "Student 1" and classroom.join(code, "Ada").name == "Ada"


def test_the_board_shows_each_finished_run_the_validators_pick_and_the_oracle(tmp_path):
    path = tmp_path / "classes.sqlite"
    code = Classroom(path).open_class("mnist-usps", "mmd")
    classroom = Classroom(path)  # another process, or the app after a restart: same file, same classes
    for score, accuracy in ((1.9, 0.90), (2.1, 0.93), (2.0, 0.95), (1.5, 0.80)):
        seat = classroom.join(code)
        classroom.record(seat, [0, 100], [0.78, accuracy], score, accuracy)
    board = Classroom(path).board(code)
    assert [run.target_acc for run in board.runs] == [0.90, 0.93, 0.95, 0.80]
    assert board.pick.score == 2.1 and board.oracle.target_acc == 0.95
    assert board.rho == pytest.approx(0.8)


def test_bad_class_input_gets_one_sentence_and_stores_nothing(tmp_path):
    path = tmp_path / "classes.sqlite"
    classroom = Classroom(path)
    code = classroom.open_class("mnist-usps", "dann", now=1_000.0)
    for bad, message in (
        ("NOPE", "letters and digits"),
        ("ZZZZZ", "There is no class ZZZZZ"),
        ("<b>x</b>", "letters and digits"),
    ):
        with pytest.raises(ClassroomError, match=message):
            classroom.join(bad)
        with pytest.raises(ClassroomError, match=message):
            classroom.board(bad)
    with pytest.raises(ClassroomError, match="at most 24 characters"):
        classroom.join(code, "x" * 10_000, now=1_000.0)
    with pytest.raises(ClassroomError, match="letters, digits"):
        classroom.join(code, "<b>Ada</b>", now=1_000.0)
    with pytest.raises(ClassroomError, match="There is no class"):  # a day later the class is gone
        classroom.join(code, "Ada", now=1_000.0 + CLASS_LIFETIME_SECONDS + 1)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM seats").fetchone()[0] == 0
    with pytest.raises(ValueError, match="Unknown method"):
        classroom.open_class("mnist-usps", "danm")
