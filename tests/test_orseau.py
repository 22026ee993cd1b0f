"""orseau (the paper's base-3/2 construction) and orseau_halving (ours): reference values, closed
forms, and the base-3/2 greedy against an independent pure-Python recomputation."""

import importlib
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sltheory
from sltheory.constructions import orseau as O
from sltheory.errors import InvalidArgumentError

RHO = 2 / 3


def reference_greedy(samples, target, tol):
    """Base 3/2, written out: samples of the target's sign, largest first; one per level window
    (ρ^{τ+1}, ρ^τ]; take it if ≤ the residual; stop once the residual is ≤ tol."""
    r, sgn = abs(target), math.copysign(1.0, target)
    chosen = set()
    if r <= tol or target == 0.0:
        return chosen, r
    cands = sorted(((s * sgn, i) for i, s in enumerate(samples) if s * sgn > 0), key=lambda c: -c[0])
    used_levels = set()
    for v, i in cands:
        level = math.floor(-math.log(v) / math.log(1.5))
        if level in used_levels:
            continue
        if v <= r:
            chosen.add(i)
            r -= v
            used_levels.add(level)
            if r <= tol:
                break
    return chosen, r


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 40), tol=st.sampled_from([0.0, 1e-3, 0.05]),
       target=st.one_of(st.floats(-1, 1), st.sampled_from([-1.0, 0.0, 1.0])))
def test_greedy_equals_reference(seed, n, tol, target):
    rng = np.random.default_rng(seed)
    lo, hi = O.law(10)[1:]
    samples = hi * (lo / hi) ** rng.random(n) * hi * (lo / hi) ** rng.random(n) * rng.choice([-1.0, 1.0], n)
    chosen, err = O._select(samples[None, :], np.array([target]), np.array([n]), tol)
    ref_chosen, ref_err = reference_greedy(samples, target, tol)
    assert set(np.flatnonzero(chosen[0]).tolist()) == ref_chosen
    assert err[0] == pytest.approx(ref_err, abs=1e-12)
    assert err[0] == pytest.approx(abs(target - samples[chosen[0]].sum()), abs=1e-12)


def test_one_sample_per_window_anywhere_reaches_two_rho_k():
    """The invariant: ONE right-signed sample per level window, anywhere in it (here at the
    window's edges and at random points), leaves a residual ≤ 2ρ^K after K levels."""
    rng = np.random.default_rng(0)
    K = 20
    for _ in range(300):
        pos = rng.random(K)
        pos[rng.random(K) < 0.3] = 1e-9       # just below the window's top, ρ^τ
        pos[rng.random(K) < 0.3] = 1 - 1e-9   # just above its bottom, ρ^{τ+1}
        samples = RHO ** (np.arange(K) + pos)   # window τ = (ρ^{τ+1}, ρ^τ]
        target = rng.uniform(-1, 1)
        samples = samples * np.sign(target)
        chosen, err = O._select(samples[None, :], np.array([target]), np.array([K]), 0.0)
        assert err[0] <= 2 * RHO ** K * (1 + 1e-12)
        assert chosen.sum() <= K


def test_closed_forms_and_reference_plan():
    # K = ⌈log_{3/2}(2/τ)⌉, p = 1/(4K), n = 4K ln(K l N / δ)
    tau = O.layer_tolerance(4, 4, 2, 0.1, True)
    assert tau == pytest.approx((math.sqrt(1.1) - 1) / math.sqrt(32))
    assert O.levels(tau) == pytest.approx(math.log(2 / tau) / math.log(1.5))
    assert O.layer_levels(4, 4, 2, 0.1, True) == 14 and O.layer_levels(4, 2, 2, 0.1, False) == 12
    assert O.level_probability(14) == 1 / 56
    assert O.samples_per_block(4, 4, 2, 0.1, 0.1, True) == pytest.approx(56 * math.log(14 * 2 * 32 / 0.1))
    assert O.law(8) == ("hyperbolic", pytest.approx(1.5 ** -6), pytest.approx(1.5 ** 2))
    plan = sltheory.construction("orseau").plan(((4, 4), (2, 4)), eps=0.1, delta=0.1)
    assert plan.n == (510, 363) and plan.options["levels"] == (14, 12)
    assert plan.layer_shapes == ((4080, 4), (4, 4080), (1452, 4), (2, 1452))
    assert plan.num_random_weights == 4080 * 5 + 1452 * 3 == 24756
    assert plan.layer_distributions == (O.law(14),) * 2 + (O.law(12),) * 2
    spec = sltheory.construction("orseau")
    assert spec.width_bound(0, (4, 4, 2), 0.1, 0.1) == pytest.approx(8 * 56 * math.log(14 * 2 * 32 / 0.1))
    assert spec.parameter_bound((4, 4, 2), 0.1, 0.1) <= plan.num_random_weights


def test_network_is_slot_structured_with_the_plans_law():
    W = sltheory.gaussian_target((3, 4, 2), 0)
    rand = sltheory.random_network(W, n=50, seed=3, construction="orseau", levels=(10, 9))
    lins = [m for m in rand.modules() if isinstance(m, torch.nn.Linear)]
    for t, lin in enumerate(lins):
        w = lin.weight.detach().numpy()
        _, lo, hi = rand.plan.layer_distribution(t)
        nz = np.abs(w[w != 0])
        assert nz.min() >= lo * (1 - 1e-12) and nz.max() <= hi * (1 + 1e-12)
        if t % 2 == 0:   # one weight per hidden unit, n units per slot
            assert np.all((w != 0).sum(axis=1) == 1)
            assert (w != 0).sum() == 50 * w.shape[1] * (2 if t == 0 else 1)
    assert rand.plan.layer_distribution(0) == O.law(10) and rand.plan.layer_distribution(2) == O.law(9)


def test_window_probability_measured():
    """Each of the K windows gets ≥ 1/(4K) of the products of the right sign (law and sign)."""
    K, m = 12, 400_000
    _, lo, hi = O.law(K)
    rng = np.random.default_rng(1)
    v = hi * (lo / hi) ** rng.random(m) * hi * (lo / hi) ** rng.random(m) * rng.choice([-1.0, 1.0], m)
    lev = np.floor(-np.log(v[v > 0]) / math.log(1.5)).astype(int)
    freq = np.bincount(lev[(lev >= 0) & (lev < K)], minlength=K) / m
    assert freq.min() >= 1 / (4 * K) * 0.97   # 0.97: sampling noise (≈ 1% here)


def test_rule_width_ticket_is_certified_with_at_most_k_paths_per_weight_and_sign():
    W = sltheory.gaussian_target((4, 4, 2), 1000)
    rand = sltheory.random_network(W, eps=0.1, delta=0.1, seed=0, construction="orseau")
    ticket = sltheory.approximate(W, rand, eps=0.1)
    assert ticket.error_bound <= 0.1
    for i, K in enumerate(rand.plan.options["levels"]):
        mB = ticket.masks[2 * i + 1].numpy()
        n, slots = rand.plan.n[i], rand.plan.layer_shapes[2 * i][0] // rand.plan.n[i]
        per_problem = mB.reshape(mB.shape[0], slots, n).sum(axis=2)
        assert per_problem.max() <= K


def test_whose_and_names():
    assert sltheory.construction("orseau").whose == "paper"
    halving = sltheory.construction("orseau_halving")
    assert halving.whose == "ours" and halving.citation.startswith("ours") and "arXiv:2006.12156" in halving.citation
    doc = importlib.import_module(type(halving).__module__).__doc__
    assert "OURS" in doc and "O(log³)" in doc


@pytest.mark.parametrize("kw", [dict(levels=0), dict(levels=101), dict(levels=[3]), dict(levels="4"),
                                dict(gamma=0.1), dict(levels=3.5)])
def test_bad_options_are_typed(kw):
    with pytest.raises(InvalidArgumentError):
        sltheory.construction("orseau").plan(((4, 4), (2, 4)), eps=0.1, delta=0.1, **kw)
