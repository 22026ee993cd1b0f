"""Mask search on a fixed random network (edge-popup, supermask, biprop), beside construction.

    ticket = sltheory.search.edge_popup(rand, target=f, keep=0.5, epochs=20, seed=0)
    ticket = sltheory.search.get("supermask").search(rand, data=(X, y), keep=0.3)
    rand = sltheory.search.random_mlp((64, 512, 512, 10), init="signed_constant", seed=0)

:mod:`.base` holds what every method shares (arguments, training, the ticket and its certificate)
and :mod:`.registry` the registry by name: a new method is one new module defining ``METHOD``
and touches no other file, as a construction is. :mod:`.networks`: random MLPs with the search
papers' initialisations; :mod:`.planting`: planted tickets (Plant 'n' Seek, and ours).

May import: everything below the experiment engine (the public API, tickets, constructions, the
certificate, data); never ``sltheory.experiment``, ``sltheory.report`` or ``sltheory.cli``.
"""

from .biprop import biprop
from .edge_popup import edge_popup
from .networks import INITS, random_mlp
from .planting import PlantedNetwork, mask_overlap, plant, plant_construction
from .registry import get, methods, register
from .supermask import supermask

__all__ = ["INITS", "PlantedNetwork", "biprop", "edge_popup", "get", "mask_overlap", "methods", "plant",
           "plant_construction", "random_mlp", "register", "supermask"]
