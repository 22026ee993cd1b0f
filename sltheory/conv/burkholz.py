"""``conv_burkholz``: Burkholz's depth-(L+1) construction for convolutional targets (Burkholz,
"Convolutional and residual networks provably contain lottery tickets", ICML 2022,
arXiv:2205.02343; the structure read from the official code RelationalML/LT-existence,
``Utils/pruning.py`` ``prune_conv`` and ``Models/conv.py``, through ``shared/theory.md``; no code
copied). Departures of ours — hence ``whose = "ours"``: the random network is fixed before pruning
(the official code redraws on failure), the slot layout of the first layer, the width rule, and
the certificate below.

**Covered targets.** ``ConvTarget`` s whose first op is a conv / linear layer, made of ``Affine``
(Conv1d, Conv2d with any stride and zero padding, Linear; with or without bias), ``ReLU``, ``Pool``
(max / avg), ``Flatten`` and ``Residual`` blocks (identity or conv shortcut; the last Affine must
lie outside them). Refused with a :class:`~sltheory.errors.TargetError`: ops before the first
Affine, a last Affine inside a residual block, and — for targets with biases, whose constant
channels must stay constant — an avg pool with padding and ``count_include_pad=True`` or a conv
with no kernel position clear of the padding (:func:`sltheory.conv.network.bias_position`).

**Random network** (target Affine layers 1 … L with c_ℓ output channels, kernel K_ℓ, stride,
padding; ρ_ℓ copies of layer ℓ's channels, ρ_L = 1):

* random layer 0, univariate 1×1: 2·n_0 units per input channel (n_0 per slot (j, +) and (j, −);
  only (j, +) on a nonnegative domain), unit u reads input channel j(u) with one weight a_u whose
  magnitude is U(0, 2) (the official code's U(−2, 2)) and whose sign is its slot's (the layout of
  :func:`sltheory.conv.network.sample_first`, same stream), then a ReLU;
* random layer 1: a conv (ρ_1 c_1, H_0, K_1) with target layer 1's stride / padding (a Linear
  when target layer 1 is a Linear), weights U[−1, 1);
* random layer ℓ = 2 … L: a conv (ρ_ℓ c_ℓ, ρ_{ℓ−1} c_{ℓ−1}, K_ℓ) (or a Linear
  (ρ_ℓ d_ℓ, ρ_{ℓ−1} D) after a Flatten of D features) with the target's stride / padding,
  U[−1, 1);
* every other op of the target (ReLU, pools, Flatten) acts as is, per channel, in copy space; a
  residual block adds its body's and its shortcut's copy-space outputs (the identity skip maps copy
  k of channel j to copy k of channel j), so both carry the same ρ.

**Biases** (as the MLP ``burkholz``, after the official code's bias units and constant neurons,
made fixed): random layer 0 gets n_0 *bias units* after its univariate units — constant channels
σ(β_k) = β_k, β ~ U[0, 2) (stream ``(0, 3)``); every random layer ℓ < L writes ρ_ℓ *constant
channels* after its copies (rows ρ_ℓ c_ℓ …), which keep only weights from the previous constant
channels, at the kernel position q* of :func:`~sltheory.conv.network.bias_position` (never in the
padding, so a constant map stays constant; a Linear after a Flatten reads feature 0 of each
constant channel), each a subset sum ≈ 1 solved once before the sweep; copy (k, o) of a layer with
a bias keeps a subset of the previous constant channels (at q*) with Σ M[(k,o), c, q*] κ_c ≈ b[o].
Pools (max, or avg without counted padding), ReLU, Flatten and residual additions keep constant
channels constant; the certificate computes their values κ from the masked weights.

``n`` (``ConvPlan.n``, one per Affine in evaluation order — a block's body, then its shortcut):
n[0] the univariate units per slot, n[i] (i ≥ 1) the samples of Affine i's problems, i.e. the
copies ρ_in it reads; Affine i writes ρ_out = n[i+1] copies (1 for the last). With residual blocks
the copies must agree (:func:`layout`; the rule gives one n to every layer).

Row r of random layer ℓ ≥ 1 is drawn from ``SeedSequence(seed, spawn_key=(2ℓ+1, 3, r))`` (one
stream per (seed, layer, output channel), :func:`sample_layer`), so ``sample(plan, seed)``
regenerates the network from the plan alone.

**Copy axis (copy-major).** Copy k of channel j of a layer with c channels is channel k·c + j; so
the copy-space state is the lift E_ρ h = (h; h; …; h) (ρ copies stacked on the channel axis), and
a Flatten of E_ρ h is E_ρ of the flattened h (the flat index of copy k of feature f is k·D + f):
Flatten, ReLU and pools commute with E_ρ, and the Linear after a Flatten reads copy c of feature f
at column c·D + f. Row (k, o) of a random layer is k·c_out + o.

**Pruning.** Masks only: layer 1 with the univariate layer is a Pensia pair for the target E_{ρ_1}W_1
(rows (k, o) all aiming at W_1[o]) — reduced, as in :mod:`sltheory.conv.subset_sum`, to the MLP
:class:`~sltheory.constructions._pairs.PairLayer` by reshaping the conv to a (rows·|K|, H_0)
matrix; at layer ℓ ≥ 2 copy k of output channel o keeps, for each input channel j and kernel
position q, a subset S of j's copies with Σ_{c∈S} M[(k,o), (c,j), q] ≈ W_ℓ[o, j, q]. The subset
sums are solved by :func:`sltheory.subset_sum.solve` (staged) at a per-weight tolerance swept down
geometrically until the certificate is ≤ ε (else :class:`ApproximationFailedError` with the n
needed).

**Masks / ticket file.** One entry per target Affine layer ℓ, ``(mask_a, mask_β, mask_M)``: entry 0
holds the univariate weights' mask (H_0,), the bias units' (n_0,) (None without biases) and random
layer 1's; entry ℓ ≥ 1 an empty (0,) mask (no univariate layer), None and random layer ℓ+1's. The
ticket network is the random network with the pruned weights set to 0 (:meth:`ConvBurkholz.ticket_network`).

**Certificate** (:meth:`ConvBurkholz.certify`; every norm an upper bound, see below). Notation:
h the target's state after each op, ĥ the ticket's, x ∈ domain with ‖x‖₂ ≤ R_0; R ≥ sup‖h‖
along the target (R ← ‖conv W_ℓ‖ R at Affine ℓ, R ← Lip(op) R at a pool, unchanged at ReLU /
Flatten); Δ ≥ sup‖ĥ − E_ρ h‖₂ with ρ the current copy count.

1. *Layer 1.* Unit u computes σ(a_u x_j) = |a_u| σ(±x_j) (sign of its slot), and zero padding
   commutes with it (σ(a·0) = 0), so random layer 1 of the ticket computes exactly
   conv(P, σ(x)) + conv(N, σ(−x)) with P[r, j, q] = Σ_{u∈(j,+)} M_1[r, u, q] |a_u| and N likewise
   over (j, −) (masked weights), while E_{ρ_1}(W_1 ∗ x) = conv(W̄, x), W̄[(k, o)] = W_1[o]. With
   x = σ(x) − σ(−x): ĥ − E h = conv([P − W̄, N + W̄], [σ(x); σ(−x)]) and ‖[σ(x); σ(−x)]‖₂ = ‖x‖₂,
   so Δ_1 = e_1 R_0, e_1 = ‖conv([P − W̄, N + W̄])‖ on input shape (2c_0, …) (only P − W̄ on a
   nonnegative domain, where σ(−x) = 0).
2. *Between Affine layers* (ReLU, pools, Flatten): op(E_ρ h) = E_ρ op(h) (they act per channel;
   Flatten by the copy-major order), so ‖op(ĥ) − E_ρ op(h)‖ ≤ Lip(op) Δ: Lip = 1 for ReLU and
   Flatten; max pool √κ with κ = Π_d ⌈k_d/s_d⌉ the most windows an input lies in
   (|max_i u_i − max_i v_i| ≤ max_i |u_i − v_i|, summed over windows); avg pool (linear,
   nonnegative) √(max column sum · max row sum) of its matrix (Schur), computed exactly from the
   geometry.
1′. *Constants.* With biases, a random layer's copy rows also add p = M[copies, constants, q*] κ (the
   same at every output position), so Δ gains eb = √S_out (‖p − E b‖ + ‖p_err‖) (S_out the output
   positions; p_err ≥ the rounding of p and κ computed here: γ_K |M| κ + |M| η, η ≥ |κ̂ − κ| carried
   through the layers, u|κ| per residual addition), and R ← ‖conv W‖ R + √S_out ‖b‖. The
   certificate checks that constant rows read only constant channels, and only at q*.
3. *Affine ℓ ≥ 2* with masked M (copy space) and P[(k,o), j, q] = Σ_c M[(k,o), (c,j), q] (so
   conv(M, E_ρ h) = conv(P, h)): conv(M, ĥ) − E(W ∗ h) = conv(M, ĥ − E h) + conv(P − W̄, h),
   hence Δ_ℓ = g_ℓ Δ_{ℓ−1} + e_ℓ R_{ℓ−1}, g_ℓ = ‖conv M‖ on the copy-space input shape,
   e_ℓ = ‖conv(P − W̄)‖ on the target's input shape. After the last Affine ρ = 1 and Δ bounds
   sup ‖target(x) − ticket(x)‖₂ in exact arithmetic (ops after it by step 2).
3′. *Residual block* out = σ(body(h) + shortcut(h)) (σ optional): E_ρ is linear, so
   ‖b̂ + ŝ − E(b + s)‖ ≤ Δ_body + Δ_shortcut (identity: Δ_shortcut = Δ_in), both recursions
   started from (Δ_in, R_in); R_out = R_body + R_shortcut; the ReLU is 1-Lipschitz.
4. *Floating point* (both networks evaluated by torch in float64; convs and linears by direct
   summation — im2col + GEMM on the CPU — any summation order): fl-net vs exact net by the chain
   E' = (1+γ_n) ν E + γ_n (ν s + √S_out‖b‖), s' = ν s + √S_out‖b‖ (the bias one more term; none in
   the ticket, whose bias units enter s as √S_in‖β‖; s ≥ ‖exact state‖, ν ≥ ‖conv |K|‖₂ from the unrolled
   |K|'s row / column sums, n = c_in·|K| the inner dimension; Higham's |fl(Σ_i w_i h_i) −
   Σ_i w_i h_i| ≤ γ_n Σ_i |w_i||h_i|), E' = u ν_U s + …, for the univariate products a_u x_j
   (ν_U = √(max_j Σ_{u∈j} a_u²)), E' = Lip E for ReLU / max pool / Flatten (exact), and
   E' = L(E + γ_{|k|+2}(s + E)) for avg pools, E' = E_b + E_s + u(s_b + s_s + E_b + E_s) for a
   residual addition. The bound adds the target's and the ticket's
   slack. The effective kernels P, N are themselves computed in float: each entry within
   γ_m Σ|terms| (m terms), and the subtraction of W̄ within u; e_ℓ adds γ_m ‖conv(Σ|terms|)‖ and is
   multiplied by (1 + 2u). Every computed norm bound is multiplied by (1 + 10⁻⁹), which covers the
   rounding of its own few-thousand-term sums (γ_{10⁴} < 2·10⁻¹²).

Operator norms: a conv on a given input shape is unrolled to its exact sparse matrix
(:func:`unrolled`; every entry a kernel entry, placed by index arithmetic, no rounding) and bounded
by :func:`sltheory.certificate.bound.matrix_norm_bound` (the SVD norm times a safety factor, or the
verified Gram / Cholesky bound, while the matrix has ≤ 4·10⁶ entries; else min(‖·‖_F,
√(‖·‖₁‖·‖_∞))).

**Width rule** (ours, in the MLP ``burkholz``'s :func:`~sltheory.constructions.burkholz.samples_per_problem`
style): each problem at layer ℓ is one of Pensia's with the conv dims of
:func:`sltheory.conv.subset_sum.conv_dims` (d'_in = c_in|K|, d'_out = c_out Π⌈k/s⌉), and every
output channel has ρ copies, so the union bound runs over ρ× more problems:
n = max_ℓ max(C log₂(d'_in ρ d'_out L / min(ε', δ)), log₂(1/min(ε', δ)) + n_reach + 2 log₂ ρ) at
ε' = ε / ((R_0 + #biased layers) g^L Π Lip(pools) 2^r) (g = ``weight_norm`` ≥ 1, the declared
bound on every target layer's operator norm; r residual blocks, as in conv_subset_sum; a biased
layer has one more input, the bias pool, and with biases every layer one more output, the
constant channels), with ρ = n (one n for all layers, solved by fixed-point iteration).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import explicit_samples, nonnegative_int, positive_float
from .._linalg import UNIT_ROUNDOFF, gamma
from ..certificate.bound import Certificate, _abs_norm_bound, _vec_norm, matrix_norm_bound
from ..constructions.burkholz import samples_per_problem
from ..constructions.subset_sum import C_DEFAULT, MAX_N, N_REACH
from ..errors import ApproximationFailedError, CertificateError, InvalidArgumentError, NetworkTooLargeError, TargetError
from ..subset_sum import masks_to_bool, solve
from .base import ConvConstruction, ConvPruneResult
from .network import (
    ConvPlan,
    ConvRandomNetwork,
    _stream_draws,
    affine_specs,
    bias_position,
    count_residuals,
    sample_first,
    skeleton,
)
from .ops import Affine, Flatten, Pool, ReLU, Residual, affine_layers, batch_input, conv_out_size
from .subset_sum import MAX_CONV_WEIGHTS, conv_dims

#: The univariate layer's weights: U(−2, 2) (the official code's ``prune_conv``).
FIRST_LAYER_SCALE = 2.0
#: Spawn-key tag of the copy layers' per-row streams (the pair constructions' dense layers use 2).
STREAM_TAG = 3
#: The bias units' biases: U(0, 2) (the official code's bias units).
BIAS_LAW = ("interval", 0.0, 2.0)
#: Constant channels aim at 1, solved once before the sweep at this tolerance.
CONSTANT_TARGET = 1.0
CONSTANT_TOL = 2.0 ** -20
#: Tolerance sweep: from TOL_START down to TOL_MIN.
TOL_START = 2.0 ** -3
TOL_MIN = 2.0 ** -40
#: Relative margin on every computed norm bound (covers the rounding of its own sums).
MARGIN = 1e-9


# ------------------------------------------------------------------ target checks and geometry
def check_target(target) -> list[Affine]:
    """The target's Affine layers (evaluation order), or TargetError unless it is a bias-free conv
    target starting with an Affine, whose last Affine is not inside a residual block (module
    docstring)."""
    ops = tuple(getattr(target, "ops", ()))
    if not ops:
        raise TargetError(f"conv_burkholz needs a ConvTarget, got {type(target).__name__}")

    def check(seq, top):
        for i, op in enumerate(seq):
            where = i if top is None else top
            if isinstance(op, Residual):
                check(op.body, where)
                check(op.shortcut, where)
            elif not isinstance(op, (Affine, ReLU, Pool, Flatten)):
                raise TargetError(f"conv_burkholz cannot carry op {type(op).__name__}", layer=where)

    check(ops, None)
    layers = list(affine_layers(ops))
    if any(op.bias is not None for op in layers):
        # constant channels must stay constant: every conv reads them at a kernel position that never
        # meets the padding (TargetError from bias_position otherwise), and no pool averages padding in
        def pools(seq):
            for op in seq:
                if isinstance(op, Residual):
                    yield from pools(op.body)
                    yield from pools(op.shortcut)
                elif isinstance(op, Pool):
                    yield op
        for op in pools(ops):
            if op.kind == "avg" and op.count_include_pad and any(int(p) > 0 for p in op.padding):
                raise TargetError("conv_burkholz carries biases through constant channels: an avg pool with padding "
                                  "and count_include_pad=True makes them non-constant at the borders; use "
                                  "count_include_pad=False or conv_subset_sum")
        for op in layers:
            if op.is_conv:
                bias_position(op)
    if not isinstance(ops[0], Affine):
        raise TargetError("conv_burkholz needs the target to start with a conv or linear layer (its univariate "
                          "layer reads the raw input)", layer=0)
    last = max(i for i, op in enumerate(ops) if isinstance(op, (Affine, Residual)))
    if isinstance(ops[last], Residual):
        raise TargetError("conv_burkholz needs the last conv/linear layer outside residual blocks (it has one copy, "
                          "the block's input has ρ)", layer=last)
    return layers


@dataclasses.dataclass(frozen=True)
class Slot:
    """Where Affine i reads and writes in copy space (:func:`layout`)."""

    rho_in: int | None     # copies read (None: the first layer, which reads the univariate units)
    rho_out: int           # copies written (1 for the last layer)
    nc_in: int             # constant channels read (the bias units at the first layer)
    nc_out: int            # constant channels written
    cmult: int             # features per constant channel read (1, or the spatial size after a Flatten)
    copy_cols: int         # input channels / features of the copies (H_0 at the first layer)
    q: tuple               # kernel position of the constant channels (() for a Linear)


def layout(ops, n, first_units: int, biased: bool) -> list[Slot]:
    """Per Affine (evaluation order) its :class:`Slot` for samples ``n`` (n[i] = ρ_in of Affine
    i ≥ 1, ρ_out(i) = n[i+1], 1 for the last): the copies are followed by ρ_out constant channels
    when the target has biases (n[0] bias units after the univariate layer; none after the last
    layer). Raises InvalidArgumentError when a layer would read another number of copies than its
    n says, or a residual addition would add different copy counts (with residual blocks, give
    every layer after the first the same n)."""
    L = len(affine_specs(ops))
    n = [int(v) for v in n]
    out: list = [None] * L
    counter = [0]

    def walk(seq, state):
        for op in seq:
            if isinstance(op, Residual):
                b = walk(op.body, state)
                c = walk(op.shortcut, state) if op.shortcut else state
                if b != c:
                    raise InvalidArgumentError(f"a residual block would add {b[0]} copies to {c[0]}: with residual "
                                               f"blocks give every conv/linear layer after the first the same n, "
                                               f"got {n}")
                state = b
            elif isinstance(op, Flatten):
                rho, nc, mult = state
                state = (rho, nc, mult * math.prod(int(v) for v in op.in_shape[1:]))
            elif isinstance(op, Affine) or getattr(op, "is_affine", False):
                i = counter[0]
                counter[0] += 1
                rho, nc, mult = state
                if i > 0 and rho != n[i]:
                    raise InvalidArgumentError(f"layer {i} would read {rho} copies, its n is {n[i]}: with residual "
                                               f"blocks give every conv/linear layer after the first the same n")
                rho_out = n[i + 1] if i + 1 < L else 1
                nc_out = rho_out if biased and i + 1 < L else 0
                q = bias_position(op) if biased and op.is_conv else ()
                cols = first_units if i == 0 else rho * int(op.in_channels)
                out[i] = Slot(None if i == 0 else rho, rho_out, nc, nc_out, mult, cols, tuple(q))
                state = (rho_out, nc_out, 1)
        return state

    walk(tuple(ops), (None, n[0] if biased else 0, 1))
    return out


def copy_layout(ops, n) -> list:
    """ρ_in of every Affine (None for the first): :func:`layout` without constants."""
    return [s.rho_in for s in layout(ops, n, 0, False)]


def pool_lipschitz(op) -> float:
    """An upper bound on the ℓ2 Lipschitz constant of a pool op on its input shape (module
    docstring, step 2); also its operator norm bound for avg pools and a bound on ‖pool(h)‖/‖h‖."""
    kappa = math.prod(-(-int(k) // int(s)) for k, s in zip(op.kernel, op.stride))
    if op.kind == "max":
        return math.sqrt(kappa) * (1 + MARGIN)
    M = _avg_pool_matrix(op)
    return _abs_norm_bound(M) * (1 + MARGIN)


def _avg_pool_matrix(op) -> sp.csr_matrix:
    """An entrywise upper bound on the (per-channel) matrix of an avg pool on one channel."""
    n_in = tuple(int(v) for v in op.in_shape[1:])
    n_out = tuple(int(v) for v in op.out_shape[1:])
    ks, ss, ps = (np.asarray(v, dtype=np.int64) for v in (op.kernel, op.stride, op.padding))
    d = len(ks)
    T = np.indices(n_out).reshape(d, -1)
    Q = np.indices(tuple(int(k) for k in ks)).reshape(d, -1)
    idx = T[:, :, None] * ss[:, None, None] - ps[:, None, None] + Q[:, None, :]
    valid = np.all((idx >= 0) & (idx < np.asarray(n_in)[:, None, None]), axis=0)
    # weights 1/(entries of the window inside the input): torch's divisor (the window clipped to
    # the padded input with count_include_pad, else its entries inside the input) is never smaller,
    # so these entries bound the pool's from above (Schur's bound only grows)
    div = valid.sum(axis=1)
    t_i, q_i = np.nonzero(valid)
    flat = np.zeros(t_i.size, dtype=np.int64)
    for dd in range(d):
        flat = flat * n_in[dd] + idx[dd, t_i, q_i]
    data = 1.0 / np.maximum(div[t_i], 1)
    return sp.csr_matrix((data, (t_i, flat)), shape=(int(np.prod(n_out)), int(np.prod(n_in))))


def unrolled(kernel: np.ndarray, in_shape, stride=(), padding=()) -> sp.csr_matrix:
    """The exact matrix of x ↦ conv(kernel, x) (zero padding, stride) on inputs of ``in_shape`` =
    (c_in, *spatial), rows (o, output position), columns (j, input position), both C order; a 2-D
    ``kernel`` is a Linear's matrix (returned as is)."""
    K = np.asarray(kernel, dtype=np.float64)
    if K.ndim == 2:
        return sp.csr_matrix(K)
    c_out, c_in = K.shape[:2]
    ks = np.asarray(K.shape[2:], dtype=np.int64)
    d = ks.size
    n_in = np.asarray(in_shape[1:], dtype=np.int64)
    if int(in_shape[0]) != c_in or n_in.size != d:
        raise CertificateError(f"kernel {K.shape} does not read inputs of shape {tuple(in_shape)}")
    ss, ps = np.asarray(stride, dtype=np.int64), np.asarray(padding, dtype=np.int64)
    n_out = tuple(conv_out_size(int(n_in[i]), int(ks[i]), int(ss[i]), int(ps[i])) for i in range(d))
    T = np.indices(n_out).reshape(d, -1)
    Q = np.indices(tuple(int(k) for k in ks)).reshape(d, -1)
    idx = T[:, :, None] * ss[:, None, None] - ps[:, None, None] + Q[:, None, :]     # (d, nT, nQ)
    valid = np.all((idx >= 0) & (idx < n_in[:, None, None]), axis=0)
    t_i, q_i = np.nonzero(valid)
    flat = np.zeros(t_i.size, dtype=np.int64)
    for dd in range(d):
        flat = flat * n_in[dd] + idx[dd, t_i, q_i]
    nT, nIn = T.shape[1], int(np.prod(n_in))
    o = np.arange(c_out)[:, None, None]
    j = np.arange(c_in)[None, :, None]
    rows = np.broadcast_to(o * nT + t_i[None, None, :], (c_out, c_in, t_i.size)).reshape(-1)
    cols = np.broadcast_to(j * nIn + flat[None, None, :], (c_out, c_in, t_i.size)).reshape(-1)
    data = K.reshape(c_out, c_in, -1)[:, :, q_i].reshape(-1)
    keep = data != 0
    return sp.csr_matrix((data[keep], (rows[keep], cols[keep])), shape=(c_out * nT, c_in * nIn))


#: Unrolled operators with more entries get min(this module's bound, :func:`sltheory.conv.norms.conv_norm_bound`).
DENSE_NORM_MAX = 4_000_000


def op_norm(kernel, in_shape, stride=(), padding=()) -> float:
    """Upper bound on the operator norm (ℓ2 → ℓ2) of the conv / linear on ``in_shape``: the
    unrolled matrix's :func:`~sltheory.certificate.bound.matrix_norm_bound` (its SVD / verified
    Gram norm up to :data:`DENSE_NORM_MAX` entries, else Frobenius / Schur), and beyond that size
    also the DFT bound of :func:`sltheory.conv.norms.conv_norm_bound` (the smaller of two upper
    bounds is one)."""
    M = unrolled(kernel, in_shape, stride, padding)
    if M.nnz == 0:
        return 0.0
    bound = matrix_norm_bound(M)
    if M.shape[0] * M.shape[1] > DENSE_NORM_MAX and np.ndim(kernel) > 2:
        from .norms import conv_norm_bound

        bound = min(bound, conv_norm_bound(np.asarray(kernel, dtype=np.float64), tuple(in_shape), tuple(stride),
                                           tuple(padding)))
    return bound * (1 + MARGIN)


def abs_op_norm(kernel, in_shape, stride=(), padding=()) -> float:
    """Upper bound on ‖conv |kernel|‖₂ (Schur: √(max column sum · max row sum) of the unrolled |K|)."""
    M = unrolled(np.abs(np.asarray(kernel, dtype=np.float64)), in_shape, stride, padding)
    return _abs_norm_bound(M) * (1 + MARGIN)


def _inner(kernel) -> int:
    """Terms per output of a conv / linear with this kernel: c_in · |K|."""
    return int(np.prod(np.shape(kernel)[1:]))


# ------------------------------------------------------------------ the random network
def copies_of(plan: ConvPlan) -> tuple[int, ...]:
    """ρ_ℓ for target layers ℓ = 1 … L: n[ℓ] (the samples of layer ℓ+1's problems), ρ_L = 1."""
    n = tuple(int(v) for v in plan.n)
    return n[1:] + (1,)


def first_units(plan: ConvPlan) -> int:
    return plan.units(0)


def is_biased(plan: ConvPlan) -> bool:
    return any(bool(getattr(spec, "has_bias", False)) for spec in plan.layers)


def bias_units(plan: ConvPlan) -> int:
    """Bias units after the univariate layer: n[0] when the target has biases, else 0."""
    return int(plan.n[0]) if is_biased(plan) else 0


def plan_layout(plan: ConvPlan) -> list[Slot]:
    return layout(plan.ops, plan.n, first_units(plan), is_biased(plan))


def random_shapes(plan: ConvPlan) -> list[tuple[int, ...]]:
    """Shapes of random layers 1 … L: (ρ_out c_out + constants out, copy columns + constants in ·
    features per constant, *K) (random layer 0 is the univariate layer of :func:`first_units`
    weights and :func:`bias_units` biases)."""
    out = []
    for spec, sl in zip(plan.layers, plan_layout(plan)):
        out.append((sl.rho_out * spec.out_channels + sl.nc_out, sl.copy_cols + sl.nc_in * sl.cmult)
                   + tuple(spec.kernel))
    return out


def num_random_weights(plan: ConvPlan) -> int:
    """Random weights and biases of the network."""
    return int(first_units(plan) + bias_units(plan) + sum(math.prod(s) for s in random_shapes(plan)))


def sample_layer(plan: ConvPlan, seed: int, ell: int, rows=None) -> np.ndarray:
    """Random layer ``ell`` (1 … L), rows ``rows`` (default all), each row from its own stream
    ``(2ℓ+1, STREAM_TAG, r)``."""
    shape = random_shapes(plan)[ell - 1]
    rr = range(shape[0]) if rows is None else rows
    out = np.empty((len(rr),) + tuple(shape[1:]))
    law = tuple(plan.distribution)
    for i, r in enumerate(rr):
        out[i] = _stream_draws(seed, (2 * ell + 1, STREAM_TAG, int(r)), tuple(shape[1:]), law)
    return out


def sample_bias_units(plan: ConvPlan, seed: int) -> np.ndarray:
    """The bias units' biases β ~ U[0, 2) (the official code's U(0, 2)), stream ``(0, STREAM_TAG)``."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0, STREAM_TAG)))
    lo, hi = BIAS_LAW[1], BIAS_LAW[2]
    return rng.random(bias_units(plan)) * (hi - lo) + lo


class BurkholzConvNetwork(ConvRandomNetwork):
    """The random network of a ``conv_burkholz`` plan (module docstring); with ``weights`` given
    (univariate a, bias units' β or None, [M_1 … M_L]) the same architecture with those weights (a
    ticket: the random weights with the pruned ones set to 0). Input (B, *input_shape) or
    flattened; output flattened (B, d_out); float64 inside."""

    a: torch.Tensor
    beta: torch.Tensor
    channel: torch.Tensor

    def __init__(self, plan: ConvPlan, seed: int, device=None, *, weights=None):
        nn.Module.__init__(self)
        self.plan = plan
        self.seed = int(seed)
        self._ops = plan.ops
        specs = affine_specs(self._ops)
        L = len(specs)
        if weights is None:
            a, _ = sample_first(plan, self.seed, 0)
            beta = sample_bias_units(plan, self.seed)
            mats = [sample_layer(plan, self.seed, ell) for ell in range(1, L + 1)]
        else:
            a, beta, mats = weights
            if beta is None:
                beta = np.zeros(0)
        dev = device or "cpu"
        m = 2 if plan.signed[0] else 1
        self.register_buffer("a", torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dev))
        self.register_buffer("beta", torch.as_tensor(np.asarray(beta, dtype=np.float64)).to(dev))
        self.register_buffer("channel", torch.from_numpy(np.arange(len(a)) // (m * int(plan.n[0]))).to(dev))
        for ell, M in enumerate(mats, start=1):
            self.register_buffer(f"M{ell}", torch.as_tensor(np.asarray(M, dtype=np.float64)).to(dev))
        self._specs = specs

    def weight(self, ell: int) -> torch.Tensor:
        """Random layer ``ell`` (1 … L)."""
        return getattr(self, f"M{ell}")

    def arrays(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """(a, [M_1 … M_L]) as numpy arrays (the bias units' β: :meth:`bias_array`)."""
        return (self.a.detach().cpu().numpy(),
                [self.weight(ell).detach().cpu().numpy() for ell in range(1, len(self._specs) + 1)])

    def bias_array(self) -> np.ndarray | None:
        """The bias units' biases β (None without biases)."""
        return self.beta.detach().cpu().numpy() if self.beta.numel() else None

    def pair_arrays(self, i: int):
        """Refused: a conv_burkholz network has copy layers, not the pairs of the 2L constructions (its
        weights: :meth:`arrays`)."""
        raise InvalidArgumentError("a conv_burkholz network has copy layers, not pairs: use its arrays()")

    def _affine(self, i: int, h: torch.Tensor) -> torch.Tensor:
        spec = self._specs[i]
        if i == 0:
            view = (1, -1) + (1,) * (h.dim() - 2)
            u = torch.relu(h.index_select(1, self.channel) * self.a.to(h.dtype).view(view))
            if self.beta.numel():
                const = torch.relu(self.beta.to(h.dtype)).view(view).expand((h.shape[0], -1) + tuple(h.shape[2:]))
                u = torch.cat([u, const], dim=1)
            h = u
        M = self.weight(i + 1).to(h.dtype)
        if not spec.is_conv:
            return F.linear(h, M)
        fn = F.conv1d if M.dim() == 3 else F.conv2d
        return fn(h, M, None, stride=spec.stride, padding=spec.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .ops import forward as ops_forward

        dtype = x.dtype
        xb = batch_input(x, self.plan.input_shape)
        y = ops_forward(self._ops, xb, affine=lambda op, h: self._affine(op.index, h))
        return y.reshape(x.shape[0], -1).to(dtype)


# ------------------------------------------------------------------ the width rule
def _pool_gain(ops) -> float:
    """Π Lip(pool) over the pools of ``ops`` (inside residual blocks too; shapes only)."""
    out = 1.0
    for op in ops:
        if isinstance(op, Pool):
            out *= pool_lipschitz(op)
        elif isinstance(op, Residual):
            out *= max(_pool_gain(op.body), _pool_gain(op.shortcut))
    return out


def rule_eps(eps, radius, weight_norm, depth, pool_gain=1.0, n_biased=0):
    """ε' = ε / ((R_0 + #biased layers) g^L Π Lip(pools) 2^r) (module docstring; ``pool_gain`` holds
    the 2^r). Floats or sympy."""
    from .._backend import ops as sym_ops

    o = sym_ops(eps, radius, weight_norm)
    return eps / ((radius + n_biased) * o.max(weight_norm, 1) ** depth * pool_gain)


def rule_dims(spec, biased: bool) -> tuple[int, int]:
    """(d'_in, d'_out) of the rule: :func:`sltheory.conv.subset_sum.conv_dims`, with one more input
    (the bias pool) for a layer with a bias and one more output (the constant channels) when the
    target has biases."""
    d_in, d_out = conv_dims(spec, getattr(spec, "bias", None) is not None)
    return d_in, d_out + (1 if biased else 0)


def copies_rule(dims, depth, eps, delta, C=C_DEFAULT, n_reach=N_REACH) -> float:
    """The n (= ρ) solving n = max_ℓ samples_per_problem(d'_in, d'_out, L, ε', δ, ρ = n), ``dims`` the
    (d'_in, d'_out) of every layer (numeric)."""
    n = 1.0
    for _ in range(60):
        new = max(samples_per_problem(di, do, depth, eps, delta, max(n, 1.0), C, n_reach) for di, do in dims)
        if abs(new - n) < 1e-9:
            break
        n = new
    return n


# ------------------------------------------------------------------ pruning problems
def _select(samples, targets, counts, tol):
    res = solve(samples, targets, counts=counts, tol=tol, mode="staged")
    return masks_to_bool(res.masks, samples.shape[1]), res.errors


class _FirstLayer:
    """Target layer 1: the Pensia pair (univariate layer, random layer 1) for E_{ρ_1} W_1, through
    the MLP PairLayer on the (rows·|K|, H_0) reshaping (module docstring)."""

    def __init__(self, plan: ConvPlan, a: np.ndarray, M: np.ndarray, W: np.ndarray, rho: int):
        from ..constructions._pairs import PairLayer

        H0 = a.size
        c0 = W.shape[1]
        m = 2 if plan.signed[0] else 1
        A = np.zeros((H0, c0))
        A[np.arange(H0), np.arange(H0) // (m * int(plan.n[0]))] = a
        self.shape = M.shape
        Bmat = np.ascontiguousarray(np.moveaxis(M, 1, -1).reshape(-1, H0))           # rows (r, q)
        Wbar = np.tile(W, (rho,) + (1,) * (W.ndim - 1))                             # row k·c_1 + o = W[o]
        Wmat = Wbar if Wbar.ndim == 2 else np.ascontiguousarray(np.moveaxis(Wbar, 1, -1).reshape(-1, c0))
        self.pair = PairLayer(A, Bmat, Wmat, bool(plan.signed[0]), int(plan.n[0]), _select)
        self.n = int(plan.n[0])

    @property
    def errors(self) -> np.ndarray:
        return self.pair.errors

    @property
    def targets(self) -> np.ndarray:
        return self.pair.targets

    @property
    def chosen(self) -> np.ndarray:
        return self.pair.chosen

    def solve(self, tol, only_above=None):
        self.pair.solve(tol, only_above=only_above)

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        mA, mB = self.pair.pair_masks()
        mask_a = np.asarray(mA.any(axis=1), dtype=bool)
        K = self.shape[2:]
        mask_M = np.moveaxis(mB.reshape((self.shape[0],) + tuple(K) + (self.shape[1],)), -1, 1).copy()
        return mask_a, mask_M


class _CopyLayer:
    """Target layer ℓ ≥ 2: problems ((k, o), j, q) over the ρ_in copies of input channel j."""

    def __init__(self, M: np.ndarray, W: np.ndarray, rho_in: int, rho_out: int):
        R = M.shape[0]
        c_in = W.shape[1]
        P = int(np.prod(W.shape[2:])) if W.ndim > 2 else 1
        self.shape = M.shape
        self.rho_in, self.c_in, self.P = rho_in, c_in, P
        # samples[((k,o), j, q), c] = M[(k,o), c·c_in + j, q]
        self.samples = np.ascontiguousarray(M.reshape(R, rho_in, c_in, P).transpose(0, 2, 3, 1).reshape(-1, rho_in))
        Wr = W.reshape(W.shape[0], c_in, P)
        self.targets = np.tile(Wr, (rho_out, 1, 1)).reshape(-1)
        self.counts = np.full(self.targets.size, rho_in, dtype=np.int64)
        self.chosen = np.zeros(self.samples.shape, dtype=bool)
        self.errors = np.abs(self.targets).astype(np.float64)
        self.n = rho_in

    def solve(self, tol, only_above=None):
        idx = np.arange(self.targets.size) if only_above is None else np.flatnonzero(self.errors > only_above)
        if idx.size and self.n:
            self.chosen[idx], self.errors[idx] = _select(self.samples[idx], self.targets[idx], self.counts[idx], tol)

    def mask(self) -> np.ndarray:
        R = self.shape[0]
        m = self.chosen.reshape(R, self.c_in, self.P, self.rho_in).transpose(0, 3, 1, 2)
        # a fresh array: later solving rewrites ``chosen`` in place (a reshape may be a view of it)
        return np.array(m.reshape(self.shape), dtype=bool, copy=True)


class _Problems:
    """Subset-sum problems: row r aims at ``targets[r]`` with the samples ``samples[r]`` (the bias
    problems: M[row, constant channel c] · κ_c)."""

    def __init__(self, samples: np.ndarray, targets: np.ndarray):
        self.samples = np.ascontiguousarray(samples)
        self.targets = np.asarray(targets, dtype=np.float64)
        self.n = samples.shape[1]
        self.counts = np.full(self.targets.size, self.n, dtype=np.int64)
        self.chosen = np.zeros(samples.shape, dtype=bool)
        self.errors = np.abs(self.targets)

    def solve(self, tol, only_above=None):
        idx = np.arange(self.targets.size) if only_above is None else np.flatnonzero(self.errors > only_above)
        if idx.size and self.n:
            self.chosen[idx], self.errors[idx] = _select(self.samples[idx], self.targets[idx], self.counts[idx], tol)


def _constant_columns(M: np.ndarray, sl: Slot, *, first_only: bool = False) -> np.ndarray:
    """The weights of rows of random layer M from the constant channels, (rows, nc_in · cmult):
    a conv's at kernel position q only (CertificateError if a weight elsewhere is kept; the
    random network's own weights when ``first_only``), a Linear's every feature of every constant
    channel (feature 0 of each with ``first_only``)."""
    C = M[:, sl.copy_cols:]
    if sl.nc_in == 0:
        if C.size:
            raise CertificateError("a random layer has columns past its copies but no constant channels")
        return np.zeros((M.shape[0], 0))
    if M.ndim > 2:
        sel = C[(slice(None), slice(None)) + tuple(sl.q)]
        if not first_only:
            rest = C.copy()
            rest[(slice(None), slice(None)) + tuple(sl.q)] = 0.0
            if np.any(rest):
                raise CertificateError("a weight from a constant channel is kept at a kernel position other than "
                                       f"{tuple(sl.q)} (it would meet the zero padding)")
        return np.asarray(sel)
    if first_only:
        return np.asarray(C[:, ::max(1, sl.cmult)][:, :sl.nc_in])
    return np.asarray(C)


def _set_constant_columns(mask: np.ndarray, sl: Slot, r0: int, r1: int, chosen: np.ndarray) -> None:
    """Write ``chosen`` (rows r0:r1, nc_in) where :func:`_constant_columns` (``first_only``) reads."""
    if mask.ndim > 2:
        mask[(slice(r0, r1), slice(sl.copy_cols, sl.copy_cols + sl.nc_in)) + tuple(sl.q)] = chosen
    else:
        cols = sl.copy_cols + np.arange(sl.nc_in) * max(1, sl.cmult)
        mask[r0:r1, cols] = chosen


# ------------------------------------------------------------------ the construction
class ConvBurkholz(ConvConstruction):
    name = "conv_burkholz"
    citation = ("ours, after Burkholz. Convolutional and residual networks provably contain lottery tickets. "
                "ICML 2022, arXiv:2205.02343: depth L+1 with the structure of the official code "
                "RelationalML/LT-existence (prune_conv: a 1×1 univariate layer U(-2, 2), then rho copies of every "
                "channel, each (copy, in, kernel position) weight a subset sum over the copies of its input "
                "channel; residual networks with the identity skip in copy space; biases from bias units U(0, 2) "
                "and constant-channel copies); a fixed random network (constants solved once), our slot layout, "
                "width rule and copy-space certificate")
    whose = "ours"
    supports_biases = True

    # ---- bounds (floats or sympy)
    def width_bound(self, spec, depth, eps, delta, rho, *, radius=1, weight_norm=1, pool_gain=1, C=C_DEFAULT,
                    n_reach=N_REACH):
        """Samples per problem of one layer of geometry ``spec`` with ρ copies per output channel
        (un-rounded; floats or sympy)."""
        d_in, d_out = conv_dims(spec, False)
        return samples_per_problem(d_in, d_out, depth, rule_eps(eps, radius, weight_norm, depth, pool_gain), delta,
                                   rho, C, n_reach)

    def depth_bound(self, depth):
        """L + 1 random layers with weights for L target conv/linear layers (an int or sympy)."""
        return depth + 1

    # ---- plan / sample
    def plan(self, target, *, eps, delta=0.05, n=None, width_factor=None, domain=None, C=C_DEFAULT,
             n_reach=N_REACH, weight_norm=1.0, max_weights=MAX_CONV_WEIGHTS, first_layer_scale=FIRST_LAYER_SCALE,
             **options) -> ConvPlan:
        """The plan from the target's architecture only (module docstring: width rule).
        ``n``: an int or one per Affine layer (n[0] univariate units per slot, n[ℓ] the copies ρ_ℓ)."""
        from .._checks import delta_arg, eps_arg, rule_samples
        from ..domains import as_domain, is_default

        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        specs = check_target(target)
        eps = eps_arg("eps", eps, allow_none=True)
        delta = delta_arg("delta", delta)
        C = positive_float("C", C)
        n_reach = nonnegative_int("n_reach", n_reach, maximum=MAX_N)
        weight_norm = positive_float("weight_norm", weight_norm)
        max_weights = nonnegative_int("max_weights", max_weights, minimum=1)
        first_layer_scale = positive_float("first_layer_scale", first_layer_scale, upper=1e6)
        dom = as_domain(domain)
        dom.check_dim(target.input_dim)
        radius = dom.radius_for(target.input_dim)
        L = len(specs)
        biased = any(op.bias is not None for op in specs)
        if n is None:
            if eps is None:
                raise InvalidArgumentError("give eps (and delta) for the width rule, or n=")
            factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
            gain = _pool_gain(target.ops) * 2 ** count_residuals(target.ops)
            n_biased = sum(op.bias is not None for op in specs)
            e_rule = rule_eps(eps, radius, weight_norm, L, gain, n_biased)
            raw = copies_rule([rule_dims(s, biased) for s in specs], L, e_rule, delta, C, n_reach)
            ns = [rule_samples(raw, factor)] * L
        else:
            ns = explicit_samples(n, width_factor, L, f"with {L} conv/linear layers")
        if max(ns) > MAX_N:
            raise InvalidArgumentError(f"n = {max(ns)} exceeds the supported {MAX_N} samples per problem: raise "
                                       "eps/delta, lower C or width_factor, or pass n=")
        signed = (not dom.nonnegative,) + (False,) * (L - 1)
        plan = ConvPlan(self.name, tuple(skeleton(target.ops)), tuple(int(v) for v in target.input_shape),
                        tuple(ns), signed, (0,) * L, eps, delta, C, ("uniform",),
                        ("uniform", first_layer_scale), None if is_default(dom) else dom.spec(), {})
        plan_layout(plan)      # InvalidArgumentError when the copies do not fit the residual blocks
        total = num_random_weights(plan)
        opts = {"copies": copies_of(plan), "n_reach": n_reach, "weight_norm": weight_norm,
                "width_factor": width_factor, "first_layer_scale": first_layer_scale, "random_weights": total,
                "bias_units": bias_units(plan)}
        plan = dataclasses.replace(plan, options=opts)
        if total > max_weights:
            raise NetworkTooLargeError(
                f"the {self.name} plan asks for {total:,} random weights (n = {tuple(ns)}), more than max_weights = "
                f"{max_weights:,}: raise eps/delta, pass n= or a larger max_weights", required_weights=total,
                limit=max_weights)
        return plan

    def sample(self, plan: ConvPlan, seed: int, device=None) -> BurkholzConvNetwork:
        if plan.construction != self.name:
            raise InvalidArgumentError(f"a {plan.construction} plan is not a {self.name} plan")
        return BurkholzConvNetwork(plan, seed, device=device)

    # ---- masks / ticket
    def check_masks(self, rand, masks) -> None:
        a, mats = rand.arrays()
        beta = rand.bias_array()
        if len(masks) != len(mats):
            raise ValueError(f"{len(masks)} mask entries for {len(mats)} conv/linear layers")
        for i, entry in enumerate(masks):
            if len(entry) != 3:
                raise ValueError(f"entry {i}: {len(entry)} masks, expected 3 (univariate, bias units, dense)")
            ma, mc, mb = entry
            want_a = a.shape if i == 0 else (0,)
            if ma is None or mb is None or np.shape(ma) != want_a or np.shape(mb) != mats[i].shape:
                raise ValueError(f"entry {i}: mask shapes do not match the random weights")
            if (mc is None) != (i > 0 or beta is None) or (mc is not None and np.shape(mc) != np.shape(beta)):
                raise ValueError(f"entry {i}: the bias units' mask does not match the random biases")
            if any(m is not None and np.asarray(m).dtype != bool for m in entry):
                raise ValueError(f"entry {i}: masks must be bool arrays")

    def masked_weights(self, rand: BurkholzConvNetwork, masks):
        """The ticket's (a, β or None, [M_1 … M_L]): the random ones where kept, 0 elsewhere (never
        another value)."""
        self.check_masks(rand, masks)
        a, mats = rand.arrays()
        beta = rand.bias_array()
        beta_m = None if beta is None else np.where(masks[0][1], beta, 0.0)
        return np.where(masks[0][0], a, 0.0), beta_m, [np.where(e[2], M, 0.0) for e, M in zip(masks, mats)]

    def ticket_network(self, rand, masks):
        return BurkholzConvNetwork(rand.plan, rand.seed, weights=self.masked_weights(rand, masks))

    # ---- certificate
    def certify(self, target, rand, masks) -> Certificate:
        """The certified bound on sup over the plan's domain of ‖target(x) − ticket(x)‖₂ (flattened
        outputs, both evaluated in float64) from the masked random weights only (module docstring)."""
        plan = rand.plan
        check_target(target)
        if json.dumps(list(skeleton(target.ops)), sort_keys=True) != json.dumps(list(plan.skeleton), sort_keys=True) \
                or tuple(target.input_shape) != tuple(plan.input_shape):
            raise CertificateError("the random network was sampled for another architecture")
        try:
            slots = plan_layout(plan)
        except InvalidArgumentError as exc:
            raise CertificateError(f"the plan's copies are inconsistent: {exc}") from None
        try:
            a, beta, mats = self.masked_weights(rand, masks)
        except ValueError as exc:
            raise CertificateError(f"the masks do not fit the random network: {exc}") from None
        for M, shape in zip(mats, random_shapes(plan)):
            if M.shape != shape:
                raise CertificateError(f"a random layer has shape {M.shape}, the plan's layout {shape}")
        dom = plan.input_domain()
        R0 = float(dom.radius_for(target.input_dim))
        signed = bool(plan.signed[0])
        if signed == bool(dom.nonnegative):
            raise CertificateError("the plan's first-layer signs do not match its domain")
        m = 2 if signed else 1
        n0 = int(plan.n[0])
        u = UNIT_ROUNDOFF
        errs: list[float] = []
        gs: list[float] = []
        deltas: list[float] = []
        counter = [0]

        def affine(op, delta, R, kappa, eta):
            ell = counter[0]
            counter[0] += 1
            sl = slots[ell]
            W = op.weight
            in_shape = tuple(op.in_shape)
            M = mats[ell]
            Rc, cc = sl.rho_out * op.out_channels, sl.copy_cols
            Mcc = M[:Rc, :cc]
            Mcb, Mbb = _constant_columns(M[:Rc], sl), _constant_columns(M[Rc:], sl)
            if np.any(M[Rc:, :cc]):
                raise CertificateError(f"a constant channel of random layer {ell + 1} keeps a weight from a copy")
            Wbar = np.tile(W, (sl.rho_out,) + (1,) * (W.ndim - 1))     # row k·c_out + o holds W[o]
            # the constants: p = Mcb κ (float) with its distance to the exact offsets, and the next κ
            kx, ex = np.repeat(kappa, sl.cmult), np.repeat(eta, sl.cmult)
            Kc = Mcb.shape[1]
            p = Mcb @ kx
            p_err = (gamma(Kc) * (np.abs(Mcb) @ kx) + np.abs(Mcb) @ ex) * (1 + MARGIN)
            S_out = math.prod(int(v) for v in op.out_shape[1:])
            bbar = np.zeros(Rc) if op.bias is None else np.tile(op.bias, sl.rho_out)
            eb = math.sqrt(S_out) * (_vec_norm(p - bbar) + _vec_norm(p_err)) * (1 + MARGIN)
            kappa_out = Mbb @ kx
            eta_out = (gamma(Kc) * (np.abs(Mbb) @ kx) + np.abs(Mbb) @ ex) * (1 + MARGIN)
            if ell == 0:
                c0 = W.shape[1]
                Mw = Mcc.reshape((Rc, c0, m, n0) + Mcc.shape[2:])              # (r, j, slot sign, unit, *K)
                aw = np.abs(a).reshape(c0, m, n0)
                P = np.einsum("rjn...,jn->rj...", Mw[:, :, 0], aw[:, 0])
                Pabs = np.einsum("rjn...,jn->rj...", np.abs(Mw[:, :, 0]), aw[:, 0])
                D, Dabs, G = P - Wbar, Pabs, P
                if signed:
                    N = np.einsum("rjn...,jn->rj...", Mw[:, :, 1], aw[:, 1])
                    Nabs = np.einsum("rjn...,jn->rj...", np.abs(Mw[:, :, 1]), aw[:, 1])
                    D = np.concatenate([D, N + Wbar], axis=1)
                    Dabs = np.concatenate([Pabs, Nabs], axis=1)
                    G = np.concatenate([P, N], axis=1)
                d_shape = (D.shape[1],) + in_shape[1:]
                # D is the float64 value of the exact difference: |fl(D) − D| ≤ u/(1−u)|fl D| entrywise
                e = (op_norm(D, d_shape, op.stride, op.padding)
                     + u / (1 - u) * abs_op_norm(np.abs(D), d_shape, op.stride, op.padding)
                     + gamma(n0) * abs_op_norm(Dabs, d_shape, op.stride, op.padding)) * (1 + MARGIN)
                g = op_norm(G, d_shape, op.stride, op.padding)
                delta = (e * R + eb) * (1 + MARGIN)
            else:
                c_in = W.shape[1]
                rin = int(sl.rho_in or 1)
                Mr = Mcc.reshape((Rc, rin, c_in) + Mcc.shape[2:])
                P = Mr.sum(axis=1)
                Pabs = np.abs(Mr).sum(axis=1)
                Dp = P - Wbar
                e = (op_norm(Dp, in_shape, op.stride, op.padding)
                     + u / (1 - u) * abs_op_norm(np.abs(Dp), in_shape, op.stride, op.padding)
                     + gamma(rin) * abs_op_norm(Pabs, in_shape, op.stride, op.padding)) * (1 + MARGIN)
                g = op_norm(Mcc, (cc,) + in_shape[1:], op.stride, op.padding)
                delta = (g * delta + e * R + eb) * (1 + MARGIN)
            errs.append(e)
            gs.append(g)
            deltas.append(delta)
            bn = 0.0 if op.bias is None else _vec_norm(op.bias) * math.sqrt(S_out) * (1 + MARGIN)
            R = (op_norm(W, in_shape, op.stride, op.padding) * R + bn) * (1 + MARGIN)
            return delta, R, kappa_out, eta_out

        def walk(seq, delta, R, kappa, eta):
            for op in seq:
                if isinstance(op, Affine):
                    delta, R, kappa, eta = affine(op, delta, R, kappa, eta)
                elif isinstance(op, Pool):
                    # constant channels stay constant (check_target refused padded count_include_pad avg pools)
                    lip = pool_lipschitz(op)
                    delta, R = delta * lip, R * lip
                elif isinstance(op, ReLU):
                    kappa = np.maximum(kappa, 0.0)
                elif isinstance(op, Residual):
                    # out = body(h) + shortcut(h): E is linear, so the errors and the radii add
                    db, Rb, kb, eb_ = walk(op.body, delta, R, kappa, eta)
                    ds, Rs, ks, es = walk(op.shortcut, delta, R, kappa, eta) if op.shortcut \
                        else (delta, R, kappa, eta)
                    delta, R = (db + ds) * (1 + MARGIN), (Rb + Rs) * (1 + MARGIN)
                    kappa = kb + ks
                    eta = (eb_ + es + u * np.abs(kappa)) * (1 + MARGIN)
                    if op.relu:
                        kappa = np.maximum(kappa, 0.0)
                # Flatten (an isometry; a constant channel becomes constant features): unchanged
            return delta, R, kappa, eta

        kappa0 = np.zeros(0) if beta is None else np.maximum(beta, 0.0)
        delta = walk(target.ops, 0.0, R0, kappa0, np.zeros_like(kappa0))[0]
        slack = self._float_slack(target, a, beta, mats, R0)
        bound = (delta + slack) * (1 + MARGIN)
        if not math.isfinite(bound):
            raise CertificateError(f"the certified bound is not finite ({bound})")
        return Certificate(error_bound=bound, layer_errors=tuple(errs), map_norms=tuple(gs), propagated=tuple(deltas),
                           float_slack=slack, method="layerwise", layerwise_bound=bound,
                           domain=plan.domain)

    @staticmethod
    def _float_slack(target, a, beta, mats, R0: float) -> float:
        """Bound on ‖fl-net(x) − net(x)‖₂ for the target plus that for the ticket (module
        docstring, step 4)."""
        def chain(kernels, biases, univariate):
            counter = [0]

            def walk(seq, E: float, s: float) -> tuple[float, float]:
                for op in seq:
                    if isinstance(op, Affine):
                        ell = counter[0]
                        counter[0] += 1
                        K = kernels[ell]
                        if ell == 0 and univariate is not None:
                            # σ(fl(a x)): |fl(a x) − a x| ≤ u |a x|, σ 1-Lipschitz, ‖(a_u x_j(u))‖ ≤ ν_U ‖x‖;
                            # the bias units' σ(β) are exact, ‖·‖ = ‖β‖ √(spatial size)
                            nu_u, beta_norm = univariate
                            s_in = math.prod(int(v) for v in op.in_shape[1:])
                            E, s = nu_u * E + UNIT_ROUNDOFF * nu_u * s, nu_u * s + beta_norm * math.sqrt(s_in)
                        # the kernel's input channels: the target's, the univariate units, or the copies
                        shape = (K.shape[1],) + tuple(op.in_shape[1:])
                        nu = abs_op_norm(K, shape, op.stride, op.padding)
                        b = biases[ell]
                        bn = 0.0 if b is None else \
                            _vec_norm(b) * math.sqrt(math.prod(int(v) for v in op.out_shape[1:]))
                        g = gamma(_inner(K) + (0 if b is None else 1))
                        E, s = (1 + g) * nu * E + g * (nu * s + bn), nu * s + bn
                    elif isinstance(op, Pool):
                        lip = pool_lipschitz(op)
                        # an avg pool: a sum of |k| terms and a division (or a product with a rounded
                        # reciprocal): γ_{|k|+2} covers either
                        E = lip * (E + gamma(math.prod(op.kernel) + 2) * (s + E)) if op.kind == "avg" else lip * E
                        s *= lip
                    elif isinstance(op, Residual):
                        Eb, sb = walk(op.body, E, s)
                        Es, ss = walk(op.shortcut, E, s) if op.shortcut else (E, s)
                        # fl(b + c) = (b + c)(1 + θ), |θ| ≤ u
                        E, s = Eb + Es + UNIT_ROUNDOFF * (sb + ss + Eb + Es), sb + ss
                return E * (1 + MARGIN), s * (1 + MARGIN)

            return walk(target.ops, 0.0, R0)[0]

        c0 = target.layers[0].weight.shape[1]
        nu_u = math.sqrt(float((a.reshape(c0, -1) ** 2).sum(axis=1).max())) * (1 + MARGIN)
        beta_norm = 0.0 if beta is None else _vec_norm(beta) * (1 + MARGIN)
        layers = target.layers
        return (chain([op.weight for op in layers], [op.bias for op in layers], None)
                + chain(mats, [None] * len(mats), (nu_u, beta_norm)))

    # ---- pruning
    def prune(self, target, rand, *, eps, tolerance=None, **options) -> ConvPruneResult:
        """``tolerance``: prune at this per-weight tolerance only (no sweep)."""
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        if not isinstance(rand, BurkholzConvNetwork):
            raise InvalidArgumentError(f"rand must be a {self.name} random network, got {type(rand).__name__}")
        if tolerance is not None:
            tolerance = positive_float("tolerance", tolerance)
        specs = check_target(target)
        plan = rand.plan
        if len(specs) != len(plan.n) or tuple(s.out_channels for s in specs) != \
                tuple(s.out_channels for s in plan.layers) or \
                [s.bias is not None for s in specs] != [bool(s.has_bias) for s in plan.layers]:
            raise InvalidArgumentError("the random network was sampled for another architecture")
        slots = plan_layout(plan)
        rho = copies_of(plan)
        a, mats = rand.arrays()
        beta = rand.bias_array()
        rows = [sl.rho_out * sp_.out_channels for sl, sp_ in zip(slots, specs)]
        first = _FirstLayer(plan, a, mats[0][:rows[0], :slots[0].copy_cols], specs[0].weight, rho[0])
        later = [_CopyLayer(mats[i][:rows[i], :slots[i].copy_cols], specs[i].weight, int(slots[i].rho_in or 1),
                            slots[i].rho_out) for i in range(1, len(specs))]
        layers: list = [first] + later
        # the constants: walk the ops with the constant channels' values κ (the bias units' β first),
        # solve each layer's constant rows once (≈ 1) and set up its bias problems (≈ b over κ)
        bias_layers: list = [None] * len(specs)
        const_chosen: list = [None] * len(specs)
        counter = [0]

        def walk(seq, kappa):
            for op in seq:
                if isinstance(op, Affine):
                    i = counter[0]
                    counter[0] += 1
                    sl = slots[i]
                    sel = _constant_columns(mats[i], sl, first_only=True) * kappa[None, :]
                    if op.bias is not None and sel.shape[1]:
                        bias_layers[i] = _Problems(sel[:rows[i]], np.tile(op.bias, sl.rho_out))
                    if sl.nc_out and sel.shape[1]:
                        tg = np.full(sl.nc_out, CONSTANT_TARGET)
                        chosen, _ = _select(sel[rows[i]:], tg, np.full(sl.nc_out, sel.shape[1], dtype=np.int64),
                                            CONSTANT_TOL)
                        const_chosen[i] = chosen
                        kappa = (sel[rows[i]:] * chosen).sum(axis=1)
                    else:
                        kappa = np.zeros(sl.nc_out)
                elif isinstance(op, ReLU):
                    kappa = np.maximum(kappa, 0.0)
                elif isinstance(op, Residual):
                    kb = walk(op.body, kappa)
                    ks = walk(op.shortcut, kappa) if op.shortcut else kappa
                    kappa = kb + ks
                    if op.relu:
                        kappa = np.maximum(kappa, 0.0)
            return kappa

        walk(target.ops, np.zeros(0) if beta is None else np.maximum(beta, 0.0))
        solving = layers + [b for b in bias_layers if b is not None]

        def finish(tol):
            mask_a, mask_M = first.masks()
            parts = [mask_M] + [lay.mask() for lay in later]
            masks = []
            for i, (part, M) in enumerate(zip(parts, mats)):
                full = np.zeros(M.shape, dtype=bool)
                full[:rows[i], :slots[i].copy_cols] = part
                bl = bias_layers[i]
                if bl is not None:
                    _set_constant_columns(full, slots[i], 0, rows[i], bl.chosen)
                if const_chosen[i] is not None:
                    _set_constant_columns(full, slots[i], rows[i], M.shape[0], const_chosen[i])
                masks.append(full)
            mask_beta = None
            if beta is not None:
                H0 = slots[0].copy_cols
                m0 = np.asarray(masks[0])
                mask_beta = m0[:, H0:].reshape(int(m0.shape[0]), int(beta.size), -1).any(axis=(0, 2))
            out = [(mask_a, mask_beta, masks[0])] + [(np.zeros(0, dtype=bool), None, mk) for mk in masks[1:]]
            return out, self.certify(target, rand, out)

        def stats(masks, tol):
            kept = sum(int(np.count_nonzero(e[0])) + int(np.count_nonzero(e[2])) for e in masks)
            return {"copies": rho, "n": tuple(plan.n), "tolerance": tol, "kept": kept,
                    "random_weights": num_random_weights(plan), "target_weights": target.num_weights,
                    "layers": [{"n": lay.n, "mean_subset_size": float(lay.chosen.sum(axis=1).mean()),
                                "max_weight_error": float(lay.errors.max())} for lay in layers],
                    "bias_units": bias_units(plan),
                    "max_bias_error": max((float(b.errors.max()) for b in bias_layers
                                           if b is not None and b.errors.size), default=0.0)}

        best = None
        tol = TOL_START if tolerance is None else tolerance
        floor = TOL_MIN if tolerance is None else tolerance
        last: tuple | None = None
        while tol >= floor:
            changed = last is None
            for lay in solving:
                before = lay.chosen.copy()
                lay.solve(tol, only_above=tol)
                changed = changed or not np.array_equal(before, lay.chosen)
            if changed or last is None:     # else the masks, hence the certificate, are the last ones
                last = finish(tol)
            masks, cert = last
            if eps is not None and cert.error_bound <= eps:
                return ConvPruneResult(masks, cert, stats(masks, tol))
            if best is None or cert.error_bound < best[1].error_bound:
                best = (masks, cert, tol, stats(masks, tol))
            if (cert.error_bound > 4 * best[1].error_bound and tol <= best[2] / 16) or tol <= best[2] / 64:
                break   # past the sweet spot (amplification by the kept weights dominates) or a plateau
            # errors scale about linearly with the tolerance: jump toward the predicted one (≤ 8×)
            shrink = 0.5 if eps is None else max(0.125, min(0.5, 0.9 * eps / cert.error_bound))
            tol = max(tol * shrink, floor) if tol > floor else floor / 2
        if best is None:   # never: the sweep tries at least one tolerance
            raise RuntimeError("the tolerance sweep tried no tolerance")
        masks, cert, tol, best_stats = best
        if eps is None or cert.error_bound <= eps:
            return ConvPruneResult(masks, cert, best_stats)
        needed = tuple(int(v) + math.ceil(math.log2(cert.error_bound / eps)) + 1 for v in plan.n)
        missed = sum(int(np.count_nonzero(lay.errors > tol)) for lay in solving)
        raise ApproximationFailedError(
            f"certified error {cert.error_bound:.4g} > eps = {eps:.4g} at every tolerance from {TOL_START:g} down "
            f"(best at tolerance {tol:.3g}, where {missed} weight problems missed it) with n = {tuple(plan.n)}; "
            f"n ≈ {needed} would be needed: sample a wider random network.",
            missed=max(1, missed), total=sum(lay.targets.size for lay in solving), error_bound=cert.error_bound,
            eps=eps, n=tuple(plan.n), n_needed=needed)


CONSTRUCTION = ConvBurkholz()
