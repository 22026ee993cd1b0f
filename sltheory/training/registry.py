"""Name → weight-training baseline. A baseline is one module of this package that defines ``METHOD``
(a :class:`~sltheory.training.base.TrainingMethod`); :func:`methods` discovers them, so a new one
touches no other file (as a construction or a search method)."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import InvalidArgumentError
from .base import TrainingMethod

#: Modules of this package that are infrastructure, not baselines.
_NOT_METHODS = {"base", "registry", "continual"}


def _discover() -> dict[str, TrainingMethod]:
    found: dict[str, TrainingMethod] = {}
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.name in _NOT_METHODS or info.name.startswith("_"):
            continue
        method = getattr(importlib.import_module(f"{__package__}.{info.name}"), "METHOD", None)
        if isinstance(method, TrainingMethod):
            found[method.name] = method
    return found


def methods() -> dict[str, str]:
    """Registered baseline names with the paper each follows."""
    return {name: m.citation for name, m in sorted(_discover().items())}


def get(name: str):
    """The library call of the registered baseline ``name`` (e.g. ``get("dense")(rand, data=(X, y))``)."""
    found = _discover()
    if not isinstance(name, str) or name not in found:
        raise InvalidArgumentError(f"unknown training method {name!r}; available: {sorted(found)}")
    return found[name].call
