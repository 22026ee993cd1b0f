"""Subset-sum solve time per target weight against n: our solver, brute force and a MIP.

Each problem is one target weight of the subset-sum construction (n samples c_k = a_k·b_k with
a, b i.i.d. U[−1, 1], target t ~ U[−1, 1]; see ``benchmarks/solver_vs_milp.py``, whose problem
generator and MIP formulation this reuses). For every n of the grid (one job each), on the same
seeded problems:

* ``exact``: ``sltheory.subset_sum.solve(tol=0)``, the optimal subset (batched meet-in-the-middle);
* ``sparsest``: ``solve(tol=tol)``, a minimum-cardinality subset within tol;
* ``staged``: ``solve(tol=tol, mode="staged")``, growing prefixes of the samples;
* ``brute_force``: ``sltheory.subset_sum.reference.brute_force`` (all 2^n subsets), n ≤ ``--brute-max-n``;
* ``milp``: HiGHS through ``scipy.optimize.milp``, n ≤ ``--milp-max-n``, a few problems each.

Results (seconds per problem, and the median error, per (method, n)) go to
``runs/solver_time/<config hash>/results.csv``; :mod:`sltheory.report.solver_time` rebuilds
``paper/figures/solver_time.{pdf,png}`` and ``paper/tables/solver_time.tex`` from it alone.

Usage::

    python experiments/solver_time.py           # ~1-2 min on 2 cores
    python experiments/solver_time.py --quick   # seconds (tests)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sltheory.errors import InvalidArgumentError
from sltheory.experiment import config as C
from sltheory.experiment import engine
from sltheory.experiment.config import option
from sltheory.experiment.runs import RunFolder, latest
from sltheory.report.solver_time import COLUMNS, KEY, METHODS, figure, report, table  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
DEFAULT_RUN_ROOT = C.project_root() / "runs" / "solver_time"
SCHEMA_VERSION = 1
#: Largest --problems (per n; 500× the default): the problems are held in memory at once.
MAX_PROBLEMS = 1_000_000


def _quick_dir(values) -> str:
    return str(Path(values["run_root"]) / "quick-figures")


@dataclass(frozen=True)
class SolverTimeConfig:
    ns: tuple = option(tuple(range(4, 33, 2)), "comma list of n", quick=(4, 8, 12))
    problems: int = option(2000, "problems per n for our solver", quick=50,
                           check=C.counts(maximum=MAX_PROBLEMS))
    tol: float = option(1e-4, "tolerance of the sparsest/staged modes", check=C.positive)
    brute_max_n: int = option(14, "largest n for brute force (≤ 20: 2^20 subsets per problem in Python)", quick=8,
                              check=C.counts(minimum=0, maximum=20))
    brute_problems: int = option(20, "brute-force problems per n", quick=3,
                                 check=C.counts(maximum=MAX_PROBLEMS))
    milp_max_n: int = option(20, "largest n for the MIP", quick=8, check=C.counts(minimum=0, maximum=64))
    milp_problems: int = option(5, "MIP problems per n", quick=2, check=C.counts(maximum=MAX_PROBLEMS))
    milp_time_limit: float = option(10.0, "seconds per MIP", check=C.positive)
    seed: int = option(0, "problem generator seed", check=C.nonnegative)
    run_root: str = option(str(DEFAULT_RUN_ROOT), "folder of run folders", hashed=False, check=C.output_dir)
    fig_dir: str = option(str(C.project_root() / "paper" / "figures"), "figure folder (--quick: the run root's "
                          "quick-figures)", quick=_quick_dir, hashed=False, check=C.output_dir)
    table_dir: str = option(str(C.project_root() / "paper" / "tables"), "table folder (--quick: the run root's "
                            "quick-figures)", quick=_quick_dir, hashed=False, check=C.output_dir)
    no_plot: bool = option(False, "skip figure and table", hashed=False)

    def validate(self) -> None:
        if any(n < 1 or n > 64 for n in self.ns) or len(set(self.ns)) != len(self.ns):
            raise InvalidArgumentError(f"--ns must be distinct integers in 1..64, got {self.ns}")

    def hashed_dict(self) -> dict:
        return dict(C.config_dict(self), schema_version=SCHEMA_VERSION, sltheory_version=C.library_version())


def measure(cfg: SolverTimeConfig, n: int) -> list[dict]:
    """The rows of every method at one n (seconds per problem, median error, fraction optimal)."""
    from solver_vs_milp import make_problems, solve_milp

    from sltheory.subset_sum import solve
    from sltheory.subset_sum.reference import brute_force

    samples, targets = make_problems(n, cfg.problems, cfg.seed)
    opt = None

    def timed(method, k, errors_of, slack=1e-12):
        t0 = time.perf_counter()
        err = errors_of()
        dt = time.perf_counter() - t0
        frac = 1.0 if opt is None else float(np.mean(err <= opt[:k] + slack))
        rows.append(dict(method=method, n=n, problems=k, seconds_per_problem=dt / k,
                         median_error=float(np.median(err)), optimal_fraction=frac))
        return err

    rows = []
    opt = timed("exact", len(targets), lambda: solve(samples, targets, tol=0.0).errors)
    timed("sparsest", len(targets), lambda: solve(samples, targets, tol=cfg.tol).errors)
    timed("staged", len(targets), lambda: solve(samples, targets, tol=cfg.tol, mode="staged").errors)
    if n <= cfg.brute_max_n:
        k = min(cfg.brute_problems, len(targets))
        timed("brute_force", k, lambda: np.array([brute_force(samples[p], float(targets[p]))[1] for p in range(k)]))
    if n <= cfg.milp_max_n:
        k = min(cfg.milp_problems, len(targets))
        timed("milp", k, lambda: np.array([solve_milp(samples[p], float(targets[p]), cfg.milp_time_limit, None)[0]
                                           for p in range(k)]), slack=1e-9)
    return rows


def warm_up(cfg: SolverTimeConfig) -> None:
    """One call of each solver mode first: the JIT compiles outside the timings."""
    from solver_vs_milp import make_problems

    from sltheory.subset_sum import solve
    s, t = make_problems(max(cfg.ns), 4, cfg.seed + 1)
    for kwargs in ({"tol": 0.0}, {"tol": cfg.tol}, {"tol": cfg.tol, "mode": "staged"}):
        solve(s, t, **kwargs)


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    return latest(run_root)


def main(argv=None) -> dict:
    cfg, _ = C.parse(SolverTimeConfig, argv, prog="solver_time.py", description=__doc__.split("\n\n")[0])
    folder = RunFolder(cfg.run_root, cfg.hashed_dict(), COLUMNS, KEY)
    warmed = []

    def job(n):
        if not warmed:
            warm_up(cfg)
            warmed.append(True)
        return measure(cfg, n)

    done = engine.run(folder, list(cfg.ns), job, job_key=lambda n: n, row_key=lambda r: r["n"], desc="solver time",
                      status=lambda n, rows: f"n={n:>2}: " + "  ".join(
                          f"{r['method']} {r['seconds_per_problem'] * 1e6:.3g} µs" for r in rows))
    paths = [] if cfg.no_plot else report(done.path, cfg.fig_dir, cfg.table_dir)
    return {"run_dir": done.path, "rows": done.rows, "paths": paths}


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
