"""Adaptation methods, one module each, found by name through a small registry.

Adding a method means adding one module with a ``Method`` subclass decorated by ``@register``.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import HyperparameterSet, Hyperparameters, Method, SourceBatch

METHODS: dict[str, type[Method]] = {}


def register(method_class: type[Method]) -> type[Method]:
    METHODS[method_class.name] = method_class
    return method_class


def get_method(name: str) -> type[Method]:
    """The method class registered under ``name``; a clear error lists the known ones."""
    _discover()
    key = name.replace("-", "_").lower()
    if key not in METHODS:
        raise ValueError(f"Unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[key]


def method_names() -> list[str]:
    """Registered method names in teaching order (source-only first)."""
    _discover()
    return sorted(METHODS, key=lambda name: (METHODS[name].order, name))


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("base",):
            importlib.import_module(f"{__name__}.{module.name}")


__all__ = ["METHODS", "HyperparameterSet", "Hyperparameters", "Method", "SourceBatch", "get_method", "method_names", "register"]
