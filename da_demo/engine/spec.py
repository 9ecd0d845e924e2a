"""A run specification: what to train, resolved once from names and passed down as an object.

A request arrives as names (a pair, a method, settings from a slider, a JSON body or a command
line); ``RunSpec.resolve`` turns it into the pair record, the method class, checked
hyperparameters, the seed and the backbone, and the spec of the model it starts from. Everything
below (the engine, the training job, a worker process) takes that object and never looks a method
up by name again. A spec is plain data: it pickles to another process as it is.

    spec = RunSpec.resolve("mnist-usps", "dann", {"steps": 600, "lambda_max": 0.5}, seed=0)
    spec.method.title, spec.hparams.steps, spec.start.method.name   # "DANN", 600, "source_only"
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..data import PairSpec, resolve_pair
from ..methods import HyperparameterSet, Method, get_method


@dataclass(frozen=True)
class RunSpec:
    """One training run: pair, method class, its checked hyperparameters, seed and backbone."""

    pair: PairSpec
    method: type[Method]
    hparams: HyperparameterSet
    seed: int = 0
    backbone: str = ""
    #: the run whose trained model this one starts from (None: fresh weights)
    start: RunSpec | None = None
    #: the backbone asked for (the pair's unless overridden); ``backbone`` is the variant of it that
    #: the settings train on (``Method.backbone_for``: a bounded embedding, a standardised input)
    base_backbone: str = ""

    @classmethod
    def resolve(
        cls,
        pair: str | PairSpec,
        method: str | type[Method],
        settings: Mapping[str, Any] | HyperparameterSet | None = None,
        *,
        seed: int = 0,
        backbone: str | None = None,
        only_known: bool = False,
    ) -> RunSpec:
        """The spec for names: ``settings`` override the method's defaults (a finished
        ``HyperparameterSet`` is taken as it is). With ``only_known``, settings the method does not
        have are left out (one ``--set`` for several methods); otherwise they are a clear
        ``ValueError``, as are unknown pairs and methods and values out of range."""
        pair_spec = pair if isinstance(pair, PairSpec) else resolve_pair(pair)
        method_class = method if isinstance(method, type) else get_method(method)
        hparams = (
            settings
            if isinstance(settings, HyperparameterSet)
            else method_class.hyperparameters_class.from_dict(
                known_settings(method_class, settings or {}) if only_known else dict(settings or {})
            )
        )
        base_backbone = backbone or pair_spec.backbone
        backbone = method_class.backbone_for(base_backbone, hparams)
        start_name = method_class.warm_start_from(hparams)
        start = cls.resolve(pair_spec, start_name, backbone=backbone) if start_name else None
        return cls(pair_spec, method_class, hparams, int(seed), backbone, start, base_backbone)

    @property
    def total_steps(self) -> int:
        """Steps (or fitting stages) a run of this spec takes."""
        return self.method.total_steps(self.hparams)

    @property
    def label(self) -> str:
        return f"{self.pair.name} {self.method.name}"

    def typed(self, names) -> dict[str, Any]:
        """The values of ``names`` as the method holds them (``"16"`` from a command line → 16)."""
        return {name: getattr(self.hparams, name) for name in names if hasattr(self.hparams, name)}

    @property
    def identity(self) -> str:
        """A stable digest of everything that decides the trained weights (pair, method, every
        setting, seed, backbone): two specs with the same identity train the same model."""
        document = {
            "pair": self.pair.name,
            "method": self.method.name,
            "hyperparameters": self.hparams.to_dict(),
            "seed": self.seed,
            "backbone": self.backbone,
        }
        recipe = getattr(self.pair.target, "recipe", None)  # a built domain: its recipe decides the data
        if recipe is not None:
            document["recipe"] = recipe.model_dump()
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def known_settings(method_class: type[Method], settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without the names ``method_class`` has no setting for."""
    known = method_class.hyperparameters_class.settings()
    return {name: value for name, value in settings.items() if name in known}
