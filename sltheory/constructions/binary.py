"""Binary ±1 random networks: strong tickets by pruning a random network whose weights are ±s_t
(one scale s_t per layer, each sign with probability ½). **The construction, its width/depth rule
and its constants are ours** (sltheory's design, proven in ``proofs/binary.py``).

What was read: Sreenivasan et al. (AISTATS 2022) only as restated (their theorem's text, and the
paper's title, were not in the stored texts): any bias-free ReLU target of depth l and width d is
ε-approximated by pruning a random ±1 network of depth Θ(l log(dl/ε)) and width Θ(d log²(dl/ε)),
one gain per layer allowed. The Multi-Prize Lottery Ticket Hypothesis (ICLR 2021; official code
chrundle/biprop, README read) finds binary-weight subnetworks of random networks by learning
pruning scores and a gain per layer. Neither's construction steps were available, so nothing below
is theirs.

Idea (ours). Every input-output path of a fixed-depth network has the same length, so with one
scale per layer every path carries the same magnitude Π s_t: an effective weight is (positive −
negative kept paths)·Π s_t. Depth makes large path counts cheap: a unit fed by +1 weights from two
units carrying the same value v computes 2v (ReLU is the identity on nonnegative values). A target
weight w is quantised to m·2^{−K} (m = round(w 2^K), |m| ≤ 2^K) and m is built by Horner's rule
from its K + 1 bits, most significant first: V ← 2V + Σ_{slots c with bit b of m_c} c.

Random network for a target with widths d_0 … d_l, ``r`` copies (``n``) and ``K`` bits:

* layer 0 (univariate): 2r·d_0 units, group j = units j·2r … j·2r + 2r − 1; unit k of group j
  keeps its weight from x_j, and so carries σ(x_j) (weight +1) or σ(−x_j) (weight −1): the group
  splits into the *pools* of the slots (j, +) and (j, −) by the signs of its weights;
* block i (target layer i, slots S_i = 2d_0 signed for i = 0, else d_i; D = d_{i+1} outputs):
  K + 1 *level* layers of width r(S_i + 2D), then an *output* layer of r·D units (D for the last
  block). Level rows: carry (c, k) = c·r + k, ladder ((o, h), k) = S_i r + (2o + h) r + k, h = 0
  (P: slots whose coefficient a_c = ±W[o, j] is > 0) or 1 (N: a_c < 0). Output row (o, k) = o·r + k.
  Laws: ("binary", ½) on levels 1 … K, ("binary",) elsewhere, so a block scales by 2^{−K}.
* requirements (all kept weights inside the levels are +, so ReLU is the identity there): a
  carry (c, k) keeps one + weight from a live unit of c's pool; a ladder of (o, h) at level t
  keeps two + weights from two live units of its own pool at level t − 1 (once it is nonzero)
  and one + weight from c's carry pool for every slot c of ladder h whose bit K − t of m_{o,c} is
  1; an output unit (o, k) keeps a + weight from a live P ladder and a − weight from a live N
  ladder of o at level K (where nonzero). A unit meeting all its requirements is *live* (it
  computes its role's value exactly); one that misses any keeps nothing. Pruning is this
  deterministic search (first qualifying pool members in index order), then unused units are
  dropped. The outputs are P − N = Σ_c (m_c^P − m_c^N) c 2^{−K}: the quantised layer, r copies of
  every hidden target neuron, σ applied by the output layer's ReLU.

Width/depth rule (ours, ``proofs/binary.py``). A requirement fails with probability 2^{−r} (one +
among r), (r + 1)2^{−r} (two + among r) or (3/4)^{2r} (a unit of group j with the slot's sign and
a + weight into the consumer), all ≤ (r + 1)(9/16)^r. With M requirements per copy
(:func:`requirements`), the union bound over r·M unit requirements holds with probability ≥ 1 − δ
when r(r + 1)M(9/16)^r ≤ δ, which r ≥ r* = (Λ + 2 log₂(2Λ + 32)) / log₂(16/9), Λ = log₂(M/δ),
ensures. Given that event every live unit is exact and the ticket computes the quantised target
exactly; the bits K ≥ K* = max_i log₂(√(c_i d_i d_{i+1}) / e) (c_0 = 2, else 1; e the per-layer
budget (1 + ε)^{1/l} − 1) make every layer's certificate error ≤ e/2. Depth 1 + l(K + 2) =
Θ(l log(dl/ε)); width r(S_i + 2d_{i+1}) = Θ(d log(d l log(1/ε)/δ)).

Certificate (:meth:`Binary.certify`): from the masked weights only. It checks the layout, one
magnitude per layer (a power of two), ≤ 1 kept weight per univariate unit and only + weights
inside the levels, then reads each block's map exactly (integer path counts, < 2^52, times the
power-of-two scale product): F_i. When every output copy of every neuron has the same row sums
(copy-consistency, true of our tickets) the ticket equals the chain of reduced maps and
:func:`sltheory.certificate.bound.certify` applies; otherwise the copy-space bound
:func:`sltheory.certificate.bound.certify_copies`. The float slack of evaluating the deep chain is
our per-block bound (:func:`chain_float_slack`), not the per-layer product (which would grow
like Π‖|M_t|‖ over the ~l·log(1/ε) layers).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

from .._backend import ops
from .._checks import bound_args, depth_arg, nonnegative_int, plan_args, positive_float, rule_samples
from .._linalg import gamma
from ..bounds import layer_error_budget
from ..certificate.bound import (
    METHODS,
    Certificate,
    EffectiveMap,
    _abs_norm_bound,
    _csr,
    certify,
    certify_copies,
    matrix_norm_bound,
)
from ..errors import ApproximationFailedError, CertificateError, InvalidArgumentError, NetworkTooLargeError
from ..network import Plan, RandomNetwork
from ..targets import Target
from ._pairs import MAX_RANDOM_WEIGHTS
from .base import Construction, PruneResult, check_layout

#: Bits when eps is None and bits= is not given (resolution 2^−6 per weight).
DEFAULT_BITS = 6
#: Most bits supported: path counts stay < 2^52, so float64 reads the maps exactly.
MAX_BITS = 40
#: Most copies per pool.
MAX_COPIES = 4096
#: log₂(16/9): −log₂ of the per-requirement failure base 9/16.
LOG2_BASE = math.log2(16 / 9)


# ---------------------------------------------------------------------------------- the layout
def slots(dims, i):
    """Slots of block i: (j, ±) for the signed first layer (2 d_0), else one per input neuron."""
    return 2 * dims[0] if i == 0 else dims[i]


def layer_sizes(dims, r: int, bits: int):
    """(out, in) of every random linear, and per target layer the indices of its layers (block 0
    includes the univariate layer 0)."""
    L = len(dims) - 1
    prev = 2 * r * dims[0]
    shapes = [(prev, dims[0])]
    blocks = []
    for i in range(L):
        width = r * (slots(dims, i) + 2 * dims[i + 1])
        idx = [0] if i == 0 else []
        for _ in range(bits + 1):
            idx.append(len(shapes))
            shapes.append((width, prev))
            prev = width
        out_rows = dims[i + 1] * (1 if i == L - 1 else r)
        idx.append(len(shapes))
        shapes.append((out_rows, prev))
        prev = out_rows
        blocks.append(tuple(idx))
    return shapes, blocks


def layer_laws(dims, bits: int) -> tuple:
    """("binary", ½) on the levels 1 … K of every block, ("binary",) elsewhere."""
    laws: list[tuple] = [("binary",)]
    for _ in range(len(dims) - 1):
        laws += [("binary",)] + [("binary", 0.5)] * bits + [("binary",)]
    return tuple(laws)


# ---------------------------------------------------------------------------------- the rule
def requirements(dims, bits):
    """M = Σ_i [(K + 1)(S_i + d_{i+1}(S_i + 2)) + 2 d_{i+1}]: requirements per copy. Per level: one
    for each of the S_i carries; for each output o, one doubling (two + among r) for each of its two
    ladders and at most S_i bits over both (a slot feeds one of them); per output unit, two (one P
    and one N ladder). Floats or sympy."""
    total = 0
    for i in range(len(dims) - 1):
        S, D = slots(dims, i), dims[i + 1]
        total += (bits + 1) * (S + D * (S + 2)) + 2 * D
    return total


def bits_rule(dims, eps):
    """K* = max_i log₂(√(c_i d_i d_{i+1}) / e), c_0 = 2, c_i = 1, e = (1 + ε)^{1/l} − 1: the
    quantisation error ‖Q_i − W_i‖ (‖[Q−W, W−Q]‖ on the first layer) ≤ √(c_i d_i d_{i+1}) 2^{−K−1} ≤ e/2.
    Un-rounded; floats or sympy."""
    L = len(dims) - 1
    o = ops(eps, *dims)
    e = layer_error_budget(eps, L)
    vals = [o.log2(o.sqrt((2 if i == 0 else 1) * dims[i] * dims[i + 1]) / e) for i in range(L)]
    return o.max(*vals) if len(vals) > 1 else vals[0]


def copies_rule(dims, delta, bits):
    """r* = (Λ + 2 log₂(2Λ + 32)) / log₂(16/9), Λ = log₂(M/δ): then r(r + 1) M (9/16)^r ≤ δ for every
    r ≥ r* (proofs/binary.py). Un-rounded; floats or sympy."""
    o = ops(delta, bits, *dims)
    lam = o.log2(requirements(dims, bits) / delta)
    base = LOG2_BASE if not o.symbolic else o.log2(o.one * 16 / 9)
    return (lam + 2 * o.log2(2 * lam + 32)) / base


def failure_bound(dims, bits, r, delta=None):
    """r(r + 1) M (9/16)^r: the union bound on the probability that some unit misses a requirement."""
    return r * (r + 1) * requirements(dims, bits) * (9 / 16) ** r


def _dims_of(shapes):
    return (shapes[0][1],) + tuple(o for o, _ in shapes)


class Binary(Construction):
    name = "binary"
    citation = ("ours: a ±1 construction (Horner doubling ladders over depth) for the setting of "
                "Sreenivasan et al., AISTATS 2022, arXiv:2110.08996, random ±1 networks (their depth "
                "Θ(l log(dl/ε)) and width Θ(d log²(dl/ε)) as restated; their steps not read)")
    whose = "ours"
    soundness_n = (3, 8)
    soundness_n_eps = (5, 9)
    soundness_eps = (0.05, 0.5)
    soundness_small = True
    soundness_rule = False

    # ---------------------------------------------------------------- bounds
    def _rule(self, dims, eps, delta):
        K = bits_rule(dims, eps)
        return K, copies_rule(dims, delta, K)

    def width_bound(self, i, dims, eps, delta):
        """Width of the level layers of block i: r*(S_i + 2 d_{i+1}) (the univariate layer, 2r d_0,
        and the output layers are narrower)."""
        bound_args(dims, eps, delta, i)
        _, r = self._rule(dims, eps, delta)
        return r * (slots(dims, i) + 2 * dims[i + 1])

    def depth_bound(self, depth, bits=None, *, dims=None, eps=None):
        """1 + l(K + 2): the univariate layer, then K + 1 levels and an output layer per target
        layer. K: ``bits``, or the rule's K* for ``dims`` and ``eps``."""
        depth = depth_arg(depth)
        if bits is None:
            if dims is None or eps is None:
                raise InvalidArgumentError("the binary construction's depth depends on its bits: give bits= "
                                           "(a plan's options['bits']) or dims= and eps=")
            bound_args(dims, eps, 0.5)
            bits = bits_rule(dims, eps)
        return 1 + depth * (bits + 2)

    def parameter_bound(self, dims, eps, delta):
        bound_args(dims, eps, delta)
        K, r = self._rule(dims, eps, delta)
        L = len(dims) - 1
        total = 2 * r * dims[0] * dims[0]
        prev = 2 * r * dims[0]
        for i in range(L):
            width = r * (slots(dims, i) + 2 * dims[i + 1])
            out_rows = dims[i + 1] * (1 if i == L - 1 else r)
            total += width * prev + K * width * width + out_rows * width
            prev = out_rows
        return total

    # ---------------------------------------------------------------- plan
    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, bits=None,
             max_weights=MAX_RANDOM_WEIGHTS, **options) -> Plan:
        """``n``: copies r per pool (an int; or one per target layer, all equal); default the
        rule's ⌈r*⌉ (times ``width_factor``). ``bits``: K; default ⌈K*⌉ from eps, or
        :data:`DEFAULT_BITS` without eps."""
        if options:
            raise InvalidArgumentError(f"unknown options for binary: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        max_weights = nonnegative_int("max_weights", max_weights, minimum=1)
        dims = _dims_of(shapes)
        L = len(shapes)
        if bits is None:
            if eps is None:
                bits = DEFAULT_BITS
            else:
                raw = bits_rule(dims, eps)
                if not raw <= MAX_BITS:
                    raise InvalidArgumentError(f"eps = {eps:g} asks for {raw:.1f} bits on these shapes, more than "
                                               f"the {MAX_BITS} supported")
                bits = max(0, math.ceil(raw))
        bits = nonnegative_int("bits", bits, maximum=MAX_BITS)
        if n is None:
            if eps is None:
                raise InvalidArgumentError("give eps (and delta) for the width rule, or n=")
            factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
            r = rule_samples(copies_rule(dims, delta, bits), factor)
        else:
            if width_factor is not None:
                raise InvalidArgumentError("give either n= or width_factor=, not both")
            if isinstance(n, (list, tuple)):
                if len(n) != L:
                    raise InvalidArgumentError(f"n has {len(n)} entries for a target of depth {L}")
                values = {nonnegative_int("n", v, minimum=1) for v in n}
                if len(values) != 1:
                    raise InvalidArgumentError(f"the binary construction takes one n (copies per pool) for all "
                                               f"layers, got {tuple(n)}")
                r = values.pop()
            else:
                r = nonnegative_int("n", n, minimum=1)
        if r > MAX_COPIES:
            raise InvalidArgumentError(f"n = {r} copies per pool exceeds the supported {MAX_COPIES}")
        layer_shapes, blocks = layer_sizes(dims, r, bits)
        total = sum(o * i for o, i in layer_shapes)
        if total > max_weights:
            raise NetworkTooLargeError(
                f"the binary rule asks for {total:,} random weights (n = {r} copies, {bits} bits), more than "
                f"max_weights = {max_weights:,}: raise eps/delta, use a smaller target or n=/bits=, or raise "
                "max_weights", required_weights=total, limit=max_weights)
        return Plan(self.name, tuple(tuple(s) for s in shapes), tuple(layer_shapes), tuple(blocks), (r,) * L,
                    (True,) + (False,) * (L - 1), eps, delta, None,
                    {"bits": bits, "copies": r, "width_factor": width_factor},
                    distribution=("binary",), layer_distributions=layer_laws(dims, bits))

    # ---------------------------------------------------------------- certificate
    def _layout(self, target: Target, plan: Plan, matrices):
        """(r, bits, blocks) after checking the plan and matrices are this construction's layout."""
        opts = plan.options if isinstance(plan.options, dict) else {}
        r, bits = opts.get("copies"), opts.get("bits")
        if not (isinstance(r, int) and isinstance(bits, int) and 1 <= r <= MAX_COPIES and 0 <= bits <= MAX_BITS):
            raise CertificateError(f"the plan's options {opts!r} name no valid copies / bits of the binary layout")
        shapes, blocks = layer_sizes(target.dims, r, bits)
        if tuple(map(tuple, plan.pairs)) != tuple(blocks) or tuple(plan.n) != (r,) * target.depth or \
                tuple(plan.signed) != (True,) + (False,) * (target.depth - 1):
            raise CertificateError(f"the plan's pairs / n / signed are not the binary layout for {r} copies and "
                                   f"{bits} bits")
        check_layout(self.name, target, plan, matrices, shapes)
        return r, bits, blocks

    def block_maps(self, target: Target, plan: Plan, matrices):
        """Per target layer: (F, |F|, T, K) — F the exact map of the block (levels and output layer;
        block 0 without the univariate layer), |F| the product of the absolute matrices (the same,
        up to the output layer's signs), T its number of layers (block 0: with the univariate
        layer), K the most kept weights in one of their rows — and the
        univariate layer A. Raises CertificateError where the masked weights are not the layout
        (several magnitudes in a layer, a scale not a power of two, a negative weight inside the
        levels, several kept weights in a univariate unit, path counts ≥ 2^52)."""
        r, bits, blocks = self._layout(target, plan, matrices)
        mats = [_csr(M) for M in matrices]
        signs, scales = [], []
        for t, M in enumerate(mats):
            M = M.copy()
            M.eliminate_zeros()
            mag = np.abs(M.data)
            s = float(mag[0]) if mag.size else 1.0
            if mag.size and (not np.all(mag == s) or math.frexp(s)[0] != 0.5 or not math.isfinite(s)):
                raise CertificateError(f"random layer {t} keeps weights of several magnitudes or a scale that "
                                       "is not a power of two: not a binary layer")
            S = M.copy()
            S.data = np.sign(S.data)
            signs.append(S)
            scales.append(s)
        A = mats[0]
        if A.shape[0] and A.getnnz(axis=1).max(initial=0) > 1:
            raise CertificateError("a univariate unit (random layer 0) keeps more than one input weight")
        if not 2.0 ** -900 <= scales[0] <= 2.0 ** 900:
            raise CertificateError(f"random layer 0 keeps weights of size {scales[0]:g}: outside the range where "
                                   "float64 holds the block maps exactly")
        out = []
        for i, idx in enumerate(blocks):
            levels = idx[1:-1] if i == 0 else idx[:-1]
            Z = None
            for t in levels:
                if signs[t].nnz and signs[t].data.min() < 0:
                    raise CertificateError(f"random layer {t} (a level of target layer {i}) keeps a negative weight: "
                                           "the levels carry nonnegative values through ReLUs as the identity")
                Z = signs[t] if Z is None else signs[t] @ Z
                if Z.nnz and Z.data.max() >= 2.0 ** 52:
                    raise CertificateError(f"path counts in target layer {i} reach 2^52: beyond exact float64")
            O = signs[idx[-1]]
            if Z is None:   # never: a block has ≥ 1 level
                raise CertificateError("a block without levels")
            Fabs = abs(O) @ Z
            # every sum formed from these integers later (F @ |A|'s entries, the copy sums, the row
            # comparisons) is bounded by a row sum of |F|: keep those below 2^52 too, so all stay exact
            if Fabs.nnz and (Fabs.data.max() >= 2.0 ** 52 or float(np.asarray(Fabs.sum(axis=1)).max()) >= 2.0 ** 52):
                raise CertificateError(f"path counts in target layer {i} reach 2^52: beyond exact float64")
            scale = float(np.prod([scales[t] for t in idx if t != 0]))
            if not 2.0 ** -900 <= scale <= 2.0 ** 900:
                raise CertificateError(f"the scales of target layer {i}'s random layers multiply to {scale:g}: "
                                       "outside the range where float64 holds the block's map exactly")
            F = (O @ Z) * scale     # exact: integers < 2^52 times a power of two
            row_nnz = max(int(signs[t].getnnz(axis=1).max(initial=0)) for t in idx)
            out.append((F.tocsr(), (Fabs * scale).tocsr(), len(idx), row_nnz))
        return out, A

    def certify(self, target: Target, plan: Plan, matrices, *, method: str = "auto") -> Certificate:
        """Sound sup-norm bound of a binary ticket from its masked weights ``matrices`` (module
        docstring): the reduced chain through :func:`certify` when the copies are consistent, else
        :func:`certify_copies`; plus :func:`chain_float_slack` for evaluating the deep chain."""
        if method not in METHODS:
            raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
        r = plan.options.get("copies") if isinstance(plan.options, dict) else None
        blocks, A = self.block_maps(target, plan, matrices)
        L = target.depth
        copies = [r] * (L - 1) + [1]
        sA = A.copy()
        Apos, Aneg = sA.maximum(0), (-sA).maximum(0)
        F0 = blocks[0][0]
        first = EffectiveMap((F0 @ Apos).toarray(), (F0 @ Aneg).toarray())
        later = []
        for k in range(1, L):
            F = blocks[k][0]
            d_in = target.weights[k].shape[1]
            P = np.asarray(F.toarray().reshape(F.shape[0], d_in, copies[k - 1]).sum(axis=2))
            later.append((P, F))
        reduced = _reduced_maps(first, later, copies)
        if reduced is not None:
            cert = certify(target, reduced, None, method=method)
        else:
            cert = certify_copies(target, first, later, copies, None)
        slack = chain_float_slack(blocks, A)
        extra = slack * target.output_scale * (1 + gamma(L + 1)) * (1 + 1e-6)
        return dataclasses.replace(cert, error_bound=cert.error_bound + extra,
                                   float_slack=cert.float_slack + extra,
                                   layerwise_bound=None if cert.layerwise_bound is None else
                                   cert.layerwise_bound + extra)

    # ---------------------------------------------------------------- prune
    def prune(self, target: Target, rand: RandomNetwork, *, eps, **options) -> PruneResult:
        """The deterministic search of the module docstring (no option). With ``eps``, after the
        ticket at the full K bits, a coarser resolution K' < K (weights rounded to multiples of
        2^{−K'}: fewer bits set, fewer kept weights) is tried from the one the full ticket's bound
        predicts upwards, and the first that certifies ≤ eps is returned (the sparser ticket)."""
        if options:
            raise InvalidArgumentError(f"unknown options for binary: {sorted(options)}")
        plan = rand.plan
        r, bits = plan.options["copies"], plan.options["bits"]
        lins = [lin.weight.detach().cpu().numpy() for lin in rand.linears()]
        signs = [np.sign(w) for w in lins]

        def attempt(resolution):
            masks, dead = _search(target, plan, signs, resolution)
            mats = [sp.csr_matrix(np.where(mk, w, 0.0)) for mk, w in zip(masks, lins)]
            return masks, self.certify(target, plan, mats), dead

        masks, cert, dead = attempt(bits)
        used = bits
        if eps is not None and cert.error_bound <= eps and bits > 0:
            res = max(0, bits - math.floor(math.log2(eps / cert.error_bound)))
            while res < bits:
                m2, c2, d2 = attempt(res)
                if c2.error_bound <= eps:
                    masks, cert, dead, used = m2, c2, d2, res
                    break
                res += 1
        stats = {"copies": r, "bits": bits, "resolution_bits": used, "dead_units": dead,
                 "depth": len(masks), "max_width": max(s[0] for s in plan.layer_shapes)}
        if eps is None or cert.error_bound <= eps:
            return PruneResult(masks, cert, stats)
        L = target.depth
        needed_r = r + 2 if dead else r
        needed_bits = bits + max(1, math.ceil(math.log2(cert.error_bound / eps)))
        raise ApproximationFailedError(
            f"certified error {cert.error_bound:.4g} > eps = {eps:.4g} with n = {r} copies and {bits} bits "
            f"({dead} units missed a requirement): sample a deeper network (bits ≈ {needed_bits}) "
            f"{'or more copies (n ≈ ' + str(needed_r) + ')' if dead else ''}".rstrip(),
            missed=max(1, dead), total=int(sum(W.size for W in target.weights)), error_bound=cert.error_bound,
            eps=eps, n=tuple(plan.n), n_needed=(needed_r,) * L)


def _search(target: Target, plan: Plan, signs, resolution: int):
    """Masks of the deterministic search with the weights rounded to multiples of 2^{−resolution}
    (≤ the plan's bits), and the number of units that missed a requirement."""
    r, bits, blocks = plan.options["copies"], plan.options["bits"], plan.pairs
    masks = [np.zeros(s.shape, dtype=bool) for s in signs]
    L = target.depth
    # block 0's input pools: group j of the univariate layer, by the sign of its weight
    pools = []
    for j in range(target.dims[0]):
        group = np.arange(j * 2 * r, (j + 1) * 2 * r)
        masks[0][group, j] = True
        for s in (1.0, -1.0):
            pools.append(group[signs[0][group, j] == s])
    dead = 0
    for i, idx in enumerate(blocks):
        W = target.weights[i]
        coef = np.stack([W, -W], axis=2).reshape(W.shape[0], -1) if i == 0 else W   # (D, S): a_c
        m = np.rint(np.abs(coef) * 2.0 ** resolution).astype(np.int64) << (bits - resolution)
        m_p = np.where(coef > 0, m, 0)
        m_n = np.where(coef < 0, m, 0)
        levels = idx[1:-1] if i == 0 else idx[:-1]
        pools, died = _build_block([signs[t] for t in levels], signs[idx[-1]], [masks[t] for t in levels],
                                   masks[idx[-1]], pools, m_p, m_n, r, bits, 1 if i == L - 1 else r)
        dead += died
    # drop units whose outputs nothing uses (backwards)
    for t in range(len(masks) - 2, -1, -1):
        masks[t][~masks[t + 1].any(axis=0), :] = False
    return masks, dead


def _first_positive(S: np.ndarray, rows: np.ndarray, pool: np.ndarray, need: int, sign: float = 1.0):
    """For each consumer row: whether ``need`` members of ``pool`` have a weight of ``sign`` into it,
    and the first ``need`` of them (columns, −1 where missing)."""
    if pool.size == 0:
        return np.zeros(rows.size, dtype=bool), np.full((rows.size, need), -1)
    hit = S[np.ix_(rows, pool)] == sign
    cs = np.cumsum(hit, axis=1)
    ok = cs[:, -1] >= need
    cols = np.stack([pool[np.argmax(cs >= q + 1, axis=1)] for q in range(need)], axis=1)
    return ok, cols


def _build_block(level_signs, out_signs, level_masks, out_mask, in_pools, m_p, m_n, r, bits, out_copies):
    """Masks of one block (written into ``level_masks`` / ``out_mask``); returns the output pools
    (live rows per output neuron) and the number of units that missed a requirement."""
    D, S = m_p.shape
    ladders = (m_p, m_n)
    carry_pools = in_pools
    ladder_pools: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * (2 * D)
    active = np.zeros(2 * D, dtype=bool)
    dead = 0
    copy = np.arange(r)
    for t, (Sg, Mk) in enumerate(zip(level_signs, level_masks)):
        b = bits - t
        new_carry = []
        for c in range(S):
            rows = c * r + copy
            ok, cols = _first_positive(Sg, rows, carry_pools[c], 1)
            Mk[rows[ok], cols[ok, 0]] = True
            dead += int((~ok).sum())
            new_carry.append(rows[ok])
        new_ladder = []
        now_active = active.copy()
        for o in range(D):
            for h in range(2):
                lad = 2 * o + h
                rows = S * r + lad * r + copy
                live = np.ones(r, dtype=bool)
                picks = []
                if active[lad]:
                    ok, cols = _first_positive(Sg, rows, ladder_pools[lad], 2)
                    live &= ok
                    picks.append(cols)
                bit_slots = np.flatnonzero((ladders[h][o] >> b) & 1)
                for c in bit_slots.tolist():
                    ok, cols = _first_positive(Sg, rows, carry_pools[c], 1)
                    live &= ok
                    picks.append(cols)
                if bit_slots.size:
                    now_active[lad] = True
                if not now_active[lad]:
                    new_ladder.append(rows)      # value 0, no requirement
                    continue
                for cols in picks:
                    for q in range(cols.shape[1]):
                        Mk[rows[live], cols[live, q]] = True
                dead += int((~live).sum())
                new_ladder.append(rows[live])
        carry_pools, ladder_pools, active = new_carry, new_ladder, now_active
    out_pools = []
    oc = np.arange(out_copies)
    for o in range(D):
        rows = o * out_copies + oc
        live = np.ones(out_copies, dtype=bool)
        picks = []
        for h, sign in ((0, 1.0), (1, -1.0)):
            if active[2 * o + h]:
                ok, cols = _first_positive(out_signs, rows, ladder_pools[2 * o + h], 1, sign)
                live &= ok
                picks.append(cols)
        for cols in picks:
            out_mask[rows[live], cols[live, 0]] = True
        dead += int((~live).sum())
        out_pools.append(rows[live])
    return out_pools, dead


def _reduced_maps(first: EffectiveMap, later, copies):
    """The effective maps of the reduced chain when, for every neuron, the output copies that the
    next block reads (nonzero columns of its F; the last layer has one copy) have the same row
    (first layer: of P and N; later: of the copy sums P); else None. Then, by induction, every copy
    that is read computes the same function g of x, the next block's pre-activation is
    Σ_c F[:, (j, c)] ĥ_{j,c} = P[:, j] g_j, and the ticket equals the chain h ↦ σ(Q_i h) with Q_i
    a read copy's row (any row where no copy is read: the next P's column is 0 then)."""
    def reduce(P, rho, read):
        rows = P.reshape(P.shape[0] // rho, rho, P.shape[1])
        out = np.empty((rows.shape[0], rows.shape[2]))
        for o in range(rows.shape[0]):
            used = np.flatnonzero(read[o]) if read is not None else np.arange(rho)
            ref = rows[o, used[0] if used.size else 0]
            if used.size and not np.all(rows[o, used] == ref):
                return None
            out[o] = ref
        return out

    def read_copies(k):
        """Which copies of target layer k's neurons block k + 1 reads (None for the last layer)."""
        if k >= len(later):
            return None
        F = later[k][1]
        d = F.shape[1] // copies[k]
        cols = np.asarray(abs(F).sum(axis=0)).ravel() > 0
        return cols.reshape(d, copies[k])

    P1, N1 = reduce(first.P, copies[0], read_copies(0)), reduce(first.N, copies[0], read_copies(0))
    if P1 is None or N1 is None:
        return None
    maps = [EffectiveMap(P1, N1)]
    for k, (P, _) in enumerate(later, start=1):
        Q = reduce(P, copies[k], read_copies(k))
        if Q is None:
            return None
        maps.append(EffectiveMap(Q, None))
    return maps


def chain_float_slack(blocks, A) -> float:
    """Bound on sup_{‖x‖₂≤1} ‖computed − exact‖₂ of the ticket evaluated in float64 (ours).

    Inside a block every kept weight is ≥ 0 and so is every value, so a computed layer
    fl(M y) = (M + δM) y, |δM| ≤ γ|M| (γ = γ_K, K the most kept weights in a row of any
    block), gives by induction |computed − exact| ≤ ((1 + γ)^T − 1)|F| u over the T layers of the
    block (the univariate layer included in block 0, the output layer's signs only in |F|), for an
    input u ≥ 0 given exactly. With err_i the bound after block i, ρ_i ≥ ‖exact state i‖ (copy space):

        err_i ≤ ‖F_i‖ err_{i−1} + c_i ν_i (ρ_{i−1} + err_{i−1}),   c_i = (1 + γ)^{T_i} − 1,
        ν_i ≥ ‖|F_i|‖₂ (block 0: ‖|F_0||A|‖₂),   ρ_i = ‖F_i‖ ρ_{i−1},   ρ_0 = 1, err_0 = 0,

    since the exact block map u ↦ σ(F_i u) is ‖F_i‖-Lipschitz on u ≥ 0 and both states are ≥ 0."""
    g = gamma(max(max(b[3] for b in blocks), 1))
    err, rho = 0.0, 1.0
    absA = abs(A)
    for i, (F, Fabs, T, _) in enumerate(blocks):
        if i == 0:
            nu = _abs_norm_bound(Fabs @ absA)
            lip = matrix_norm_bound(F) * matrix_norm_bound(A)
        else:
            nu = _abs_norm_bound(Fabs)
            lip = matrix_norm_bound(F)
        c = (1 + g) ** T - 1
        err = lip * err + c * nu * (rho + err)
        rho = lip * rho
    return err * (1 + 1e-6) + 1e-300


CONSTRUCTION = Binary()
