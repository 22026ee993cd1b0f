"""Name → construction. Adding a construction = one module + one line in ``_MODULES``."""

from __future__ import annotations

import importlib

from ..errors import InvalidArgumentError
from .base import Construction

_MODULES = {
    "subset_sum": "sltheory.constructions.subset_sum",
    "subset_sum_blockdiag": "sltheory.constructions.subset_sum_blockdiag",
    "malach": "sltheory.constructions.malach",
    "orseau": "sltheory.constructions.orseau",
    "burkholz": "sltheory.constructions.burkholz",
}
_CACHE: dict[str, Construction] = {}


def get(name: str) -> Construction:
    """The registered construction ``name`` (its plan / sample / prune and bound functions)."""
    if not isinstance(name, str) or name not in _MODULES:
        raise InvalidArgumentError(f"unknown construction {name!r}; available: {sorted(_MODULES)}")
    if name not in _CACHE:
        module = importlib.import_module(_MODULES[name])
        _CACHE[name] = module.CONSTRUCTION
    return _CACHE[name]


def constructions() -> dict[str, str]:
    """Registered construction names with their citations."""
    return {name: get(name).citation for name in _MODULES}
