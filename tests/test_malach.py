"""malach (the paper's per-weight mechanism as restated: two closeness events per intermediate
neuron) and malach_product (our variant: one product in a window): closed forms, reference widths,
the selector against a brute-force recomputation, and tickets at the rule's width."""

import math
from pathlib import Path

import numpy as np
import pytest

import sltheory
from sltheory.constructions import malach, malach_product
from sltheory.constructions._pairs import PairLayer
from sltheory.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[1]


def test_whose_and_citations():
    assert sltheory.construction("malach").whose == "paper"
    assert sltheory.construction("malach_product").whose == "ours"
    assert sltheory.constructions()["malach_product"].startswith("ours")
    assert "arXiv:2002.00585" in sltheory.constructions()["malach"]


def test_closed_forms():
    for tau in (1e-3, 0.1, 0.5, 2.0):
        assert malach.hit_probability(tau) == pytest.approx(tau ** 2 / 8, rel=1e-15)
        assert malach.event_probability(tau, 2 * tau) == pytest.approx(tau ** 2, rel=1e-15)
    # two closeness events cost about twice one product window: p(τ)/q(τ) → 2 as τ → 0
    for tau in (1e-2, 1e-3, 1e-4):
        assert malach_product.hit_probability(tau) / malach.hit_probability(tau) == pytest.approx(2, rel=2 * tau)


def test_reference_widths():
    # (2, 2) target, ε = 0.3, δ = 0.1: e = 0.3, N = 2·2·2 = 8, τ = 0.3/√8, n = ln(8/0.1)/(τ²/8)
    tau = 0.3 / math.sqrt(8)
    n = math.log(8 / 0.1) / (tau ** 2 / 8)
    assert malach.samples_per_block(2, 2, 1, 0.3, 0.1) == pytest.approx(n, rel=1e-12)
    plan = sltheory.construction("malach").plan(((2, 2),), eps=0.3, delta=0.1)
    assert plan.n == (math.ceil(n),) == (3117,)
    assert sltheory.construction("malach").plan(((3, 3), (2, 3)), eps=0.3, delta=0.1).n == (43137, 11696)
    assert sltheory.construction("malach_product").plan(((3, 3), (2, 3)), eps=0.3, delta=0.1).n == (21330, 5735)


def _brute(layer: PairLayer, p: int):
    """The selector recomputed by loops over the slot's units: least 2·max(1 − |a|, |b − t|)."""
    n_slots = layer.slot_units.shape[0]
    o, slot = divmod(p, n_slots)
    j = layer.slot_input[slot]
    t = layer.targets[p]
    best, best_key = None, math.inf
    for i in range(layer.slot_count[slot]):
        k = layer.slot_units[slot, i]
        a, b = abs(layer.A[k, j]), layer.B[o, k]
        key = 2 * max(1 - a, abs(b - t))
        if key < best_key:
            best, best_key = i, key
    if best is None:
        return None, abs(t)
    k = layer.slot_units[slot, best]
    err = abs(layer.B[o, k] * abs(layer.A[k, j]) - t)
    return (best, err) if err < abs(t) else (None, abs(t))


@pytest.mark.parametrize("signed", [True, False])
def test_selector_matches_brute_force(signed):
    rng = np.random.default_rng(3)
    d_in, d_out, n = 3, 4, 25
    A = rng.uniform(-1, 1, (2 * n * d_in, d_in))
    B = rng.uniform(-1, 1, (d_out, 2 * n * d_in))
    W = rng.uniform(-1, 1, (d_out, d_in)) * 0.9
    W[0, 0] = 0.0           # a zero weight: no unit
    layer = PairLayer(A, B, W, signed, n, malach._select)
    layer.solve(0.1)
    for p in range(layer.targets.size):
        best, err = _brute(layer, p)
        row = np.flatnonzero(layer.chosen[p])
        assert (list(row) == [] if best is None else list(row) == [best])
        assert layer.errors[p] == pytest.approx(err, abs=1e-15)
        if best is not None:   # both closeness events hold at the unit's event tolerance, which bounds the error
            a_abs, b = layer.factors(np.array([p]))
            key = malach.event_tolerance(a_abs[:, best:best + 1], b[:, best:best + 1], layer.targets[p:p + 1])[0, 0]
            assert err <= key + 1e-15


def test_ticket_at_rule_width():
    Ws = sltheory.gaussian_target((2, 2), 10_000)
    rand = sltheory.random_network(Ws, eps=0.3, delta=0.1, seed=0, construction="malach")
    ticket = sltheory.approximate(Ws, rand, eps=0.3)
    assert ticket.error_bound <= 0.3
    mA, mB = (m.numpy() for m in ticket.masks)
    assert (mB.sum(axis=1) <= 4).all()          # one path per (output, slot): 2 inputs × 2 signs
    kept = rand.linears()[0].weight.detach().numpy()[mA]
    assert (np.abs(kept) > 0.5).all()           # kept first-layer weights are close to ±1


def test_bad_inputs_typed():
    spec = sltheory.construction("malach")
    with pytest.raises(InvalidArgumentError, match="τ/2 ≤ 1"):
        spec.plan(((2, 2),), eps=1e3, delta=0.1)
    with pytest.raises(InvalidArgumentError, match="unknown options for malach"):
        spec.plan(((2, 2),), eps=0.3, delta=0.1, foo=1)


def test_unsupported_attribution_removed():
    own = ["sltheory/constructions/malach.py", "sltheory/constructions/malach_product.py", "proofs/malach.py",
           "proofs/malach_product.py", "docs/constructions/malach.md", "docs/constructions/malach_product.md"]
    for path in own:
        text = (ROOT / path).read_text()
        assert "d⁵" not in text and "d^5" not in text, path
