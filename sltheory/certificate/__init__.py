"""The certificate: a sound upper bound on a ticket's sup-norm error, and the search for a lower one.

* :mod:`.bound` — :class:`Certificate`, :func:`certify` (effective maps of the pruned pairs, the
  layer-wise recursion, float slack) and Burkholz's copy certificate;
* :mod:`.sprocedure` — the S-procedure (SDP) bound, solved by a barrier method and verified in
  floating point afterwards;
* :mod:`.adversarial` — :func:`adversarial_error`, a multi-start ascent for the worst input;
* :mod:`.networks` — :func:`certify_networks`, a bound for two arbitrary ReLU MLPs (linear
  relaxations with input splitting), what searched tickets are certified with.

May import: the foundation (``errors``, ``_checks``, ``_linalg`` — the verified linear algebra,
kept there because ``targets`` checks norms with it too — and ``bounds``) and the core objects
(``network``, ``targets``). Never the constructions, tickets, the experiment engine or reports:
the certificate knows a target and masked matrices, not how they were built.
"""

from .adversarial import MAX_SEARCH_ENTRIES, adversarial_error
from .bound import METHODS, SDP_MAX_FLOPS, Certificate, EffectiveMap, certify, certify_copies, pair_effective_map
from .networks import NetworksCertificate, certify_networks

__all__ = ["METHODS", "MAX_SEARCH_ENTRIES", "SDP_MAX_FLOPS", "Certificate", "EffectiveMap", "adversarial_error",
           "NetworksCertificate", "certify", "certify_copies", "certify_networks", "pair_effective_map"]
