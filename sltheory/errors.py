"""Typed errors of sltheory.

Every error the library raises on purpose derives from :class:`SltheoryError`, so a caller can
catch them all at once, and from the matching built-in (``ValueError`` / ``RuntimeError``), so
code that expects those keeps working.
"""

from __future__ import annotations


class SltheoryError(Exception):
    """Base class of every error raised on purpose by sltheory."""


class InvalidArgumentError(SltheoryError, ValueError):
    """A scalar argument (eps, delta, seed, n, ...) is out of its documented range."""


class TargetError(SltheoryError, ValueError):
    """The target network is not of the class the theorems cover.

    ``layer`` is the index of the offending module in the ``nn.Sequential`` (or of the matrix in
    a list of matrices), or ``None`` when the problem is not tied to one layer.
    """

    def __init__(self, message: str, *, layer: int | None = None):
        super().__init__(message)
        self.layer = layer


class NormAssumptionError(TargetError):
    """A target weight matrix has spectral norm above 1 (the theorems assume ‖W_i‖₂ ≤ 1).

    Pass ``rescale=True`` to :func:`sltheory.approximate` to approximate the rescaled target
    instead (see its docstring for how the bound transforms).
    """

    def __init__(self, message: str, *, layer: int, norm: float):
        super().__init__(message, layer=layer)
        self.norm = norm


class NetworkTooLargeError(InvalidArgumentError):
    """The width a rule prescribes would not fit in memory: raised before anything is sampled.

    ``required_weights`` is what the rule's network would hold in memory (float64 entries, a slot
    layer's zeros included), ``limit`` the cap (``max_weights=``).
    """

    def __init__(self, message: str, *, required_weights: int, limit: int):
        super().__init__(message)
        self.required_weights = required_weights
        self.limit = limit


class RandomNetworkError(SltheoryError, ValueError):
    """The random network does not fit the target or the construction (shapes, structure)."""


class ApproximationFailedError(SltheoryError, RuntimeError):
    """The random network is too small for the requested eps: the theorem's failure event.

    Attributes: ``missed`` (how many target weights missed their per-weight tolerance),
    ``total`` (how many target weights were approximated), ``error_bound`` (the best certified
    bound reached), ``eps``, ``n`` (per-layer samples per block used) and ``n_needed`` (a
    per-layer estimate of the samples per block that would be needed).
    """

    def __init__(self, message: str, *, missed: int, total: int, error_bound: float,
                 eps: float, n: tuple[int, ...], n_needed: tuple[int, ...]):
        super().__init__(message)
        self.missed = missed
        self.total = total
        self.error_bound = error_bound
        self.eps = eps
        self.n = n
        self.n_needed = n_needed


class TrainingDivergedError(SltheoryError, RuntimeError):
    """Weight training diverged: the loss became non-finite (a learning rate too large for the data)."""


class CertificateError(SltheoryError, ValueError):
    """A masked network does not have the structure the certificate requires."""


class DomainError(InvalidArgumentError):
    """An input domain is invalid (lo > hi, non-finite bounds, a radius ≤ 0, a dimension that does
    not match the target) or does not contain the data it is used for."""


class DatasetError(InvalidArgumentError):
    """A data set cannot be loaded or is invalid: a missing folder or file, a corrupt file (bad IDX
    magic number, truncated payload), or arrays that break :class:`sltheory.datasets.Dataset`'s
    invariants. The message names the file or the field."""


class TicketFileError(InvalidArgumentError):
    """A saved ticket cannot be written or read: a folder that does not exist, a missing file, a
    file that is not a ticket or is corrupt (truncated archive, bad header, mask indices out of
    range), or a re-sampled random network that does not reproduce the saved kept weights.
    ``path`` names the file."""

    def __init__(self, message: str, *, path=None):
        super().__init__(message)
        self.path = None if path is None else str(path)


class TicketVersionError(TicketFileError):
    """A saved ticket was written in a format version this sltheory does not read.
    ``version``: the file's version; ``supported``: the one this sltheory reads."""

    def __init__(self, message: str, *, path=None, version=None, supported=None):
        super().__init__(message, path=path)
        self.version = version
        self.supported = supported
