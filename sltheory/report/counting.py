"""The counting-limit benchmark's printed tables and its paper table (``benchmarks/counting_limit.py``).

* :func:`print_cell` — one measured cell, a line per lever (rows of
  :func:`sltheory.experiment.counting.run_cell`);
* :func:`print_ratios` — ρ_c per lever for every saved cell of a run folder;
* :func:`table` — ``counting_limit.tex`` (ρ_c of every lever and the n of the last, per
  (depth, d, ε)) from a saved run folder.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..experiment.counting import LEVER_ORDER
from ..experiment.runs import atomic_write_text

__all__ = ["print_cell", "print_ratios", "table"]


def print_cell(rows: list[dict]) -> None:
    """One measured cell: its counting bound, then per lever n, random weights, ρ_c (total and per
    layer), success, the extra bits per layer against log₂√d_in′, and the note."""
    r0 = rows[0]
    print(f"\nd = {r0['d']}, depth {r0['depth']}, ε = {r0['eps']:g}: counting bound "
          f"{r0['depth']} × {r0['d']}² × log₂(1/(2ε)) = "
          f"{r0['depth'] * r0['d'] ** 2 * math.log2(1 / (2 * r0['eps'])):,.0f}")
    print(f"  {'lever':<31} {'network':<10} {'n':<13} {'random w.':>11} {'ρ_c':>6} {'per layer':<17} "
          f"{'success':<16} {'extra bits (log₂√d_in′)':<28} note")
    for r in rows:
        extra = " ".join(f"{e:+.1f}({b:.1f})" for e, b in zip(r["extra_bits"], r["entrywise_bits"]))
        if not r["n"]:
            print(f"  {r['lever']:<31} {r['network']:<10} {r['success']}")
            continue
        print(f"  {r['lever']:<31} {r['network']:<10} {str(r['n']):<13} {r['weights']:>11,} {r['ratio']:>6.2f} "
              f"{'/'.join(f'{v:.2f}' for v in r['layer_ratios']):<17} {r['success']:<16} {extra:<28} {r['note']}")
    last = rows[-1]
    if "pruning_runs" in last:
        print(f"  ({last['pruning_runs']} best-ticket prunings, {last['pruning_seconds']:.0f} s)")


def _by_cell(saved: list[dict]) -> dict:
    """(depth, d, ε) → lever → saved row."""
    cells: dict = {}
    for r in saved:
        cells.setdefault((int(r["depth"]), int(r["d"]), float(r["eps"])), {})[r["lever"]] = r
    return cells


def print_ratios(saved: list[dict]) -> None:
    """ρ_c of every lever for every saved cell (rows as read from results.csv)."""
    print("\nρ_c = random weights / counting bound, per lever (goal ≤ 3):")
    levers = list(LEVER_ORDER)
    print(f"  {'d':>4} {'l':>2} {'ε':>6} " + " ".join(f"{lv[:14]:>14}" for lv in levers))
    for (depth, d, eps), rows in sorted(_by_cell(saved).items()):
        by = {lv: float(r["ratio"]) for lv, r in rows.items()}
        print(f"  {d:>4} {depth:>2} {eps:>6g} " + " ".join(
            f"{by[lv]:>14.2f}" if lv in by and not math.isnan(by[lv]) else f"{'-':>14}" for lv in levers))


def table(run_dir, table_dir) -> list[str]:
    """paper/tables/counting_limit.tex from a saved run: per (d, depth, ε), ρ_c of every lever,
    and the n of the last lever."""
    with open(Path(run_dir) / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    heads = ["theorem", "neg.\\ half", "uniform $\\tau$", "spectral", "block-diag.", "balanced", "$n$ per layer"]
    lines = ["\\begin{tabular}{rrr" + "r" * len(LEVER_ORDER) + "l}", "\\toprule",
             "$l$ & $d$ & $\\varepsilon$ & " + " & ".join(heads) + " & $n$ (last) \\\\", "\\midrule"]
    for (depth, d, eps), by in sorted(_by_cell(rows).items()):
        vals = []
        for lv in LEVER_ORDER:
            r = by.get(lv)
            vals.append("--" if r is None or r["ratio"] in ("", "nan") else f"{float(r['ratio']):.2f}")
        last = by.get(LEVER_ORDER[-1]) or {}
        lines.append(f"{depth} & {d} & {eps:g} & " + " & ".join(vals) + f" & {last.get('n', '--')} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    path = Path(table_dir) / "counting_limit.tex"
    atomic_write_text(path, "\n".join(lines))
    return [str(path)]
