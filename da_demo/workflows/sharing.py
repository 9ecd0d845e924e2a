"""Identical live runs trained once: a class of 30 pressing Start on the same preset shares one run.

Training is deterministic, so a request whose ``key`` (the run's spec identity, the code version
and the data's fingerprint) matches a run that is waiting, training or finished here attaches to
it instead of training again: it sees the run's messages from the start and then as they come, and
gets the same model file. ``SharedRuns`` wraps any trainer of ``workflows.live`` and also keeps the
line: at most ``slots`` distinct runs train at once, and a request in line hears its place, an
estimated wait and what is training meanwhile ("waiting" messages).

A visitor's Stop detaches them; the run itself stops only when nobody else is watching it (then the
last watcher sees it wind down and keeps what it learned, as with a run of their own).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..engine.trainer import ProgressEvent
from .live import LiveRequest, RunMessage

#: how long a run takes when none has finished here yet (seconds; the estimate learns from real runs)
FIRST_GUESS_SECONDS = 60.0
WAITING_EVERY_SECONDS = 3.0  # a waiting visitor hears where the line stands this often


@dataclass(frozen=True)
class Waiting:
    """Where a request stands in line: its place (1 = next), the estimated wait, and one line per
    run training now."""

    place: int
    seconds: float
    training: tuple[str, ...]


@dataclass(frozen=True)
class Detached:
    """A visitor stopped watching a run that goes on for ``others`` more."""

    others: int


@dataclass
class SharedRun:
    key: str
    request: LiveRequest
    messages: list[RunMessage] = field(default_factory=list)
    watchers: int = 0
    state: str = "waiting"  # "waiting", "training", "finished"
    stop: threading.Event = field(default_factory=threading.Event)
    started: float | None = None
    #: the last progress event so far (kept as messages arrive)
    latest: ProgressEvent | None = None

    def add(self, message: RunMessage) -> None:
        self.messages.append(message)
        if message.kind == "event":
            self.latest = message.payload

    @property
    def reusable(self) -> bool:
        """Whether a new identical request may attach: in line or training and not being stopped,
        or finished with every step trained and its model saved."""
        if self.state != "finished":
            return not self.stop.is_set()
        last = self.latest
        return (
            bool(self.messages)
            and self.messages[-1].kind == "done"
            and last is not None
            and last.ended_early is None
        )


class SharedRuns:
    """Runs shared by key over ``trainer`` (which must take ``slots`` runs at once)."""

    def __init__(self, trainer, slots: int, keep_finished: int = 64) -> None:
        self.trainer, self.slots, self.keep_finished = trainer, slots, keep_finished
        self._changed = threading.Condition()
        self._runs: collections.OrderedDict[str, SharedRun] = collections.OrderedDict()
        self._line: collections.deque[SharedRun] = collections.deque()
        self._training: list[SharedRun] = []
        self._durations: collections.deque[float] = collections.deque(maxlen=20)
        self._started = 0

    def watchers(self, key: str) -> int:
        """How many visitors are watching the run ``key`` now."""
        with self._changed:
            run = self._runs.get(key)
            return run.watchers if run else 0

    def runs_trained(self) -> int:
        """Distinct runs started here so far (for tests and diagnostics)."""
        with self._changed:
            return self._started

    def run(self, request: LiveRequest, stop: threading.Event) -> Iterator[RunMessage]:
        """The run ``request.key`` (started from ``request`` unless an identical one can be shared),
        as this visitor sees it: every message from the start, "waiting" messages while in line,
        and a "detached" message if they stop watching a run others still watch."""
        run = self._attach(request, request.key or f"unshared-{id(request)}")
        seen, last_note, detached, others = 0, 0.0, False, 0
        try:
            while True:
                with self._changed:
                    if stop.is_set() and not detached:
                        detached = self._stop_watching(run)
                        if detached:
                            others = run.watchers
                    if not detached and len(run.messages) == seen and run.state != "finished":
                        self._changed.wait(timeout=0.25)
                    new = run.messages[seen:]
                    finished = run.state == "finished" and seen + len(new) == len(run.messages)
                    due = run.state == "waiting" and time.monotonic() - last_note >= WAITING_EVERY_SECONDS
                    waiting = self._waiting(run) if due else None
                if detached:
                    yield RunMessage("detached", Detached(others))
                    return
                seen += len(new)
                yield from new
                if finished:
                    return
                if waiting is not None:
                    last_note = time.monotonic()
                    yield RunMessage("waiting", waiting)
        finally:
            with self._changed:
                if not detached:
                    run.watchers -= 1
                    if run.watchers == 0 and run.state != "finished":
                        run.stop.set()  # nobody is watching any more (a closed tab)
                        self._drop_if_waiting(run)

    def _attach(self, request: LiveRequest, key: str) -> SharedRun:
        with self._changed:
            run = self._runs.get(key)
            if run is None or not run.reusable:
                run = SharedRun(key, request)
                self._runs[key] = run
                self._line.append(run)
                self._forget_old()
                self._start_what_fits()
            self._runs.move_to_end(key)
            run.watchers += 1
            return run

    def _stop_watching(self, run: SharedRun) -> bool:
        """A visitor pressed Stop: detach them if others watch; else stop the run (True: detached)."""
        if run.watchers > 1:
            run.watchers -= 1
            return True
        run.stop.set()
        self._drop_if_waiting(run)
        return False

    def _drop_if_waiting(self, run: SharedRun) -> None:
        if run.state == "waiting" and run in self._line:
            self._line.remove(run)
            run.state = "finished"
            run.add(RunMessage("failed", "Stopped before it started: nothing was trained."))
            self._changed.notify_all()

    def _start_what_fits(self) -> None:
        while self._line and len(self._training) < self.slots:
            run = self._line.popleft()
            run.state, run.started = "training", time.monotonic()
            self._started += 1
            self._training.append(run)
            threading.Thread(target=self._train, args=(run,), daemon=True, name="da-demo-shared-run").start()
        self._changed.notify_all()

    def _train(self, run: SharedRun) -> None:
        try:
            for message in self.trainer.run(run.request, run.stop):
                with self._changed:
                    run.add(message)
                    self._changed.notify_all()
        except Exception as error:  # noqa: BLE001 - every watcher hears it; the next runs go on
            with self._changed:
                run.add(RunMessage("failed", f"{type(error).__name__}: {error}"))
        finally:
            with self._changed:
                if not run.messages or run.messages[-1].kind not in ("done", "failed"):
                    run.add(RunMessage("failed", "The training run ended without a result."))
                run.state = "finished"
                self._training.remove(run)
                self._durations.append(time.monotonic() - (run.started or time.monotonic()))
                self._start_what_fits()

    def _waiting(self, run: SharedRun) -> Waiting:
        """``run``'s place in line and its estimated wait: the training runs' remaining time and the
        runs ahead of it, shared over the slots."""
        typical = sum(self._durations) / len(self._durations) if self._durations else FIRST_GUESS_SECONDS
        remaining = []
        for other in self._training:
            event = other.latest
            elapsed = time.monotonic() - (other.started or time.monotonic())
            done = event.fraction if event is not None and event.fraction > 0 else 0.0
            remaining.append(max(typical - elapsed, 0.0) if done == 0 else elapsed * (1 - done) / done)
        place = list(self._line).index(run) + 1 if run in self._line else 1
        first_free = min(remaining) if len(remaining) >= self.slots else 0.0
        seconds = first_free + (place - 1) * typical / max(self.slots, 1)
        return Waiting(place, seconds, tuple(_describe(other) for other in self._training))

    def _forget_old(self) -> None:
        finished = [key for key, run in self._runs.items() if run.state == "finished" and run.watchers == 0]
        for key in finished[: max(len(finished) - self.keep_finished, 0)]:
            del self._runs[key]


def _describe(run: SharedRun) -> str:
    spec, event = run.request.spec, run.latest
    where = f"step {event.step}/{event.total_steps}" if event is not None else "starting"
    accuracy = (
        f", target {100 * event.target_acc:.0f}%"
        if event is not None and event.target_acc is not None
        else ""
    )
    return f"{spec.method.title} on {spec.pair.title}: {where}{accuracy} ({run.watchers} watching)"
