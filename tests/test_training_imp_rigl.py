"""IMP with rewinding, the error barrier / instability, and RigL, each against an independent
reference: the per-layer rounding schedule, the pruned weights the smallest, the rewind point a plain
Adam loop stopped at step t, the barrier a brute-force loop over α, RigL's counts from the cosine
schedule recomputed here, grown weights at 0, no absent weight in the result."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory import training
from sltheory.errors import InvalidArgumentError
from sltheory.search import random_mlp
from sltheory.training import base
from sltheory.training.imp import error_barrier, imp, instability, rewind_point
from sltheory.training.rigl import rigl, update_masks

# the modules themselves (the package's `imp` and `rigl` are the functions of the same names)
imp_mod = importlib.import_module("sltheory.training.imp")
rigl_mod = importlib.import_module("sltheory.training.rigl")

#: The weights' Adam learning rate in these tests (the defaults' 1e-2, written out: the references use it too).
LR = 1e-2


@pytest.fixture(scope="module")
def digits():
    d = sltheory.datasets.load_digits(seed=0)
    return (d.x_train[:256], d.y_train[:256]), (d.x_test[:128], d.y_test[:128])


@pytest.fixture(scope="module")
def rand():
    return random_mlp((64, 24, 16, 10), init="signed_constant", seed=3)


def _linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def _random_weights(rand):
    return [lin.weight.detach().clone() for lin in _linears(rand)]


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and bool(torch.equal(a.view(torch.int64 if a.dtype == torch.float64 else torch.int32),
                                                   b.view(torch.int64 if b.dtype == torch.float64 else torch.int32)))


def _plain_adam(rand, X, y, *, steps, epochs, seed, lr, batch_size):
    """An independent reference of the loop's dense run: float32 weights, Adam with a cosine-decayed
    learning rate over epochs · ⌈n/batch⌉ steps, batches from one seeded randperm per epoch; stopped
    after ``steps`` optimiser steps."""
    W = [w.float().clone().requires_grad_(True) for w in _random_weights(rand)]
    X, y = X.float(), y.long()
    n = X.shape[0]
    per_epoch = math.ceil(n / batch_size)
    total = epochs * per_epoch
    opt = torch.optim.Adam(W, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    gen = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        perm = torch.randperm(n, generator=gen)
        for s in range(per_epoch):
            idx = perm[s * batch_size:(s + 1) * batch_size]
            h = X[idx]
            for t, w in enumerate(W):
                h = h @ w.T
                if t < len(W) - 1:
                    h = torch.relu(h)
            loss = nn.functional.cross_entropy(h, y[idx])
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if done == steps:
                break
    return [w.detach() for w in W]


# ============================================================================ IMP
@pytest.fixture(scope="module")
def imp_rounds(rand, digits):
    return imp(rand, data=digits[0], test=digits[1], rounds=4, pruned_fraction=0.3, rewind=0, epochs=2, seed=1,
               lr=LR, batch_size=64)


def test_imp_density_follows_the_per_layer_rounding(rand, imp_rounds):
    p = 0.3
    sizes = [w.numel() for w in _random_weights(rand)]
    counts = list(sizes)
    assert len(imp_rounds) == 5
    for r, res in enumerate(imp_rounds):
        if r:
            counts = [c - int(round(p * c)) for c in counts]
        kept = [int(m.sum()) for m in res.masks]
        assert kept == counts == res.stats["layer_kept"]
        # |c_r − (1 − p)^r c_0| ≤ ½ Σ_{j<r} (1 − p)^j (each rounding is off by ≤ ½, then shrinks by 1 − p)
        slack = 0.5 * sum((1 - p) ** j for j in range(r))
        for c, c0 in zip(counts, sizes):
            assert abs(c - (1 - p) ** r * c0) <= slack + 1e-12
        assert res.stats["requested_density"] == pytest.approx((1 - p) ** r, abs=0)
        assert res.stats["round"] == r and res.stats["pruned_fraction"] == p and res.stats["rewind"] == 0
        assert res.density == sum(counts) / sum(sizes)
        assert res.method == "imp"


def test_imp_masks_nested_and_survivors_the_largest(imp_rounds):
    for prev, cur in zip(imp_rounds, imp_rounds[1:]):
        for lin, m_prev, m_cur in zip(_linears(prev.network), prev.masks, cur.masks):
            assert not bool((m_cur & ~m_prev).any())            # monotone: nothing comes back
            mag = lin.weight.detach().abs()
            pruned = m_prev & ~m_cur
            if pruned.any() and m_cur.any():
                assert float(mag[m_cur].min()) >= float(mag[pruned].max())
            # the same set by an independent stable sort (ties: lower flat index pruned first)
            flat = np.where(m_prev.numpy().ravel(), mag.numpy().ravel(), np.inf)
            k = int(m_prev.sum()) - int(m_cur.sum())
            expect = m_prev.numpy().ravel().copy()
            expect[np.argsort(flat, kind="stable")[:k]] = False
            assert np.array_equal(expect, m_cur.numpy().ravel())


def test_imp_result_has_no_absent_weight_and_changed_counts_against_random(rand, imp_rounds):
    rw = _random_weights(rand)
    for res in imp_rounds:
        count = 0
        for lin, m, ch, w0 in zip(_linears(res.network), res.masks, res.changed, rw):
            W = lin.weight.detach()
            assert bool((W[~m] == 0).all())
            assert torch.equal(ch, m & (W != w0))
            count += int(ch.sum())
        assert res.stats["changed_count"] == count


def test_imp_rewind_zero_retrains_from_the_random_values(rand, digits, imp_rounds):
    # the rewind point at t = 0 is the float32 random values, bit for bit
    start = rewind_point(rand, data=digits[0], rewind=0, epochs=2, seed=1, lr=LR, batch_size=64)
    for s, w0 in zip(start, _random_weights(rand)):
        assert _same_bits(s, w0.float())
    # round 2 is the loop run from the random values under round 2's mask (recomputed here)
    prob = base.prepare(rand, digits[0], digits[1])
    masks = list(imp_rounds[2].masks)
    values, _ = base.fit(prob, masks=masks, trainable=masks, epochs=2, lr=LR, batch_size=64,
                         generator=base.new_generator(1), init=[w.float() for w in _random_weights(rand)],
                         curves=False)
    ref = base.finish(prob, "imp", masks, masks, values, {})
    for a, b in zip(_linears(ref.network), _linears(imp_rounds[2].network)):
        assert _same_bits(a.weight.detach(), b.weight.detach())


def test_imp_rewind_t_is_the_dense_run_at_step_t(rand, digits):
    X, y = digits[0]
    t = 5                                                       # mid second epoch (4 steps per epoch)
    ref = _plain_adam(rand, X, y, steps=t, epochs=2, seed=1, lr=LR, batch_size=64)
    got = rewind_point(rand, data=digits[0], rewind=t, epochs=2, seed=1, lr=LR, batch_size=64)
    for a, b in zip(ref, got):
        assert _same_bits(a, b)
    # the full reference run is the dense round 0 (a check of the reference itself)
    rounds = imp(rand, data=digits[0], rounds=1, pruned_fraction=0.5, rewind=t, epochs=2, seed=1, lr=LR,
                 batch_size=64, curves=False)
    full = _plain_adam(rand, X, y, steps=8, epochs=2, seed=1, lr=LR, batch_size=64)
    for w, w0, lin in zip(full, _random_weights(rand), _linears(rounds[0].network)):
        # finish reports a weight training left at float32(random) as the float64 random value
        assert torch.equal(torch.where(w == w0.float(), w0, w.double()), lin.weight.detach())
    # round 1 resumes the run at step t from θ_t under its mask; every survivor has changed (θ_t already differs)
    prob = base.prepare(rand, digits[0])
    masks = list(rounds[1].masks)
    values, _ = base.fit(prob, masks=masks, trainable=masks, epochs=2, lr=LR, batch_size=64,
                         generator=base.new_generator(1), init=ref, curves=False, start_step=t)
    expect = base.finish(prob, "imp", masks, masks, values, {})
    for a, b in zip(_linears(expect.network), _linears(rounds[1].network)):
        assert _same_bits(a.weight.detach(), b.weight.detach())
    assert rounds[1].stats["rewind"] == t
    for ch, m, s, w0 in zip(rounds[1].changed, rounds[1].masks, ref, _random_weights(rand)):
        moved = m & (s != w0.float())                           # survivors already away from random at t
        assert bool(ch[moved].all())


def test_imp_ticket_is_the_registered_last_round(rand, digits):
    call = training.get("imp")
    assert call is imp_mod.imp_ticket
    res = call(rand, data=digits[0], rounds=2, pruned_fraction=0.5, epochs=1, seed=0, batch_size=64, curves=False)
    assert isinstance(res, base.Trained) and res.stats["round"] == 2
    assert [h["round"] for h in res.stats["history"]] == [0, 1, 2]
    assert res.stats["history"][-1]["density"] == res.density


# ============================================================================ error barrier, instability
def test_barrier_of_a_network_with_itself_is_zero(imp_rounds, digits):
    out = error_barrier(imp_rounds[0], imp_rounds[0].network, *digits[1], points=7)
    assert out["barrier"] == 0.0
    assert len(set(out["errors"])) == 1
    assert out["errors"][0] == 1 - imp_rounds[0].test_accuracy
    assert out["alphas"][0] == 0.0 and out["alphas"][-1] == 1.0 and len(out["alphas"]) == 7


def test_barrier_against_a_brute_force_loop(imp_rounds, digits):
    a = imp_rounds[0].network
    b = nn.Sequential(*[nn.Linear(m.in_features, m.out_features, bias=False, dtype=torch.float64)
                        if isinstance(m, nn.Linear) else nn.ReLU() for m in a])
    with torch.no_grad():
        for la, lb in zip(_linears(a), _linears(b)):
            lb.weight.copy_(-1.7 * la.weight + 0.05)            # scaled and shifted: no entry in common
    X, y = digits[1]
    out = error_barrier(a, b, X, y, points=6)
    errs = []
    for i in range(6):
        alpha = i / 5
        h = X.double()
        Ws = [(1 - alpha) * la.weight.detach() + alpha * lb.weight.detach() for la, lb in zip(_linears(a), _linears(b))]
        for t, W in enumerate(Ws):
            h = h @ W.T
            if t < len(Ws) - 1:
                h = torch.relu(h)
        errs.append(float((h.argmax(1) != y).double().mean()))
    assert out["errors"] == pytest.approx(errs, abs=1e-12)
    assert out["barrier"] == max(out["errors"]) - (out["errors"][0] + out["errors"][-1]) / 2
    assert out["barrier"] >= 0


def test_instability_same_seeds_is_zero_and_different_seeds_differ(rand, digits, imp_rounds):
    same = instability(rand, data=digits[0], test=digits[1], mask=imp_rounds[2], rewind=2, epochs=1, seeds=(4, 4),
                       points=5, batch_size=64)
    assert same["barrier"] == 0.0 and same["split"] == "test"
    assert same["density"] == imp_rounds[2].density
    na, nb = same["networks"]
    for la, lb in zip(_linears(na.network), _linears(nb.network)):
        assert _same_bits(la.weight.detach(), lb.weight.detach())
    diff = instability(rand, data=digits[0], mask=None, rewind=0, epochs=1, seeds=(4, 5), points=3, batch_size=64)
    assert diff["split"] == "train" and diff["density"] == 1.0
    la, lb = _linears(diff["networks"][0].network)[0], _linears(diff["networks"][1].network)[0]
    assert not torch.equal(la.weight, lb.weight)
    assert diff["accuracies"] == [n.train_accuracy for n in diff["networks"]]
    assert diff["barrier"] == max(diff["errors"]) - (diff["errors"][0] + diff["errors"][-1]) / 2


# ============================================================================ RigL
def test_update_masks_drops_smallest_and_grows_largest_gradient_from_zero():
    P = torch.tensor([[0.5, -0.1, 0.0, 0.3], [0.2, 0.0, -0.9, 0.05]], requires_grad=True)
    M = torch.tensor([[True, True, False, True], [True, False, True, True]])
    G = torch.tensor([[0.0, 0.7, 0.4, 0.0], [0.0, 0.9, 0.1, 0.8]])
    opt = torch.optim.Adam([P], lr=0.1)
    P.grad = torch.ones_like(P)
    opt.step()                                                  # creates Adam's moments
    with torch.no_grad():
        P.copy_(torch.tensor([[0.5, -0.1, 0.6, 0.3], [0.2, 0.7, -0.9, 0.05]]))
    before = P.detach().clone()
    counts = update_masks([P], [M], [G], zeta=0.34, optimizer=opt)       # ⌊0.34 · 6⌋ = 2
    # dropped: the two smallest |θ| among active: (1,3) 0.05 and (0,1) 0.1; grown: largest |g| among
    # the rest — (1,1) 0.9 (new), then (1,3) 0.8 (just dropped, eligible; keeps its value)
    assert counts == {"dropped": [2], "grown": [2], "regrown": [1]}
    assert M.tolist() == [[True, False, False, True], [True, True, True, True]]
    Pd = P.detach()
    assert float(Pd[1, 1]) == 0.0 and float(Pd[1, 3]) == float(before[1, 3])
    st = opt.state[P]
    assert float(st["exp_avg"][1, 1]) == 0 and float(st["exp_avg_sq"][1, 1]) == 0
    assert float(st["exp_avg"][0, 0]) != 0 and float(st["exp_avg"][1, 3]) != 0
    keep = torch.ones_like(M)
    keep[1, 1] = False
    assert torch.equal(P.detach()[keep], before[keep])


def test_dense_gradient_matches_autograd_on_a_dense_copy(rand, digits):
    prob = base.prepare(rand, digits[0])
    gen = torch.Generator().manual_seed(0)
    masks = [torch.rand(a.shape, generator=gen) < 0.4 for a in prob.A]
    params = [a.float() * 1.1 for a in prob.A]
    batch = (prob.X[:32], prob.y[:32])
    got = rigl_mod.dense_gradient(prob, params, masks, batch)
    W = [(p * m).clone().requires_grad_(True) for p, m in zip(params, masks)]
    h = batch[0]
    for t, w in enumerate(W):
        h = nn.functional.linear(h, w)
        if t < len(W) - 1:
            h = torch.relu(h)
    nn.functional.cross_entropy(h, batch[1]).backward()
    for g, w, m in zip(got, W, masks):
        assert torch.allclose(g, w.grad, rtol=1e-5, atol=1e-8)
        assert bool((g[~m] != 0).any())                          # absent entries get a gradient too


@pytest.fixture(scope="module")
def rigl_run(rand, digits):
    log = []
    orig = rigl_mod.update_masks

    def spy(params, masks, grads, zeta, optimizer=None):
        before = [m.clone() for m in masks]
        counts = orig(params, masks, grads, zeta, optimizer)
        log.append({"zeta": zeta, "before": before, "after": [m.clone() for m in masks],
                    "params": [p.detach().clone() for p in params], **counts})
        return counts

    rigl_mod.update_masks = spy
    try:
        res = rigl(rand, data=digits[0], test=digits[1], density=0.3, epochs=4, seed=2, batch_size=64,
                   drop_fraction=0.4, update_every=3, end_fraction=0.6, lr=1e-2)
    finally:
        rigl_mod.update_masks = orig
    return res, log


def test_rigl_schedule_counts_and_constant_density(rand, rigl_run):
    res, log = rigl_run
    total = 4 * math.ceil(256 / 64)                              # 16 steps
    end = 0.6 * total
    steps = [s for s in range(1, total + 1) if s % 3 == 0 and s < end]
    assert [u["step"] for u in res.stats["updates"]] == steps == [3, 6, 9]
    assert res.stats["end_step"] == end
    sizes = [w.numel() for w in _random_weights(rand)]
    active = [max(1, round(0.3 * n)) for n in sizes]
    for s, u, rec in zip(steps, res.stats["updates"], log):
        zeta = 0.4 / 2 * (1 + math.cos(math.pi * s / end))
        assert u["zeta"] == pytest.approx(zeta, rel=1e-15)
        assert u["dropped"] == u["grown"] == [int(zeta * a) for a in active]
        assert [int(m.sum()) for m in rec["before"]] == [int(m.sum()) for m in rec["after"]] == active
        for b, a, p, g, rg in zip(rec["before"], rec["after"], rec["params"], u["grown"], u["regrown"]):
            new = a & ~b                                         # grown, not active before: start at 0
            assert int(new.sum()) == g - rg and bool((p[new] == 0).all())
    assert [int(m.sum()) for m in res.masks] == active
    assert res.density == sum(active) / sum(sizes)
    assert sum(u["dropped"][0] for u in res.stats["updates"]) > 0


def test_rigl_no_absent_weight_leaks(rand, rigl_run):
    res, log = rigl_run
    assert all(torch.equal(m, a) for m, a in zip(res.masks, log[-1]["after"]))   # no change after the last update
    count = 0
    for lin, m, ch, w0 in zip(_linears(res.network), res.masks, res.changed, _random_weights(rand)):
        W = lin.weight.detach()
        assert bool((W[~m] == 0).all())
        assert torch.equal(ch, m & (W != w0))
        count += int(ch.sum())
    assert res.stats["changed_count"] == count and res.stats["kept"] == sum(int(m.sum()) for m in res.masks)
    # a weight dropped for good is absent, not changed: the changed set lies in the final mask
    gone = [b & ~m for b, m in zip(log[0]["before"], res.masks)]
    assert any(bool(g.any()) for g in gone)
    assert all(not bool((c & g).any()) for c, g in zip(res.changed, gone))


def test_rigl_deterministic_per_seed(rand, digits):
    kw = dict(data=digits[0], density=0.2, epochs=2, batch_size=64, update_every=2, curves=False)
    a, b, c = rigl(rand, seed=7, **kw), rigl(rand, seed=7, **kw), rigl(rand, seed=8, **kw)
    for la, lb in zip(_linears(a.network), _linears(b.network)):
        assert _same_bits(la.weight.detach(), lb.weight.detach())
    assert a.stats["updates"] == b.stats["updates"]
    assert any(not torch.equal(ma, mc) for ma, mc in zip(a.masks, c.masks))


# ============================================================================ typed errors, before any work
@pytest.mark.parametrize("kw", [
    {"rounds": -1}, {"rounds": 1.5}, {"pruned_fraction": 0}, {"pruned_fraction": 1}, {"pruned_fraction": True},
    {"rewind": -1}, {"rewind": 10_000}, {"epochs": 0}, {"lr": 0}, {"curves": "yes"}, {"seed": -1},
])
def test_imp_typed_errors_before_work(rand, digits, monkeypatch, kw):
    monkeypatch.setattr(imp_mod, "fit", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(InvalidArgumentError):
        imp(rand, data=digits[0], **{"epochs": 1, "batch_size": 64, **kw})


@pytest.mark.parametrize("kw", [
    {"seeds": (1,)}, {"seeds": "ab"}, {"seeds": (1, -2)}, {"points": 1}, {"rewind": 10_000},
    {"mask": [torch.ones(3, 3, dtype=torch.bool)]}, {"mask": "dense"},
])
def test_instability_typed_errors_before_work(rand, digits, monkeypatch, kw):
    monkeypatch.setattr(imp_mod, "fit", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(InvalidArgumentError):
        instability(rand, data=digits[0], **{"epochs": 1, "batch_size": 64, **kw})


def test_error_barrier_typed_errors(imp_rounds, digits):
    X, y = digits[1]
    other = random_mlp((64, 8, 10), seed=0)
    with pytest.raises(InvalidArgumentError):
        error_barrier(imp_rounds[0], other, X, y)
    with pytest.raises(InvalidArgumentError):
        error_barrier(imp_rounds[0], imp_rounds[1], X, y, points=1)
    with pytest.raises(InvalidArgumentError):
        error_barrier(imp_rounds[0], imp_rounds[1], X, y.double())
    with pytest.raises(InvalidArgumentError):
        error_barrier(imp_rounds[0], imp_rounds[1], X[:, :10], y)
    with pytest.raises(InvalidArgumentError):
        error_barrier("net", imp_rounds[1], X, y)


@pytest.mark.parametrize("kw", [
    {"density": 0}, {"density": 1.5}, {"drop_fraction": 0}, {"drop_fraction": 2}, {"update_every": 0},
    {"end_fraction": 0}, {"end_fraction": 1.1}, {"batch_size": 0}, {"curves": 1},
])
def test_rigl_typed_errors_before_work(rand, digits, monkeypatch, kw):
    monkeypatch.setattr(rigl_mod, "fit", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(InvalidArgumentError):
        rigl(rand, data=digits[0], **{"epochs": 1, "batch_size": 64, **kw})


def test_registry_lists_both(rand):
    names = training.methods()
    assert "imp" in names and "rigl" in names
    assert training.get("rigl") is rigl


def test_instability_refuses_a_mask_from_a_network_with_other_biases(rand, digits):
    """A Trained of a bias-free network would silently prune every bias of a network with biases."""
    biased = random_mlp((64, 24, 16, 10), init="signed_constant", seed=3, biases=True)
    plain = training.dense(rand, data=digits[0], epochs=1, seed=0, curves=False)
    with pytest.raises(InvalidArgumentError, match="biases"):
        instability(biased, data=digits[0], mask=plain, epochs=1)


def test_imp_weight_density_follows_the_schedule_with_biases(digits):
    biased = random_mlp((64, 24, 16, 10), init="signed_constant", seed=3, biases=True)
    rounds = imp(biased, data=digits[0], rounds=2, pruned_fraction=0.5, epochs=1, seed=0, curves=False)
    for r in rounds:
        weights = sum(m.numel() for m in r.masks)
        assert r.stats["weight_density"] == sum(int(m.sum()) for m in r.masks) / weights
        assert abs(r.stats["weight_density"] - r.stats["requested_density"]) < 2 / min(m.numel() for m in r.masks)
        assert r.density > r.stats["weight_density"] or r.stats["round"] == 0   # biases are never pruned
