"""Subset-sum solve time per target weight against n: our solver, brute force and a MIP.

Each problem is one target weight of the subset-sum construction (n samples c_k = a_k·b_k with
a, b i.i.d. U[−1, 1], target t ~ U[−1, 1]; see ``benchmarks/solver_vs_milp.py``, whose problem
generator and MIP formulation this reuses). For every n of the grid, on the same seeded problems:

* ``exact``: ``sltheory.subset_sum.solve(tol=0)``, the optimal subset (batched meet-in-the-middle);
* ``sparsest``: ``solve(tol=tol)``, a minimum-cardinality subset within tol;
* ``staged``: ``solve(tol=tol, mode="staged")``, growing prefixes of the samples;
* ``brute_force``: ``sltheory.subset_sum.reference.brute_force`` (all 2^n subsets), n ≤ ``--brute-max-n``;
* ``milp``: HiGHS through ``scipy.optimize.milp``, n ≤ ``--milp-max-n``, a few problems each.

Results (seconds per problem, and the median error, per (method, n)) go to
``runs/solver_time/<config hash>/results.csv``; ``figure``/``table`` rebuild
``paper/figures/solver_time.{pdf,png}`` and ``paper/tables/solver_time.tex`` from it alone.

Usage::

    python experiments/solver_time.py           # ~1-2 min on 2 cores
    python experiments/solver_time.py --quick   # seconds (tests)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
DEFAULT_RUN_ROOT = REPO_ROOT / "runs" / "solver_time"
DEFAULT_FIG_DIR = REPO_ROOT / "paper" / "figures"
DEFAULT_TABLE_DIR = REPO_ROOT / "paper" / "tables"
SCHEMA_VERSION = 1

COLUMNS = {"method": str, "n": int, "problems": int, "seconds_per_problem": float, "median_error": float,
           "optimal_fraction": float}
KEY = ("method", "n")
METHODS = ("exact", "sparsest", "staged", "brute_force", "milp")
STYLE = {"exact": ("C0", "o-"), "sparsest": ("C1", "s-"), "staged": ("C2", "^-"),
         "brute_force": ("C3", "x--"), "milp": ("C4", "d--")}

DEFAULTS = dict(ns=tuple(range(4, 33, 2)), problems=2000, tol=1e-4, brute_max_n=14, brute_problems=20,
                milp_max_n=20, milp_problems=5, milp_time_limit=10.0, seed=0)
#: Largest --problems (per n; 500× the default): the problems are held in memory at once.
MAX_PROBLEMS = 1_000_000
QUICK = dict(ns=(4, 8, 12), problems=50, brute_max_n=8, brute_problems=3, milp_max_n=8, milp_problems=2)


def measure(cfg: dict, out=None) -> list[dict]:
    """Time every method at every n (one warm-up call of the JIT first)."""
    from solver_vs_milp import make_problems, solve_milp

    from sltheory.subset_sum import solve
    from sltheory.subset_sum.reference import brute_force

    warm_s, warm_t = make_problems(max(cfg["ns"]), 4, cfg["seed"] + 1)
    solve(warm_s, warm_t, tol=0.0)
    solve(warm_s, warm_t, tol=cfg["tol"])
    solve(warm_s, warm_t, tol=cfg["tol"], mode="staged")
    rows = []
    for n in cfg["ns"]:
        samples, targets = make_problems(n, cfg["problems"], cfg["seed"])
        t0 = time.perf_counter()
        opt = solve(samples, targets, tol=0.0).errors
        t_exact = time.perf_counter() - t0
        rows.append(dict(method="exact", n=n, problems=len(targets), seconds_per_problem=t_exact / len(targets),
                         median_error=float(np.median(opt)), optimal_fraction=1.0))
        for method, kwargs in (("sparsest", {}), ("staged", {"mode": "staged"})):
            t0 = time.perf_counter()
            err = solve(samples, targets, tol=cfg["tol"], **kwargs).errors
            dt = time.perf_counter() - t0
            rows.append(dict(method=method, n=n, problems=len(targets), seconds_per_problem=dt / len(targets),
                             median_error=float(np.median(err)),
                             optimal_fraction=float(np.mean(err <= opt + 1e-12))))
        if n <= cfg["brute_max_n"]:
            k = min(cfg["brute_problems"], len(targets))
            t0 = time.perf_counter()
            err = np.array([brute_force(samples[p], float(targets[p]))[1] for p in range(k)])
            dt = time.perf_counter() - t0
            rows.append(dict(method="brute_force", n=n, problems=k, seconds_per_problem=dt / k,
                             median_error=float(np.median(err)),
                             optimal_fraction=float(np.mean(err <= opt[:k] + 1e-12))))
        if n <= cfg["milp_max_n"]:
            k = min(cfg["milp_problems"], len(targets))
            t0 = time.perf_counter()
            err = np.array([solve_milp(samples[p], float(targets[p]), cfg["milp_time_limit"], None)[0]
                            for p in range(k)])
            dt = time.perf_counter() - t0
            rows.append(dict(method="milp", n=n, problems=k, seconds_per_problem=dt / k,
                             median_error=float(np.median(err)),
                             optimal_fraction=float(np.mean(err <= opt[:k] + 1e-9))))
        if out is not None:
            line = "  ".join(f"{r['method']} {r['seconds_per_problem'] * 1e6:.3g} µs" for r in rows if r["n"] == n)
            print(f"n={n:>2}: {line}", file=out, flush=True)
    return rows


def figure(run_dir, out_dir) -> list[Path]:
    """solver_time.{pdf,png} from ``run_dir`` only."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sltheory.experiment.runs import read_rows, savefig_atomic

    rows = read_rows(Path(run_dir) / "results.csv", COLUMNS)
    if not rows:
        raise FileNotFoundError(f"no results in {run_dir}: run experiments/solver_time.py first")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    labels = {"exact": "ours, exact optimum (meet in the middle)", "sparsest": "ours, fewest elements within tol",
              "staged": "ours, staged prefixes within tol", "brute_force": "brute force (all 2ⁿ subsets)",
              "milp": "MIP (HiGHS, scipy.optimize.milp)"}
    for method in METHODS:
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["n"])
        if rs:
            c, style = STYLE[method]
            ax.plot([r["n"] for r in rs], [r["seconds_per_problem"] for r in rs], style, color=c,
                    label=labels[method], ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("n (samples per target weight)")
    ax.set_ylabel("seconds per target weight")
    ax.set_title("Subset-sum solve time per target weight (2-core CPU)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths = []
    for suffix in ("pdf", "png"):
        p = Path(out_dir) / f"solver_time.{suffix}"
        savefig_atomic(fig, p)
        paths.append(p)
    plt.close(fig)
    return paths


def table(run_dir, out_dir) -> list[Path]:
    """solver_time.tex (a tabular: µs per weight by method and n) from ``run_dir`` only."""
    from sltheory.experiment.runs import atomic_write_text, read_rows

    rows = read_rows(Path(run_dir) / "results.csv", COLUMNS)
    ns = sorted({r["n"] for r in rows})
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    cell = {(r["method"], r["n"]): r for r in rows}
    lines = [r"\begin{tabular}{r" + "r" * len(methods) + "}", r"\toprule",
             "$n$ & " + " & ".join(m.replace("_", r"\_") for m in methods) + r" \\", r"\midrule"]
    for n in ns:
        vals = []
        for m in methods:
            r = cell.get((m, n))
            vals.append("--" if r is None else f"{r['seconds_per_problem'] * 1e6:.3g}")
        lines.append(f"{n} & " + " & ".join(vals) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    p = Path(out_dir) / "solver_time.tex"
    atomic_write_text(p, f"% generated by experiments/solver_time.py from run {Path(run_dir).name} "
                      "(microseconds per target weight); do not edit\n" + "\n".join(lines))
    return [p]


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    from sltheory.experiment.runs import latest
    return latest(run_root)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="solver_time.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ns", type=lambda s: tuple(int(v) for v in s.split(",")), default=None,
                   help=f"comma list of n (default {','.join(map(str, DEFAULTS['ns']))})")
    p.add_argument("--problems", type=int, default=None,
                   help=f"problems per n for our solver (default {DEFAULTS['problems']})")
    p.add_argument("--tol", type=float, default=None,
                   help=f"tolerance of the sparsest/staged modes (default {DEFAULTS['tol']})")
    p.add_argument("--brute-max-n", type=int, default=None,
                   help=f"largest n for brute force (default {DEFAULTS['brute_max_n']})")
    p.add_argument("--milp-max-n", type=int, default=None,
                   help=f"largest n for the MIP (default {DEFAULTS['milp_max_n']})")
    p.add_argument("--milp-problems", type=int, default=None,
                   help=f"MIP problems per n (default {DEFAULTS['milp_problems']})")
    p.add_argument("--seed", type=int, default=None, help=f"problem generator seed (default {DEFAULTS['seed']})")
    p.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="folder of run folders")
    p.add_argument("--fig-dir", default=None, help=f"figure folder (default {DEFAULT_FIG_DIR}; --quick: run folder)")
    p.add_argument("--table-dir", default=None, help=f"table folder (default {DEFAULT_TABLE_DIR}; --quick: run folder)")
    p.add_argument("--quick", action="store_true", help="tiny run for tests")
    p.add_argument("--no-plot", action="store_true", help="skip figure and table")
    args = p.parse_args(argv)
    cfg = dict(DEFAULTS, **(QUICK if args.quick else {}))
    for k in ("ns", "problems", "tol", "brute_max_n", "milp_max_n", "milp_problems", "seed"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)
    if not cfg["ns"] or any(n < 1 or n > 64 for n in cfg["ns"]) or len(set(cfg["ns"])) != len(cfg["ns"]):
        p.error(f"--ns must be distinct integers in 1..64, got {cfg['ns']}")
    for k in ("problems", "milp_problems"):
        if cfg[k] < 1:
            p.error(f"--{k.replace('_', '-')} must be ≥ 1")
    if not (isinstance(cfg["tol"], float) and math.isfinite(cfg["tol"]) and cfg["tol"] > 0):
        p.error("--tol must be a finite number > 0")
    if cfg["brute_max_n"] > 20:
        p.error("--brute-max-n must be ≤ 20 (2^20 subsets per problem in Python)")
    import sltheory
    from sltheory import cli

    cli.count("--seed", cfg["seed"], minimum=0)
    cli.count("--problems", cfg["problems"], maximum=MAX_PROBLEMS)
    cli.count("--milp-problems", cfg["milp_problems"], maximum=MAX_PROBLEMS)
    cli.count("--milp-max-n", cfg["milp_max_n"], minimum=0, maximum=64)
    cli.output_dir("--run-root", args.run_root)
    for flag, folder in (("--fig-dir", args.fig_dir), ("--table-dir", args.table_dir)):
        if folder is not None:
            cli.output_dir(flag, folder)
    from sltheory.experiment.runs import RunFolder, mark_latest

    hashed = dict(cfg, ns=list(cfg["ns"]), schema_version=SCHEMA_VERSION, sltheory_version=sltheory.__version__)
    folder = RunFolder(args.run_root, hashed, COLUMNS, KEY).prepare()
    rows = folder.read()
    if rows:
        print(f"finished run {folder.path}: using saved results")
    else:
        rows = folder.add(measure(cfg, out=sys.stdout))
    mark_latest(args.run_root, folder.path)
    quick_dir = Path(args.run_root) / "quick-figures" if args.quick else None
    fig_dir = args.fig_dir or quick_dir or DEFAULT_FIG_DIR
    table_dir = args.table_dir or quick_dir or DEFAULT_TABLE_DIR
    paths = [] if args.no_plot else figure(folder.path, fig_dir) + table(folder.path, table_dir)
    return {"run_dir": folder.path, "rows": rows, "paths": paths}


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
