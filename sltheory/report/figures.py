"""Rebuild every figure and table of paper/ from saved results, without recomputing anything.

Reads the last finished run of each experiment (the ``latest`` pointer in its run root, or the
folder given on the command line) and writes PDF + PNG figures to ``paper/figures`` and LaTeX
``tabular`` files to ``paper/tables``:

=====================  ==========================================  ==============================
experiment             figures                                     tables
=====================  ==========================================  ==============================
width_sweep.py         width_sweep, success_rate, kept_per_target, sweep_summary, trained,
                       trained_accuracy, width_sweep_conv          conv_sweep, conv_widths
solver_time.py         solver_time                                 solver_time
ticket_graph.py        ticket_graph
fidelity.py                                                        fidelity
benchmarks/                                                        counting_limit
counting_limit.py
search_vs_             search_vs_construction, search_accuracy,    search_summary
construction.py        search_planted
structure_vs_          structure_vs_weights, structure_width,      structure_accuracy,
weights.py             structure_continual                         structure_width,
                                                                   structure_continual
=====================  ==========================================  ==============================

An experiment with no saved run is reported (with the command that produces it) and the others
are still rebuilt; the exit status is 1 if any was missing. Usage::

    python experiments/make_figures.py
    python experiments/make_figures.py --width-sweep runs/width_sweep/<hash>
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .._checks import path_arg
from ..experiment.config import output_dir, project_root
from ..experiment.runs import latest
from . import counting, fidelity, search, solver_time, structure, ticket_graph, width_sweep

__all__ = ["EXPERIMENTS", "main"]

#: name → (how to rebuild from a run folder into (fig_dir, table_dir), command producing the run).
#: Each experiment's runs are under runs/<name>/.
EXPERIMENTS: dict[str, tuple[Callable[..., list], str]] = {
    "width_sweep": (lambda run, f, t: width_sweep.figures(run, f) + width_sweep.tables(run, t),
                    "python experiments/width_sweep.py"),
    "solver_time": (solver_time.report, "python experiments/solver_time.py"),
    "ticket_graph": (lambda run, f, t: ticket_graph.figure(run, f), "python experiments/ticket_graph.py"),
    "fidelity": (lambda run, f, t: fidelity.table(run, t), "python experiments/fidelity.py"),
    "counting_limit": (lambda run, f, t: counting.table(run, t), "python benchmarks/counting_limit.py"),
    "search_vs_construction": (lambda run, f, t: search.figures(run, f) + search.tables(run, t),
                               "python experiments/search_vs_construction.py"),
    "structure_vs_weights": (lambda run, f, t: structure.figures(run, f) + structure.tables(run, t),
                             "python experiments/structure_vs_weights.py"),
}


def main(argv=None, *, prog: str = "make_figures.py") -> dict:
    root = project_root()
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    for name in EXPERIMENTS:
        p.add_argument(f"--{name.replace('_', '-')}", default=None, metavar="RUN_DIR",
                       help=f"run folder of {name}.py (default: its last finished run)")
    p.add_argument("--fig-dir", default=str(root / "paper" / "figures"), help="figure folder")
    p.add_argument("--table-dir", default=str(root / "paper" / "tables"), help="table folder")
    p.add_argument("--only", default=None, help="comma list of experiments to rebuild (default all)")
    args = p.parse_args(argv)
    only = list(EXPERIMENTS) if args.only is None else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in EXPERIMENTS]
    if unknown:
        p.error(f"unknown experiment(s) {unknown}; known: {list(EXPERIMENTS)}")
    for name in only:   # (a run folder without results is reported as missing below, not an error)
        if getattr(args, name) is not None:
            path_arg(f"--{name.replace('_', '-')}", getattr(args, name))
    output_dir("--fig-dir", args.fig_dir)
    output_dir("--table-dir", args.table_dir)
    written: list = []
    missing: list[str] = []
    for name in only:
        rebuild, command = EXPERIMENTS[name]
        given = getattr(args, name)
        try:
            run_dir = Path(given) if given is not None else latest(root / "runs" / name)
            if not (run_dir / "results.csv").exists():
                raise FileNotFoundError(f"{run_dir} holds no results.csv")
            paths = rebuild(run_dir, args.fig_dir, args.table_dir)
        except FileNotFoundError as exc:
            missing.append(name)
            print(f"{name}: no saved results ({exc}); produce them with: {command}")
            continue
        written += paths
        print(f"{name} (run {run_dir.name}): " + ", ".join(Path(q).name for q in paths))
    if missing:
        print(f"missing: {', '.join(missing)}")
    result = {"written": written, "missing": missing}
    if missing and argv is None:
        sys.exit(1)
    return result
