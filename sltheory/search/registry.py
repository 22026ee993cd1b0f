"""Name → search method. A method is one module of this package that defines ``METHOD`` (an
instance of :class:`~sltheory.search.base.SearchMethod`); :func:`methods` discovers them, so a new
method touches no other file."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import InvalidArgumentError
from .base import SearchMethod

#: Modules of this package that are infrastructure, not methods.
_NOT_METHODS = {"base", "registry", "networks", "planting"}
_EXTRA: dict[str, SearchMethod] = {}


def _discover() -> dict[str, SearchMethod]:
    found: dict[str, SearchMethod] = {}
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.name in _NOT_METHODS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        method = getattr(module, "METHOD", None)
        if isinstance(method, SearchMethod):
            found[method.name] = method
    found.update(_EXTRA)
    return found


def register(method: SearchMethod) -> SearchMethod:
    """Register a method defined outside this package (a user's own); returns it."""
    if not isinstance(method, SearchMethod):
        raise InvalidArgumentError(f"expected a SearchMethod, got {type(method).__name__}")
    _EXTRA[method.name] = method
    return method


def methods() -> dict[str, str]:
    """Registered search method names with their citations (empty until the search issue)."""
    return {name: m.citation for name, m in sorted(_discover().items())}


def get(name: str) -> SearchMethod:
    """The registered search method ``name``."""
    found = _discover()
    if not isinstance(name, str) or name not in found:
        raise InvalidArgumentError(f"unknown search method {name!r}; available: {sorted(found)}")
    return found[name]
