"""sltheory: constructive strong lottery tickets, certified.

Public API (everything else is private)::

    rand = sltheory.random_network(target, eps=0.01, delta=0.05, seed=0)
    ticket = sltheory.approximate(target, rand, eps=0.01)
    ticket.network, ticket.masks, ticket.error_bound, ticket.stats
    err, x = sltheory.adversarial_error(target, ticket.network, dim)
    ticket.save("t.npz"); ticket = sltheory.load_ticket("t.npz")   # plan + seed + kept indices
    graph = ticket.to_networkx(kept_only=True)      # networkx DAG: weight, kept, serves per edge
    sltheory.plotting.draw_ticket_graph(graph)       # + graph_to_json / graph_from_json
"""

from .api import approximate, random_network
from .certify import Certificate, adversarial_error, certify
from .bounds import counting_lower_bound
from .constructions.registry import constructions
from .constructions.registry import get as construction
from .errors import (ApproximationFailedError, CertificateError, DatasetError, InvalidArgumentError,
                     NetworkTooLargeError, NormAssumptionError, RandomNetworkError, SltheoryError, TargetError,
                     TicketFileError, TicketVersionError)
from .network import Plan, RandomNetwork
from .targets import Target, as_target, gaussian_target
from .ticket import Ticket
from .ticket_io import load_ticket
from . import datasets
from . import plotting

__version__ = "0.1.0"

__all__ = [
    "ApproximationFailedError", "Certificate", "CertificateError", "DatasetError",
    "InvalidArgumentError",
    "NetworkTooLargeError",
    "NormAssumptionError", "Plan", "RandomNetwork", "RandomNetworkError", "SltheoryError", "Target",
    "TargetError", "Ticket", "TicketFileError", "TicketVersionError", "adversarial_error", "approximate", "as_target",
    "certify",
    "construction", "constructions", "counting_lower_bound", "datasets", "gaussian_target", "load_ticket",
    "plotting", "random_network",
]
