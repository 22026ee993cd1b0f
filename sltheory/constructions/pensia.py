"""Pensia, Rajput, Nagle, Vishwakarma, Papailiopoulos (NeurIPS 2020, arXiv:2006.07990), Theorem 1
with the paper's own *fixed-block* construction ("pensia").

Read from restatements, not from the theorem's text (which was not available offline): Natale et
al. 2024 (arXiv:2410.14754, appendix "Proof of Theorem 3"), Otsuka et al. 2025 (arXiv:2511.04217,
Lemma 2) and the NeurIPS 2020 reviews. The random network g has depth 2l; per target layer
W_i (d_i × d_{i−1}) a pair M_{2i−1} (2 d_{i−1} n* × d_{i−1}) and M_{2i} (d_i × 2 d_{i−1} n*), all
entries i.i.d. U[−1, 1], with n* = C·log(2l d_{i−1} d_i / min(ε, δ)) and C a universal constant the
paper does not make explicit. With probability ≥ 1 − δ over g, *every* target with ‖W_i‖₂ ≤ 1
has masks with sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂ < ε (one random network for all targets).

The construction, per target layer W (d_out × d_in), pair (A = M_{2i−1}, B = M_{2i}):

1. *Blocks fixed in advance.* Hidden units [2n*·j, 2n*·(j+1)) form block B_j and serve input j
   only: unit k ∈ B_j keeps its one weight a_k = A[k, j] (block-diagonal first sub-layer). Which
   block a unit serves depends on its index alone, never on any weight.
2. *Sign split.* P_j = {k ∈ B_j : a_k > 0} outputs a_k σ(x_j), N_j = {a_k < 0} outputs
   |a_k| σ(−x_j); |P_j| ~ Binomial(2n*, ½), so about half of each block serves each sign — this
   is what Pensia's n* counts: units per sign-half of a fixed block, of which the sign pruning
   removes about half. (``subset_sum`` instead assigns units greedily to the least-filled slot
   and counts n *usable* samples per slot: a different n.)
3. *Subset sums, blocks shared by all outputs.* For each output o: S⁺ ⊆ P_j with
   Σ_{k∈S⁺} a_k B[o, k] ≈ W[o, j] and S⁻ ⊆ N_j with Σ_{k∈S⁻} |a_k| B[o, k] ≈ −W[o, j]; B[o, k] is
   kept for k ∈ S⁺ ∪ S⁻. Every unit of a slot is a candidate for every output.
4. *After a ReLU* the inputs are ≥ 0, so σ(−x_j) = 0 and the N_j units carry nothing. The
   restated width is 2·d_{i−1}·n* in *every* layer, so the paper's network contains them (it does
   not spare the negative half; whether its text remarks on them could not be read); here they are
   in the random network, as the paper's width counts them, and always pruned.

The samples of a slot: each of the 2n* units of B_j contributes a_k⁺·B[o, k], which is 0 with
probability ½ and X·Y (X ~ U[0, 1], Y ~ U[−1, 1]) otherwise. The law of X·Y has density
½ ln(1/|z|) on [−1, 1] — it vanishes at ±1, so it does **not** contain U[−1, 1] as a mixture
component; it is ≥ ½ ln 2 on [−½, ½], so X·Y contains **U[−½, ½]** with weight ln2/2 and the
per-unit law ½δ₀ + ½ X·Y contains it with weight ln2/4 (Corollary 1 as restated by Natale et al.;
checked in ``proofs/pensia.py``). Lueker's random-subset-sum lemma is applied to that component,
over the 2n* i.i.d. per-unit samples of the block (a subset sum over P_j is one over all of them,
the zeros adding nothing), so the Binomial size of a half needs no separate bound.

**Width rule (explicit constant ours).** n*_i = ⌈C·log₂(2l d_{i−1} d_i / min(ε, δ))⌉ with
C = :data:`C_DEFAULT`, calibrated by measurement (``proofs.pensia.calibrate``; its table is in
``docs/constructions/pensia.md``): the paper gives no value. The hidden width is 2 d_{i−1} n*_i in
every layer. Tolerances and certificate as in ``subset_sum`` (a per-weight tolerance shrunk until
the certificate of the actual masks is ≤ ε); the subset-sum solver and its selector are
``subset_sum``'s (minimum-cardinality subsets by default).

**Biases and domains** (ours, after Fischer, Gadhikar & Burkholz 2021; see
:mod:`.subset_sum`, *Biases and domains*, for the certificate, the budget at ε/ρ and the rule's
d_{i−1} + 1). A layer with a bias gets a *bias block* of 2n* units fixed in advance, after the
input blocks, whose random biases are U(0, 1) and whose input weights are all pruned. Each unit's
sample c_k·B[o, k] has the law X·Y always (an input block's unit: ½δ₀ + ½X·Y), so coupling the i-th
bias unit with the i-th positive unit of an input block shows that a bias block of 2n* units is
at least as good as a sign-half (subset sums over a superset); the solver is offered its first
MAX_HALF units. On a nonnegative domain the first layer is unsigned as the later ones: its N_j
units stay in the network (the paper's width counts them) and are pruned, so the saving in
random weights is 0, but there are half as many problems and the per-weight tolerance is looser.
"""

from __future__ import annotations

import numpy as np

from .._backend import ops
from .._checks import bound_args, plan_args, positive_float
from ..errors import InvalidArgumentError, RandomNetworkError
from ..network import Plan, RandomNetwork
from ..targets import Target
from ._pairs import (
    MAX_RANDOM_WEIGHTS,
    PairConstruction,
    hidden_width,
    plan_pairs,
    prune_pairs,
    random_parameters,
    rule_inputs,
)
from .base import PruneResult
from .subset_sum import _choose_selector, _n_needed, pair_structure_args

#: The universal constant C of n* = C·log₂(2l d_{i−1} d_i / min(ε, δ)) (ours: the paper gives no
#: value). Calibrated by measurement (``proofs.pensia.calibrate``, 10 seeds per case, δ = 0.1): the
#: smallest C of the grid 0.5 … 6 with success in ≥ 9/10 seeds was 4 on a 1×1 target (|w| = 1) at
#: ε = 0.1 (2.5 at ε = 0.01), 3 / 2 on 2-2 at ε = 0.1 / 0.01, 2 on 4-4-2 (ε = 0.05), 1.25 on
#: 8-16-16-4 (ε = 0.05) and on 32-64-10 (ε = 0.01). One constant must cover the small targets,
#: where reaching a weight near ±1 with the positive half of a block is what fails, so it
#: over-provisions the large ones (measured slack 3.3× there). Covers the targets measured; not
#: shown to be universal.
C_DEFAULT = 4.0
#: Largest n* the builder accepts (a block of 2n* = 256 units; a half offers the solver MAX_HALF).
MAX_N = 128
#: Units of a sign-half offered to the subset-sum solver (its masks are uint64): the first MAX_HALF
#: of the half in index order, fixed in advance like the blocks (ours; the paper's proof has no such
#: limit). |P_j| ~ Binomial(2n*, ½) exceeds it with probability < 10⁻³ per half for n* ≤ 49, 1.3 % at
#: n* = 53; for larger n* (C = 4 on wide layers) it binds, and the unused units are pruned.
MAX_HALF = 64


# ---------------------------------------------------------------- bounds (floats or sympy)
def samples_per_half(d_in, d_out, depth, eps, delta, C=C_DEFAULT):
    """Pensia's n* = C·log₂(2l d_{i−1} d_i / min(ε, δ)): units per sign-half of a fixed block
    (a block has 2n* units). Un-rounded; floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, C)
    return C * o.log2(2 * depth * d_in * d_out / o.min(eps, delta))


def block_width(d_in, n):
    """Hidden units of a pair: 2n* per input, in every layer (the restated 2·d_{i−1}·n*)."""
    return hidden_width(d_in, n, True)


# ---------------------------------------------------------------- the fixed blocks
def fixed_blocks(A: np.ndarray, signed: bool, n: int):
    """The paper's slot assignment: unit k serves block j = k // (2n) (fixed by its index), and
    within the block the slot of the sign of its own weight A[k, j] — slot 2j (P_j) / 2j + 1 (N_j)
    where inputs are signed, slot j (P_j) after a ReLU, where the N_j units serve nothing.

    Reads only sign(A[k, k // 2n]); returns ``(unit_slot (H,), slot_units (S, 2n), slot_count (S,))``
    in the layout of :func:`sltheory.constructions._pairs.assign_slots` (slot capacity 2n: the whole
    block), unit_slot −1 for a unit that serves nothing."""
    H, d = A.shape
    block = 2 * n
    if H != block * d:
        raise RandomNetworkError(f"pensia's first sub-layer has {H} units, not 2n·d_in = {block * d} "
                                 f"(n = {n}, d_in = {d}): not the fixed-block layout")
    S = 2 * d if signed else d
    cap = min(block, MAX_HALF)
    unit_slot = np.full(H, -1, dtype=np.int64)
    slot_units = np.zeros((S, cap), dtype=np.int64)
    slot_count = np.zeros(S, dtype=np.int64)
    for j in range(d):
        units = np.arange(block * j, block * (j + 1))
        a = A[units, j]
        halves = ((units[a > 0], 2 * j), (units[a < 0], 2 * j + 1)) if signed else ((units[a > 0], j),)
        for members, slot in halves:
            members = members[:cap]   # past the MAX_HALF-th unit (by index), unused: ours, see MAX_HALF
            slot_units[slot, :members.size] = members
            slot_count[slot] = members.size
            unit_slot[members] = slot
    return unit_slot, slot_units, slot_count


class Pensia(PairConstruction):
    name = "pensia"
    citation = ("Pensia, Rajput, Nagle, Vishwakarma, Papailiopoulos. Optimal lottery tickets via "
                "SubsetSum: logarithmic over-parameterization is sufficient. NeurIPS 2020, "
                "arXiv:2006.07990, Theorem 1 with its fixed-block construction (2n* units per input, "
                "split by sign; as restated by Natale et al. 2024, arXiv:2410.14754); the constant C ours")
    whose = "paper"
    soundness_rule = True
    #: Targets with biases: a bias block of 2n* units (Fischer, Gadhikar & Burkholz's bias units on
    #: Pensia's fixed blocks; ours); input domains (module docstring, *Biases and domains*).
    supports_biases = True
    domain_aware = True

    def samples(self, i, dims, eps, delta, C=C_DEFAULT):
        return samples_per_half(dims[i], dims[i + 1], len(dims) - 1, eps, delta, C)

    def bias_units(self, n):
        """A bias block of 2n* units, all positive (module docstring, *Biases and domains*)."""
        return 2 * n

    def width_bound(self, i, dims, eps, delta, **constants):
        bound_args(dims, eps, delta, i)
        n, _, flag = self._layer_samples(i, dims, eps, delta, dict(constants))
        return block_width(dims[i], n) + (self.bias_units(n) if flag else 0)

    def parameter_bound(self, dims, eps, delta, **constants):
        """Random weights (random biases not counted): 2n*·d_in·(d_in + d_out) per pair, in every
        layer, plus 2n*·(d_in + d_out) for a bias block."""
        bound_args(dims, eps, delta)
        total = 0
        for i in range(len(dims) - 1):
            n, _, flag = self._layer_samples(i, dims, eps, delta, dict(constants))
            total += random_parameters(dims[i], dims[i + 1], n, True)
            if flag:
                total += self.bias_units(n) * (dims[i] + dims[i + 1])
        return total

    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, C=C_DEFAULT, max_weights=MAX_RANDOM_WEIGHTS,
             biases=None, domain=None, **options) -> Plan:
        """n (Pensia's n*, units per sign-half; a block has 2n) from the rule, or ``n=`` / ``width_factor=``.
        ``biases`` / ``domain``: module docstring, *Biases and domains*."""
        if options:
            raise InvalidArgumentError(f"unknown options for pensia: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        flags, domain, radius = pair_structure_args(self, shapes, biases, domain)
        C = positive_float("C", C)
        depth = len(shapes)
        dims = (shapes[0][1],) + tuple(d_out for d_out, _ in shapes)

        def rule(i, d_in, d_out):
            rdims, reps = rule_inputs(i, dims, eps, flags, radius)
            return samples_per_half(rdims[i], rdims[i + 1], depth, reps, delta, C)

        return plan_pairs(
            self.name, shapes, eps=eps, delta=delta, n=n, width_factor=width_factor, rule=rule,
            spare_negative_half=False, constant=C, max_n=MAX_N, max_weights=max_weights,
            options={"blocks": "fixed"}, biases=flags, domain=domain, bias_units=self.bias_units)

    def prune(self, target: Target, rand: RandomNetwork, *, eps, min_cardinality=True, **options) -> PruneResult:
        """``min_cardinality``: subset_sum's solver in its "sparsest" mode (default) or "staged"."""
        if options:
            raise InvalidArgumentError(f"unknown options for pensia: {sorted(options)}")
        if not isinstance(min_cardinality, bool):
            raise InvalidArgumentError(f"min_cardinality must be a bool, got {min_cardinality!r}")
        # the problems are as wide as a sign-half's units offered to the solver: ≤ min(2n*, MAX_HALF)
        select = _choose_selector(rand.linears()[0].weight.device, min_cardinality,
                                  min(2 * max(rand.plan.n), MAX_HALF))
        result = prune_pairs(target, rand, eps=eps, select=select, n_needed=_n_needed, assign=fixed_blocks,
                             bias_cap=MAX_HALF)
        result.stats["blocks"] = "fixed"
        return result


CONSTRUCTION = Pensia()
