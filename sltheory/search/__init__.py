"""Mask search on a fixed random network (edge-popup, supermask, biprop, …), beside construction.

Empty until the search issue lands: :mod:`.base` holds the shape every method will share
(:class:`~sltheory.search.base.SearchMethod`) and :mod:`.registry` the registry by name, so that a
new method is one new module and touches no other file — as a construction is.

May import: everything below the experiment engine (the public API, tickets, constructions, the
certificate, data); never ``sltheory.experiment``, ``sltheory.report`` or ``sltheory.cli``.
"""

from .registry import get, methods, register

__all__ = ["get", "methods", "register"]
