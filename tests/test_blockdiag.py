"""The block-diagonal variant of Pensia et al.'s construction ("subset_sum_blockdiag"): its random
network holds exactly the structure the dense proof keeps, and counts only those weights."""

import math

import numpy as np
import pytest
import torch
from _tickets import check_ticket, linears  # noqa: E402
from scipy import stats

import sltheory
from sltheory import InvalidArgumentError
from sltheory.constructions.subset_sum import samples_per_block

NAME = "subset_sum_blockdiag"


def test_first_sublayers_hold_one_weight_per_unit_in_its_slot():
    W = sltheory.gaussian_target((5, 7, 3), 0)
    rand = sltheory.random_network(W, n=6, seed=1, construction=NAME)
    A1, B1, A2, B2 = (lin.weight for lin in rand.linears())
    assert A1.shape == (6 * 2 * 5, 5) and A2.shape == (6 * 7, 7)         # n·2d_in signed, n·d_in after ReLU
    for A, signed in ((A1, True), (A2, False)):
        nz = A != 0
        assert torch.all(nz.sum(dim=1) == 1)
        slot = torch.arange(A.shape[0]) // 6
        col = slot // 2 if signed else slot
        assert torch.equal(torch.nonzero(nz)[:, 1], col)
        vals = A[torch.arange(A.shape[0]), col]
        sign = torch.where(slot % 2 == 1, -1.0, 1.0).double() if signed else torch.ones(A.shape[0]).double()
        assert torch.all(torch.sign(vals) == sign)
    assert torch.all(B1 != 0) and torch.all(B2 != 0)                    # B dense, as in the theorem
    assert rand.plan.num_random_weights == A1.shape[0] * (1 + 7) + A2.shape[0] * (1 + 3)
    assert rand.plan.stored_weights == sum(A.numel() + B.numel() for A, B in ((A1, B1), (A2, B2)))


def test_the_memory_cap_counts_the_stored_entries_not_the_random_weights():
    """A slot layer is stored dense (its zeros included): max_weights caps what memory holds."""
    W = sltheory.gaussian_target((5, 7, 3), 0)
    plan = sltheory.random_network(W, n=6, seed=1, construction=NAME).plan
    assert plan.num_random_weights < plan.stored_weights
    for cap in (plan.num_random_weights, plan.stored_weights - 1):
        with pytest.raises(sltheory.NetworkTooLargeError) as info:
            sltheory.random_network(W, n=6, seed=1, construction=NAME, max_weights=cap)
        assert info.value.required_weights == plan.stored_weights and info.value.limit == cap
    sltheory.random_network(W, n=6, seed=1, construction=NAME, max_weights=plan.stored_weights)


def test_magnitudes_are_uniform_and_b_is_uniform():
    """|a_k| ~ U[0, 1] (the law of |a| given its sign, a ~ U[−1, 1]); B ~ U[−1, 1)."""
    rand = sltheory.random_network([np.zeros((40, 20))], n=60, seed=0, construction=NAME)
    A, B = (lin.weight for lin in rand.linears())
    mags = A[A != 0].abs().numpy()
    assert mags.size == 60 * 40
    assert stats.kstest(mags, "uniform").pvalue > 1e-3
    assert stats.kstest(B.numpy().ravel(), "uniform", args=(-1, 2)).pvalue > 1e-3


def test_same_rule_half_the_weights():
    W = sltheory.gaussian_target((32, 32, 32), 0)
    dense = sltheory.random_network(W, eps=0.01, seed=0)
    block = sltheory.random_network(W, eps=0.01, seed=0, construction=NAME)
    assert block.n == dense.n == tuple(math.ceil(samples_per_block(32, 32, 2, 0.01, 0.05)) for _ in range(2))
    n1, n2 = block.n
    assert block.plan.num_random_weights == n1 * 64 * (1 + 32) + n2 * 32 * (1 + 32)
    spec = sltheory.construction(NAME)
    assert 0 <= block.plan.num_random_weights - spec.parameter_bound((32, 32, 32), 0.01, 0.05) < 64 * 33 + 32 * 33
    ratio = block.plan.num_random_weights / dense.plan.num_random_weights
    assert 0.45 < ratio < 0.55


def test_every_slot_holds_exactly_n_units():
    W = sltheory.gaussian_target((6, 9, 4), 2)
    rand = sltheory.random_network(W, n=7, seed=5, construction=NAME)
    ticket = sltheory.approximate(W, rand)
    for layer in ticket.stats["layers"]:
        assert layer["slot_count_min"] == layer["slot_count_mean"] == 7
    check_ticket(W, rand, ticket)


def test_network_eps_contract_and_per_weight_mode():
    W = sltheory.gaussian_target((6, 12, 4), 3)
    rand = sltheory.random_network(W, eps=0.05, seed=0, construction=NAME)
    ticket = sltheory.approximate(W, rand, eps=0.05)
    assert ticket.error_bound <= 0.05
    err, _ = sltheory.adversarial_error(sltheory.as_target(W), ticket.network, 6)
    assert err <= ticket.error_bound
    pw = sltheory.approximate(W, rand, weight_tol=0.01)
    assert pw.stats["max_weight_error"] <= 0.01


def test_graph_has_one_edge_per_random_weight():
    W = sltheory.gaussian_target((2, 3, 2), 0)
    rand = sltheory.random_network(W, n=3, seed=0, construction=NAME)
    ticket = sltheory.approximate(W, rand)
    g = ticket.to_networkx()
    assert g.number_of_edges() == rand.plan.num_random_weights
    for _, _, e in g.edges(data=True):
        assert e["weight"] != 0.0
    assert sum(e["kept"] for _, _, e in g.edges(data=True)) == ticket.stats["kept_weights"]


def test_spare_negative_half_does_not_apply():
    with pytest.raises(InvalidArgumentError, match="does not apply"):
        sltheory.random_network([np.zeros((2, 2))], n=3, seed=0, construction=NAME, spare_negative_half=False)


def test_dense_layers_are_unchanged_by_the_layer_kinds():
    """Adding layer kinds to the plan must not change a dense construction's stream."""
    from sltheory.network import sample_layer

    rand = sltheory.random_network([np.zeros((3, 4))], n=2, seed=9)
    assert rand.plan.layer_kinds == ()
    for t, lin in enumerate(linears(rand)):
        assert torch.equal(lin.weight, sample_layer(9, t, tuple(lin.weight.shape)))


def test_balanced_signs_split_every_problem_evenly(tmp_path):
    W = sltheory.gaussian_target((4, 6, 3), 1)
    n = 7
    rand = sltheory.random_network(W, n=n, seed=2, construction=NAME, balanced_signs=True)
    plain = sltheory.random_network(W, n=n, seed=2, construction=NAME)
    for A, B, B0 in zip(linears(rand)[::2], linears(rand)[1::2], linears(plain)[1::2]):
        assert torch.equal(B.weight.abs(), B0.weight.abs())        # same magnitudes, signs by design
        samples = (A.weight.abs().sum(dim=1)[None, :] * B.weight).reshape(B.weight.shape[0], -1, n)
        pos = (samples > 0).sum(dim=2)
        assert torch.all((pos == n // 2) | (pos == (n + 1) // 2))
    ticket = sltheory.approximate(W, rand)
    check_ticket(W, rand, ticket)
    path = ticket.save(tmp_path / "balanced.npz")
    loaded = sltheory.load_ticket(path)
    for a, b in zip(linears(ticket.network), linears(loaded.network)):
        assert torch.equal(a.weight, b.weight)
    assert loaded.plan == ticket.plan and loaded.plan.layer_kinds[1] == ("balanced",)


def test_balanced_signs_need_fewer_samples_than_random_signs():
    """The reach lever measured on one small case: at n = 10 on a 16-16-16 target, balanced signs
    certify ε = 0.05 on more seeds than random signs (benchmarks/counting_limit.py has the rest)."""
    def successes(**options):
        ok = 0
        for s in range(6):
            W = sltheory.gaussian_target((16, 16, 16), 100 + s)
            rand = sltheory.random_network(W, n=10, seed=s, construction=NAME, **options)
            ok += sltheory.approximate(W, rand, min_cardinality=False).error_bound <= 0.05
        return ok
    assert successes(balanced_signs=True) > successes()


@pytest.mark.parametrize("call", [
    lambda: sltheory.random_network([np.zeros((2, 2))], n=3, seed=0, balanced_signs=True),
    lambda: sltheory.random_network([np.zeros((2, 2))], n=3, seed=0, construction=NAME, balanced_signs=1),
])
def test_balanced_signs_bad_use(call):
    with pytest.raises(InvalidArgumentError):
        call()
