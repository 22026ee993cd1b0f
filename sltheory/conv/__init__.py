"""Convolutional and residual targets (issue 15): targets (:mod:`.target`, :mod:`.ops`), the
random conv network (:mod:`.network`), conv constructions registered by name (:mod:`.registry`:
``conv_subset_sum``, …), the certificate (:mod:`.norms`, :mod:`.certify`) and tickets
(:mod:`.ticket`).

    rand = sltheory.conv.random_network(model, input_shape=(1, 8, 8), eps=0.05, seed=0, domain=sltheory.Box(0, 1))
    ticket = sltheory.conv.approximate(model, rand, eps=0.05)
    ticket.error_bound, ticket.network(x), ticket.save("t.npz")
"""

from .api import approximate, random_network
from .registry import constructions
from .registry import get as construction

__all__ = ["approximate", "construction", "constructions", "random_network"]
