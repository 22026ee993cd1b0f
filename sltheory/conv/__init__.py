"""Convolutional and residual targets (issue 15): targets (:mod:`.target`, :mod:`.ops`), the
random conv network (:mod:`.network`), conv constructions registered by name (:mod:`.registry`:
``conv_subset_sum``, …), the certificate (:mod:`.norms`, :mod:`.certify`) and tickets
(:mod:`.ticket`).

    rand = sltheory.conv.random_network(model, input_shape=(1, 8, 8), eps=0.05, seed=0, domain=sltheory.Box(0, 1))
    ticket = sltheory.conv.approximate(model, rand, eps=0.05)
    ticket.error_bound, ticket.network(x), ticket.save("t.npz")

May import: the foundation, the core objects (``network``'s samplers, ``domains``, ``targets``'
norm helper), the certificate (the adversarial search, verified linear algebra), the subset-sum
solvers and the MLP pair machinery of ``constructions`` (``_pairs.PairLayer``/``ladder``, which a
conv layer reduces to). Imported by ``sltheory.api`` (which hands conv targets here), the data
and experiment rooms; never by the MLP constructions or the certificate. Inside: ``ops`` and
``network`` import no other conv module but each other (network → ops); ``base`` → ``network``,
``ticket``; ``registry`` → ``base``; ``api`` → all.
"""

from .api import approximate, load_conv_ticket, random_network, recertify
from .registry import constructions
from .registry import get as construction

__all__ = ["approximate", "construction", "constructions", "load_conv_ticket", "random_network", "recertify"]
