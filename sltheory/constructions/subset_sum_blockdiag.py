"""A variant of Pensia et al.'s Theorem 1: the first sub-layer of every pair is block-diagonal *by
design* ("subset_sum_blockdiag"; ours, not a theorem of the paper).

Theorem 1 samples M_{2i−1} dense (C d log(·) × d_{i−1}, i.i.d. U[−1, 1]) and its proof prunes it
to block-diagonal: each hidden unit keeps one weight, from one input, and units split by the sign
of that weight into P_j and N_j (step 2–3 of :mod:`sltheory.constructions.subset_sum`). This
variant samples only what the proof keeps. Per target layer W (d_out × d_in) the pair is

* A (H × d_in), H = n·d_in' with d_in' = 2 d_in slots (j, +), (j, −) on the signed first layer
  and d_in slots (j, +) after a ReLU (whose inputs are ≥ 0, so σ(−x_j) = 0 and negative units
  would be dead); unit k of slot (j, s) has the single weight A[k, j] = s·|u_k|, u_k ~ U[−1, 1)
  i.i.d. (``sltheory.network.sample_plan_layer``, layer kind ("slots", n, signed));
* B (d_out × H) dense i.i.d. U[−1, 1), as in the theorem.

**Claim (variant).** Each slot holds exactly n units whose |a_k| are i.i.d. U[0, 1] — the law of
|a| given sign(a) = s for a ~ U[−1, 1], i.e. what the dense proof's slots hold, except that there
the number per slot is random (Binomial, and the greedy assignment caps it at n) and here it is
exactly n. The subset-sum problems (samples |a_k| B[o, k], k in the slot) therefore have the law
of the dense proof's problems with n samples each, where the dense network's have at most n; so
the same width rule (:func:`~sltheory.constructions.subset_sum.samples_per_block`, n per
slot) gives the same guarantee: with probability ≥ 1 − δ, sup_{‖x‖₂≤1} ‖f − g‖₂ ≤ ε for every
target with ‖W_i‖₂ ≤ 1. The certificate (:mod:`sltheory.certificate.bound`) is unchanged: it only needs one
kept weight per row of A, which here holds by construction.

**Size.** Random weights per pair: n·d_in'·(1 + d_out) (one per hidden unit in A, d_out in B),
against 2n·d_in·(d_in + d_out) for the signed dense pair and about n·d_in·(d_in + d_out) after a
ReLU with the negative-half saving: for square layers about half. The counting lower bound of the
class is d_in d_out log₂(1/(2ε)) − 1 (:func:`sltheory.bounds.counting_lower_bound`), so the ratio
tends to n·(d_in'/d_in)/log₂(1/(2ε)) as d grows (``proofs/subset_sum_blockdiag.py``).

**Balanced signs** (``balanced_signs=True``; a further variant). B's magnitudes stay i.i.d.
|U[−1, 1)| but its signs are fixed to a checkerboard, B[o, k] = (−1)^{o+k}|u_ok| (layer kind
("balanced",)). A slot's n units are consecutive, so every (output, slot) problem has ⌈n/2⌉
samples of one sign and ⌊n/2⌋ of the other, instead of a Binomial(n, ½) split. What this buys is
*reach*: a target weight w of sign s can only be met if the same-sign samples sum past |w|, and
with random signs the slots that drew few of them fail first — measured here, those failures set
the n of the whole network (at d = 32, ε = 0.01, 19 of 20 seeds succeed from n = 21 with random
signs and from n = 14 balanced). What is proven about it: for even n the Chernoff bound on the
reach failure with the n/2 same-sign samples, e^{λB}(Ein(λ)/λ)^{n/2}, is never above the
random-sign one with n samples, e^{λB}(½ + ½ Ein(λ)/λ)^n, by AM–GM
(``proofs/subset_sum_blockdiag.py``); the rules' n is rounded up to even under balanced signs, so
the reach term of the per-weight rule stays valid (an odd n given by hand has ⌊n/2⌋ samples of one
sign: its bound is that of n − 1 random-sign samples). What is *not* proven: Lueker's resolution lemma is stated for
i.i.d. samples; for the two fixed-sign halves it is assumed, not shown, and the rule's n is kept —
``benchmarks/counting_limit.py`` measures the n it actually needs.

What changes is the *random network* (its first sub-layers are not dense; with balanced signs,
its second sub-layers' signs are not random), not the pruning or the certificate; it is
registered as its own construction so that no number of it is passed off as Theorem 1's.
``benchmarks/counting_limit.py`` measures each step beside the counting bound.

**Domains, not biases.** On a nonnegative domain the first layer's slots are (j, +) only (n·d_0
units, layer kind ("slots", n, False)): stats ``first_layer_negative_half_saving`` = n·d_0·(1 + d_1)
random weights. Targets with biases are refused (TargetError before sampling): a slot layer
(``sltheory.network.slot_columns``) has no row without an input column, so it cannot hold
Fischer et al.'s bias units; that needs a layer kind with weightless rows in ``sltheory.network``.
"""

from __future__ import annotations

from .subset_sum import SubsetSum


class SubsetSumBlockDiag(SubsetSum):
    name = "subset_sum_blockdiag"
    citation = ("Variant (ours) of Pensia, Rajput, Nagle, Vishwakarma, Papailiopoulos, NeurIPS 2020, "
                "arXiv:2006.07990, Theorem 1: the first sub-layer of each pair sampled block-diagonal "
                "(one weight per hidden unit, the structure the proof keeps); same width rule")
    whose = "ours"
    slot_first = True   # plan options: subset_sum's, and balanced_signs=False (module docstring)
    #: Its slot-structured first sub-layers (``sltheory.network.slot_columns``) have no row for a
    #: bias unit, so targets with biases are not covered (a TargetError before sampling); input
    #: domains are: on a nonnegative one the first layer's slots are (j, +) only.
    supports_biases = False
    domain_aware = True


CONSTRUCTION = SubsetSumBlockDiag()
