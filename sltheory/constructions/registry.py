"""Name → construction. A construction is one module of this package that defines
``CONSTRUCTION`` (an instance of :class:`~sltheory.constructions.base.Construction`); the registry
discovers them, so adding a construction touches no other file."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import InvalidArgumentError
from .base import Construction

#: Modules of this package that are infrastructure, not constructions.
_NOT_CONSTRUCTIONS = {"base", "registry"}
#: name → construction, filled on first use (tests may replace an entry).
_CACHE: dict[str, Construction] = {}
_SCANNED: list[bool] = []


def _discover() -> dict[str, Construction]:
    if not _SCANNED:
        found: dict[str, Construction] = {}
        for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
            if info.name in _NOT_CONSTRUCTIONS or info.name.startswith("_"):
                continue
            spec = getattr(importlib.import_module(f"{__package__}.{info.name}"), "CONSTRUCTION", None)
            if isinstance(spec, Construction) and spec.__module__ == f"{__package__}.{info.name}":
                found[spec.name] = spec
        for name, spec in sorted(found.items()):
            _CACHE.setdefault(name, spec)
        _SCANNED.append(True)
    return _CACHE


def get(name: str) -> Construction:
    """The registered construction ``name`` (its plan / sample / prune and bound functions)."""
    found = _discover()
    if not isinstance(name, str) or name not in found:
        raise InvalidArgumentError(f"unknown construction {name!r}; available: {sorted(found)}")
    return found[name]


def constructions() -> dict[str, str]:
    """Registered construction names with their citations."""
    return {name: spec.citation for name, spec in sorted(_discover().items())}
