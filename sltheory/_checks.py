"""Small argument checks shared by the public functions (all raise InvalidArgumentError, or the
error class a caller passes), each with a one-line message, before any work starts.

Limits (why each keeps the arithmetic finite and meaningful in float64):

* :data:`MIN_EPS` = 1e-12 for an accuracy (``eps``, ``weight_tol``, and ``eps`` divided by the
  output scale of a rescaled target). Below it float64 no longer resolves the per-layer budget
  (1 + ε)^{1/l} − 1 (it rounds to 0 near ε ≈ l·1.1e-16, and the width rules then divide by it),
  the float64 evaluation the certificate covers has a rounding slack of that order itself
  (γ_K ≈ K·1.1e-16 per layer), and the subset-sum rule would ask n = log₂(1/ε) + 16 ≥ 56 samples
  per block of the 64 supported.
* :data:`MIN_DELTA` = 1e-100 for a failure probability ``delta``: the rules use log(1/δ) and
  products such as δ·τ; from 1e-100 on they stay finite (1e-100 · 1e-12 is a normal float), and a
  smaller δ only adds bits beyond any width the library can hold (the subset-sum rule already
  asks n ≥ log₂(1e100) + 16 = 348 > 64).
* :data:`MIN_POSITIVE` = 1e-300 for other positive reals (γ, C, width_factor, weight_bound, lr, ...):
  1/x and log(1/x) stay finite.

Results of the width rules are checked too (:func:`rule_samples`): a non-finite n, or one beyond
2^53, is "n would exceed …" rather than an OverflowError from ``math.ceil``; a finite one is then
checked against the network cap (``max_weights``, :class:`~sltheory.errors.NetworkTooLargeError`).
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np

from .errors import InvalidArgumentError, NetworkTooLargeError

#: Smallest accuracy accepted (eps, weight_tol, eps / output scale): see the module docstring.
MIN_EPS = 1e-12
#: Smallest failure probability δ accepted: see the module docstring.
MIN_DELTA = 1e-100
#: Smallest value accepted for other positive reals (1/x finite): see the module docstring.
MIN_POSITIVE = 1e-300
#: Largest un-rounded n a width rule may give (2^53: float64 integers are exact up to it); a larger
#: or non-finite n (a constant or width_factor of 1e308, ...) is refused before any rounding.
MAX_RULE_N = 2.0 ** 53
#: Longest path (bytes) and path component accepted (Linux PATH_MAX / NAME_MAX).
MAX_PATH, MAX_NAME = 4096, 255


def positive_float(name: str, value, *, allow_none: bool = False, upper: float | None = None,
                   lower: float = MIN_POSITIVE, error=InvalidArgumentError):
    """Return ``value`` as a float, checking it is a real number (not a bool), finite, ≥ ``lower``
    (default :data:`MIN_POSITIVE`) and (optionally) < ``upper``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise error(f"{name} must be finite and > 0, got {value!r}")
    if value < lower:
        raise error(f"{name} = {value!r} is below {lower:g}, the smallest supported (so that 1/{name} and "
                    f"log(1/{name}) stay finite in float64)")
    if upper is not None and value >= upper:
        raise error(f"{name} must be < {upper}, got {value!r}")
    return value


def eps_arg(name: str, value, *, allow_none: bool = False):
    """An accuracy (eps, weight_tol): a finite real ≥ :data:`MIN_EPS` (module docstring)."""
    if value is None and allow_none:
        return None
    value = positive_float(name, value, lower=0.0)
    if value < MIN_EPS:
        raise InvalidArgumentError(
            f"{name} = {value:.3g} is below {MIN_EPS:g}, the smallest supported: float64 resolves neither the "
            "per-layer budget (1+ε)^(1/l) − 1 nor its own evaluation's rounding that finely, and the rules' n "
            "would exceed what the library holds")
    return value


def delta_arg(name: str, value):
    """A failure probability: a finite real in [:data:`MIN_DELTA`, 1) (module docstring)."""
    value = positive_float(name, value, lower=0.0, upper=1.0)
    if value < MIN_DELTA:
        raise InvalidArgumentError(f"{name} = {value:.3g} is below {MIN_DELTA:g}, the smallest supported "
                                   "failure probability (the rules' n would exceed any supported width)")
    return value


def nonnegative_int(name: str, value, *, minimum: int = 0, maximum: int | None = None,
                    error=InvalidArgumentError) -> int:
    """Return ``value`` as an int, checking it is an integer (not a bool) in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise error(f"{name} must be ≥ {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise error(f"{name} must be ≤ {maximum:,}, got {value:,}" if value < 10 ** 30
                    else f"{name} must be ≤ {maximum:,}, got an integer of {len(str(value))} digits")
    return value


def strict_bool(name: str, value, *, error=InvalidArgumentError) -> bool:
    """``value`` if it is a bool (or a numpy bool): no truthiness, so ``"no"`` or ``0`` is an error."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise error(f"{name} must be True or False, got {value!r}")


def device_arg(name: str, value, *, allow_none: bool = True):
    """``value`` (None, a str or a torch.device) as a torch.device this process can compute on: "cpu",
    or "cuda[:i]" when CUDA is available with that many devices. "meta" (no values) and every other
    backend are refused. Returns None for None when ``allow_none``."""
    import torch

    if value is None and allow_none:
        return None
    if not isinstance(value, (str, torch.device)):
        raise InvalidArgumentError(f"{name} must be 'cpu', 'cuda', 'cuda:<i>' or a torch.device, got {value!r}")
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidArgumentError(f"{name} {value!r} is not a device: use 'cpu', 'cuda' or 'cuda:<i>'") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidArgumentError(f"{name} {value!r}: CUDA is not available here (torch.cuda.is_available() "
                                       "is False); use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InvalidArgumentError(f"{name} {value!r}: this machine has {torch.cuda.device_count()} CUDA "
                                       "device(s)")
        return dev
    if dev.type == "meta":
        raise InvalidArgumentError(f"{name} 'meta' holds no values: use 'cpu' or 'cuda'")
    raise InvalidArgumentError(f"{name} {value!r}: only 'cpu' and 'cuda' devices are supported")


def path_arg(name: str, value, *, error=InvalidArgumentError):
    """``value`` (a str or os.PathLike) as a :class:`pathlib.Path`; ``error`` for another type, an
    empty path, a NUL character, or a path or component longer than the file system allows."""
    from pathlib import Path

    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise error(f"{name} must be a str or os.PathLike, got {type(value).__name__}")
    try:
        text = os.fspath(value)
    except TypeError as exc:
        raise error(f"{name}: {exc}") from None
    if not isinstance(text, str):
        raise error(f"{name} must be a text path, got {type(text).__name__}")
    if not text:
        raise error(f"{name} is empty")
    if "\0" in text:
        raise error(f"{name} {text[:80]!r} contains a NUL character")
    if len(os.fsencode(text)) > MAX_PATH or any(len(os.fsencode(p)) > MAX_NAME for p in text.split(os.sep)):
        raise error(f"{name} {text[:60]!r}… is longer than the file system allows ({MAX_PATH} bytes, "
                    f"{MAX_NAME} per name)")
    return Path(text)


def _symbolic(value) -> bool:
    """A sympy expression (the bound functions also take symbols: nothing to check then)."""
    return type(value).__module__.split(".")[0] == "sympy"


def dims_arg(name: str, dims, *, max_weights: int | None = None) -> tuple[int, ...]:
    """Layer widths (d_0, …, d_l): a sequence of ≥ 2 integers ≥ 1; with ``max_weights``, at most that
    many weights Σ d_{i−1} d_i (:class:`~sltheory.errors.NetworkTooLargeError` otherwise)."""
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__len__") or not hasattr(dims, "__getitem__"):
        raise InvalidArgumentError(f"{name} must be a sequence of layer widths, got {dims!r}")
    if len(dims) < 2:
        raise InvalidArgumentError(f"{name} must have at least 2 entries (input and output width), got {list(dims)}")
    dims = tuple(nonnegative_int(f"{name}[{i}]", d, minimum=1) for i, d in enumerate(dims))
    weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    if max_weights is not None and weights > max_weights:
        raise NetworkTooLargeError(f"{name} = {_short(dims)} make {weights:.3g} weights, more than the "
                                   f"{max_weights:,} supported (~{8 * max_weights / 2**30:.1f} GiB in float64)",
                                   required_weights=weights, limit=max_weights)
    return dims


def _short(dims) -> str:
    text = "-".join(map(str, dims))
    return text if len(text) <= 60 else text[:57] + "…"


def shapes_arg(shapes) -> tuple[tuple[int, int], ...]:
    """A plan's target shapes: ≥ 1 pairs (d_out, d_in) of integers ≥ 1, each layer's d_in equal to
    the previous layer's d_out."""
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__len__") or len(shapes) == 0:
        raise InvalidArgumentError(f"shapes must be a non-empty sequence of (d_out, d_in) pairs, got {shapes!r}")
    out: list[tuple[int, int]] = []
    for i, s in enumerate(shapes):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__") or len(s) != 2:
            raise InvalidArgumentError(f"shapes[{i}] must be a pair (d_out, d_in), got {s!r}")
        d_out = nonnegative_int(f"shapes[{i}][0]", s[0], minimum=1)
        d_in = nonnegative_int(f"shapes[{i}][1]", s[1], minimum=1)
        if out and d_in != out[-1][0]:
            raise InvalidArgumentError(f"shapes[{i}] = {(d_out, d_in)} takes {d_in} inputs but layer {i - 1} has "
                                       f"{out[-1][0]} outputs")
        out.append((d_out, d_in))
    return tuple(out)


def plan_args(shapes, eps, delta):
    """The common arguments of every construction's ``plan``: (shapes, eps or None, delta)."""
    return shapes_arg(shapes), eps_arg("eps", eps, allow_none=True), delta_arg("delta", delta)


def bound_args(dims, eps, delta, i=None):
    """The arguments of the constructions' bound functions, when they are numbers (sympy symbols
    pass unchecked): dims as in :func:`dims_arg`, eps ≥ MIN_EPS, δ ∈ [MIN_DELTA, 1), 0 ≤ i < depth."""
    if not any(_symbolic(d) for d in (dims if hasattr(dims, "__iter__") and not isinstance(dims, str) else ())):
        dims_arg("dims", dims)
    if not _symbolic(eps):
        eps_arg("eps", eps)
    if not _symbolic(delta):
        delta_arg("delta", delta)
    if i is not None and not _symbolic(i):
        nonnegative_int("i", i, maximum=len(dims) - 2)


def depth_arg(depth):
    """A target depth (number of target layers) for ``depth_bound``: an integer ≥ 1 (or a symbol)."""
    return depth if _symbolic(depth) else nonnegative_int("depth", depth, minimum=1)


def explicit_samples(n, width_factor, count: int, target: str) -> list[int]:
    """``n=`` given instead of a width rule: one int ≥ 1 for all ``count`` layers, or a list / tuple of
    one per layer; InvalidArgumentError when ``width_factor`` is given too or the count is wrong
    (``target`` names the layers in that message, e.g. "of depth 3")."""
    if width_factor is not None:
        raise InvalidArgumentError("give either n= or width_factor=, not both")
    if isinstance(n, (list, tuple)):
        if len(n) != count:
            raise InvalidArgumentError(f"n has {len(n)} entries for a target {target}")
        return [nonnegative_int("n", v, minimum=1) for v in n]
    return [nonnegative_int("n", n, minimum=1)] * count


def rule_samples(value: float, factor: float = 1.0) -> int:
    """⌈factor · value⌉ (at least 1) for a width rule's un-rounded n, or InvalidArgumentError when it
    is not finite or above :data:`MAX_RULE_N` (a finite n is then checked against the network cap by
    the plan, which says how many weights it would hold)."""
    raw = factor * float(value)
    if not raw <= MAX_RULE_N:   # also nan
        raise InvalidArgumentError(f"n would exceed 2^53 samples per block (the rule gives {raw:.3g}"
                                   f"{'' if factor == 1 else f' with width_factor {factor:g}'}), far beyond any "
                                   "network that fits in memory: raise eps/delta, lower the constant or width_factor, "
                                   "or pass n=")
    return max(1, math.ceil(raw))


def output_dir_arg(name: str, value) -> Path:
    """``value`` as a folder a script may create and write into: it, or else its nearest existing
    ancestor, must be a writable folder (so a run does not end in an OSError after its work)."""
    folder = path_arg(name, value)
    probe = Path(os.path.abspath(folder))
    while not probe.exists():
        if probe.is_symlink():   # a dangling link: creating below it fails
            raise InvalidArgumentError(f"{name} {folder}: {probe} is a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidArgumentError(f"{name} {folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidArgumentError(f"{name} {folder}: folder {probe} is not writable")
    return folder
