"""The run loop every experiment shares: jobs → executor → run folder rows → progress → ``latest``.

:func:`run` takes a prepared list of jobs and the function that runs one, skips the jobs whose rows
its :class:`~sltheory.experiment.runs.RunFolder` already holds (a rerun resumes, a finished run
recomputes nothing), runs the others on an executor (:func:`~sltheory.experiment.executors.run_jobs`:
this process, a process pool or Ray), merges each job's rows into ``results.csv`` the moment they
exist, reports progress (:class:`~sltheory.experiment.progress.Progress`) and finally records the
folder as its root's ``latest`` run (what the figures are rebuilt from). :func:`make_report` then
makes the figures and tables with the report passed in (the experiment room never imports the report
room).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .executors import run_jobs
from .progress import Progress
from .runs import RunFolder, mark_latest

__all__ = ["Outcome", "run", "make_report"]


@dataclass
class Outcome:
    """What :func:`run` did: the saved rows of the jobs asked for, and how many jobs it ran."""

    path: Path
    rows: list
    ran: int
    total: int


def run(folder: RunFolder, jobs: Sequence, fn: Callable, *, job_key: Callable | None = None,
        row_key: Callable | None = None, save: Callable | None = None, status: Callable | None = None,
        executor: str = "local", workers: int | None = 1, ray_address: str | None = None, redo: bool = False,
        desc: str = "jobs", out=None) -> Outcome:
    """Run the ``jobs`` not yet in ``folder`` and save their rows.

    ``fn(job)`` returns the job's rows (a list of dicts), or anything ``save(job, result)`` turns into
    them (``save`` may also write files beside results.csv). ``job_key(job)`` (default ``job.key``)
    and ``row_key(row)`` (default the folder's key columns) say which rows belong to which job: a job
    whose key is among the saved rows' is skipped, unless ``redo``. ``status(job, rows)``: the text
    shown for each finished job. Returns the saved rows of ``jobs`` (others in the folder are left
    out) and marks the folder as its root's latest run."""
    out = sys.stdout if out is None else out
    job_key = job_key or (lambda job: job.key)
    row_key = row_key or folder.key_of
    folder.prepare()
    rows = folder.read()
    done = set() if redo else {row_key(r) for r in rows}
    todo = [j for j in jobs if job_key(j) not in done]
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} jobs already in {folder.RESULTS}", file=out)
    if todo:
        t_start = time.perf_counter()
        with Progress(len(jobs), len(jobs) - len(todo), desc=desc, out=out) as bar:
            for job, result in run_jobs(fn, todo, executor=executor, workers=workers, ray_address=ray_address):
                new = save(job, result) if save is not None else result
                rows = folder.add(new)     # merged with the saved rows (another process's too)
                bar.update(status(job, new) if status is not None else "")
        print(f"{len(todo)} job(s) in {time.perf_counter() - t_start:.1f}s", file=out)
    wanted = {job_key(j) for j in jobs}
    rows = [r for r in rows if row_key(r) in wanted]
    mark_latest(folder.path.parent, folder.path)
    return Outcome(folder.path, rows, len(todo), len(jobs))


def make_report(run_dir: Path, cfg, report: Callable | None, make_plots: bool = True, out=None) -> tuple[list, list]:
    """``report(run_dir, cfg.fig_dir, cfg.table_dir) -> (figures, tables)`` and the paths printed, when
    ``make_plots`` and a report is given; without a report, a line saying how to rebuild them. Returns
    (figures, tables), both empty when none were made."""
    out = sys.stdout if out is None else out
    figs: list = []
    tabs: list = []
    if make_plots and report is not None:
        figs, tabs = report(run_dir, cfg.fig_dir, cfg.table_dir)
        print("figures: " + ", ".join(str(p) for p in figs) + "\ntables: " + ", ".join(str(p) for p in tabs),
              file=out)
    elif make_plots:
        print("figures and tables: rebuild them with python experiments/make_figures.py", file=out)
    return figs, tabs
