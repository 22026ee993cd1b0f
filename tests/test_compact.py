"""Tickets as torch models (issue 14, point 3): ``ticket.network`` holds the live units only, accepts
the caller's dtype and device, ``ticket.compact()`` is a plain ``nn.Sequential`` with identical
outputs, ``ticket.pruned_network()`` the full-width network with torch's prune buffers.

Bit for bit means exact arithmetic: a dense masked matmul sums the pruned zeros too, in another
order than the compact one (BLAS), so on real weights the two differ in the last bits (≈1e-15);
the tests that compare bits use weights whose sums are exact (the binary construction's ±1 with
small-integer inputs, or every weight replaced by a small dyadic value in both networks alike),
and real tickets are compared within the certificate's float slack."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory.network import RandomNetwork, masked_copy
from sltheory.ticket.compact import TicketNetwork, alive_units, build_network


def linears(module):
    return [m for m in module if isinstance(m, nn.Linear)]


def ticket_of(construction="subset_sum", dims=(3, 5, 2), n=8, seed=0, rescale=False):
    W = sltheory.gaussian_target(dims, seed)
    if rescale:
        W = [2.0 * w for w in W]
    rand = sltheory.random_network(W, n=n, seed=seed, construction=construction)
    return W, rand, sltheory.approximate(W, rand, rescale=rescale)


def dyadic(w: torch.Tensor) -> torch.Tensor:
    """A small dyadic value per weight (k/4, |k| ≤ 4, never 0): sums of products stay exact."""
    k = torch.round(w * 4)
    return torch.where(k == 0, torch.full_like(k, 1.0), k) / 4


def integer_inputs(dim, rows=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-3, 4, (rows, dim), generator=g).to(torch.float64)


def bits(t):
    return t.contiguous().view(torch.int64)


# ---------------------------------------------------------------- the live units
def test_alive_units_follow_the_definition():
    """Hand-made masks: a unit without kept input (and bias) is dead, a unit nothing reads is dead,
    a bias-only unit that is read is alive, and deadness propagates (a unit fed only by dead units)."""
    m0 = torch.zeros(5, 2, dtype=torch.bool)
    m0[0, 0] = m0[1, 1] = m0[3, 0] = True          # unit 2: no input; unit 4: bias only
    m1 = torch.zeros(4, 5, dtype=torch.bool)
    m1[0, 0] = m1[1, 2] = m1[2, 4] = True          # unit 1 and 3 of level 1 are read by nothing
    m1[3, 3] = True                                # ... but 3 is read by unit 3 of level 2, which nothing reads
    m2 = torch.zeros(2, 4, dtype=torch.bool)
    m2[0, 0] = m2[1, 1] = m2[1, 2] = True          # unit 1 of level 2 reads only unit 2 of level 1 (no input)
    bias = (torch.tensor([False, False, False, False, True]), None, None)
    units = alive_units([m0, m1, m2], bias)
    assert [u.tolist() for u in units] == [[0, 1], [0, 4], [0, 2], [0, 1]]
    # without the bias, unit 4 of level 1 is dead, and with it unit 2 of level 2
    assert [u.tolist() for u in alive_units([m0, m1, m2])] == [[0, 1], [0], [0], [0, 1]]
    # a level without any live unit keeps unit 0 (no zero-width layer); it contributes exactly 0
    units = alive_units([m0, torch.zeros(4, 5, dtype=torch.bool), m2])
    assert [u.tolist() for u in units] == [[0, 1], [0], [0], [0, 1]]


@pytest.mark.parametrize("seed", range(6))
def test_compact_equals_the_masked_network_bit_for_bit_on_random_structures(seed):
    """Random shapes, sparse random masks and bias masks, dyadic weights and biases, integer inputs:
    the network of the live units computes exactly what the full-width masked network computes,
    and every live unit is needed (it has a kept outgoing weight to a live unit and a kept incoming
    weight from one, or a kept bias)."""
    rng = np.random.default_rng(seed)
    widths = [int(rng.integers(2, 5))] + [int(rng.integers(3, 40)) for _ in range(int(rng.integers(1, 4)))] + [3]
    L = len(widths) - 1
    weights = [dyadic(torch.from_numpy(rng.uniform(-1, 1, (widths[t + 1], widths[t])))) for t in range(L)]
    biases = [dyadic(torch.from_numpy(rng.uniform(-1, 1, widths[t + 1]))) if t % 2 == 0 else None for t in range(L)]
    masks = [torch.from_numpy(rng.random((widths[t + 1], widths[t])) < 0.15) for t in range(L)]
    bias_masks = [None if b is None else torch.from_numpy(rng.random(len(b)) < 0.2) for b in biases]
    net = build_network(lambda t: weights[t], lambda t: biases[t], masks, bias_masks)
    layers: list[nn.Module] = []
    for t in range(L):
        lin = nn.Linear(widths[t], widths[t + 1], bias=biases[t] is not None, dtype=torch.float64)
        lin.weight.data = weights[t]
        if biases[t] is not None:
            lin.bias.data = biases[t]
        layers += [lin, nn.ReLU()]
    full = masked_copy(nn.Sequential(*layers[:-1]), masks, bias_masks)
    x = integer_inputs(widths[0], seed=seed)
    assert torch.equal(net(x), full(x))
    units = net.units
    for lv in range(1, L):
        for u in units[lv].tolist():
            reads = masks[lv][units[lv + 1], u].any()
            fed = masks[lv - 1][u, units[lv - 1]].any() or (bias_masks[lv - 1] is not None and bias_masks[lv - 1][u])
            assert (reads and fed) or units[lv].tolist() == [0], (lv, u)   # [0]: a level kept 1 unit wide
    assert sum(p.numel() for p in net.parameters()) <= sum(w.numel() + (0 if b is None else b.numel())
                                                           for w, b in zip(weights, biases))


def test_binary_ticket_compact_and_pruned_network_agree_bit_for_bit():
    """The binary construction's weights are ±1 and ±½: with integer inputs every sum is exact, so the
    compact network, the ticket's network and the pruned full-width network agree in every bit."""
    W, rand, ticket = ticket_of("binary", dims=(3, 4, 2), n=6)
    assert isinstance(ticket.network, TicketNetwork)
    x = integer_inputs(3)
    compact = ticket.compact()
    pruned = ticket.pruned_network()
    plain = ticket.pruned_network(prune_buffers=False)
    y = ticket(x)
    assert torch.equal(bits(y), bits(compact.network(x)))
    assert torch.equal(y, pruned(x)) and torch.equal(y, plain(x))
    assert torch.equal(y, masked_copy(rand, list(ticket.masks))(x))
    assert compact.parameters == sum(p.numel() for p in compact.network.parameters())
    assert compact.parameters < ticket.stats["random_weights"]


@pytest.mark.parametrize("construction", ["subset_sum", "malach", "burkholz", "orseau"])
def test_dyadic_weights_through_the_unit_maps_bit_for_bit(construction):
    """A real ticket's structure (masks, live units from compact()'s unit maps) with every random
    weight replaced by a dyadic value in both networks alike: exact arithmetic, identical bits."""
    n = {"subset_sum": 8, "malach": 60, "burkholz": 6, "orseau": 60}[construction]
    W, rand, ticket = ticket_of(construction, n=n)
    compact = ticket.compact()
    D = [dyadic(lin.weight.detach()) for lin in rand.linears()]
    for t, lin in enumerate(linears(compact.network)):
        block = D[t][compact.units[t + 1]][:, compact.units[t]]
        mask = ticket.masks[t][compact.units[t + 1]][:, compact.units[t]]
        lin.weight.data = torch.where(mask, block, torch.zeros((), dtype=torch.float64))
    full = masked_copy(rand, list(ticket.masks))
    for lin, d in zip(linears(full), D):
        lin.weight.data = torch.where(lin.weight != 0, d, torch.zeros((), dtype=torch.float64))
    x = integer_inputs(3)
    assert torch.equal(compact.network(x), full(x))


@pytest.mark.parametrize("construction", ["subset_sum", "natale", "malach_product", "burkholz", "pensia"])
def test_real_tickets_agree_within_the_float_slack(construction):
    n = {"malach_product": 100, "burkholz": 6}.get(construction, 8)
    W, rand, ticket = ticket_of(construction, n=n, rescale=construction == "subset_sum")
    x = torch.randn(256, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min(1.0)
    full = ticket.pruned_network(prune_buffers=False)
    gap = float(torch.linalg.vector_norm(ticket(x) - full(x), dim=1).max())
    assert gap <= ticket.certificate.float_slack
    assert torch.equal(ticket(x), ticket.compact().network(x))        # the same modules: the same bits
    err, _ = sltheory.adversarial_error(sltheory.as_target(W, check_norms=False).to_module(), ticket.network, 3,
                                        starts=64,
                                        refine=4, steps=20)
    assert err <= ticket.error_bound


def test_the_network_holds_only_the_live_units():
    W, rand, ticket = ticket_of("malach", n=200)
    widths = ticket.stats["compact_widths"]
    assert widths == tuple(len(u) for u in ticket.network.units)
    assert widths[0] == 3 and widths[-1] == 2
    held = sum(p.numel() for p in ticket.network.parameters())
    assert held == ticket.stats["compact_parameters"] == ticket.compact().parameters
    assert held < ticket.stats["random_weights"] / 20
    assert ticket.stats["precision"] == ticket.precision == "float64"


# ---------------------------------------------------------------- dtypes and devices
def test_float32_inputs_are_evaluated_in_float64_and_cast_back():
    W, rand, ticket = ticket_of()
    x32 = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    x32 = x32 / torch.linalg.vector_norm(x32, dim=1, keepdim=True).clamp_min(1.0)
    y = ticket(x32)
    assert y.dtype == torch.float32
    assert torch.equal(y, ticket(x32.double()).float())              # float64 inside, one cast at the edge
    assert ticket.network(x32.half()).dtype == torch.float16
    assert ticket.network(torch.ones(2, 3, dtype=torch.int64)).dtype == torch.float64
    target = sltheory.as_target(W).to_module().float()
    with torch.no_grad():
        assert float((target(x32) - y).norm(dim=1).max()) <= ticket.error_bound + 1e-5   # float32 rounding aside


def test_to_float32_gives_a_float32_ticket_and_leaves_the_original():
    W, rand, ticket = ticket_of(rescale=True)
    t32 = ticket.to(torch.float32)
    assert t32.dtype == torch.float32 and ticket.dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in ticket.network.parameters())
    x = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert t32(x).dtype == torch.float64 and t32(x.float()).dtype == torch.float32
    assert float((t32(x) - ticket(x)).abs().max()) < 1e-5
    assert t32.precision == "float64" and t32.error_bound == ticket.error_bound
    assert t32.compact().network[0].weight.dtype == torch.float32
    with pytest.raises(sltheory.CertificateError):
        t32.recertify(W)
    with pytest.raises(sltheory.InvalidArgumentError, match="float64"):
        t32.save("unused.npz")
    back = t32.to(torch.float64)
    assert back.recertify(W).error_bound >= 0          # a float32-rounded network, honestly recertified
    with pytest.raises(sltheory.InvalidArgumentError):
        ticket.to(torch.int32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_and_cuda_tickets():   # pragma: no cover - run where a GPU is
    W, rand, ticket = ticket_of()
    x = torch.randn(8, 3, dtype=torch.float64)
    y = ticket(x.cuda())
    assert y.device.type == "cuda" and torch.equal(y.cpu(), ticket(x))
    tc = ticket.to("cuda")
    assert tc.device.type == "cuda" and tc.masks[0].device.type == "cuda"
    torch.testing.assert_close(tc(x.cuda()).cpu(), ticket(x), rtol=0, atol=ticket.certificate.float_slack)
    assert tc(x).device.type == "cpu"


# ---------------------------------------------------------------- pruned_network
def test_pruned_network_has_torch_prune_buffers():
    W, rand, ticket = ticket_of(rescale=True)
    net = ticket.pruned_network()
    lins = linears(net)
    assert len(lins) == len(ticket.masks)
    for lin, mask, r in zip(lins, ticket.masks, rand.linears()):
        names = dict(lin.named_buffers())
        assert torch.equal(names["weight_mask"], mask.to(names["weight_mask"].dtype))
        assert torch.equal(dict(lin.named_parameters())["weight_orig"], r.weight)
        assert torch.equal(lin.weight, r.weight * mask)
    assert isinstance(list(net)[-1], sltheory.ticket.ScaledOutput)
    hand = sltheory.Ticket(network=ticket.network, masks=ticket.masks, error_bound=ticket.error_bound,
                           stats=ticket.stats, construction=ticket.construction, certificate=ticket.certificate)
    with pytest.raises(sltheory.InvalidArgumentError, match="plan/seed"):
        hand.pruned_network()


# ---------------------------------------------------------------- biases, files, recertify
def _ticket_with_biases(seed=0):
    """A hand-built ticket over a plan with random biases on its first and third linears (a plan
    as a bias construction makes it; no construction needed): random masks and bias masks."""
    W, rand, ticket = ticket_of(n=6, dims=(3, 4, 2))
    plan = dataclasses.replace(rand.plan, layer_biases=(("interval", 0.0, 1.0), None, ("interval", -1.0, 1.0), None))
    rand_b = RandomNetwork(plan, 11)
    rng = np.random.default_rng(seed)
    masks = tuple(torch.from_numpy(rng.random(tuple(m.shape)) < 0.3) for m in ticket.masks)
    bias_masks = tuple(None if lin.bias is None else torch.from_numpy(rng.random(lin.bias.shape[0]) < 0.5)
                       for lin in rand_b.linears())
    lins = rand_b.linears()
    net = build_network(lambda t: lins[t].weight, lambda t: lins[t].bias, masks, bias_masks)
    hand = sltheory.Ticket(network=net, masks=masks, error_bound=ticket.error_bound, stats={"output_scale": 1.0},
                           construction=plan.construction, certificate=ticket.certificate, plan=plan, seed=11,
                           bias_masks=bias_masks)
    return rand_b, hand


def test_biases_round_trip_through_a_ticket_file(tmp_path):
    rand_b, hand = _ticket_with_biases()
    assert any(lin.bias is not None for lin in linears(hand.network))
    loaded = sltheory.load_ticket(hand.save(tmp_path / "b.npz"))
    for a, b in zip(linears(hand.network), linears(loaded.network)):
        assert torch.equal(bits(a.weight), bits(b.weight))
        assert (a.bias is None) == (b.bias is None) and (a.bias is None or torch.equal(bits(a.bias), bits(b.bias)))
    assert all((x is None and y is None) or torch.equal(x, y) for x, y in zip(hand.bias_masks, loaded.bias_masks))
    assert loaded.plan == hand.plan and loaded.plan.layer_biases[0] == ("interval", 0.0, 1.0)
    x = torch.randn(32, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded(x), hand(x))
    full = hand.pruned_network()
    assert {"bias_orig", "bias_mask"} <= {n.split(".")[-1] for n, _ in full.named_parameters()} | \
        {n.split(".")[-1] for n, _ in full.named_buffers()}
    torch.testing.assert_close(full(x), hand(x), rtol=0, atol=1e-13)
    assert torch.equal(full(x), masked_copy(rand_b, list(hand.masks), list(hand.bias_masks))(x))


def test_old_v3_file_still_loads(tmp_path):
    """tests/data/ticket_v3.npz was written at commit d1a486a (format version 3, full-width network):
    approximate(W, random_network(W, n=6, seed=5, construction="malach_product"), rescale=True) with
    W = 2.5 · gaussian_target((3, 4, 2), 5). It loads into the compact network of today's ticket."""
    from pathlib import Path
    W = [2.5 * w for w in sltheory.gaussian_target((3, 4, 2), 5)]
    old = sltheory.load_ticket(Path(__file__).parent / "data" / "ticket_v3.npz")
    now = sltheory.approximate(W, sltheory.random_network(W, n=6, seed=5, construction="malach_product"),
                               rescale=True)
    assert old.bias_masks is None and all(torch.equal(a, b) for a, b in zip(old.masks, now.masks))
    for a, b in zip(linears(old.network), linears(now.network)):
        assert torch.equal(bits(a.weight), bits(b.weight))
    assert old.error_bound == now.error_bound
    assert old.recertify(W).error_bound == pytest.approx(old.error_bound, rel=1e-9)
    again = sltheory.load_ticket(old.save(tmp_path / "v4.npz"))
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(linears(old.network), linears(again.network)))


def test_recertify_covers_an_edited_live_weight():
    """An edit of a weight the network holds between live units but the mask prunes is part of the
    network as it is: recertify bounds it (the kept weights of dead units are re-sampled)."""
    W, rand, ticket = ticket_of(n=8)
    units = ticket.network.units
    last = ticket.masks[-1][units[-1]][:, units[-2]]
    r, c = (~last).nonzero()[0].tolist()
    with torch.no_grad():
        linears(ticket.network)[-1].weight[r, c] = 5.0
    x = torch.randn(512, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
    with torch.no_grad():
        err = float(torch.linalg.vector_norm(sltheory.as_target(W).to_module()(x) - ticket(x), dim=1).max())
    assert ticket.recertify(W).error_bound >= err > ticket.error_bound


def test_hand_built_ticket_is_checked():
    W, rand, ticket = ticket_of()
    bad = [m.clone() for m in ticket.masks]
    bad[0] = bad[0][:-1]
    with pytest.raises(sltheory.InvalidArgumentError):
        sltheory.Ticket(network=ticket.network, masks=tuple(bad), error_bound=1.0, stats={},
                        construction="subset_sum", certificate=ticket.certificate)
    with pytest.raises(sltheory.InvalidArgumentError, match="bias mask"):
        sltheory.Ticket(network=ticket.network, masks=ticket.masks, error_bound=1.0, stats={},
                        construction="subset_sum", certificate=ticket.certificate,
                        bias_masks=(torch.ones(3, dtype=torch.bool),) * len(ticket.masks))
    # the full-width form of before is still a valid ticket network
    full = masked_copy(rand, list(ticket.masks))
    old_style = dataclasses.replace(ticket, network=full)
    assert old_style.recertify(W).error_bound == pytest.approx(ticket.error_bound, rel=1e-9)
    assert old_style.compact().units[1].numel() == ticket.masks[0].shape[0]


def test_every_byte_flip_of_a_bias_ticket_file_gives_the_ticket_or_a_typed_error(tmp_path):
    """The version-4 members (bias indices, bias_kept_counts, the plan's bias laws) are covered by the
    digest and the checks like the rest: every flipped byte loads the same ticket or is refused."""
    from test_ticket_file_faults import byte_flips, same

    _, hand = _ticket_with_biases(seed=1)
    data = hand.save(tmp_path / "b.npz").read_bytes()
    bad_path = tmp_path / "bad.npz"
    typed = equal = 0
    for what, bad in byte_flips(data):
        bad_path.write_bytes(bad)
        try:
            got = sltheory.load_ticket(bad_path)
        except sltheory.TicketFileError:
            typed += 1
            continue
        assert same(hand, got), what
        assert all(torch.equal(bits(a.bias), bits(b.bias)) for a, b in zip(linears(hand.network), linears(got.network))
                   if a.bias is not None), what
        assert all(x is None and y is None or torch.equal(x, y) for x, y in zip(hand.bias_masks, got.bias_masks))
        equal += 1
    assert typed > len(data) // 2 and equal > 0
