"""Planted tickets: Plant 'n' Seek planting (sltheory.search.planting.plant), ours (plant_construction),
mask_overlap, and the Plant 'n' Seek targets (sltheory.data.planted)."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory.data.planted import (
    PlantedTarget,
    circle_target,
    digits_target,
    helix_coordinates,
    helix_target,
    network_from_layers,
    relu_target,
)
from sltheory.errors import InvalidArgumentError, NetworkTooLargeError, TargetError
from sltheory.network import RandomNetwork, masked_copy, sample_bias, sample_layer
from sltheory.search.planting import (
    PlantedNetwork,
    mask_overlap,
    match_neuron,
    plant,
    plant_construction,
)

# the adversarial search, cut down (the planted ticket is exact up to rounding: any point shows it)
ADV = dict(starts=256, refine=4, steps=15, hops=1)


@pytest.fixture(scope="module")
def digits():
    return digits_target(32, seed=0, epochs=10)


def random_target(dims, seed, *, zeros=0.2, bias=True):
    """A random target with biases (some weights and biases exactly 0), as a PlantedTarget on Box(-1, 1)."""
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        W = rng.standard_normal((b, a)) / math.sqrt(a)
        W[rng.random(W.shape) < zeros] = 0.0
        bb = rng.uniform(-0.5, 0.5, b) if bias else None
        if bias:
            bb[rng.random(b) < zeros] = 0.0
        layers.append((W, bb))
    return PlantedTarget(f"random{seed}", network_from_layers(layers), sltheory.Box(-1.0, 1.0))


def linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def check_exact(pt, pn, *, adversarial=True):
    """The planted ticket (× output_scale) reproduces the target to ~1e-12, on samples and adversarially."""
    tk = pn.ticket_network()
    x = pt.domain.sample(2048, pt.dims[0], torch.Generator().manual_seed(1))
    with torch.no_grad():
        f, g = pt.network(x), tk(x)
        masked = masked_copy(pn, list(pn.planted_masks), pn.planted_bias_masks)(x)
    scale = max(1.0, float(f.abs().max()))
    assert float((f - g).abs().max()) <= 1e-12 * scale
    # the folded output scale is exact: the same values as the masked network times output_scale
    assert torch.equal(g, masked * pn.output_scale)
    if adversarial:
        err, _ = sltheory.adversarial_error(pt.network, tk, pt.dims[0], domain=pt.domain, **ADV)
        assert err <= 1e-12 * scale


def check_counts(pt, pn):
    t_lins = linears(pt.network)
    assert pn.planted_weights == sum(int((lin.weight != 0).sum()) for lin in t_lins)
    assert pn.planted_biases == sum(int((lin.bias != 0).sum()) for lin in t_lins if lin.bias is not None)
    for m, lin in zip(pn.planted_masks, pn.linears()):
        assert m.dtype == torch.bool and m.shape == lin.weight.shape
    s = pn.output_scale
    assert s > 0 and math.frexp(s)[0] == 0.5


TARGETS = {
    "relu2": lambda: (relu_target(2), [3]),
    "relu5": lambda: (relu_target(5), [2, 3, 4, 1]),
    "circle": lambda: (circle_target(), [6, 24]),
    "circle2_reg": lambda: (circle_target(2, bounds=None), [25]),
    "helix": lambda: (helix_target(), [40]),
    "helix5": lambda: (helix_target(5, knots=12), [2, 16, 5, 3]),
    "random": lambda: (random_target([3, 6, 5, 2], 0), [9, 11]),
}


@pytest.mark.parametrize("match", ["paper", "official"])
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_planted_ticket_reproduces_the_target(name, match):
    pt, hidden = TARGETS[name]()
    pn = plant(pt, hidden, seed=3, match=match)
    assert isinstance(pn, PlantedNetwork) and isinstance(pn, RandomNetwork)
    assert pn.plan.options["planted"] is True and pn.plan.domain == pt.domain.spec()
    check_counts(pt, pn)
    check_exact(pt, pn, adversarial=match == "paper")


def test_trained_digits_target_planted(digits):
    assert sltheory.data.accuracy(digits.network, digits.data.x_test, digits.data.y_test) > 0.85
    pn = plant(digits, [48], seed=0)
    check_counts(digits, pn)
    assert pn.planted_weights == 64 * 32 + 32 * 10
    check_exact(digits, pn)
    # the planted network classifies like the target through its ticket
    tk = pn.ticket_network()
    x = digits.data.x_test
    assert torch.equal(sltheory.data.predictions(tk, x), sltheory.data.predictions(digits.network, x))


@pytest.mark.parametrize("seed", range(4))
def test_random_targets_with_biases(seed):
    rng = np.random.default_rng(seed)
    dims = [int(v) for v in rng.integers(1, 6, size=int(rng.integers(2, 5)))]
    pt = random_target(dims, seed, zeros=0.3)
    hidden = [d + int(rng.integers(0, 4)) for d in dims[1:-1]]
    pn = plant(pt, hidden, seed=seed, sigma=0.5 if seed % 2 else None)
    check_counts(pt, pn)
    check_exact(pt, pn, adversarial=seed < 2)


def test_bias_free_target_gets_a_bias_free_source():
    pt = random_target([4, 5, 3], 7, bias=False)
    pn = plant(pt, [8], seed=1)
    assert pn.planted_bias_masks is None and all(lin.bias is None for lin in pn.linears())
    check_exact(pt, pn, adversarial=False)
    pn = plant(pt, [8], seed=1, biases=True)      # a source with biases: none planted
    assert pn.planted_biases == 0 and all(lin.bias is not None for lin in pn.linears())
    check_exact(pt, pn, adversarial=False)


@pytest.mark.parametrize("init,sigma", [("uniform", None), ("uniform", (0.5, 2.0, 0.25)),
                                        ("kaiming_normal", None), ("signed_constant", None)])
def test_reference_recomputation_and_untouched_weights(init, sigma):
    """Planted entries = s_l[i] · (W_l[i, j] / s_{l−1}[j]) (biases s_l[i] · b_l[i]), every other entry the
    original sample bit for bit, recomputed here from the plan's laws and the seed."""
    pt = random_target([3, 4, 5, 2], 11, zeros=0.25)
    seed = 5
    pn = plant(pt, [7, 6], seed=seed, init=init, sigma=sigma)
    laws = pn.plan.layer_distributions
    s_in, rows = np.ones(3), np.arange(3)
    for t, (lin, tl) in enumerate(zip(pn.linears(), linears(pt.network))):
        V = lin.weight.detach().numpy()
        beta = lin.bias.detach().numpy()
        orig_w = sample_layer(seed, t, tuple(V.shape), laws[t]).numpy()
        orig_b = sample_bias(seed, t, V.shape[0], pn.plan.layer_bias(t)).numpy()
        W, b = tl.weight.detach().numpy(), tl.bias.detach().numpy()
        units, scales = np.array(pn.planted_units[t]), pn.unit_scales[t]
        if t == len(laws) - 1:
            assert np.array_equal(units, np.arange(W.shape[0]))
            assert np.all(scales == 1.0 / pn.output_scale)
        expect_w, expect_b = orig_w.copy(), orig_b.copy()
        mask, bmask = np.zeros(V.shape, bool), np.zeros(V.shape[0], bool)
        for i in range(W.shape[0]):
            for j in np.flatnonzero(W[i]):
                expect_w[units[i], rows[j]] = scales[i] * (W[i, j] / s_in[j])
                mask[units[i], rows[j]] = True
            if b[i] != 0:
                expect_b[units[i]] = scales[i] * b[i]
                bmask[units[i]] = True
        assert np.array_equal(V, expect_w) and np.array_equal(beta, expect_b)
        assert np.array_equal(pn.planted_masks[t].numpy(), mask)
        assert np.array_equal(pn.planted_bias_masks[t].numpy(), bmask)
        assert np.all(scales > 0) and len(set(units.tolist())) == len(units)
        s_in, rows = scales, units
    # the source law: U[−σ_l, σ_l) weights, U[−Π σ_k, Π σ_k) biases
    if init == "uniform":
        sig = sigma or (1.0, 1.0, 1.0)
        assert laws == tuple(("uniform", s) for s in sig)
        assert [pn.plan.layer_bias(t)[2] for t in range(3)] == list(np.cumprod(sig))


def brute_force_match(theta, cands, rule):
    """match_neuron by loops, from its definition."""
    best, best_k, best_s = math.inf, None, None
    for k, m in enumerate(cands):
        if rule == "paper":
            nm2 = sum(v * v for v in m)
            if nm2 == 0:
                continue
            lam = sum(a * v for a, v in zip(theta, m)) / nm2
            if not lam > 0:
                continue
            r = math.sqrt(sum((a - lam * v) ** 2 for a, v in zip(theta, m)))
            s = 1 / lam
        else:
            c = sum(a * v for a, v in zip(theta, m)) / sum(a * a for a in theta)
            if not c > 0 or any(np.sign(v) != np.sign(a) for a, v in zip(theta, m)):
                continue
            r = sum(abs(v - c * a) for a, v in zip(theta, m))
            s = c
        if r < best:
            best, best_k, best_s = r, k, s
    return best_k, best_s


@pytest.mark.parametrize("rule", ["paper", "official"])
def test_match_neuron_is_the_brute_force_minimiser(rule):
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(300):
        p, K = int(rng.integers(1, 4)), int(rng.integers(1, 7))
        theta, cands = rng.uniform(-1, 1, p), rng.uniform(-1, 1, (K, p))
        k, s = match_neuron(theta, cands, rule)
        bk, bs = brute_force_match(theta, cands, rule)
        if bk is None:    # fallback: largest cosine, scale ‖m‖/‖θ‖
            cos = cands @ theta / (np.linalg.norm(cands, axis=1) * np.linalg.norm(theta))
            assert k == int(np.argmax(cos))
            assert s == pytest.approx(np.linalg.norm(cands[k]) / np.linalg.norm(theta), rel=1e-12)
        else:
            found += 1
            assert k == bk and s == pytest.approx(bs, rel=1e-12)
    assert found > 100
    assert match_neuron([], np.zeros((3, 0)), rule) == (0, 1.0)


@pytest.mark.parametrize("rule", ["paper", "official"])
def test_planting_matches_greedily_by_brute_force(rule):
    """A tiny layer: replay the greedy matching on the ORIGINAL sampled weights with the brute-force rule."""
    pt = random_target([2, 4, 1], 3, zeros=0.0)
    seed = 2
    pn = plant(pt, [9], seed=seed, match=rule)
    V = sample_layer(seed, 0, (9, 2), ("uniform", 1.0)).numpy()
    beta = sample_bias(seed, 0, 9, pn.plan.layer_bias(0)).numpy()
    W, b = (p.detach().numpy() for p in (linears(pt.network)[0].weight, linears(pt.network)[0].bias))
    free = list(range(9))
    for i in range(4):
        theta = np.concatenate([[b[i]], W[i]])
        cands = np.column_stack([beta[free], V[free]])
        k, s = brute_force_match(theta, cands, rule)
        if k is None:
            k, s = match_neuron(theta, cands, rule)
        assert pn.planted_units[0][i] == free[k]
        assert pn.unit_scales[0][i] == pytest.approx(s, rel=1e-12)
        free.remove(free[k])


def test_planted_network_is_a_random_network_view():
    pt = random_target([2, 3, 1], 1)
    pn = plant(pt, [4], seed=0)
    assert type(pn).forward is RandomNetwork.forward
    assert len(pn) == 3 and len(pn.linears()) == 2
    names = {k for k, _ in pn.named_modules()}
    assert names == {"", "0", "1", "2"}     # the target is not a submodule
    assert set(pn.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    x = torch.rand(5, 2, dtype=torch.float64)
    ref = nn.Sequential.forward(pn, x)
    assert torch.equal(pn(x), ref)
    with pytest.raises(InvalidArgumentError, match="power of two"):
        PlantedNetwork(pn, planted_masks=pn.planted_masks, planted_target=pn.planted_target, output_scale=3.0)
    with pytest.raises(InvalidArgumentError, match="planted_masks"):
        PlantedNetwork(pn, planted_masks=pn.planted_masks[:1], planted_target=pn.planted_target)
    with pytest.raises(InvalidArgumentError, match="bool tensor"):
        PlantedNetwork(pn, planted_masks=[m.double() for m in pn.planted_masks], planted_target=pn.planted_target)


# ------------------------------------------------------------------------------------------ plant_construction


def test_plant_construction_masks_are_approximates():
    W = sltheory.data.gaussian_target([3, 4, 2], seed=1)
    eps = 0.05
    pn = plant_construction(W, eps=eps, seed=0)
    net = sltheory.random_network(W, eps=eps, seed=0)
    ticket = sltheory.approximate(W, net, eps)
    assert all(torch.equal(a, b) for a, b in zip(pn.planted_masks, ticket.masks))
    assert pn.planted_error_bound == ticket.error_bound <= eps
    assert pn.output_scale == 1.0 and "planted" not in pn.plan.options and pn.plan == net.plan
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(pn.linears(), net.linears()))   # untouched
    err, _ = sltheory.adversarial_error(pn.planted_target, pn.ticket_network(), 3, **ADV)
    assert err <= pn.planted_error_bound


def test_plant_construction_with_biases_on_a_box():
    rng = np.random.default_rng(0)
    W = sltheory.data.gaussian_target([2, 3, 2], seed=2)
    target = [(W[0], rng.uniform(-0.2, 0.2, 3)), (W[1], rng.uniform(-0.2, 0.2, 2))]
    box = sltheory.Box(-0.5, 0.5)
    pn = plant_construction(target, eps=0.05, seed=1, domain=box)
    net = sltheory.random_network(target, eps=0.05, seed=1, domain=box)
    ticket = sltheory.approximate(target, net, 0.05)
    assert all(torch.equal(a, b) for a, b in zip(pn.planted_masks, ticket.masks))
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(pn.planted_bias_masks,
                                                                               ticket.bias_masks))
    assert pn.planted_biases > 0 and pn.planted_error_bound <= 0.05
    assert pn.plan.input_domain() == box


# ------------------------------------------------------------------------------------------ mask_overlap


def test_mask_overlap_by_hand():
    A = [torch.tensor([[True, True, False], [False, True, False]]), torch.tensor([True, False])]
    P = [torch.tensor([[True, False, False], [False, True, True]]), torch.tensor([False, False])]
    out = mask_overlap(A, P)
    l0, l1, tot = out["layers"][0], out["layers"][1], out["total"]
    assert (l0["kept"], l0["planted"], l0["intersection"], l0["union"]) == (3, 3, 2, 4)
    assert (l0["precision"], l0["recall"], l0["jaccard"]) == (2 / 3, 2 / 3, 0.5)
    assert (l1["kept"], l1["planted"], l1["intersection"]) == (1, 0, 0)
    assert (l1["precision"], l1["recall"], l1["jaccard"]) == (0.0, 0.0, 0.0)    # P empty, A not: no division
    assert (tot["kept"], tot["planted"], tot["intersection"], tot["union"]) == (4, 3, 2, 5)
    assert (tot["precision"], tot["recall"], tot["jaccard"]) == (0.5, 2 / 3, 0.4)


def test_mask_overlap_identical_and_empty():
    pn = plant(relu_target(3), [2, 2], seed=0)
    out = mask_overlap(pn.planted_masks, pn.planted_masks)
    for d in out["layers"] + [out["total"]]:
        assert d["precision"] == d["recall"] == d["jaccard"] == 1.0
    empty = [np.zeros((2, 2), bool)]
    assert mask_overlap(empty, empty)["total"]["jaccard"] == 1.0
    out = mask_overlap(empty, [np.eye(2, dtype=bool)])["total"]
    assert (out["precision"], out["recall"], out["jaccard"]) == (0.0, 0.0, 0.0)
    with pytest.raises(InvalidArgumentError):
        mask_overlap(empty, [np.zeros((2, 3), bool)])
    with pytest.raises(InvalidArgumentError):
        mask_overlap(empty, empty * 2)
    with pytest.raises(InvalidArgumentError):
        mask_overlap([np.zeros((2, 2))], empty)


# ------------------------------------------------------------------------------------------ bad inputs


def test_bad_inputs_are_typed_errors():
    pt = random_target([3, 4, 2], 0)
    with pytest.raises(InvalidArgumentError, match="narrower"):
        plant(pt, [3])
    with pytest.raises(InvalidArgumentError, match="depth"):
        plant(pt, [5, 5])
    with pytest.raises(InvalidArgumentError, match="depth"):
        plant(pt, [])
    with pytest.raises(InvalidArgumentError):
        plant(pt, 5)
    with pytest.raises(InvalidArgumentError):
        plant(pt, [4.0])
    bad = [(np.array([[1.0, np.nan]]), np.zeros(1)), (np.ones((1, 1)), None)]
    with pytest.raises(TargetError):
        plant(bad, [2])
    with pytest.raises(TargetError):
        plant([(np.ones((2, 2)), np.array([np.inf, 0.0])), np.ones((1, 2))], [2])
    for seed in (True, -1, 1.5):
        with pytest.raises(InvalidArgumentError, match="seed"):
            plant(pt, [4], seed=seed)
    with pytest.raises(InvalidArgumentError, match="init"):
        plant(pt, [4], init="xavier")
    with pytest.raises(InvalidArgumentError, match="sigma"):
        plant(pt, [4], init="kaiming_normal", sigma=0.5)
    for sigma in (0.0, -1.0, float("nan"), (1.0,), True):
        with pytest.raises(InvalidArgumentError):
            plant(pt, [4], sigma=sigma)
    with pytest.raises(InvalidArgumentError, match="match"):
        plant(pt, [4], match="nearest")
    with pytest.raises(InvalidArgumentError, match="biases"):
        plant(pt, [4], biases=False)
    with pytest.raises(InvalidArgumentError, match="biases"):
        plant(pt, [4], biases=1)
    with pytest.raises(NetworkTooLargeError):
        plant(pt, [10**9])
    with pytest.raises(sltheory.DomainError):
        plant(pt, [4], domain=sltheory.Box([0, 0], [1, 1]))
    with pytest.raises(InvalidArgumentError, match="seed"):
        plant_construction(sltheory.data.gaussian_target([2, 2], seed=0), eps=0.1, seed=-1)


# ------------------------------------------------------------------------------------------ the targets


def test_targets_are_deterministic_and_leave_the_global_rng_alone():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a, b = circle_target(), circle_target()
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(u, v) for u, v in zip(np.random.get_state()[1:2], np_state[1:2]))
    for p, q in zip(a.network.parameters(), b.network.parameters()):
        assert p.dtype == torch.float64 and torch.equal(p, q)
    for pt in (relu_target(), helix_target(4), a):
        assert isinstance(pt.network, nn.Sequential) and pt.domain == sltheory.Box(-1.0, 1.0)
        assert all(lin.bias is not None for lin in linears(pt.network))


def test_target_functions():
    g = torch.Generator().manual_seed(0)
    x1 = torch.rand(4000, 1, generator=g, dtype=torch.float64) * 2 - 1
    x2 = torch.rand(4000, 2, generator=g, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(relu_target(4)(x1), x1.clamp_min(0))
        r2 = (x2 ** 2).sum(1)
        # linear interpolation of t² with knot spacing h errs by ≤ h²/4 per coordinate
        assert float((circle_target(3, bounds=None)(x2)[:, 0] - r2).abs().max()) <= 2 * (1 / 9) ** 2 / 4 + 1e-12
        assert float((circle_target(2, bounds=None)(x2)[:, 0] - r2).abs().max()) <= 2 * (2 / 9) ** 2 / 4 + 1e-12
        cls = circle_target()(x2).argmax(1)
        true = sum((r2 > b).long() for b in (0.2, 0.5, 0.7))
        assert float((cls == true).double().mean()) > 0.97
        for layers in (2, 3, 5):
            h = helix_target(layers)
            assert h.dims[0] == 1 and h.dims[-1] == 3 and len(h.dims) == layers + 1
            assert np.abs(h(x1).numpy() - helix_coordinates(x1.numpy()[:, 0])).max() < 0.06
    assert circle_target().dims == (2, 4, 20, 4) and circle_target(2, knots=5, bounds=(0.5,)).dims == (2, 10, 2)
    for bad in (dict(layers=4), dict(layers=1), dict(knots=1), dict(bounds=(0.5, 0.2)), dict(bounds="x")):
        with pytest.raises(InvalidArgumentError):
            circle_target(**bad)
    with pytest.raises(InvalidArgumentError):
        relu_target(1)
    with pytest.raises(InvalidArgumentError):
        helix_target(True)


def test_digits_target(digits):
    again = digits_target(32, seed=0, epochs=10)
    for p, q in zip(digits.network.parameters(), again.network.parameters()):
        assert torch.equal(p, q)
    assert digits.dims == (64, 32, 10)
    assert bool(digits.domain.contains(digits.data.x_test).all())
    assert dataclasses.is_dataclass(digits)
