"""Adaptation methods, one module each, found by name through a small registry.

Adding a method means adding one module, named as the method, with a ``Method`` subclass decorated
by ``@register``; the engine, the command line, pretraining, the sweep and the app pick it up.
Importing this package imports no torch: ``available_names`` lists the methods from their module
names (for ``--help``), and the base classes load on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Method

METHODS: dict[str, type[Method]] = {}
_HELPERS = ("base", "settings")  # modules of this package that define no method
_DISCOVERED: list[bool] = []  # [True] once every method module has been imported
_FROM_BASE = (
    "FittedMethod",
    "Hyperparameters",
    "HyperparameterSet",
    "Method",
    "SettingInfo",
    "SourceBatch",
    "setting",
)


def __getattr__(name: str) -> Any:
    if name in _FROM_BASE:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available_names() -> list[str]:
    """Every method's name, alphabetically, without importing any of them (nor torch)."""
    return sorted(module.name for module in pkgutil.iter_modules(__path__) if module.name not in _HELPERS)


def register(method_class: type[Method]) -> type[Method]:
    module = method_class.__module__.rsplit(".", 1)[-1]
    if module != method_class.name:
        raise TypeError(
            f"method {method_class.name!r} must live in a module of the same name, not {module}.py"
        )
    METHODS[method_class.name] = method_class
    return method_class


def get_method(name: str) -> type[Method]:
    """The method class registered under ``name``; a clear error lists the known ones."""
    _discover()
    key = name.replace("-", "_").lower()
    if key not in METHODS:
        raise ValueError(f"Unknown method {name!r}; choose one of: {', '.join(method_names())}")
    return METHODS[key]


def method_names() -> list[str]:
    """Registered method names in teaching order (source-only first)."""
    _discover()
    return sorted(METHODS, key=lambda name: (METHODS[name].order, name))


def _discover() -> None:
    """Import every method module once (a lookup by name then costs a dictionary access: the app
    asks for a method's title on every prediction)."""
    if _DISCOVERED:
        return
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _HELPERS:
            importlib.import_module(f"{__name__}.{module.name}")
    _DISCOVERED.append(True)


__all__ = [
    "METHODS",
    "available_names",
    "FittedMethod",
    "HyperparameterSet",
    "Hyperparameters",
    "Method",
    "SettingInfo",
    "SourceBatch",
    "get_method",
    "method_names",
    "register",
    "setting",
]
