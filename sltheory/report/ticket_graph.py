"""The drawing of a small ticket (``experiments/ticket_graph.py``), from its run folder's graph.json alone."""

from __future__ import annotations

import json
from pathlib import Path

from .._atomic import savefig_formats
from ..experiment.runs import read_rows
from .plotting import draw_ticket_graph, graph_from_json

__all__ = ["COLUMNS", "KEY", "figure"]

#: results.csv of a ticket graph run: one row, the ticket's sizes and bound.
COLUMNS = {"construction": str, "dims": str, "n": int, "seed": int, "random_weights": int, "kept_weights": int,
           "target_weights": int, "error_bound": float, "nodes": int, "edges": int}
KEY = ("construction",)


def figure(run_dir, out_dir) -> list[Path]:
    """ticket_graph.{pdf,png} from ``run_dir``/graph.json only."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    g = graph_from_json((run_dir / "graph.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    row = read_rows(run_dir / "results.csv", COLUMNS)[0]
    fig, ax = plt.subplots(figsize=(8.5, 5.0))
    draw_ticket_graph(g, ax=ax)
    ax.set_title(f"{cfg['construction']} ticket for a {row['dims']} target (n = {row['n']}): "
                 f"{row['kept_weights']} of {row['random_weights']} random weights kept, "
                 f"certified error ≤ {row['error_bound']:.2g}", fontsize=9)
    paths = savefig_formats(fig, out_dir, "ticket_graph")
    plt.close(fig)
    return paths
