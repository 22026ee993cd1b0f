"""Shared machinery of the depth-2l constructions that copy each target weight through random
paths x_j → unit k → output o (Pensia et al., Malach et al., Orseau et al.).

Per target layer W (d_out × d_in) and random pair (A: H × d_in, B: d_out × H):

* every hidden unit keeps one first-layer weight a_k = A[k, j] and is assigned to a *slot*
  (j, sign): greedily to the least-filled slot it can serve, reading only the signs of its row
  of A (so, given the assignment, the kept |a_k| are still i.i.d.); signed slots (j, −) exist only
  where inputs can be negative (the first layer);
* for each output o and slot (j, s) the construction's *selector* picks a subset S of the slot's
  units with Σ_{k∈S} |a_k| B[o, k] ≈ s·W[o, j] (a problem of "samples" |a_k| B[o, k]);
* the per-weight tolerance starts loose and shrinks until the certificate (sltheory.certificate)
  is ≤ ε; failing that, every weight at the selector's best, else ApproximationFailedError;
* or, in the *per-weight mode* (``weight_tol``, :func:`per_weight`), every problem at one fixed
  tolerance τ; the entries of the effective maps are checked against τ and the certificate,
  with the target's actual norms, is reported (no norm assumption).

A selector is ``select(samples (P, n), targets (P,), counts (P,), tol) → (chosen bool (P, n),
errors (P,))`` with tol = 0 meaning "the best this selector can do". A selector with the attribute
``per_layer = True`` is called ``select(layer, idx, tol)`` instead (``layer`` the
:class:`PairLayer`, ``idx`` the problems to solve): for a mechanism that looks at the two factors
|a_k| and B[o, k] of a sample separately (:meth:`PairLayer.factors`), not only at their product.
The slot assignment is :func:`assign_slots` (greedy) unless a construction passes its own
``assign(A, signed, cap) → (unit_slot, slot_units, slot_count)`` (e.g. blocks fixed in advance).
The problems are as wide as its ``slot_units`` (S, c): c = n for the greedy assignment; an
assignment whose slots can hold more than n units (a fixed block's same-sign half) returns c > n.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

from .._checks import bound_args, depth_arg, nonnegative_int, positive_float, rule_samples, strict_bool
from ..bounds import layer_error_budget, weight_tolerance, weight_tolerance_heuristic
from ..certificate.bound import certify
from ..domains import is_default
from ..errors import ApproximationFailedError, InvalidArgumentError, NetworkTooLargeError
from ..network import Plan, RandomNetwork
from ..targets import Target
from .base import Construction, PruneResult, certify_pairs, pair_maps

#: Default cap on the float64 entries a plan's network holds (``Plan.stored_weights``: the random
#: weights, plus a slot layer's zeros; 8 bytes each, plus the ticket's copy): 2·10⁸ ≈ 1.6 GB.
#: Raise it with ``max_weights=``.
MAX_RANDOM_WEIGHTS = 200_000_000

#: select(samples, targets, counts, tol), or select(layer, idx, tol) when it has ``per_layer = True``.
Selector = Callable[..., tuple[np.ndarray, np.ndarray]]


@njit(cache=True)
def assign_slots(A, signed, cap):
    """Greedy: unit k → least-filled slot it can serve. Reads only the signs of A."""
    H, d = A.shape
    S = 2 * d if signed else d
    count = np.zeros(S, dtype=np.int64)
    slot_units = np.zeros((S, cap), dtype=np.int64)
    unit_slot = np.full(H, -1, dtype=np.int64)
    for k in range(H):
        best = -1
        best_count = cap
        for j in range(d):
            a = A[k, j]
            if signed:
                if a > 0.0:
                    s = 2 * j
                elif a < 0.0:
                    s = 2 * j + 1
                else:
                    continue
            else:
                if a <= 0.0:
                    continue
                s = j
            if count[s] < best_count:
                best_count = count[s]
                best = s
        if best >= 0:
            slot_units[best, count[best]] = k
            unit_slot[k] = best
            count[best] += 1
    return unit_slot, slot_units, count


class PairLayer:
    """One target layer's problems: (d_out × slots) problems of ≤ n samples each.

    With a target bias (``bias`` the vector b, ``n_bias`` > 0): the last ``n_bias`` rows of ``A``
    are *bias units* (Fischer, Gadhikar & Burkholz 2021): their input weights are all pruned, their
    random biases ``c`` (U(0, 1), ≥ 0) are kept where chosen, so unit k outputs σ(c_k) = c_k, and
    the pair adds Σ_k B[o, k] c_k to output o. They form one more slot, positive-only like a slot
    after a ReLU: problem (o, bias) has samples c_k·B[o, k] (the law of |a|·b) and target b_o.
    ``bias_cap``: how many of them the solver is offered (the first, by index; default all)."""

    def __init__(self, A: np.ndarray, B: np.ndarray, W: np.ndarray, signed: bool, n: int, select: Selector,
                 assign: Callable | None = None, *, bias: np.ndarray | None = None, c: np.ndarray | None = None,
                 n_bias: int = 0, bias_cap: int | None = None):
        d_out, d_in = W.shape
        H = A.shape[0] - n_bias                       # units that serve inputs (bias units follow them)
        self.A, self.B, self.W, self.signed, self.n = A, B, W, signed, n
        self.n_bias, self.bias, self.H = int(n_bias), bias, H
        unit_slot, slot_units, slot_count = (assign or assign_slots)(A[:H] if n_bias else A, signed, n)
        n_w_slots = slot_units.shape[0]
        self.n_weight_slots = n_w_slots
        slot_input = np.arange(n_w_slots) // 2 if signed else np.arange(n_w_slots)
        slot_sign = np.where(np.arange(n_w_slots) % 2 == 1, -1.0, 1.0) if signed else np.ones(n_w_slots)
        if bias is not None:
            if c is None or not n_bias:
                raise InvalidArgumentError("a target bias needs bias units with random biases (plan.layer_biases)")
            m = n_bias if bias_cap is None else min(n_bias, int(bias_cap))
            width = max(slot_units.shape[1], m)
            su = np.zeros((n_w_slots + 1, width), dtype=np.int64)
            su[:n_w_slots, :slot_units.shape[1]] = slot_units
            su[n_w_slots, :m] = H + np.arange(m)
            slot_units = su
            slot_count = np.append(slot_count, m)
            unit_slot = np.concatenate([unit_slot, np.where(np.arange(n_bias) < m, n_w_slots, -1)])
            slot_input = np.append(slot_input, -1)          # the bias slot reads no input
            slot_sign = np.append(slot_sign, 1.0)
        self.unit_slot, self.slot_units, self.slot_count = unit_slot, slot_units, slot_count
        n_slots, width = self.slot_units.shape   # width = n unless ``assign`` allows more per slot
        self.slot_input = slot_input
        valid = np.arange(width)[None, :] < self.slot_count[:, None]        # (S, width)
        a_abs = self._first_factor(np.arange(n_slots), c) * valid             # (S, width)
        self.c = c
        # samples[o, s, i] = |a_k| B[o, k] (c_k B[o, k] in the bias slot) for the i-th unit k of slot s
        self.samples = (B[:, self.slot_units] * a_abs[None]).reshape(d_out * n_slots, width)
        self.counts = np.broadcast_to(self.slot_count, (d_out, n_slots)).reshape(-1).copy()
        tg = W[:, slot_input[:n_w_slots]] * slot_sign[None, :n_w_slots]
        if bias is not None:
            tg = np.hstack([tg, np.asarray(bias, dtype=np.float64).reshape(d_out, 1)])
        self.targets = tg.reshape(-1)
        self.valid = valid
        self.chosen = np.zeros((self.targets.size, width), dtype=bool)
        self.errors = np.abs(self.targets)
        self.d_in_eff = 2 * d_in if signed else d_in
        self.select = select
        # per problem: its tolerance is tol × tol_scale (1 for weights; the bias problems' ratio,
        # set by :func:`prune_pairs`, see :func:`bias_tolerance_ratio`)
        self.is_bias = np.zeros((d_out, n_slots), dtype=bool)
        if bias is not None:
            self.is_bias[:, -1] = True
        self.is_bias = self.is_bias.reshape(-1)
        self.tol_scale = np.ones(self.targets.size)

    def _first_factor(self, slots: np.ndarray, c) -> np.ndarray:
        """|a_k| (input slots) or c_k (the bias slot) of the units of ``slots``, (len(slots), width)."""
        units = self.slot_units[slots]
        inputs = self.slot_input[slots]
        out = np.abs(self.A[units, np.maximum(inputs, 0)[:, None]])
        is_b = inputs < 0
        if is_b.any():
            out[is_b] = np.asarray(c)[units[is_b]]
        return out

    def set_bias_ratio(self, ratio: float) -> None:
        """Bias problems at tolerance tol × ``ratio`` (weights at tol)."""
        self.tol_scale = np.where(self.is_bias, float(ratio), 1.0)

    @property
    def rel_errors(self) -> np.ndarray:
        """Each problem's error over its tolerance scale (what is compared with the layer's tol)."""
        return self.errors / self.tol_scale

    def solve(self, tol: float, only_above: float | None = None):
        """(Re)solve the problems whose error exceeds ``only_above`` (all if None), each at tol
        times its tolerance scale (weights 1, bias problems :meth:`set_bias_ratio`)."""
        idx = (np.arange(self.targets.size) if only_above is None
               else np.flatnonzero(self.rel_errors > only_above))
        for scale in np.unique(self.tol_scale[idx]):
            part = idx[self.tol_scale[idx] == scale]
            t = tol if scale == 1.0 else tol * float(scale)
            if getattr(self.select, "per_layer", False):
                self.chosen[part], self.errors[part] = self.select(self, part, t)
            else:
                self.chosen[part], self.errors[part] = self.select(self.samples[part], self.targets[part],
                                                                  self.counts[part], t)

    def factors(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two factors of problems ``idx``' samples: (|a_k|, B[o, k]) for the i-th unit k of
        the slot (c_k in the bias slot), each (len(idx), n), zero past the slot's count (samples =
        their product)."""
        n_slots = self.slot_units.shape[0]
        o, slot = np.divmod(np.asarray(idx), n_slots)
        units = self.slot_units[slot]                                          # (P, n)
        valid = self.valid[slot]
        a_abs = self._first_factor(slot, self.c) * valid
        return a_abs, self.B[o[:, None], units] * valid

    def pair_masks(self) -> tuple[np.ndarray, np.ndarray]:
        mA, mB, _ = self.pair_masks_biases()
        return mA, mB

    def pair_masks_biases(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Masks of A and B, and of A's bias (None without bias units): a used unit keeps its one
        input weight, a used bias unit its bias and no input weight."""
        d_out = self.W.shape[0]
        n_slots = self.slot_units.shape[0]
        chosen = self.chosen.reshape(d_out, n_slots, self.slot_units.shape[1])
        mask_B = np.zeros(self.B.shape, dtype=bool)
        mask_B[:, self.slot_units[self.valid]] = chosen[:, self.valid]
        used = np.asarray(mask_B.any(axis=0))
        mask_A = np.zeros(self.A.shape, dtype=bool)
        units = np.flatnonzero(used[:self.H])
        mask_A[units, self.slot_input[self.unit_slot[units]]] = True
        if not self.n_bias:
            return mask_A, mask_B, None
        mask_c = np.zeros(self.A.shape[0], dtype=bool)
        mask_c[self.H:] = used[self.H:]
        return mask_A, mask_B, mask_c


def slot_hidden_width(d_in, n, signed):
    """Hidden units of a pair whose first sub-layer is slot-structured by design: exactly n per
    slot, 2 d_in slots where inputs are signed, d_in after a ReLU."""
    return n * d_in * (2 if signed else 1)


def slot_random_parameters(d_in, d_out, n, signed):
    """Random weights of such a pair: one per hidden unit in the first sub-layer, d_out per unit in
    the second."""
    return slot_hidden_width(d_in, n, signed) * (1 + d_out)


def hidden_width(d_in, n, signed, spare_negative_half=True):
    """Hidden units of a pair: 2 n d_in where inputs are signed (or the negative half is kept),
    else n d_in / (1 − 2^{−d_in}) (expected useful units = n d_in). Un-rounded."""
    if signed or not spare_negative_half:
        return 2 * n * d_in
    return n * d_in / (1 - 2 ** (-d_in))


def random_parameters(d_in, d_out, n, signed, spare_negative_half=True):
    """Random weights of one pair: hidden width × (d_in + d_out)."""
    return hidden_width(d_in, n, signed, spare_negative_half) * (d_in + d_out)


#: The law of the bias units' random biases (Fischer, Gadhikar & Burkholz 2021: U(0, 1)).
BIAS_UNIT_LAW = ("interval", 0.0, 1.0)
#: The class's bias bound (ours): the rule assumes ‖b_i‖₂ ≤ 1 for every target layer with a bias,
#: as it assumes ‖W_i‖₂ ≤ 1; pruning uses max(‖b_i‖₂, 1) (:func:`bias_radius`).
BIAS_BOUND = 1


def bias_radius(radius, biases=(), bias_norms=None):
    """ρ = R + Σ_{i with a bias} s_i, s_i = max(‖b_i‖₂, 1) (``bias_norms``; the class bound 1 when
    None): the error recursion gives Δ_l ≤ ((1 + e)^l − 1)·ρ when every ‖G_i − W_i‖ ≤ e and every
    bias error ‖p_i − b_i‖ ≤ e·s_i (module docstring of :mod:`sltheory.constructions.subset_sum`,
    *Biases and domains*). Bias-free: ρ = R. Floats or sympy."""
    rho = radius
    for i, flag in enumerate(biases or ()):
        if flag:
            rho = rho + (BIAS_BOUND if bias_norms is None else max(float(bias_norms[i]), BIAS_BOUND))
    return rho


def rule_inputs(i, dims, eps, biases=None, radius=1):
    """(dims, ε) at which a pair construction's bias-free unit-ball rule is evaluated for target
    layer i with ``biases`` (per-layer flags) over a domain of radius ``radius``: d_{i−1} + 1 when
    layer i has a bias (one more "input column": the bias slot, so d_out·(d_in' + 1) problems in
    the union bound) and ε/ρ (:func:`bias_radius`; ε/R for a bias-free target, exact by positive
    homogeneity). With no biases and R = 1: (dims, ε) unchanged. Floats or sympy."""
    flags = tuple(biases or ())
    rho = bias_radius(radius, flags)
    if flags and flags[i]:
        dims = tuple(dims[:i]) + (dims[i] + 1,) + tuple(dims[i + 1:])
    return dims, (eps if rho == 1 else eps / rho)


class PairConstruction(Construction):
    """A depth-2l construction of this module's shape: its bounds follow from ``samples``.

    ``per_weight_rule`` / ``per_weight_mode``: whether its ``plan`` takes ``weight_tol`` (a
    per-weight width rule) and its ``prune`` takes ``weight_tol`` (passes it to
    :func:`prune_pairs`); a construction that sets them True implements both.
    ``slot_first``: whether each pair's first sub-layer is slot-structured by design (its plan
    passes ``slot_first=True`` to :func:`plan_pairs`); the bounds then count
    :func:`slot_hidden_width` / :func:`slot_random_parameters` instead of a dense first sub-layer.

    Bounds with biases and domains (constants ``biases``: per target layer whether it has a bias;
    ``radius``: the domain's R; ``nonnegative``: whether the domain is ≥ 0): the rule at
    :func:`rule_inputs`, plus :meth:`bias_units` hidden units per layer with a bias (their d_in
    input weights are random too, all pruned), and the first layer unsigned on a nonnegative domain.
    """

    per_weight_rule = False
    per_weight_mode = False
    slot_first = False

    @abstractmethod   # *args, **constants (Any): each construction names its own constants (C, n_reach, …)
    def samples(self, i, dims, eps, delta, *args: Any, **constants: Any):
        """Samples per slot of target layer i (un-rounded; floats or sympy)."""

    def bias_units(self, n):
        """Bias units of a pair whose target layer has a bias: n (one slot of n samples)."""
        return n

    def _layer_samples(self, i, dims, eps, delta, constants):
        biases = constants.pop("biases", None)
        radius = constants.pop("radius", 1)
        nonnegative = bool(constants.pop("nonnegative", False))
        rdims, reps = rule_inputs(i, dims, eps, biases, radius)
        n = self.samples(i, rdims, reps, delta, **constants)
        flag = bool(biases and biases[i])
        return n, (i == 0 and not nonnegative), flag

    def width_bound(self, i, dims, eps, delta, **constants):
        bound_args(dims, eps, delta, i)
        n, signed, flag = self._layer_samples(i, dims, eps, delta, dict(constants))
        width = slot_hidden_width if self.slot_first else hidden_width
        return width(dims[i], n, signed) + (self.bias_units(n) if flag else 0)

    def depth_bound(self, depth):
        return 2 * depth_arg(depth)

    def certify(self, target: Target, plan: Plan, matrices, *, method: str = "auto", biases=None):
        """:func:`sltheory.constructions.base.certify_pairs`, with the masked biases ``biases[t]`` of
        every random linear (None where it has none) for a construction with ``supports_biases``."""
        return certify_pairs(self, target, plan, matrices, method=method, biases=biases)

    def parameter_bound(self, dims, eps, delta, **constants):
        """Random weights (the random biases, one per hidden unit of a pair with bias units, are
        not counted)."""
        bound_args(dims, eps, delta)
        weights = slot_random_parameters if self.slot_first else random_parameters
        total = 0
        for i in range(len(dims) - 1):
            n, signed, flag = self._layer_samples(i, dims, eps, delta, dict(constants))
            total += weights(dims[i], dims[i + 1], n, signed)
            if flag:
                total += self.bias_units(n) * (dims[i] + dims[i + 1])
        return total


def plan_pairs(name: str, shapes, *, eps, delta, n, width_factor, rule, spare_negative_half=True,
               constant=None, max_n: int | None = None, distribution=("uniform",), options=None,
               max_weights=MAX_RANDOM_WEIGHTS, per_weight: bool = False, slot_first: bool = False,
               balanced_signs: bool = False, biases=None, domain=None, bias_units=None) -> Plan:
    """The Plan of a depth-2l pair construction: n per layer from ``rule(i, d_in, d_out)``
    (× ``width_factor``) or from ``n`` (an int or one per layer); hidden widths from
    :func:`hidden_width`. Raises before anything is sampled if the network would not fit.
    ``per_weight``: ``rule`` is a per-weight rule (needs no eps). ``slot_first``: each pair's
    first sub-layer is slot-structured by design (layer kind ("slots", n, signed), widths from
    :func:`slot_hidden_width`; ``spare_negative_half`` does not apply: no unit is wasted).
    ``balanced_signs`` (with ``slot_first``): each pair's second sub-layer has layer kind
    ("balanced",): checkerboard signs, so each (output, slot) problem has ⌈n/2⌉ and ⌊n/2⌋ samples
    of either sign.

    ``biases`` (per target layer, whether it has a bias; None or all False: none): a pair whose
    layer has one gets ``bias_units(n)`` (default n) more hidden units after the others, and its
    first linear a random bias of law :data:`BIAS_UNIT_LAW` (every unit's, all but the chosen bias
    units' pruned); recorded in ``Plan.biases`` / ``layer_biases`` and ``options["bias_units"]``.
    ``domain`` (a :class:`~sltheory.domains.Domain`; None: the unit ball): recorded as
    ``Plan.domain``; a nonnegative one makes the first layer unsigned (σ(−x) = 0 there, as after a
    ReLU: its negative half is spared). The ``rule`` must already account for both
    (:func:`rule_inputs`). With neither, the plan is exactly what it was before they existed."""
    from ..domains import is_default

    options = dict(options or {})
    flags = tuple(bool(b) for b in (biases or ()))
    if flags and len(flags) != len(shapes):
        raise InvalidArgumentError(f"biases has {len(flags)} flags for a target of depth {len(shapes)}")
    if not any(flags):
        flags = ()
    if flags and slot_first:
        raise InvalidArgumentError(f"{name} has slot-structured first sub-layers, which hold no bias units: "
                                   "targets with biases are not covered")
    nonneg_first = domain is not None and bool(domain.nonnegative)
    max_weights = nonnegative_int("max_weights", max_weights, minimum=1)
    spare_negative_half = strict_bool("spare_negative_half", spare_negative_half)
    if balanced_signs and not slot_first:
        raise InvalidArgumentError("balanced_signs needs slot-structured first sub-layers (consecutive units "
                                   "per slot)")
    if slot_first and spare_negative_half is not True:
        raise InvalidArgumentError(f"spare_negative_half={spare_negative_half!r} does not apply to {name}: its "
                                   "first sub-layers are slot-structured by design and waste no unit")
    depth = len(shapes)
    if n is None:
        if eps is None and not per_weight:
            raise InvalidArgumentError("give eps (and delta) for the theorem's width rule, weight_tol for "
                                       "the per-weight rule, or n=")
        factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
        ns = [rule_samples(rule(i, d_in, d_out), factor) for i, (d_out, d_in) in enumerate(shapes)]
    else:
        if width_factor is not None:
            raise InvalidArgumentError("give either n= or width_factor=, not both")
        if isinstance(n, Sequence) and not isinstance(n, str):
            if len(n) != depth:
                raise InvalidArgumentError(f"n has {len(n)} entries for a target of depth {depth}")
            ns = [nonnegative_int("n", v, minimum=1) for v in n]
        else:
            ns = [nonnegative_int("n", n, minimum=1)] * depth
    if max_n is not None:
        for v in ns:
            if v > max_n:
                raise InvalidArgumentError(f"n = {v} samples per block exceeds the supported {max_n} "
                                           "(float64 resolves sums only to ~2^-52 anyway); "
                                           "lower the constant or width_factor, raise eps/delta (or lower "
                                           "weight_bound for the per-weight rule), or pass n=")
    layer_shapes: list[tuple[int, int]] = []
    pairs: list[tuple[int, int]] = []
    signed: list[bool] = []
    kinds: list[tuple] = []
    units_b: list[int] = []
    laws: list = []
    for i, ((d_out, d_in), n_i) in enumerate(zip(shapes, ns)):
        sgn = i == 0 and not nonneg_first
        if slot_first:
            H = slot_hidden_width(d_in, n_i, sgn)
            kinds += [("slots", n_i, sgn), ("balanced",) if balanced_signs else ("dense",)]
        else:
            H = math.ceil(hidden_width(d_in, n_i, sgn, spare_negative_half))
        nb = int((bias_units or (lambda v: v))(n_i)) if flags and flags[i] else 0
        units_b.append(nb)
        laws += [BIAS_UNIT_LAW if nb else None, None]
        H += nb
        pairs.append((len(layer_shapes), len(layer_shapes) + 1))
        layer_shapes += [(H, d_in), (d_out, H)]
        signed.append(sgn)
    options.update(width_factor=width_factor)
    if slot_first:   # no unit is wasted: the negative-half saving does not apply
        options.update(balanced_signs=bool(balanced_signs))
    else:
        options.update(spare_negative_half=bool(spare_negative_half))
    if flags:
        options.update(bias_units=tuple(units_b))
    domain_spec = None if domain is None or is_default(domain) else domain.spec()
    plan = Plan(name, tuple(tuple(s) for s in shapes), tuple(layer_shapes), tuple(pairs), tuple(ns),
                tuple(signed), eps, delta, constant, options, tuple(distribution), tuple(kinds),
                biases=flags, layer_biases=tuple(laws) if flags else (), domain=domain_spec)
    total, stored = plan.num_random_weights, plan.stored_weights
    if stored > max_weights:
        held = f", held as {stored:,} float64 entries (slot layers are stored dense)" if stored != total else ""
        raise NetworkTooLargeError(
            f"the {name} rule asks for {total:,} random weights{held} (n = {tuple(ns)} per block, hidden "
            f"widths {tuple(s[0] for s in layer_shapes[::2])}), more than max_weights = {max_weights:,} "
            f"(~{8 * stored / 2**30:.1f} GiB in float64): raise eps/delta, use a smaller target or "
            "n=/width_factor=, or pass a larger max_weights if the memory is there",
            required_weights=stored, limit=max_weights)
    return plan


def masked_sparse(W: np.ndarray, mask: np.ndarray) -> sp.csr_matrix:
    """The masked weights as a sparse matrix, read from the random weights and the mask."""
    rows, cols = np.nonzero(mask)
    return sp.csr_matrix((W[rows, cols], (rows, cols)), shape=W.shape)


def plan_bias_units(plan: Plan) -> tuple[int, ...]:
    """Bias units per target layer of a pair plan (0 where the layer has no bias)."""
    units = plan.options.get("bias_units")
    if not plan.biases or units is None:
        return (0,) * len(plan.pairs)
    units = tuple(int(v) for v in units)
    if len(units) != len(plan.pairs):
        raise InvalidArgumentError(f"the plan records {len(units)} bias-unit counts for {len(plan.pairs)} layers")
    return units


def bias_tolerance_ratio(layer: PairLayer, scale: float) -> float:
    """Bias problems' tolerance over the weights': entries |E| ≤ e/√(d_in' d_out) give ‖E‖_F ≤ e,
    bias entries |p_o − b_o| ≤ e·s/√d_out give ‖p − b‖ ≤ e·s (s = max(‖b‖₂, 1)): the ratio
    s·√d_in'."""
    return scale * math.sqrt(layer.d_in_eff)


def prune_pairs(target: Target, rand: RandomNetwork, *, eps, select: Selector | Sequence[Selector],
                n_needed: Callable[[int, float, float], int], weight_tol=None,
                assign: Callable | None = None, bias_cap: int | None = None) -> PruneResult:
    """Prune a depth-2l pair network: one :class:`PairLayer` per target layer, then :func:`ladder`
    (network-level ``eps``, or best effort when None) or :func:`per_weight` (``weight_tol``).
    ``select``: one selector, or one per layer; ``assign``: the slot assignment (default
    :func:`assign_slots`); ``bias_cap``: bias units offered to the solver per problem.

    Over ``rand.plan``'s domain of radius R, with target biases: the layer budget is the unit-ball
    one at ε/ρ, ρ = R + Σ_i max(‖b_i‖₂, 1) over the layers with a bias (:func:`bias_radius`), and
    a bias problem's tolerance is :func:`bias_tolerance_ratio` times the weights'."""
    if weight_tol is not None:
        if eps is not None:
            raise InvalidArgumentError("give eps (network-level) or weight_tol (per-weight), not both")
        weight_tol = positive_float("weight_tol", weight_tol)
    plan = rand.plan
    lins = rand.linears()
    units_b = plan_bias_units(plan)
    flags = plan.target_bias_flags
    if tuple(flags) != tuple(target.bias_flags):
        raise InvalidArgumentError(f"the plan is for a target with biases {flags}, the target has {target.bias_flags}")
    norms = [0.0 if (b := target.bias(i)) is None else float(np.linalg.norm(b)) for i in range(target.depth)]
    layers = []
    for i, (pair, W) in enumerate(zip(plan.pairs, target.weights)):
        A = lins[pair[0]].weight.detach().cpu().numpy()
        B = lins[pair[1]].weight.detach().cpu().numpy()
        c = None if lins[pair[0]].bias is None else lins[pair[0]].bias.detach().cpu().numpy()
        layer = PairLayer(A, B, W, plan.signed[i], plan.n[i], select[i] if isinstance(select, Sequence) else select,
                          assign, bias=target.bias(i), c=c, n_bias=units_b[i], bias_cap=bias_cap)
        if weight_tol is None and target.bias(i) is not None:
            layer.set_bias_ratio(bias_tolerance_ratio(layer, max(norms[i], BIAS_BOUND)))
        layers.append(layer)
    domain = plan.input_domain()
    from . import registry  # (not at module level: the registry imports the constructions)

    if not getattr(registry.get(plan.construction), "domain_aware", False):
        # a construction that does not read the domain prunes and certifies for the unit ball (at
        # eps/R, from approximate); certify_ticket scales its bound by R
        from ..domains import Ball

        domain = Ball()
    has_bias_units = any(units_b)

    def finish():
        """Fresh mask arrays (never views of the solver's state) and the certificate computed
        from exactly them, the same way :meth:`Construction.certify` does."""
        masks, mats, bmasks, cvals = [], [], [], []
        for layer, pair in zip(layers, plan.pairs):
            mA, mB, mc = layer.pair_masks_biases()
            masks += [mA, mB]
            mats += [masked_sparse(layer.A, mA), masked_sparse(layer.B, mB)]
            bmasks += [mc, None]
            cvals += [None if mc is None or layer.c is None else np.where(mc, layer.c, 0.0), None]
        maps = pair_maps(plan, mats, cvals if has_bias_units else None)
        cert = certify(target, maps, mats, domain=None if is_default(domain) else domain,
                       ticket_biases=cvals if has_bias_units else None)
        return masks, cert, maps, (bmasks if has_bias_units else None)

    stats = lambda masks, tol: pair_stats(layers, masks, plan, tol)  # noqa: E731
    if weight_tol is not None:
        return per_weight(layers, finish, target, weight_tol=weight_tol, n_needed=n_needed, plan=plan, stats=stats)
    budget = None
    if eps is not None:
        rho = bias_radius(domain.radius_for(target.dims[0]), flags, norms)
        budget = layer_error_budget((eps / target.output_scale if rho == 1 else eps / target.output_scale / rho)
                                    * (1 - 1e-3), target.depth)
    result = ladder(layers, finish, eps=eps, budget=budget, n_needed=n_needed, plan=plan, stats=stats)
    if has_bias_units or not is_default(domain):
        result.stats.update(domain_radius=domain.radius_for(target.dims[0]))
    return result


def ladder(layers, finish, *, eps, budget, n_needed, plan, stats) -> PruneResult:
    """The tolerance ladder shared by the constructions.

    ``layers``: objects with ``solve(tol, only_above=None)``, ``errors``, ``rel_errors`` (errors over
    each problem's tolerance scale), ``n``, ``targets``, ``d_in_eff`` and ``W`` (one per target
    layer); ``finish() → (masks, certificate, maps, bias masks or None)``. With eps:
    start each layer at 4 × the random-matrix tolerance budget/(√d_in' + √d_out), certify, shrink
    by the predicted factor until the certificate is ≤ eps or the guaranteed tolerance
    budget/√(d_in' d_out) is reached; then every weight at its best; else ApproximationFailedError.
    """
    if eps is None:
        for layer in layers:
            layer.solve(0.0)
        masks, cert, _, bmasks = finish()
        return PruneResult(masks, cert, stats(masks, None), bias_masks=bmasks)
    tau_f = [weight_tolerance(budget, L.d_in_eff, L.W.shape[0]) for L in layers]
    tol = [4 * weight_tolerance_heuristic(budget, L.d_in_eff, L.W.shape[0]) for L in layers]
    for L, t in zip(layers, tol):
        L.solve(t)
    while True:
        masks, cert, _, bmasks = finish()
        if cert.error_bound <= eps:
            return PruneResult(masks, cert, stats(masks, tol), bias_masks=bmasks)
        if all(t <= tf for t, tf in zip(tol, tau_f)):
            break
        # Layer errors scale about linearly with the tolerance: jump to the predicted one.
        shrink = min(0.8, 0.95 * eps / cert.error_bound)
        tol = [max(t * shrink, tf) for t, tf in zip(tol, tau_f)]
        for L, t in zip(layers, tol):
            L.solve(t, only_above=t)
    # Last resort: every weight at the selector's best (the best ticket it can find here).
    for L in layers:
        L.solve(0.0)
    masks, cert, _, bmasks = finish()
    if cert.error_bound <= eps:
        return PruneResult(masks, cert, stats(masks, tau_f), bias_masks=bmasks)
    missed = [int(np.count_nonzero(L.rel_errors > tf)) for L, tf in zip(layers, tau_f)]
    needed = tuple(n_needed(L.n, float(L.rel_errors.max()), tf) if m else L.n
                   for L, tf, m in zip(layers, tau_f, missed))
    total = sum(L.targets.size for L in layers)
    raise ApproximationFailedError(
        f"certified error {cert.error_bound:.4g} > eps = {eps:.4g}: {sum(missed)} of {total} "
        f"weight problems (per layer {missed}) missed their per-weight tolerance "
        f"({', '.join(f'{t:.3g}' for t in tau_f)}) even at their best with n = {plan.n}. "
        f"This is the theorem's failure event (probability ≤ δ at the theorem's width); "
        f"n ≈ {needed} samples per block would be needed: sample a wider random network.",
        missed=sum(missed), total=total, error_bound=cert.error_bound, eps=eps,
        n=tuple(plan.n), n_needed=needed)


#: The per-weight mode solves at τ·(1 − this): the solver's sums and the effective maps' sums
#: (another summation order) differ by rounding, ≤ 64 · 2⁻⁵³ · Σ|terms| ≈ 10⁻¹³, far below it.
WEIGHT_TOL_MARGIN = 2.0 ** -20


def weight_errors(target: Target, maps) -> list[np.ndarray]:
    """Per target weight, the error of the effective maps recomputed from the masked weights:
    max(|P − W|, |N + W|) on the signed first layer (both halves of x = σ(x) − σ(−x)), |P − W|
    after a ReLU. One array per layer, shaped like W."""
    out = []
    for W, m in zip(target.weights, maps):
        err = np.abs(m.P - W)
        if m.N is not None:
            err = np.maximum(err, np.abs(m.N + W))
        out.append(err)
    return out


def per_weight(layers, finish, target: Target, *, weight_tol: float, n_needed, plan, stats) -> PruneResult:
    """The per-weight mode: every problem solved once at tolerance τ (times 1 − 2⁻²⁰, so that
    rounding cannot push a recomputed entry past τ); then every target weight's error is read
    from the effective maps of the masked weights (:func:`weight_errors`) and must be ≤ τ, else
    ApproximationFailedError. The certificate covers the target's actual norms, whatever they are.
    """
    for L in layers:
        L.solve(weight_tol * (1 - WEIGHT_TOL_MARGIN))
    masks, cert, maps, bmasks = finish()
    errs = weight_errors(target, maps)
    for i, m in enumerate(maps):     # a target bias is one more "weight": |p_o − b_o| ≤ τ
        b = target.bias(i)
        if b is not None:
            p = np.zeros_like(b) if m.p is None else np.asarray(m.p)
            errs[i] = np.append(errs[i].reshape(-1), np.abs(p - b))
    missed = [int(np.count_nonzero(e > weight_tol)) for e in errs]
    worst = [float(e.max()) for e in errs]
    if sum(missed):
        needed = tuple(n_needed(L.n, max(w, weight_tol), weight_tol) if m else L.n
                       for L, w, m in zip(layers, worst, missed))
        biggest = max(float(np.abs(W).max()) for W in target.weights)
        raise ApproximationFailedError(
            f"per-weight mode: {sum(missed)} of {sum(e.size for e in errs)} target weights and biases (per layer "
            f"{missed}) have "
            f"error > weight_tol = {weight_tol:.4g} (worst {max(worst):.4g}) with n = {plan.n}; the largest "
            f"|w| is {biggest:.4g}, and a weight beyond what the n same-sign products of a slot sum to "
            f"cannot be reached. n ≈ {needed} samples per block would be needed (or the per-weight rule, "
            f"random_network(..., weight_tol=, weight_bound={biggest:.3g})): sample a wider random network.",
            missed=sum(missed), total=sum(e.size for e in errs), error_bound=cert.error_bound, eps=weight_tol,
            n=tuple(plan.n), n_needed=needed)
    st = stats(masks, [weight_tol] * len(layers))
    st.update(mode="per_weight", weight_tol=weight_tol, max_weight_error=max(worst),
              layer_max_weight_errors=tuple(worst))
    return PruneResult(masks, cert, st, bias_masks=bmasks)


def pair_stats(layers, masks, plan, tol) -> dict:
    """Per-layer counts of a pair construction, and the negative-half saving (random weights a
    2n·d_in-wide pair would have had after each ReLU, minus the actual). On a nonnegative domain
    the first layer's saving is ``first_layer_negative_half_saving`` (what its signed first pair
    would have had, minus the actual); with bias units, ``bias_units`` per layer and
    ``kept_biases`` (the bias units kept)."""
    per_layer = []
    saving = 0
    first_saving = None
    for i, L in enumerate(layers):
        d_out, d_in = L.W.shape
        H = L.H
        kind = plan.layer_kind(2 * i)[0]
        if not L.signed and kind == "dense":
            if i == 0:
                first_saving = (2 * L.n * d_in - H) * (d_in + d_out)
            else:
                saving += (2 * L.n * d_in - H) * (d_in + d_out)
        elif not L.signed and i == 0 and kind == "slots":
            first_saving = (slot_hidden_width(d_in, L.n, True) - H) * (1 + d_out)
        sizes = L.chosen.sum(axis=1)
        row = {
            "n": L.n, "hidden": int(L.A.shape[0]), "slots": int(L.slot_units.shape[0]),
            "slot_count_min": int(L.slot_count.min()), "slot_count_mean": float(L.slot_count.mean()),
            "kept_first": int(masks[2 * i].sum()), "kept_second": int(masks[2 * i + 1].sum()),
            "mean_subset_size": float(sizes.mean()),
            "max_weight_error": float(L.errors[~L.is_bias].max()),
            "weight_tolerance": None if tol is None else float(tol[i]),
        }
        if L.n_bias:
            row.update(bias_units=L.n_bias, max_bias_error=float(L.errors[L.is_bias].max()),
                       kept_biases=int(L.chosen[L.is_bias].any(axis=0).sum()))
        per_layer.append(row)
    out = {"layers": per_layer, "negative_half_saving": int(saving)}
    if first_saving is not None:
        out["first_layer_negative_half_saving"] = int(first_saving)
    return out
