"""Low-precision targets (issue 11, point 6): the certified bound covers the float64 evaluation of
both networks, and adversarial_error evaluates modules in float64, so a float32 or float16 target
never shows an "error" above the bound that is only its own rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sltheory

DIMS = (3, 4, 2)
#: Below float32's rounding of this target's outputs (~1e-7), so the test tells the two evaluations apart.
EPS = 1e-9


@pytest.fixture(scope="module")
def gaussian():
    return sltheory.gaussian_target(DIMS, 0)


def module_in(weights, dtype) -> torch.nn.Sequential:
    """The target as an nn.Sequential whose weights are 0.99 × the float64 ones rounded to ``dtype``
    (‖W_i‖₂ ≤ 1 survives the rounding)."""
    return sltheory.as_target([0.99 * w for w in weights]).to_module().to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_adversarial_error_of_a_low_precision_target_stays_below_the_bound(gaussian, dtype):
    target = module_in(gaussian, dtype)
    rand = sltheory.random_network(target, eps=EPS, seed=0)
    ticket = sltheory.approximate(target, rand, eps=EPS)   # reads the dtype weights exactly
    assert ticket.error_bound <= EPS
    err, x = sltheory.adversarial_error(target, ticket.network, DIMS[0], starts=256, refine=8, steps=40)
    assert err <= ticket.error_bound
    assert next(target.parameters()).dtype == dtype          # the float64 copy left the module alone
    # What the search reported before: the target evaluated in its own precision (a callable keeps
    # the precision it computes in). Its rounding (u = 2^-24 in float32, 2^-11 in float16) is above
    # the bound, so that search "found" errors above the certified bound.
    low, _ = sltheory.adversarial_error(lambda v: target(v.to(dtype)), ticket.network, DIMS[0], starts=256,
                                        refine=8, steps=40)
    assert low > ticket.error_bound


def test_low_precision_bound_is_that_of_the_float64_copy(gaussian):
    """The float16 target's bound is the bound of its weights read exactly in float64."""
    target16 = module_in(gaussian, torch.float16)
    exact = [m.weight.detach().to(torch.float64).numpy() for m in target16 if isinstance(m, torch.nn.Linear)]
    rand = sltheory.random_network(target16, n=12, seed=1)
    a = sltheory.approximate(target16, rand)
    b = sltheory.approximate(exact, rand)
    assert a.error_bound == b.error_bound
    assert all(torch.equal(m, n) for m, n in zip(a.masks, b.masks))
    assert np.isfinite(a.error_bound)
