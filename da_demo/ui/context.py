"""What every tab gets: the shared read-only resources and the per-visitor state component."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .appdata import AppData
from .zoo import ModelZoo


@dataclass
class AppContext:
    zoo: ModelZoo  # shipped models, loaded once, read-only
    data: AppData  # test sets and photos, loaded once, read-only
    session: gr.State  # per visitor: ui.session.Session
    pair: gr.Dropdown  # the domain pair chosen at the top of the page
