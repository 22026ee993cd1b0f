"""Certified sup-norm distance between two arbitrary ReLU MLPs (a ticket g and its target f).

:func:`certify_networks` bounds sup_{x ∈ D} ‖f(x) − g(x)‖₂ for any two fully connected ReLU
networks with the same input and output dimension, any depths and widths, with or without biases,
over a domain D (:class:`~sltheory.domains.Box` or :class:`~sltheory.domains.Ball`), both networks
evaluated in float64 (their rounding included). It knows nothing of how g was found (edge-popup,
sign-α weights, a construction): it gets two lists of layers. Unlike
:func:`sltheory.certificate.bound.certify` it needs no layer-to-layer correspondence between g and f,
and pays for that generality: tight on low-dimensional inputs (after input splitting), sound but
loose on high-dimensional ones (there both networks' ReLUs are relaxed independently, so the bound
is of the order of their own variation over D, not of their difference).

Networks
--------
``layers = [(W_1, b_1), …, (W_L, b_L)]`` (b_i = 0 for a layer without one):

    z_i = W_i h_{i−1} + b_i,   h_i = σ(z_i) (i < L),   h_0 = x,   f(x) = z_L        (σ = ReLU)

Relaxation (joint linear bounds, CROWN-style)
---------------------------------------------
All sups are over a sub-domain X of D (a leaf of the input splitting below; X = D at first).

*1. Pre-activation bounds of every hidden layer, network by network (forward symbolic intervals).*
Hold affine functions of x bounding each hidden pre-activation, ``ZL x + zl ≤ z_i(x) ≤ ZU x + zu``
on X (layer 1: ZL = ZU = W_1, exact), concretised to numbers l ≤ z_i ≤ u (below). Through σ, per
neuron: stable active (l ≥ 0): h = z; stable inactive (u ≤ 0): h = 0; unstable (l < 0 < u):

    α z ≤ σ(z) ≤ s z + β   on [l, u],   s = u/(u − l),   β ≥ max(−s l, (1 − s) u),   α ∈ {0, 1}

(σ is convex, so the chord dominates it on [l, u] as soon as it does at both ends — which the β
above ensures for whatever s the division returned; σ(z) ≥ 0 and σ(z) ≥ z give the lower line;
α = 1 iff u ≥ −l, DeepPoly's choice). With s, α ≥ 0 this turns the bounds on z_i into affine bounds
``HL x + hl ≤ h_i ≤ HU x + hu``, and ``z_{i+1} = W h_i + b`` with W = W⁺ − W⁻ gives

    (W⁺ HL − W⁻ HU) x + (W⁺ hl − W⁻ hu + b) ≤ z_{i+1} ≤ (W⁺ HU − W⁻ HL) x + (W⁺ hu − W⁻ hl + b),

computed as W Hc ∓ |W| Hr with Hc = (HL + HU)/2, Hr = (HU − HL)/2 (the same matrices, by algebra:
two products of an n × n' matrix with an n' × d one per layer, d the input dimension, which is what
makes wide layers cheap). Each neuron's [l, u] is the tighter of this *symbolic* interval and plain
interval arithmetic (W⁺ σ(l) − W⁻ σ(u) + b ≤ z_{i+1} ≤ W⁺ σ(u) − W⁻ σ(l) + b). From the third
hidden layer on, the symbolic interval carries separate lower and upper functions through several
relaxations and loosens with depth; when it costs at most :data:`CROWN_FLOPS_PER_LEAF` flops per
leaf (narrow deep networks), each such layer's bounds are also computed by back-substitution (the
backward pass of step 2 with the rows ±W_{i+1}, through the relaxations already fixed below it),
and the tighter interval is kept (on 2-D inputs, depth 6–8, widths ≤ 60: from 10–20× the true
maximum after 256 leaves to within 0.2 %).

*2. The output difference, backward (CROWN) on the JOINT network.* For each output j the row
``f_j − g_j = W_L[j]·h^f_{L−1} + b_L[j] − W'_M[j]·h^g_{M−1} − b'_M[j]`` is a linear form in the two
last hidden layers. Its upper bound (and that of −(f_j − g_j), for the lower one) is pushed back
through each network separately: a coefficient vector λ on h_i becomes one on z_i through
``λ·h ≤ (λ⁺ ⊙ s − λ⁻ ⊙ α)·z + λ⁺·β`` (the upper line where λ_k > 0, the lower one where λ_k < 0),
then ``λ'·z_i = (λ' W_i)·h_{i−1} + λ'·b_i``, down to h_0 = x. The two networks' results are
*added* before concretisation: ``f_j − g_j ≤ (A^f + A^g) x + C^f + C^g``, so what f and g share
(the same linear response to x) cancels instead of being bounded twice. If the two networks begin
with the same layers (bit for bit), the two passes are added on the last shared hidden layer and
go on as one, so the shared part cancels before any of its ReLUs is relaxed; two identical
networks get relaxation bound 0 (f − g ≡ 0) and only the float slack. This pass costs 2·d_out rows
× Σ n_i n_{i−1}, far below step 1.

*Concretisation.* sup_{x ∈ Box[lo, hi]} a·x + c = c + Σ_j (a_j⁺ hi_j − a_j⁻ lo_j) (exact);
sup_{‖x‖₂ ≤ r} a·x + c = c + r ‖a‖₂. Per output, l_j ≤ (f − g)_j ≤ u_j on X.

*3. ‖f − g‖₂ over X* — the smallest of the sound bounds that apply:

(a) ``√(Σ_j max(l_j², u_j²))`` (t² is convex: its max over [l_j, u_j] is at an end);
(b) boxes with d ≤ :data:`VERTEX_MAX_DIM` and d_out ≥ 2: with U_j(x) ≥ y_j ≥ L_j(x) the affine
    bounds of step 2, ``φ(x) = Σ_j max(L_j(x)², U_j(x)²)`` is convex and ≥ ‖y(x)‖², so its max over
    the box is at one of the 2^d vertices (exact for two affine networks on a box);
(c) d_out ≥ 2, X inside a ball (centre c, radius ρ: the domain's ball, or the leaf box's
    circumscribed one): with M, m the midpoints of the two affine bounds, ``|y − (Mx + m)| ≤ w``
    entrywise (w_j the concretised half-width), so ‖y‖ ≤ sup_{‖z‖≤ρ} ‖Mz + m'‖ + ‖w‖ (m' = m + Mc),
    and for every t > 0, ``‖Mz + m'‖ = ‖[M, m'/t] [z; t]‖ ≤ σ_max([M, m'/t]) √(ρ² + t²)``. The minimum
    over t is the S-lemma value of max ‖Mz + m'‖ over the ball, i.e. exact (ρ‖M‖₂ when m' = 0); t is
    found by a golden-section search, and any t is valid, so the search needs no proof;
(d) Lipschitz: ``‖(f − g)(c)‖ + L ρ`` for a point c of D near the leaf's centre and ρ ≥ sup_{x∈X}
    ‖x − c‖, with L = (Π‖W^f_i‖₂ + Π‖W^g_i‖₂) (over the unshared layers, times the shared ones')
    (σ is 1-Lipschitz). Spectral norms by :func:`sltheory.targets.spectral_norm` (LAPACK × (1 + 10⁻¹²)
    below 512, the verified Gram/Cholesky bound above), skipped when they would cost more than
    :data:`LIPSCHITZ_FLOPS_PER_SECOND` × ``time_budget`` flops. On wide networks in high dimension
    this is often the smallest of the four; it shrinks only linearly with the leaf.

Input splitting (branch and bound)
----------------------------------
The domain's bounding box (for ``Ball(r)``: [−r, r]^d) is split in halves, best first: each round
takes the leaves with the largest bounds (those above the midpoint between the largest error seen
and the worst bound) and halves each along the coordinate of largest ``width_j × Σ_rows |A_{row j}|``
(A the final affine coefficients: the coordinate the bound depends on most; it beats the widest
coordinate in 3-D). A child never exceeds its parent (its region lies in its parent's, so the
parent's output intervals and norm bound hold there too: each is intersected with them). The
certified value is the max over the leaves, sound whenever splitting stops: after ``max_splits``
leaves, when ``time_budget`` seconds have passed (checked between rounds, the next round sized by
the last one's cost per leaf; the first bound is always computed), when the worst leaf cannot be
split, or when the worst leaf is within :data:`RELATIVE_GAP` (plus the float slack) of the largest
error *seen*: ‖f − g‖ evaluated at random points of D, at the leaves' centres and at the points
where each leaf's affine bounds peak (then the bound is tight). **Ball domains**: every leaf is
X = box ∩ ball; each affine function is concretised over the box and over the ball and the smaller
is taken (both contain X); a leaf box lying wholly outside the ball (its nearest point farther than
r (1 + 10⁻⁹)) is dropped. The root's ball concretisation is the smaller one in high dimension, so
splitting only adds where boxes help, in low dimension.

Floating point
--------------
(a) *The networks' evaluation.* The bound above is on the exact (real) maps of the float64 weights.
Each network evaluated in float64 is within :func:`sltheory.certificate.bound.float_slack_affine`
(its ``matrices``, ``biases``, radius = ``domain.radius_for(d)``) of its exact map on D, so
``error_bound = relaxation_bound + slack(f) + slack(g)`` bounds ‖fl(f)(x) − fl(g)(x)‖₂ (and
‖f(x) − g(x)‖₂) on D (the sum rounded up). Bound (d) evaluates f − g at c ∈ D in float64 and adds
the same two slacks to reach the exact maps.

(b) *This module's own arithmetic.* Every stored affine bound is claimed *exactly*: the float
arrays (A, c) it holds satisfy the inequality in real arithmetic for every x ∈ X. A float64 product
of matrices with inner dimension K is within γ_K |P||Q| entrywise of the exact one (Higham, Thm 3.5;
γ_K = K u/(1 − K u), u = 2⁻⁵³ = :data:`~sltheory._linalg.UNIT_ROUNDOFF`), whatever the summation
order (BLAS blocking and FMA included). So a computed coefficient matrix Â with |Â − A| ≤ γ |P||Q|
satisfies, on X ⊂ {|x| ≤ m} (m_j = max(|lo_j|, |hi_j|) of the leaf box),

    A x ≥ Â x − γ (|P| (|Q| m))        ((|P||Q|) m = |P| (|Q| m): two matrix-vector products),

and the constant term is moved down (or up) by that amount plus the constant's own γ-bound. In
step 1 the centre/radius form adds the rounding of Hc and Hr (≤ u|Hc|, u|Hr|) to the product's:
|computed − (W⁺HL − W⁻HU)| ≤ γ_{n'+3} |W| (|HL| + |HU|) (|Hc| + |Hr| = max(|HL|, |HU|)). Each such
error term is computed in float64 from nonnegative numbers (relative error ≤ γ_{3K} ≪ 1/2) and
counted twice (factor 2), which covers its own rounding; the final move is
``nextafter(fl(c − e), −∞)`` (round-to-nearest puts fl(c − e) within half an ulp of c − e, so the
next float down is ≤ c − e), resp. upward. The relaxation lines: s is a computed quotient, β is
rounded up with a margin 8u(|l| + |u|) (≥ the few roundings of −s l and (1 − s) u), α ∈ {0, 1}
is exact. Backward, the coefficients λ' (one product per entry), λ' W (inner dimension n) and the
constants' dot products get the same γ-terms with |z_i| ≤ max(|l|, |u|), 0 ≤ h_i ≤ σ(u), |x| ≤ m.
Concretisation over a box: Σ_j max(a_j lo_j, a_j hi_j) + c is within γ_{d+2}(|a| m + |c|); over a
ball, ‖a‖₂ ≤ s √(fl(Σ (a_j/s)²)(1 + 2γ_{d+2}))(1 + 8u) with s = max_j |a_j| (the scaling keeps
the squares from overflowing, and their underflow inside γ as Σ (a_j/s)² ≥ 1). Norms of output
intervals and vertex values are rounded up the same way; σ_max² in (c) is bounded by λ_max(Ĝ) of
the computed Gram matrix Ĝ = fl(N Nᵀ) plus 16 k u ‖Ĝ‖_F (LAPACK's symmetric eigenvalue error, the
convention of :mod:`.sprocedure`) plus γ_{d+3} ‖|N||N|ᵀ‖_F (the Gram's rounding), and the rounding
of m'/t and of the shift m + Mc is added to w. A non-finite intermediate (overflow) makes its
leaf's bound +∞ (sound, vacuous), and so does an overflow in evaluating the networks themselves
(outside the float-slack model); in a Ball domain, a leaf where some neuron's certified lower bound
exceeds its upper bound holds no point of D and is dropped.
These terms are ~10⁻¹³ relative: the relaxation, not the rounding, sets the gap.

Range
-----
All of (a) and (b) is relative error analysis: it holds while no intermediate value underflows to a
subnormal or to 0 (which loses absolute accuracy no relative term sees; an independent attack built
f = 10⁻¹⁶⁰·… chains whose float slack vanished that way) and no square or sum overflows (a Ball of
radius 10²⁰⁰ dropped leaves whose distance² overflowed). So :func:`certify_networks` first checks a
sufficient condition (:func:`_out_of_range`): every nonzero weight, bias and domain bound in
[10⁻³⁰, 10³⁰], each network's smallest nonzero magnitude to the power of its depth times the smallest
nonzero domain bound ≥ 10⁻²⁰⁰, and each network's activation bound H_t = ‖|W_t|‖ H_{t−1} + ‖b_t‖
(H_0 the radius) ≤ 10¹⁰⁰. Outside it the certificate is +∞ (``method="out_of_range"``, ``stopped``
says why): nothing is certified rather than something wrong.

Narrow networks (widest layer ≤ :data:`SINGLE_THREAD_WIDTH`) are certified on one BLAS thread
(many small products: faster, and immune to busy cores).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._linalg import UNIT_ROUNDOFF, gamma
from ..domains import Ball, Box, Domain, as_domain
from ..errors import CertificateError, InvalidArgumentError
from ..targets import spectral_norm
from .bound import float_slack_affine
from .sprocedure import _single_thread

__all__ = ["NetworksCertificate", "RELATIVE_GAP", "VERTEX_MAX_DIM", "certify_networks"]

#: Splitting stops once the worst leaf's bound is within this relative gap of the largest error seen.
RELATIVE_GAP = 1e-3
#: Largest input dimension for which the ℓ2 step enumerates a leaf box's 2^d vertices (bound (b)).
VERTEX_MAX_DIM = 8
#: Leaves evaluated at once are capped so that (leaves × widest layer × input dim) stays below this
#: (the forward pass holds ~10 float64 arrays of that size).
CHUNK_ENTRIES = 2_000_000
#: Golden-section iterations of the ℓ2 bound (c) (any t is valid; these only tighten it).
GOLDEN_STEPS = 40
#: Points at which the two networks are evaluated at the root (the "error seen", a stopping rule).
ROOT_SAMPLES = 256
#: Flops spent evaluating the two networks at those points (fewer points for big networks).
SAMPLE_FLOPS = 2e9
#: The Lipschitz bound's spectral norms are computed when they cost at most this many flops per
#: second of ``time_budget`` (else that bound is skipped).
LIPSCHITZ_FLOPS_PER_SECOND = 5e9
#: Intermediate bounds of hidden layers ≥ 3 are also back-substituted (CROWN) when that costs at
#: most this many flops per leaf and network (narrow deep networks: much tighter than step 1 alone).
CROWN_FLOPS_PER_LEAF = 2e7
#: Networks whose widest layer has at most this many units are certified on one BLAS thread.
SINGLE_THREAD_WIDTH = 1024

U = UNIT_ROUNDOFF


@dataclass(frozen=True)
class NetworksCertificate:
    """A certified bound on sup_{x ∈ domain} ‖f(x) − g(x)‖₂, both networks evaluated in float64.

    ``error_bound``: the certified bound (relaxation + float slack, rounded up);
    ``relaxation_bound``: the bound on the exact maps of the float64 weights (the max over the
    leaves); ``float_slack``: the two networks' evaluation rounding on the domain;
    ``splits``: the number of sub-domains (leaves) the bound is the max over;
    ``sampled_error``: the largest ‖f(x) − g(x)‖₂ seen at the points evaluated (leaf centres and a
    few samples: a lower estimate of the sup, not certified); ``output_bounds``: per output j,
    (l_j, u_j) with l_j ≤ (f − g)_j ≤ u_j on the domain (exact maps); ``stopped``: why splitting
    stopped ("tight", "max_splits", "time_budget", "unsplittable"); ``domain``: the domain's
    ``spec()``; ``seconds``: the time taken.
    """

    error_bound: float
    relaxation_bound: float
    float_slack: float
    method: str = "symbolic"
    splits: int = 1
    domain: dict | None = None
    precision: str = "float64"
    seconds: float = 0.0
    sampled_error: float = 0.0
    output_bounds: tuple[tuple[float, float], ...] = ()
    stopped: str = ""


# ----------------------------------------------------------------------------- networks
@dataclass(frozen=True)
class _Net:
    """One network's dense float64 layers and the derived |W|, W⁺, W⁻ (exact in float)."""

    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]          # zeros where the layer has no bias
    given_b: tuple[np.ndarray | None, ...]
    Wp: tuple[np.ndarray, ...]
    Wn: tuple[np.ndarray, ...]
    Wabs: tuple[np.ndarray, ...]
    babs: tuple[np.ndarray, ...]
    crown: bool = False                # intermediate bounds also by back-substitution (step 1)

    @property
    def depth(self) -> int:
        return len(self.W)

    @property
    def widest(self) -> int:
        return max(W.shape[0] for W in self.W)

    def crown_cost(self) -> tuple[int, int]:
        """(flops, largest array) per leaf of the back-substituted intermediate bounds (step 1)."""
        flops = big = 0
        for h in range(2, self.depth - 1):  # hidden layer h ≥ 2 (0-based): 2 n_h rows through layers < h
            rows = 2 * self.W[h].shape[0]
            flops += rows * sum(W.size for W in self.W[:h])
            big = max(big, rows * max(W.shape[1] for W in self.W[:h + 1]))
        return flops, big

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The network on the rows of X (float64)."""
        h = X.T
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            h = W @ h + b[:, None]
            if i < self.depth - 1:
                h = np.maximum(h, 0.0)
        return h.T


def _matrix(value, what: str) -> np.ndarray:
    if sp.issparse(value):
        value = value.toarray()
    if hasattr(value, "detach"):        # a torch tensor
        value = value.detach().cpu().numpy()
    if np.iscomplexobj(value):
        raise CertificateError(f"{what} is complex; the certificate compares real networks")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CertificateError(f"{what} cannot be read as a float64 array: {exc}") from None
    if not np.all(np.isfinite(arr)):
        raise CertificateError(f"{what} has non-finite values (nan or inf)")
    return arr


def _network(layers, name: str) -> _Net:
    """Checked, dense float64 layers of one network (CertificateError naming the layer)."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
        raise CertificateError(f"{name} must be a non-empty list of (W, b) layers, got {layers!r:.80}")
    Ws: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    given: list[np.ndarray | None] = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise CertificateError(f"{name}[{i}] must be a pair (W, b) (b may be None), got {type(layer).__name__}")
        W = _matrix(layer[0], f"{name}[{i}] W")
        if W.ndim != 2 or 0 in W.shape:
            raise CertificateError(f"{name}[{i}] W must be a non-empty 2-D array (out, in), got shape {W.shape}")
        if Ws and W.shape[1] != Ws[-1].shape[0]:
            raise CertificateError(f"{name}[{i}] W takes {W.shape[1]} inputs but {name}[{i - 1}] has "
                                   f"{Ws[-1].shape[0]} outputs")
        b = layer[1]
        if b is not None:
            b = _matrix(b, f"{name}[{i}] b")
            if b.shape != (W.shape[0],):
                raise CertificateError(f"{name}[{i}] b must have shape ({W.shape[0]},), got {b.shape}")
        Ws.append(W)
        given.append(b)
        bs.append(np.zeros(W.shape[0]) if b is None else b)
    return _Net(W=tuple(Ws), b=tuple(bs), given_b=tuple(given),
                Wp=tuple(np.maximum(W, 0.0) for W in Ws), Wn=tuple(np.maximum(-W, 0.0) for W in Ws),
                Wabs=tuple(np.abs(W) for W in Ws), babs=tuple(np.abs(b) for b in bs))


# ----------------------------------------------------------------------------- rounding helpers
def _up(v, e):
    """A float ≥ v + e (exactly), for floats v and e ≥ 0."""
    return np.nextafter(v + e, np.inf)


def _down(v, e):
    """A float ≤ v − e (exactly), for floats v and e ≥ 0."""
    return np.nextafter(v - e, -np.inf)


def _norm_up(A):
    """Upper bound on ‖·‖₂ of A along its last axis (module docstring, *Floating point*): scaled by
    the largest entry s, ‖A‖ ≤ s √(fl(Σ (A/s)²)(1 + 2γ_{k+2})) (1 + 8u) (the division rounds each
    entry by ≤ u; Σ (A/s)² ≥ 1, so the squares' underflow, ≤ k 2⁻¹⁰⁷⁴, is inside γ)."""
    k = A.shape[-1]
    top = np.abs(A).max(axis=-1, keepdims=True) if k else np.zeros(A.shape[:-1] + (1,))
    scale = np.where(top > 0, top, 1.0)
    w = A / scale
    return scale[..., 0] * np.sqrt((w * w).sum(axis=-1) * (1 + 2 * gamma(k + 2))) * (1 + 8 * U)


def _box_sup(A, c, lo, hi, m):
    """Upper bound on sup_{lo ≤ x ≤ hi} A x + c, A (..., d), c (...); lo, hi, m broadcast to A."""
    d = A.shape[-1]
    v = np.maximum(A * lo, A * hi).sum(axis=-1) + c
    e = (np.abs(A) * m).sum(axis=-1) + np.abs(c)
    return _up(v, 2 * gamma(d + 2) * e)


def _ball_sup(A, c, r):
    """Upper bound on sup_{‖x‖₂ ≤ r} A x + c."""
    return _up(c, r * _norm_up(A) * (1 + 4 * U))


# ----------------------------------------------------------------------------- step 1: forward
@dataclass
class _Layer:
    lb: np.ndarray      # (n, B) certified bounds on the pre-activation
    ub: np.ndarray
    s: np.ndarray       # upper line slope, intercept β, lower slope α (n, B)
    beta: np.ndarray
    alpha: np.ndarray


def _relax(lb, ub):
    active = lb >= 0
    unstable = ~active & (ub > 0)
    s = np.where(active, 1.0, np.where(unstable, ub / np.where(unstable, ub - lb, 1.0), 0.0))
    raw = np.maximum(-s * lb, (1 - s) * ub)
    beta = np.where(unstable, _up(raw, 8 * U * (np.abs(lb) + np.abs(ub)) + 1e-300), 0.0)
    alpha = np.where(active | (unstable & (ub >= -lb)), 1.0, 0.0)
    return s, beta, alpha


def _forward(net: _Net, lo, hi, m, r):
    """Certified pre-activation bounds and relaxations of every hidden layer of ``net`` on the B
    leaves (lo, hi, m: (B, d); r: the ball radius or None). Returns (layers, bad, empty), the last
    two (B,) flags: a non-finite bound, an empty leaf."""
    B, d = lo.shape
    layers: list[_Layer] = []
    bad = np.zeros(B, dtype=bool)
    empty = np.zeros(B, dtype=bool)
    if net.depth == 1:
        return layers, bad, empty
    W, b = net.W[0], net.b[0]
    e = 2 * gamma(d + 2) * (net.Wabs[0] @ m.T + net.babs[0][:, None])
    ub = _up(net.Wp[0] @ hi.T - net.Wn[0] @ lo.T + b[:, None], e)
    lb = _down(net.Wp[0] @ lo.T - net.Wn[0] @ hi.T + b[:, None], e)
    if r is not None:
        rn = r * _norm_up(W) * (1 + 4 * U)
        ub = np.minimum(ub, _up(b, rn)[:, None])
        lb = np.maximum(lb, _down(b, rn)[:, None])
    ZL = ZU = np.broadcast_to(W[:, None, :], (W.shape[0], B, d))
    zl = zu = np.broadcast_to(b[:, None], (W.shape[0], B))
    for i in range(net.depth - 1):
        fin = np.isfinite(lb) & np.isfinite(ub)
        bad |= ~fin.all(axis=0)
        empty |= (lb > ub).any(axis=0)
        lb, ub = np.where(fin, lb, -1.0), np.where(fin, ub, 1.0)
        s, beta, alpha = _relax(lb, ub)
        layers.append(_Layer(lb, ub, s, beta, alpha))
        if i == net.depth - 2:
            break
        # h_i: alpha ZL x + alpha zl ≤ h ≤ s ZU x + s zu + β (upper: one rounding per entry)
        PU = s[:, :, None] * ZU
        aPU = (np.abs(PU) * m).sum(axis=-1)
        szu = s * zu
        pu = _up(szu + beta, 2 * (U * aPU + gamma(2) * (np.abs(szu) + beta)))
        PL = alpha[:, :, None] * ZL
        pl = alpha * zl
        aPL = (np.abs(PL) * m).sum(axis=-1)
        # z_{i+1} = W h_i + b: W⁺PL − W⁻PU = W Pc − |W| Pr and W⁺PU − W⁻PL = W Pc + |W| Pr with
        # Pc = (PL + PU)/2, Pr = (PU − PL)/2: two products instead of four
        W, b, Wp, Wn, Wabs, babs = (net.W[i + 1], net.b[i + 1], net.Wp[i + 1], net.Wn[i + 1], net.Wabs[i + 1],
                                    net.babs[i + 1])
        n, k = W.shape
        Yc = W @ (0.5 * (PL + PU)).reshape(k, B * d)
        Yr = Wabs @ (0.5 * (PU - PL)).reshape(k, B * d)
        ZL = (Yc - Yr).reshape(n, B, d)
        ZU = (Yc + Yr).reshape(n, B, d)
        del Yc, Yr
        g = 2 * gamma(k + 3)
        eZ = Wabs @ (aPL + aPU)                     # (|Pc| + |Pr| = max(|PL|, |PU|) ≤ |PL| + |PU|)
        zl = _down(Wp @ pl - Wn @ pu + b[:, None], g * (eZ + Wp @ np.abs(pl) + Wn @ np.abs(pu) + babs[:, None]))
        zu = _up(Wp @ pu - Wn @ pl + b[:, None], g * (eZ + Wp @ np.abs(pu) + Wn @ np.abs(pl) + babs[:, None]))
        new_lb = -_box_sup(-ZL, -zl, lo, hi, m)
        new_ub = _box_sup(ZU, zu, lo, hi, m)
        if r is not None:
            new_lb = np.maximum(new_lb, -_ball_sup(-ZL, -zl, r))
            new_ub = np.minimum(new_ub, _ball_sup(ZU, zu, r))
        hl, hu = np.maximum(lb, 0.0), np.maximum(ub, 0.0)
        eI = g * (net.Wabs[i + 1] @ hu + babs[:, None])        # ≥ γ(W⁺ hl + W⁻ hu + |b|), both ways
        lb = np.maximum(new_lb, _down(Wp @ hl - Wn @ hu + b[:, None], eI))
        ub = np.minimum(new_ub, _up(Wp @ hu - Wn @ hl + b[:, None], eI))
        if net.crown and i >= 1:    # back-substitution (CROWN) through the relaxed layers i, …, 1
            lam = np.broadcast_to(np.concatenate([W, -W]), (B, 2 * n, k))
            C = np.broadcast_to(np.concatenate([b, -b]), (B, 2 * n)).copy()
            A, C, E = _backward(net, layers, lam, C, np.zeros((B, 2 * n)), m, i, 0)
            C = _up(C, 2 * E)
            sup = _box_sup(A, C, lo[:, None], hi[:, None], m[:, None])
            if r is not None:
                sup = np.minimum(sup, _ball_sup(A, C, r))
            ub = np.minimum(ub, sup[:, :n].T)
            lb = np.maximum(lb, -sup[:, n:].T)
    return layers, bad, empty


# ----------------------------------------------------------------------------- step 2: backward
def _backward(net: _Net, layers: list[_Layer], lam, C, E, m, top: int, stop: int):
    """Push R affine upper bounds ``form ≤ lam · h_top + C + 2E`` (lam (B, R, n_top)) back through
    hidden layers top, top − 1, …, stop of ``net``: returns (lam, C, E) with lam on h_{stop−1}
    (h_{−1} = x), the rounding of each step added to E (module docstring, *Floating point*)."""
    for i in range(top, stop - 1, -1):
        lay = layers[i]
        lp, ln = np.maximum(lam, 0.0), np.maximum(-lam, 0.0)
        lz = lp * lay.s.T[:, None, :] - ln * lay.alpha.T[:, None, :]      # (B, R, n): one rounding
        absz = np.abs(lz)
        zmax = np.maximum(np.abs(lay.lb), np.abs(lay.ub)).T[:, :, None]   # (B, n, 1) ≥ |z_i|
        add_beta = (lp @ lay.beta.T[:, :, None])[:, :, 0]
        add_b = lz @ net.b[i]
        n = lz.shape[-1]
        hmax = m.T if i == 0 else np.maximum(layers[i - 1].ub, 0.0)      # (n_prev, B) ≥ |h_{i−1}|
        WH = (net.Wabs[i] @ hmax).T[:, :, None]                          # (B, n, 1)
        E = E + (U * (absz @ zmax)[:, :, 0] + gamma(n + 2) * (np.abs(C) + add_beta + absz @ net.babs[i])
                 + gamma(n) * (absz @ WH)[:, :, 0])
        C = C + add_beta + add_b
        lam = lz @ net.W[i]
    return lam, C, E


def _shared_prefix(f: _Net, g: _Net) -> int:
    """How many leading layers f and g have in common (same W and b, bit for bit)."""
    p = 0
    for Wf, bf, Wg, bg in zip(f.W, f.b, g.W, g.b):
        if Wf.shape != Wg.shape or not (np.array_equal(Wf, Wg) and np.array_equal(bf, bg)):
            break
        p += 1
    return p


def _joint(f: _Net, g: _Net, lo, hi, m, r, shared: int):
    """Affine bounds on ±(f − g) over each leaf: (A (B, 2k, d), C (B, 2k), bad, empty), rows
    j < k: f_j − g_j ≤ A x + C; rows k + j: g_j − f_j ≤ A x + C (exactly, on the leaf). The first
    ``shared`` hidden layers are common to both networks: the two backward passes are added on
    the last of them and continue as one (what the two networks share cancels before any ReLU of
    the shared part is relaxed)."""
    B = lo.shape[0]
    lf, bad_f, emp_f = _forward(f, lo, hi, m, r)
    lg, bad_g, emp_g = _forward(g, lo, hi, m, r)
    Wf, bf, Wg, bg = f.W[-1], f.b[-1], g.W[-1], g.b[-1]
    R = 2 * Wf.shape[0]

    def start(rows, consts):
        return np.broadcast_to(rows, (B,) + rows.shape), np.broadcast_to(consts, (B, R)).copy(), np.zeros((B, R))

    lam, C0, E0 = start(np.concatenate([Wf, -Wf]), np.concatenate([bf, -bf]))
    Af, Cf, Ef = _backward(f, lf, lam, C0, E0, m, f.depth - 2, shared)
    lam, C0, E0 = start(np.concatenate([-Wg, Wg]), np.concatenate([-bg, bg]))
    Ag, Cg, Eg = _backward(g, lg, lam, C0, E0, m, g.depth - 2, shared)
    A = Af + Ag
    C = Cf + Cg
    E = Ef + Eg + U * np.abs(C)
    if shared:      # A is on h_{shared−1}, 0 ≤ h ≤ σ(u): the sum's rounding, then the common layers
        hmax = np.maximum(lf[shared - 1].ub, 0.0).T[:, :, None]
        E = E + U * (np.abs(A) @ hmax)[:, :, 0]
        A, C, E = _backward(f, lf, A, C, E, m, shared - 1, 0)
    else:
        E = E + U * (np.abs(A) @ m[:, :, None])[:, :, 0]
    C = _up(C, 2 * E)
    return np.ascontiguousarray(A), C, bad_f | bad_g, emp_f | emp_g


# ----------------------------------------------------------------------------- step 3: ‖·‖₂
def _lam_max_up(N):
    """Upper bound on σ_max(N)² for a batch N (B, k, p) (module docstring, bound (c))."""
    k, p = N.shape[-2], N.shape[-1]
    G = N @ np.swapaxes(N, -1, -2)
    Na = np.abs(N)
    Ga = Na @ np.swapaxes(Na, -1, -2)
    ok = np.isfinite(G).all(axis=(-1, -2)) & np.isfinite(Ga).all(axis=(-1, -2))     # else overflow: +∞
    lam = np.where(ok, np.linalg.eigvalsh(np.where(ok[..., None, None], G, 0.0))[..., -1], np.inf)
    frob = np.sqrt((G * G).sum(axis=(-1, -2)))
    froba = np.sqrt((Ga * Ga).sum(axis=(-1, -2)))
    return (lam + (16 * k * U * frob + gamma(p + 2) * froba) * (1 + 1e-6)) * (1 + 8 * U) + 1e-300


def _ball_l2(M, mm, w, rho):
    """Upper bound on sup_{‖z‖≤ρ} ‖M z + mm‖ + ‖w‖ for batches M (B, k, d), mm (B, k), w (B, k)
    (w ≥ 0), rho (B,): bound (c), golden section on log t."""
    centre = np.log(np.maximum(rho, 1e-300))
    lo_t, hi_t = centre - 40.0, centre + 40.0

    def value(logt):
        t = np.exp(logt)
        q = mm / t[:, None]
        N = np.concatenate([M, q[:, :, None]], axis=-1)
        lam = _lam_max_up(N)
        resid = U * np.sqrt((mm * mm).sum(axis=-1)) * 2      # ‖mm − t q‖ (q = fl(mm/t))
        return np.sqrt(lam * (rho * rho + t * t) * (1 + 4 * U)) * (1 + 4 * U) + resid * (1 + 4 * U) + 1e-300

    phi = (math.sqrt(5) - 1) / 2
    a, b = lo_t.copy(), hi_t.copy()
    c1, c2 = b - phi * (b - a), a + phi * (b - a)
    v1, v2 = value(c1), value(c2)
    for _ in range(GOLDEN_STEPS):
        left = v1 < v2
        b = np.where(left, c2, b)
        a = np.where(left, a, c1)
        nc1, nc2 = b - phi * (b - a), a + phi * (b - a)
        c1, c2 = nc1, nc2
        v1, v2 = value(c1), value(c2)
    best = np.minimum(v1, v2)
    return _up(best, _norm_up(w) * (1 + 4 * U)) * (1 + 4 * U)


def _l2_bounds(A, C, yl, yu, lo, hi, m, r):
    """Sound upper bounds on sup ‖f − g‖₂ over each leaf (B,): the smallest of (a), (b), (c)."""
    B, R, d = A.shape
    k = R // 2
    best = _norm_up(np.maximum(np.abs(yl), np.abs(yu)))      # (a)
    if k < 2:
        return best
    Au, Cu, Al, Cl = A[:, :k], C[:, :k], A[:, k:], C[:, k:]
    if d <= VERTEX_MAX_DIM:                                   # (b)
        V = ((np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)   # (2^d, d)
        P = np.where(V[None], hi[:, None, :], lo[:, None, :])                          # (B, 2^d, d)
        vals = A @ np.swapaxes(P, -1, -2) + C[:, :, None]                              # (B, R, 2^d)
        err = 2 * gamma(d + 2) * ((np.abs(A) @ m[:, :, None]) + np.abs(C)[:, :, None])
        vals = np.maximum(np.abs(vals) + err * (1 + 4 * U), 0.0)
        vert = _norm_up(np.swapaxes(np.maximum(vals[:, :k], vals[:, k:]), -1, -2)).max(axis=-1)
        best = np.minimum(best, vert)
    # (c): y ≤ Au x + Cu, y ≥ −(Al x + Cl); midpoint M x + mm
    M = (Au - Al) * 0.5
    mm = (Cu - Cl) * 0.5
    D1, d1 = Au - M, Cu - mm                  # y − (Mx + mm) ≤ D1 x + d1
    D2, d2 = Al + M, Cl + mm                  # (Mx + mm) − y ≤ D2 x + d2
    # the subtractions round: |D − exact| ≤ u|D|(1 + u) entrywise, same for d (counted in e1, e2)
    e1 = 2 * U * ((np.abs(D1) @ m[:, :, None])[:, :, 0] + np.abs(d1))
    e2 = 2 * U * ((np.abs(D2) @ m[:, :, None])[:, :, 0] + np.abs(d2))
    balls = []
    # the leaf box's circumscribed ball: centre cen, radius ρ
    cen = 0.5 * lo + 0.5 * hi
    half = np.maximum(np.nextafter(hi - cen, np.inf), np.nextafter(cen - lo, np.inf))   # ≥ |x − cen| on the box
    rho_box = _norm_up(half) * (1 + 4 * U)
    balls.append((cen, rho_box))
    if r is not None:
        balls.append((np.zeros_like(lo), np.full(B, float(r))))
    w_box = np.maximum(_box_sup(D1, d1, lo[:, None], hi[:, None], m[:, None]) + e1,
                       _box_sup(D2, d2, lo[:, None], hi[:, None], m[:, None]) + e2)
    w = w_box
    if r is not None:
        w = np.minimum(w, np.maximum(_ball_sup(D1, d1, r) + e1, _ball_sup(D2, d2, r) + e2))
    w = np.maximum(w * (1 + 4 * U), 0.0)
    for cen_, rho in balls:
        # M x + mm = M z + (M cen + mm), z = x − cen exactly representable only in R: the shift's
        # rounding is γ_{d+1}(|M||cen| + |mm|) per entry, added to w.
        shift = (M @ cen_[:, :, None])[:, :, 0] + mm
        es = 2 * gamma(d + 2) * ((np.abs(M) @ np.abs(cen_)[:, :, None])[:, :, 0] + np.abs(mm))
        best = np.minimum(best, _ball_l2(M, shift, w + es * (1 + 4 * U), rho))
    return best


# ----------------------------------------------------------------------------- leaves
def _candidates(A, lo, hi, r):
    """Points of the domain where the leaf's affine bounds peak (B, P, d): per row, the maximiser
    of A_row x over the leaf box (and over the ball); with ≥ 2 outputs also ± the top singular
    direction of the midpoint map. Only used for the error *seen* (the stopping rule)."""
    B, R, d = A.shape
    pts = [np.where(A > 0, hi[:, None, :], lo[:, None, :])]
    k = R // 2
    if k >= 2:
        M = A[:, :k] - A[:, k:]
        M = M / np.maximum(np.abs(M).max(axis=(1, 2), keepdims=True), 1e-300)   # (only its direction counts)
        v = np.linalg.svd(M, full_matrices=False)[2][:, 0, :]              # (B, d)
        pts += [np.where(v > 0, hi, lo)[:, None, :], np.where(v > 0, lo, hi)[:, None, :]]
    P = np.concatenate(pts, axis=1)
    if r is not None:
        P = _into_ball(P.reshape(-1, d), r).reshape(B, -1, d)
        a = np.concatenate([A, v[:, None, :]], axis=1) if k >= 2 else A
        nrm = np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-300)
        ball = a * (r * (1 - 1e-12) / nrm)
        P = np.concatenate([P, ball, -ball[:, -1:]], axis=1)
    return P


def _evaluate(f: _Net, g: _Net, lo, hi, r, shared: int):
    """(yl, yu, l2 bound, split score, empty, candidate points) for a batch of leaf boxes (lo, hi: (B, d))."""
    m = np.maximum(np.abs(lo), np.abs(hi))
    with np.errstate(all="ignore"):
        A, C, bad, empty = _joint(f, g, lo, hi, m, r, shared)
        bad |= ~(np.isfinite(A).all(axis=(1, 2)) & np.isfinite(C).all(axis=1))
        A, C = np.where(bad[:, None, None], 0.0, A), np.where(bad[:, None], 0.0, C)  # (their bounds: +∞ below)
        k = A.shape[1] // 2
        sup = _box_sup(A, C, lo[:, None], hi[:, None], m[:, None])
        if r is not None:
            sup = np.minimum(sup, _ball_sup(A, C, r))
        yu, yl = sup[:, :k], -sup[:, k:]
        l2 = _l2_bounds(A, C, yl, yu, lo, hi, m, r)
        score = (hi - lo) * np.abs(A).sum(axis=1)
        cand = _candidates(A, lo, hi, r)
    bad |= ~np.isfinite(l2) | ~np.isfinite(yl).all(axis=1) | ~np.isfinite(yu).all(axis=1)
    l2 = np.where(bad, np.inf, l2)
    yl = np.where(bad[:, None], -np.inf, yl)
    yu = np.where(bad[:, None], np.inf, yu)
    empty = empty & ~bad if r is not None else np.zeros_like(bad)    # a box leaf always holds points
    return yl, yu, l2, np.nan_to_num(score, nan=0.0, posinf=1e300), empty, cand


def _outside_ball(lo, hi, r):
    """Leaf boxes whose nearest point to 0 is farther than r (1 + 10⁻⁹) (far beyond rounding)."""
    gap = np.maximum(np.maximum(lo, -hi), 0.0)
    return np.sqrt((gap * gap).sum(axis=1)) > r * (1 + 1e-9)


def _errors(f: _Net, g: _Net, X) -> np.ndarray:
    """The computed ‖f(x) − g(x)‖₂ per row of X; +∞ where the evaluation overflowed."""
    with np.errstate(all="ignore"):
        D = f(X) - g(X)
        top = np.abs(D).max(axis=1)
        scale = np.where((top > 0) & np.isfinite(top), top, 1.0)
        v = scale * np.sqrt(((D / scale[:, None]) ** 2).sum(axis=1))
    return np.where(np.isfinite(v), v, np.inf)


def _root_points(lo, hi, r, d, rng) -> np.ndarray:
    pts = [0.5 * lo + 0.5 * hi]
    if r is None:
        if d <= 8:
            V = ((np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)
            pts.append(np.where(V, hi, lo))
        pts.append(lo + rng.random((ROOT_SAMPLES, d)) * (hi - lo))
        pts.append(np.where(rng.random((ROOT_SAMPLES, d)) < 0.5, lo, hi))
    else:
        z = rng.standard_normal((2 * ROOT_SAMPLES, d))
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-300)
        z[ROOT_SAMPLES:] *= rng.random((ROOT_SAMPLES, 1)) ** (1.0 / d)
        pts.append(z * r * (1 - 1e-12))
    return np.concatenate([np.atleast_2d(p) for p in pts])


def _into_ball(P, r):
    nrm = np.linalg.norm(P, axis=1, keepdims=True)
    return P * np.minimum(1.0, r * (1 - 1e-12) / np.maximum(nrm, 1e-300))


def _lipschitz(f: _Net, g: _Net, shared: int, max_flops: float) -> float:
    """Upper bound on the Lipschitz constant (ℓ2) of f − g: (Π_{i≥p} ‖W^f_i‖₂ + Π_{i≥p} ‖W^g_i‖₂)
    · Π_{i<p} ‖W_i‖₂ over the p shared layers (σ is 1-Lipschitz), the products rounded up; +∞ when
    the spectral norms would cost more than ``max_flops`` (about m k min(m, k) per matrix)."""
    mats = list(f.W) + list(g.W[shared:])
    if sum(W.shape[0] * W.shape[1] * min(W.shape) for W in mats) > max_flops:
        return math.inf
    try:
        nf = [spectral_norm(W) for W in f.W]
        ng = [spectral_norm(W) for W in g.W[shared:]]
    except (np.linalg.LinAlgError, ValueError):     # pragma: no cover - overflowing weights
        return math.inf
    common = math.prod(nf[:shared])
    value = (math.prod(nf[shared:]) + math.prod(ng)) * common * (1 + 4 * (len(mats) + 2) * U)
    return value if math.isfinite(value) else math.inf


def _lipschitz_bounds(f: _Net, g: _Net, lip: float, slack: float, lo, hi, r):
    """Per leaf box (lo, hi: (B, d)): ‖(f − g)(c)‖ + lip · sup_{x ∈ X} ‖x − c‖ (rounded up) for a point c
    of the domain near the box's centre, and the computed ‖(f − g)(c)‖ (an error seen). The exact
    maps at c are within ``slack`` (both networks' float slack on the domain) of the computed ones."""
    cen = 0.5 * lo + 0.5 * hi
    half = np.maximum(np.nextafter(hi - cen, np.inf), np.nextafter(cen - lo, np.inf))
    rho = _norm_up(half) * (1 + 4 * U)
    c = cen
    if r is not None:
        c = _into_ball(cen, r)
        rho = np.minimum((_norm_up(cen - c) + rho) * (1 + 4 * U), (r + _norm_up(c)) * (1 + 4 * U))
    with np.errstate(all="ignore"):
        D = f(c) - g(c)
        top = np.abs(D).max(axis=1)
        scale = np.where((top > 0) & np.isfinite(top), top, 1.0)
        seen = scale * np.sqrt(((D / scale[:, None]) ** 2).sum(axis=1))
        seen = np.where(np.isfinite(seen), seen, np.inf)
        if not math.isfinite(lip):
            return np.full(lo.shape[0], np.inf), seen
        at_c = _norm_up(D) * (1 + 2 * U) + slack
        bound = _up(at_c, lip * rho * (1 + 4 * U))
    return np.where(np.isfinite(bound), bound, np.inf), seen


# ----------------------------------------------------------------------------- public
def certify_networks(target_layers, ticket_layers, domain, *, time_budget: float = 2.0,
                     max_splits: int = 256) -> NetworksCertificate:
    """Certified bound on sup_{x ∈ domain} ‖f(x) − g(x)‖₂, f the target, g the ticket, both ReLU MLPs
    evaluated in float64 (the method, its input splitting and its rounding argument are in the
    module docstring).

    ``target_layers``, ``ticket_layers``: lists of ``(W, b)`` — W an (out, in) float64 array (scipy
    sparse and torch tensors are converted), b an (out,) vector or None — with a ReLU after every
    layer but the last; any depths and widths, the same input and output dimension. ``domain``: a
    :class:`~sltheory.domains.Box` or :class:`~sltheory.domains.Ball` of the input dimension (None:
    the unit ball). ``time_budget``: seconds for the input splitting (the first bound is always
    computed; rounds stop once the next would overrun); ``max_splits``: the most sub-domains.
    CertificateError for malformed networks (empty, shapes that do not chain, non-finite values,
    different input or output dimensions), DomainError for a domain of another dimension,
    InvalidArgumentError for a negative or non-finite budget or ``max_splits`` < 1.
    """
    t0 = time.perf_counter()
    f = _network(target_layers, "target_layers")
    g = _network(ticket_layers, "ticket_layers")
    # BLAS threads pay only for wide layers; below, one thread is faster and immune to busy cores
    context = _single_thread() if max(f.widest, g.widest) <= SINGLE_THREAD_WIDTH else contextlib.nullcontext()
    with context, np.errstate(all="ignore"):     # overflow gives ±inf, turned into a vacuous bound
        return _certify(f, g, domain, time_budget, max_splits, t0)


#: Magnitudes the float argument is made for (module docstring, *Range*): every nonzero weight,
#: bias and domain bound in [SAFE_MIN, SAFE_MAX]; products along a path ≥ PATH_MIN; the networks'
#: activation bounds ≤ ACTIVATION_MAX. Outside, the bound is +∞ (nothing certified).
SAFE_MIN, SAFE_MAX = 1e-30, 1e30
PATH_MIN, ACTIVATION_MAX = 1e-200, 1e100


def _out_of_range(f: _Net, g: _Net, lo, hi, radius: float) -> str | None:
    """Why the magnitudes leave the range the rounding argument covers (None: they do not).

    The Higham-style terms are relative: they need every intermediate product to stay a normal
    float (no underflow to subnormals or 0, which loses absolute accuracy the relative terms do not
    see) and every bound finite. Sufficient: nonzero entries and domain bounds in [10⁻³⁰, 10³⁰];
    the smallest nonzero magnitude of each network raised to its depth, times the smallest nonzero
    domain bound, ≥ 10⁻²⁰⁰ (any product along a path, and the rounding terms built on |W| products,
    stay above the subnormal range); the activation bound H_t = ‖|W_t|‖ H_{t−1} + ‖b_t‖ (H_0 the
    domain's radius) ≤ 10¹⁰⁰ for both networks (no sum or square overflows)."""
    bounds = np.abs(np.concatenate([np.ravel(lo), np.ravel(hi)]))
    nz = bounds[bounds > 0]
    if nz.size and (nz.min() < SAFE_MIN or nz.max() > SAFE_MAX):
        return "the domain's bounds leave [1e-30, 1e30]"
    dom_min = float(nz.min()) if nz.size else 1.0
    for name, net in (("target", f), ("ticket", g)):
        smallest, H = math.inf, float(radius)
        for W, b in zip(net.Wabs, net.babs):
            for a in (W, b):
                vals = a[a > 0]
                if vals.size:
                    if vals.min() < SAFE_MIN or vals.max() > SAFE_MAX:
                        return f"the {name}'s weights or biases leave [1e-30, 1e30]"
                    smallest = min(smallest, float(vals.min()))
            with np.errstate(over="ignore"):
                nu = float(np.sqrt(W.sum(axis=0).max() * W.sum(axis=1).max())) if W.size else 0.0
                H = nu * H + float(np.sqrt((b * b).sum()))
        if not H <= ACTIVATION_MAX:
            return f"the {name}'s activations may exceed 1e100"
        if math.isfinite(smallest) and smallest ** net.depth * dom_min < PATH_MIN:
            return f"the {name}'s products of weights may fall below 1e-200"
    return None


def _certify(f: _Net, g: _Net, domain, time_budget, max_splits, t0: float) -> NetworksCertificate:
    """The body of :func:`certify_networks` (on one BLAS thread for narrow networks)."""
    d, k = f.W[0].shape[1], f.W[-1].shape[0]
    if g.W[0].shape[1] != d:
        raise CertificateError(f"the target takes {d} inputs, the ticket {g.W[0].shape[1]}")
    if g.W[-1].shape[0] != k:
        raise CertificateError(f"the target has {k} outputs, the ticket {g.W[-1].shape[0]}")
    if isinstance(time_budget, bool) or not isinstance(time_budget, numbers.Real) or not (
            math.isfinite(float(time_budget)) and float(time_budget) >= 0):
        raise InvalidArgumentError(f"time_budget must be a finite number of seconds ≥ 0, got {time_budget!r}")
    if isinstance(max_splits, bool) or not isinstance(max_splits, numbers.Integral) or int(max_splits) < 1:
        raise InvalidArgumentError(f"max_splits must be an integer ≥ 1, got {max_splits!r}")
    time_budget, max_splits = float(time_budget), int(max_splits)
    dom: Domain = as_domain(domain)
    dom.check_dim(d, "the networks")
    radius = float(dom.radius_for(d))
    if isinstance(dom, Ball):
        radius_ball = float(dom.radius)
        r: float | None = radius_ball
        lo0, hi0 = np.full(d, -radius_ball), np.full(d, radius_ball)
    elif isinstance(dom, Box):
        r = None
        lo0, hi0 = (np.array(v, dtype=np.float64) for v in dom._bounds(d))
    else:   # pragma: no cover - the two domain kinds
        raise CertificateError(f"certify_networks handles Ball and Box domains, got {type(dom).__name__}")
    why = _out_of_range(f, g, lo0, hi0, radius)
    if why is not None:   # underflow / overflow could break the float argument: certify nothing
        return NetworksCertificate(error_bound=math.inf, relaxation_bound=math.inf, float_slack=math.inf,
                                   method="out_of_range", splits=0, domain=dom.spec(), precision="float64",
                                   seconds=time.perf_counter() - t0, sampled_error=0.0,
                                   output_bounds=tuple((-math.inf, math.inf) for _ in range(k)), stopped=why)
    slack_f = float_slack_affine(list(f.W), list(f.given_b), radius)
    slack_g = float_slack_affine(list(g.W), list(g.given_b), radius)
    slack = float(_up(slack_f, slack_g))
    if not math.isfinite(slack):
        slack = math.inf
    shared = _shared_prefix(f, g)
    if shared == f.depth == g.depth:        # the same network: f − g ≡ 0 exactly, only rounding is left
        return NetworksCertificate(error_bound=slack, relaxation_bound=0.0, float_slack=slack, method="symbolic",
                                   splits=1, domain=dom.spec(), precision="float64",
                                   seconds=time.perf_counter() - t0, sampled_error=0.0,
                                   output_bounds=tuple((0.0, 0.0) for _ in range(k)), stopped="tight")
    shared = min(shared, f.depth - 1, g.depth - 1)

    rng = np.random.default_rng(0)
    flops = sum(W.size for W in f.W + g.W)
    pts = _root_points(lo0, hi0, r, d, rng)
    pts = pts[:max(8, int(SAMPLE_FLOPS // flops))]
    sampled = float(_errors(f, g, pts).max())
    big = max(f.widest, g.widest) * d
    if CROWN_FLOPS_PER_LEAF > 0:
        crown = [net.crown_cost() for net in (f, g)]
        f = dataclasses.replace(f, crown=0 < crown[0][0] <= CROWN_FLOPS_PER_LEAF)
        g = dataclasses.replace(g, crown=0 < crown[1][0] <= CROWN_FLOPS_PER_LEAF)
        big = max([big] + [c[1] for c, net in zip(crown, (f, g)) if net.crown])
    chunk = max(1, CHUNK_ENTRIES // big)

    lip = _lipschitz(f, g, shared, LIPSCHITZ_FLOPS_PER_SECOND * max(time_budget, 0.1))

    t_eval = time.perf_counter()
    yl, yu, l2, score, empty, cand = _evaluate(f, g, lo0[None], hi0[None], r, shared)
    lipb, seen = _lipschitz_bounds(f, g, lip, slack, lo0[None], hi0[None], r)
    l2 = np.minimum(l2, lipb)
    sampled = max(sampled, float(seen.max()), float(_errors(f, g, cand.reshape(-1, d)).max()))
    per_leaf = time.perf_counter() - t_eval
    leaves = dict(lo=lo0[None].copy(), hi=hi0[None].copy(), yl=yl, yu=yu, l2=l2, score=score)
    if empty[0]:            # pragma: no cover - the domain's box holds its points
        raise CertificateError("internal error: the domain's root box was found empty")
    widths0 = hi0 - lo0
    stopped = "max_splits"
    while True:
        n_leaves = leaves["l2"].shape[0]
        worst = float(leaves["l2"].max()) if n_leaves else 0.0
        target = sampled * (1 + RELATIVE_GAP) + slack + 1e-300
        if worst <= target:
            stopped = "tight"
            break
        if n_leaves >= max_splits:
            stopped = "max_splits"
            break
        splittable = (leaves["hi"] - leaves["lo"] > 1e-12 * (np.abs(leaves["lo"]) + np.abs(leaves["hi"]) + 1e-300))
        can = splittable.any(axis=1) & (leaves["l2"] > target)
        if not can[int(np.argmax(leaves["l2"]))]:      # the worst leaf cannot shrink: nothing lowers the max
            stopped = "unsplittable"
            break
        remaining = time_budget - (time.perf_counter() - t0)
        n_time = int(remaining / max(per_leaf, 1e-6) / 2)
        if n_time < 1:
            stopped = "time_budget"
            break
        cand = np.flatnonzero(can)
        order = cand[np.argsort(-leaves["l2"][cand], kind="stable")]
        hot = leaves["l2"][order] >= sampled + 0.5 * (worst - sampled)
        n_split = max(1, int(hot.sum()))
        n_split = min(n_split, max_splits - n_leaves, n_time, chunk // 2 if chunk >= 2 else 1, len(order))
        pick = order[:n_split]
        lo, hi = leaves["lo"][pick], leaves["hi"][pick]
        sc = np.where(splittable[pick], leaves["score"][pick] + 1e-9 * (hi - lo) / np.maximum(widths0, 1e-300), -1.0)
        j = np.argmax(sc, axis=1)
        rows = np.arange(n_split)
        mid = np.clip(0.5 * lo[rows, j] + 0.5 * hi[rows, j], lo[rows, j], hi[rows, j])
        lo_a, hi_a, lo_b, hi_b = lo.copy(), hi.copy(), lo.copy(), hi.copy()
        hi_a[rows, j] = mid
        lo_b[rows, j] = mid
        clo, chi = np.concatenate([lo_a, lo_b]), np.concatenate([hi_a, hi_b])
        parent = np.concatenate([pick, pick])
        if r is not None:
            keep = ~_outside_ball(clo, chi, r)
            clo, chi, parent = clo[keep], chi[keep], parent[keep]
        t_eval = time.perf_counter()
        cyl, cyu, cl2, csc, cemp, cand = _evaluate(f, g, clo, chi, r, shared) if clo.shape[0] else (
            np.zeros((0, k)), np.zeros((0, k)), np.zeros(0), np.zeros((0, d)), np.zeros(0, dtype=bool),
            np.zeros((0, 1, d)))
        if clo.shape[0]:
            lipb, seen = _lipschitz_bounds(f, g, lip, slack, clo, chi, r)
            cl2 = np.minimum(cl2, lipb)
            sampled = max(sampled, float(seen.max()), float(_errors(f, g, cand.reshape(-1, d)).max()))
        per_leaf = (time.perf_counter() - t_eval) / max(clo.shape[0], 1)
        cyl = np.maximum(cyl, leaves["yl"][parent])
        cyu = np.minimum(cyu, leaves["yu"][parent])
        with np.errstate(all="ignore"):
            cl2 = np.minimum(cl2, leaves["l2"][parent])
            cl2 = np.minimum(cl2, _norm_up(np.maximum(np.abs(cyl), np.abs(cyu))))   # bound (a)
        keep = ~cemp
        clo, chi, cyl, cyu, cl2, csc = clo[keep], chi[keep], cyl[keep], cyu[keep], cl2[keep], csc[keep]
        others = np.setdiff1d(np.arange(n_leaves), pick)
        leaves = dict(lo=np.concatenate([leaves["lo"][others], clo]), hi=np.concatenate([leaves["hi"][others], chi]),
                      yl=np.concatenate([leaves["yl"][others], cyl]), yu=np.concatenate([leaves["yu"][others], cyu]),
                      l2=np.concatenate([leaves["l2"][others], cl2]),
                      score=np.concatenate([leaves["score"][others], csc]))
    n_leaves = leaves["l2"].shape[0]
    relax = float(leaves["l2"].max()) if n_leaves else 0.0
    # (an overflow in evaluating the networks is outside the float-slack model: no finite bound then)
    finite = math.isfinite(relax) and math.isfinite(slack) and math.isfinite(sampled)
    bound = float(_up(relax, slack)) if finite else math.inf
    if n_leaves:
        ylo, yhi = leaves["yl"].min(axis=0), leaves["yu"].max(axis=0)
        out_b = tuple((float(a), float(b)) for a, b in zip(ylo, yhi))
    else:               # pragma: no cover - the centre of the ball's box is in the ball
        out_b = tuple((0.0, 0.0) for _ in range(k))
    return NetworksCertificate(error_bound=bound, relaxation_bound=relax, float_slack=slack, method="symbolic",
                               splits=max(n_leaves, 1), domain=dom.spec(), precision="float64",
                               seconds=time.perf_counter() - t0, sampled_error=sampled,
                               output_bounds=out_b, stopped=stopped)
