"""The structure of a small ticket: which random paths carry which target weight.

Builds one small ticket (default: the subset-sum construction on a 2-3-2 Gaussian target, n = 6
samples per block), exports it with ``Ticket.to_networkx()`` and saves the graph as JSON
(``runs/ticket_graph/<config hash>/graph.json``, networkx node-link data) beside
``config.json`` and a one-row ``results.csv`` (sizes and bound). :func:`figure` draws
``paper/figures/ticket_graph.{pdf,png}`` from the saved JSON alone (``sltheory.plotting``).

Usage::

    python experiments/ticket_graph.py
    python experiments/ticket_graph.py --construction burkholz --dims 2,3,2 --n 6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN_ROOT = REPO_ROOT / "runs" / "ticket_graph"
DEFAULT_FIG_DIR = REPO_ROOT / "paper" / "figures"
SCHEMA_VERSION = 1
COLUMNS = {"construction": str, "dims": str, "n": int, "seed": int, "random_weights": int, "kept_weights": int,
           "target_weights": int, "error_bound": float, "nodes": int, "edges": int}
KEY = ("construction",)


def build(cfg: dict):
    """The ticket's graph and its summary row."""
    import sltheory

    dims = tuple(cfg["dims"])
    W = sltheory.gaussian_target(dims, cfg["target_seed"])
    rand = sltheory.random_network(W, n=cfg["n"], seed=cfg["seed"], construction=cfg["construction"])
    ticket = sltheory.approximate(W, rand)
    g = ticket.to_networkx()
    row = {"construction": cfg["construction"], "dims": "-".join(map(str, dims)), "n": cfg["n"], "seed": cfg["seed"],
           "random_weights": int(ticket.stats["random_weights"]), "kept_weights": int(ticket.stats["kept_weights"]),
           "target_weights": int(ticket.stats["target_weights"]), "error_bound": float(ticket.error_bound),
           "nodes": g.number_of_nodes(), "edges": g.number_of_edges()}
    return g, row


def figure(run_dir, out_dir) -> list[Path]:
    """ticket_graph.{pdf,png} from ``run_dir``/graph.json only."""
    import json

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sltheory.report.plotting import draw_ticket_graph, graph_from_json
    from sltheory.experiment.runs import read_rows, savefig_atomic

    run_dir = Path(run_dir)
    g = graph_from_json((run_dir / "graph.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    row = read_rows(run_dir / "results.csv", COLUMNS)[0]
    fig, ax = plt.subplots(figsize=(8.5, 5.0))
    draw_ticket_graph(g, ax=ax)
    ax.set_title(f"{cfg['construction']} ticket for a {row['dims']} target (n = {row['n']}): "
                 f"{row['kept_weights']} of {row['random_weights']} random weights kept, "
                 f"certified error ≤ {row['error_bound']:.2g}", fontsize=9)
    paths = []
    for suffix in ("pdf", "png"):
        p = Path(out_dir) / f"ticket_graph.{suffix}"
        savefig_atomic(fig, p)
        paths.append(p)
    plt.close(fig)
    return paths


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    from sltheory.experiment.runs import latest
    return latest(run_root)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="ticket_graph.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--construction", default="subset_sum", help="registered construction")
    p.add_argument("--dims", default="2,3,2", help="target widths")
    p.add_argument("--n", type=int, default=6, help="samples per block (the construction's n)")
    p.add_argument("--seed", type=int, default=0, help="random network seed")
    p.add_argument("--target-seed", type=int, default=0, help="Gaussian target seed")
    p.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="folder of run folders")
    p.add_argument("--fig-dir", default=str(DEFAULT_FIG_DIR), help="figure folder")
    p.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = p.parse_args(argv)
    import sltheory
    from sltheory.experiment.runs import RunFolder, atomic_write_text, mark_latest

    if args.construction not in sltheory.constructions():
        p.error(f"unknown construction {args.construction!r}; registered: {sorted(sltheory.constructions())}")
    try:
        dims = [int(v) for v in args.dims.split(",")]
    except ValueError:
        p.error(f"--dims must be comma-separated integers, got {args.dims!r}")
    if len(dims) < 2 or min(dims) < 1 or sum(a * b for a, b in zip(dims[:-1], dims[1:])) > 64:
        p.error("--dims must give a small target (≥ 2 positive widths, ≤ 64 weights: the figure is for reading)")
    if not 1 <= args.n <= 16:
        p.error("--n must be in 1..16 (the figure is for reading)")
    from sltheory import cli
    cli.count("--seed", args.seed, minimum=0)
    cli.count("--target-seed", args.target_seed, minimum=0)
    cli.output_dir("--run-root", args.run_root)
    if not args.no_plot:
        cli.output_dir("--fig-dir", args.fig_dir)
    cfg = {"construction": args.construction, "dims": dims, "n": args.n, "seed": args.seed,
           "target_seed": args.target_seed, "schema_version": SCHEMA_VERSION,
           "sltheory_version": sltheory.__version__}
    folder = RunFolder(args.run_root, cfg, COLUMNS, KEY).prepare()
    if not (folder.path / "graph.json").exists() or not folder.read():
        from sltheory.report.plotting import graph_to_json
        g, row = build(cfg)
        atomic_write_text(folder.path / "graph.json", graph_to_json(g))
        folder.add([row])
        print(f"ticket graph: {row['nodes']} nodes, {row['edges']} edges, {row['kept_weights']} kept; {folder.path}")
    else:
        print(f"finished run {folder.path}: using the saved graph")
    mark_latest(args.run_root, folder.path)
    paths = [] if args.no_plot else figure(folder.path, args.fig_dir)
    return {"run_dir": folder.path, "paths": paths}


if __name__ == "__main__":
    from sltheory import cli
    sys.exit(0 if cli.run(main) else 1)
