"""The soundness benchmark's cases and their check (``benchmarks/soundness.py``, issue 11).

A :class:`Case` is everything one random ticket is built from (construction, mode, dims, target
seed and scale, n or the width rule, ε / τ, the random network's seed); :func:`cases` draws them,
case i from its own stream ``SeedSequence((seed, i))`` so that it does not depend on how many
are drawn. :func:`check` builds the ticket and compares ``ticket.error_bound`` with an
independent lower bound of the error it certifies; :func:`run_cases` checks a list of cases in
this process or a process pool. The printed summary is :func:`sltheory.report.soundness.summary`.

The lower bound is passed in (``lower_bound=``, normally
:func:`sltheory.testing.lower_bound.lower_bound`): the experiment engine does not import the test
helpers, which stay independent of everything they check.
"""

from __future__ import annotations

import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context

import numpy as np

from ..api import approximate, random_network
from ..constructions.registry import constructions
from ..constructions.registry import get as construction
from ..data.generated import gaussian_target
from ..errors import ApproximationFailedError

__all__ = ["MODES", "LOWER_BOUND", "MAX_TICKETS", "Case", "draw_case", "cases", "check", "run_cases"]

MODES = ("eps", "best", "weight_tol")
#: The lower bound's effort here (the tests use its stronger defaults): fast enough for 10,000
#: tickets on 2 cores, still exact in dimension 1 and 2.
LOWER_BOUND = dict(starts=4096, keep=48, steps=40, hops=1, polish=16, grid2=4096, grid3=6000, max_lattice=2186)
# Samples per block and ε ranges per construction: its class's ``soundness_*`` hints
# (sltheory.constructions.base.Construction).
#: Largest number of cases (they are drawn and held up front; 10⁷ would take weeks anyway).
MAX_TICKETS = 10_000_000


@dataclass(frozen=True)
class Case:
    """One ticket to check; everything it is built from."""

    index: int
    construction: str
    mode: str                  # "eps", "best" or "weight_tol"
    dims: tuple[int, ...]      # (d_0, …, d_l)
    target_seed: int
    scale: float               # target = [scale · W for W in gaussian_target(dims, target_seed)]
    rescale: bool
    n: int | None              # None: the construction's width rule from eps (or weight_tol)
    eps: float | None
    weight_tol: float | None
    weight_bound: float | None
    seed: int                  # the random network's

    def target(self) -> list[np.ndarray]:
        return [self.scale * w for w in gaussian_target(self.dims, self.target_seed)]

    def build(self):
        """The ticket (:class:`sltheory.Ticket`); ``ApproximationFailedError`` when the mode fails."""
        W = self.target()
        kw: dict = dict(seed=self.seed, construction=self.construction, n=self.n)
        if self.mode == "weight_tol":
            if self.n is None:
                kw.update(weight_tol=self.weight_tol, weight_bound=self.weight_bound)
            rand = random_network(W, **kw)
            return approximate(W, rand, weight_tol=self.weight_tol)
        rand = random_network(W, eps=self.eps if self.n is None else None, **kw)
        return approximate(W, rand, self.eps, rescale=self.rescale)

    def reproducer(self) -> str:
        """One line of Python that rebuilds the ticket and prints (error_bound, lower bound)."""
        if self.mode == "weight_tol":
            rule = (f"n={self.n}" if self.n is not None
                    else f"weight_tol={self.weight_tol!r}, weight_bound={self.weight_bound!r}")
            build = (f"sltheory.approximate(W, sltheory.random_network(W, {rule}, seed={self.seed}, "
                     f"construction={self.construction!r}), weight_tol={self.weight_tol!r})")
        else:
            rule = f"n={self.n}" if self.n is not None else f"eps={self.eps!r}"
            build = (f"sltheory.approximate(W, sltheory.random_network(W, {rule}, seed={self.seed}, "
                     f"construction={self.construction!r}), {self.eps!r}, rescale={self.rescale})")
        lb = ", ".join(f"{k}={v}" for k, v in LOWER_BOUND.items())
        return (f"import sltheory; from sltheory.testing.lower_bound import lower_bound, sequential; "
                f"W=[{self.scale!r}*w for w in sltheory.gaussian_target({self.dims}, {self.target_seed})]; "
                f"t={build}; print(t.error_bound, lower_bound(sequential(W), t.network, {self.dims[0]}, "
                f"seed={self.index}, {lb})[0])")


def draw_case(rng: np.random.Generator, index: int) -> Case:
    """Case ``index`` (its own stream: SeedSequence((seed, index)) in :func:`cases`)."""
    names = sorted(constructions())
    name = names[int(rng.integers(len(names)))]
    spec = construction(name)
    modes = MODES if getattr(spec, "per_weight_mode", False) else MODES[:2]
    mode = modes[int(rng.integers(len(modes)))]
    depth = int(rng.integers(1, 4))
    small = spec.soundness_small and depth == 3
    top = 6 if small else 8
    dims = (int(rng.integers(1, 9)),) + tuple(int(rng.integers(1, top + 1)) for _ in range(depth - 1)) \
        + (int(rng.integers(1, 7)),)
    if mode == "weight_tol":
        scale = float(rng.choice([0.3, 1.0, 2.0]))
        rescale = False
    else:   # small norms too: the burkholz bug of issue 11 showed on targets scaled by 0.3
        scale = float(rng.choice([0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.0, 1.5, 3.0]))
        rescale = scale > 1
    eps = weight_tol = weight_bound = None
    lo, hi = spec.soundness_n if mode == "best" else spec.soundness_n_eps
    drawn = int(rng.integers(lo, hi + 1))
    n: int | None = min(drawn, 7) if name == "burkholz" and depth == 3 else drawn
    if mode == "eps":
        # ε log-uniform in the construction's soundness_eps, times the output scale when rescaling (the masks then
        # approximate f/S to ε/S)
        e_lo, e_hi = spec.soundness_eps
        eps = float(math.exp(rng.uniform(math.log(e_lo), math.log(e_hi)))) * (scale ** depth if rescale else 1.0)
        eps = float(f"{eps:.3g}")
        if spec.soundness_rule and rng.random() < 0.5:
            n = None           # the theorem's width rule
            if name == "burkholz" and depth == 3:   # n = 31 copies: 1-7 s at hidden width 4-6
                dims = (dims[0],) + tuple(min(d, 3) for d in dims[1:-1]) + (dims[-1],)
    elif mode == "weight_tol":
        weight_tol = float(f"{math.exp(rng.uniform(math.log(0.005), math.log(0.2))):.3g}")
        if rng.random() < 0.5:
            n = None           # the per-weight rule (weights up to weight_bound)
            weight_bound = float(scale)
    return Case(index=index, construction=name, mode=mode, dims=dims,
                target_seed=int(rng.integers(2 ** 31)), scale=scale, rescale=rescale, n=n, eps=eps,
                weight_tol=weight_tol, weight_bound=weight_bound, seed=int(rng.integers(2 ** 31)))


def cases(count: int, seed: int) -> list[Case]:
    """Cases 0 … count − 1 of generator ``seed``."""
    return [draw_case(np.random.default_rng(np.random.SeedSequence((seed, i))), i) for i in range(count)]


def check(case: Case, lower_bound, sequential) -> dict:
    """Build the ticket and compare its bound with ``lower_bound(sequential(case.target()),
    ticket.network, dim, seed=case.index, **LOWER_BOUND)[0]`` (the functions of
    :mod:`sltheory.testing.lower_bound`). Never raises: the result's ``status`` is ``ok``,
    ``violation`` (lower > error_bound, no tolerance in favour of the certificate), ``build_failed``
    (ApproximationFailedError: not a ticket) or ``error`` (any other exception, with its message)."""
    start = time.perf_counter()
    out = dict(index=case.index, construction=case.construction, mode=case.mode, dim=case.dims[0])
    try:
        ticket = case.build()
    except ApproximationFailedError:
        return dict(out, status="build_failed", seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 — reported with its reproducer, never swallowed
        return dict(out, status="error", error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - start)
    built = time.perf_counter()
    try:
        lower, _ = lower_bound(sequential(case.target()), ticket.network, case.dims[0], seed=case.index,
                               **LOWER_BOUND)
    except Exception as exc:  # noqa: BLE001
        return dict(out, status="error", error=f"lower bound: {type(exc).__name__}: {exc}",
                    seconds=time.perf_counter() - start)
    bound = float(ticket.error_bound)
    return dict(out, status="violation" if lower > bound else "ok", error_bound=bound, lower=lower,
                method=ticket.certificate.method, build_seconds=built - start,
                seconds=time.perf_counter() - start)


def _init_worker():
    import torch
    torch.set_num_threads(1)
    try:
        import numba
        numba.set_num_threads(1)
    except (ImportError, ValueError):
        pass


def run_cases(todo: list[Case], *, lower_bound, sequential, workers: int = 1, progress: int = 1000,
              log=None) -> list[dict]:
    """:func:`check` every case, in this process with one torch thread (``workers=1``) or in a
    pool of ``workers`` spawned processes of one thread each; results in case order. Every
    ``progress`` cases a line goes to ``log`` (default stderr)."""
    import torch

    job = partial(check, lower_bound=lower_bound, sequential=sequential)
    start = time.perf_counter()

    def collect(stream) -> list[dict]:
        results = []
        for r in stream:
            results.append(r)
            if len(results) % progress == 0:
                bad = sum(x["status"] == "violation" for x in results)
                print(f"[soundness] {len(results)}/{len(todo)} cases, {bad} violations, "
                      f"{time.perf_counter() - start:.0f} s", file=log or sys.stderr, flush=True)
        return results

    if workers == 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return collect(job(c) for c in todo)
        finally:
            torch.set_num_threads(threads)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        return collect(pool.map(job, todo, chunksize=8))
