"""The guard between a construction and the ticket it ships: the certificate is the one of the masks
the ticket carries (issue 11, D1), and ``Ticket.recertify`` recomputes it from the target."""

import numpy as np
import pytest
import torch
from _tickets import ADV

import sltheory
from sltheory.constructions import registry

CONSTRUCTIONS = sorted(sltheory.constructions())
#: One line per construction (a new construction adds its own).
N = {
    "subset_sum": 10,
    "subset_sum_blockdiag": 10,
    "pensia": 10,
    "natale": 10,
    "malach": 200,
    "malach_product": 200,
    "orseau": 200,
    "orseau_halving": 200,
    "burkholz": 8,
    "binary": 10,
}


def test_burkholz_d1_reproducer_is_sound():
    """The reproducer of D1: with eps=None at depth ≥ 2, the masks of the best tolerance were views
    that later solving overwrote, so the ticket carried masks other than the certified ones
    (bound 0.181 against an error ≥ 0.296)."""
    W = [0.3 * w for w in sltheory.gaussian_target((3, 5, 5), 9)]
    ticket = sltheory.approximate(W, sltheory.random_network(W, n=6, seed=9, construction="burkholz"))
    err, _ = sltheory.adversarial_error(sltheory.as_target(W).to_module(), ticket.network, 3, starts=4096)
    assert err <= ticket.error_bound
    assert ticket.recertify(W).error_bound == ticket.error_bound


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@pytest.mark.parametrize("dims", [(3, 4), (3, 5, 5), (2, 4, 4, 3)])
@pytest.mark.parametrize("eps", [None, "rule"])
def test_certificate_is_that_of_the_shipped_masks(construction, dims, eps):
    """Every construction, both modes, depth 1-3: the shipped bound is recomputed from the shipped
    masks (and the random weights) alone, and no measured error exceeds it."""
    W = [0.5 * w for w in sltheory.gaussian_target(dims, 3)]
    if eps is None:
        rand = sltheory.random_network(W, n=N[construction] // 2, seed=1, construction=construction)
        ticket = sltheory.approximate(W, rand)
    else:
        rand = sltheory.random_network(W, n=N[construction], seed=1, construction=construction)
        best = sltheory.approximate(W, rand).error_bound
        ticket = sltheory.approximate(W, rand, eps=2 * best)
        assert ticket.error_bound <= 2 * best
    cert = ticket.recertify(W)
    assert cert.error_bound == pytest.approx(ticket.error_bound, rel=1e-9)
    # the masked matrices rebuilt from the random network and the masks give the same bound
    mats = [np.where(m.numpy(), lin.weight.detach().numpy(), 0.0)
            for m, lin in zip(ticket.masks, rand.linears())]
    again = registry.get(construction).certify(sltheory.as_target(W), rand.plan, mats)
    assert again.error_bound == pytest.approx(ticket.error_bound, rel=1e-9)
    err, _ = sltheory.adversarial_error(sltheory.as_target(W).to_module(), ticket.network, dims[0], **ADV)
    assert err <= ticket.error_bound


class _Tampering:
    """A construction that changes one kept weight of its masks after certifying them (the class of
    bug D1 was): approximate must refuse to ship the ticket."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def prune(self, target, rand, **kw):
        result = self.inner.prune(target, rand, **kw)
        last = result.masks[-1]
        row, col = np.argwhere(last)[0]
        last[row, col] = False          # in place, after the certificate was computed
        return result


@pytest.mark.parametrize("construction", ["subset_sum", "burkholz"])
def test_masks_changed_after_certifying_are_refused(monkeypatch, construction):
    W = sltheory.gaussian_target((3, 4, 4), 0)
    rand = sltheory.random_network(W, n=N[construction], seed=0, construction=construction)
    spec = registry.get(construction)
    monkeypatch.setitem(registry._CACHE, construction, _Tampering(spec))
    with pytest.raises(sltheory.CertificateError, match="not computed from the masks it returned"):
        sltheory.approximate(W, rand)


def test_shipped_masks_are_copies():
    """The ticket's masks do not share memory with anything the construction still holds."""
    W = sltheory.gaussian_target((3, 4, 4), 0)
    rand = sltheory.random_network(W, n=8, seed=0, construction="burkholz")
    ticket = sltheory.approximate(W, rand)
    before = [m.clone() for m in ticket.masks]
    sltheory.approximate(W, rand, eps=ticket.error_bound * 1.5)   # prunes the same network again
    assert all(torch.equal(a, b) for a, b in zip(before, ticket.masks))


def test_recertify_checks_the_target():
    W = [2.0 * w for w in sltheory.gaussian_target((3, 4, 4), 0)]
    rand = sltheory.random_network(W, n=10, seed=0)
    ticket = sltheory.approximate(W, rand, rescale=True)
    assert ticket.recertify(W).error_bound == pytest.approx(ticket.error_bound, rel=1e-9)
    with pytest.raises(sltheory.CertificateError, match="output"):
        ticket.recertify([3.0 * w for w in sltheory.gaussian_target((3, 4, 4), 0)])
    with pytest.raises(sltheory.CertificateError, match="shapes"):
        ticket.recertify([2.0 * w for w in sltheory.gaussian_target((3, 4, 5), 0)])
    # a different target of the same shapes: a fresh, honest bound (far larger here)
    other = [2.0 * w for w in sltheory.gaussian_target((3, 4, 4), 1)]
    assert ticket.recertify(other).error_bound > 3 * ticket.error_bound


def test_recertify_after_load(tmp_path):
    W = sltheory.gaussian_target((3, 4, 2), 0)
    rand = sltheory.random_network(W, n=20, seed=0, construction="subset_sum_blockdiag")
    ticket = sltheory.approximate(W, rand, weight_tol=0.05)
    loaded = sltheory.load_ticket(ticket.save(tmp_path / "t.npz"))
    assert loaded.recertify(W).error_bound == pytest.approx(ticket.error_bound, rel=1e-9)


# ---------------------------------------------------------------- what a ticket claims, forged
def _ticket(construction="subset_sum", scale=1.0, rescale=False):
    W = [scale * w for w in sltheory.gaussian_target((3, 4, 4), 1)]
    return W, sltheory.approximate(W, sltheory.random_network(W, n=8, seed=0, construction=construction),
                                   rescale=rescale)


def test_recertify_refuses_a_plan_that_is_not_the_constructions_layout():
    """A plan re-pointing target layer 2 at the first pair (a header field anyone can edit, digest
    recomputed) would have certified 0.14 for a network whose error is 3.9."""
    import dataclasses
    W, t = _ticket()
    forged_plan = dataclasses.replace(t.plan, pairs=((0, 1), (0, 1)))
    forged = sltheory.Ticket(network=t.network, masks=t.masks, error_bound=t.error_bound, stats=t.stats,
                             construction=t.construction, certificate=t.certificate, plan=forged_plan, seed=t.seed)
    with pytest.raises(sltheory.CertificateError, match="layout"):
        forged.recertify(W)
    Wb, tb = _ticket("burkholz")
    forged_plan = dataclasses.replace(tb.plan, options={**tb.plan.options, "copies": (8, 2)})
    forged = sltheory.Ticket(network=tb.network, masks=tb.masks, error_bound=tb.error_bound, stats=tb.stats,
                             construction=tb.construction, certificate=tb.certificate, plan=forged_plan, seed=tb.seed)
    with pytest.raises(sltheory.CertificateError, match="layout"):
        forged.recertify(Wb)


def test_recertify_reads_the_output_scale_from_the_network():
    W, t = _ticket(scale=1.5, rescale=True)
    assert t.recertify(W).error_bound == pytest.approx(t.error_bound, rel=1e-9)
    t.network[-1].scale *= 3          # the stats still say the old scale
    with pytest.raises(sltheory.CertificateError, match="scales its output"):
        t.recertify(W)


def test_recertify_certifies_every_weight_the_network_holds():
    """A weight set outside the masks is part of the network: recertify bounds the network as it is
    (``t.network`` holds the live units: row r, column c of its last linear are the random network's
    units ``units[-1][r]``, ``units[-2][c]``)."""
    W, t = _ticket()
    units = t.network.units
    with torch.no_grad():
        r, c = (~t.masks[-1][units[-1]][:, units[-2]]).nonzero()[0]
        t.network[-1].weight[r, c] = 0.9
    err, _ = sltheory.adversarial_error(sltheory.as_target(W).to_module(), t.network, 3, **ADV)
    assert err > t.error_bound                      # the stored claim no longer holds ...
    assert t.recertify(W).error_bound >= err        # ... and the recomputed bound covers the network


def test_a_target_object_is_revalidated():
    """sltheory.Target is public: its norms are recomputed, not trusted (norms of 1e-3 for weights of
    norm 2 certified 1.0 against an error of 1.96)."""
    W = [2 * w for w in sltheory.gaussian_target((3, 4, 4), 1)]
    fake = sltheory.Target(tuple(W), (1e-3, 1e-3), (1.0, 1.0))
    with pytest.raises(sltheory.NormAssumptionError):
        sltheory.approximate(fake, sltheory.random_network(W, n=6, seed=0))
    with pytest.raises(sltheory.TargetError, match="scales"):
        sltheory.as_target(sltheory.Target(tuple(W), (2.0, 2.0), (float("nan"), 1.0)))
    t = sltheory.as_target(W, rescale=True)
    assert sltheory.as_target(t).scales == t.scales and sltheory.as_target(t).norms == t.norms


def test_a_random_network_not_as_sampled_is_refused():
    W = sltheory.gaussian_target((3, 4, 4), 1)
    rand = sltheory.random_network(W, n=8, seed=0)
    with pytest.raises(sltheory.RandomNetworkError, match="float64"):
        sltheory.approximate(W, rand.float())


def test_burkholz_certify_checks_its_method():
    W, t = _ticket("burkholz")
    for bad in ("bogus", None, 3):
        with pytest.raises(sltheory.InvalidArgumentError):
            t.recertify(W, method=bad)
    assert t.recertify(W, method="layerwise").error_bound == pytest.approx(t.error_bound, rel=1e-9)


def _one_layer():
    W = np.array([[-.6, -.5, -.4], [-.3, .2, -.5]])
    return [W / np.linalg.norm(W, 2)]


@pytest.mark.parametrize("change", [
    lambda r: r.append(torch.nn.ReLU()),                                   # bound 0.0074, error 0.999
    lambda r: r.__setitem__(1, torch.nn.Identity()) if len(r) > 1 else r.append(torch.nn.Identity()),
    lambda r: r[0].register_forward_hook(lambda m, i, o: 2 * o),
    lambda r: setattr(r[0], "forward", lambda x: 50 * torch.nn.functional.linear(x, r[0].weight)),
])
def test_approximate_refuses_a_random_network_that_computes_something_else(change):
    """Modules, hooks or a forward the certificate does not model (second review): refused before pruning."""
    W = _one_layer()
    rand = sltheory.random_network(W, eps=0.01, seed=0)
    change(rand)
    with pytest.raises(sltheory.RandomNetworkError):
        sltheory.approximate(W, rand, eps=0.01)


@pytest.mark.parametrize("change", [
    lambda n: n[2].register_forward_hook(lambda m, i, o: o + 100),         # recertified 0.69, error 84
    lambda n: setattr(n[2], "forward", lambda x: 50 * torch.nn.functional.linear(x, n[2].weight)),
    lambda n: n[2].weight.data.__setitem__((0, 0), float("nan")),
    lambda n: n[2].weight.data.__setitem__((0, 0), float("inf")),
    lambda n: n.to(torch.float32),
])
def test_recertify_refuses_a_network_that_computes_something_else(change):
    import copy
    W, t = _ticket()
    t = copy.deepcopy(t)
    change(t.network)
    with pytest.raises(sltheory.CertificateError):
        t.recertify(W)


def test_a_target_with_a_replaced_forward_is_refused():
    target = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    target[0].forward = lambda x: 0 * x[..., :2]
    with pytest.raises(sltheory.TargetError, match="replaced"):
        sltheory.as_target(target)
