"""``conv_burkholz``: Burkholz's depth-(L+1) construction for convolutional targets (Burkholz,
"Convolutional and residual networks provably contain lottery tickets", ICML 2022,
arXiv:2205.02343; the structure read from the official code RelationalML/LT-existence,
``Utils/pruning.py`` ``prune_conv`` and ``Models/conv.py``, through ``shared/theory.md``; no code
copied). Departures of ours — hence ``whose = "ours"``: the random network is fixed before pruning
(the official code redraws on failure), the slot layout of the first layer, the width rule, and
the certificate below.

**Covered targets.** Bias-free ``ConvTarget`` s whose first op is a conv / linear layer, made of
``Affine`` (Conv1d, Conv2d with any stride and zero padding, Linear), ``ReLU``, ``Pool`` (max / avg),
``Flatten`` and ``Residual`` blocks (identity or conv shortcut; the last Affine must lie outside
them). Refused with a :class:`~sltheory.errors.TargetError`: targets with biases (the MLP
``burkholz`` carries them with bias units and constant units; on conv feature maps zero padding and
padded pools make constant channels non-constant at the borders — not done here: use
conv_subset_sum), ops before the first Affine, a last Affine inside a residual block.

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

``n`` (``ConvPlan.n``, one per Affine in evaluation order — a block's body, then its shortcut):
n[0] the univariate units per slot, n[i] (i ≥ 1) the samples of Affine i's problems, i.e. the
copies ρ_in it reads; Affine i writes ρ_out = n[i+1] copies (1 for the last). With residual blocks
the copies must agree (:func:`copy_layout`; the rule gives one n to every layer).

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

**Masks / ticket file.** One entry per target Affine layer ℓ, ``(mask_a, None, mask_M)``: entry 0
holds the univariate weights' mask (H_0,) and random layer 1's; entry ℓ ≥ 1 an empty (0,) mask (no
univariate layer) and random layer ℓ+1's. The ticket network is the random network with the
pruned weights set to 0 (:meth:`ConvBurkholz.ticket_network`).

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
   E' = (1+γ_n) ν E + γ_n ν s, s' = ν s (s ≥ ‖exact state‖, ν ≥ ‖conv |K|‖₂ from the unrolled
   |K|'s row / column sums, n = c_in·|K| the inner dimension; Higham's |fl(Σ_i w_i h_i) −
   Σ_i w_i h_i| ≤ γ_n Σ_i |w_i||h_i|), E' = u ν_U s + …, for the univariate products a_u x_j
   (ν_U = √(max_j Σ_{u∈j} a_u²)), E' = Lip E for ReLU / max pool / Flatten (exact), and
   E' = L(E + γ_{|k|+1}(s + E)) for avg pools, E' = E_b + E_s + u(s_b + s_s + E_b + E_s) for a
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
ε' = ε / (R_0 g^L Π Lip(pools) 2^r) (g = ``weight_norm`` ≥ 1, the declared bound on every target
layer's operator norm; r residual blocks, as in conv_subset_sum), with ρ = n (one n for all
layers, solved by fixed-point iteration).
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

from .._checks import nonnegative_int, positive_float
from .._linalg import UNIT_ROUNDOFF, gamma
from ..certificate.bound import Certificate, _abs_norm_bound, matrix_norm_bound
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
    count_residuals,
    sample_first,
    skeleton,
)
from .ops import Affine, Flatten, Pool, ReLU, Residual, affine_layers, conv_out_size
from .subset_sum import MAX_CONV_WEIGHTS, conv_dims

#: The univariate layer's weights: U(−2, 2) (the official code's ``prune_conv``).
FIRST_LAYER_SCALE = 2.0
#: Spawn-key tag of the copy layers' per-row streams (the pair constructions' dense layers use 2).
STREAM_TAG = 3
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
            elif isinstance(op, Affine) and op.bias is not None:
                raise TargetError("conv_burkholz covers bias-free targets (constant channels are not carried "
                                  "through zero-padded convs and pools here); use conv_subset_sum for targets with "
                                  "biases", layer=where)

    check(ops, None)
    if not isinstance(ops[0], Affine):
        raise TargetError("conv_burkholz needs the target to start with a conv or linear layer (its univariate "
                          "layer reads the raw input)", layer=0)
    last = max(i for i, op in enumerate(ops) if isinstance(op, (Affine, Residual)))
    if isinstance(ops[last], Residual):
        raise TargetError("conv_burkholz needs the last conv/linear layer outside residual blocks (it has one copy, "
                          "the block's input has ρ)", layer=last)
    return list(affine_layers(ops))


def copy_layout(ops, n) -> list[int]:
    """ρ_in of every Affine (evaluation order; None for the first, which reads the raw input), for
    samples ``n`` (n[i] = ρ_in of Affine i ≥ 1, ρ_out(i) = n[i+1], 1 for the last). Raises
    InvalidArgumentError when a layer would read another number of copies than its n says, or a
    residual addition would add different copy counts (with residual blocks, give every layer after
    the first the same n)."""
    L = len(affine_specs(ops))
    n = [int(v) for v in n]
    rho_in: list = [None] * L
    counter = [0]

    def walk(seq, cur):
        for op in seq:
            if isinstance(op, Residual):
                b = walk(op.body, cur)
                c = walk(op.shortcut, cur) if op.shortcut else cur
                if b != c:
                    raise InvalidArgumentError(f"a residual block would add {b} copies to {c}: with residual blocks "
                                               f"give every conv/linear layer after the first the same n, got {n}")
                cur = b
            elif isinstance(op, Affine) or getattr(op, "is_affine", False):
                i = counter[0]
                counter[0] += 1
                if i > 0 and cur != n[i]:
                    raise InvalidArgumentError(f"layer {i} would read {cur} copies, its n is {n[i]}: with residual "
                                               f"blocks give every conv/linear layer after the first the same n")
                rho_in[i] = cur
                cur = n[i + 1] if i + 1 < L else 1
        return cur

    walk(tuple(ops), None)
    return rho_in


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


def op_norm(kernel, in_shape, stride=(), padding=()) -> float:
    """Upper bound on the operator norm (ℓ2 → ℓ2) of the conv / linear on ``in_shape``."""
    M = unrolled(kernel, in_shape, stride, padding)
    if M.nnz == 0:
        return 0.0
    return matrix_norm_bound(M) * (1 + MARGIN)


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


def random_shapes(plan: ConvPlan) -> list[tuple[int, ...]]:
    """Shapes of random layers 1 … L (random layer 0 is the univariate layer of
    :func:`first_units` weights)."""
    specs = plan.layers
    rho = copies_of(plan)
    out = []
    for ell, spec in enumerate(specs):
        rows = rho[ell] * spec.out_channels
        cols = first_units(plan) if ell == 0 else rho[ell - 1] * spec.in_channels
        out.append((rows, cols) + tuple(spec.kernel))
    return out


def num_random_weights(plan: ConvPlan) -> int:
    return int(first_units(plan) + sum(math.prod(s) for s in random_shapes(plan)))


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


class BurkholzConvNetwork(ConvRandomNetwork):
    """The random network of a ``conv_burkholz`` plan (module docstring); with ``weights`` given
    (univariate a, [M_1 … M_L]) the same architecture with those weights (a ticket: the random
    weights with the pruned ones set to 0). Input (B, *input_shape) or flattened; output
    flattened (B, d_out); float64 inside."""

    a: torch.Tensor
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
            mats = [sample_layer(plan, self.seed, ell) for ell in range(1, L + 1)]
        else:
            a, mats = weights
        dev = device or "cpu"
        m = 2 if plan.signed[0] else 1
        self.register_buffer("a", torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dev))
        self.register_buffer("channel", torch.from_numpy(np.arange(len(a)) // (m * int(plan.n[0]))).to(dev))
        for ell, M in enumerate(mats, start=1):
            self.register_buffer(f"M{ell}", torch.as_tensor(np.asarray(M, dtype=np.float64)).to(dev))
        self._specs = specs
        self._index = {id(spec): i for i, spec in enumerate(specs)}

    def weight(self, ell: int) -> torch.Tensor:
        """Random layer ``ell`` (1 … L)."""
        return getattr(self, f"M{ell}")

    def arrays(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """(a, [M_1 … M_L]) as numpy arrays."""
        return (self.a.detach().cpu().numpy(),
                [self.weight(ell).detach().cpu().numpy() for ell in range(1, len(self._specs) + 1)])

    def pair_arrays(self, i: int):
        raise NotImplementedError("conv_burkholz networks have copy layers, not pairs: use arrays()")

    def _affine(self, i: int, h: torch.Tensor) -> torch.Tensor:
        spec = self._specs[i]
        if i == 0:
            view = (1, -1) + (1,) * (h.dim() - 2)
            h = torch.relu(h.index_select(1, self.channel) * self.a.to(h.dtype).view(view))
        M = self.weight(i + 1).to(h.dtype)
        if not spec.is_conv:
            return F.linear(h, M)
        fn = F.conv1d if M.dim() == 3 else F.conv2d
        return fn(h, M, None, stride=spec.stride, padding=spec.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .ops import forward as ops_forward

        dtype = x.dtype
        xb = x.to(torch.float64).reshape(x.shape[0], *self.plan.input_shape)
        y = ops_forward(self._ops, xb, affine=lambda op, h: self._affine(self._index[id(op)], h))
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


def rule_eps(eps, radius, weight_norm, depth, pool_gain=1.0):
    """ε' = ε / (R_0 g^L Π Lip(pools)) (module docstring). Floats or sympy."""
    from .._backend import ops as sym_ops

    o = sym_ops(eps, radius, weight_norm)
    return eps / (radius * o.max(weight_norm, 1) ** depth * pool_gain)


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


# ------------------------------------------------------------------ the construction
class ConvBurkholz(ConvConstruction):
    name = "conv_burkholz"
    citation = ("ours, after Burkholz. Convolutional and residual networks provably contain lottery tickets. "
                "ICML 2022, arXiv:2205.02343: depth L+1 with the structure of the official code "
                "RelationalML/LT-existence (prune_conv: a 1×1 univariate layer U(-2, 2), then rho copies of every "
                "channel, each (copy, in, kernel position) weight a subset sum over the copies of its input "
                "channel; residual networks with the identity skip in copy space); a fixed random network, our slot "
                "layout, width rule and copy-space certificate; bias-free targets")
    whose = "ours"
    supports_biases = False

    # ---- bounds (floats or sympy)
    def width_bound(self, spec, depth, eps, delta, rho, *, radius=1, weight_norm=1, pool_gain=1, C=C_DEFAULT,
                    n_reach=N_REACH):
        """Samples per problem of one layer of geometry ``spec`` with ρ copies per output channel
        (un-rounded; floats or sympy)."""
        d_in, d_out = conv_dims(spec, False)
        return samples_per_problem(d_in, d_out, depth, rule_eps(eps, radius, weight_norm, depth, pool_gain), delta,
                                   rho, C, n_reach)

    def depth_bound(self, depth):
        return int(depth) + 1

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
        if n is None:
            if eps is None:
                raise InvalidArgumentError("give eps (and delta) for the width rule, or n=")
            factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
            gain = _pool_gain(target.ops) * 2 ** count_residuals(target.ops)
            e_rule = rule_eps(eps, radius, weight_norm, L, gain)
            raw = copies_rule([conv_dims(s, False) for s in specs], L, e_rule, delta, C, n_reach)
            ns = [rule_samples(raw, factor)] * L
        else:
            if width_factor is not None:
                raise InvalidArgumentError("give either n= or width_factor=, not both")
            if isinstance(n, (list, tuple)):
                if len(n) != L:
                    raise InvalidArgumentError(f"n has {len(n)} entries for a target with {L} conv/linear layers")
                ns = [nonnegative_int("n", v, minimum=1) for v in n]
            else:
                ns = [nonnegative_int("n", n, minimum=1)] * L
        if max(ns) > MAX_N:
            raise InvalidArgumentError(f"n = {max(ns)} exceeds the supported {MAX_N} samples per problem: raise "
                                       "eps/delta, lower C or width_factor, or pass n=")
        copy_layout(target.ops, ns)
        signed = (not dom.nonnegative,) + (False,) * (L - 1)
        plan = ConvPlan(self.name, tuple(skeleton(target.ops)), tuple(int(v) for v in target.input_shape),
                        tuple(ns), signed, (0,) * L, eps, delta, C, ("uniform",),
                        ("uniform", first_layer_scale), None if is_default(dom) else dom.spec(), {})
        total = num_random_weights(plan)
        opts = {"copies": copies_of(plan), "n_reach": n_reach, "weight_norm": weight_norm,
                "width_factor": width_factor, "first_layer_scale": first_layer_scale, "random_weights": total}
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
        if len(masks) != len(mats):
            raise ValueError(f"{len(masks)} mask entries for {len(mats)} conv/linear layers")
        for i, entry in enumerate(masks):
            if len(entry) != 3:
                raise ValueError(f"entry {i}: {len(entry)} masks, expected 3 (univariate, bias, dense)")
            ma, mc, mb = entry
            want_a = a.shape if i == 0 else (0,)
            if ma is None or mb is None or mc is not None or np.shape(ma) != want_a or np.shape(mb) != mats[i].shape:
                raise ValueError(f"entry {i}: mask shapes do not match the random weights")
            if np.asarray(ma).dtype != bool or np.asarray(mb).dtype != bool:
                raise ValueError(f"entry {i}: masks must be bool arrays")

    def masked_weights(self, rand: BurkholzConvNetwork, masks) -> tuple[np.ndarray, list[np.ndarray]]:
        """The ticket's weights: the random ones where kept, 0 elsewhere (never another value)."""
        self.check_masks(rand, masks)
        a, mats = rand.arrays()
        return np.where(masks[0][0], a, 0.0), [np.where(e[2], M, 0.0) for e, M in zip(masks, mats)]

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
            copy_layout(plan.ops, plan.n)
        except InvalidArgumentError as exc:
            raise CertificateError(f"the plan's copies are inconsistent: {exc}") from None
        a, mats = self.masked_weights(rand, masks)
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

        def affine(op, delta: float, R: float) -> tuple[float, float]:
            ell = counter[0]
            counter[0] += 1
            W = op.weight
            in_shape = tuple(op.in_shape)
            M = mats[ell]
            rout = M.shape[0] // op.out_channels
            Wbar = np.tile(W, (rout,) + (1,) * (W.ndim - 1))            # row k·c_out + o holds W[o]
            if ell == 0:
                c0 = W.shape[1]
                Mw = M.reshape((M.shape[0], c0, m, n0) + M.shape[2:])        # (r, j, slot sign, unit, *K)
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
                e = (op_norm(D, d_shape, op.stride, op.padding) * (1 + 2 * u)
                     + gamma(n0) * abs_op_norm(Dabs, d_shape, op.stride, op.padding)) * (1 + MARGIN)
                g = op_norm(G, d_shape, op.stride, op.padding)
                delta = e * R
            else:
                c_in = W.shape[1]
                rin = M.shape[1] // c_in
                Mr = M.reshape((M.shape[0], rin, c_in) + M.shape[2:])
                P = Mr.sum(axis=1)
                Pabs = np.abs(Mr).sum(axis=1)
                e = (op_norm(P - Wbar, in_shape, op.stride, op.padding) * (1 + 2 * u)
                     + gamma(rin) * abs_op_norm(Pabs, in_shape, op.stride, op.padding)) * (1 + MARGIN)
                g = op_norm(M, (rin * in_shape[0],) + in_shape[1:], op.stride, op.padding)
                delta = (g * delta + e * R) * (1 + MARGIN)
            errs.append(e)
            gs.append(g)
            deltas.append(delta)
            return delta, op_norm(W, in_shape, op.stride, op.padding) * R

        def walk(seq, delta: float, R: float) -> tuple[float, float]:
            for op in seq:
                if isinstance(op, Affine):
                    delta, R = affine(op, delta, R)
                elif isinstance(op, Pool):
                    lip = pool_lipschitz(op)
                    delta, R = delta * lip, R * lip
                elif isinstance(op, Residual):
                    # out = body(h) + shortcut(h): E is linear, so the errors and the radii add
                    db, Rb = walk(op.body, delta, R)
                    ds, Rs = walk(op.shortcut, delta, R) if op.shortcut else (delta, R)
                    delta, R = (db + ds) * (1 + MARGIN), (Rb + Rs) * (1 + MARGIN)
                # ReLU (1-Lipschitz, ‖σ(h)‖ ≤ ‖h‖) and Flatten (an isometry): unchanged
            return delta, R

        delta, _ = walk(target.ops, 0.0, R0)
        slack = self._float_slack(target, a, mats, R0)
        bound = (delta + slack) * (1 + MARGIN)
        if not math.isfinite(bound):
            raise CertificateError(f"the certified bound is not finite ({bound})")
        return Certificate(error_bound=bound, layer_errors=tuple(errs), map_norms=tuple(gs), propagated=tuple(deltas),
                           float_slack=slack, method="layerwise", layerwise_bound=bound,
                           domain=plan.domain)

    @staticmethod
    def _float_slack(target, a, mats, R0: float) -> float:
        """Bound on ‖fl-net(x) − net(x)‖₂ for the target plus that for the ticket (module
        docstring, step 4)."""
        def chain(kernels, univariate):
            counter = [0]

            def walk(seq, E: float, s: float) -> tuple[float, float]:
                for op in seq:
                    if isinstance(op, Affine):
                        ell = counter[0]
                        counter[0] += 1
                        K = kernels[ell]
                        if ell == 0 and univariate is not None:
                            # σ(fl(a x)): |fl(a x) − a x| ≤ u |a x|, σ 1-Lipschitz, ‖(a_u x_j(u))‖ ≤ ν_U ‖x‖
                            E, s = univariate * E + UNIT_ROUNDOFF * univariate * s, univariate * s
                        # the kernel's input channels: the target's, the univariate units, or the copies
                        shape = (K.shape[1],) + tuple(op.in_shape[1:])
                        nu = abs_op_norm(K, shape, op.stride, op.padding)
                        g = gamma(_inner(K))
                        E, s = (1 + g) * nu * E + g * nu * s, nu * s
                    elif isinstance(op, Pool):
                        lip = pool_lipschitz(op)
                        E = lip * (E + gamma(math.prod(op.kernel) + 1) * (s + E)) if op.kind == "avg" else lip * E
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
        return chain([op.weight for op in target.layers], None) + chain(mats, nu_u)

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
                tuple(s.out_channels for s in plan.layers):
            raise InvalidArgumentError("the random network was sampled for another architecture")
        rho = copies_of(plan)
        a, mats = rand.arrays()
        first = _FirstLayer(plan, a, mats[0], specs[0].weight, rho[0])
        later = [_CopyLayer(mats[ell], specs[ell].weight, rho[ell - 1], rho[ell]) for ell in range(1, len(specs))]
        layers: list = [first] + later

        def finish(tol):
            mask_a, mask_M = first.masks()
            masks = [(mask_a, None, mask_M)] + [(np.zeros(0, dtype=bool), None, lay.mask()) for lay in later]
            return masks, self.certify(target, rand, masks)

        def stats(masks, tol):
            kept = sum(int(np.count_nonzero(e[0])) + int(np.count_nonzero(e[2])) for e in masks)
            return {"copies": rho, "n": tuple(plan.n), "tolerance": tol, "kept": kept,
                    "random_weights": num_random_weights(plan), "target_weights": target.num_weights,
                    "layers": [{"n": lay.n, "mean_subset_size": float(lay.chosen.sum(axis=1).mean()),
                                "max_weight_error": float(lay.errors.max())} for lay in layers]}

        best = None
        tol = TOL_START if tolerance is None else tolerance
        floor = TOL_MIN if tolerance is None else tolerance
        while tol >= floor:
            for lay in layers:
                lay.solve(tol, only_above=tol)
            masks, cert = finish(tol)
            if eps is not None and cert.error_bound <= eps:
                return ConvPruneResult(masks, cert, stats(masks, tol))
            if best is None or cert.error_bound < best[1].error_bound:
                best = (masks, cert, tol, stats(masks, tol))
            if cert.error_bound > 4 * best[1].error_bound and tol <= best[2] / 16:
                break   # well past the sweet spot: the kept random weights' amplification dominates
            # errors scale about linearly with the tolerance: jump toward the predicted one (≤ 8×)
            shrink = 0.5 if eps is None else max(0.125, min(0.5, 0.9 * eps / cert.error_bound))
            tol = max(tol * shrink, floor) if tol > floor else floor / 2
        if best is None:   # never: the sweep tries at least one tolerance
            raise RuntimeError("the tolerance sweep tried no tolerance")
        masks, cert, tol, best_stats = best
        if eps is None or cert.error_bound <= eps:
            return ConvPruneResult(masks, cert, best_stats)
        needed = tuple(int(v) + math.ceil(math.log2(cert.error_bound / eps)) + 1 for v in plan.n)
        missed = sum(int(np.count_nonzero(lay.errors > tol)) for lay in layers)
        raise ApproximationFailedError(
            f"certified error {cert.error_bound:.4g} > eps = {eps:.4g} at every tolerance from {TOL_START:g} down "
            f"(best at tolerance {tol:.3g}, where {missed} weight problems missed it) with n = {tuple(plan.n)}; "
            f"n ≈ {needed} would be needed: sample a wider random network.",
            missed=max(1, missed), total=sum(lay.targets.size for lay in layers), error_bound=cert.error_bound,
            eps=eps, n=tuple(plan.n), n_needed=needed)


CONSTRUCTION = ConvBurkholz()
