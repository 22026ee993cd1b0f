"""The shape every mask-search method shares.

A search method finds a mask on a fixed :class:`~sltheory.network.RandomNetwork` — weights are
never changed, only kept or dropped — by optimisation (scores, probabilities) instead of by a
theorem's construction, and returns the same :class:`~sltheory.ticket.Ticket` a construction
returns, certified whenever a target network is given. The search issue fills this in; until then
the class only fixes the names a method defines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar


class SearchMethod(ABC):
    """One mask-search method: a ``name``, a ``citation`` and :meth:`search`."""

    #: Registry name (``sltheory.search.get(name)``).
    name: ClassVar[str]
    #: The paper the method follows.
    citation: ClassVar[str]

    @abstractmethod
    def search(self, random_net, *, target=None, data=None, keep: float, seed: int, **options):
        """A :class:`~sltheory.ticket.Ticket` on ``random_net`` (masks only), found by the method."""
