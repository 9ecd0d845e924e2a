"""What every tab gets: the shared read-only resources and the per-visitor state component."""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from .appdata import AppData
from .session import Session
from .zoo import ModelZoo

LOG = logging.getLogger("da_demo.ui")


@dataclass
class AppContext:
    zoo: ModelZoo  # shipped models, loaded once, read-only
    data: AppData  # test sets and photos, loaded once, read-only
    session: gr.State  # per visitor: ui.session.Session
    pair: gr.Dropdown  # the domain pair chosen at the top of the page
    #: where visitors' runs train: ``workflows.live``'s transports (worker processes, this process, ZeroGPU)
    trainer: Any = None
    #: pictures drawn once and sent to every visitor who asks (``render.Drawings``): a shared run's
    #: curves at one moment, a class board, what a shift costs
    drawings: Any = None
    #: the app's classes (``workflows.classroom.Classroom``): codes, seats and boards
    classroom: Any = None
    #: visitors who have trained, by Gradio session, so their runs and models are freed when they leave
    visitors: weakref.WeakValueDictionary = field(default_factory=weakref.WeakValueDictionary)
    #: set once the app's warm-up is done (data loaded and handed to the workers, UMAP compiled)
    warmed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def remember(self, request: gr.Request | None, session: Session) -> None:
        if request is not None and getattr(request, "session_hash", None):
            with self._lock:
                self.visitors[request.session_hash] = session

    def live_session(self, session: Session, pair: str, method: str, settings: dict, progress, request=None):
        """A visitor's live run (``live_runs.adapt``) with this app's models, data, trainer and
        classes, the visitor remembered so their run stops and their models go when they leave."""
        from .live_runs import adapt

        self.remember(request, session)
        return adapt(
            self.zoo,
            self.data,
            session,
            pair,
            method,
            settings,
            self.trainer,
            progress,
            classroom=self.classroom,
        )

    def forget(self, request: gr.Request | None) -> None:
        """The visitor closed the page: stop their run and drop their models now (Gradio keeps a
        closed page's state for an hour)."""
        if request is None or not getattr(request, "session_hash", None):
            return
        with self._lock:
            session = self.visitors.pop(request.session_hash, None)
        if session is not None:
            models = len(session.trained)
            session.close()
            LOG.info("a visitor left: their run stopped, %d trained model(s) freed", models)
