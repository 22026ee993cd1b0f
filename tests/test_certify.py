"""The certificate's pieces and the adversarial search, against closed forms."""

import numpy as np
import pytest
import torch

import sltheory
from sltheory.certificate.bound import EffectiveMap, certify, float_slack, pair_effective_map
from sltheory.errors import CertificateError


def test_effective_map_reproduces_the_pair():
    rng = np.random.default_rng(0)
    A = np.zeros((12, 4))
    A[np.arange(12), rng.integers(0, 4, 12)] = rng.uniform(-1, 1, 12)
    B = rng.uniform(-1, 1, (3, 12))
    m = pair_effective_map(A, B, signed=True)
    x = rng.standard_normal((50, 4))
    direct = np.maximum(x @ A.T, 0) @ B.T
    assert np.allclose(direct, np.maximum(x, 0) @ m.P.T + np.maximum(-x, 0) @ m.N.T, atol=1e-13)


def test_effective_map_refuses_dense_units():
    A = np.array([[0.5, 0.5], [0.0, 1.0]])
    with pytest.raises(CertificateError, match="hidden unit 0 keeps 2"):
        pair_effective_map(A, np.ones((1, 2)), signed=True)


def test_exact_maps_give_zero_error_up_to_float_slack():
    rng = np.random.default_rng(1)
    W = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    tgt = sltheory.as_target(W, rescale=True)
    maps = [EffectiveMap(tgt.weights[0], -tgt.weights[0]), EffectiveMap(tgt.weights[1], None)]
    cert = certify(tgt, maps)
    assert cert.layer_errors == pytest.approx((0.0, 0.0), abs=1e-15)
    assert cert.error_bound == pytest.approx(cert.float_slack)
    assert 0 < cert.error_bound < 1e-12 * tgt.output_scale


def test_single_layer_bound_is_the_spectral_norm_of_the_error():
    """Depth 1: bound = ‖[P − W, N + W]‖₂ (+ float slack), and it is attained when N + W = 0."""
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, 5))
    W /= np.linalg.norm(W, 2)
    E = 1e-3 * rng.standard_normal((3, 5))
    tgt = sltheory.as_target([W])
    cert = certify(tgt, [EffectiveMap(W + E, -W)], method="layerwise")
    assert cert.error_bound == pytest.approx(np.linalg.norm(E, 2), rel=1e-9)


def test_float_slack_is_tiny_and_monotone():
    rng = np.random.default_rng(3)
    mats = [rng.uniform(-1, 1, (50, 20)), rng.uniform(-1, 1, (5, 50))]
    s = float_slack(mats)
    assert 0 < s < 1e-10
    assert float_slack([m * 2 for m in mats]) > s


def test_adversarial_search_finds_the_spectral_norm_of_a_linear_map():
    rng = np.random.default_rng(4)
    A = torch.as_tensor(rng.standard_normal((6, 10)))
    err, x = sltheory.adversarial_error(lambda v: v @ A.T, lambda v: torch.zeros(v.shape[0], 6,
                                                                                 dtype=torch.float64), 10)
    assert err == pytest.approx(float(torch.linalg.matrix_norm(A, 2)), rel=1e-6)
    assert float(torch.linalg.vector_norm(x)) == pytest.approx(1.0)
    assert float(torch.linalg.vector_norm(x @ A.T)) == pytest.approx(err)


def test_adversarial_search_in_one_dimension_stays_on_the_sphere():
    """dim 1: the sphere is {−1, 1} and has no tangent; basin hopping must not leave it."""
    f = lambda v: torch.relu(-v)
    g = lambda v: torch.zeros_like(v)
    err, x = sltheory.adversarial_error(f, g, 1, hops=2)
    assert float(x[0]) == -1.0 and err == 1.0


def test_subnormal_weights_skip_the_sdp_and_keep_a_sound_bound():
    """A layer of norm 1e-308: the S-procedure would square it into under/overflow; the
    layer-wise certificate stands and still dominates the (tiny) error."""
    W = [np.array([[1.11253693e-308]]), np.array([[-1.0]])]
    rand = sltheory.random_network(W, n=2, seed=0)
    ticket = sltheory.approximate(W, rand)
    assert ticket.certificate.method == "layerwise" and np.isfinite(ticket.error_bound)
    err, _ = sltheory.adversarial_error(sltheory.as_target(W), ticket.network, 1)
    assert err <= ticket.error_bound < 1e-290


def test_adversarial_search_finds_a_relu_kink():
    """f(x) = relu(x₀) − relu(−x₀) vs g = relu(x₀): the worst input is x = −e₀, error 1."""
    f = lambda v: torch.relu(v[:, :1]) - torch.relu(-v[:, :1])
    g = lambda v: torch.relu(v[:, :1])
    err, x = sltheory.adversarial_error(f, g, 8, seed=1)
    assert err == pytest.approx(1.0, abs=1e-6)
    assert float(x[0]) == pytest.approx(-1.0, abs=1e-3)


# ----------------------------------------------------------------------------- tightened certificate
from _tickets import SMALL_N  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sltheory.certificate import sprocedure as _sdp  # noqa: E402
from sltheory.certificate.bound import METHODS, sdp_bound  # noqa: E402
from sltheory.errors import InvalidArgumentError  # noqa: E402
from sltheory.testing import strategies as sst  # noqa: E402


def _perturbed_maps(tgt, rng, scale):
    """Effective maps W_i + E_i (N_1 = −W_1 + E'), entries of E of size ≈ scale."""
    maps = []
    for k, W in enumerate(tgt.weights):
        P = W + scale * rng.standard_normal(W.shape)
        N = -W + scale * rng.standard_normal(W.shape) if k == 0 else None
        maps.append(EffectiveMap(P, N))
    return maps


def _map_network(maps):
    """The network x ↦ P_l σ(… σ(P_1 σ(x) + N_1 σ(−x))) of effective maps, in torch."""
    P1, N1 = torch.as_tensor(maps[0].P), torch.as_tensor(maps[0].N)
    later = [torch.as_tensor(m.P) for m in maps[1:]]

    def net(x):
        h = torch.relu(x) @ P1.T + torch.relu(-x) @ N1.T
        for P in later:
            h = torch.relu(h) @ P.T
        return h
    return net


def test_methods_and_fields():
    rng = np.random.default_rng(10)
    tgt = sltheory.as_target([rng.standard_normal((5, 4)), rng.standard_normal((3, 5))], rescale=True)
    maps = _perturbed_maps(tgt, rng, 1e-2)
    old = certify(tgt, maps, method="layerwise")
    new = certify(tgt, maps)
    assert old.method == "layerwise" and old.layerwise_bound == old.error_bound
    assert new.method == "sdp" and new.layerwise_bound == old.error_bound
    assert new.error_bound < 0.8 * old.error_bound
    assert new.propagated == old.propagated and new.layer_errors == old.layer_errors
    assert certify(tgt, maps, method="sdp").error_bound == pytest.approx(new.error_bound, rel=1e-12)
    assert certify(tgt, maps, max_flops=0).method == "layerwise"   # too costly for auto: recursion only
    with pytest.raises(InvalidArgumentError, match="method"):
        certify(tgt, maps, method="exact")
    assert set(METHODS) == {"auto", "sdp", "layerwise"}


@given(target=sst.targets(max_depth=3, max_width=6), scale=st.sampled_from([1e-1, 1e-3, 1e-6]),
       seed=sst.seeds())
@settings(max_examples=40)
def test_sdp_bound_dominates_the_adversarial_error_and_is_below_the_recursion(target, scale, seed):
    tgt = sltheory.as_target(target)
    maps = _perturbed_maps(tgt, np.random.default_rng(seed), scale)
    old, new = certify(tgt, maps, method="layerwise"), certify(tgt, maps, method="sdp")
    assert new.error_bound <= old.error_bound
    net = _map_network(maps)
    err, _ = sltheory.adversarial_error(tgt, net, tgt.dims[0], starts=256, refine=8, steps=40)
    assert err <= new.error_bound, (err, new.error_bound)
    x = torch.as_tensor(np.random.default_rng(seed).standard_normal((256, tgt.dims[0])))
    x /= torch.linalg.vector_norm(x, dim=1, keepdim=True)
    assert float(torch.linalg.vector_norm(tgt(x) - net(x), dim=1).max()) <= new.error_bound


@pytest.mark.parametrize("construction", sorted(SMALL_N))
@given(target=sst.targets(max_depth=3, max_width=5), data=st.data(), seed=sst.seeds())
@settings(max_examples=6)
def test_every_construction_bound_dominates_adversarial_error(construction, target, data, seed):
    n = data.draw(st.integers(SMALL_N[construction][0], min(SMALL_N[construction][1], 24)), label="n")
    rand = sltheory.random_network(target, n=n, seed=seed, construction=construction)
    ticket = sltheory.approximate(target, rand)
    cert = ticket.certificate
    assert ticket.error_bound <= cert.layerwise_bound
    tgt = sltheory.as_target(target)
    err, _ = sltheory.adversarial_error(tgt, ticket.network, tgt.dims[0], starts=256, refine=8, steps=40)
    assert err <= ticket.error_bound, (err, ticket.error_bound, cert.method)


def test_depth_one_linear_error_is_exact():
    """N + W = −(P − W): the error is the linear map E x, its supremum ‖E‖₂ exactly."""
    rng = np.random.default_rng(11)
    W = rng.standard_normal((4, 6))
    W /= np.linalg.norm(W, 2)
    E = 1e-3 * rng.standard_normal((4, 6))
    tgt = sltheory.as_target([W])
    bound = sdp_bound(tgt, [EffectiveMap(W + E, -W - E)])
    assert np.linalg.norm(E, 2) <= bound <= np.linalg.norm(E, 2) * (1 + 1e-4)
    assert certify(tgt, [EffectiveMap(W + E, -W - E)]).error_bound <= np.linalg.norm(E, 2) * (1 + 1e-4)


def test_depth_two_nonnegative_rank_one_error_is_exact():
    """W₁ = I, exact first layer, E₂ = ε u vᵀ with v ≥ 0: sup ‖E₂ σ(x)‖ = ε‖u‖‖v‖ at x = v/‖v‖."""
    rng = np.random.default_rng(12)
    d = 5
    W2 = rng.standard_normal((3, d))
    W2 /= np.linalg.norm(W2, 2)
    u, v = rng.standard_normal(3), rng.random(d)
    E2 = 1e-4 * np.outer(u, v)
    tgt = sltheory.as_target([np.eye(d), W2])
    maps = [EffectiveMap(np.eye(d), -np.eye(d)), EffectiveMap(W2 + E2, None)]
    exact = 1e-4 * np.linalg.norm(u) * np.linalg.norm(v)
    bound = sdp_bound(tgt, maps)
    assert exact <= bound <= exact * (1 + 1e-3)


def test_verified_value_repairs_an_infeasible_point():
    """Multipliers that do not make S ⪰ 0 (t too small) are repaired by the κ shift, never trusted."""
    rng = np.random.default_rng(13)
    tgt = sltheory.as_target([rng.standard_normal((4, 3)), rng.standard_normal((2, 4))], rescale=True)
    maps = _perturbed_maps(tgt, rng, 1e-2)
    old = certify(tgt, maps, method="layerwise")
    args = (list(tgt.weights), maps[0].P, maps[0].N, [maps[1].P], [old.propagated[0]], old.propagated[1],
            [tgt.norms[0], 1.0])
    F, Fa = _sdp.build(*args)
    t, y = _sdp.solve(F)
    assert np.linalg.eigvalsh(_sdp.assemble(F, 0.0, y))[0] < 0
    repaired = _sdp.verified_value(F, Fa, 0.0, y)
    assert repaired > 0
    net = _map_network(maps)
    err, _ = sltheory.adversarial_error(tgt, net, 3, starts=512, refine=8, steps=50)
    assert err <= np.sqrt(repaired) * old.propagated[1]
    assert _sdp.verified_value(F, Fa, t, y) == pytest.approx(t, rel=1e-9)


def test_pair_float_slack_covers_float_evaluation():
    """A pair network in float64 vs exact rational arithmetic: the deviation is within the slack
    (another instance than proofs/certificate.py's, through the same helper)."""
    from proofs.certificate import pair_slack_and_deviation

    _, _, slack, worst = pair_slack_and_deviation(np.random.default_rng(14), 12, 20)
    assert 0 < slack < 1e-13
    assert 0 < worst <= slack


def test_pair_float_slack_applies_only_to_one_weight_per_row_chains():
    """The per-pair slack assumes each row of A_i keeps one weight (its γ₁): for any other chain it
    declines, and certify falls back to the generic float slack (γ_K per row count)."""
    from sltheory.certificate.bound import pair_float_slack

    rng = np.random.default_rng(3)
    A = np.zeros((6, 3))
    A[np.arange(6), rng.integers(0, 3, 6)] = rng.uniform(-1, 1, 6)
    B = rng.uniform(-1, 1, (2, 6))
    assert pair_float_slack([A, B], [1.0]) > 0
    A2 = A.copy()
    A2[0, :] = 0.5                                         # a row with three weights
    assert pair_float_slack([A2, B], [1.0]) is None
    assert pair_float_slack([A, B, A], [1.0, 1.0]) is None  # not a chain of pairs
    W = sltheory.gaussian_target((3, 2), 0)
    tgt = sltheory.as_target(W)
    exact = EffectiveMap(tgt.weights[0], -tgt.weights[0])   # zero error: the bound is the slack alone
    cert = certify(tgt, [exact], [A2, B], method="sdp")
    assert cert.float_slack == pytest.approx(float_slack(tgt.weights) + float_slack([A2, B]), rel=1e-12)
    assert cert.float_slack > float_slack(tgt.weights) + pair_float_slack([A, B], [1.0])
