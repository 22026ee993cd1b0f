"""The structure of a small ticket: which random paths carry which target weight.

Builds one small ticket (default: the subset-sum construction on a 2-3-2 Gaussian target, n = 6
samples per block), exports it with ``Ticket.to_networkx()`` and saves the graph as JSON
(``runs/ticket_graph/<config hash>/graph.json``, networkx node-link data) beside
``config.json`` and a one-row ``results.csv`` (sizes and bound).
:func:`sltheory.report.ticket_graph.figure` draws ``paper/figures/ticket_graph.{pdf,png}`` from
the saved JSON alone.

Usage::

    python experiments/ticket_graph.py
    python experiments/ticket_graph.py --construction burkholz --dims 2,3,2 --n 6
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import sltheory
from sltheory.errors import InvalidArgumentError
from sltheory.experiment import config as C
from sltheory.experiment import engine
from sltheory.experiment.config import option
from sltheory.experiment.runs import RunFolder, atomic_write_text, latest
from sltheory.report.plotting import graph_to_json
from sltheory.report.ticket_graph import COLUMNS, KEY, figure

DEFAULT_RUN_ROOT = C.project_root() / "runs" / "ticket_graph"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TicketGraphConfig:
    construction: str = option("subset_sum", "registered construction")
    dims: tuple = option((2, 3, 2), "target widths (≥ 2 positive widths, ≤ 64 weights: the figure is for reading)")
    n: int = option(6, "samples per block (the construction's n; ≤ 16)", check=C.counts(maximum=16))
    seed: int = option(0, "random network seed", check=C.nonnegative)
    target_seed: int = option(0, "Gaussian target seed", check=C.nonnegative)
    run_root: str = option(str(DEFAULT_RUN_ROOT), "folder of run folders", hashed=False, check=C.output_dir)
    fig_dir: str = option(str(C.project_root() / "paper" / "figures"), "figure folder", hashed=False)
    no_plot: bool = option(False, "skip the figure", hashed=False)

    def validate(self) -> None:
        if self.construction not in sltheory.constructions():
            raise InvalidArgumentError(f"unknown construction {self.construction!r}; "
                                       f"registered: {sorted(sltheory.constructions())}")
        dims = self.dims
        if len(dims) < 2 or min(dims) < 1 or sum(a * b for a, b in zip(dims[:-1], dims[1:])) > 64:
            raise InvalidArgumentError("--dims must give a small target (≥ 2 positive widths, ≤ 64 weights: "
                                       "the figure is for reading)")
        if not self.no_plot:
            C.output_dir("--fig-dir", self.fig_dir)

    def hashed_dict(self) -> dict:
        return dict(C.config_dict(self), schema_version=SCHEMA_VERSION, sltheory_version=C.library_version())


def build(cfg: dict):
    """The ticket's graph and its summary row."""
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


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    return latest(run_root)


def main(argv=None) -> dict:
    cfg, _ = C.parse(TicketGraphConfig, argv, prog="ticket_graph.py", description=__doc__.split("\n\n")[0])
    folder = RunFolder(cfg.run_root, cfg.hashed_dict(), COLUMNS, KEY)
    graph = folder.path / "graph.json"

    def save(_, result):
        g, row = result
        atomic_write_text(graph, graph_to_json(g))
        print(f"ticket graph: {row['nodes']} nodes, {row['edges']} edges, {row['kept_weights']} kept; {folder.path}")
        return [row]

    done = engine.run(folder, [folder.config], build, job_key=lambda c: (c["construction"],), save=save,
                      redo=not graph.exists(), desc="ticket graph")
    if not done.ran:
        print(f"finished run {folder.path}: using the saved graph")
    paths = [] if cfg.no_plot else figure(folder.path, cfg.fig_dir)
    return {"run_dir": folder.path, "paths": paths}


if __name__ == "__main__":
    from sltheory import cli
    sys.exit(0 if cli.run(main) else 1)
