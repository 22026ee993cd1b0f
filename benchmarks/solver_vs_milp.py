"""Per-weight subset-sum solve time: ``sltheory.subset_sum.solve`` against ``scipy.optimize.milp``.

Each problem is one target weight of the subset-sum construction: n samples c_k = a_k * b_k
(a, b i.i.d. U[-1, 1]) and a target t ~ U[-1, 1]; find binary z minimizing |Σ c_k z_k − t|.
Both solvers run in the same process on problems from the same seeded generator:

* the numba meet-in-the-middle solver on ``--problems`` problems, exact mode (tol=0, the optimum)
  and staged mode (tol=``--staged-tol``), timed separately after one JIT warm-up call;
* the MIP (HiGHS via ``scipy.optimize.milp``) on the first ``--milp-problems`` of them:
  minimize e subject to e ≥ Σ c_k z_k − t, e ≥ t − Σ c_k z_k, z binary, e continuous, with a
  time limit per problem. Its errors (recomputed from the rounded z) are compared with the exact
  solver's optimum on the same problems.

Prints measured figures only (no assertions). Run from the repository root::

    python benchmarks/solver_vs_milp.py
    python benchmarks/solver_vs_milp.py --n 16 20 --problems 20000 --milp-problems 20 --seed 0
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import scipy
from scipy.optimize import Bounds, LinearConstraint, milp

from sltheory.subset_sum import solve

#: A MIP solution counts as "worse than the optimum" when its error exceeds the optimum by this.
WORSE_MARGIN = 1e-9


def make_problems(n: int, problems: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples (problems, n), products of two U[-1, 1] draws, and targets (problems,) in U[-1, 1].

    One row of draws per problem, so problem p does not depend on how many problems are drawn.
    """
    draws = np.random.default_rng(seed).uniform(-1.0, 1.0, (problems, 2 * n + 1))
    return draws[:, :n] * draws[:, n:2 * n], draws[:, 2 * n].copy()


def time_numba(samples: np.ndarray, targets: np.ndarray, tol: float) -> tuple[float, np.ndarray]:
    """(seconds, errors) of one batched ``solve`` call."""
    start = time.perf_counter()
    result = solve(samples, targets, tol=tol)
    return time.perf_counter() - start, result.errors


def solve_milp(c: np.ndarray, t: float, time_limit: float, mip_rel_gap: float | None):
    """min e  s.t.  Σ c z − e ≤ t,  Σ c z + e ≥ t,  z ∈ {0, 1}^n,  e ≥ 0.

    Returns (error recomputed from the rounded z, hit the time limit?).
    """
    n = c.size
    objective = np.r_[np.zeros(n), 1.0]
    A = np.vstack([np.r_[c, -1.0], np.r_[c, 1.0]])
    constraints = LinearConstraint(A, lb=[-np.inf, t], ub=[t, np.inf])
    integrality = np.r_[np.ones(n), 0.0]
    bounds = Bounds(np.zeros(n + 1), np.r_[np.ones(n), np.inf])
    options = {"time_limit": time_limit}
    if mip_rel_gap is not None:
        options["mip_rel_gap"] = mip_rel_gap
    res = milp(objective, constraints=constraints, integrality=integrality, bounds=bounds,
               options=options)
    hit_limit = res.status == 1  # "iteration or time limit reached"
    if res.x is None:             # no feasible point found in time: the empty subset
        return abs(t), hit_limit
    z = np.round(res.x[:n])
    return abs(float(c @ z) - t), hit_limit


def time_milp(samples, targets, time_limit, mip_rel_gap):
    """(seconds, errors, number of problems that hit the time limit) over all given problems."""
    errors = np.empty(len(targets))
    hits = 0
    start = time.perf_counter()
    for p, (c, t) in enumerate(zip(samples, targets)):
        errors[p], hit = solve_milp(c, float(t), time_limit, mip_rel_gap)
        hits += hit
    return time.perf_counter() - start, errors, hits


#: Largest --problems: they are held in memory at once (n floats each).
MAX_PROBLEMS = 10_000_000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[16, 20], help="samples per problem")
    parser.add_argument("--problems", type=int, default=20000, help="problems timed for numba")
    parser.add_argument("--milp-problems", type=int, default=20, help="problems timed for the MIP")
    parser.add_argument("--staged-tol", type=float, default=1e-4, help="tol of the staged mode")
    parser.add_argument("--time-limit", type=float, default=10.0, help="MIP time limit per problem (s)")
    parser.add_argument("--mip-rel-gap", type=float, default=None,
                        help="HiGHS relative MIP gap (default: HiGHS's own default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.milp_problems > args.problems:
        parser.error("--milp-problems must be ≤ --problems (the MIP runs on a prefix of them)")
    from sltheory import cli
    for n in args.n:
        cli.count("--n", n, maximum=64)
    cli.count("--problems", args.problems, maximum=MAX_PROBLEMS)
    cli.count("--milp-problems", args.milp_problems)
    cli.count("--seed", args.seed, minimum=0)
    cli.positive("--staged-tol", args.staged_tol)
    cli.positive("--time-limit", args.time_limit)
    if args.mip_rel_gap is not None:
        cli.positive("--mip-rel-gap", args.mip_rel_gap)

    print(f"numba {numba.__version__} ({numba.get_num_threads()} threads), scipy {scipy.__version__} "
          f"(HiGHS, single problem at a time), seed {args.seed}")
    print(f"MIP: time limit {args.time_limit} s/problem, mip_rel_gap "
          f"{'HiGHS default' if args.mip_rel_gap is None else args.mip_rel_gap}")
    warm_s, warm_t = make_problems(max(args.n), 8, args.seed + 1)
    solve(warm_s, warm_t, tol=0.0)  # JIT compile (or load from cache) before timing
    solve(warm_s, warm_t, tol=args.staged_tol)

    rows = []
    for n in args.n:
        samples, targets = make_problems(n, args.problems, args.seed)
        t_exact, err_exact = time_numba(samples, targets, 0.0)
        t_staged, err_staged = time_numba(samples, targets, args.staged_tol)
        k = args.milp_problems
        t_milp, err_milp, hits = time_milp(samples[:k], targets[:k], args.time_limit, args.mip_rel_gap)
        opt = err_exact[:k]
        worse = int(np.count_nonzero(err_milp > opt + WORSE_MARGIN))
        better = int(np.count_nonzero(err_milp < opt - WORSE_MARGIN))
        rows.append((n, t_exact / args.problems, t_staged / args.problems, t_milp / k))
        print(f"\nn = {n}: numba on {args.problems} problems, MIP on the first {k}")
        print(f"  numba exact : {t_exact:.3f} s total, median error {np.median(err_exact):.3e}")
        print(f"  numba staged: {t_staged:.3f} s total, median error {np.median(err_staged):.3e}, "
              f"{np.count_nonzero(err_staged <= args.staged_tol)}/{args.problems} within tol")
        print(f"  MIP         : {t_milp:.3f} s total, {hits}/{k} hit the time limit")
        print(f"  on the {k} MIP problems: median error MIP {np.median(err_milp):.3e}, "
              f"exact optimum {np.median(opt):.3e}; MIP worse than optimum by > {WORSE_MARGIN:g}: "
              f"{worse}/{k}; MIP better: {better}/{k}")

    print(f"\n{'n':>4} {'us/w numba exact':>17} {'us/w numba staged':>18} {'s/w milp':>10} "
          f"{'milp/exact':>11}")
    for n, exact, staged, mip in rows:
        print(f"{n:>4} {exact * 1e6:>17.2f} {staged * 1e6:>18.2f} {mip:>10.4f} {mip / exact:>11.0f}")


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
