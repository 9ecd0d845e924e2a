"""What the pair menu at the top of the page means for one visitor, resolved once per event: a
shipped pair, or ``"custom"`` (MNIST → your domain), the domain the visitor built last in the Shift
tab. The tabs take the resolved ``PagePair`` (its record, its test data, the shipped models that
read it) instead of looking a name up themselves.

A visitor's domain keeps only its built test digits (``workflows.shifting.VisitorDomain``, a few MB),
in their session: it is built when a tab first needs it and freed when they leave.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..data import PAIRS, PairSpec
from ..data.pairs import DomainPair
from ..data.shift import BASE_PAIRS, CUSTOM, ShiftError, ShiftRecipe, custom_spec
from ..workflows.shifting import VisitorDomain, visitor_domain
from .appdata import AppData
from .session import Session
from .zoo import ModelZoo, ZooModel

YOUR_DOMAIN = "MNIST → your domain (Shift tab)"


def pair_choices() -> list[tuple[str, str]]:
    """The pair menu: the shipped pairs, then the visitor's own domain."""
    return [(spec.title, name) for name, spec in PAIRS.items()] + [(YOUR_DOMAIN, CUSTOM)]


def pair_title(pair: str) -> str:
    """A menu value in words (without building anything)."""
    return "MNIST → your domain" if pair == CUSTOM else PAIRS[pair].title


def run_settings(pair: str, session: Session) -> tuple[str, dict]:
    """Where a run on ``pair`` takes its label-free pick from (a built domain: the shipped pair it is
    built on), and what it adds to the visitor's settings (a built domain: its recipe)."""
    if pair != CUSTOM:
        return pair, {}
    recipe = session.recipe or ShiftRecipe()
    return BASE_PAIRS[recipe.channels], {"shift": recipe.changed()}


@dataclass(frozen=True)
class PagePair:
    """A pair as one visitor's page shows it. Its test data is loaded (or a visitor's domain built)
    only when a view asks for it: a prediction on a drawn digit never waits for data."""

    spec: PairSpec
    #: the shipped models that predict on it (a built domain: the MNIST source-only model)
    shipped: list[ZooModel]
    #: shipped methods missing for this pair, and why
    missing: dict[str, str]
    #: ``() → (test data or None, why it is None)``, called once, on first use
    load: Callable[[], tuple[DomainPair | None, str]] = field(repr=False, default=lambda: (None, ""))

    @functools.cached_property
    def _loaded(self) -> tuple[DomainPair | None, str]:
        return self.load()

    @property
    def data(self) -> DomainPair | None:
        """The test splits the page shows (None: not available here, ``problem`` says why)."""
        return self._loaded[0]

    @property
    def problem(self) -> str:
        return self._loaded[1]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def built(self) -> bool:
        """A visitor's own domain (no CycleGAN, no published results, no precomputed projections)."""
        return self.spec.name == CUSTOM


def resolve_page_pair(zoo: ModelZoo, data: AppData, pair: str, session: Session) -> PagePair:
    """``pair`` (a menu value) for this visitor."""
    if pair != CUSTOM:
        models = zoo.pair(pair)

        def shipped_data() -> tuple[DomainPair | None, str]:
            loaded = data.pair(pair)
            return loaded, "" if loaded else data.errors.get(pair, "")

        return PagePair(PAIRS[pair], models.models, models.missing, shipped_data)
    recipe = session.recipe or ShiftRecipe()
    base = BASE_PAIRS[recipe.channels]
    # the MNIST model, without the figure it has on its own pair's target (another domain's)
    start = [replace(entry, entry=None) for entry in zoo.pair(base).models if entry.method == "source_only"]

    def built_data() -> tuple[DomainPair | None, str]:
        domain = visitor_domain_of(data, session, recipe)
        if domain is None:
            return None, data.errors.get(base, "") or "the BSDS500 photos are not available here"
        return domain.pair, ""

    return PagePair(custom_spec(recipe), start, {}, built_data)


def visitor_domain_of(data: AppData, session: Session, recipe: ShiftRecipe) -> VisitorDomain | None:
    """The visitor's domain for ``recipe``: built once per recipe and kept in their session (the
    previous one is dropped); None when its MNIST digits or photos are not available here."""
    if session.domain is not None and session.domain.recipe == recipe:
        return session.domain
    base = data.pair(BASE_PAIRS[recipe.channels])
    if base is None:
        return None
    try:
        session.domain = visitor_domain(recipe, base, data.photos() if recipe.background == "photos" else None)
    except ShiftError:
        return None
    return session.domain
