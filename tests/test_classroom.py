"""A class as a sweep: codes, seats handed out from the method's grid, the board and its pick, a
board that survives a restart, and bad input answered in one sentence with nothing stored."""

import sqlite3

import pytest

from da_demo.engine.spec import RunSpec
from da_demo.methods import get_method
from da_demo.workflows.classroom import CLASS_LIFETIME_SECONDS, Classroom, ClassroomError
from da_demo.workflows.sweep import grid_points


def test_students_get_the_grid_in_turn_then_new_seeds(tmp_path):
    classroom = Classroom(tmp_path / "classes.sqlite")
    code = classroom.open_class("mnist-usps", "dann")
    grid = grid_points(get_method("dann").sweep_grid)
    seats = [classroom.join(code.lower(), "") for _ in range(len(grid) + 1)]  # codes are read case-blind
    assert [seat.student for seat in seats] == list(range(1, len(grid) + 2))
    assert [seat.settings for seat in seats[: len(grid)]] == grid
    assert [seat.seed for seat in seats] == [0] * len(grid) + [1]
    assert seats[0].name == "Student 1" and classroom.join(code, "Ada").name == "Ada"


def test_the_board_shows_each_finished_run_the_validators_pick_and_the_oracle(tmp_path):
    path = tmp_path / "classes.sqlite"
    code = Classroom(path).open_class("mnist-usps", "mmd")
    classroom = Classroom(path)  # another process, or the app after a restart: same file, same classes
    for score, accuracy in ((1.9, 0.90), (2.1, 0.93), (2.0, 0.95), (1.5, 0.80)):
        seat = classroom.join(code)
        spec = RunSpec.resolve("mnist-usps", "mmd", seat.preset, seed=seat.seed)
        classroom.record(seat, spec, [0, 100], [0.78, accuracy], score, accuracy)
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


def test_students_class_runs_join_the_board_scored_without_labels(tmp_path, data_dir):
    """Two students train their seats' runs (a few steps, real data): each run joins the board with
    the settings it had and a label-free score; a run of another method does not."""
    from da_demo.ui import live_runs
    from da_demo.ui.appdata import AppData
    from da_demo.ui.session import Session
    from da_demo.ui.zoo import ModelZoo
    from da_demo.workflows.live import InProcessTrainer

    zoo, data, classroom = ModelZoo(), AppData(str(data_dir)), Classroom(tmp_path / "classes.sqlite")
    trainer = InProcessTrainer(data.pair)
    code = classroom.open_class("mnist-usps", "deepcoral")
    for nickname in ("Ada", ""):
        session = Session(seat=classroom.join(code, nickname))
        settings = {**session.seat.preset, "steps": 4, "batch_size": 16, "seed": session.seat.seed}
        *_, last = live_runs.adapt(
            zoo, data, session, "mnist-usps", "deepcoral", settings, trainer, classroom=classroom
        )
        assert f"joined class {code}'s board as {session.seat.name}'s run" in last.text, last.text
    *_, other = live_runs.adapt(
        zoo, data, session, "mnist-usps", "mmd", {"steps": 2, "batch_size": 16}, trainer, classroom=classroom
    )
    assert other.text.startswith("done") and "board" not in other.text
    board = classroom.board(code)
    grid = grid_points(get_method("deepcoral").sweep_grid)
    assert [run.name for run in board.runs] == ["Ada", "Student 2"]
    assert [run.settings for run in board.runs] == grid[:2] and all(run.seed == 0 for run in board.runs)
    assert all(run.score is not None and run.score > 0 and 0 < run.target_acc <= 1 for run in board.runs)
    assert board.pick in board.runs and board.rho is None  # ρ needs three runs
