"""Targets with biases and input domains on the subset-sum family (subset_sum, pensia, natale; the
block-diagonal variant reads domains only): Fischer, Gadhikar & Burkholz's bias units (a slot of
n units whose U(0, 1) random biases are kept where chosen, input weights all pruned), the rule at
d_in + 1 and ε/ρ, the first layer's negative half spared on a nonnegative domain.

Every ticket is checked against an independent lower bound on its sup error over the domain (a
dense grid for d_0 ≤ 2, the multi-start attack otherwise), and against what it may be: masks of
the random network as sampled."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import sltheory
from sltheory.constructions import registry
from sltheory.constructions._pairs import BIAS_UNIT_LAW, bias_radius, hidden_width, masked_sparse, rule_inputs
from sltheory.constructions.subset_sum import samples_per_block
from sltheory.errors import CertificateError, TargetError
from sltheory.targets import as_target


def _sequential(seed: int = 0) -> nn.Sequential:
    """nn.Sequential(Linear(3, 5), ReLU, Linear(5, 2)), torch's default init (biases included),
    each W scaled to ‖W‖₂ = 1 and each b to ‖b‖₂ ≤ 1."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    with torch.no_grad():
        for lin in net[::2]:
            lin.weight /= torch.linalg.matrix_norm(lin.weight, 2)
            lin.bias /= max(1.0, float(lin.bias.norm()))
    return net


def _pairs_target(seed: int = 1, dims=(2, 6, 3), last_bias: bool = True) -> list:
    """A (W, b) list with d_0 = 2 (so a dense grid is a lower bound), ‖W‖₂ = 1, ‖b‖₂ = 0.8."""
    rng = np.random.default_rng(seed)
    out = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        W = rng.standard_normal((d_out, d_in))
        W /= np.linalg.norm(W, 2)
        b = rng.standard_normal(d_out)
        b *= 0.8 / np.linalg.norm(b)
        out.append((W, b) if last_bias or i < len(dims) - 2 else W)
    return out


def _forward(target, X: torch.Tensor) -> torch.Tensor:
    return as_target(target)(X) if not isinstance(target, nn.Module) else target(X)


def _grid(domain, n: int = 161) -> torch.Tensor:
    """A dense grid of the 2-D domain (boundary included)."""
    if isinstance(domain, sltheory.Box):
        lo, hi = np.broadcast_to(domain.lo, (2,)), np.broadcast_to(domain.hi, (2,))
        a, b = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
        return torch.from_numpy(np.stack([a.ravel(), b.ravel()], 1))
    r = domain.radius_ * (1 - 1e-12)
    rad, ang = np.meshgrid(np.linspace(0, r, n // 2), np.linspace(0, 2 * math.pi, 2 * n))
    return torch.from_numpy(np.stack([(rad * np.cos(ang)).ravel(), (rad * np.sin(ang)).ravel()], 1))


def _lower_bound(target, ticket, domain, d0: int) -> float:
    """An independent lower bound on sup over the domain of ‖f − g‖₂."""
    f = (lambda X: _forward(target, X))
    if d0 <= 2:
        X = _grid(domain)
        assert bool(torch.from_numpy(domain.contains(X.numpy(), tol=1e-12)).all())
        with torch.no_grad():
            return float((f(X) - ticket.network(X)).norm(dim=1).max())
    err, x = sltheory.adversarial_error(f, ticket.network, d0, starts=256, refine=8, steps=40, domain=domain)
    assert bool(domain.contains(x.reshape(1, -1).numpy(), tol=1e-9).all())
    return float(err)


def _check_masks_only(rand, ticket) -> None:
    """Every kept weight and bias is the random network's, untouched; the ticket computes exactly
    the masked random network; bias units keep no input weight."""
    lins = rand.linears()
    X = torch.rand(64, lins[0].weight.shape[1], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    h = X
    for t, lin in enumerate(lins):
        m = ticket.masks[t].cpu()
        W = torch.where(m, lin.weight, torch.zeros(()))
        h = h @ W.T
        bm = None if ticket.bias_masks is None else ticket.bias_masks[t]
        if lin.bias is not None and bm is not None:
            bm = bm.cpu()
            h = h + torch.where(bm, lin.bias, torch.zeros(()))
            assert not bool((m.any(dim=1) & bm).any()), "a unit keeps an input weight and its bias"
        else:
            assert bm is None or not bool(bm.any())
        if t < len(lins) - 1:
            h = torch.relu(h)
    with torch.no_grad():
        got = ticket.network(X)
    assert torch.allclose(got, h, rtol=1e-12, atol=1e-13)


CASES = [
    ("seq", None), ("seq", sltheory.Box(0, 1)), ("seq", sltheory.Ball(1.5)),
    ("pairs", None), ("pairs", sltheory.Box(0, 1)), ("pairs", sltheory.Box(-0.5, 1.0)), ("pairs", sltheory.Ball(2.0)),
]


@pytest.mark.parametrize("kind,domain", CASES)
def test_subset_sum_ticket_with_biases_is_certified_and_masks_only(kind, domain):
    target = _sequential() if kind == "seq" else _pairs_target()
    d0 = 3 if kind == "seq" else 2
    eps = 0.05
    rand = sltheory.random_network(target, eps=eps, seed=2, domain=domain)
    before = [(lin.weight.clone(), None if lin.bias is None else lin.bias.clone()) for lin in rand.linears()]
    plan = rand.plan
    dom = domain or sltheory.Ball()
    assert plan.domain == (None if domain is None or domain == sltheory.Ball() else dom.spec())
    assert plan.signed[0] == (not dom.nonnegative)
    # bias units: the first linear of each pair, law U(0, 1), n of them per layer with a bias
    flags = as_target(target).bias_flags
    for i, flag in enumerate(flags):
        assert plan.layer_bias(2 * i) == (BIAS_UNIT_LAW if flag else None)
        assert plan.layer_bias(2 * i + 1) is None
        if flag:
            c = rand.linears()[2 * i].bias
            assert float(c.min()) >= 0.0 and float(c.max()) < 1.0
    ticket = sltheory.approximate(target, rand, eps=eps)
    assert ticket.error_bound <= eps
    low = _lower_bound(target, ticket, dom, d0)
    assert 0 < low <= ticket.error_bound
    _check_masks_only(rand, ticket)
    for lin, (w, b) in zip(rand.linears(), before):       # the random network is untouched
        assert torch.equal(lin.weight, w) and (b is None or torch.equal(lin.bias, b))
    assert ticket.stats["kept_biases"] > 0
    # recomputed independently from the masked weights and biases: the same certificate
    lins = rand.linears()
    mats = [masked_sparse(lin.weight.numpy(), m.numpy()) for lin, m in zip(lins, ticket.masks)]
    biases = [None if lin.bias is None else torch.where(bm, lin.bias, torch.zeros(())).numpy()
              for lin, bm in zip(lins, ticket.bias_masks)]
    cert = registry.get("subset_sum").certify(as_target(target), plan, mats, biases=biases)
    assert cert.error_bound == pytest.approx(ticket.error_bound, rel=1e-9)


@pytest.mark.parametrize("name,opts", [("pensia", {}), ("natale", {"n": 24})])
@pytest.mark.parametrize("domain", [None, sltheory.Box(0, 1)])
def test_pensia_and_natale_with_biases(name, opts, domain):
    target = _pairs_target(seed=4)
    eps = 0.1 if name == "natale" else 0.05
    rand = sltheory.random_network(target, eps=None if opts else eps, seed=5, construction=name, domain=domain,
                                   **opts)
    ticket = sltheory.approximate(target, rand, eps=eps)
    dom = domain or sltheory.Ball()
    assert 0 < _lower_bound(target, ticket, dom, 2) <= ticket.error_bound <= eps
    _check_masks_only(rand, ticket)
    units = rand.plan.options["bias_units"]
    n = rand.plan.n
    assert tuple(units) == tuple(2 * v if name == "pensia" else v for v in n)
    if name == "natale":   # exactly k bias units per output (or none: a problem too short never happens here)
        k = rand.plan.options["k"][0]
        B = ticket.masks[1].numpy()
        H = B.shape[1]
        per_out = B[:, H - units[0]:].sum(axis=1)
        assert set(per_out.tolist()) <= {k}


def test_nonnegative_domain_spares_the_first_negative_half():
    """Box(0, 1) and Box(−1, 1) have the same radius, so the same rule's n: the random networks
    differ only by the first layer's negative half, which the stats report as the saving."""
    rng = np.random.default_rng(7)
    target = [(W / np.linalg.norm(W, 2), 0.5 * b / np.linalg.norm(b))
              for W, b in ((rng.standard_normal((6, 8)), rng.standard_normal(6)),
                           (rng.standard_normal((3, 6)), rng.standard_normal(3)))]
    eps = 0.1
    pos = sltheory.random_network(target, eps=eps, seed=0, domain=sltheory.Box(0, 1))
    sym = sltheory.random_network(target, eps=eps, seed=0, domain=sltheory.Box(-1, 1))
    assert pos.plan.n == sym.plan.n
    assert pos.plan.signed == (False, False) and sym.plan.signed == (True, False)
    saved = sym.plan.num_random_weights - pos.plan.num_random_weights
    n0 = pos.plan.n[0]
    assert saved == (2 * n0 * 8 - math.ceil(hidden_width(8, n0, False))) * (8 + 6) > 0
    t_pos = sltheory.approximate(target, pos, eps=eps)
    t_sym = sltheory.approximate(target, sym, eps=eps)
    assert t_pos.stats["first_layer_negative_half_saving"] == saved
    assert "first_layer_negative_half_saving" not in t_sym.stats
    # a signed first layer keeps units of both signs; the nonnegative one only positive weights
    kept_first = t_pos.masks[0].numpy()
    assert np.all(pos.linears()[0].weight.numpy()[kept_first] > 0)
    for t in (t_pos, t_sym):
        assert t.error_bound <= eps


def test_bias_free_targets_unchanged():
    """No bias, unit ball: the plan has no bias or domain field and the rule's n is the old one;
    a bias-free target on Ball(R) is the unit-ball rule at ε/R (positive homogeneity)."""
    rng = np.random.default_rng(3)
    target = [rng.standard_normal((5, 3)), rng.standard_normal((2, 5))]
    target = [W / np.linalg.norm(W, 2) for W in target]
    spec = registry.get("subset_sum")
    rand = sltheory.random_network(target, eps=0.05, seed=0)
    plan = rand.plan
    assert plan.biases == () and plan.layer_biases == () and plan.domain is None
    assert plan.signed == (True, False)
    assert all(lin.bias is None for lin in rand.linears())
    assert plan.n == tuple(math.ceil(samples_per_block(d_in, d_out, 2, 0.05, 0.05))
                           for d_out, d_in in plan.target_shapes)
    assert plan == spec.plan(((5, 3), (2, 5)), eps=0.05, delta=0.05)
    ticket = sltheory.approximate(target, rand, eps=0.05)
    assert ticket.bias_masks is None or all(b is None for b in ticket.bias_masks)
    assert "first_layer_negative_half_saving" not in ticket.stats
    ball = sltheory.random_network(target, eps=0.1, seed=0, domain=sltheory.Ball(2.0))
    unit = sltheory.random_network(target, eps=0.05, seed=0)
    assert ball.plan.n == unit.plan.n and ball.plan.layer_shapes == unit.plan.layer_shapes
    assert sltheory.approximate(target, ball, eps=0.1).error_bound <= 0.1


def test_width_rule_with_biases_symbolic_and_built():
    """The rule (ours): n_i at d_{i−1} + 1 (the bias slot) and ε/ρ, ρ = R + #(layers with a bias);
    width = the bias-free width + n bias units; the built networks are at least that."""
    spec = registry.get("subset_sum")
    eps, delta, R = sp.symbols("epsilon delta R", positive=True)
    d0, d1, d2 = sp.symbols("d0 d1 d2", positive=True, integer=True)
    dims = (d0, d1, d2)
    flags = (True, True)
    w0 = spec.width_bound(0, dims, eps, delta, biases=flags, radius=R)
    n0 = samples_per_block(d0 + 1, d1, 2, eps / (R + 2), delta)
    assert sp.simplify(w0 - (2 * d0 * n0 + n0)) == 0
    w1 = spec.width_bound(1, dims, eps, delta, biases=flags, radius=R, nonnegative=True)
    n1 = samples_per_block(d1 + 1, d2, 2, eps / (R + 2), delta)
    assert sp.simplify(w1 - (hidden_width(d1, n1, False) + n1)) == 0
    p = spec.parameter_bound(dims, eps, delta, biases=flags, radius=R)
    assert sp.simplify(p - ((2 * d0 * n0 + n0) * (d0 + d1) + (hidden_width(d1, n1, False) + n1) * (d1 + d2))) == 0
    # bias-free, unit ball: exactly the old expressions
    assert sp.simplify(spec.width_bound(0, dims, eps, delta, biases=(False, False), radius=1)
                       - spec.width_bound(0, dims, eps, delta)) == 0
    assert rule_inputs(0, (3, 4, 2), 0.1) == ((3, 4, 2), 0.1)
    assert bias_radius(2.0, (True, False, True), (0.3, 0.0, 4.0)) == 2.0 + 1.0 + 4.0
    # floats: the built networks ≥ the bounds
    for name in ("subset_sum", "pensia", "natale"):
        s = registry.get(name)
        for domain in (None, sltheory.Box(0, 1)):
            shapes = ((6, 4), (3, 6))
            plan = s.plan(shapes, eps=0.05, delta=0.1, biases=(True, False), domain=domain)
            r = 1.0 if domain is None else domain.radius_for(4)
            kw = dict(biases=(True, False), radius=r, nonnegative=domain is not None)
            for i in range(2):
                assert plan.layer_shapes[2 * i][0] >= s.width_bound(i, (4, 6, 3), 0.05, 0.1, **kw) - 1e-9
            assert plan.num_random_weights >= s.parameter_bound((4, 6, 3), 0.05, 0.1, **kw) - 1e-9
            assert plan.options["bias_units"][1] == 0 and plan.options["bias_units"][0] > 0


def test_per_weight_mode_covers_biases():
    target = _sequential(seed=3)
    tau = 0.02
    rand = sltheory.random_network(target, n=24, seed=1)
    ticket = sltheory.approximate(target, rand, weight_tol=tau)
    tgt = as_target(target)
    lins = rand.linears()
    for i in range(2):
        A = torch.where(ticket.masks[2 * i], lins[2 * i].weight, torch.zeros(())).numpy()
        B = torch.where(ticket.masks[2 * i + 1], lins[2 * i + 1].weight, torch.zeros(())).numpy()
        c = torch.where(ticket.bias_masks[2 * i], lins[2 * i].bias, torch.zeros(())).numpy()
        assert np.all(np.abs(B @ np.maximum(c, 0) - tgt.bias(i)) <= tau)
        assert np.all(np.abs(B @ np.maximum(A, 0) - tgt.weights[i]) <= tau)


def test_typed_errors():
    target = _sequential()
    with pytest.raises(TargetError):
        sltheory.random_network(target, eps=0.1, seed=0, construction="malach")
    with pytest.raises(TargetError):
        sltheory.random_network(target, eps=0.1, seed=0, construction="subset_sum_blockdiag")
    with pytest.raises(TargetError):
        registry.get("subset_sum_blockdiag").plan(((5, 3), (2, 5)), eps=0.1, delta=0.1, biases=(True, True))
    # a bias kept on a unit that keeps an input weight, or on a linear the layout gives none
    rand = sltheory.random_network(target, eps=0.1, seed=0)
    ticket = sltheory.approximate(target, rand, eps=0.1)
    lins = rand.linears()
    mats = [masked_sparse(lin.weight.numpy(), m.numpy()) for lin, m in zip(lins, ticket.masks)]
    spec, tgt = registry.get("subset_sum"), as_target(target)
    bad = [None if lin.bias is None else lin.bias.numpy().copy() for lin in lins]   # every bias kept
    with pytest.raises(CertificateError):
        spec.certify(tgt, rand.plan, mats, biases=bad)
    wrong = [None, np.ones(lins[1].weight.shape[0]), None, None]
    with pytest.raises(CertificateError):
        spec.certify(tgt, rand.plan, mats, biases=wrong)
    # the bias-free certificate of a bias plan is refused (plan and target disagree)
    free = as_target([lin.weight.detach() for lin in target[::2]])
    with pytest.raises(CertificateError):
        spec.certify(free, rand.plan, mats)


@st.composite
def _biased_targets(draw):
    depth = draw(st.integers(1, 2))
    dims = [draw(st.integers(1, 3))] + [draw(st.integers(1, 4)) for _ in range(depth)]
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    layers = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        W = rng.standard_normal((d_out, d_in))
        W /= max(1.0, np.linalg.norm(W, 2))
        b = rng.uniform(-1, 1, d_out) / math.sqrt(d_out) if draw(st.booleans()) else None
        layers.append((W, b))
    if all(b is None for _, b in layers):
        layers[-1] = (layers[-1][0], np.full(dims[-1], 0.3))
    return layers, dims[0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_biased_targets(), st.integers(4, 14), st.sampled_from(["ball", "box01", "box"]), st.integers(0, 10**6))
def test_property_bound_dominates_sampled_error(tl, n, dkind, seed):
    target, d0 = tl
    domain = {"ball": sltheory.Ball(1.3), "box01": sltheory.Box(0, 1), "box": sltheory.Box(-1, 0.5)}[dkind]
    rand = sltheory.random_network(target, n=n, seed=seed, domain=domain)
    ticket = sltheory.approximate(target, rand)
    X = domain.sample(2000, d0, torch.Generator().manual_seed(seed % 1000))
    with torch.no_grad():
        err = float((_forward(target, X) - ticket.network(X)).norm(dim=1).max())
    assert err <= ticket.error_bound
    _check_masks_only(rand, ticket)
