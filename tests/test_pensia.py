"""pensia: Pensia et al.'s fixed-block construction. Reference values of the rule, the block layout
of the plan, an independent check that the masks respect the fixed blocks and that every kept
subset sums to what the certificate saw, the solver's subsets against brute force, and the
certificate against the exact error of a 1-input target."""

import itertools
import math

import numpy as np
import pytest

import sltheory
from sltheory.constructions.pensia import C_DEFAULT, MAX_HALF, fixed_blocks, samples_per_half
from sltheory.errors import InvalidArgumentError, RandomNetworkError
from sltheory.testing.lower_bound import lower_bound, sequential

SPEC = sltheory.construction("pensia")


def _masked(rand, ticket):
    return [np.where(m.numpy(), lin.weight.detach().numpy(), 0.0) for m, lin in zip(ticket.masks, rand.linears())]


def test_rule_reference_values():
    # n* = C log2(2 l d_in d_out / min(eps, delta)), C = 4: log2(2·3·8·16/0.05) = log2(15360)
    assert C_DEFAULT == 4.0
    assert samples_per_half(8, 16, 3, 0.05, 0.1) == pytest.approx(4 * math.log2(15360), rel=1e-15)
    assert samples_per_half(32, 64, 2, 0.01, 0.1, C=1) == pytest.approx(math.log2(819200), rel=1e-15)
    plan = SPEC.plan(((16, 8), (16, 16), (4, 16)), eps=0.05, delta=0.1)
    assert plan.n == (56, 60, 52)   # ⌈4 log2(2·3·8·16/0.05)⌉, ⌈4 log2(2·3·16·16/0.05)⌉, ⌈4 log2(2·3·16·4/0.05)⌉
    # blocks of 2n* units per input in EVERY layer (no negative-half saving after a ReLU)
    assert [s[0] for s in plan.layer_shapes[::2]] == [2 * 8 * 56, 2 * 16 * 60, 2 * 16 * 52]
    assert plan.signed == (True, False, False)
    dims = (8, 16, 16, 4)
    for i in range(3):
        assert SPEC.width_bound(i, dims, 0.05, 0.1) == pytest.approx(2 * dims[i] * samples_per_half(
            dims[i], dims[i + 1], 3, 0.05, 0.1))
    assert SPEC.parameter_bound(dims, 0.05, 0.1) == pytest.approx(sum(
        2 * dims[i] * samples_per_half(dims[i], dims[i + 1], 3, 0.05, 0.1) * (dims[i] + dims[i + 1])
        for i in range(3)))
    assert plan.num_random_weights >= SPEC.parameter_bound(dims, 0.05, 0.1)
    assert SPEC.depth_bound(3) == 6 and SPEC.whose == "paper" and "arXiv:2006.07990" in SPEC.citation
    assert SPEC.plan(((16, 8),), eps=0.05, delta=0.1, width_factor=0.5).n == (math.ceil(0.5 * 4 * math.log2(
        2 * 8 * 16 / 0.05)),)


def test_fixed_blocks_layout():
    rng = np.random.default_rng(0)
    n, d = 5, 3
    A = rng.uniform(-1, 1, (2 * n * d, d))
    for signed in (True, False):
        unit_slot, slot_units, count = fixed_blocks(A, signed, n)
        assert slot_units.shape == (2 * d if signed else d, 2 * n)
        for k in range(2 * n * d):
            j = k // (2 * n)
            a = A[k, j]
            want = (2 * j if a > 0 else 2 * j + 1) if signed else (j if a > 0 else -1)
            assert unit_slot[k] == want
        for s in range(slot_units.shape[0]):
            assert sorted(slot_units[s, :count[s]]) == sorted(np.flatnonzero(unit_slot == s))
    # the assignment reads only the signs of each unit's own-block weight
    B = np.where(A > 0, 0.5, -0.25)
    B[np.arange(2 * n * d), np.arange(2 * n * d) // (2 * n)] = np.sign(A[np.arange(2 * n * d),
                                                                         np.arange(2 * n * d) // (2 * n)])
    assert all(np.array_equal(x, y) for x, y in zip(fixed_blocks(A, True, n), fixed_blocks(B, True, n)))
    with pytest.raises(RandomNetworkError, match="fixed-block"):
        fixed_blocks(A[:-1], True, n)
    # a half past MAX_HALF units offers only its first MAX_HALF (by index) to the solver
    big = np.ones((2 * 40, 1))
    _, units, count = fixed_blocks(big, True, 40)
    assert count[0] == MAX_HALF and list(units[0]) == list(range(MAX_HALF)) and count[1] == 0


@pytest.mark.parametrize("dims,n,seed", [((3, 4, 2), 4, 0), ((2, 3, 3, 2), 3, 1)])
def test_masks_respect_fixed_blocks_and_sums_are_right(dims, n, seed):
    """Independent recomputation from the masks alone, by loops: each kept first-layer weight of
    unit k is from input k // 2n; after a ReLU only positive ones; the effective entries
    P[o, j] = Σ a_k B[o, k] over kept k ∈ P_j (and N over N_j) give the per-weight errors the
    ticket reports, and the recertified bound is the shipped one."""
    W = [0.7 * w for w in sltheory.gaussian_target(dims, seed)]
    rand = sltheory.random_network(W, n=n, seed=seed, construction="pensia")
    ticket = sltheory.approximate(W, rand)
    M = _masked(rand, ticket)
    worst = []
    for i, Wi in enumerate(W):
        A, B = M[2 * i], M[2 * i + 1]
        d_out, d_in = Wi.shape
        assert A.shape == (2 * n * d_in, d_in)
        for k, j in zip(*np.nonzero(A)):
            assert j == k // (2 * n)
            assert i == 0 or A[k, j] > 0
        assert np.count_nonzero(A, axis=1).max() <= 1
        # a unit with kept output weights keeps its first-layer weight, and vice versa
        assert np.array_equal(np.any(B != 0, axis=0), np.any(A != 0, axis=1))
        err = 0.0
        for o in range(d_out):
            for j in range(d_in):
                P = N = 0.0
                for k in range(2 * n * j, 2 * n * (j + 1)):
                    if A[k, j] > 0:
                        P += A[k, j] * B[o, k]
                    elif A[k, j] < 0:
                        N += -A[k, j] * B[o, k]
                err = max(err, abs(P - Wi[o, j]))
                if i == 0:
                    err = max(err, abs(N + Wi[o, j]))
                else:
                    assert N == 0.0
        worst.append(err)
    assert worst == pytest.approx([L["max_weight_error"] for L in ticket.stats["layers"]], abs=1e-12)
    assert ticket.recertify(W).error_bound == pytest.approx(ticket.error_bound, rel=1e-12)


def test_best_subsets_equal_brute_force():
    """With eps=None every (output, sign-half) problem is solved at its optimum: equal to brute
    force over all subsets of the half's units."""
    W = sltheory.gaussian_target((2, 3), 4)
    rand = sltheory.random_network(W, n=4, seed=2, construction="pensia")
    ticket = sltheory.approximate(W, rand)
    A = rand.linears()[0].weight.detach().numpy()
    B = rand.linears()[1].weight.detach().numpy()
    best = 0.0
    for o in range(3):
        for j in range(2):
            block = range(8 * j, 8 * (j + 1))
            for sign, target in ((1, W[0][o, j]), (-1, -W[0][o, j])):
                units = [k for k in block if sign * A[k, j] > 0]
                sums = [sum(abs(A[k, j]) * B[o, k] for k in S) for r in range(len(units) + 1)
                        for S in itertools.combinations(units, r)]
                best = max(best, min(abs(s - target) for s in sums))
    assert ticket.stats["layers"][0]["max_weight_error"] == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("seed", [5, 7])
def test_certificate_against_exact_error_of_a_one_input_target(seed):
    """Input dimension 1: the exact sup error is max(‖f(1) − g(1)‖, ‖f(−1) − g(−1)‖) (positive
    homogeneity; ``lower_bound`` computes it sharing no code with the certificate). At depth 1 the
    certificate is that value up to its float slack (measured ratio 1 + 1.2e-5 at most); at depth 2
    it bounds it."""
    W = [0.8 * w for w in sltheory.gaussian_target((1, 3), seed)]
    ticket = sltheory.approximate(W, sltheory.random_network(W, n=6, seed=seed, construction="pensia"))
    exact, _ = lower_bound(sequential(W), ticket.network, 1)
    assert 0 < exact <= ticket.error_bound <= exact * (1 + 1e-4)
    W = [0.8 * w for w in sltheory.gaussian_target((1, 4, 2), seed)]
    rand = sltheory.random_network(W, eps=0.1, delta=0.1, seed=seed, construction="pensia")
    ticket = sltheory.approximate(W, rand, eps=0.1)
    exact, _ = lower_bound(sequential(W), ticket.network, 1)
    assert 0 < exact <= ticket.error_bound <= 0.1


def test_bad_inputs():
    W = sltheory.gaussian_target((2, 3), 0)
    with pytest.raises(InvalidArgumentError, match="unknown options for pensia"):
        sltheory.random_network(W, n=3, seed=0, construction="pensia", spare_negative_half=True)
    with pytest.raises(InvalidArgumentError, match="C"):
        sltheory.random_network(W, eps=0.1, delta=0.1, seed=0, construction="pensia", C=0)
    with pytest.raises(InvalidArgumentError, match="exceeds the supported"):
        sltheory.random_network(W, n=129, seed=0, construction="pensia")
    rand = sltheory.random_network(W, n=3, seed=0, construction="pensia")
    with pytest.raises(InvalidArgumentError, match="min_cardinality"):
        sltheory.approximate(W, rand, min_cardinality=1)
