"""Name → conv construction: every module of :mod:`sltheory.conv` that defines ``CONSTRUCTION``
(an instance of :class:`~sltheory.conv.base.ConvConstruction`); a new one touches no other file."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import InvalidArgumentError
from .base import ConvConstruction

_CACHE: dict[str, ConvConstruction] = {}
#: Modules of sltheory.conv that hold no construction (skipped without importing).
_NOT_CONSTRUCTIONS = {"base", "registry", "ops", "network", "target", "modules", "norms", "certify", "ticket", "api"}


def _discover() -> dict[str, ConvConstruction]:
    if not _CACHE:
        pkg = importlib.import_module(__package__)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name in _NOT_CONSTRUCTIONS or info.name.startswith("_"):
                continue
            spec = getattr(importlib.import_module(f"{__package__}.{info.name}"), "CONSTRUCTION", None)
            if isinstance(spec, ConvConstruction):
                _CACHE[spec.name] = spec
    return _CACHE


def get(name: str) -> ConvConstruction:
    found = _discover()
    if not isinstance(name, str) or name not in found:
        raise InvalidArgumentError(f"unknown conv construction {name!r}; available: {sorted(found)}")
    return found[name]


def constructions() -> dict[str, str]:
    """Registered conv construction names with their citations."""
    return {name: spec.citation for name, spec in sorted(_discover().items())}
