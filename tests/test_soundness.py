"""Soundness: every construction's certificate against an independent lower bound (issue 11).

``ticket.error_bound`` claims ≥ sup_{‖x‖₂≤1} ‖f(x) − ticket.network(x)‖₂ (float64, against the
ORIGINAL target when rescaled). :func:`sltheory.testing.lower_bound.lower_bound` evaluates that
error at points of the ball, sharing no code with the certificate: exact for input dimension 1
and (up to regions thinner than its grid) 2, a strong multi-start ascent above. Tickets of every
construction in both modes (ε given, ε = None) and the per-weight mode where offered, depth 1–3,
input dimension ≤ 3 and > 3, targets scaled by 0.3, 1 and 2 (rescale=True).
"""

import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import sltheory
from sltheory.testing.lower_bound import _compress, lower_bound, sequential

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import soundness  # noqa: E402

CONSTRUCTIONS = sorted(sltheory.constructions())
#: eps=None: small n per construction (samples per block; malach/orseau need more)
#: (one line per construction: a new one adds its own line here and in EPS_MODE)
N_BEST = {
    "subset_sum": 8,
    "subset_sum_blockdiag": 8,
    "pensia": 8,
    "natale": 8,
    "burkholz": 5,
    "malach": 40,
    "malach_product": 40,
    "orseau": 40,
    "orseau_halving": 40,
    "binary": 8,
}
#: eps given: (n, ε) — n None is the construction's width rule; ε is for an unscaled target
#: (times the output scale when rescaled). Chosen so that approximate succeeds on these targets.
EPS_MODE = {
    "subset_sum": (None, 0.1),
    "subset_sum_blockdiag": (None, 0.1),
    "pensia": (None, 0.1),
    "natale": (24, 0.1),
    "burkholz": (None, 0.4),
    "malach": (800, 0.15),
    "malach_product": (200, 0.1),
    "orseau": (None, 0.1),
    "orseau_halving": (300, 0.6),
    "binary": (None, 0.1),
}
SCALES = (0.3, 1.0, 2.0)   # 2.0: ‖W_i‖₂ = 2, built with rescale=True (per-weight mode: raw)
LOW_DIMS = (1, 2, 3)


def _dims(d0: int, depth: int, index: int) -> tuple[int, ...]:
    hidden = (5, 4, 4) if d0 <= 3 else (4, 5, 3)
    return (d0,) + hidden[:depth - 1] + (2 + index % 2,)


def _cases():
    out = []
    for c in CONSTRUCTIONS:
        k = 0
        for mode in ("eps", "best"):
            for depth in (1, 2, 3):
                for d0 in (LOW_DIMS[k % 3], 5):
                    scale = SCALES[k % 3]
                    rescale = scale > 1
                    if mode == "best":
                        n, eps = N_BEST[c], None
                    else:
                        n, eps = EPS_MODE[c]
                        eps = eps * (scale ** depth if rescale else 1.0)
                    out.append(soundness.Case(index=len(out), construction=c, mode=mode,
                                              dims=_dims(d0, depth, k), target_seed=100 + k, scale=scale,
                                              rescale=rescale, n=n, eps=eps, weight_tol=None,
                                              weight_bound=None, seed=k))
                    k += 1
        if getattr(sltheory.construction(c), "per_weight_mode", False):
            for depth in (1, 2, 3):
                for d0, scale in ((LOW_DIMS[depth - 1], 2.0), (5, 1.0)):
                    out.append(soundness.Case(index=len(out), construction=c, mode="weight_tol",
                                              dims=_dims(d0, depth, k), target_seed=200 + k, scale=scale,
                                              rescale=False, n=None, eps=None, weight_tol=0.05,
                                              weight_bound=scale, seed=k))
                    k += 1
    return out


CASES = _cases()


def _check(case, **lb_options):
    ticket = case.build()
    if case.mode == "eps":
        assert ticket.error_bound <= case.eps
    lower, x = lower_bound(sequential(case.target()), ticket.network, case.dims[0], seed=case.index,
                           **lb_options)
    assert float(torch.linalg.vector_norm(x)) <= 1.0
    assert ticket.error_bound >= lower, (
        f"unsound certificate: error_bound {ticket.error_bound!r} < lower bound {lower!r}; "
        f"reproducer: {case.reproducer()}")
    return ticket.error_bound, lower


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.construction}-{c.mode}-{'x'.join(map(str, c.dims))}"
                         f"-s{c.scale}")
def test_error_bound_dominates_lower_bound(case):
    _check(case)


def test_case_grid_covers_every_construction_mode_depth_and_dimension():
    seen = {(c.construction, c.mode, len(c.dims) - 1, c.dims[0] > 3) for c in CASES}
    for c in CONSTRUCTIONS:
        per_weight = getattr(sltheory.construction(c), "per_weight_mode", False)
        modes = ["eps", "best"] + (["weight_tol"] if per_weight else [])
        for mode in modes:
            for depth in (1, 2, 3):
                assert (c, mode, depth, False) in seen and (c, mode, depth, True) in seen, (c, mode, depth)
    assert {c.dims[0] for c in CASES} >= {1, 2, 3, 5}
    assert any(c.rescale for c in CASES) and {c.scale for c in CASES} == set(SCALES)


def test_burkholz_reproducer_issue_11():
    """8 of 2,793 tickets of an independent attack were unsound, all burkholz with eps=None at
    depth ≥ 2; this one certified 0.181 with a true error ≥ 0.296."""
    W = [0.3 * w for w in sltheory.gaussian_target((3, 5, 5), 9)]
    t = sltheory.approximate(W, sltheory.random_network(W, n=6, seed=9, construction="burkholz"))
    lower, _ = lower_bound(sequential(W), t.network, 3, seed=0)
    assert t.error_bound >= lower, (t.error_bound, lower)


# --- the lower bound itself ------------------------------------------------------------------


def _random_relu_net(gen, dims):
    return sequential([torch.randn(o, i, generator=gen, dtype=torch.float64) / math.sqrt(i)
                       for i, o in zip(dims[:-1], dims[1:])])


def test_lower_bound_is_an_evaluation_inside_the_ball():
    gen = torch.Generator().manual_seed(0)
    for dim in (1, 2, 3, 6):
        f, g = _random_relu_net(gen, (dim, 7, 3)), _random_relu_net(gen, (dim, 5, 4, 3))
        value, x = lower_bound(f, g, dim, seed=1, starts=64, keep=8, steps=10)
        assert x.shape == (dim,) and x.dtype == torch.float64
        assert float(torch.linalg.vector_norm(x)) <= 1.0
        with torch.no_grad():
            assert value == float(torch.linalg.vector_norm(f(x[None]) - g(x[None])))
        assert lower_bound(f, g, dim, seed=1, starts=64, keep=8, steps=10)[0] == value  # deterministic


def test_lower_bound_exact_in_dimension_1_and_2():
    """Dimension 1: the larger of ±1. Dimension 2: the arc enumeration is at least a 10⁶-angle
    grid's maximum, and exceeds it by no more than the grid's resolution allows."""
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        f, g = _random_relu_net(gen, (1, 6, 6, 2)), _random_relu_net(gen, (1, 9, 2))
        x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
        with torch.no_grad():
            exact = float(torch.linalg.vector_norm(f(x) - g(x), dim=1).max())
        assert lower_bound(f, g, 1)[0] == exact
    theta = torch.linspace(0, 2 * math.pi, 1_000_001, dtype=torch.float64)
    circle = torch.stack([theta.cos(), theta.sin()], dim=1)
    for _ in range(4):
        f, g = _random_relu_net(gen, (2, 12, 8, 3)), _random_relu_net(gen, (2, 10, 3))
        with torch.no_grad():
            grid = float(torch.linalg.vector_norm(f(circle) - g(circle), dim=1).max())
        value, _ = lower_bound(f, g, 2, steps=0)          # enumeration alone, no ascent
        assert grid * (1 - 1e-12) <= value <= grid * (1 + 1e-5)


def test_lower_bound_known_suprema():
    """A linear map: sup = σ_max (any dimension); one ReLU unit c·σ(w·x): sup = ‖w‖‖c‖."""
    gen = torch.Generator().manual_seed(3)
    for dim in (2, 3, 7):
        A = torch.randn(4, dim, generator=gen, dtype=torch.float64)
        value, _ = lower_bound(sequential([A]), sequential([torch.zeros(4, dim, dtype=torch.float64)]), dim,
                               starts=256, keep=16, steps=40)
        assert value == pytest.approx(float(torch.linalg.matrix_norm(A, 2)), rel=1e-9)
        w, c = torch.randn(1, dim, generator=gen, dtype=torch.float64), torch.randn(3, 1, generator=gen,
                                                                                    dtype=torch.float64)
        value, _ = lower_bound(sequential([w, c]), sequential([torch.zeros(3, dim, dtype=torch.float64)]), dim,
                               starts=256, keep=16, steps=40)
        assert value == pytest.approx(float(w.norm() * c.norm()), rel=1e-9)


def test_dead_unit_removal_keeps_the_function():
    W = sltheory.gaussian_target((4, 6, 5, 3), 0)
    ticket = sltheory.approximate(W, sltheory.random_network(W, n=8, seed=0))
    full = ticket.pruned_network(prune_buffers=False)   # full width (ticket.network: the live units already)
    small = _compress(full)
    lin = lambda m: [x for x in m if isinstance(x, nn.Linear)]  # noqa: E731
    assert sum(x.weight.numel() for x in lin(small)) < sum(x.weight.numel() for x in lin(full))
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(small(x), full(x), rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(small(x), ticket.network(x), rtol=1e-13, atol=1e-15)


def test_lower_bound_beats_or_matches_a_plain_random_search():
    """On tickets, at least the best of 20,000 random unit directions."""
    W = sltheory.gaussian_target((6, 8, 4), 4)
    ticket = sltheory.approximate(W, sltheory.random_network(W, n=6, seed=4))
    f = sequential(W)
    x = torch.randn(20_000, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
    with torch.no_grad():
        random_best = float(torch.linalg.vector_norm(f(x) - ticket.network(x), dim=1).max())
    assert lower_bound(f, ticket.network, 6)[0] >= random_best * (1 - 1e-12)


# --- the CI slice of the soundness benchmark -------------------------------------------------


def test_benchmark_slice(capsys):
    """benchmarks/soundness.py on 300 random tickets (about a minute): no violation, no
    unexpected exception, and every construction and mode represented."""
    summary = soundness.main(["--tickets", "300", "--seed", "11"])
    printed = capsys.readouterr().out
    assert summary["violations"] == 0, printed
    assert summary["errors"] == 0, printed
    assert summary["checked"] >= 200, printed
    checked = {(r["construction"], r["mode"]) for r in summary["results"] if r["status"] == "ok"}
    for c in CONSTRUCTIONS:
        assert (c, "best") in checked and (c, "eps") in checked, (c, printed)
    assert "tightness" in printed and "violations (lower bound > error_bound): 0" in printed


def test_benchmark_help():
    with pytest.raises(SystemExit) as info:
        soundness.main(["--help"])
    assert info.value.code == 0
    with pytest.raises(SystemExit):
        soundness.main(["--tickets", "0"])
    assert soundness.cases(4, 0)[3] == soundness.cases(9, 0)[3]   # case i does not depend on --tickets
