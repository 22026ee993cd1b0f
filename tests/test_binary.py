"""The binary construction (ours): ±1 random weights, one scale per layer, Horner doubling ladders.
Reference values of the rule, the layout and laws, effective weights recomputed independently by
propagating unit vectors, exact errors (1- and 2-input targets) against the certificate, and the
certificate's refusals."""

import math

import numpy as np
import pytest
import sympy
import torch

import sltheory
from sltheory import ApproximationFailedError, CertificateError, InvalidArgumentError
from sltheory.constructions.binary import CONSTRUCTION, bits_rule, copies_rule, failure_bound, layer_sizes, requirements
from sltheory.network import masked_copy
from sltheory.testing.lower_bound import lower_bound, sequential


def _ticket(W, **kw):
    rand = sltheory.random_network(W, seed=kw.pop("seed", 0), construction="binary", **kw)
    return rand, sltheory.approximate(W, rand, eps=kw.get("eps"))


def _quantised(W, K):
    return np.sign(W) * np.rint(np.abs(W) * 2 ** K) / 2 ** K


def _unit_vector_maps(ticket, plan):
    """Per target layer, the block's map read by propagating unit vectors through its masked layers
    (torch only; block 0 on x = e_j ≥ 0 gives the σ(x_j) column, later blocks with every copy of
    input j at 1); per output neuron the copy with the largest row (unread copies are 0)."""
    lins = [m for m in ticket.pruned_network(prune_buffers=False) if isinstance(m, torch.nn.Linear)]
    out = []
    for i, idx in enumerate(plan.pairs):
        d_out, d_in = plan.target_shapes[i]
        cols = lins[idx[0]].weight.shape[1]
        rho = 1 if i == 0 else cols // d_in
        h = torch.zeros(d_in, cols, dtype=torch.float64)
        for j in range(d_in):
            h[j, j * rho:(j + 1) * rho] = 1.0
        for k, t in enumerate(idx):
            h = h @ lins[t].weight.T
            if k < len(idx) - 1:
                h = torch.relu(h)
        rows = h.T.numpy().reshape(d_out, -1, d_in)
        out.append(rows[np.arange(d_out), np.abs(rows).sum(axis=2).argmax(axis=1)])
    return out


def test_rule_reference_values():
    dims = (3, 4, 2)
    e = (1.1) ** 0.5 - 1
    assert bits_rule(dims, 0.1) == pytest.approx(max(math.log2(math.sqrt(24) / e), math.log2(math.sqrt(8) / e)))
    assert requirements(dims, 5) == 6 * (6 + 4 * 8) + 8 + 6 * (4 + 2 * 6) + 4 == 336
    lam = math.log2(336 / 0.05)
    assert copies_rule(dims, 0.05, 5) == pytest.approx((lam + 2 * math.log2(2 * lam + 32)) / math.log2(16 / 9))
    r = math.ceil(copies_rule(dims, 0.05, 5))
    assert failure_bound(dims, 5, r) <= 0.05 < failure_bound(dims, 5, r - 8)
    plan = CONSTRUCTION.plan(((4, 3), (2, 4)), eps=0.1, delta=0.05)
    K = math.ceil(bits_rule(dims, 0.1))
    assert plan.options["bits"] == K == 7
    assert plan.n == (math.ceil(copies_rule(dims, 0.05, K)),) * 2
    # symbolic: the bounds take sympy symbols
    eps = sympy.Symbol("epsilon", positive=True)
    assert CONSTRUCTION.width_bound(0, (3, 4), eps, 0.05).free_symbols == {eps}


def test_layout_and_laws():
    shapes, blocks = layer_sizes((2, 3, 2), r=2, bits=3)
    w0, w1 = 2 * (4 + 6), 2 * (3 + 4)
    assert shapes == [(8, 2), (w0, 8)] + [(w0, w0)] * 3 + [(6, w0), (w1, 6)] + [(w1, w1)] * 3 + [(2, w1)]
    assert blocks == [(0, 1, 2, 3, 4, 5), (6, 7, 8, 9, 10)]
    assert CONSTRUCTION.depth_bound(2, 3) == len(shapes) == 11
    rand = sltheory.random_network([np.eye(3, 2) * 0.5, np.eye(2, 3) * 0.5], n=2, bits=3, seed=4,
                                   construction="binary")
    for t, lin in enumerate(rand.linears()):
        mags = set(np.unique(np.abs(lin.weight.numpy())).tolist())
        level = t in (2, 3, 4, 7, 8, 9)      # levels 1 … K of each block: ½
        assert mags == ({0.5} if level else {1.0})
    signs = torch.cat([lin.weight.flatten() > 0 for lin in rand.linears()]).double()
    assert 0.45 < float(signs.mean()) < 0.55      # 1,660 weights, each sign with probability ½


@pytest.mark.parametrize("dims, seed", [((2, 3, 2), 0), ((3, 4), 1), ((2, 3, 3, 2), 2)])
def test_effective_weights_are_the_quantised_target(dims, seed):
    """At the rule's width no unit misses, and the maps read by unit vectors are q(W) exactly."""
    W = [0.6 * M for M in sltheory.gaussian_target(dims, seed)]
    rand, ticket = _ticket(W, eps=0.2, delta=0.1, seed=seed)
    K = ticket.stats["resolution_bits"]   # with eps: the coarsest resolution that certifies
    assert ticket.stats["dead_units"] == 0
    Q = [_quantised(M, K) for M in W]
    for i, eff in enumerate(_unit_vector_maps(ticket, rand.plan)):
        # a hidden neuron the next quantised layer does not read is pruned away (its row reads 0)
        read = np.ones(eff.shape[0], bool) if i == len(W) - 1 else np.any(Q[i + 1] != 0, axis=0)
        np.testing.assert_array_equal(eff[read], Q[i][read])
        assert not np.any(eff[~read])
    # and the σ(−x) half of the first layer: g(−e_j) through block 0 gives −(−q) = q as N's column
    assert ticket.error_bound <= 0.2
    assert all(int(m.sum(dim=1).max()) <= 1 for m in ticket.masks[:1])


def test_first_layer_negative_half_by_unit_vectors():
    W = [np.array([[0.7, -0.3], [-0.55, 0.1]])]
    rand, ticket = _ticket(W, eps=0.1, delta=0.1)
    K = ticket.stats["resolution_bits"]   # with eps: the coarsest resolution that certifies
    with torch.no_grad():
        gp = ticket.network(torch.eye(2, dtype=torch.float64))
        gn = ticket.network(-torch.eye(2, dtype=torch.float64))
    np.testing.assert_array_equal(gp.numpy().T, _quantised(W[0], K))
    np.testing.assert_array_equal(gn.numpy().T, -_quantised(W[0], K))


@pytest.mark.parametrize("dims, n, bits", [((1, 3, 2), 3, 3), ((1, 2), 6, 4), ((2, 3, 2), 4, 3), ((2, 2), 8, 5)])
def test_certificate_dominates_the_exact_error(dims, n, bits):
    """1 and 2 inputs: lower_bound is the exact supremum (homogeneity / activation regions);
    the certificate is above it and, where no unit missed, within a small factor."""
    W = [0.7 * M for M in sltheory.gaussian_target(dims, 3)]
    rand = sltheory.random_network(W, n=n, bits=bits, seed=5, construction="binary")
    ticket = sltheory.approximate(W, rand)
    exact, _ = lower_bound(sequential(W), ticket.network, dims[0], seed=0)
    assert exact <= ticket.error_bound
    if ticket.stats["dead_units"] == 0:
        assert ticket.error_bound <= 4 * exact + 1e-12


def test_certificate_refuses_what_is_not_the_layout():
    W = [0.5 * M for M in sltheory.gaussian_target((2, 3, 2), 1)]
    rand, ticket = _ticket(W, n=6, bits=3)
    tgt = sltheory.as_target(W)
    lin = rand.linears()
    mats = [np.where(m.numpy(), L.weight.numpy(), 0.0) for m, L in zip(ticket.masks, lin)]
    assert CONSTRUCTION.certify(tgt, rand.plan, mats).error_bound == pytest.approx(ticket.error_bound, rel=1e-12)
    level = rand.plan.pairs[0][2]     # a level layer: only + weights may be kept there
    bad = [M.copy() for M in mats]
    r, c = np.argwhere(lin[level].weight.numpy() < 0)[0]
    bad[level][r, c] = lin[level].weight.numpy()[r, c]
    with pytest.raises(CertificateError, match="negative weight"):
        CONSTRUCTION.certify(tgt, rand.plan, bad)
    bad = [M.copy() for M in mats]
    bad[0][0, :] = lin[0].weight.numpy()[0, :]     # a univariate unit with two inputs
    with pytest.raises(CertificateError, match="more than one input"):
        CONSTRUCTION.certify(tgt, rand.plan, bad)
    bad = [M.copy() for M in mats]
    rows, cols = np.nonzero(bad[level])
    bad[level][rows[0], cols[0]] *= 3         # two magnitudes in one layer
    with pytest.raises(CertificateError, match="magnitudes"):
        CONSTRUCTION.certify(tgt, rand.plan, bad)
    other = sltheory.random_network(W, n=6, bits=4, seed=0, construction="binary")
    with pytest.raises(CertificateError):
        CONSTRUCTION.certify(tgt, other.plan, mats)


def test_inconsistent_copies_fall_back_to_the_copy_bound():
    """Copies of a hidden neuron that compute different things: the reduced chain does not apply;
    certify_copies does, and stays above the measured error."""
    W = [0.5 * M for M in sltheory.gaussian_target((2, 3, 2), 2)]
    rand, ticket = _ticket(W, n=8, bits=3)
    lin = rand.linears()
    masks = [m.numpy().copy() for m in ticket.masks]
    out0 = rand.plan.pairs[0][-1]       # block 0's output layer: drop one kept weight of a read copy
    read = np.flatnonzero(masks[out0 + 1].any(axis=0))
    row = int(read[0])
    col = int(np.flatnonzero(masks[out0][row])[0])
    masks[out0][row, col] = False
    mats = [np.where(m, L.weight.numpy(), 0.0) for m, L in zip(masks, lin)]
    tgt = sltheory.as_target(W)
    cert = CONSTRUCTION.certify(tgt, rand.plan, mats)
    g = masked_copy(rand, [torch.from_numpy(m) for m in masks])
    err, _ = lower_bound(sequential(W), g, 2, seed=0)
    assert cert.method == "layerwise" and err <= cert.error_bound


def test_failure_is_typed_and_informative():
    W = [0.5 * M for M in sltheory.gaussian_target((3, 4), 0)]
    rand = sltheory.random_network(W, n=2, bits=2, seed=0, construction="binary")
    with pytest.raises(ApproximationFailedError, match="bits") as info:
        sltheory.approximate(W, rand, eps=1e-3)
    exc = info.value
    assert exc.missed >= 1 and exc.error_bound > 1e-3 and all(a >= b for a, b in zip(exc.n_needed, exc.n))


@pytest.mark.parametrize("kw, match", [
    (dict(n=[3, 4]), "one n"),
    (dict(n=3, bits=41), "bits"),
    (dict(n=None), "give eps"),
    (dict(n=3, bogus=1), "unknown options"),
    (dict(n=3, width_factor=2.0), "either n= or width_factor="),
    (dict(eps=1e-12), "bits"),
])
def test_bad_plan_arguments(kw, match):
    W = [np.eye(2) * 0.5, np.eye(2) * 0.5]
    with pytest.raises(InvalidArgumentError, match=match):
        sltheory.random_network(W, seed=0, construction="binary", **kw)


def test_depth_bound_needs_bits():
    with pytest.raises(InvalidArgumentError, match="bits"):
        CONSTRUCTION.depth_bound(2)
    depth = CONSTRUCTION.depth_bound(2, dims=(3, 4, 2), eps=0.1)
    assert depth == pytest.approx(1 + 2 * (bits_rule((3, 4, 2), 0.1) + 2))


@pytest.mark.parametrize("seed", range(6))
def test_perturbed_masks_stay_sound(seed):
    """Random edits of a ticket's masks that keep the layout (drop kept weights anywhere, add kept
    + weights inside the levels, add any weight to the output layers): whatever the certificate
    path (reduced chain or copy bound), the bound is above the exact error (2 inputs)."""
    rng = np.random.default_rng(seed)
    dims = ((2, 3, 2), (2, 3, 3, 1), (2, 2))[seed % 3]
    W = [0.6 * M for M in sltheory.gaussian_target(dims, seed)]
    rand = sltheory.random_network(W, n=5, bits=3, seed=seed, construction="binary")
    ticket = sltheory.approximate(W, rand)
    lin = [L.weight.numpy() for L in rand.linears()]
    masks = [m.numpy().copy() for m in ticket.masks]
    outputs = {idx[-1] for idx in rand.plan.pairs}
    for t in range(1, len(masks)):
        kept = np.argwhere(masks[t])
        if len(kept):
            drop = kept[rng.random(len(kept)) < 0.1]
            masks[t][drop[:, 0], drop[:, 1]] = False
        allowed = np.ones_like(masks[t]) if t in outputs else lin[t] > 0
        add = (rng.random(masks[t].shape) < 0.01) & allowed
        masks[t] |= add
    g = masked_copy(rand, [torch.from_numpy(m) for m in masks])
    cert = CONSTRUCTION.certify(sltheory.as_target(W), rand.plan,
                                [np.where(m, w, 0.0) for m, w in zip(masks, lin)])
    exact, _ = lower_bound(sequential(W), g, 2, seed=0)
    assert exact <= cert.error_bound
