"""Input domains: the set of inputs x a ticket's certificate covers (sup over it).

Bias-free ReLU networks are positively homogeneous, so a bound over the unit ball scales to every
ball; with biases it does not, and the domain matters. Two kinds:

* :class:`Ball` (``radius`` r): {x : ‖x‖₂ ≤ r}, any dimension. ``Ball()`` (r = 1) is the default
  and what every bias-free theorem assumes.
* :class:`Box` (``lo``, ``hi``: scalars or one value per coordinate): {x : lo ≤ x ≤ hi}. ``Box(0, 1)``
  for images scaled to [0, 1]; ``Box.of(X)`` the data's own bounding box.

What the certificates use of a domain (:mod:`sltheory.certificate.bound`): ``radius`` (sup ‖x‖₂ over it,
rounded up), and ``nonnegative`` (every x ≥ 0: then σ(−x) = 0 and the first layer needs no negative
half, as after a ReLU). The adversarial search (:func:`sltheory.adversarial_error`) samples and
projects inside it. A domain is a value (frozen, hashable) with a JSON form (``spec()`` /
:func:`domain_from_spec`) that ticket files and run folders store.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from .errors import DomainError

#: Relative round-up applied to computed radii (a sum of squares and a square root in float64 are
#: within a few ulps of the exact value; this keeps ``radius`` an upper bound).
RADIUS_SAFETY = 1.0 + 1e-12


def _finite_real(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise DomainError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise DomainError(f"{name} must be finite, got {value!r}")
    return value


class Domain(ABC):
    """Base class of the input domains (see the module docstring)."""

    #: Number of coordinates the domain fixes (None: any).
    dim: int | None = None

    @property
    @abstractmethod
    def radius(self) -> float:
        """sup ‖x‖₂ over the domain (an upper bound)."""

    @property
    @abstractmethod
    def nonnegative(self) -> bool:
        """Whether every point of the domain is ≥ 0 coordinate-wise."""

    def check_dim(self, d: int, what: str = "the target") -> None:
        """DomainError unless the domain can hold inputs of ``d`` coordinates."""
        if self.dim is not None and self.dim != int(d):
            raise DomainError(f"{self!r} has {self.dim} coordinates, {what} takes {int(d)} inputs")

    def radius_for(self, d: int) -> float:
        """sup ‖x‖₂ over the domain's points of dimension ``d`` (an upper bound)."""
        self.check_dim(d)
        return self.radius

    @abstractmethod
    def contains(self, X, *, tol: float = 0.0) -> np.ndarray:
        """Per row of ``X`` (shape (B, d)), whether it lies in the domain (within ``tol``)."""

    def check_contains(self, X, what: str = "the data") -> None:
        """DomainError naming the first row of ``X`` outside the domain."""
        X = _as_2d(X, what)
        self.check_dim(X.shape[1], what)
        inside = self.contains(X)
        if not inside.all():
            bad = int(np.flatnonzero(~inside)[0])
            raise DomainError(f"{what} is not inside {self!r}: row {bad} of {X.shape[0]} lies outside "
                              f"({int((~inside).sum())} rows do); use a domain that contains it, e.g. Box.of(X)")

    @abstractmethod
    def sample(self, n: int, d: int, generator: torch.Generator, dtype=torch.float64, device=None) -> torch.Tensor:
        """``n`` points of the domain (dimension ``d``) drawn from ``generator``."""

    @abstractmethod
    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The nearest point of the domain to each row of ``x`` (Euclidean)."""

    @abstractmethod
    def spec(self) -> dict:
        """The JSON form (:func:`domain_from_spec` reads it back)."""


@dataclass(frozen=True)
class Ball(Domain):
    """{x : ‖x‖₂ ≤ radius}, in any dimension (the default domain, radius 1)."""

    radius_: float = 1.0

    def __init__(self, radius=1.0):
        r = _finite_real("Ball radius", radius)
        if not r > 0:
            raise DomainError(f"Ball radius must be > 0, got {r!r}")
        object.__setattr__(self, "radius_", r)

    def __repr__(self) -> str:
        return f"Ball(radius={self.radius_:g})"

    @property
    def radius(self) -> float:
        return self.radius_

    @property
    def nonnegative(self) -> bool:
        return False

    def contains(self, X, *, tol: float = 0.0) -> np.ndarray:
        X = _as_2d(X, "X")
        top = np.abs(X).max(axis=1) if X.shape[1] else np.zeros(X.shape[0])
        scale = np.where(top > 0, top, 1.0)
        norms = top * np.linalg.norm(X / scale[:, None], axis=1)   # scaled: no overflow for |x| ~ 1e200
        return norms <= self.radius_ * (1 + 1e-12) + tol

    def sample(self, n, d, generator, dtype=torch.float64, device=None):
        """Uniform on the sphere of radius r (where a bias-free network's worst case lies) mixed with
        uniform radii for the other half."""
        x = torch.randn(n, d, generator=generator, dtype=torch.float64)
        x /= x.norm(dim=1, keepdim=True).clamp_min(1e-300)
        radii = torch.ones(n, 1, dtype=torch.float64)
        half = n // 2
        if half:
            radii[half:] = torch.rand(n - half, 1, generator=generator, dtype=torch.float64) ** (1.0 / max(d, 1))
        return (x * radii * self.radius_).to(dtype=dtype, device=device)

    def project(self, x):
        nrm = x.norm(dim=-1, keepdim=True)
        return x * torch.clamp(self.radius_ / nrm.clamp_min(1e-300), max=1.0)

    def spec(self) -> dict:
        return {"kind": "ball", "radius": self.radius_}


@dataclass(frozen=True, eq=False)
class Box(Domain):
    """{x : lo ≤ x ≤ hi} coordinate-wise; ``lo``/``hi`` scalars (any dimension) or one value per
    coordinate (then both are broadcast to a common length)."""

    lo: np.ndarray
    hi: np.ndarray

    def __init__(self, lo, hi):
        los, his = _bound_array("Box lo", lo), _bound_array("Box hi", hi)
        if los.ndim and his.ndim and los.shape != his.shape:
            raise DomainError(f"Box lo has {los.size} coordinates, hi {his.size}")
        try:
            los, his = np.broadcast_arrays(los, his)
        except ValueError as exc:  # pragma: no cover - shapes checked above
            raise DomainError(f"Box bounds do not broadcast: {exc}") from exc
        los, his = los.astype(np.float64).copy(), his.astype(np.float64).copy()
        if np.any(los > his):
            j = int(np.flatnonzero(np.atleast_1d(los > his))[0])
            raise DomainError(f"Box lo > hi at coordinate {j} ({np.atleast_1d(los)[j]:g} > {np.atleast_1d(his)[j]:g})")
        los.flags.writeable = False
        his.flags.writeable = False
        object.__setattr__(self, "lo", los)
        object.__setattr__(self, "hi", his)
        object.__setattr__(self, "dim", None if los.ndim == 0 else int(los.size))

    @classmethod
    def of(cls, X) -> Box:
        """The bounding box of the data ``X`` (rows are inputs): per coordinate [min, max]."""
        X = _as_2d(X, "Box.of(X)")
        if X.shape[0] == 0:
            raise DomainError("Box.of(X): X has no rows")
        return cls(X.min(axis=0), X.max(axis=0))

    def __repr__(self) -> str:
        if self.lo.ndim == 0:
            return f"Box({float(self.lo):g}, {float(self.hi):g})"
        return (f"Box(lo in [{self.lo.min():g}, {self.lo.max():g}], hi in [{self.hi.min():g}, {self.hi.max():g}], "
                f"{self.lo.size} coordinates)")

    def __eq__(self, other) -> bool:
        return isinstance(other, Box) and self.lo.shape == other.lo.shape and bool(
            np.array_equal(self.lo, other.lo) and np.array_equal(self.hi, other.hi))

    def __hash__(self) -> int:
        return hash((self.lo.tobytes(), self.hi.tobytes(), self.lo.shape))

    def _bounds(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        self.check_dim(d)
        return np.broadcast_to(self.lo, (d,)), np.broadcast_to(self.hi, (d,))

    @property
    def radius(self) -> float:
        if self.dim is None:
            raise DomainError(f"{self!r} has scalar bounds: its radius depends on the dimension (radius_for(d))")
        return self.radius_for(self.dim)

    def radius_for(self, d: int) -> float:
        lo, hi = self._bounds(int(d))
        far = np.maximum(np.abs(lo), np.abs(hi))
        top = float(far.max()) if far.size else 0.0
        if top == 0.0:
            return 0.0
        # scaled by the largest bound first, so that tiny bounds do not underflow when squared
        rel = far / top
        return top * float(math.sqrt(math.fsum(rel * rel))) * RADIUS_SAFETY

    @property
    def nonnegative(self) -> bool:
        return bool(np.all(self.lo >= 0))

    def contains(self, X, *, tol: float = 0.0) -> np.ndarray:
        X = _as_2d(X, "X")
        lo, hi = self._bounds(X.shape[1])
        return np.all((X >= lo - tol) & (X <= hi + tol), axis=1)

    def sample(self, n, d, generator, dtype=torch.float64, device=None):
        """Half uniform in the box, half at its corners (where piecewise-linear maps peak). Every
        point lies in the box: lo + u·(hi − lo) is clamped to [lo, hi] (rounded, it can exceed hi by an
        ulp), so a corner is exactly lo or hi."""
        lo, hi = (torch.from_numpy(np.array(v)) for v in self._bounds(d))
        u = torch.rand(n, d, generator=generator, dtype=torch.float64)
        half = n // 2
        u[half:] = (u[half:] < 0.5).to(torch.float64)
        x = torch.minimum(torch.maximum(lo + u * (hi - lo), lo), hi)
        return x.to(dtype=dtype, device=device)

    def project(self, x):
        lo, hi = (torch.from_numpy(np.array(v)).to(dtype=x.dtype, device=x.device)
                  for v in self._bounds(x.shape[-1]))
        return torch.maximum(torch.minimum(x, hi), lo)

    def spec(self) -> dict:
        if self.lo.ndim == 0:
            return {"kind": "box", "lo": float(self.lo), "hi": float(self.hi)}
        return {"kind": "box", "lo": self.lo.tolist(), "hi": self.hi.tolist()}


def _bound_array(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    if isinstance(value, (bool, np.bool_)):
        raise DomainError(f"{name} must be a real number or an array of them, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{name} cannot be read as real numbers: {exc}") from exc
    if arr.ndim > 1:
        raise DomainError(f"{name} must be a scalar or a 1-D array, got {arr.ndim} dimensions")
    if arr.ndim == 1 and arr.size == 0:
        raise DomainError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise DomainError(f"{name} must be finite (no nan or inf)")
    return arr


def _as_2d(X, what: str) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{what} cannot be read as a float array: {exc}") from exc
    if arr.ndim != 2:
        raise DomainError(f"{what} must be 2-D (rows are inputs), got {arr.ndim} dimensions")
    if not np.all(np.isfinite(arr)):
        raise DomainError(f"{what} has non-finite values")
    return arr


def as_domain(value) -> Domain:
    """``value`` if it is a :class:`Domain`, :class:`Ball` () for None; DomainError otherwise."""
    if value is None:
        return Ball()
    if isinstance(value, Domain):
        return value
    raise DomainError(f"domain must be sltheory.Ball(radius) or sltheory.Box(lo, hi), got {type(value).__name__}")


def domain_from_spec(spec) -> Domain:
    """The domain of a ``spec()`` dict (ticket files, run folders); DomainError if malformed."""
    if not isinstance(spec, dict) or spec.get("kind") not in ("ball", "box"):
        raise DomainError(f"not a domain spec: {spec!r}")
    if spec["kind"] == "ball":
        return Ball(spec.get("radius"))
    return Box(spec.get("lo"), spec.get("hi"))


def is_default(domain: Domain) -> bool:
    """Whether ``domain`` is the unit ball (every bias-free result as before)."""
    return isinstance(domain, Ball) and domain.radius_ == 1.0
