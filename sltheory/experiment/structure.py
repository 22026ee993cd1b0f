"""Structure or weights? Masks, a budget of updated weights, and full training on one random network
— and continual learning without forgetting (issue 17).

Two parts, one kind of job each (:func:`run_job`; one row per trained model, :data:`COLUMNS`):

* ``methods`` — on ONE random network per (data set, width h, seed): a d-h-h-10 ReLU MLP without
  biases, signed Kaiming constant weights (:func:`sltheory.search.random_mlp`, ``init=
  "signed_constant"``: Ramanujan et al.'s setting), every method of :mod:`sltheory.training` trained
  on the labels of the digits (:func:`sltheory.data.load_digits`) or MNIST-1D
  (:func:`sltheory.data.load_mnist1d_dataset`):

  - ``mask_only`` — edge-popup at kept fraction ``--keep`` per layer, no weight changed (k = 0);
  - ``sparse_finetune`` — the same mask, then a budget of k · N weights (N: all random weights) of
    largest ``--rule`` importance trained, k ∈ ``--budgets`` (at most the present ones: at k = 1 every
    present weight is trained);
  - ``dense`` — every weight trained;
  - ``random_mask`` and ``rigl`` — a uniformly random mask at each density of ``--densities``, its
    weights trained (RigL also moves the mask);
  - ``imp`` — iterative magnitude pruning, ``--imp-rounds`` rounds pruning ``--imp-pruned-fraction``
    of each layer's weights per round, rewinding to step t = round(``--rewind-fraction`` · all steps)
    (one row per round: density ≈ (1 − p)^r); then ``instability``: two copies of IMP's round
    ``--instability-round`` subnetwork trained from the rewind point with different data orders, at
    rewind 0 and at t, and the error barrier on the linear path between them (Frankle et al. 2020).

  The first three run at every width of ``--widths`` (the width trend), the others at
  ``--baseline-widths``. A row records the density (present / N), the **changed fraction** (weights
  whose final value is not the random one / N: pruning is structure, not a change), test and train
  accuracy and seconds.
* ``continual`` — each data set split into ``--tasks`` tasks of 10/T classes
  (:func:`sltheory.training.split_tasks`: one shared head of 10/T outputs), one random d-h-h-(10/T)
  network of width ``--continual-width``: supermasks in superposition
  (:func:`sltheory.training.supsup`; task given, and task inferred on batches of ``--infer-batch``
  test rows by each rule of ``--infer-rules``), sequential dense fine-tuning and sequential sparse
  fine-tuning of k · N weights per task for k ∈ ``--continual-budgets``
  (:func:`sltheory.training.sequential`). Rows: the average accuracy over the tasks after the last
  one, forgetting per task (Chaudhry et al. 2018; mean and max over the tasks before the last), the
  bits stored per task (a mask; k · N float32 values with their indices; a float32 copy of the
  network) and the task-inference accuracy.

Results go to ``runs/structure_vs_weights/<hash of config.json>/results.csv`` (one row per trained
model), saved after every finished job (:func:`sltheory.experiment.engine.run`): a rerun skips
finished jobs, an interrupted one resumes. Figures and tables are the report's
(:mod:`sltheory.report.structure`), passed in as ``report`` so that this module never imports the
report room.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError
from . import config as C
from .summary import finite, median

__all__ = ["StructureConfig", "StructureJob", "COLUMNS", "KEY", "PARTS", "DATASETS", "METHODS", "CONTINUAL",
           "DEFAULT_RUN_ROOT", "SCHEMA_VERSION", "build_parser", "parse", "main", "run", "run_job", "make_jobs",
           "load_dataset", "summary_records", "summarize"]

DEFAULT_RUN_ROOT = C.project_root() / "runs" / "structure_vs_weights"
#: Bump when the meaning or the columns of results.csv change: old run folders are then never reused.
SCHEMA_VERSION = 1
#: The parts of the experiment (module docstring).
PARTS = ("methods", "continual")
DATASETS = ("digits", "mnist1d")
#: The job groups of the ``methods`` part, each one job per (data set, width, seed); ``imp`` also
#: writes the ``instability`` rows (they need IMP's mask).
METHODS = ("mask_only", "sparse_finetune", "random_mask", "rigl", "dense", "imp")
#: The job groups of the ``continual`` part; ``supsup`` writes the task-given and the task-inferred rows.
CONTINUAL = ("supsup", "sequential_dense", "sequential_sparse")
RULES = ("fisher", "gradient")
#: The method groups that run at every width of ``--widths`` (the others at ``--baseline-widths``).
WIDTH_METHODS = ("mask_only", "sparse_finetune", "dense")
#: SupSup's task-inference rules (:data:`sltheory.training.continual.INFER_RULES`).
INFER_RULES = ("one_shot", "lowest_entropy")

#: results.csv schema: column → type.
COLUMNS: dict = {
    "part": str, "dataset": str, "width": int, "seed": int, "group": str, "method": str, "setting": str,
    "dims": str, "weights": int, "keep": float, "budget": float, "budget_count": int, "requested_density": float,
    "density": float, "kept": int, "changed_count": int, "changed_fraction": float,
    "test_accuracy": float, "train_accuracy": float, "mask_test_accuracy": float,
    "round": int, "rewind": int, "barrier": float, "path_errors": str, "copy_accuracies": str,
    "epochs": int, "lr": float,
    "tasks": int, "average_accuracy": float, "final_accuracies": str, "forgetting": str, "forgetting_mean": float,
    "forgetting_max": float, "bits_per_task": float, "bits_entropy_coded": float, "task_inference_accuracy": float,
    "train_seconds": float, "time_job_s": float,
}
#: Columns identifying one row; the first five identify its job.
KEY = ("part", "dataset", "width", "seed", "group", "method", "setting")


_opt = C.option
_fraction = C.fraction()
_open_fraction = C.fraction(closed=False)
_rewind_fraction = C.fraction(closed=False, says="the late rewind point is a fraction of the training steps in")


@dataclass(frozen=True)
class StructureConfig:
    """Everything that determines the results (hashed), plus how and where to run (``hashed=False``)."""

    parts: tuple = _opt(PARTS, "parts to run, a comma list of " + ",".join(PARTS), type=C.str_list)
    datasets: tuple = _opt(DATASETS, "data sets, a comma list of " + ",".join(DATASETS), type=C.str_list)
    methods: tuple = _opt(METHODS, "methods of the methods part, a comma list of " + ",".join(METHODS)
                          + " (imp also measures the instability)", type=C.str_list)
    widths: tuple = _opt((64, 128, 256, 512, 1024), "hidden widths h of the d-h-h-10 random MLPs at which "
                         "mask_only, sparse_finetune and dense run (the width trend)", quick=(16,),
                         check=C.each(C.counts(maximum=2048)))
    baseline_widths: tuple = _opt((64, 128, 256, 512), "the widths at which random_mask, rigl and imp run too "
                                  "(those among --widths)", quick=(16,), check=C.each(C.counts(maximum=2048)))
    seeds: tuple = _opt((0, 1), "random-network (and training) seeds", quick=(0,), check=C.each(C.nonnegative))
    mnist1d_samples: int = _opt(4000, "MNIST-1D signals generated (80 % train)", quick=400,
                                check=C.counts(minimum=100, maximum=200_000))
    data_seed: int = _opt(0, "seed of the data splits (digits) and of the MNIST-1D generation", check=C.nonnegative)
    keep: float = _opt(0.5, "edge-popup's kept fraction per layer (mask_only, sparse_finetune, supsup)",
                       check=_fraction)
    budgets: tuple = _opt((0.001, 0.01, 0.1, 1.0), "sparse fine-tuning budgets k: fractions of all N random weights "
                          "trained after the mask (k = 0 is mask_only)", type=C.float_list, check=C.each(_fraction))
    rule: str = _opt("fisher", "importance rule choosing the budget's weights: " + ", ".join(RULES),
                     choices=RULES)
    densities: tuple = _opt((0.001, 0.01, 0.1), "densities of random_mask and rigl", type=C.float_list,
                            check=C.each(_fraction))
    epochs: int = _opt(20, "training epochs of every method (per stage, per IMP round, per task)", quick=2,
                       check=C.counts(maximum=10_000))
    mask_lr: float = _opt(0.01, "Adam learning rate of edge-popup's scores", check=C.positive)
    lr: float = _opt(0.01, "Adam learning rate of the weights", check=C.positive)
    batch_size: int = _opt(128, "mini-batch size", check=C.counts(maximum=1_000_000))
    imp_rounds: int = _opt(5, "IMP pruning rounds (round 0 is dense training)", quick=2,
                           check=C.counts(maximum=50))
    imp_pruned_fraction: float = _opt(0.75, "IMP: fraction of each layer's present weights pruned per round "
                                      "(density (1 − p)^r after round r)", check=_open_fraction)
    rewind_fraction: float = _opt(0.05, "IMP's rewind point (and the instability's late one): this fraction of the "
                                  "training steps", check=_rewind_fraction)
    instability_round: int = _opt(2, "IMP round whose subnetwork the instability is measured on (0: dense)",
                                  quick=1, check=C.nonnegative)
    barrier_points: int = _opt(11, "points on the linear path of the error barrier", check=C.counts(minimum=2,
                                                                                                     maximum=1001))
    drop_fraction: float = _opt(0.3, "RigL's initial drop fraction (cosine decay)", check=_fraction)
    update_every: int = _opt(20, "RigL: steps between mask updates", quick=5, check=C.count)
    tasks: int = _opt(5, "continual part: tasks the 10 classes are split into (2 or 5: "
                      "consecutive classes, at least 2 per task)", check=C.counts(minimum=2, maximum=5))
    continual_width: int = _opt(256, "continual part: hidden width of the d-h-h-(10/T) random MLP", quick=16,
                                check=C.counts(maximum=2048))
    continual_budgets: tuple = _opt((0.01, 0.1), "continual part: sequential sparse fine-tuning budgets k (fractions "
                                    "of N per task)", type=C.float_list, check=C.each(_fraction))
    infer_batch: int = _opt(128, "continual part: test rows per task-inference batch (1: per example)",
                            check=C.counts(maximum=100_000))
    infer_rules: tuple = _opt(INFER_RULES, "continual part: SupSup's task-inference rules, a comma list of "
                              + ",".join(INFER_RULES) + " (the paper's one-shot entropy gradient; each mask's own "
                              "output entropy, lowest wins)", type=C.str_list)
    executor: str = C.executor_option()
    workers: int | None = C.workers_option()
    ray_address: str | None = C.ray_address_option()
    run_root: str = C.run_root_option(DEFAULT_RUN_ROOT)
    fig_dir: str = C.fig_dir_option()
    table_dir: str = C.table_dir_option()
    no_plot: bool = C.no_plot_option()

    def validate(self) -> None:
        from .executors import check_executor

        for label, values, known in (("parts", self.parts, PARTS), ("datasets", self.datasets, DATASETS),
                                     ("methods", self.methods, METHODS),
                                     ("infer-rules", self.infer_rules, INFER_RULES)):
            if not isinstance(values, tuple):
                raise InvalidArgumentError(f"{label} must be a tuple, got {values!r}")
            for v in values:
                if v not in known:
                    raise InvalidArgumentError(f"--{label}: unknown {v!r}; known: {', '.join(known)}")
            if len(set(values)) != len(values):
                raise InvalidArgumentError(f"--{label} has duplicates: {','.join(values)}")
            if not values:
                raise InvalidArgumentError(f"--{label}: name at least one")
        for label, grid in (("--widths", self.widths), ("--baseline-widths", self.baseline_widths),
                            ("--seeds", self.seeds), ("--budgets", self.budgets),
                            ("--densities", self.densities), ("--continual-budgets", self.continual_budgets)):
            if not isinstance(grid, tuple) or not grid:
                raise InvalidArgumentError(f"{label} must be a non-empty list, got {grid!r}")
            if len(set(grid)) != len(grid):
                raise InvalidArgumentError(f"{label} has duplicates: {grid!r}")
        if not any(w in self.widths for w in self.baseline_widths):
            raise InvalidArgumentError(f"--baseline-widths ({','.join(map(str, self.baseline_widths))}) has no width "
                                       f"among --widths ({','.join(map(str, self.widths))}): give --baseline-widths "
                                       "too")
        if 10 % self.tasks:
            raise InvalidArgumentError(f"--tasks must divide the 10 classes into tasks of at least 2 classes "
                                       f"(2 or 5), got {self.tasks}")
        if self.instability_round > self.imp_rounds:
            raise InvalidArgumentError(f"--instability-round {self.instability_round} is past the last IMP round "
                                       f"(--imp-rounds {self.imp_rounds})")
        check_executor(self.executor, self.workers, self.ray_address)

    def hashed_dict(self) -> dict:
        """The hashed fields (lists of floats as floats), the schema and library versions."""
        d = C.config_dict(self)
        for k in ("budgets", "densities", "continual_budgets"):
            d[k] = [float(v) for v in getattr(self, k)]
        d["schema_version"] = SCHEMA_VERSION
        d["sltheory_version"] = C.library_version()
        return d


# ----------------------------------------------------------------------------- data
def load_dataset(name: str, seed: int, mnist1d_samples: int):
    """The :class:`~sltheory.data.Dataset` ``name`` (digits or MNIST-1D; inputs in the unit ball)."""
    from .. import data

    if name == "digits":
        return data.load_digits(seed=seed)
    if name == "mnist1d":
        return data.load_mnist1d_dataset(seed=seed, num_samples=mnist1d_samples)
    raise InvalidArgumentError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")


# ----------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class StructureJob:
    """One job: one method group on one random network (part ``methods``), or one continual-learning
    method on one split (part ``continual``). ``settings``: the hashed options the job needs."""

    part: str
    dataset: str
    width: int
    seed: int
    group: str
    settings: tuple             # ((name, value), …) of the config fields the job reads

    @property
    def key(self) -> tuple:
        return (self.part, self.dataset, int(self.width), int(self.seed), self.group)

    def get(self, name: str) -> Any:
        return dict(self.settings)[name]


#: The config fields a job reads (everything hashed that shapes a model).
_JOB_FIELDS = ("mnist1d_samples", "data_seed", "keep", "budgets", "rule", "densities", "epochs", "mask_lr", "lr",
               "batch_size", "imp_rounds", "imp_pruned_fraction", "rewind_fraction", "instability_round",
               "barrier_points", "drop_fraction", "update_every", "tasks", "continual_budgets", "infer_batch",
               "infer_rules")
#: Relative cost of a job group (dense trainings per random network), to start the longest first.
_COST = {"imp": 10, "sparse_finetune": 14, "rigl": 4, "random_mask": 3, "mask_only": 2, "dense": 1,
         "supsup": 2, "sequential_dense": 1, "sequential_sparse": 2}


def make_jobs(cfg: StructureConfig) -> list[StructureJob]:
    """The jobs of every part asked for, longest first (so that a pool finishes together)."""
    settings = tuple((k, getattr(cfg, k)) for k in _JOB_FIELDS)
    jobs: list[StructureJob] = []
    if "methods" in cfg.parts:
        for dataset in cfg.datasets:
            for width in cfg.widths:
                for seed in cfg.seeds:
                    for group in cfg.methods:
                        if group not in WIDTH_METHODS and width not in cfg.baseline_widths:
                            continue
                        jobs.append(StructureJob("methods", dataset, int(width), int(seed), group, settings))
    if "continual" in cfg.parts:
        for dataset in cfg.datasets:
            for seed in cfg.seeds:
                for group in CONTINUAL:
                    jobs.append(StructureJob("continual", dataset, int(cfg.continual_width), int(seed), group,
                                             settings))
    in_features = {"digits": 64, "mnist1d": 40}
    return sorted(jobs, key=lambda j: -(_COST[j.group] * j.width * (j.width + in_features.get(j.dataset, 64))
                                        * (2.5 if j.dataset == "mnist1d" else 1.0)))


def _dims(d: int, width: int, out: int) -> tuple[int, ...]:
    return (d, width, width, out)


def _trained_row(res, **extra) -> dict:
    """The columns of a :class:`~sltheory.training.base.Trained`."""
    st = res.stats
    row = dict(weights=int(st["weights"]), density=float(st["density"]), kept=int(st["kept"]),
               changed_count=int(st["changed_count"]), changed_fraction=float(st["changed_fraction"]),
               test_accuracy=st.get("test_accuracy"), train_accuracy=float(st["train_accuracy"]),
               epochs=int(st["epochs"]), lr=float(st["lr"]), train_seconds=float(st["train_seconds"]))
    for k in ("keep", "budget", "budget_count", "requested_density", "mask_test_accuracy", "round", "rewind"):
        if st.get(k) is not None:
            row[k] = st[k]
    row.update(extra)
    return row


def _late_rewind(n_train: int, epochs: int, batch_size: int, fraction: float) -> int:
    """round(fraction · all optimiser steps), at least 1 (the loop's steps: epochs · ⌈n / batch⌉)."""
    steps = epochs * max(1, math.ceil(n_train / batch_size))
    return max(1, int(round(fraction * steps)))


def _methods_job(job: StructureJob) -> list[dict]:
    from .. import training
    from ..search import random_mlp

    ds = load_dataset(job.dataset, job.get("data_seed"), job.get("mnist1d_samples"))
    dims = _dims(ds.dim, job.width, ds.num_classes)
    rand = random_mlp(dims, init="signed_constant", seed=job.seed)
    common = dict(data=(ds.x_train, ds.y_train), test=(ds.x_test, ds.y_test), epochs=job.get("epochs"),
                  seed=job.seed, batch_size=job.get("batch_size"))
    lr, mask_lr, keep = job.get("lr"), job.get("mask_lr"), job.get("keep")
    rows: list[dict] = []
    g = job.group
    if g == "mask_only":
        res = training.mask_only(rand, keep=keep, lr=mask_lr, **common)
        rows.append(_trained_row(res, method="mask_only", setting="k=0", budget=0.0))
    elif g == "sparse_finetune":
        # stage 1 once (the mask sparse_finetune would find with these settings), every budget on it
        mask = training.mask_only(rand, keep=keep, lr=mask_lr, **common)
        for k in job.get("budgets"):
            res = training.sparse_finetune(rand, keep=keep, budget=float(k), rule=job.get("rule"),
                                           mask_epochs=job.get("epochs"), mask_lr=mask_lr, lr=lr, curves=False,
                                           mask=mask, **common)
            rows.append(_trained_row(res, method="sparse_finetune", setting=f"k={float(k):g}"))
    elif g in ("random_mask", "rigl"):
        extra = ({} if g == "random_mask" else
                 dict(drop_fraction=job.get("drop_fraction"), update_every=job.get("update_every")))
        for dens in job.get("densities"):
            call = training.random_mask if g == "random_mask" else training.rigl
            res = call(rand, density=float(dens), lr=lr, curves=False, **extra, **common)
            rows.append(_trained_row(res, method=g, setting=f"density={float(dens):g}"))
    elif g == "dense":
        res = training.dense(rand, lr=lr, curves=False, **common)
        rows.append(_trained_row(res, method="dense", setting="k=1"))
    elif g == "imp":
        rewind = _late_rewind(ds.x_train.shape[0], job.get("epochs"), job.get("batch_size"),
                              job.get("rewind_fraction"))
        rounds = training.imp(rand, rounds=job.get("imp_rounds"), pruned_fraction=job.get("imp_pruned_fraction"),
                              rewind=rewind, lr=lr, curves=False, **common)
        for res in rounds:
            rows.append(_trained_row(res, method="imp", setting=f"round {res.stats['round']}"))
        ticket = rounds[job.get("instability_round")]
        for t in (0, rewind):
            out = training.instability(rand, mask=ticket, rewind=t, seeds=(job.seed + 1, job.seed + 2),
                                       points=job.get("barrier_points"), lr=lr, **common)
            a, b = out["networks"]
            rows.append(dict(
                method="instability", setting=f"round {ticket.stats['round']} rewind {t}",
                round=int(ticket.stats["round"]), rewind=int(t), barrier=float(out["barrier"]),
                path_errors=";".join(f"{e:.6g}" for e in out["errors"]),
                copy_accuracies=";".join(f"{v:.6g}" for v in out["accuracies"]),
                weights=int(a.stats["weights"]), density=float(a.stats["density"]), kept=int(a.stats["kept"]),
                changed_count=int(a.stats["changed_count"]), changed_fraction=float(a.stats["changed_fraction"]),
                test_accuracy=statistics.fmean(out["accuracies"]),
                train_accuracy=statistics.fmean([a.stats["train_accuracy"], b.stats["train_accuracy"]]),
                epochs=job.get("epochs"), lr=lr, train_seconds=float(out["seconds"])))
    else:
        raise InvalidArgumentError(f"unknown method group {g!r}")
    head = dict(part=job.part, dataset=job.dataset, width=job.width, seed=job.seed, group=g,
                dims="-".join(map(str, dims)), keep=keep if g in ("mask_only", "sparse_finetune") else None)
    return [{**head, **r} for r in rows]


def _continual_row(res, setting: str) -> dict:
    f = res.forgetting
    return dict(method=res.method, setting=setting, tasks=res.tasks, average_accuracy=res.average_accuracy,
                final_accuracies=";".join(f"{v:.6g}" for v in res.final_accuracy),
                forgetting=";".join(f"{v:.6g}" for v in f), forgetting_mean=res.average_forgetting,
                forgetting_max=max(f) if f else None, bits_per_task=res.bits_per_task,
                bits_entropy_coded=res.bits_entropy_coded, task_inference_accuracy=res.task_inference_accuracy,
                weights=int(res.stats["weights"]), budget=res.stats.get("budget"),
                budget_count=res.stats.get("budget_count"), epochs=int(res.stats["epochs"]),
                lr=float(res.stats["lr"]), train_seconds=float(res.stats["train_seconds"]))


def _continual_job(job: StructureJob) -> list[dict]:
    from .. import training
    from ..search import random_mlp

    ds = load_dataset(job.dataset, job.get("data_seed"), job.get("mnist1d_samples"))
    tasks = training.split_tasks(ds, tasks=job.get("tasks"))
    dims = _dims(ds.dim, job.width, tasks[0].num_classes)
    rand = random_mlp(dims, init="signed_constant", seed=job.seed)
    kw = dict(epochs=job.get("epochs"), seed=job.seed, batch_size=job.get("batch_size"))
    rows = []
    if job.group == "supsup":
        for i, rule in enumerate(job.get("infer_rules")):   # the same masks each time (same seeds)
            res = training.supsup(rand, tasks, keep=job.get("keep"), lr=job.get("mask_lr"),
                                  infer_batch=job.get("infer_batch"), infer_rule=rule, **kw)
            if i == 0:
                rows.append(dict(_continual_row(res, "task given"), keep=job.get("keep")))
            if res.inferred is None:   # pragma: no cover - supsup always infers
                raise InvalidArgumentError("supsup returned no task-inferred result")
            label = f"inferred: {rule}, batch {job.get('infer_batch')}"
            rows.append(dict(_continual_row(res.inferred, label), keep=job.get("keep")))
    elif job.group == "sequential_dense":
        rows.append(_continual_row(training.sequential(rand, tasks, lr=job.get("lr"), **kw), "all weights"))
    elif job.group == "sequential_sparse":
        for k in job.get("continual_budgets"):
            res = training.sequential(rand, tasks, budget=float(k), rule=job.get("rule"), lr=job.get("lr"), **kw)
            rows.append(_continual_row(res, f"k={float(k):g}"))
    else:
        raise InvalidArgumentError(f"unknown continual method {job.group!r}")
    head = dict(part=job.part, dataset=job.dataset, width=job.width, seed=job.seed, group=job.group,
                dims="-".join(map(str, dims)))
    return [{**head, **r} for r in rows]


def run_job(job: StructureJob) -> list[dict]:
    """Run one job (either part); returns its rows, every column of :data:`COLUMNS` (None where not measured).

    Torch runs on one thread during the job (restored after it), in a pool worker as in this process."""
    import torch

    runners = {"methods": _methods_job, "continual": _continual_job}
    if job.part not in runners:
        raise InvalidArgumentError(f"unknown part {job.part!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        rows = runners[job.part](job)
        total = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return [{k: (total if k == "time_job_s" else r.get(k)) for k in COLUMNS} for r in rows]


# ----------------------------------------------------------------------------- run
def run_folder(cfg: StructureConfig):
    from .runs import RunFolder
    return RunFolder(cfg.run_root, cfg.hashed_dict(), COLUMNS, KEY)


def _status(job: StructureJob, rows) -> str:
    r = rows[0]
    return (f"{job.part} {job.dataset} h={job.width} seed {job.seed} {job.group}: {len(rows)} rows "
            f"({r['time_job_s']:.1f}s)")


def run(cfg: StructureConfig, *, report=None, make_plots: bool = True, out=None) -> dict:
    """Run (or resume) the experiment; ``report(run_dir, fig_dir, table_dir) -> (figures, tables)`` makes
    the figures and tables (:func:`sltheory.report.structure.report`). Returns {'run_dir', 'rows', 'ran',
    'figures', 'tables', 'seconds'}."""
    from . import engine

    out = sys.stdout if out is None else out
    C.check(cfg)
    t0 = time.perf_counter()
    folder = run_folder(cfg)
    jobs = make_jobs(cfg)
    print(f"structure vs weights: {len(jobs)} jobs (parts {', '.join(cfg.parts)}; data {', '.join(cfg.datasets)}; "
          f"widths {','.join(map(str, cfg.widths))}; seeds {','.join(map(str, cfg.seeds))}; {cfg.epochs} epochs), "
          f"executor={cfg.executor}\nrun folder: {folder.path}", file=out)
    done = engine.run(folder, jobs, run_job, row_key=lambda r: folder.key_of(r)[:5], status=_status,
                      executor=cfg.executor, workers=cfg.workers, ray_address=cfg.ray_address,
                      desc="structure vs weights", out=out)
    rows = done.rows
    print("\n" + summarize(rows), file=out)
    figs, tabs = engine.make_report(folder.path, cfg, report, make_plots, out)
    return {"run_dir": folder.path, "rows": rows, "ran": done.ran, "figures": figs, "tables": tabs,
            "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- summaries
#: The order methods are listed in (summaries, tables, legends).
ORDER = ("mask_only", "sparse_finetune", "random_mask", "rigl", "imp", "instability", "dense", "supsup",
         "supsup_inferred", "sequential_sparse", "sequential_dense")


def _setting_order(setting: str) -> tuple:
    """Numeric order of a setting label (k=0.001 < k=0.01; round 2 < round 10)."""
    nums = []
    for tok in setting.replace("=", " ").replace(",", " ").split():
        try:
            nums.append(float(tok))
        except ValueError:
            continue
    return (tuple(nums), setting)


def summary_records(rows) -> list[dict]:
    """One record per (part, dataset, width, method, setting): medians over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["part"], r["dataset"], r["width"], r["method"], r["setting"]), []).append(r)

    def order(key):
        part, dataset, width, method, setting = key
        rank = ORDER.index(method) if method in ORDER else len(ORDER)
        return (PARTS.index(part) if part in PARTS else 9, dataset, width, rank, _setting_order(setting))

    recs = []
    for key in sorted(groups, key=order):
        part, dataset, width, method, setting = key
        rs = groups[key]
        rec = {"part": part, "dataset": dataset, "width": width, "method": method, "setting": setting,
               "seeds": len(rs)}
        for k in ("weights", "density", "changed_fraction", "test_accuracy", "train_accuracy", "barrier",
                  "average_accuracy", "forgetting_mean", "forgetting_max", "bits_per_task", "bits_entropy_coded",
                  "task_inference_accuracy", "train_seconds"):
            rec[k] = median([r[k] for r in rs])
        recs.append(rec)
    return recs


def summarize(rows) -> str:
    """The medians over seeds as console tables (one per part)."""
    recs = summary_records(rows)
    if not recs:
        return "(no rows)"

    def f(v, spec):
        return "-" if not finite(v) else format(v, spec)

    def table(part, head, line) -> list[str]:
        return [head, "-" * len(head)] + [line(r) for r in recs if r["part"] == part]

    out = []
    if any(r["part"] == "methods" for r in recs):
        out += table("methods", f"{'dataset':<8} {'h':>5} {'method':<16} {'setting':<18} {'density':>8} "
                     f"{'changed':>8} {'test':>6} {'train':>6} {'barrier':>7} {'s':>6}",
                     lambda r: f"{r['dataset']:<8} {r['width']:>5} {r['method']:<16} {r['setting']:<18} "
                     f"{f(r['density'], '>8.4f')} {f(r['changed_fraction'], '>8.4f')} "
                     f"{f(r['test_accuracy'], '>6.3f')} {f(r['train_accuracy'], '>6.3f')} "
                     f"{f(r['barrier'], '>7.3f')} {f(r['train_seconds'], '>6.1f')}")
    if any(r["part"] == "continual" for r in recs):
        if out:
            out.append("")
        out += table("continual", f"{'dataset':<8} {'h':>5} {'method':<18} {'setting':<34} {'avg acc':>7} "
                     f"{'forget':>7} {'max f.':>7} {'bits/task':>10} {'task inf':>8}",
                     lambda r: f"{r['dataset']:<8} {r['width']:>5} {r['method']:<18} {r['setting']:<34} "
                     f"{f(r['average_accuracy'], '>7.3f')} {f(r['forgetting_mean'], '>7.3f')} "
                     f"{f(r['forgetting_max'], '>7.3f')} {f(r['bits_per_task'], '>10.3g')} "
                     f"{f(r['task_inference_accuracy'], '>8.3f')}")
    return "\n".join(out)


# ----------------------------------------------------------------------------- command line
DESCRIPTION = ("Structure or weights? On one random network per data set, width and seed: a mask only (edge-popup), "
               "the mask plus k % of the weights trained, random masks and RigL at the same densities, dense "
               "training, IMP with rewinding and its instability — test accuracy against the fraction of weights "
               "changed, and against width; and continual learning on split tasks (supermasks in superposition "
               "against sequential dense and sparse fine-tuning). Resumable; results in RUN_ROOT/<config hash>/"
               "results.csv; figures and tables rebuilt from them into paper/.")
QUICK_HELP = ("tiny smoke run for tests (width 16, 2 epochs, 400 MNIST-1D signals, 2 IMP rounds, 1 seed, "
              "in-process); explicit options still win")


_COMMAND = C.Command(StructureConfig, DESCRIPTION, QUICK_HELP)


def build_parser(prog: str = "structure_vs_weights.py"):
    return _COMMAND.build_parser(prog)


def parse(argv=None, prog: str = "structure_vs_weights.py") -> StructureConfig:
    """The checked configuration of a command line (exit status 2 on a bad one)."""
    return _COMMAND.parse(argv, prog)


def main(argv=None, *, report=None, prog: str = "structure_vs_weights.py") -> dict:
    """The experiment's command: parse, run, and (unless --no-plot) ``report`` the figures/tables."""
    return _COMMAND.main(run, argv, report=report, prog=prog)
