"""Structure or weights? On one random network per data set, width and seed: a mask only (edge-popup),
the mask plus a budget of k % of the weights trained, random masks and RigL at the same densities,
dense training, IMP with rewinding and its linear-mode-connectivity instability; and continual
learning on split digits / MNIST-1D (supermasks in superposition against sequential dense and sparse
fine-tuning).

The jobs, their configuration and command line are :mod:`sltheory.experiment.structure`; its figures
and tables :mod:`sltheory.report.structure` (also rebuilt by ``python experiments/make_figures.py``).
Results go to ``runs/structure_vs_weights/<hash of config.json>/results.csv``: a rerun skips finished
jobs, an interrupted one resumes, a changed config gets a new folder.

Usage::

    python experiments/structure_vs_weights.py              # default run (5–7 min on 2 cores)
    python experiments/structure_vs_weights.py --quick      # smoke run (seconds; tests)
    python experiments/structure_vs_weights.py --parts continual --seeds 0,1,2
    python experiments/structure_vs_weights.py --help
"""

from sltheory.experiment.structure import StructureConfig, build_parser, run  # noqa: F401
from sltheory.report.structure import FIGURES, TABLES, figures, latest_run_dir, main, report, tables  # noqa: F401

if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
