"""Bounds that belong to no single construction, written once for floats and sympy symbols.

* :func:`counting_lower_bound` — Pensia et al. 2020 (arXiv:2006.07990), Theorem 2, in the
  counting form restated by later papers (stated there for square d×d maps; the rectangular form
  here is our reading of its proof): a network whose masks ε-approximate every linear
  target x ↦ Wx (W ∈ R^{d_out×d_in}, ‖W‖₂ ≤ 1) on the unit ball, for at least half of an
  ε-packing, needs m ≥ d_out·d_in·log₂(1/(2ε)) − 1 prunable weights. Derivation checked step
  by step in ``proofs/counting.py``.
* :func:`natale_lower_bound` — Natale et al. 2024 (arXiv:2410.14754), Theorem 5 (read from a
  restatement): a random network of n weights whose subnetworks of k weights approximate every
  d×d linear target needs n ≥ (d²/2)·log₂(k/ε)/H₂(k/n); :func:`natale_min_parameters` the
  smallest such n (floats). The sparse counterpart of :func:`counting_lower_bound`.
* :func:`layer_error_budget`, :func:`weight_tolerance`, :func:`weight_tolerance_heuristic` — how
  a network-level ε is split into per-layer spectral budgets and per-weight tolerances by the
  depth-2l constructions (checked in ``proofs/subset_sum.py``).
* :func:`propagate` — one step of the certified error recursion of :func:`sltheory.certificate.certify`
  (its docstring has the inequality chain; ``proofs/certificate.py`` checks it).
"""

from __future__ import annotations

from ._backend import ops
from ._checks import _symbolic, nonnegative_int, positive_float
from .errors import InvalidArgumentError


def counting_lower_bound(d_in, d_out, eps):
    """m ≥ d_in d_out log₂(1/(2ε)) − 1 prunable weights, for integers d_in, d_out ≥ 1 and
    0 < ε ≤ 1/2 (the bound is trivial, −1, at 1/2; ε ≥ 1e-300, so 1/(2ε) is finite); symbols pass.

    Pensia et al. 2020, Theorem 2 is stated (as restated by Natale et al. 2024) for square d×d
    linear maps: any pruning approximates at most one member of a 2ε-separated set, so
    |G| ≥ ½(1/(2ε))^{d²}, i.e. m ≥ d² log₂(1/(2ε)) − 1. The rectangular d_in·d_out form here is
    **our reading** of that packing proof (the same argument over d_out × d_in maps; checked in
    proofs/counting.py), not the theorem's statement."""
    for name, d in (("d_in", d_in), ("d_out", d_out)):
        if not _symbolic(d):
            nonnegative_int(name, d, minimum=1)
    if not _symbolic(eps) and positive_float("eps", eps) > 0.5:
        raise InvalidArgumentError(f"eps must be ≤ 1/2 for the counting bound (ε-packing of the unit ball), "
                                   f"got {eps!r}")
    o = ops(d_in, d_out, eps)
    return d_in * d_out * o.log2(1 / (2 * eps)) - 1


def natale_lower_bound(d_in, d_out, k, eps, n):
    """(d_in·d_out/2)·log₂(k/ε)/H₂(k/n), H₂(p) = −p log₂ p − (1−p) log₂(1−p): Natale et al. 2024
    (arXiv:2410.14754), Theorem 5, as restated: a network of n random weights whose subnetworks
    with k weights approximate every d×d linear target within ε needs n ≥ this (d² = d_in·d_out;
    the rectangular form is **our reading**, as for :func:`counting_lower_bound`). Implicit in n
    (H₂(k/n)); n·H₂(k/n) increases in n ≥ k, so the bound is a threshold:
    :func:`natale_min_parameters`. Integers 1 ≤ k < n, 0 < ε < k; symbols pass. Floats or sympy."""
    for name, d in (("d_in", d_in), ("d_out", d_out), ("k", k)):
        if not _symbolic(d):
            nonnegative_int(name, d, minimum=1)
    if not _symbolic(n) and not _symbolic(k):
        nonnegative_int("n", n, minimum=int(k) + 1)
    if not _symbolic(eps):
        positive_float("eps", eps)
        if not _symbolic(k) and not eps < k:
            raise InvalidArgumentError(f"eps must be < k for log₂(k/ε) > 0, got eps={eps!r}, k={k!r}")
    o = ops(d_in, d_out, k, eps, n)
    p = k / n
    return d_in * d_out / 2 * o.log2(k / eps) / (-p * o.log2(p) - (1 - p) * o.log2(1 - p))


def natale_min_parameters(d_in, d_out, k, eps) -> int:
    """The smallest integer n > k with n ≥ :func:`natale_lower_bound` (d_in, d_out, k, ε, n), i.e.
    n·H₂(k/n) ≥ (d_in d_out/2)·log₂(k/ε) (floats; n·H₂(k/n) increases in n, bisection)."""
    d_in = nonnegative_int("d_in", d_in, minimum=1)
    d_out = nonnegative_int("d_out", d_out, minimum=1)
    k = nonnegative_int("k", k, minimum=1)
    eps = positive_float("eps", eps)
    if not eps < k:
        raise InvalidArgumentError(f"eps must be < k for log₂(k/ε) > 0, got eps={eps!r}, k={k!r}")
    lo, hi = k, 2 * k      # n·H₂(k/n) is 0 at n = k

    def ok(m: int) -> bool:
        return m >= float(natale_lower_bound(d_in, d_out, k, eps, m))

    while not ok(hi):
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def propagate(e, g, w_norm, delta, r, R):
    """One layer of the certificate: (Δ_i, r_i, R_i) from (Δ_{i−1}, r_{i−1}, R_{i−1}).

    e = ‖G_i − W_i‖ (on the layer's input domain), g = ‖G_i‖, w_norm = ‖W_i‖;
    Δ_i = min(e r + ‖W‖ Δ, e R + g Δ), R_i = ‖W‖ R, r_i = min(g r, R_i + Δ_i).
    """
    o = ops(e, g, w_norm, delta, r, R)
    new_delta = o.min(e * r + w_norm * delta, e * R + g * delta)
    new_R = w_norm * R
    return new_delta, o.min(g * r, new_R + new_delta), new_R


def layer_error_budget(eps, depth):
    """e with (1 + e)^l = 1 + ε: if every ‖G_i − W_i‖ ≤ e and ‖W_i‖ ≤ 1 the error is ≤ ε."""
    return (1 + eps) ** (ops(eps, depth).one / depth) - 1


def weight_tolerance(budget, d_in_eff, d_out):
    """Per-weight error that guarantees ‖E‖₂ ≤ ‖E‖_F ≤ budget for a d_out × d_in_eff error E."""
    return budget / ops(budget, d_in_eff, d_out).sqrt(d_in_eff * d_out)


def weight_tolerance_heuristic(budget, d_in_eff, d_out):
    """Random-matrix tolerance: ‖E‖₂ ≈ τ (√d_in' + √d_out) for independent entries of size ≤ τ."""
    o = ops(budget, d_in_eff, d_out)
    return budget / (o.sqrt(d_in_eff) + o.sqrt(d_out))
