"""The weight-training baselines' shared loop and the dense / random-mask / mask-only / sparse
fine-tuning methods, each against an independent reference: masks of the right density, frozen
weights bit-identical, gradients only where trainable, the exact Fisher against per-sample autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory import training
from sltheory.errors import InvalidArgumentError, RandomNetworkError
from sltheory.search import random_mlp
from sltheory.training import base
from sltheory.training.random_mask import uniform_random_masks
from sltheory.training.sparse_finetune import importance, top_entries


@pytest.fixture(scope="module")
def digits():
    d = sltheory.datasets.load_digits(seed=0)
    return (d.x_train[:400], d.y_train[:400]), (d.x_test[:200], d.y_test[:200])


@pytest.fixture(scope="module")
def rand():
    return random_mlp((64, 32, 32, 10), init="signed_constant", seed=3)


def _linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def _snapshot(net):
    return [(lin.weight.detach().clone(), None if lin.bias is None else lin.bias.detach().clone())
            for lin in _linears(net)]


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.equal(a.view(torch.int64), b.view(torch.int64)))


# ----------------------------------------------------------------------------- dense, the result
def test_dense_changes_every_weight_and_never_the_random_network(rand, digits):
    before = _snapshot(rand)
    res = training.dense(rand, data=digits[0], test=digits[1], epochs=3, seed=0)
    for (w0, _), (w1, _) in zip(before, _snapshot(rand)):
        assert _same_bits(w0, w1)
    assert res.density == 1.0
    assert res.stats["weights"] == sum(w.numel() for w, _ in before)
    # every weight was trainable; those into units no sample activates get no gradient and keep their value
    assert res.changed_fraction > 0.5
    # the reported accuracy is the returned float64 network's, recomputed here
    X, y = digits[1]
    acc = float((res.network(X.double()).argmax(1) == y).double().mean())
    assert res.test_accuracy == pytest.approx(acc, abs=0)
    assert len(res.stats["curves"]) == 3 and res.stats["curves"][-1]["epoch"] == 3
    assert res.stats["curves"][-1]["loss"] < res.stats["curves"][0]["loss"]


def test_changed_counts_against_the_random_values(rand, digits):
    res = training.dense(rand, data=digits[0], epochs=1, seed=0)
    count = 0
    for lin, w0, m, ch in zip(_linears(res.network), _snapshot(rand), res.masks, res.changed):
        W, R = lin.weight.detach(), w0[0]
        assert torch.equal(ch, m & (W != R))
        count += int((W != R).sum())
    assert res.stats["changed_count"] == count
    assert res.test_accuracy is None


def test_determinism_bit_for_bit(rand, digits):
    a = training.random_mask(rand, data=digits[0], density=0.3, epochs=2, seed=5)
    b = training.random_mask(rand, data=digits[0], density=0.3, epochs=2, seed=5)
    c = training.random_mask(rand, data=digits[0], density=0.3, epochs=2, seed=6)
    for la, lb in zip(_linears(a.network), _linears(b.network)):
        assert _same_bits(la.weight.detach(), lb.weight.detach())
    assert any(not torch.equal(ma, mc) for ma, mc in zip(a.masks, c.masks))


# ----------------------------------------------------------------------------- the loop
def test_fit_sends_gradient_only_to_trainable_present_entries(rand, digits):
    prob = base.prepare(rand, digits[0])
    gen = base.new_generator(0)
    masks = uniform_random_masks(prob.shapes(), 0.5, gen)
    trainable = uniform_random_masks(prob.shapes(), 0.5, gen)
    seen = []

    def on_step(state):
        seen.append([p.grad.clone() for p in state.params])

    values, _ = base.fit(prob, masks=masks, trainable=trainable, epochs=1, lr=1e-2, batch_size=100,
                         generator=base.new_generator(1), on_step=on_step, curves=False)
    assert len(seen) == 4
    for grads in seen:
        for g, m, t in zip(grads, masks, trainable):
            assert not bool(g[~(m & t)].any())
            assert bool(g[m & t].any())
    # parameters outside trainable ∧ mask never moved from their float32 random value
    for v, a, m, t in zip(values, prob.A, masks, trainable):
        assert torch.equal(v[~(m & t)], a.float()[~(m & t)])


def test_fit_matches_an_independent_adam_loop(digits):
    """One epoch of the shared loop = torch Adam on the masked network written out here."""
    rand = random_mlp((64, 8, 10), init="kaiming_normal", seed=1)
    prob = base.prepare(rand, digits[0])
    gen = base.new_generator(2)
    masks = uniform_random_masks(prob.shapes(), 0.6, gen)
    trainable = [torch.ones_like(m) for m in masks]
    values, _ = base.fit(prob, masks=masks, trainable=trainable, epochs=1, lr=1e-2, batch_size=64,
                         generator=base.new_generator(9), curves=False)
    # reference
    g = base.new_generator(9)
    P = [a.float().clone().requires_grad_(True) for a in prob.A]
    n = prob.X.shape[0]
    steps = math.ceil(n / 64)
    opt = torch.optim.Adam(P, lr=1e-2)
    perm = torch.randperm(n, generator=g)
    for s in range(steps):
        for group in opt.param_groups:
            group["lr"] = 1e-2 * 0.5 * (1 + math.cos(math.pi * s / steps))
        idx = perm[s * 64:(s + 1) * 64]
        h = torch.relu(prob.X[idx] @ (P[0] * masks[0]).T) @ (P[1] * masks[1]).T
        loss = nn.functional.cross_entropy(h, prob.y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for v, p, m in zip(values, P, masks):
        assert torch.allclose(v[m], p.detach()[m], atol=1e-6, rtol=0)


def test_start_step_resumes_the_runs_schedule_and_data_order(rand, digits):
    """fit(start_step=t) sees the full run's batches from step t + 1 on, at the full run's learning rates."""
    prob = base.prepare(rand, digits[0])
    masks = base.all_true(prob)

    def record(log):
        def on_step(state):
            log.append((state.step, state.batch[1].clone(), state.optimizer.param_groups[0]["lr"]))
        return on_step

    full: list = []
    base.fit(prob, masks=masks, trainable=masks, epochs=3, lr=1e-2, batch_size=128, generator=base.new_generator(4),
             on_step=record(full), curves=False)
    total = len(full)
    assert total == 3 * math.ceil(400 / 128)
    for t in (0, 5, total):
        part: list = []
        _, curves = base.fit(prob, masks=masks, trainable=masks, epochs=3, lr=1e-2, batch_size=128,
                             generator=base.new_generator(4), on_step=record(part), start_step=t)
        assert [p[0] for p in part] == list(range(t + 1, total + 1))
        for (s1, y1, _), (s2, y2, _) in zip(full[t:], part):
            assert s1 == s2 and torch.equal(y1, y2)
        # the learning rate in force after step s is the cosine at s / total
        for s, _, lr in part:
            assert lr == pytest.approx(1e-2 * 0.5 * (1 + math.cos(math.pi * s / total)), rel=1e-12, abs=1e-15)
        assert len(curves) == 3 - t // math.ceil(400 / 128)
    with pytest.raises(InvalidArgumentError):
        base.fit(prob, masks=masks, trainable=masks, epochs=1, lr=1e-2, batch_size=128,
                 generator=base.new_generator(0), start_step=10**6)


# ----------------------------------------------------------------------------- random mask
@pytest.mark.parametrize("density", [0.001, 0.05, 0.5, 1.0])
def test_random_mask_density_per_layer(rand, digits, density):
    res = training.random_mask(rand, data=digits[0], density=density, epochs=1, seed=0, curves=False)
    for m in res.masks:
        assert int(m.sum()) == max(1, round(density * m.numel()))
    assert res.density == pytest.approx(sum(int(m.sum()) for m in res.masks) / res.stats["weights"])
    # only present weights can change; the changed fraction is at most the density
    assert all(not bool((c & ~m).any()) for c, m in zip(res.changed, res.masks))
    assert res.changed_fraction <= res.density
    # absent weights are 0 in the network
    for lin, m in zip(_linears(res.network), res.masks):
        assert not bool(lin.weight.detach()[~m].any())


def test_uniform_random_masks_are_uniform():
    """Each of 20 positions kept with probability 5/20: frequencies within 5σ over 4,000 draws."""
    g = base.new_generator(0)
    counts = torch.zeros(4, 5)
    draws = 4000
    for _ in range(draws):
        counts += uniform_random_masks([(4, 5)], 0.25, g)[0].double()
    p = 0.25
    sigma = math.sqrt(draws * p * (1 - p))
    assert float((counts - draws * p).abs().max()) < 5 * sigma


# ----------------------------------------------------------------------------- mask only
def test_mask_only_is_edge_popups_ticket_and_changes_nothing(rand, digits):
    res = training.mask_only(rand, data=digits[0], test=digits[1], keep=0.3, epochs=2, seed=4)
    ticket = sltheory.search.edge_popup(rand, data=digits[0], test=digits[1], keep=0.3, epochs=2, seed=4,
                                        layout="free")
    assert res.changed_fraction == 0
    for m, tm in zip(res.masks, ticket.masks):
        assert torch.equal(m, tm)
        assert int(m.sum()) == round(0.3 * m.numel())
    masked = sltheory.network.masked_copy(rand, list(res.masks))
    for lin, ref in zip(_linears(res.network), _linears(masked)):
        assert _same_bits(lin.weight.detach(), ref.weight.detach())
    X, y = digits[1]
    assert res.test_accuracy == float((masked(X.double()).argmax(1) == y).double().mean())


def test_biases_are_an_augmented_column(digits):
    rand = random_mlp((64, 16, 10), seed=2, biases=True)
    res = training.sparse_finetune(rand, data=digits[0], keep=0.5, budget=0.05, epochs=1, mask_epochs=1, seed=0)
    assert res.bias_masks is not None and len(res.bias_masks) == 2
    kept = sum(int(m.sum()) for m in res.masks) + sum(int(b.sum()) for b in res.bias_masks)
    assert res.stats["weights"] == 64 * 16 + 16 + 16 * 10 + 10
    assert res.stats["kept"] == kept
    for lin, r, bm, bc in zip(_linears(res.network), _linears(rand), res.bias_masks, res.bias_changed):
        b, b0 = lin.bias.detach(), r.bias.detach()
        assert torch.equal(bc, bm & (b != b0))
        assert _same_bits(b[bm & ~bc], b0[bm & ~bc])
        assert not bool(b[~bm].any())


# ----------------------------------------------------------------------------- sparse fine-tuning
@pytest.mark.parametrize("budget", [0.001, 0.01, 0.2])
def test_sparse_finetune_frozen_weights_are_bit_identical(rand, digits, budget):
    res = training.sparse_finetune(rand, data=digits[0], test=digits[1], keep=0.5, budget=budget, epochs=2,
                                   mask_epochs=2, seed=1)
    total = res.stats["weights"]
    count = max(1, round(budget * total))
    assert res.stats["budget_count"] == count
    assert res.stats["changed_count"] <= count
    assert res.stats["changed_count"] >= 0.9 * count      # a chosen weight stays only if its update rounds away
    for lin, r, m, c in zip(_linears(res.network), _linears(rand), res.masks, res.changed):
        W, W0 = lin.weight.detach(), r.weight.detach()
        assert _same_bits(W[m & ~c], W0[m & ~c])          # every present, unchanged weight: the random bits
        assert not bool(W[~m].any())
    # the structure is the mask-only model's: stage 2 changes no mask
    mask = training.mask_only(rand, data=digits[0], test=digits[1], keep=0.5, epochs=2, seed=1)
    for a, b in zip(res.masks, mask.masks):
        assert torch.equal(a, b)
    assert res.stats["mask_test_accuracy"] == mask.test_accuracy


def test_sparse_finetune_budget_zero_is_mask_only(rand, digits):
    res = training.sparse_finetune(rand, data=digits[0], keep=0.5, budget=0, mask_epochs=2, seed=1)
    mask = training.mask_only(rand, data=digits[0], keep=0.5, epochs=2, seed=1)
    assert res.changed_fraction == 0 and res.stats["budget_count"] == 0
    for a, b in zip(_linears(res.network), _linears(mask.network)):
        assert _same_bits(a.weight.detach(), b.weight.detach())


def test_sparse_finetune_reuses_a_given_mask_bit_for_bit(rand, digits):
    mask = training.mask_only(rand, data=digits[0], test=digits[1], keep=0.4, epochs=2, seed=2, lr=0.02)
    for budget in (0, 0.01):
        a = training.sparse_finetune(rand, data=digits[0], test=digits[1], keep=0.4, budget=budget, mask_epochs=2,
                                     mask_lr=0.02, epochs=2, seed=2)
        b = training.sparse_finetune(rand, data=digits[0], test=digits[1], budget=budget, epochs=2, seed=2, mask=mask)
        assert b.stats["mask_given"] and not a.stats["mask_given"]
        for la, lb in zip(_linears(a.network), _linears(b.network)):
            assert _same_bits(la.weight.detach(), lb.weight.detach())
        assert a.stats["mask_test_accuracy"] == b.stats["mask_test_accuracy"] == mask.test_accuracy
        assert b.stats["train_seconds"] >= mask.stats["train_seconds"]        # both stages, as without mask=
    dense = training.dense(rand, data=digits[0], epochs=1)
    other = random_mlp((64, 32, 32, 10), init="signed_constant", seed=4)
    wider = random_mlp((64, 33, 32, 10), init="signed_constant", seed=3)
    kaiming = random_mlp((64, 32, 32, 10), init="kaiming_normal", seed=3)       # same seed, another law
    for net, bad in ((rand, dense), (other, mask), (wider, mask), (kaiming, mask), (rand, mask.masks)):
        with pytest.raises(InvalidArgumentError):
            training.sparse_finetune(net, data=digits[0], epochs=1, mask=bad)


def test_sparse_finetune_chooses_the_most_important_present_weights(rand, digits):
    """The chosen set is the top of the Fisher importance at the mask-only model (recomputed)."""
    res = training.sparse_finetune(rand, data=digits[0], keep=0.5, budget=0.01, epochs=1, mask_epochs=2, seed=1)
    prob = base.prepare(rand, digits[0])
    masks = [m.clone() for m in res.masks]
    scores = importance(prob, masks, "fisher")
    chosen = top_entries(scores, masks, res.stats["budget_count"])
    for c, ch in zip(chosen, res.changed):
        assert not bool((ch & ~c).any())          # only chosen weights changed


def _per_sample_reference(prob, masks, rule):
    """Σ_i (∂ℓ_i/∂w)² (fisher) or |Σ_i ∂ℓ_i/∂w| / n (gradient) by one autograd call per sample."""
    E = [torch.where(m, a, torch.zeros_like(a)).clone().requires_grad_(True) for a, m in zip(prob.A, masks)]
    acc = [torch.zeros_like(a) for a in prob.A]
    for i in range(prob.X64.shape[0]):
        out = base.forward(E, prob.has_bias, prob.X64[i:i + 1], prob.output_scale)
        loss = nn.functional.cross_entropy(out, prob.y[i:i + 1])
        grads = torch.autograd.grad(loss, E)
        for a, g in zip(acc, grads):
            a += g * g if rule == "fisher" else g
    n = prob.X64.shape[0]
    return [torch.where(m, a if rule == "fisher" else a.abs() / n, torch.full_like(a, -1.0))
            for a, m in zip(acc, masks)]


@pytest.mark.parametrize("rule", ["fisher", "gradient"])
@pytest.mark.parametrize("biases", [False, True])
def test_importance_matches_per_sample_autograd(digits, rule, biases):
    rand = random_mlp((64, 7, 5, 10), init="kaiming_normal", seed=8, biases=biases)
    X, y = digits[0]
    prob = base.prepare(rand, (X[:60], y[:60]))
    masks = uniform_random_masks(prob.shapes(), 0.7, base.new_generator(3))
    fast = importance(prob, masks, rule)
    ref = _per_sample_reference(prob, masks, rule)
    for f, r in zip(fast, ref):
        assert torch.allclose(f, r, rtol=1e-10, atol=1e-14)


def test_top_entries_against_argsort():
    g = torch.Generator().manual_seed(0)
    scores = [torch.rand(3, 4, generator=g, dtype=torch.float64), torch.rand(2, 3, generator=g, dtype=torch.float64)]
    masks = [torch.rand(3, 4, generator=g) < 0.6, torch.rand(2, 3, generator=g) < 0.6]
    flat = np.concatenate([s.numpy().ravel() for s in scores])
    present = np.concatenate([m.numpy().ravel() for m in masks])
    for k in (0, 1, 3, int(present.sum()), 100):
        got = np.concatenate([c.numpy().ravel() for c in top_entries(scores, masks, k)])
        order = [i for i in np.argsort(-flat, kind="stable") if present[i]][:k]
        want = np.zeros_like(present)
        want[order] = True
        assert np.array_equal(got, want)


# ----------------------------------------------------------------------------- registry and errors
def test_registry_lists_the_methods():
    names = training.methods()
    for name in ("dense", "mask_only", "random_mask", "sparse_finetune"):
        assert name in names and names[name]
        assert callable(training.get(name))
    with pytest.raises(InvalidArgumentError):
        training.get("nope")


@pytest.mark.parametrize("call,kwargs", [
    ("random_mask", {"density": 0}),
    ("random_mask", {"density": 1.5}),
    ("random_mask", {"density": float("nan")}),
    ("sparse_finetune", {"budget": -0.1}),
    ("sparse_finetune", {"rule": "magnitude"}),
    ("sparse_finetune", {"keep": 0}),
    ("mask_only", {"keep": True}),
    ("dense", {"lr": 0}),
    ("dense", {"lr": float("inf")}),
    ("dense", {"epochs": 0}),
    ("dense", {"batch_size": 0}),
    ("dense", {"seed": -1}),
])
def test_bad_arguments_are_typed(rand, digits, call, kwargs):
    with pytest.raises(InvalidArgumentError):
        training.get(call)(rand, data=digits[0], **kwargs)


def test_numbers_beyond_float_range_are_typed(rand, digits):
    from fractions import Fraction

    for kw in ({"lr": 10**400}, {"density": 10**400}, {"density": Fraction(1, 10**400)}):
        with pytest.raises(InvalidArgumentError):
            training.random_mask(rand, data=digits[0], **kw)
    with pytest.raises(InvalidArgumentError):            # a nonzero budget that rounds to 0.0 is not "0"
        training.sparse_finetune(rand, data=digits[0], budget=Fraction(1, 10**400))
    X, y = digits[0]
    with pytest.raises(InvalidArgumentError, match="float32"):
        training.dense(rand, data=(X * 1e300, y))        # finite in float64, not in float32 (training's dtype)
    with pytest.raises(sltheory.TrainingDivergedError):
        training.dense(rand, data=(torch.full_like(X, 3e37), y), epochs=1)
    with pytest.raises(InvalidArgumentError):
        training.dense(rand, data=digits[0], curves="no")


def test_accuracy_checks_its_arguments(rand, digits):
    res = training.dense(rand, data=digits[0], test=digits[1], epochs=1, seed=0)
    assert training.accuracy(res, *digits[1]) == res.test_accuracy
    assert training.accuracy(res.network, *digits[1]) == res.test_accuracy
    X, y = digits[1]
    for bad in ((nn.ModuleList(), X, y), (res, X[:, :3], y), (res, X, y + 10), (res, X[:0], y[:0])):
        with pytest.raises(InvalidArgumentError):
            training.accuracy(*bad)


def test_bad_data_and_networks_are_typed(rand, digits):
    X, y = digits[0]
    with pytest.raises(InvalidArgumentError):
        training.dense(rand, data=X)                                   # no labels
    with pytest.raises(InvalidArgumentError):
        training.dense(rand, data=(X[:, :10], y))                      # wrong width
    with pytest.raises(InvalidArgumentError):
        training.dense(rand, data=(X, y + 10))                         # labels out of range
    with pytest.raises(InvalidArgumentError):
        training.dense(rand, data=(X, torch.rand(len(y), 10)))         # float targets
    with pytest.raises(InvalidArgumentError):
        training.dense(rand, data=(X, y), test=(X, y.double()))        # float test labels
    with pytest.raises(RandomNetworkError):
        training.dense(nn.Sequential(nn.Linear(64, 10)), data=(X, y))
    target = nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 2, bias=False))
    slots = sltheory.random_network(target, eps=0.5, seed=0, construction="orseau")   # slot-structured layers
    with pytest.raises(RandomNetworkError, match="slot"):
        training.dense(slots, data=(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long)))
