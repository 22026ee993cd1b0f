"""sltheory: constructive strong lottery tickets, certified.

Public API (everything else is private)::

    rand = sltheory.random_network(target, eps=0.01, delta=0.05, seed=0)
    ticket = sltheory.approximate(target, rand, eps=0.01)
    ticket.network, ticket.masks, ticket.error_bound, ticket.stats
    err, x = sltheory.adversarial_error(target, ticket.network, dim)
    ticket.save("t.npz"); ticket = sltheory.load_ticket("t.npz")   # plan + seed + kept indices
    graph = ticket.to_networkx(kept_only=True)      # networkx DAG: weight, kept, serves per edge
    # convolutional / residual targets (sltheory.conv): the same two calls, with input_shape
    rand = sltheory.random_network(cnn, input_shape=(1, 8, 8), eps=0.1, seed=0, domain=sltheory.Box(0, 1))
    ticket = sltheory.approximate(cnn, rand, eps=0.1)            # a conv ticket, certified
    sltheory.plotting.draw_ticket_graph(graph)       # + graph_to_json / graph_from_json

The package's rooms (each sub-package's docstring says what it may import; arrows point down)::

    cli/            the ``sltheory`` command and the scripts' shared argument checks
    report/         figures and tables from saved run folders; ticket drawings
    experiment/     run folders, executors, jobs (width sweep)
    training/       weight-training baselines on one random network (dense, random mask, mask + k %, IMP, RigL),
                    continual learning with masks: structure against weights
    search/         mask search (edge-popup, supermask, biprop) registered by name, random MLPs, planted tickets
    conv/           conv / residual targets: parser, random conv networks, conv constructions, certificate
    api.py          approximate, random_network
    ticket/         Ticket, its file format
    constructions/  one module per construction, registered by name
    certificate/    the sound bound, the S-procedure, the adversarial search
    subset_sum/     the subset-sum solvers (numba, torch, brute force)
    data/           digits, local MNIST, generated targets, small trained MLPs
    network.py, targets.py, domains.py             the core objects: Plan, RandomNetwork, Target, Ball/Box
    errors.py, _checks.py, bounds.py, _linalg.py, _atomic.py, _backend.py     the foundation
"""

import importlib as _importlib
import sys as _sys

from . import (  # noqa: F401 (the sub-packages, as attributes)
    certificate,
    conv,
    data,
    experiment,
    report,
    search,
    ticket,
    training,
)
from . import data as datasets
from ._version import __version__ as __version__
from .agreement import Agreement, certified_agreement
from .api import approximate, random_network
from .bounds import counting_lower_bound, natale_lower_bound
from .certificate import Certificate, adversarial_error, certify
from .constructions.registry import constructions
from .constructions.registry import get as construction
from .conv.modules import ResidualBlock
from .conv.ops import ConvTarget
from .conv.target import conv_target
from .data import gaussian_target
from .domains import Ball, Box, Domain
from .errors import (
    ApproximationFailedError,
    CertificateError,
    DatasetError,
    DomainError,
    InvalidArgumentError,
    NetworkTooLargeError,
    NormAssumptionError,
    RandomNetworkError,
    SltheoryError,
    TargetError,
    TicketFileError,
    TicketVersionError,
    TrainingDivergedError,
)
from .network import Plan, RandomNetwork
from .report import plotting
from .targets import Target, as_target
from .ticket import Ticket, load_ticket

#: Module paths from before the sub-package layout (issue 12), kept importable
#: (``from sltheory.runs import RunFolder`` still works): old name → the module that now holds it.
_MOVED = {
    "certify": "certificate", "_sdp": "certificate.sprocedure", "ticket_io": "ticket", "runs": "experiment.runs",
    "executors": "experiment.executors", "sweep": "experiment.sweep", "datasets": "data", "plotting": "report.plotting",
}
for _old, _new in _MOVED.items():
    _sys.modules.setdefault(f"{__name__}.{_old}", _importlib.import_module(f"{__name__}.{_new}"))
del _old, _new

__all__ = [
    "ApproximationFailedError", "Ball", "Box", "Certificate", "CertificateError", "DatasetError", "Domain",
    "DomainError", "InvalidArgumentError",
    "NetworkTooLargeError", "NormAssumptionError", "Plan", "RandomNetwork", "RandomNetworkError", "SltheoryError",
    "ConvTarget", "ResidualBlock", "conv_target",
    "Target", "TargetError", "Ticket", "TicketFileError", "TicketVersionError", "TrainingDivergedError",
    "adversarial_error", "approximate",
    "certified_agreement", "Agreement",
    "as_target", "certify", "construction", "constructions", "counting_lower_bound", "datasets", "gaussian_target",
    "load_ticket", "natale_lower_bound", "plotting", "random_network",
]
