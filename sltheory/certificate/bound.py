"""Certified sup-norm error of a pruned network, and the adversarial search for the worst input.

Certificate (all in float64)
----------------------------
Target ``h_0 = x``, ``h_i = σ(W_i h_{i-1})`` (no σ after the last layer); ticket
``ĥ_0 = x``, ``ĥ_i = σ(G_i(ĥ_{i-1}))`` where ``G_i`` is the map realised by the i-th pair of
pruned random layers (its *effective map*). When every hidden unit of the pair's first layer keeps
at most one incoming weight a_k from input j(k), σ(a_k x_j) = a_k⁺ σ(x_j) + a_k⁻ σ(−x_j), hence

    G_i(h) = P_i σ(h) + N_i σ(−h),   P_i = B A⁺,  N_i = B A⁻   (A⁺ = max(A, 0), A⁻ = max(−A, 0))

exactly, with A, B the pair's masked weights. Inputs of layers i ≥ 2 are ≥ 0 (they follow a
ReLU), so there G_i(h) = P_i h. Let

    e_1 = ‖[P_1 − W_1, N_1 + W_1]‖₂,   e_i = ‖P_i − W_i‖₂ (i ≥ 2),
    g_1 = ‖[P_1, N_1]‖₂,               g_i = ‖P_i‖₂ (i ≥ 2).

**Layer-wise bound** (``method="layerwise"``). For x = x⁺ − x⁻ (disjoint supports,
‖x⁺‖² + ‖x⁻‖² = ‖x‖²): ``G_1(x) − W_1 x = (P_1 − W_1) x⁺ + (N_1 + W_1) x⁻``, so
‖G_1(x) − W_1 x‖ ≤ e_1 ‖x‖ and ‖G_1(x)‖ ≤ g_1 ‖x‖. With R_i ≥ sup‖h_i‖, r_i ≥ sup‖ĥ_i‖,
Δ_i ≥ sup‖ĥ_i − h_i‖ over ‖x‖₂ ≤ 1 (ReLU is 1-Lipschitz and σ(0) = 0):

    ‖ĥ_i − h_i‖ ≤ ‖G_i ĥ_{i-1} − W_i h_{i-1}‖
               ≤ min( e_i r_{i-1} + ‖W_i‖ Δ_{i-1},  e_i R_{i-1} + g_i Δ_{i-1} ) =: Δ_i
    (split G_i ĥ − W_i h as (G_i − W_i)ĥ + W_i(ĥ − h), or as (G_i − W_i)h + G_i(ĥ − h); the
     second split uses that G_i is linear on the nonnegative orthant, i ≥ 2; Δ_0 = 0)
    R_0 = r_0 = 1,   R_i = ‖W_i‖ R_{i-1},   r_i = min(g_i r_{i-1}, R_i + Δ_i).

So sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂ ≤ Δ_l. Spectral norms come from LAPACK times (1 + 1e-12).
This multiplies worst cases layer by layer (‖W_i‖ = 1 for every layer, although the target's
own output sup‖f‖ is often far below Π‖W_i‖), so it is loose by 5–20× at depth 3.

**S-procedure bound** (``method="sdp"``, in :mod:`sltheory.certificate.sprocedure`). Write E_1 = [P_1 − W_1,
N_1 + W_1], E_i = P_i − W_i, z = [x⁺; x⁻] (z ≥ 0, ‖z‖ = ‖x‖ ≤ 1, z⁺_j z⁻_j = 0), a_i = W_i h_{i−1}
(a_1 = W_1 x), â_i the ticket's pre-activation, ξ_i := â_i − a_i and δ_i := ĥ_i − h_i. Exactly,

    ξ_1 = E_1 z,   ξ_i = E_i h_{i−1} + P_i δ_{i−1} (i ≥ 2),   f(x) − g(x) = −(E_l h_{l−1} + P_l δ_{l−1}),

so with v = [z; h_1; δ_1; …; h_{l−1}; δ_{l−1}] every quantity is a linear form of v, and the
error is ‖L v‖ for a fixed matrix L. Every reachable v satisfies the quadratic constraints

    (c1) z⁺_j z⁻_j = 0;     (c2) h_k (h_k − a_k) = 0;     (c3) ĥ_k (ĥ_k − â_k) = 0;
    (c4) δ_k (ξ_k − δ_k) ≥ 0     (σ(s) − σ(t) = λ (s − t) with λ ∈ [0, 1], so δ(ξ − δ) = λ(1−λ)ξ² ≥ 0),

each of the form (p·v)(q·v) = 0 or ≥ 0 (σ(a)(σ(a) − a) = 0 gives (c2), (c3)). *Weak duality*:
for any multipliers y (y_k ≥ 0 on the inequalities (c4)) and t, if

    S(t, y) = t Zᵀ Z − Lᵀ L − Σ_k y_k sym(p_k q_kᵀ)  ⪰ 0      (Z v = z)

then for every reachable v: ‖Lv‖² ≤ ‖Lv‖² + Σ_k y_k (p_k·v)(q_k·v) ≤ t ‖z‖² ≤ t, i.e.
sup ‖f − g‖ ≤ √t. Unlike the layer-wise bound it keeps the ReLUs' activation patterns tied to x
(through (c2), (c3)): on the measured targets it is 1–2.5× the adversarial error at depth ≤ 3,
against 1–20× (``benchmarks/certificate_tightness.py``). A barrier method picks (t, y); any
(t, y) is a valid certificate, so the optimizer needs no proof. Rounding: S is assembled in
float64 with an entrywise error ≤ γ_K S_abs (the same assembly on absolute values), and LAPACK's
smallest eigenvalue of the computed S is within 8 n u ‖S‖_F of the exact one; with
κ ≥ −λ_min(S_exact), S_exact + κI ⪰ 0, and since ‖h_i‖ ≤ R_i ‖x‖ and ‖δ_i‖ ≤ Δ_i ‖x‖ (R_i, Δ_i of
the layer-wise bound; the lifted δ_i = s_i δ̃_i is scaled to O(1)), κ‖v‖² ≤ κ (1 + Σ_i (R_i² +
Δ_i²/s_i²)) ‖x‖²: the certified value is max(t, 0) + κ (1 + Σ_i …). The relaxation has
n = 2d_0 + 2Σd_i variables and m = d_0 + 3Σd_i multipliers; ``method="auto"`` runs it only when a
Newton step costs at most ``SDP_MAX_FLOPS`` (small and medium targets: 16-32-32-8 in ~0.5 s; not
784-300-100-10) and every method returns the smaller of its bound and the layer-wise one.

Floating point: both networks are evaluated in float64. A computed layer is
``fl(Mh) = (M + δM) h`` with |δM| ≤ γ_K |M| (Higham, Thm 3.5), γ_K = K u/(1 − K u), K the largest
number of nonzeros in a row, u = 2⁻⁵³. Hence ‖fl-net − net‖ ≤ Π_t (‖M_t‖ + γ_K ‖|M_t|‖) − Π_t ‖M_t‖
(‖·‖₂ bounded by √(‖·‖₁‖·‖_∞)); this *float slack* of both networks is added to the bound, so it
also covers the errors measured in floating point (``method="layerwise"`` adds the per-pair slack below as well,
which covers the effective maps being computed in float; Burkholz's copy certificate adds that rounding to each e_ℓ).
``"auto"``/``"sdp"`` treat the ticket pair by pair (:func:`pair_float_slack`), which is far
tighter on wide random layers and also covers the effective maps being computed in float: for a
pair h ↦ B σ(A h) with one weight per row of A, |fl(Ah) − Ah| ≤ γ_1 |A||h| and
|fl(Bu') − Bu'| ≤ γ_K |B||u'|, so |fl(pair)(h) − pair(h)| ≤ (γ_1 + γ_K(1 + γ_1)) |B||A||h| (a
d_out × d_in matrix |B||A|, of norm ν ≤ √(‖·‖₁‖·‖_∞)); the computed map fl(B A^±) is within γ_K
|B||A| of the exact one. Telescoping over the pairs with p_i ≥ ‖exact map i‖ gives
[Π(p_i + c_i ν_i) − Π p_i] + [Π(p_i + γ_K ν_i) − Π p_i] for the ticket, c_i = γ_1 + γ_K(1 + γ_1).

Domains and biases
------------------
Target with biases ``h_i = σ(W_i h_{i−1} + b_i)`` (b_i = 0 for a layer without one), ticket
``ĥ_i = σ(G_i(ĥ_{i−1}))`` with the affine effective map ``G_i(h) = P_i σ(h) + N_i σ(−h) + p_i``. A pair
x ↦ B σ(A x + c) + d whose hidden units keep either one input weight and no bias, or only a bias c_k
(a *bias unit*, which outputs the constant σ(c_k)), is exactly that with p = B σ(c) + d
(:func:`pair_effective_map`; a unit with a weight and a nonzero bias, σ(a x_j + c_k), is refused). The
sup is over a domain D (:mod:`sltheory.domains`) with R ≥ sup_{x∈D} ‖x‖₂ (``radius_for``, rounded up).

*Bias-free, D not the unit ball.* Both networks are positively homogeneous (f(tx) = t f(x), t ≥ 0),
so sup_{‖x‖≤R} ‖f − g‖ = R · sup_{‖x‖≤1} ‖f − g‖, and every float-slack bound above is linear in ‖x‖
(each Higham term γ|M||h| is): the unit-ball certificate times R (× (1 + 2⁻⁵⁰), two roundings) holds
on D ⊂ R·Ball. If D is nonnegative (a Box with lo ≥ 0), σ(−x) = 0 on D, so there the ticket equals
the bias-free network whose first map is (P_1, N := −W_1), whatever the construction built for N
(nothing, when it spared the negative half: ``N = None``). That network's unit-ball certificate
(S-procedure included) times R bounds the error on D; its e_1 = ‖[P_1 − W_1, 0]‖ = ‖P_1 − W_1‖. The
float slack is the real ticket's: it does not depend on N on x ≥ 0, and g_1 = ‖[P_1, −W_1]‖ ≥ ‖P_1‖
bounds the first map there. On a nonnegative D the affine recursion below (p = b = 0, g_1 = ‖P_1‖)
is a second sound bound, and the smaller is returned; on other domains the result is exactly R
times the unit-ball certificate.

*With biases (layer-wise recursion).* a_i = W_i h_{i−1} + b_i, â_i = G_i(ĥ_{i−1}), β_i ≥ ‖p_i − b_i‖.
Layer 1 with signed inputs: â_1 − a_1 = (P_1 − W_1) x⁺ + (N_1 + W_1) x⁻ + (p_1 − b_1), so
‖â_1 − a_1‖ ≤ e_1 ‖x‖ + β_1 ≤ e_1 R + β_1 (there is no Δ_0: both networks read the same x). Layers
i ≥ 2, and layer 1 on a nonnegative domain (then e_1 = ‖P_1 − W_1‖, g_1 = ‖P_1‖): the inputs are ≥ 0,
G_i(h) = P_i h + p_i, and G_i(ĥ) − G_i(h) = P_i (ĥ − h) (the offset cancels), so both splits hold:

    â_i − a_i = (P_i − W_i) ĥ + W_i (ĥ − h) + (p_i − b_i) = (P_i − W_i) h + P_i (ĥ − h) + (p_i − b_i).

σ is 1-Lipschitz and ‖σ(a)‖ ≤ ‖a‖, hence with R_0 = r_0 = R, Δ_0 = 0 (all sups over x ∈ D):

    Δ_i = min( e_i r_{i−1} + ‖W_i‖ Δ_{i−1},  e_i R_{i−1} + g_i Δ_{i−1} ) + β_i    ≥ sup ‖ĥ_i − h_i‖
    R_i = ‖W_i‖ R_{i−1} + ‖b_i‖                                                  ≥ sup ‖h_i‖
    r_i = min( g_i r_{i−1} + ‖p_i‖,  R_i + Δ_i )                                 ≥ sup ‖ĥ_i‖

and sup_D ‖f − g‖ ≤ Δ_l (no σ after the last layer; at i = 1 both splits give e_1 R + β_1). Vector
norms are rounded up (:func:`_vec_norm`) and Δ_l × (1 + 10⁻¹⁰) covers the recursion's own rounding
(relative ≲ 10 l u). **The S-procedure with biases is not implemented**: with biases every
``method`` returns this bound (``Certificate.method == "layerwise"``).

*Rounding with biases.* A computed row with K stored weights and a bias is within
γ_{K+1}(|M||h| + |c|) of the exact one (Higham, the bias a product with 1). The target's chain:
:func:`float_slack_affine` (telescoped over inputs of norm ≤ R, affine radii); the ticket's pairs:
:func:`pair_float_slack` with ``biases`` (a bias unit's row 0 + c_k is exact; an additive γ'‖|B|σ(c)‖
+ γ'‖d‖ per pair in both the evaluation and the computed-map terms); a rescaled target's stored
biases b̃_i = b_i/Π_{k≤i} s_k: :func:`rescale_slack_affine`. With ``ticket_biases`` every map's offset
is checked to be B σ(c) + d of its pair (within the rounding of computing it).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg  # noqa: F401  (sp.linalg.norm)

from .._linalg import UNIT_ROUNDOFF, gamma
from ..bounds import propagate
from ..domains import Domain, as_domain, is_default
from ..errors import CertificateError, InvalidArgumentError
from ..targets import Target, spectral_norm
from . import sprocedure

#: The certificate methods: "layerwise" (the recursion), "sdp" (the S-procedure bound, whatever
#: its cost), "auto" (the S-procedure bound when a Newton step costs ≤ SDP_MAX_FLOPS; the smaller).
METHODS = ("auto", "sdp", "layerwise")
#: Flops of one Newton step of the S-procedure bound up to which ``method="auto"`` runs it
#: (a 16-32-32-8 target costs 4·10⁷ per step, 64-64-10 about 1.2·10⁸).
SDP_MAX_FLOPS = 1.5e8
#: Magnitudes (layer-wise Δ_i and radii R_i) the S-procedure bound is run on; outside, it is skipped.
SDP_SCALE_RANGE = (1e-100, 1e100)


@dataclass(frozen=True)
class EffectiveMap:
    """G(h) = P σ(h) + N σ(−h) + p for one target layer (N is None when inputs are ≥ 0; p, the
    affine offset of a pair with bias units, None when there is none)."""

    P: np.ndarray
    N: np.ndarray | None
    p: np.ndarray | None = None


@dataclass(frozen=True)
class Certificate:
    """A ticket's certified bound and its parts (the inequality chain is in the module docstring).

    ``error_bound``: the bound on sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂ plus the float slack (times the output
    scale when rescaled); ``layer_errors``: e_i; ``map_norms``: g_i; ``propagated``: Δ_i of the
    layer-wise recursion; ``float_slack``; ``method``: which bound gave ``error_bound``
    (``"layerwise"`` or ``"sdp"``); ``layerwise_bound``: the layer-wise certificate, for comparison;
    ``domain``: the input domain's ``spec()`` when it is not the unit ball (the sup is over it);
    ``precision``: the arithmetic the bound covers (both networks evaluated in float64).
    """

    error_bound: float            # bound + float slack (times the output scale when rescaled)
    layer_errors: tuple[float, ...]  # e_i
    map_norms: tuple[float, ...]     # g_i
    propagated: tuple[float, ...]    # Δ_i of the layer-wise recursion
    float_slack: float
    method: str = "layerwise"        # which bound gave error_bound: "layerwise" or "sdp"
    layerwise_bound: float | None = None  # the layer-wise certificate, for comparison
    domain: dict | None = None       # the input domain's spec() the sup is over (None: the unit ball)
    precision: str = "float64"       # the arithmetic both networks are evaluated in


def _csr(M) -> sp.csr_matrix:
    return M.tocsr() if sp.issparse(M) else sp.csr_matrix(np.asarray(M, dtype=np.float64))


def pair_effective_map(A, B, signed: bool, c=None, d=None) -> EffectiveMap:
    """Effective map of a pruned pair x ↦ B σ(A x + c) + d whose rows of A keep ≤ 1 weight each.

    ``A`` and ``B`` are the masked weights, dense arrays or scipy sparse matrices; ``c`` the masked
    bias of A's layer (length = rows of A, 0 where pruned) and ``d`` that of B's layer, or None.
    A hidden unit k either keeps one input weight a_k (and no bias: σ(a_k x_j) = a_k⁺σ(x_j) +
    a_k⁻σ(−x_j)) or only a bias (a *bias unit*: it outputs σ(c_k), a constant), so exactly

        B σ(A x + c) + d = P σ(x) + N σ(−x) + p,   p = B σ(c) + d.

    ``p`` is None when neither c nor d has a nonzero entry. Raises :class:`CertificateError` if
    some row of ``A`` keeps more than one weight, or keeps a weight and a nonzero bias (σ(a x + c)
    is not of that form).
    """
    A = _csr(A)
    A.eliminate_zeros()
    per_row = A.getnnz(axis=1)
    if per_row.size and per_row.max() > 1:
        bad = int(np.argmax(per_row))
        raise CertificateError(f"hidden unit {bad} keeps {per_row[bad]} input weights; the certificate "
                               "needs at most one per unit (block-diagonal first sub-layer)")
    B = _csr(B)
    P = (B @ A.maximum(0)).toarray()
    N = (B @ (-A).maximum(0)).toarray() if signed else None
    cv = _bias_vector(c, A.shape[0], "c (the bias of A's layer)")
    dv = _bias_vector(d, B.shape[0], "d (the bias of B's layer)")
    p = None
    if cv is not None:
        both = np.flatnonzero((per_row > 0) & (cv != 0))
        if both.size:
            k = int(both[0])
            raise CertificateError(f"hidden unit {k} keeps an input weight and a nonzero bias ({cv[k]:g}); the "
                                   "certificate needs σ(a x_j) or σ(c_k), never σ(a x + c)")
        p = np.asarray(B @ np.maximum(cv, 0.0), dtype=np.float64).reshape(-1)
    if dv is not None:
        p = dv.copy() if p is None else p + dv
    return EffectiveMap(P, N, p)


def _bias_vector(c, size: int, what: str) -> np.ndarray | None:
    """``c`` as a finite float64 vector of length ``size``, or None when it is None or all zero."""
    if c is None:
        return None
    if sp.issparse(c):
        c = c.toarray()
    if hasattr(c, "detach"):
        c = c.detach().cpu().double().numpy()
    v = np.asarray(c, dtype=np.float64).reshape(-1)
    if v.shape != (size,):
        raise CertificateError(f"{what} has {v.size} entries, its layer has {size} units")
    if not np.all(np.isfinite(v)):
        raise CertificateError(f"{what} is not finite")
    return v if np.any(v != 0) else None


def _abs_norm_bound(M) -> float:
    """Upper bound on ‖|M|‖₂ (and on ‖M‖₂): √(max column sum × max row sum) of |M|."""
    if M.shape[0] == 0 or M.shape[1] == 0:
        return 0.0
    a = abs(M)
    return float(np.sqrt(np.asarray(a.sum(axis=0)).max() * np.asarray(a.sum(axis=1)).max()))


def float_slack(matrices) -> float:
    """Bound on ‖computed − exact‖ of a bias-free ReLU chain of ``matrices`` (dense or sparse)
    over the unit ball (see the module docstring)."""
    exact, perturbed = 1.0, 1.0
    for M in matrices:
        if not sp.issparse(M):
            M = np.asarray(M)
        K = 0
        if M.shape[0] and M.shape[1]:
            K = int(M.getnnz(axis=1).max()) if sp.issparse(M) else int(np.count_nonzero(M, axis=1).max())
        nrm = _abs_norm_bound(M)
        exact *= nrm
        perturbed *= nrm + gamma(K) * nrm
    return (perturbed - exact) * (1 + 1e-6) + 1e-300


def _certificate(target: Target, errs, gs, deltas, ticket_matrices, target_slack=None) -> Certificate:
    """Δ_l plus the float slack of both networks, times the output scale (rescaled targets).
    ``target_slack``: ``float_slack(target.weights)`` when the caller has it."""
    slack = float_slack(target.weights) if target_slack is None else target_slack
    if ticket_matrices is not None:
        slack += float_slack(ticket_matrices)
    slack += rescale_slack(target, deltas[-1] + slack)
    scale = target.output_scale
    bound = (deltas[-1] + slack) * scale
    return Certificate(error_bound=bound, layer_errors=tuple(errs), map_norms=tuple(gs),
                       propagated=tuple(deltas), float_slack=slack * scale, layerwise_bound=bound)


def rescale_slack(target: Target, inner: float) -> float:
    """With ``rescale=True`` (output scale S ≠ 1), what rounding adds, in units of the rescaled
    target (multiply by S): the stored W̃_i = fl(W_i/s_i) are within u|W̃_i| of W_i/s_i, so the
    stored rescaled target is within Π(‖W̃_i‖ + 2u‖|W̃_i|‖) − Π‖W̃_i‖ of f/S_exact; S = fl(Π s_i) is
    within γ_l of S_exact, and the ticket's last step fl(S·y) within u of S·y, so both cost at most
    γ_{l+1}·sup‖g̃‖ ≤ γ_{l+1}(Π‖W̃_i‖ + ``inner``) with ``inner`` the bound for the rescaled target.
    0 when S = 1 (nothing was divided)."""
    if target.output_scale == 1.0:
        return 0.0
    exact, perturbed = 1.0, 1.0
    for W, nrm in zip(target.weights, target.norms):
        exact *= nrm
        perturbed *= nrm + 2 * UNIT_ROUNDOFF * _abs_norm_bound(np.asarray(W))
    return ((perturbed - exact) + gamma(target.depth + 1) * (exact + inner)) * (1 + 1e-6)


def pair_float_slack(ticket_matrices, map_norms, *, biases=None, radius: float = 1.0) -> float | None:
    """Rounding of a pair network evaluated in float64, and of its effective maps computed in
    float64, over the unit ball (module docstring, *Floating point*); None when the matrices are
    not such a chain (an odd count, or a row of some A_i with more than one stored weight): then
    only the generic :func:`float_slack` applies.

    With ``biases`` (one masked bias vector or None per matrix: c_i of A_i, d_i of B_i) or a
    ``radius`` ≠ 1 (inputs of norm ≤ radius): a bias unit's row is computed exactly (0 + c_k), so the
    hidden layer is within γ_1|A||h| of the exact one and |û| ≤ (1 + γ_1)|A||h| + σ(c); fl(B û + d)
    is within γ'(|B||û| + |d|) (γ' = γ_{K+1} with d, else γ_K); the offset p = B σ(c) + d computed in
    float is within γ'(|B|σ(c) + |d|) of the exact one. With a_i ≥ ‖|B_i|σ(c_i)‖ + ‖d_i‖ each pair
    adds γ'a_i to both telescoped terms, which run over H_i = p_i H_{i−1} + a_i (H_0 = radius):
    E_i = k_i ν_i (H_{i−1} + E_{i−1}) + γ' a_i + p_i E_{i−1}, k_i = c_i (evaluation, γ' for γ_K in
    it) or c'_i (maps), and the result is the sum of both E_l. A row of A_i with a weight and a
    nonzero c is a CertificateError.

    ``ticket_matrices`` = [A_1, B_1, A_2, B_2, …] (masked, dense or sparse; rows of A with ≤ 1
    weight), ``map_norms[i]`` ≥ ‖computed map i‖₂. With ν_i = √(‖·‖₁‖·‖_∞) of |B_i||A_i| (≥ its ‖·‖₂), K the largest row
    count of B_i: c_i = γ_1 + γ_K(1 + γ_1) (evaluation), c'_i = γ_K (map), p_i = map_norms[i] +
    c'_i ν_i ≥ ‖exact map‖; slack = [Π(p_i + c_i ν_i) − Π p_i] + [Π(p_i + c'_i ν_i) − Π p_i].
    """
    mats = [_csr(M) for M in ticket_matrices]
    if len(mats) % 2 or any(A.shape[0] and A.shape[1] and A.getnnz(axis=1).max() > 1 for A in mats[0::2]):
        return None
    if biases is not None or radius != 1.0:
        if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not radius >= 0:
            raise InvalidArgumentError(f"radius must be a real number ≥ 0, got {radius!r}")
        tb = None if biases is None else _check_ticket_biases(ticket_matrices, biases)
        return _pair_float_slack_affine(mats, map_norms, tb, float(radius))
    g1 = gamma(1)
    p, ev, mp = [], [], []
    for i in range(0, len(mats), 2):
        A, B = mats[i], mats[i + 1]
        K = int(B.getnnz(axis=1).max()) if B.shape[0] and B.shape[1] else 0
        gB = gamma(K)
        nu = _abs_norm_bound(abs(B) @ abs(A))          # ≥ ‖|B||A|‖₂ (nonnegative matrix)
        p.append(map_norms[i // 2] + gB * nu)
        ev.append((g1 + gB * (1 + g1)) * nu)
        mp.append(gB * nu)
    base = float(np.prod(p))
    total = (float(np.prod(np.add(p, ev))) - base) + (float(np.prod(np.add(p, mp))) - base)
    return total * (1 + 1e-6) + 1e-300


def _layerwise(target: Target, maps: list[EffectiveMap]):
    """(e_i, g_i, Δ_i) of the layer-wise recursion (module docstring)."""
    if len(maps) != target.depth:
        raise CertificateError(f"{len(maps)} effective maps for a target of depth {target.depth}")
    R = r = 1.0
    delta = 0.0
    errs, gs, deltas = [], [], []
    for i, (W, m, w_norm) in enumerate(zip(target.weights, maps, target.norms)):
        if m.P.shape != W.shape:
            raise CertificateError(f"effective map {i} has shape {m.P.shape}, target layer {W.shape}")
        if i == 0:
            if m.N is None:
                raise CertificateError("the first layer's inputs can be negative: its map needs N")
            if m.N.shape != W.shape:
                raise CertificateError(f"effective map 0 has N of shape {m.N.shape}, target layer {W.shape}")
            e = spectral_norm(np.hstack([m.P - W, m.N + W]))
            g = spectral_norm(np.hstack([m.P, m.N]))
        else:
            e = spectral_norm(m.P - W)
            g = spectral_norm(m.P)
        delta, r, R = propagate(e, g, w_norm, delta, r, R)
        errs.append(e)
        gs.append(g)
        deltas.append(delta)
    return errs, gs, deltas


def sdp_bound(target: Target, maps: list[EffectiveMap], deltas=None) -> float | None:
    """The S-procedure bound on sup_{‖x‖₂≤1} ‖target(x) − net(maps)(x)‖₂ (exact arithmetic: no
    float slack, no output scale), or None when the barrier method found no feasible point.
    ``deltas``: the layer-wise Δ_i (computed when not given); δ_i is scaled by Δ_i."""
    if deltas is None:
        deltas = _layerwise(target, maps)[2]
    out = float(deltas[-1])
    if not math.isfinite(out):
        return None
    if not out > 0:
        return 0.0
    Ws = list(target.weights)
    scales = [float(d) if d > 0 else out for d in deltas[:-1]]   # δ_i = s_i δ̃_i, δ̃_i of size ≤ 1
    radii, R = [], 1.0
    for i in range(len(Ws) - 1):
        R *= target.norms[i]
        radii += [R, float(deltas[i]) / scales[i]]
    # The relaxation squares these magnitudes: far from 1 (subnormal weights, say) they would
    # overflow or underflow. The layer-wise bound stays; the S-procedure is skipped.
    if not all(SDP_SCALE_RANGE[0] <= abs(v) <= SDP_SCALE_RANGE[1] for v in [out, *scales, *radii] if v != 0):
        return None
    args = (Ws, maps[0].P, maps[0].N, [m.P for m in maps[1:]], scales, out, radii)
    forms, forms_abs = sprocedure.build(*args)
    if not all(np.all(np.isfinite(a)) for F in (forms, forms_abs) for a in (F.P, F.Q, F.L)):
        return None
    solution = sprocedure.solve(forms)
    if solution is None:
        return None
    value = sprocedure.verified_value(forms, forms_abs, *solution)
    return float(np.sqrt(value)) * out * (1 + 4 * UNIT_ROUNDOFF)


def certify(target: Target, maps: list[EffectiveMap], ticket_matrices=None, *, method: str = "auto",
            max_flops: float = SDP_MAX_FLOPS, domain=None, ticket_biases=None) -> Certificate:
    """Certified bound on sup over ``domain`` of ‖target(x) − ticket(x)‖₂, both evaluated in float64
    (see the module docstring).

    ``maps[i]`` is the effective map of the i-th target layer (``N`` given for the first layer,
    whose inputs can be negative, unless the domain is nonnegative; ``p`` where the pair has bias
    units). ``ticket_matrices`` (the masked random matrices in order, A_1, B_1, A_2, B_2, …) adds
    the ticket's floating-point slack; the target's is always added. ``ticket_biases[t]``: the
    masked bias of random linear t (aligned with ``ticket_matrices``) or None; needed with
    ``ticket_matrices`` whenever some map has an offset ``p`` (they must agree with it).
    ``domain``: a :class:`~sltheory.domains.Domain` (None: the unit ball ``Ball(1)``).
    ``method``: ``"layerwise"`` (the recursion with the generic float slack plus the per-pair one for
    the maps computed in float), ``"sdp"`` (the S-procedure bound whatever its cost) or
    ``"auto"`` (the S-procedure bound when one Newton step costs ≤ ``max_flops``, else the
    recursion with the per-pair float slack). Every method returns at most the layer-wise
    certificate, which ``layerwise_bound`` records. With biases (the target's or the maps' ``p``)
    only the layer-wise recursion with affine terms is implemented (the S-procedure with biases is
    not), whatever ``method`` says; ``Certificate.method`` is then ``"layerwise"``.

    With a bias-free target, maps without ``p`` and the unit ball the result is exactly what it
    was before domains and biases existed.
    """
    if method not in METHODS:
        raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(target, Target):
        raise InvalidArgumentError(f"target must be a sltheory.Target (sltheory.as_target(...)), got "
                                   f"{type(target).__name__}")
    if not isinstance(maps, (list, tuple)) or not all(isinstance(m, EffectiveMap) for m in maps):
        raise CertificateError("maps must be a list of EffectiveMap (one per target layer)")
    if isinstance(max_flops, bool) or not isinstance(max_flops, numbers.Real) or not max_flops >= 0:
        raise InvalidArgumentError(f"max_flops must be a real number ≥ 0, got {max_flops!r}")
    dom = as_domain(domain)
    radius = dom.radius_for(target.dims[0])
    tb = _check_ticket_biases(ticket_matrices, ticket_biases)
    affine = target.has_biases or any(m.p is not None for m in maps)
    if tb is not None and ticket_matrices is not None:
        _check_offsets(maps, ticket_matrices, tb)
        affine = affine or any(b is not None for b in tb)
    if not affine:
        if domain is None or is_default(dom):
            return _certify_ball(target, maps, ticket_matrices, method, max_flops)
        # positive homogeneity: the unit-ball certificate times R (module docstring, *Domains*)
        ball_maps = list(maps)
        if dom.nonnegative:
            ball_maps[0] = _nonnegative_first(target, maps[0])
        cert = _scale(_certify_ball(target, ball_maps, ticket_matrices, method, max_flops), radius)
        if dom.nonnegative:
            # the recursion with the first layer's inputs ≥ 0 (g_1 = ‖P_1‖): a second sound bound
            alt = _certify_affine(target, maps, ticket_matrices, tb, dom, radius)
            lw = min(float(cert.error_bound if cert.layerwise_bound is None else cert.layerwise_bound),
                     float(alt.error_bound))
            cert = dataclasses.replace(cert if cert.error_bound <= alt.error_bound else alt, layerwise_bound=lw)
        return dataclasses.replace(cert, domain=dom.spec())
    if ticket_matrices is not None and any(m.p is not None for m in maps) and tb is None:
        raise CertificateError("the maps have offsets p (bias units): pass ticket_biases with ticket_matrices, "
                               "so that the rounding of the biases is covered")
    return _certify_affine(target, maps, ticket_matrices, tb, dom, radius)


def _certify_ball(target: Target, maps, ticket_matrices, method: str, max_flops: float) -> Certificate:
    """The bias-free certificate over the unit ball (module docstring; unchanged since before domains)."""
    errs, gs, deltas = _layerwise(target, maps)
    target_slack = float_slack(target.weights)
    pair = None
    if ticket_matrices is not None and len(ticket_matrices) == 2 * target.depth:
        pair = pair_float_slack(ticket_matrices, gs)
    # the recursion: the generic slack covers evaluating both networks; the maps it read were
    # computed in float too, which the pair slack covers (it also covers evaluation: an overcount)
    old = _certificate(target, errs, gs, deltas, ticket_matrices, target_slack + (pair or 0.0))
    if method == "layerwise":
        return old
    slack = target_slack
    if ticket_matrices is not None:
        slack += float_slack(ticket_matrices) if pair is None else pair
    best, name = float(deltas[-1]), "layerwise"
    dims = target.dims
    if method == "sdp" or sprocedure.cost(dims[0], dims[1:-1]) <= max_flops:
        b = sdp_bound(target, maps, deltas)
        if b is not None and b < best:
            best, name = b, "sdp"
    slack += rescale_slack(target, best + slack)
    scale = target.output_scale
    bound = (best + slack) * scale
    if not bound < old.error_bound:
        return old
    return Certificate(error_bound=bound, layer_errors=tuple(errs), map_norms=tuple(gs),
                       propagated=tuple(deltas), float_slack=slack * scale, method=name,
                       layerwise_bound=old.error_bound)


def _check_ticket_biases(ticket_matrices, ticket_biases) -> list | None:
    """``ticket_biases`` as one finite float64 vector (or None: absent or all zero) per random linear."""
    if ticket_biases is None:
        return None
    if ticket_matrices is None:
        raise CertificateError("ticket_biases needs ticket_matrices (one bias entry per random linear)")
    if not isinstance(ticket_biases, (list, tuple)) or len(ticket_biases) != len(ticket_matrices):
        raise CertificateError(f"ticket_biases must be a list with one entry (vector or None) per random linear "
                               f"({len(ticket_matrices)}), got {type(ticket_biases).__name__}")
    return [_bias_vector(b, M.shape[0], f"ticket bias {t}")
            for t, (M, b) in enumerate(zip(ticket_matrices, ticket_biases))]


def _pair_form(mats) -> bool:
    """Whether the csr matrices are pairs (A_i, B_i) with at most one stored weight per row of A_i."""
    return not len(mats) % 2 and not any(A.shape[0] and A.shape[1] and A.getnnz(axis=1).max() > 1
                                         for A in mats[0::2])


def _check_offsets(maps, ticket_matrices, tb) -> None:
    """CertificateError unless every map's offset p is B σ(c) + d of its pair (within the rounding of
    computing it; None counts as 0), when the ticket is in pair form."""
    mats = [_csr(M) for M in ticket_matrices]
    if len(mats) != 2 * len(maps) or not _pair_form(mats):
        return
    for i, m in enumerate(maps):
        A, B = mats[2 * i], mats[2 * i + 1]
        c, d = tb[2 * i], tb[2 * i + 1]
        expect = np.zeros(B.shape[0])
        tol = np.zeros(B.shape[0])
        K = int(B.getnnz(axis=1).max()) if B.shape[0] and B.shape[1] else 0
        if c is not None:
            A.eliminate_zeros()
            both = np.flatnonzero((A.getnnz(axis=1) > 0) & (c != 0))
            if both.size:
                k = int(both[0])
                raise CertificateError(f"pair {i}: hidden unit {k} keeps an input weight and a nonzero bias; the "
                                       "certificate needs σ(a x_j) or σ(c_k), never σ(a x + c)")
            sc = np.maximum(c, 0.0)
            expect = np.asarray(B @ sc).reshape(-1)
            tol = np.asarray(abs(B) @ sc).reshape(-1)
        if d is not None:
            expect = expect + d
            tol = tol + np.abs(d)
        got = np.zeros(B.shape[0]) if m.p is None else np.asarray(m.p, dtype=np.float64).reshape(-1)
        if got.shape != expect.shape:
            raise CertificateError(f"map {i}'s offset p has {got.size} entries, the pair has {expect.size} outputs")
        if not np.all(np.abs(got - expect) <= 4 * gamma(K + 2) * tol + 1e-300):
            raise CertificateError(f"map {i}'s offset p is not B σ(c) + d of the ticket's pair {i} (its masked biases)")


def _nonnegative_first(target: Target, m: EffectiveMap) -> EffectiveMap:
    """The first map with N := −W_1: on x ≥ 0 σ(−x) = 0, so the ticket is unchanged there, and the
    signed certificate of this map has e_1 = ‖[P_1 − W_1, 0]‖ (module docstring, *Domains*)."""
    W = target.weights[0]
    if m.P.shape != W.shape:
        raise CertificateError(f"effective map 0 has shape {m.P.shape}, target layer {W.shape}")
    return EffectiveMap(m.P, -W, m.p)


def _scale(cert: Certificate, radius: float) -> Certificate:
    """A unit-ball certificate of a bias-free pair as one over inputs of norm ≤ ``radius`` (every
    bound times R; two roundings to nearest are covered by the factor 1 + 2⁻⁵⁰)."""
    up = 1.0 + 2.0 ** -50
    return dataclasses.replace(
        cert, error_bound=cert.error_bound * radius * up, float_slack=cert.float_slack * radius * up,
        propagated=tuple(d * radius * up for d in cert.propagated),
        layerwise_bound=None if cert.layerwise_bound is None else cert.layerwise_bound * radius * up)


def _vec_norm(v) -> float:
    """Upper bound on ‖v‖₂ (0 for None), safe from overflow and underflow of the squares."""
    if v is None:
        return 0.0
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    if m == 0.0:
        return 0.0
    w = v / m
    return m * math.sqrt(float(np.dot(w, w)) * (1 + gamma(v.size + 8))) * (1 + 4 * UNIT_ROUNDOFF)


def _max_row_nnz(M) -> int:
    if not (M.shape[0] and M.shape[1]):
        return 0
    return int(M.getnnz(axis=1).max()) if sp.issparse(M) else int(np.count_nonzero(M, axis=1).max())


def float_slack_affine(matrices, biases=None, radius: float = 1.0) -> float:
    """Bound on ‖computed − exact‖₂ of the ReLU chain h_t = σ(M_t h_{t−1} + c_t) (no σ after the
    last) evaluated in float64, over inputs of norm ≤ ``radius``. ``matrices``: dense or sparse;
    ``biases[t]``: vector or None (``biases`` None: none at all). A computed row with K stored
    weights and a bias is within γ_{K+1}(|M||ĥ| + |c|) of the exact one (Higham, Thm 3.5, the bias a
    product with 1), so with ν_t ≥ ‖|M_t|‖₂ (≥ ‖M_t‖₂), E_t ≥ ‖ĥ_t − h_t‖, H_t ≥ ‖h_t‖:

        E_t = γ(ν_t (H_{t−1} + E_{t−1}) + ‖c_t‖) + ν_t E_{t−1},   H_t = ν_t H_{t−1} + ‖c_t‖,

    E_0 = 0, H_0 = radius (σ is 1-Lipschitz and exact in float). Returns E_L (× (1 + 10⁻⁶), which
    covers the rounding of this recursion; + 10⁻³⁰⁰)."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not radius >= 0:
        raise InvalidArgumentError(f"radius must be a real number ≥ 0, got {radius!r}")
    if biases is not None and len(biases) != len(matrices):
        raise CertificateError(f"{len(biases)} biases for {len(matrices)} matrices")
    E, H = 0.0, float(radius)
    for t, M in enumerate(matrices):
        if not sp.issparse(M):
            M = np.asarray(M)
        c = None if biases is None else biases[t]
        cn = _vec_norm(c)
        K = _max_row_nnz(M) + (1 if cn > 0 else 0)
        g = gamma(K)
        nu = _abs_norm_bound(M)
        E = g * (nu * (H + E) + cn) + nu * E
        H = nu * H + cn
    return E * (1 + 1e-6) + 1e-300


def _pair_float_slack_affine(mats, map_norms, biases, radius: float) -> float:
    """:func:`pair_float_slack` with bias units and over inputs of norm ≤ ``radius`` (its docstring)."""
    g1 = gamma(1)
    E_ev = E_mp = 0.0
    H = float(radius)
    for i in range(0, len(mats), 2):
        A, B = mats[i], mats[i + 1]
        c = None if biases is None else biases[i]
        d = None if biases is None else biases[i + 1]
        K = _max_row_nnz(B)
        gB = gamma(K)
        gBd = gamma(K + 1) if d is not None else gB
        nu = _abs_norm_bound(abs(B) @ abs(A))
        a = 0.0
        if c is not None:
            A.eliminate_zeros()
            if np.any((A.getnnz(axis=1) > 0) & (c != 0)):
                raise CertificateError(f"pair {i // 2}: a hidden unit keeps an input weight and a nonzero bias")
            a = _vec_norm(np.asarray(abs(B) @ np.maximum(c, 0.0)).reshape(-1))
        a += _vec_norm(d)
        pn = map_norms[i // 2] + gB * nu                  # ≥ ‖exact map‖ (on the layer's inputs)
        ev = (g1 + gBd * (1 + g1)) * nu
        E_ev = ev * (H + E_ev) + gBd * a + pn * E_ev
        E_mp = gB * nu * (H + E_mp) + gBd * a + pn * E_mp
        H = pn * H + a                                    # ≥ ‖exact ticket's layer i‖
    return (E_ev + E_mp) * (1 + 1e-6) + 1e-300


def rescale_slack_affine(target: Target, inner: float, radius: float) -> float:
    """:func:`rescale_slack` for a target with biases over inputs of norm ≤ ``radius``: the stored
    W̃_i within 2u|W̃_i| of W_i/s_i, the stored b̃_i within γ_{2l+2}|b̃_i| of b_i/Π_{k≤i} s_k (a product
    of ≤ l scales and one division), telescoped over the layers with H_i = ‖W̃_i‖H_{i−1} + ‖b̃_i‖ ≥
    sup‖h̃_i‖; plus γ_{l+1}(H_l + ``inner``) for S and the ticket's last step. 0 when S = 1."""
    if target.output_scale == 1.0:
        return 0.0
    gb = gamma(2 * target.depth + 2)
    E, H = 0.0, float(radius)
    for i, (W, nrm) in enumerate(zip(target.weights, target.norms)):
        bn = _vec_norm(target.bias(i))
        E = 2 * UNIT_ROUNDOFF * _abs_norm_bound(np.asarray(W)) * (H + E) + nrm * E + gb * bn
        H = nrm * H + bn
    return (E + gamma(target.depth + 1) * (H + inner)) * (1 + 1e-6)


def _certify_affine(target: Target, maps, ticket_matrices, tb, dom: Domain, radius: float) -> Certificate:
    """The layer-wise recursion with affine terms over a domain of radius ``radius`` (module
    docstring, *Biases and domains*), plus the float slack of both networks."""
    if len(maps) != target.depth:
        raise CertificateError(f"{len(maps)} effective maps for a target of depth {target.depth}")
    nonneg = bool(dom.nonnegative)
    R = r = float(radius)
    delta = 0.0
    errs, gs, deltas = [], [], []
    for i, (W, m, w_norm) in enumerate(zip(target.weights, maps, target.norms)):
        if m.P.shape != W.shape:
            raise CertificateError(f"effective map {i} has shape {m.P.shape}, target layer {W.shape}")
        if m.p is not None and np.shape(m.p) != (W.shape[0],):
            raise CertificateError(f"effective map {i} has an offset of shape {np.shape(m.p)}, "
                                   f"expected ({W.shape[0]},)")
        if m.p is not None and not np.all(np.isfinite(m.p)):
            raise CertificateError(f"effective map {i} has a non-finite offset")
        if i == 0 and not nonneg:
            if m.N is None:
                raise CertificateError("the first layer's inputs can be negative: its map needs N")
            if m.N.shape != W.shape:
                raise CertificateError(f"effective map 0 has N of shape {m.N.shape}, target layer {W.shape}")
            e = spectral_norm(np.hstack([m.P - W, m.N + W]))
            g = spectral_norm(np.hstack([m.P, m.N]))
        else:   # inputs ≥ 0 (after a ReLU, or a nonnegative domain): G(h) = P h + p
            e = spectral_norm(m.P - W)
            g = spectral_norm(m.P)
        b = target.bias(i)
        pv = None if m.p is None else np.asarray(m.p, dtype=np.float64)
        if pv is None and b is None:
            beta = 0.0
        else:
            beta = _vec_norm((np.zeros(W.shape[0]) if pv is None else pv) - (0.0 if b is None else b))
        delta = min(e * r + w_norm * delta, e * R + g * delta) + beta
        R_next = w_norm * R + _vec_norm(b)
        r = min(g * r + _vec_norm(pv), R_next + delta)
        R = R_next
        errs.append(e)
        gs.append(g)
        deltas.append(delta)
    deltas[-1] *= 1 + 1e-10          # the rounding of this recursion (relative ≲ 10 l u)
    biases = [target.bias(i) for i in range(target.depth)]
    slack = float_slack_affine(target.weights, biases, radius)
    if ticket_matrices is not None:
        mats = [_csr(M) for M in ticket_matrices]
        if len(mats) == 2 * target.depth and _pair_form(mats):
            slack += _pair_float_slack_affine(mats, gs, tb, radius)
        else:
            slack += float_slack_affine(ticket_matrices, tb, radius)
    slack += rescale_slack_affine(target, deltas[-1] + slack, radius)
    scale = target.output_scale
    bound = (deltas[-1] + slack) * scale
    return Certificate(error_bound=bound, layer_errors=tuple(errs), map_norms=tuple(gs),
                       propagated=tuple(deltas), float_slack=slack * scale, method="layerwise",
                       layerwise_bound=bound, domain=None if is_default(dom) else dom.spec())


def matrix_norm_bound(M) -> float:
    """Upper bound on ‖M‖₂ for a dense or sparse matrix: the exact SVD norm when it is small,
    else min(‖M‖_F, √(‖M‖₁ ‖M‖_∞))."""
    if M.shape[0] * M.shape[1] <= 4_000_000:
        return spectral_norm(M.toarray() if sp.issparse(M) else np.asarray(M))
    fro = float(sp.linalg.norm(M) if sp.issparse(M) else np.linalg.norm(M))
    return min(fro, _abs_norm_bound(M)) * (1 + 1e-12)


def certify_copies(target: Target, first: EffectiveMap, later, copies, ticket_matrices=None) -> Certificate:
    """Certified bound for a network that carries ρ_ℓ *copies* of every target neuron (Burkholz
    2022's depth-(L+1) construction; ``copies[ℓ]`` for target layer ℓ, the last one 1).

    Copy space: H_ℓ = 1_{ρ_ℓ} ⊗ h_ℓ (every copy equal to the target neuron), ĥ_ℓ the ticket's
    copies, Δ_ℓ ≥ sup ‖ĥ_ℓ − H_ℓ‖, R_ℓ = Π_{k≤ℓ} ‖W_k‖ ≥ sup ‖h_ℓ‖. Layer 1 is a pair as in
    :func:`certify` with target 1⊗W₁ (rows repeated): Δ₁ = e₁ = ‖[P₁ − 1⊗W₁, N₁ + 1⊗W₁]‖₂.
    Layer ℓ ≥ 2 is one masked matrix M_ℓ over the copies of layer ℓ−1; with
    P_ℓ = M_ℓ (1_{ρ_{ℓ−1}} ⊗ I) (the sum over copies) and σ acting entrywise,

        ‖σ(M ĥ) − 1⊗σ(W h)‖ ≤ ‖M ĥ − 1⊗(W h)‖ ≤ ‖M (ĥ − 1⊗h)‖ + ‖(P_ℓ − 1⊗W_ℓ) h‖
                            ≤ ‖M_ℓ‖ Δ_{ℓ−1} + e_ℓ R_{ℓ−1},   e_ℓ = ‖P_ℓ − 1⊗W_ℓ‖₂.

    The last layer has one copy, so Δ_L bounds sup_{‖x‖≤1} ‖f(x) − g(x)‖₂; the float slack of
    both networks is added as in :func:`certify`. ``later[k] = (P, M)`` for target layer k + 2.
    """
    if len(later) != target.depth - 1 or len(copies) != target.depth:
        raise CertificateError("one (P, M) per target layer after the first, and one copy count per layer")
    W1 = np.repeat(target.weights[0], copies[0], axis=0)
    if first.P.shape != W1.shape or first.N is None:
        raise CertificateError(f"first map has shape {first.P.shape}, expected {W1.shape} with N")
    e = spectral_norm(np.hstack([first.P - W1, first.N + W1]))
    if ticket_matrices is not None:
        # P₁, N₁ = B A^± were computed in float: each entry within γ_K (|B||A|) of the exact one
        A, B = _csr(ticket_matrices[0]), _csr(ticket_matrices[1])
        K = int(B.getnnz(axis=1).max()) if B.shape[0] and B.shape[1] else 0
        e += 2 * gamma(K) * _abs_norm_bound(abs(B) @ abs(A)) * (1 + 1e-6)
    delta, R = e, target.norms[0]
    errs, gs, deltas = [e], [spectral_norm(np.hstack([first.P, first.N]))], [e]
    for k, (P, M) in enumerate(later, start=1):
        Wk = np.repeat(target.weights[k], copies[k], axis=0)
        if P.shape != Wk.shape:
            raise CertificateError(f"layer {k} map has shape {P.shape}, expected {Wk.shape}")
        e = spectral_norm(P - Wk)
        # P (sums over ρ copies) was computed in float: each entry within γ_ρ of Σ|terms|
        rho = M.shape[1] // P.shape[1] if P.shape[1] else 0
        Pabs = np.asarray(abs(_csr(M)).toarray().reshape(M.shape[0], P.shape[1], rho).sum(axis=2)) if rho else P
        e += gamma(rho) * _abs_norm_bound(Pabs) * (1 + 1e-6)
        g = matrix_norm_bound(M)
        delta = g * delta + e * R
        R *= target.norms[k]
        errs.append(e)
        gs.append(g)
        deltas.append(delta)
    return _certificate(target, errs, gs, deltas, ticket_matrices)
