"""Tickets: the pruned random network with its certificate (:mod:`.model`), the network of its live
units as a torch model (:mod:`.compact`), and its compact file format (:mod:`.fileformat`: plan,
seed and kept indices, no weights, one SHA-256 over it all).

May import: everything below it — the foundation, the core objects (``network``, ``targets``), the
certificate and the constructions (``Ticket.recertify`` asks the ticket's own construction for its
certificate). Imported by ``sltheory.api``, the search methods and the experiment engine; never by
the constructions or the certificate. ``model`` imports ``fileformat``, never the reverse; both
import ``compact``, which imports neither.
"""

from ..network import ScaledOutput
from .compact import Compact, TicketNetwork
from .fileformat import FORMAT, FORMAT_VERSION, MAX_HEADER_BYTES, MAX_LAYERS, read_ticket, write_ticket
from .model import MAX_GRAPH_EDGES, Ticket, load_ticket, save_ticket

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_GRAPH_EDGES", "MAX_HEADER_BYTES", "MAX_LAYERS", "Compact", "ScaledOutput",
           "Ticket", "TicketNetwork", "load_ticket", "read_ticket", "save_ticket", "write_ticket"]
