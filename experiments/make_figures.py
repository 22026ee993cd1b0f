"""Rebuild every figure and table of paper/ from saved results, without recomputing anything.

The command is :func:`sltheory.report.figures.main` (its docstring lists what each experiment
contributes). Usage::

    python experiments/make_figures.py
    python experiments/make_figures.py --width-sweep runs/width_sweep/<hash>
"""

from sltheory.report.figures import EXPERIMENTS, main  # noqa: F401

if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
