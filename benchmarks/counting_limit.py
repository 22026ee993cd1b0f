"""Random network size against the counting lower bound, lever by lever, at ≥ 95% success.

The counting bound (Pensia et al. 2020, Theorem 2, counting form — stated for square maps; the
rectangular form is our reading; ``sltheory.counting_lower_bound``) says a network whose masks
ε-approximate every d_in × d_out linear map of norm ≤ 1 has at least
d_in d_out log₂(1/(2ε)) − 1 weights. For square bias-free ReLU targets (d-d-…-d, depth l, each
matrix Gaussian divided by its spectral norm: ``sltheory.gaussian_target``) this script prints the
ratio

    ρ_c = random weights / Σ_i d_in d_out log₂(1/(2ε))     (and the same per layer)

for a chain of levers, each applied on top of the previous one:

1. ``theorem``: subset_sum as Theorem 1 states it — the rule's n (C = 1, reach floor), dense
   pairs of 2n·d_in hidden units everywhere (``spare_negative_half=False``). Planned only: its
   pruning is that of lever 2 (the extra units after a ReLU are the ones never used).
2. ``negative half``: the library's default, the negative half spared after ReLUs; success of
   ``approximate(eps=ε)`` at the rule's n over ``--rule-seeds`` seeds (d ≤ ``--dense-max-d``).
3. ``uniform τ, measured n`` (d ≤ ``--dense-max-d``): the smallest common n at which ≥ 95% of the seeds give a
   ticket whose
   every weight error is within the proof's uniform tolerance τ_i = e/√(d_in' d_out) (e the
   per-layer budget (1+ε)^{1/l} − 1; the theorem's ε/(d l) up to constants), which guarantees ε.
4. ``spectral, measured n`` (d ≤ ``--dense-max-d``): the smallest common n at which ≥ 95% of the seeds give a
   ticket whose
   *certificate* is ≤ ε (sltheory.certificate: spectral norms of the actual error matrices, propagated;
   the S-procedure bound where it is affordable) — the tolerance allocated from the actual error
   propagation instead of a uniform τ.
5. ``block-diagonal first sub-layer``: lever 4 on ``subset_sum_blockdiag`` (a variant, its own
   claim and bound: ``sltheory/constructions/subset_sum_blockdiag.py``, ``proofs/``).
6. ``balanced signs``: lever 5 with ``balanced_signs=True`` (checkerboard signs in the second
   sub-layers: every (output, slot) problem has n/2 samples of each sign; a further variant).
7. ``n per layer``: from the better of levers 5–6, a local search over per-layer n (lower one
   layer by 1, or lower one and raise another by 1) keeping ≥ 95% success.

Success in 3–7 is measured on the best ticket (``approximate(target, rand)``: every weight at its
optimal subset); its certificate ≤ ε implies ``approximate(eps=ε)`` succeeds (that is its last
resort), so the n found is an upper bound on what the ε mode needs. Trial s uses target seed
1000 + s and random-network seed s; ≥ 95% means ≥ ⌈0.95 S⌉ of S trials (S = ``--seeds``, 20 by
default: 19 of 20); a count stops early once it cannot reach that.

Then, per row, where the rest goes: the *extra bits* n_i − log₂(1/(2ε)) of each layer against
log₂√d_in' (what an entrywise scheme pays because ‖E‖₂ is at least the largest row norm), and
the factor the structure costs ((d_in'/d_in)(1 + d_out)/d_out for the block-diagonal pair).

Results go to ``runs/counting_limit/<settings hash>/{config.json,results.csv}``, one row per lever
and cell (d, depth, ε), rewritten atomically after every cell; the folder is named by the per-cell
settings (seeds, δ, …) only, so a rerun, or a run over another grid, skips the finished cells
(two processes, e.g. ``--depths 2`` and ``--depths 3``, can fill it side by side), and
``python experiments/make_figures.py`` turns the last finished run into paper/tables/counting_limit.tex.
The cells are :mod:`sltheory.experiment.counting`, the printed tables and the paper table
:mod:`sltheory.report.counting`. Prints measured figures only (no assertions). Run from the
repository root::

    python benchmarks/counting_limit.py                 # d = 32…256, depth 2–3, ε = 1e-1…1e-3 (hours;
                                                        # one d = 256 cell at ε = 1e-3: 43 min on 2 cores)
    python benchmarks/counting_limit.py --quick         # d = 16, 32, depth 2, ε = 0.1, 0.01, 10 seeds
    python benchmarks/counting_limit.py --dims 64 --depths 2 --eps 0.01
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sltheory  # noqa: E402
from sltheory.experiment.counting import (  # noqa: E402,F401
    LEVER_ORDER,
    PASS,
    check_fits,
    csv_row,
    done_cells,
    read_saved,
    run_cell,
    run_folder,
    save_cell,
    warm_up,
)
from sltheory.report.counting import print_cell, print_ratios, table  # noqa: E402,F401

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN_ROOT = REPO_ROOT / "runs" / "counting_limit"


def latest_run_dir(root=DEFAULT_RUN_ROOT) -> Path:
    from sltheory.experiment.runs import latest

    return latest(root)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="d = 16, 32, depth 2, ε = 0.1, 0.01, 10 seeds")
    parser.add_argument("--dims", type=int, nargs="+", default=None, help="widths d (default 32 64 128 256)")
    parser.add_argument("--depths", type=int, nargs="+", default=None, help="depths (default 2 3)")
    parser.add_argument("--eps", type=float, nargs="+", default=None, help="network-level ε (default 0.1 0.01 0.001)")
    parser.add_argument("--seeds", type=int, default=None, help="trials per measured point (default 20)")
    parser.add_argument("--rule-seeds", type=int, default=None, help="trials at the rule's n (default 3)")
    parser.add_argument("--delta", type=float, default=0.05, help="δ of the rule (levers 1-2)")
    parser.add_argument("--dense-max-d", type=int, default=64,
                        help="measure levers 3-4 (the dense pairs, the costliest prunings) only up to this d "
                             "(default 64; the block-diagonal pairs solve problems of the same law)")
    parser.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="where run folders go")
    args = parser.parse_args(argv)
    dims = args.dims or ([16, 32] if args.quick else [32, 64, 128, 256])
    depths = args.depths or ([2] if args.quick else [2, 3])
    epss = args.eps or ([0.1, 0.01] if args.quick else [0.1, 0.01, 0.001])
    seeds = args.seeds if args.seeds is not None else (10 if args.quick else 20)
    rule_seeds = args.rule_seeds if args.rule_seeds is not None else (1 if args.quick else 3)
    if min(dims) < 1 or min(depths) < 1 or seeds < 1 or rule_seeds < 0 or not all(0 < e < 0.5 for e in epss) \
            or not 0 < args.delta < 1:
        parser.error("--dims, --depths, --seeds must be ≥ 1, --rule-seeds ≥ 0, every --eps in (0, 0.5) and "
                     "--delta in (0, 1)")
    from sltheory import cli
    for e in epss:
        cli.eps("--eps", e)
    cli.delta("--delta", args.delta)
    cli.output_dir("--run-root", args.run_root)
    check_fits(dims, depths, args.delta)   # the smallest network a cell samples must fit
    from sltheory.experiment.runs import atomic_write_text, mark_latest

    # The run folder is named by the per-cell settings only: runs over other grids (another depth,
    # another d) with the same settings fill the same folder, and a finished cell is not redone.
    config = {"seeds": seeds, "rule_seeds": rule_seeds, "delta": args.delta, "pass": PASS,
              "sltheory_version": sltheory.__version__}
    run_dir = run_folder(args.run_root, config)
    saved = read_saved(run_dir)
    done = done_cells(saved, args.dense_max_d)
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")

    print(f"JIT warm-up {warm_up():.1f} s (not counted); {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}; success = ≥ {math.ceil(PASS * seeds)} of {seeds} trials; run {run_dir}")
    summary = []
    for depth in depths:
        for d in dims:
            for eps in epss:
                if (d, depth, eps) in done:
                    print(f"\nd = {d}, depth {depth}, ε = {eps:g}: finished in {run_dir.name} (skipped)")
                    continue
                t0 = time.perf_counter()
                rows = run_cell(d, depth, eps, seeds, rule_seeds, args.delta, args.dense_max_d)
                print_cell(rows)
                print(f"  cell time {time.perf_counter() - t0:.0f} s", flush=True)
                summary.append(rows)
                saved = save_cell(run_dir, [csv_row(r) for r in rows])
    mark_latest(args.run_root, run_dir)
    print_ratios(saved)
    print(f"results: {run_dir / 'results.csv'}; load average at end {os.getloadavg()[0]:.2f}")
    return summary


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
