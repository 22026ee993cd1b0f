"""Search against construction: edge-popup, supermask and biprop against the subset-sum construction on the
same random networks (generated target, digits and MNIST-1D classifiers, planted tickets).

The job, its configuration and command line are :mod:`sltheory.experiment.search`; its figures and
table :mod:`sltheory.report.search` (also rebuilt by ``python experiments/make_figures.py``).
Results go to ``runs/search_vs_construction/<hash of config.json>/results.csv``: a rerun skips
finished jobs, an interrupted one resumes, a changed config gets a new folder.

Usage::

    python experiments/search_vs_construction.py              # default run (under 10 min on 2 cores)
    python experiments/search_vs_construction.py --quick      # smoke run (seconds; tests)
    python experiments/search_vs_construction.py --parts planted --seeds 0,1,2
    python experiments/search_vs_construction.py --help
"""

from sltheory.experiment.search import SearchConfig, build_parser, run  # noqa: F401
from sltheory.report.search import FIGURES, TABLES, figures, latest_run_dir, main, report, tables  # noqa: F401

if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
