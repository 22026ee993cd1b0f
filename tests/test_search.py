"""Mask search (sltheory.search): each piece against an independent reference.

* the top-k mask against a sort-based reference (and the one-per-unit rule against a loop);
* the straight-through gradient against the paper's formula: the dense gradient of the masked
  network's weights, times the random weights;
* supermask sampling frequencies against their probabilities (binomial bounds);
* biprop's gain and binarised weights against a hand computation;
* the ticket's network against the masked random network; weights never change; determinism;
* certified bounds against an adversarial lower bound; typed errors for bad input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory.errors import DomainError, InvalidArgumentError, RandomNetworkError
from sltheory.network import masked_copy
from sltheory.search import biprop, edge_popup, random_mlp, supermask
from sltheory.search.base import SearchLayer, StraightThrough, top_k_mask
from sltheory.search.edge_popup import METHOD as EP
from sltheory.search.supermask import METHOD as SM
from sltheory.search.supermask import sample_mask

METHODS = [edge_popup, supermask, biprop]


def _blobs(n=240, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, d))
    y = rng.integers(0, classes, size=n)
    X = centers[y] + 0.3 * rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True).max()
    return X, y


# --------------------------------------------------------------------------- top-k
@pytest.mark.parametrize("shape,k", [((7, 5), 1), ((7, 5), 12), ((7, 5), 35), ((1, 9), 4), ((30, 40), 600)])
def test_top_k_equals_sort_reference(shape, k):
    g = np.random.default_rng(k)
    s = torch.from_numpy(g.standard_normal(shape))
    mask = top_k_mask(s, k)
    order = np.argsort(-s.numpy().reshape(-1), kind="stable")[:k]
    ref = np.zeros(s.numel(), dtype=bool)
    ref[order] = True
    assert np.array_equal(mask.numpy().reshape(-1), ref)
    assert int(mask.sum()) == k


def test_top_k_with_ties_keeps_exactly_k():
    s = torch.tensor([[3.0, 1.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]], dtype=torch.float64)
    for k in range(1, 9):
        m = top_k_mask(s, k)
        assert int(m.sum()) == k
        kept, dropped = s[m], s[~m]
        assert dropped.numel() == 0 or float(kept.min()) >= float(dropped.max())


def test_top_k_respects_candidates_and_one_per_unit():
    g = np.random.default_rng(1)
    s = torch.from_numpy(g.standard_normal((12, 6)))
    cand = torch.from_numpy(g.random((12, 6)) < 0.6)
    cand[3] = False                       # a unit with no candidate
    m = top_k_mask(s, 20, cand)
    assert not bool((m & ~cand).any()) and int(m.sum()) == 20
    ref_vals = np.sort(np.where(cand.numpy(), s.numpy(), -np.inf).reshape(-1))[::-1][:20]
    assert np.allclose(np.sort(s.numpy()[m.numpy()])[::-1], ref_vals)
    # one per unit: each row's best candidate, the k best rows by it (a loop reference)
    k = 5
    m1 = top_k_mask(s, k, cand, one_per_unit=True)
    best = []
    for r in range(12):
        row = [(float(s[r, c]), c) for c in range(6) if cand[r, c]]
        if row:
            best.append((max(row)[0], r, max(row)[1]))
    best.sort(reverse=True)
    ref = np.zeros((12, 6), dtype=bool)
    for _, r, c in best[:k]:
        ref[r, c] = True
    assert np.array_equal(m1.numpy(), ref)
    assert (m1.sum(dim=1) <= 1).all()


# --------------------------------------------------------------------------- gradients
def test_straight_through_gradient_is_the_papers():
    """∂L/∂s_uv = ∂L/∂W̃_uv · w_uv (Ramanujan et al. Eq. 3), W̃ = W ⊙ m the masked weights, for kept
    and pruned weights alike: compared with autograd on W̃ as a leaf."""
    rand = random_mlp((5, 16, 3), init="kaiming_normal", seed=3)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(32, 5, generator=g, dtype=torch.float64)
    Y = torch.randn(32, 3, generator=g, dtype=torch.float64)
    Ws = [lin.weight.detach() for lin in rand.linears()]
    scores = [torch.randn(W.shape, generator=g, dtype=torch.float64, requires_grad=True) for W in Ws]
    ks = [40, 20]
    masks = [top_k_mask(s, k) for s, k in zip(scores, ks)]
    # through the straight-through estimator
    h = X
    for t, (W, s, m) in enumerate(zip(Ws, scores, masks)):
        h = h @ (W * StraightThrough.apply(s, m)).T
        if t == 0:
            h = torch.relu(h)
    ((h - Y) ** 2).sum(1).mean().backward()
    # the reference: the masked weights as leaves
    leaves = [(W * m).clone().requires_grad_(True) for W, m in zip(Ws, masks)]
    h = X
    for t, Wt in enumerate(leaves):
        h = h @ Wt.T
        if t == 0:
            h = torch.relu(h)
    ((h - Y) ** 2).sum(1).mean().backward()
    for s, W, leaf, m in zip(scores, Ws, leaves, masks):
        assert torch.allclose(s.grad, leaf.grad * W, rtol=1e-12, atol=1e-15)
        assert bool((s.grad[~m] != 0).any())      # pruned weights get a gradient too


def test_edge_popup_train_mask_is_top_k_with_identity_backward():
    lay = SearchLayer(torch.randn(6, 4, dtype=torch.float64), None, torch.ones(6, 4, dtype=torch.bool), False, k=9)
    s = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    m = EP.train_mask(s, lay, torch.Generator().manual_seed(0))
    assert torch.equal(m.bool(), top_k_mask(s, 9))
    up = torch.randn(6, 4, dtype=torch.float64)
    (m * up).sum().backward()
    assert torch.equal(s.grad, up)


def test_supermask_sampling_frequencies_match_probabilities():
    p = torch.tensor([0.0, 0.01, 0.2, 0.5, 0.77, 0.99, 1.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    N = 20000
    counts = sum(sample_mask(p, g) for _ in range(N))
    freq = counts / N
    sd = torch.sqrt(p * (1 - p) / N)
    assert bool((torch.abs(freq - p) <= 5 * sd + 1e-12).all()), (freq, p)
    assert freq[0] == 0 and freq[-1] == 1


def test_supermask_gradient_reaches_scores_through_sigmoid():
    lay = SearchLayer(torch.randn(5, 3, dtype=torch.float64), None, torch.ones(5, 3, dtype=torch.bool), False, k=7)
    s = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    m = SM.train_mask(s, lay, torch.Generator().manual_seed(1))
    assert set(m.detach().unique().tolist()) <= {0.0, 1.0}
    up = torch.randn(5, 3, dtype=torch.float64)
    (m * up).sum().backward()
    sig = torch.sigmoid(s.detach())
    assert torch.allclose(s.grad, up * sig * (1 - sig), rtol=1e-12)


# --------------------------------------------------------------------------- tickets
@pytest.fixture(scope="module")
def blobs():
    return _blobs()


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_ticket_is_the_masked_random_network(method, blobs):
    X, y = blobs
    rand = random_mlp((6, 64, 64, 3), init="signed_constant", seed=2, biases=True)
    before = [p.detach().clone() for p in rand.parameters()]
    t = method(rand, data=(X, y), keep=0.3, epochs=3, seed=0)
    for p, q in zip(before, rand.parameters()):
        assert torch.equal(p, q)                                   # the random weights never change
    assert t.error_bound == math.inf and t.certificate is None      # nothing to certify against
    # per layer: round(keep · candidates) kept (weights and biases)
    for lin, m, bm, k in zip(rand.linears(), t.masks, t.bias_masks, t.stats["layer_kept"]):
        cand = lin.weight.numel() + lin.bias.numel()
        assert int(m.sum()) + int(bm.sum()) == max(1, round(0.3 * cand))
    x = torch.from_numpy(X)
    if t.stats.get("binarised"):
        ref = nn.Sequential(*[type(mod)() if isinstance(mod, nn.ReLU) else mod for mod in masked_copy(
            rand, list(t.masks), list(t.bias_masks))])
        for lin, g in zip([mm for mm in ref if isinstance(mm, nn.Linear)], t.stats["gains"]):
            with torch.no_grad():
                lin.weight.copy_(torch.sign(lin.weight) * g)
                lin.bias.copy_(torch.sign(lin.bias) * g)
    else:
        ref = masked_copy(rand, list(t.masks), list(t.bias_masks))
    assert torch.allclose(t.network(x), ref(x), rtol=1e-12, atol=1e-12)


def test_biprop_gain_is_the_mean_kept_magnitude(blobs):
    X, y = blobs
    rand = random_mlp((6, 32, 3), init="kaiming_normal", seed=4, biases=True)
    t = biprop(rand, data=(X, y), keep=0.4, epochs=2, seed=1)
    for lin, m, bm, g in zip(rand.linears(), t.masks, t.bias_masks, t.stats["gains"]):
        kept = torch.cat([lin.weight.detach()[m], lin.bias.detach()[bm]])     # weights and biases: one gain
        assert g == pytest.approx(float(kept.abs().mean()), rel=1e-12)
    assert t.stats["binarised"] is True
    # the ticket's network holds gain · sign(w) on the kept weights and biases
    x = torch.from_numpy(X)
    h = x
    for i, (lin, m, bm, g) in enumerate(zip(rand.linears(), t.masks, t.bias_masks, t.stats["gains"])):
        h = h @ (g * torch.sign(lin.weight) * m).T + g * torch.sign(lin.bias) * bm
        h = torch.relu(h) if i == 0 else h
    assert torch.allclose(t.network(x), h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_deterministic_for_a_seed(method, blobs):
    X, y = blobs
    rand = random_mlp((6, 48, 3), seed=0)
    a = method(rand, data=(X, y), keep=0.5, epochs=2, seed=7)
    b = method(rand, data=(X, y), keep=0.5, epochs=2, seed=7)
    c = method(rand, data=(X, y), keep=0.5, epochs=2, seed=8)
    assert all(torch.equal(p, q) for p, q in zip(a.masks, b.masks))
    assert [r["loss"] for r in a.stats["curves"]] == [r["loss"] for r in b.stats["curves"]]
    assert not all(torch.equal(p, q) for p, q in zip(a.masks, c.masks))


def test_search_learns_a_classifier(blobs):
    X, y = blobs
    rand = random_mlp((6, 256, 3), init="signed_constant", seed=0)
    t = edge_popup(rand, data=(X, y), test=(X, y), keep=0.5, epochs=15, seed=0, lr=0.05)
    acc = float((t.network(torch.from_numpy(X)).argmax(1).numpy() == y).mean())
    assert acc > 0.9                           # chance is 1/3
    curves = t.stats["curves"]
    assert curves[-1]["loss"] < curves[0]["loss"]
    assert curves[-1]["test_accuracy"] == pytest.approx(acc)


def test_registry():
    names = sltheory.search.methods()
    assert {"edge_popup", "supermask", "biprop"} <= set(names)
    assert sltheory.search.get("edge_popup") is EP
    with pytest.raises(InvalidArgumentError, match="unknown search method"):
        sltheory.search.get("popup")


# --------------------------------------------------------------------------- random_mlp
def test_random_mlp_laws():
    rand = random_mlp((50, 400, 10), init="signed_constant", seed=0)
    w = rand.linears()[0].weight
    vals = w.abs().unique().tolist()
    assert len(vals) == 1 and vals[0] == pytest.approx(math.sqrt(2 / 50), rel=1e-15)
    assert abs(float((w > 0).double().mean()) - 0.5) < 0.02
    rand = random_mlp((50, 400, 10), init="kaiming_normal", seed=0)
    assert float(rand.linears()[0].weight.std()) == pytest.approx(math.sqrt(2 / 50), rel=0.02)
    rand = random_mlp((50, 400, 10), init="kaiming_uniform", seed=0, biases=True)
    b = math.sqrt(6 / 50)
    assert float(rand.linears()[0].weight.abs().max()) <= b and float(rand.linears()[0].bias.abs().max()) <= b
    again = random_mlp((50, 400, 10), init="kaiming_uniform", seed=0, biases=True)
    assert all(torch.equal(p, q) for p, q in zip(rand.parameters(), again.parameters()))


@pytest.mark.parametrize("kwargs,match", [
    (dict(dims=(3,)), "at least 2"), (dict(dims=(3, 0, 2)), "dims\\[1\\]"), (dict(dims="32"), "sequence"),
    (dict(dims=(3, 4), init="xavier"), "unknown init"), (dict(dims=(3, 4), seed=-1), "seed"),
    (dict(dims=(3, 4), biases=1), "biases"), (dict(dims=(3, 4), bias_law=("interval", 0, 1)), "biases=True"),
    (dict(dims=(10**6, 10**6, 2)), "would hold"), (dict(dims=(3, 4), device="nope"), "device"),
    (dict(dims=(3, 4), seed=2**70), "seed"),
])
def test_random_mlp_bad_input(kwargs, match):
    dims = kwargs.pop("dims")
    with pytest.raises(InvalidArgumentError, match=match):
        random_mlp(dims, **kwargs)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,error,match", [
    (dict(keep=0), InvalidArgumentError, "keep"), (dict(keep=1.5), InvalidArgumentError, "keep"),
    (dict(keep=True), InvalidArgumentError, "keep"), (dict(epochs=0), InvalidArgumentError, "epochs"),
    (dict(seed=-1), InvalidArgumentError, "seed"), (dict(lr=float("nan")), InvalidArgumentError, "lr"),
    (dict(layout="tight"), InvalidArgumentError, "layout"), (dict(batch_size=0), InvalidArgumentError, "batch_size"),
    (dict(time_budget=-1.0), InvalidArgumentError, "time_budget"),
    (dict(samples=0), InvalidArgumentError, "samples"),
])
def test_bad_arguments(kwargs, error, match, blobs):
    X, y = blobs
    rand = random_mlp((6, 8, 3), seed=0)
    with pytest.raises(error, match=match):
        edge_popup(rand, data=(X, y), **kwargs)


def test_bad_data(blobs):
    X, y = blobs
    rand = random_mlp((6, 8, 3), seed=0)
    with pytest.raises(InvalidArgumentError, match="target network .* or labelled data"):
        edge_popup(rand)
    with pytest.raises(InvalidArgumentError, match="features"):
        edge_popup(rand, data=(X[:, :5], y))
    with pytest.raises(InvalidArgumentError, match="labels must lie"):
        edge_popup(rand, data=(X, y + 5))
    with pytest.raises(InvalidArgumentError, match="non-finite"):
        edge_popup(rand, data=(np.full_like(X, np.nan), y))
    with pytest.raises(InvalidArgumentError, match="integer class labels"):
        edge_popup(rand, data=(X, y[:10]))
    with pytest.raises(InvalidArgumentError, match="pair"):
        edge_popup(rand, data=(X, y), test=X)
    with pytest.raises(RandomNetworkError, match="RandomNetwork"):
        edge_popup(nn.Sequential(nn.Linear(6, 3)), data=(X, y))
    with pytest.raises(InvalidArgumentError, match="real numbers"):
        edge_popup(rand, data=(X + 1j, y))
    with pytest.raises(InvalidArgumentError, match="array of numbers|real numbers"):
        edge_popup(rand, data=(X[:3], [[0], [1, 2], 0]))
    with pytest.raises(InvalidArgumentError, match="seed"):
        edge_popup(rand, data=(X, y), seed=2**70)
    target = nn.Sequential(nn.Linear(6, 4, dtype=torch.float64), nn.ReLU(), nn.Linear(4, 3, dtype=torch.float64))
    with pytest.raises(InvalidArgumentError, match="not both"):
        edge_popup(rand, target=target, data=(X, y))
    wrong = nn.Sequential(nn.Linear(5, 3, dtype=torch.float64))
    with pytest.raises(InvalidArgumentError, match="maps 5"):
        edge_popup(rand, target=wrong)
    with pytest.raises(DomainError, match="not inside"):
        edge_popup(rand, target=target, data=X * 10)


def test_construction_network_domain_is_fixed():
    target = [np.eye(3) * 0.5]
    rand = sltheory.random_network(target, n=4, seed=0)
    with pytest.raises(DomainError, match="sampled for the domain"):
        edge_popup(rand, target=target, domain=sltheory.Box(0, 1))


# --------------------------------------------------------------------------- with a target: certified
def _target(seed=0, dims=(3, 6, 2), bias=True):
    rng = np.random.default_rng(seed)
    layers = []
    for t in range(len(dims) - 1):
        W = rng.normal(size=(dims[t + 1], dims[t])) / math.sqrt(dims[t])
        layers.append((W, rng.normal(size=dims[t + 1]) * 0.3) if bias else W)
    return layers


def _module(layers):
    from sltheory.targets import as_target

    return as_target(layers, check_norms=False).to_module()


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("domain", [None, sltheory.Box(-0.5, 1.0)], ids=["ball", "box"])
def test_certified_bound_is_above_the_adversarial_error(method, domain):
    T = _target(1)
    rand = random_mlp((3, 24, 24, 2), init="kaiming_normal", seed=1, biases=True, domain=domain)
    t = method(rand, target=T, keep=0.4, epochs=3, seed=0, samples=512, time_budget=0.5)
    dom = rand.plan.input_domain()
    adv, _ = sltheory.adversarial_error(_module(T), t.network, 3, domain=dom, starts=512, steps=60, seed=3)
    assert math.isfinite(t.error_bound) and t.error_bound >= adv
    assert t.stats["certificate"] == "networks" and t.stats["bounds"]["construction"] is None
    assert t.stats["domain"] == dom.spec()
    # the held-out error is a lower bound too
    assert t.stats["curves"][-1]["val_max"] <= t.error_bound * (1 + 1e-6)


def test_construction_network_gets_the_constructions_certificate_too():
    T = [np.array([[0.5, -0.3], [0.2, 0.4]]), np.array([[0.6, -0.5]])]
    rand = sltheory.random_network(T, construction="subset_sum", n=8, seed=0)
    t = edge_popup(rand, target=T, keep=0.25, epochs=3, seed=0, samples=512, time_budget=0.5)
    first = [p[0] for p in rand.plan.pairs]
    assert t.stats["one_per_unit"] == tuple(i in first for i in range(4))
    for i in first:
        assert int(t.masks[i].sum(dim=1).max()) <= 1       # the construction's structure
    bounds = t.stats["bounds"]
    assert bounds["construction"] is not None and bounds["networks"] is not None
    assert t.error_bound == min(bounds.values())
    adv, _ = sltheory.adversarial_error(_module(T), t.network, 2, starts=512, seed=1)
    assert bounds["construction"] >= adv and bounds["networks"] >= adv
    # the construction's certificate of these masks, recomputed independently of the search
    import scipy.sparse as sp

    from sltheory.constructions.base import certify_ticket
    from sltheory.targets import as_target
    mats = [sp.csr_matrix(np.where(m.numpy(), lin.weight.numpy(), 0.0)) for m, lin in zip(t.masks, rand.linears())]
    cert = certify_ticket(sltheory.construction("subset_sum"), as_target(T), rand.plan, mats)
    assert cert.error_bound == pytest.approx(bounds["construction"], rel=1e-12)
    # layout="free" may break the structure: then only the generic bound
    free = edge_popup(rand, target=T, keep=0.25, epochs=2, seed=0, samples=256, layout="free", time_budget=0.3)
    assert free.stats["one_per_unit"] == (False,) * 4
    if int(free.masks[0].sum(dim=1).max()) > 1:
        assert free.stats["bounds"]["construction"] is None


def _planted_keep(P):
    return [(int(m.sum()) + (0 if b is None else int(b.sum()))) / (lin.weight.numel() + (0 if lin.bias is None
                                                                                          else lin.bias.numel()))
            for lin, m, b in zip(P.linears(), P.planted_masks, P.planted_bias_masks or [None] * len(P.masks))]


def test_search_recovers_a_tiny_planted_ticket():
    """A 2-2-1 target with biases planted in a 2-3-1 network (Plant 'n' Seek): at the planted
    densities, edge-popup finds exactly the planted masks (weights and biases), so its ticket computes
    the target up to rounding."""
    from sltheory.search import mask_overlap, plant

    rng = np.random.default_rng(0)
    for _ in range(3):
        T = [(rng.normal(size=(2, 2)) * 0.7, rng.normal(size=2) * 0.3), (rng.normal(size=(1, 2)) * 0.7, None)]
    P = plant(T, (3,), seed=2)
    t = edge_popup(P, target=T, keep=_planted_keep(P), epochs=10, seed=0, lr=0.05, batch_size=64, time_budget=0.5)
    assert mask_overlap(t.masks, P.planted_masks)["total"]["jaccard"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(t.bias_masks, P.planted_bias_masks) if b is not None)
    x = P.plan.input_domain().sample(2000, 2, torch.Generator().manual_seed(0))
    f = _module(T)
    with torch.no_grad():
        assert float((f(x) - t.network(x)).abs().max()) <= 1e-12
    assert t.stats["output_scale"] == P.output_scale
    adv, _ = sltheory.adversarial_error(f, t.network, 2, domain=P.plan.input_domain(), starts=256, seed=0)
    assert t.error_bound >= adv


def test_certified_agreement_uses_the_searched_tickets_domain():
    """A ticket certified over Box(0, 1) says nothing at x = −0.5·e₁ (inside the unit ball, outside
    the box): certified_agreement refuses it, and accepts rows inside the box."""
    T = _target(2, dims=(3, 6, 3))
    rand = random_mlp((3, 32, 3), seed=0, biases=True, domain=sltheory.Box(0, 1))
    t = edge_popup(rand, target=T, keep=0.5, epochs=2, seed=0, samples=256, time_budget=0.2)
    assert t.certificate.domain == sltheory.Box(0, 1).spec()
    with pytest.raises(DomainError, match="not inside"):
        sltheory.certified_agreement(T, t, np.array([[-0.5, 0.0, 0.0]]))
    a = sltheory.certified_agreement(T, t, np.random.default_rng(0).random((20, 3)))
    assert a.n == 20 and a.domain == repr(sltheory.Box(0, 1))


def test_magnitudes_outside_the_rounding_argument_certify_nothing():
    """The attack's underflow case (weights 1e-160 · 1e150 · 1e150 on a box at 1e-160): no bound
    below the true error — the certificate is +∞ there, through certify_networks and a search."""
    from sltheory.certificate import certify_networks

    f = [(np.array([[1e-160]]), None), (np.array([[1e150]]), None), (np.array([[1e150]]), None)]
    g = [(np.array([[1e-160 * 1e150 * 1e150]]), None)]
    c = certify_networks(f, g, sltheory.Box(1e-160, 2e-160))
    assert c.error_bound == math.inf and c.method == "out_of_range"
    huge = sltheory.Ball(1e200)
    c = certify_networks([(np.ones((2, 1)), None), (np.ones((1, 2)), None)], [(np.ones((1, 1)), None)], huge)
    assert c.error_bound == math.inf
    rand = random_mlp((2, 8, 1), seed=0, domain=sltheory.Ball(1e-40))
    t = edge_popup(rand, target=[np.ones((1, 2))], keep=0.5, epochs=1, samples=64, time_budget=0.1)
    assert t.error_bound == math.inf and t.stats["bounds"]["construction"] is None


def test_large_lr_is_refused_and_max_splits_makes_the_bound_reproducible():
    T = _target(3)
    rand = random_mlp((3, 16, 2), seed=0, biases=True)
    with pytest.raises(InvalidArgumentError, match="lr"):
        edge_popup(rand, target=T, lr=1e300)
    with pytest.raises(InvalidArgumentError, match="max_splits"):
        edge_popup(rand, target=T, max_splits=0)
    a, b = (edge_popup(rand, target=T, keep=0.5, epochs=1, samples=128, time_budget=60.0, max_splits=4)
            for _ in range(2))
    assert a.certificate.stopped != "time_budget" and a.error_bound == b.error_bound


def test_the_constructions_certificate_states_its_domain():
    """orseau is not domain-aware: its certificate over the plan's Ball(0.25) is the unit-ball one
    scaled by R, with Certificate.domain None (= the unit ball). On a searched ticket it must say
    Ball(0.25), or certified_agreement would accept inputs of norm 0.99 (independent review)."""
    from sltheory.domains import Ball
    from sltheory.search.base import certify_search_ticket
    from sltheory.targets import as_target

    f = sltheory.gaussian_target((6, 5, 3), seed=0)
    rand = sltheory.random_network(f, construction="orseau", n=4, seed=0, domain=Ball(0.25))
    tk = sltheory.approximate(f, rand)
    eff_w = [lin.weight.detach() * m for lin, m in zip(rand.linears(), tk.masks)]
    certs = certify_search_ticket(rand, as_target(f), eff_w, [None] * len(eff_w), 1.0, Ball(0.25), time_budget=0.1)
    assert certs["construction"] is not None
    assert certs["construction"].domain == Ball(0.25).spec() and certs["networks"].domain == Ball(0.25).spec()
