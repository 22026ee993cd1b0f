"""Invariants every ticket must satisfy, whatever the construction (shared by the tests)."""

import pytest
import torch
from torch import nn

import sltheory

ADV = dict(starts=256, refine=4, steps=30)  # adversarial search, small enough for 2 cores

#: samples per block small enough for fast property tests, per construction
#: Per construction (one line each: a new construction adds its own line): the range of n drawn
#: by the property tests.
SMALL_N = {
    "subset_sum": (1, 14),
    "subset_sum_blockdiag": (1, 14),
    "pensia": (1, 14),
    "natale": (1, 14),
    "malach": (1, 300),
    "malach_product": (1, 300),
    "orseau": (1, 300),
    "orseau_halving": (1, 300),
    "burkholz": (1, 12),
    "binary": (1, 6),
}
#: Constructions whose theorem width rule is small enough for the ε-contract property test.
RULE_WIDTH = {"subset_sum", "burkholz", "pensia", "orseau"}


def linears(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def check_ticket(target, rand, ticket):
    """Masks binary and shaped like the random layers; kept weights bit for bit, the rest 0;
    the kept first layer is univariate; adversarial error ≤ certified bound. Returns the error."""
    rl, tl = linears(rand), linears(ticket.network)
    assert len(ticket.masks) == len(rl) == len(tl)
    units = ticket.compact().units   # ticket.network: the live units of the masked random network
    # binary: the depth grows with the bits (ε), recorded in the plan
    bits = {"bits": rand.plan.options["bits"]} if rand.construction == "binary" else {}
    assert len(rl) == sltheory.construction(rand.construction).depth_bound(len(rand.plan.target_shapes), **bits)
    for i, (mask, r, t) in enumerate(zip(ticket.masks, rl, tl)):
        assert mask.dtype == torch.bool and mask.shape == r.weight.shape
        full = torch.where(mask, r.weight, torch.zeros((), dtype=torch.float64))
        assert torch.equal(t.weight, full[units[i + 1]][:, units[i]])   # kept weights bit for bit, the rest 0
    assert int(ticket.masks[0].sum(dim=1).max()) <= 1  # one kept input per first-layer unit
    assert ticket.stats["kept_weights"] == sum(int(m.sum()) for m in ticket.masks)
    # random weights: every entry of a dense layer, one per row of a slot-structured one
    assert ticket.stats["random_weights"] == rand.plan.num_random_weights
    assert rand.plan.num_random_weights == sum(int((r.weight != 0).sum()) for r in rl)
    tgt = sltheory.as_target(target, check_norms=False)
    err, x = sltheory.adversarial_error(tgt, ticket.network, tgt.dims[0], **ADV)
    assert x.shape == (tgt.dims[0],) and float(torch.linalg.vector_norm(x)) == pytest.approx(1.0)
    assert err <= ticket.error_bound, (err, ticket.error_bound)
    return err
