"""One training run: build the classifier and the method, warm-start it, train, describe the result.

``da_demo.workflows.training`` is the one place that starts runs (it finds the start model and
saves the result); a ``Run`` itself knows nothing of files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import torch

from ..data.pairs import DomainPair
from ..methods import HyperparameterSet, Method
from ..models import DigitClassifier, build_classifier
from .device import resolve_device, resolve_precision
from .spec import RunSpec
from .trainer import LoopPosition, ProgressEvent, train


class Run:
    """The run ``spec`` describes, on ``pair``'s data (the pair ``spec`` names, loaded).

    ``events()`` trains and yields progress; afterwards ``result`` holds the final event and
    ``metadata()`` describes the run. A method that warm-starts gets the trained classifier it
    starts from as ``start_classifier`` (same backbone and pair). Between two events, ``state()``
    is all a later ``resume`` needs to go on from there, in this process or another.
    """

    def __init__(
        self,
        pair: DomainPair,
        spec: RunSpec,
        *,
        device: str = "auto",
        precision: str = "auto",
        start_classifier: DigitClassifier | None = None,
    ) -> None:
        self.pair = pair
        self.spec = spec
        self.method_class = spec.method
        self.backbone = spec.backbone
        self.seed = spec.seed
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        torch.manual_seed(spec.seed)
        classifier = build_classifier(self.backbone, pair.channels, image_size=pair.image_size)
        self.method: Method = self.method_class(classifier, spec.hparams)
        self.start_method = spec.start.method.name if spec.start else None
        if (self.start_method is None) != (start_classifier is None):
            raise ValueError(
                f"{self.method_class.name} starts from "
                f"{'the ' + self.start_method + ' model' if self.start_method else 'fresh weights'}"
            )
        if start_classifier is not None:
            classifier.load_state_dict(start_classifier.state_dict())
        self.method.to(self.device).to(memory_format=torch.channels_last)
        self.result: ProgressEvent | None = None
        self.position = LoopPosition()
        #: the steps at which this run was resumed
        self.resumed_at: list[int] = []

    @property
    def hparams(self) -> HyperparameterSet:
        return self.method.hparams

    def events(self, **train_options) -> Iterator[ProgressEvent]:
        """Train, yielding ``ProgressEvent``s (options as ``engine.trainer.train``)."""
        for event in train(
            self.method,
            self.pair,
            seed=self.seed,
            device=self.device,
            precision=self.precision,
            position=self.position,
            **train_options,
        ):
            if event.done:
                self.result = event
            yield event

    def state(self) -> dict[str, Any]:
        """The run as it stands between two events: the method whole (its networks, optimizers,
        weight averages and counters), the loop's position and the global random state."""
        return {
            "method": self.method,
            "position": self.position.state(),
            "random": torch.get_rng_state(),
            "resumed_at": list(self.resumed_at),
        }

    def resume(self, state: dict[str, Any]) -> None:
        """Go on from ``state`` (from ``state()`` of a run of the same spec) at its step."""
        method = state["method"]
        if type(method) is not self.method_class or method.hparams != self.hparams:
            raise ValueError(f"the saved run is not a {self.method_class.name} run of these settings")
        self.method = method.to(self.device)
        position = state["position"]
        self.position = LoopPosition(position["step"], position["train_seconds"], position["draws"])
        torch.set_rng_state(state["random"])
        self.resumed_at = [*state["resumed_at"], self.position.step]

    def metadata(self) -> dict[str, Any]:
        """What a checkpoint of this run records about it (requires a finished run)."""
        if self.result is None:
            raise RuntimeError("the run has not finished")
        return {
            "method": self.method_class.name,
            "pair": self.pair.name,
            "backbone": self.backbone,
            "seed": self.seed,
            "hyperparameters": self.hparams.to_dict(),
            "warm_start_from": self.start_method,
            "steps": self.result.step,
            "ended_early": self.result.ended_early.value if self.result.ended_early else None,
            "train_seconds": round(self.result.train_seconds, 2),
            "metrics": {
                "source_acc": self.result.source_acc,
                "target_acc": self.result.target_acc,
                **self.result.metrics,
            },
            "device": str(self.device),
            "precision": str(self.precision or torch.float32).replace("torch.", ""),
            "data_fingerprint": self.pair.fingerprint,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # a built domain's model says which domain (``data.shift``): its recipe's changed settings
            **({"shift": recipe.changed()} if (recipe := getattr(self.pair.spec.target, "recipe", None)) else {}),
        }
