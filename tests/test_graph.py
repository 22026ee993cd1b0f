"""Ticket.to_networkx and sltheory.plotting: the graph matches the random network and the masks,
its ``serves`` recomputes the ticket's effective maps path by path, and it survives JSON."""

from collections import defaultdict
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _tickets import linears  # noqa: E402

import sltheory  # noqa: E402
from sltheory import InvalidArgumentError, NetworkTooLargeError  # noqa: E402
from sltheory.certificate.bound import pair_effective_map  # noqa: E402
from sltheory.report.plotting import draw_ticket_graph, graph_from_json, graph_to_json, weight_label  # noqa: E402

CONSTRUCTIONS = sorted(sltheory.constructions())
#: samples per block of the tiny tickets (a few hundred random weights each)
#: One line per construction (a new one adds its own).
TINY_N = {
    "subset_sum": 4,
    "subset_sum_blockdiag": 4,
    "pensia": 4,
    "natale": 4,
    "malach": 8,
    "malach_product": 8,
    "orseau": 6,
    "orseau_halving": 6,
    "burkholz": 3,
    "binary": 4,
}
DIMS = (2, 3, 2)


@pytest.fixture(scope="module", params=CONSTRUCTIONS)
def case(request):
    if request.param == "binary":   # a block of K + 2 layers per target layer: not a pair or a copy layer
        pytest.skip("Ticket.to_networkx knows pairs of consecutive layers and single (copy) layers only")
    target = sltheory.gaussian_target(DIMS, 7)
    rand = sltheory.random_network(target, n=TINY_N[request.param], seed=3, construction=request.param)
    ticket = sltheory.approximate(target, rand)
    return target, rand, ticket, ticket.to_networkx(), ticket.to_networkx(kept_only=True)


def _random_and_masks(rand, ticket):
    return ([lin.weight.detach().numpy() for lin in linears(rand)], [m.numpy() for m in ticket.masks])


@pytest.mark.parametrize("kept_only", [False, True])
def test_graph_matches_random_network_and_masks(case, kept_only):
    target, rand, ticket, full, kept = case
    g = kept if kept_only else full
    W, M = _random_and_masks(rand, ticket)
    assert nx.is_directed_acyclic_graph(g)
    widths = [W[0].shape[1]] + [w.shape[0] for w in W]
    assert g.number_of_nodes() == sum(widths)
    for layer, width in enumerate(widths):
        role = "input" if layer == 0 else "output" if layer == len(W) else "hidden"
        for i in range(width):
            d = g.nodes[(layer, i)]
            assert (d["layer"], d["index"], d["role"]) == (layer, i, role)
    # all edges: every random weight (each entry of a dense layer, one per row of a slot layer)
    assert g.number_of_edges() == (sum(int(m.sum()) for m in M) if kept_only else rand.plan.num_random_weights)
    n_target = {(t, o, j) for t, (d_out, d_in) in enumerate(rand.plan.target_shapes)
                for o in range(d_out) for j in range(d_in)}
    for (l_in, c), (l_out, r), d in g.edges(data=True):
        assert l_out == l_in + 1 == d["layer"] + 1
        assert type(d["weight"]) is float and d["weight"] == W[d["layer"]][r, c]  # bit for bit
        assert d["kept"] is bool(M[d["layer"]][r, c])
        assert isinstance(d["serves"], tuple)
        assert list(d["serves"]) == sorted(set(d["serves"])) and set(d["serves"]) <= n_target
        assert bool(d["serves"]) == d["kept"]  # pruned: (); every kept edge of a ticket serves something
    assert g.graph["construction"] == ticket.construction
    assert g.graph["target_shapes"] == rand.plan.target_shapes
    assert g.graph["error_bound"] == ticket.error_bound and g.graph["kept_only"] is kept_only
    assert g.graph["kept_weights"] == ticket.stats["kept_weights"]
    assert g.graph["random_weights"] == ticket.stats["random_weights"]


def _path_sums(g, first, second):
    """Σ over kept paths c → k → r (random layers first, second) of w1·w2, keyed by the
    second-sub-layer edge's ``serves`` and its output r; also checks each first-sub-layer edge
    serves exactly what its kept out-edges serve."""
    sums = defaultdict(float)
    for (_, k), (_, r), d in g.edges(data=True):
        if d["layer"] != second or not d["kept"]:
            continue
        (served,) = d["serves"]
        ins = [(u, e) for u, _, e in g.in_edges((second, k), data=True) if e["kept"]]
        assert [u[1] for u, _ in ins] == [served[2]]  # the unit's one kept input is x_j
        for _, e in ins:
            sums[served, r] += e["weight"] * d["weight"]
    for u, (_, k), d in g.edges(data=True):
        if d["layer"] == first and d["kept"]:
            outs = {s for _, _, e in g.out_edges((first + 1, k), data=True) if e["kept"] for s in e["serves"]}
            assert set(d["serves"]) == outs
    return sums


def test_serves_recomputes_effective_maps(case):
    """Σ over kept paths of the product of their random weights, grouped by ``serves``, equals
    the ticket's effective map recomputed from the masked random weights (P − N of each pair,
    Burkholz's copy sums), to 1e-12."""
    target, rand, ticket, full, kept = case
    W, M = _random_and_masks(rand, ticket)
    plan = rand.plan
    for g in (full, kept):
        for t, pair in enumerate(plan.pairs):
            d_out, d_in = plan.target_shapes[t]
            if len(pair) == 2:
                a, b = pair
                eff = pair_effective_map(W[a] * M[a], W[b] * M[b], plan.signed[t])
                expected = eff.P - eff.N if eff.N is not None else eff.P  # rows: outputs (or copies)
                sums = _path_sums(g, a, b)
            else:
                (a,) = pair
                rho_in = W[a].shape[1] // d_in
                expected = (W[a] * M[a]).reshape(W[a].shape[0], d_in, rho_in).sum(axis=2)
                sums = defaultdict(float)
                for _, (_, r), d in g.edges(data=True):
                    if d["layer"] == a and d["kept"]:
                        (served,) = d["serves"]
                        sums[served, r] += d["weight"]
            rho_out = expected.shape[0] // d_out
            got = np.zeros_like(expected)
            for ((tt, o, j), r), value in sums.items():
                assert tt == t and o == r // rho_out
                got[r, j] = value
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_burkholz_copy_nodes_name_their_target_neuron():
    target = sltheory.gaussian_target(DIMS, 7)
    rand = sltheory.random_network(target, n=3, seed=3, construction="burkholz")
    g = sltheory.approximate(target, rand).to_networkx(kept_only=True)
    rho = rand.plan.options["copies"][0]
    assert [g.nodes[(2, r)]["target_neuron"] for r in range(3 * rho)] == [(1, r // rho) for r in range(3 * rho)]
    assert g.nodes[(1, 0)]["target_neuron"] is None and g.nodes[(0, 1)]["target_neuron"] == (0, 1)
    assert g.nodes[(3, 1)]["target_neuron"] == (2, 1)


def test_json_round_trip(case):
    *_, full, kept = case
    for g in (full, kept):
        back = graph_from_json(graph_to_json(g))
        assert back.graph == g.graph
        assert list(back.nodes(data=True)) == list(g.nodes(data=True))
        assert list(back.edges(data=True)) == list(g.edges(data=True))
        assert all(isinstance(d["serves"], tuple) and all(isinstance(s, tuple) for s in d["serves"])
                   for *_, d in back.edges(data=True))


def test_draw_ticket_graph(case):
    *_, full, kept = case
    fig, (ax1, ax2) = plt.subplots(1, 2)
    try:
        assert draw_ticket_graph(full, ax1) is ax1
        assert draw_ticket_graph(kept, ax2, max_paths=3, show_pruned=False) is ax2
        ax = draw_ticket_graph(graph_from_json(graph_to_json(full)))  # deterministic: same segments
        first = [c.get_segments() for c in ax1.collections if hasattr(c, "get_segments")]
        again = [c.get_segments() for c in ax.collections if hasattr(c, "get_segments")]
        assert len(first) == len(again) and all(
            len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b)) for a, b in zip(first, again))
        labels = [t.get_text() for t in ax1.get_legend().get_texts()]
        assert weight_label((0, 1, 0)) == "W1[1,0]" and any(lbl.startswith("W1[") for lbl in labels)
        plt.close(ax.figure)
    finally:
        plt.close(fig)


def test_limits_and_errors(case):
    target, rand, ticket, full, kept = case
    with pytest.raises(NetworkTooLargeError, match="edges"):
        ticket.to_networkx(max_edges=full.number_of_edges() - 1)
    assert ticket.to_networkx(kept_only=True, max_edges=kept.number_of_edges()).number_of_edges() == \
        kept.number_of_edges()
    with pytest.raises(InvalidArgumentError, match="plan"):
        replace(ticket, plan=None).to_networkx()
    with pytest.raises(InvalidArgumentError):
        ticket.to_networkx(kept_only=1)


def test_rescaled_ticket_graph():
    target = [2 * w for w in sltheory.gaussian_target(DIMS, 1)]
    rand = sltheory.random_network(target, n=4, seed=0)
    ticket = sltheory.approximate(target, rand, rescale=True)
    g = ticket.to_networkx(kept_only=True)
    assert g.graph["output_scale"] == pytest.approx(4.0)
    assert g.number_of_edges() == ticket.stats["kept_weights"]
