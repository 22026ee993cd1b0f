"""Fidelity of each construction's width rule: success at the theorem's width, and its slack.

For every registered construction and a few generated targets (sizes where the theorem's width
fits this machine), over ``--trials`` seeds (a fresh target and random network per seed):

* **success at the theorem's width** — ``random_network(target, eps, delta)`` then
  ``approximate(target, rand, eps)``; the rule is honest if it succeeds in ≥ 1 − δ of trials;
* **slack** — the smallest width factor f (n scaled by f, from the ``FACTORS`` grid) that still succeeds
  in ≥ 1 − δ of trials: the theorem's width is 1/f times what was needed.

Also prints, for each construction, the random weights its rule asks for on larger targets
(planned only, nothing sampled), to show where a rule stops being practical.

Writes ``runs/fidelity/<config hash>/{config.json,results.csv}`` (atomic; a finished config is
re-printed, not recomputed). Usage::

    python experiments/fidelity.py            # ~8 min on 2 cores
    python experiments/fidelity.py --quick    # seconds (tests)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
from pathlib import Path

from sltheory.experiment.runs import atomic_write_text, latest, mark_latest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN_ROOT = REPO_ROOT / "runs" / "fidelity"
DEFAULT_TABLE_DIR = REPO_ROOT / "paper" / "tables"

#: (construction, target dims, eps, delta): sizes where the theorem's width fits in memory.
CASES = (
    ("subset_sum", (8, 16, 16, 4), 0.05, 0.1),
    ("subset_sum", (32, 64, 10), 0.01, 0.1),
    ("subset_sum_blockdiag", (8, 16, 16, 4), 0.05, 0.1),
    ("subset_sum_blockdiag", (32, 64, 10), 0.01, 0.1),
    ("malach", (2, 2), 0.3, 0.1),
    ("malach", (3, 3, 2), 0.3, 0.1),
    ("orseau", (4, 4, 2), 0.1, 0.1),
    ("orseau", (8, 8, 4), 0.1, 0.1),
    ("burkholz", (8, 16, 16, 4), 0.05, 0.1),
    ("burkholz", (16, 32, 8), 0.01, 0.1),
)
QUICK_CASES = (("subset_sum", (3, 4, 2), 0.1, 0.2), ("subset_sum_blockdiag", (3, 4, 2), 0.1, 0.2),
               ("malach", (2, 2), 0.3, 0.2),
               ("orseau", (2, 2), 0.3, 0.2), ("burkholz", (3, 4, 2), 0.1, 0.2))
FACTORS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
PLANNED = ((16, 32, 32, 8), (64, 128, 10), (784, 300, 100, 10))
COLUMNS = ["construction", "dims", "eps", "delta", "trials", "theorem_n", "theorem_random_weights",
           "theorem_successes", "theorem_ok", "min_factor", "min_factor_n", "min_factor_random_weights",
           "slack"]


def success_count(construction, dims, eps, delta, trials, factor):
    import sltheory
    ok, plan = 0, None
    for seed in range(trials):
        Ws = sltheory.gaussian_target(dims, 10_000 + seed)
        rand = sltheory.random_network(Ws, eps=eps, delta=delta, seed=seed, construction=construction,
                                       width_factor=None if factor == 1.0 else factor)
        plan = rand.plan
        try:
            sltheory.approximate(Ws, rand, eps=eps)
            ok += 1
        except sltheory.ApproximationFailedError:
            pass
    return ok, plan


def run_case(construction, dims, eps, delta, trials, factors):
    need = math.ceil((1 - delta) * trials)
    ok, plan = success_count(construction, dims, eps, delta, trials, 1.0)
    row = {"construction": construction, "dims": "-".join(map(str, dims)), "eps": eps, "delta": delta,
           "trials": trials, "theorem_n": "/".join(map(str, plan.n)),
           "theorem_random_weights": plan.num_random_weights, "theorem_successes": ok,
           "theorem_ok": ok >= need}
    best = (1.0, plan) if ok >= need else None
    for f in factors:
        if f >= 1.0:
            continue
        ok_f, plan_f = success_count(construction, dims, eps, delta, trials, f)
        if ok_f < need:
            break
        best = (f, plan_f)
    if best is not None:
        row.update(min_factor=best[0], min_factor_n="/".join(map(str, best[1].n)),
                   min_factor_random_weights=best[1].num_random_weights,
                   slack=plan.num_random_weights / best[1].num_random_weights)
    return row


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(prog="fidelity.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=None, help="seeds per width (default 10; quick 5)")
    p.add_argument("--quick", action="store_true", help="tiny targets, few trials (for tests)")
    p.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="where run folders go")
    p.add_argument("--table-dir", default=None,
                   help=f"where fidelity.tex goes (default {DEFAULT_TABLE_DIR}; with --quick the run folder)")
    args = p.parse_args(argv)
    trials = args.trials if args.trials is not None else (5 if args.quick else 10)
    if trials < 1:
        p.error("--trials must be ≥ 1")
    from sltheory import cli
    cli.output_dir("--run-root", args.run_root)   # before the runs, not after them
    if args.table_dir is not None:
        cli.output_dir("--table-dir", args.table_dir)
    cases = QUICK_CASES if args.quick else CASES
    import sltheory
    config = {"cases": [[c, list(d), e, dl] for c, d, e, dl in cases], "trials": trials,
              "factors": list(FACTORS), "sltheory_version": sltheory.__version__}
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    run_dir = Path(args.run_root) / key
    results = run_dir / "results.csv"
    if results.exists():
        with open(results, newline="") as fh:
            rows = list(csv.DictReader(fh))
        print(f"(finished run {run_dir}: printing saved results)")
    else:
        rows = []
        for case in cases:
            rows.append(run_case(*case, trials, FACTORS))
            r = rows[-1]
            print(f"{r['construction']:<21} {r['dims']:<12} eps={r['eps']:<5} theorem n={r['theorem_n']:<12} "
                  f"{r['theorem_successes']}/{trials} ok  min factor={r.get('min_factor', '-')}", flush=True)
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(results, buf.getvalue())
    print(f"\n{'construction':<22}{'target':<13}{'eps':>6}{'delta':>6}  {'theorem n':<12}{'random w.':>12}"
          f"{'success':>9}  {'min factor':>10}{'slack ×':>9}")
    for r in rows:
        slack = f"{float(r['slack']):.1f}" if r.get("slack") not in (None, "") else "-"
        print(f"{r['construction']:<22}{r['dims']:<13}{float(r['eps']):>6g}{float(r['delta']):>6g}  "
              f"{r['theorem_n']:<12}{int(r['theorem_random_weights']):>12,}"
              f"{r['theorem_successes']:>6}/{r['trials']:<2}  {str(r.get('min_factor') or '-'):>10}{slack:>9}")
    print("\nrandom weights the rules ask for (planned, not sampled), eps = 0.01, delta = 0.05:")
    for name in sorted(sltheory.constructions()):
        spec = sltheory.construction(name)
        sizes = ", ".join(f"{'-'.join(map(str, d))}: {spec.parameter_bound(d, 0.01, 0.05):.3g}" for d in PLANNED)
        print(f"  {name:<21} {sizes}")
    print(f"\nresults: {results}")
    mark_latest(args.run_root, run_dir)
    table(run_dir, args.table_dir or (run_dir if args.quick else DEFAULT_TABLE_DIR))
    return rows


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    return latest(run_root)


def table(run_dir, out_dir) -> list[Path]:
    """fidelity.tex (a tabular) from ``run_dir``/results.csv only."""
    with open(Path(run_dir) / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = [r"\begin{tabular}{llrrlrrrr}", r"\toprule",
             r"construction & target & $\varepsilon$ & $\delta$ & rule's $n$ & random weights & success & "
             r"min.\ factor & slack \\", r"\midrule"]
    for r in rows:
        slack = f"{float(r['slack']):.1f}$\\times$" if r.get("slack") else "--"
        lines.append(f"{r['construction'].replace('_', chr(92) + '_')} & {r['dims']} & {float(r['eps']):g} & "
                     f"{float(r['delta']):g} & {r['theorem_n']} & {int(r['theorem_random_weights']):,} & "
                     f"{r['theorem_successes']}/{r['trials']} & {r.get('min_factor') or '--'} & {slack} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    p = Path(out_dir) / "fidelity.tex"
    atomic_write_text(p, f"% generated by experiments/fidelity.py from run {Path(run_dir).name}; do not edit\n"
                      + "\n".join(lines))
    return [p]


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
