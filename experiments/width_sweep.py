"""Width sweep: error of strong lottery tickets against overparameterization, for every construction
(MLP and conv / residual targets).

The job, its configuration and command line are :mod:`sltheory.experiment.width_sweep`; its figures
and tables :mod:`sltheory.report.width_sweep` (also rebuilt by ``python experiments/make_figures.py``).
Results go to ``runs/width_sweep/<hash of config.json>/results.csv``: a rerun skips finished jobs,
an interrupted one resumes, a changed config gets a new folder.

Usage::

    python experiments/width_sweep.py                  # default sweep (~1.5 min MLP + ~2 min conv on 2 idle cores)
    python experiments/width_sweep.py --quick          # smoke run (seconds; tests)
    python experiments/width_sweep.py --executor ray   # every job a Ray task (local 2-CPU cluster)
    python experiments/width_sweep.py --help
"""

from sltheory.experiment.width_sweep import SweepConfig, build_parser, factor_for_rho, run  # noqa: F401
from sltheory.report.width_sweep import FIGURES, TABLES, figures, latest_run_dir, main, report, tables  # noqa: F401

if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
