"""Fidelity of each construction's width rule: success at the theorem's width, and its slack.

For every registered construction and a few generated targets (sizes where the theorem's width
fits this machine), over ``--trials`` seeds (a fresh target and random network per seed):

* **success at the theorem's width** — ``random_network(target, eps, delta)`` then
  ``approximate(target, rand, eps)``; the rule is honest if it succeeds in ≥ 1 − δ of trials;
* **slack** — the smallest width factor f (n scaled by f, from the ``FACTORS`` grid) that still succeeds
  in ≥ 1 − δ of trials: the theorem's width is 1/f times what was needed.

Also prints, for each construction, the random weights its rule asks for on larger targets
(planned only, nothing sampled), to show where a rule stops being practical.

Writes ``runs/fidelity/<config hash>/{config.json,results.csv}`` (one row per case, saved as each
finishes; a finished config is re-printed, not recomputed); :func:`sltheory.report.fidelity.table`
makes fidelity.tex from it. Usage::

    python experiments/fidelity.py            # ~8 min on 2 cores
    python experiments/fidelity.py --quick    # seconds (tests)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import sltheory
from sltheory.experiment import config as C
from sltheory.experiment import engine
from sltheory.experiment.config import option
from sltheory.experiment.runs import RunFolder, latest, spaced_config_hash
from sltheory.report.fidelity import COLUMNS, KEY, case_key, ordered, table

DEFAULT_RUN_ROOT = C.project_root() / "runs" / "fidelity"
DEFAULT_TABLE_DIR = C.project_root() / "paper" / "tables"

#: (construction, target dims, eps, delta): sizes where the theorem's width fits in memory.
CASES = (
    ("pensia", (8, 16, 16, 4), 0.05, 0.1),
    ("pensia", (32, 64, 10), 0.01, 0.1),
    ("subset_sum", (8, 16, 16, 4), 0.05, 0.1),
    ("subset_sum", (32, 64, 10), 0.01, 0.1),
    ("subset_sum_blockdiag", (8, 16, 16, 4), 0.05, 0.1),
    ("subset_sum_blockdiag", (32, 64, 10), 0.01, 0.1),
    ("natale", (4, 8, 4), 0.1, 0.1),
    ("natale", (8, 16, 16, 4), 0.05, 0.1),
    ("natale", (16, 32, 8), 0.01, 0.1),
    ("malach", (2, 2), 0.3, 0.1),
    ("malach", (3, 3, 2), 0.3, 0.1),
    ("malach_product", (2, 2), 0.3, 0.1),
    ("malach_product", (3, 3, 2), 0.3, 0.1),
    # orseau over ε = 1e-1 … 1e-4 on one target: the sampled neurons per target weight against log(1/ε)
    ("orseau", (4, 4, 2), 0.1, 0.1),
    ("orseau", (4, 4, 2), 0.01, 0.1),
    ("orseau", (4, 4, 2), 0.001, 0.1),
    ("orseau", (4, 4, 2), 0.0001, 0.1),
    ("orseau", (8, 8, 4), 0.1, 0.1),
    ("orseau_halving", (4, 4, 2), 0.1, 0.1),
    ("orseau_halving", (8, 8, 4), 0.1, 0.1),
    ("burkholz", (8, 16, 16, 4), 0.05, 0.1),
    ("burkholz", (16, 32, 8), 0.01, 0.1),
    ("binary", (4, 4, 2), 0.1, 0.1),
    ("binary", (8, 16, 4), 0.05, 0.1),
)
QUICK_CASES = (("pensia", (2, 2), 0.2, 0.2), ("subset_sum", (3, 4, 2), 0.1, 0.2),
               ("subset_sum_blockdiag", (3, 4, 2), 0.1, 0.2), ("natale", (8, 8), 0.01, 0.2),
               ("malach", (2, 2), 0.3, 0.2), ("malach_product", (2, 2), 0.3, 0.2),
               ("orseau", (2, 2), 0.3, 0.2), ("orseau_halving", (2, 2), 0.3, 0.2),
               ("burkholz", (3, 4, 2), 0.1, 0.2), ("binary", (2, 2), 0.3, 0.2))
FACTORS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
PLANNED = ((16, 32, 32, 8), (64, 128, 10), (784, 300, 100, 10))


@dataclass(frozen=True)
class FidelityConfig:
    cases: tuple = option(CASES, "(construction, dims, eps, delta) cases", quick=QUICK_CASES, cli=False)
    trials: int = option(10, "seeds per width", quick=5, check=C.count)
    factors: tuple = option(FACTORS, "width factors tried below the rule's width", cli=False)
    run_root: str = option(str(DEFAULT_RUN_ROOT), "where run folders go", hashed=False, check=C.output_dir)
    table_dir: str | None = option(None, f"where fidelity.tex goes (default {DEFAULT_TABLE_DIR}; with --quick the "
                                   "run folder)", hashed=False, check=lambda n, v: v is None or C.output_dir(n, v))

    def hashed_dict(self) -> dict:
        return dict(C.config_dict(self), sltheory_version=C.library_version())


def success_count(construction, dims, eps, delta, trials, factor):
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


def neurons_per_weight(plan) -> float:
    """Hidden neurons of the random network (every random linear's outputs but the last) per target
    weight: the sampled neurons per target weight of Orseau et al.'s Figure 1."""
    hidden = sum(out_f for out_f, _ in plan.layer_shapes[:-1])
    return hidden / sum(d_out * d_in for d_out, d_in in plan.target_shapes)


def run_case(construction, dims, eps, delta, trials, factors):
    need = math.ceil((1 - delta) * trials)
    ok, plan = success_count(construction, dims, eps, delta, trials, 1.0)
    row = {"construction": construction, "whose": sltheory.construction(construction).whose,
           "dims": "-".join(map(str, dims)), "eps": eps, "delta": delta,
           "trials": trials, "theorem_n": "/".join(map(str, plan.n)),
           "theorem_random_weights": plan.num_random_weights,
           "theorem_neurons_per_weight": neurons_per_weight(plan), "theorem_successes": ok,
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
                   min_factor_neurons_per_weight=neurons_per_weight(best[1]),
                   slack=plan.num_random_weights / best[1].num_random_weights)
    return row


def _status(case, rows) -> str:
    r = rows[0]
    return (f"{r['construction']:<21} {r['dims']:<12} eps={r['eps']:<5} theorem n={r['theorem_n']:<12} "
            f"{r['theorem_successes']}/{r['trials']} ok  min factor={r.get('min_factor', '-')}")


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    return latest(run_root)


def main(argv=None) -> list[dict]:
    cfg, args = C.parse(FidelityConfig, argv, prog="fidelity.py", description=__doc__.split("\n\n")[0],
                        quick_help="tiny targets, few trials (for tests)")
    # the folder name hashes json.dumps(config, sort_keys=True), as before issue 12, so old folders resolve
    folder = RunFolder(cfg.run_root, cfg.hashed_dict(), COLUMNS, KEY, hasher=spaced_config_hash)
    done = engine.run(folder, cfg.cases, lambda case: [run_case(*case, cfg.trials, cfg.factors)], job_key=case_key,
                      status=_status, desc="fidelity")
    if not done.ran:
        print(f"(finished run {folder.path}: printing saved results)")
    rows = ordered(done.rows, cfg.cases)
    print(f"\n{'construction':<22}{'whose':<7}{'target':<13}{'eps':>7}{'delta':>6}  {'theorem n':<12}"
          f"{'random w.':>12}{'neur./w':>9}{'success':>9}  {'min factor':>10}{'neur./w':>9}{'slack ×':>9}")
    for r in rows:
        slack = f"{r['slack']:.1f}" if r["slack"] is not None else "-"
        at_min = f"{r['min_factor_neurons_per_weight']:.3g}" if r["min_factor_neurons_per_weight"] else "-"
        print(f"{r['construction']:<22}{r['whose']:<7}{r['dims']:<13}{r['eps']:>7g}{r['delta']:>6g}  "
              f"{r['theorem_n']:<12}{r['theorem_random_weights']:>12,}{r['theorem_neurons_per_weight']:>9.3g}"
              f"{r['theorem_successes']:>6}/{r['trials']:<2}  {str(r['min_factor'] or '-'):>10}{at_min:>9}{slack:>9}")
    print("\nrandom weights the rules ask for (planned, not sampled), eps = 0.01, delta = 0.05:")
    for name in sorted(sltheory.constructions()):
        spec = sltheory.construction(name)
        sizes = ", ".join(f"{'-'.join(map(str, d))}: {spec.parameter_bound(d, 0.01, 0.05):.3g}" for d in PLANNED)
        print(f"  {name:<21} {sizes}")
    print(f"\nresults: {folder.results_path}")
    table(folder.path, cfg.table_dir or (folder.path if args.quick else DEFAULT_TABLE_DIR))
    return rows


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
