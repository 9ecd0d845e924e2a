"""A class as a sweep: a teacher opens a class, students join with its short code, each student's run
gets its own setting and seed from the method's grid (assigned in turn), and every finished run
joins the class's board: target accuracy, a label-free validator's score, the validator's pick, the
oracle's and Spearman's ρ, the model-selection lesson done with the class's own runs.

Kept in one SQLite file (the standard library's ``sqlite3``; created on first use, nothing to
install), so the board survives an app restart; classes expire a day after they were opened. Bad
input (an unknown or expired code, an unreadable nickname) is a ``ClassroomError`` with one
sentence, and nothing is stored.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import validators
from ..data.pairs import DomainPair
from ..engine.spec import RunSpec
from ..engine.validation import TARGET_SAMPLES
from ..methods import get_method
from ..models import predict
from .sweep import grid_points

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a board
CODE_LENGTH = 5
CLASS_LIFETIME_SECONDS = 24 * 3600
MAX_NICKNAME = 24
NICKNAME = re.compile(r"^[\w .'-]+$")
#: a class run: short, with a small batch and a few accuracy points, so 30 students' runs, two at a
#: time on a 2-core machine, end within 5 minutes (``python -m da_demo.benchmarks.lesson_load --class-sweep``)
CLASS_STEPS, CLASS_BATCH = 100, 32
CLASS_EVALUATIONS, CLASS_EVAL_SAMPLES = 5, 500
#: the label-free score on the board: the validator the protocol chose on every pair (selection.json)
CLASS_VALIDATOR = "information_maximization"
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (code TEXT PRIMARY KEY, pair TEXT, method TEXT, opened REAL);
CREATE TABLE IF NOT EXISTS seats (
    code TEXT, student INTEGER, nickname TEXT, settings TEXT, seed INTEGER, PRIMARY KEY (code, student));
CREATE TABLE IF NOT EXISTS runs (
    code TEXT, student INTEGER, settings TEXT, seed INTEGER, steps TEXT, target TEXT, score REAL,
    target_acc REAL, finished REAL, PRIMARY KEY (code, student));
"""


class ClassroomError(ValueError):
    """A class request cannot be served; the message is one sentence for the visitor."""


@dataclass(frozen=True)
class Seat:
    """A student's place in a class: their number, name on the board, and the run assigned to them
    (the grid's ``settings`` and ``seed``, ``CLASS_STEPS`` of ``CLASS_BATCH``, over the pick's other
    settings)."""

    code: str
    student: int
    nickname: str
    pair: str
    method: str
    settings: dict[str, Any]
    seed: int

    @property
    def name(self) -> str:
        return self.nickname or f"Student {self.student}"

    @property
    def preset(self) -> dict[str, Any]:
        """What the Adapt tab is set to for this seat's run."""
        return {**self.settings, "steps": CLASS_STEPS, "batch_size": CLASS_BATCH}

    def is_class_run(self, spec: RunSpec) -> bool:
        """Whether ``spec`` is a run of this class (its pair and method): it joins the board with the
        settings it actually had, even where the student changed the seat's."""
        return spec.pair.name == self.pair and spec.method.name == self.method


@dataclass(frozen=True)
class BoardRun:
    name: str
    settings: dict[str, Any]
    seed: int
    steps: list[int]
    target: list[float]
    score: float | None
    target_acc: float


@dataclass(frozen=True)
class Board:
    pair: str
    method: str
    runs: list[BoardRun]
    pick: BoardRun | None  # the highest validator score: chosen without target labels
    oracle: BoardRun | None  # the best target accuracy: uses target labels, reference only
    rho: float | None


class Classroom:
    """The classes of this app, in the SQLite file at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.executescript(SCHEMA)
        return connection

    def open_class(self, pair: str, method: str, now: float | None = None) -> str:
        """A new class running ``method`` on ``pair``; returns its code."""
        RunSpec.resolve(pair, method)  # an unknown pair or method is a clear error before anything is stored
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        with self._lock, self._connect() as connection:
            self._expire(connection, now)
            connection.execute(
                "INSERT INTO classes VALUES (?, ?, ?, ?)", (code, pair, method, now or time.time())
            )
        return code

    def join(self, code: str, nickname: str = "", now: float | None = None) -> Seat:
        """A seat in class ``code``: the next setting of the method's grid, and a seed that changes
        each time the grid has been handed out once."""
        nickname = _checked_nickname(nickname)
        with self._lock, self._connect() as connection:
            pair, method = self._class(connection, code, now)
            student = (
                1 + connection.execute("SELECT COUNT(*) FROM seats WHERE code = ?", (code,)).fetchone()[0]
            )
            points = grid_points(get_method(method).sweep_grid) or [{}]
            settings, seed = points[(student - 1) % len(points)], (student - 1) // len(points)
            connection.execute(
                "INSERT INTO seats VALUES (?, ?, ?, ?, ?)",
                (code, student, nickname, json.dumps(settings), seed),
            )
        return Seat(code.strip().upper(), student, nickname, pair, method, settings, seed)

    def record(
        self,
        seat: Seat,
        spec: RunSpec,
        steps: list[int],
        target: list[float],
        score: float | None,
        final: float,
    ) -> None:
        """A student's finished run (``spec``) joins the board; their latest run counts."""
        settings = spec.typed(sorted(seat.settings))
        with self._lock, self._connect() as connection:
            self._class(connection, seat.code, None)  # an expired class takes no more runs
            connection.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seat.code,
                    seat.student,
                    json.dumps(settings),
                    spec.seed,
                    json.dumps(steps),
                    json.dumps(target),
                    score,
                    final,
                    time.time(),
                ),
            )

    def board(self, code: str, now: float | None = None) -> Board:
        """Every finished run of the class so far, with the validator's pick, the oracle and ρ."""
        with self._lock, self._connect() as connection:
            pair, method = self._class(connection, code, now)
            rows = connection.execute(
                "SELECT s.student, s.nickname, r.settings, r.seed, r.steps, r.target, r.score, r.target_acc "
                "FROM runs r JOIN seats s ON r.code = s.code AND r.student = s.student WHERE r.code = ? "
                "ORDER BY r.finished",
                (code,),
            ).fetchall()
        runs = [
            BoardRun(
                nickname or f"Student {student}",
                json.loads(settings),
                seed,
                json.loads(steps),
                json.loads(target),
                score,
                target_acc,
            )  # fmt: skip
            for student, nickname, settings, seed, steps, target, score, target_acc in rows
        ]
        scored = [run for run in runs if run.score is not None and math.isfinite(run.score)]
        pick = max(scored, key=lambda run: run.score, default=None)
        oracle = max(runs, key=lambda run: run.target_acc, default=None)
        return Board(pair, method, runs, pick, oracle, _spearman(scored))

    def method_of(self, code: str) -> tuple[str, str]:
        """The class's ``(pair, method)``; a ``ClassroomError`` for an unknown or expired code."""
        with self._lock, self._connect() as connection:
            return self._class(connection, code, None)

    def _class(self, connection: sqlite3.Connection, code: str, now: float | None) -> tuple[str, str]:
        self._expire(connection, now)
        code = (code or "").strip().upper()
        if not re.fullmatch(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}", code):
            raise ClassroomError(
                f"A class code is {CODE_LENGTH} letters and digits, like K7QX2: check it and try again."
            )
        found = connection.execute("SELECT pair, method FROM classes WHERE code = ?", (code,)).fetchone()
        if found is None:
            raise ClassroomError(
                f"There is no class {code} (classes close a day after they open): ask your teacher."
            )
        return found

    @staticmethod
    def _expire(connection: sqlite3.Connection, now: float | None) -> None:
        cutoff = (now or time.time()) - CLASS_LIFETIME_SECONDS
        old = [code for (code,) in connection.execute("SELECT code FROM classes WHERE opened < ?", (cutoff,))]
        for table in ("runs", "seats", "classes"):
            connection.executemany(f"DELETE FROM {table} WHERE code = ?", [(code,) for code in old])  # noqa: S608


def label_free_score(classifier: torch.nn.Module, pair: DomainPair) -> float:
    """The board's score for a student's model: ``CLASS_VALIDATOR`` on the pair's unlabeled target
    training images (the validators' fixed subset; no target label is read)."""
    images = pair.target_train.subset(TARGET_SAMPLES, 0).images
    with torch.inference_mode():
        logits, _ = predict(classifier, images)
    return float(getattr(validators, CLASS_VALIDATOR)(logits.numpy()))


def _checked_nickname(nickname: str) -> str:
    nickname = " ".join((nickname or "").split())
    if len(nickname) > MAX_NICKNAME:
        raise ClassroomError(f"A nickname is at most {MAX_NICKNAME} characters.")
    if nickname and not NICKNAME.fullmatch(nickname):
        raise ClassroomError("A nickname may use letters, digits, spaces and . ' - _ only.")
    return nickname


def _spearman(runs: list[BoardRun]) -> float | None:
    if len(runs) < 3 or len({run.score for run in runs}) < 2 or len({run.target_acc for run in runs}) < 2:
        return None
    from scipy.stats import spearmanr

    rho = spearmanr([run.score for run in runs], [run.target_acc for run in runs]).statistic
    return float(rho) if math.isfinite(rho) else None
