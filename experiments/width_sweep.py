"""Width sweep: error of strong lottery tickets against overparameterization, for every construction.

For each registered construction (``sltheory.constructions()``), each target, a grid of
overparameterization factors ρ = random weights / target weights, and several seeds, one job
(:func:`sltheory.experiment.sweep.run_job`) samples the theorem's random network at that width, prunes it,
and records: the certified bound on sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂ of the best ticket, an
adversarial lower bound on the same sup, kept and total random weights, success of
``approximate(eps=ε)`` for each ε, wall time, and for trained targets the test accuracy of target
and ticket. The width for a grid point ρ is the rule's width × a factor found by bisection on the
construction's plan (nothing sampled), so every construction is measured at the same ρ values.

Targets: a Gaussian target with ‖W_i‖₂ = 1 (the theorems' boundary case), for all constructions;
and an MLP trained on scikit-learn's digits (ships with the package, no download) — plus MNIST when
``--mnist DIR`` points at local IDX files — for the constructions whose width fits (by default
subset_sum only; ``--trained-rho burkholz=…`` adds burkholz: Malach's and Orseau's rules need
10⁸–10¹² weights there). Trained targets
have ‖W_i‖₂ > 1 and are pruned with ``rescale=True``.

Results go to ``runs/width_sweep/<hash of config.json>/results.csv`` (one row per job and ε),
rewritten atomically after every finished job: a rerun skips finished jobs, an interrupted one
resumes, a changed config gets a new folder. The figures and tables (paper/figures, paper/tables)
are rebuilt from saved results only by :func:`figures` / :func:`tables`, also via
``python experiments/make_figures.py``.

Usage::

    python experiments/width_sweep.py                  # default sweep (~2 min on 2 CPU cores)
    python experiments/width_sweep.py --quick          # smoke run (seconds; tests)
    python experiments/width_sweep.py --executor ray   # every job a Ray task (local 2-CPU cluster)
    python experiments/width_sweep.py --help
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN_ROOT = REPO_ROOT / "runs" / "width_sweep"
DEFAULT_FIG_DIR = REPO_ROOT / "paper" / "figures"
DEFAULT_TABLE_DIR = REPO_ROOT / "paper" / "tables"

#: Bump when the meaning or the columns of results.csv change: old run folders are then never reused.
SCHEMA_VERSION = 2

#: Default ρ grid (random weights per target weight) per construction: from "hardly any signal"
#: to well below ε = 0.01 where the construction's solver stays fast on 2 cores.
DEFAULT_RHOS = (
    ("subset_sum", (16, 24, 32, 48, 64, 96)),
    ("subset_sum_blockdiag", (8, 12, 16, 24, 32, 48)),
    ("burkholz", (64, 128, 256, 512)),
    ("orseau", (128, 256, 512, 1024, 2048, 4096, 8192)),
    ("malach", (128, 256, 512, 1024, 2048, 4096, 8192, 16384)),
)
#: ρ grids on the digits-trained target (its first layer is wide and signed, so the same n costs a
#: larger ρ than on the small Gaussian target). Only subset_sum by default: Malach's and Orseau's
#: rules need 10⁸–10¹² weights there, and Burkholz's pruning took 2–15 min per job on 2 cores
#: (``--trained-rho burkholz=128,256`` runs it).
DEFAULT_TRAINED_RHOS = (
    ("subset_sum", (48, 72, 96, 144, 192)),
)
FIGURES = ("width_sweep", "success_rate", "kept_per_target", "trained_accuracy")
TABLES = ("sweep_summary", "trained")


class ConfigError(ValueError):
    """The sweep configuration is invalid (raised before any work or any file is written)."""


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class SweepConfig:
    """Everything that determines the results, plus how and where to run.

    ``dims``/``target_seed``: the Gaussian target. ``rhos``: (construction, ρ grid) pairs; the
    constructions swept are those listed. ``trained_rhos``: (construction, ρ grid) pairs run on the
    digits MLP ``trained_dims`` (trained with ``train_seed``; ``()`` for none); ``mnist``: folder of local
    MNIST IDX files (None: no MNIST target) with ``mnist_dims``. ``eps``: accuracies whose success
    is measured; ``delta``: the theorems' failure probability (widths and figures). ``adv_*``:
    settings of ``sltheory.adversarial_error``. ``executor``/``workers``/``ray_address``/
    ``run_root``/``fig_dir``/``table_dir`` say how and where, and do not enter the config hash.
    """

    rhos: tuple = DEFAULT_RHOS
    dims: tuple = (4, 8, 4)
    target_seed: int = 0
    trained_rhos: tuple = DEFAULT_TRAINED_RHOS
    trained_dims: tuple = (64, 16, 10)
    train_seed: int = 0
    mnist: str | None = None
    mnist_dims: tuple = (784, 32, 10)
    seeds: tuple = (0, 1, 2)
    eps: tuple = (0.1, 0.01)
    delta: float = 0.05
    device: str = "auto"
    adv_starts: int = 512
    adv_refine: int = 8
    adv_steps: int = 60
    adv_lr: float = 0.05
    executor: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    run_root: str = str(DEFAULT_RUN_ROOT)
    fig_dir: str = str(DEFAULT_FIG_DIR)
    table_dir: str = str(DEFAULT_TABLE_DIR)

    #: Fields that say how/where to run, not what is computed.
    OUTPUT_FIELDS = ("executor", "workers", "ray_address", "run_root", "fig_dir", "table_dir")

    @property
    def constructions(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.rhos)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""
        import sltheory
        from sltheory.experiment.executors import check_executor

        def ints(name, values, minimum, *, unique=True):
            if not isinstance(values, tuple) or len(values) == 0:
                raise ConfigError(f"{name} must be a non-empty tuple of integers, got {values!r}")
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
                    raise ConfigError(f"{name} must contain integers ≥ {minimum}, got {v!r}")
            if unique and len(set(values)) != len(values):
                raise ConfigError(f"{name} has duplicates: {values!r}")

        def positive(name, v, upper=None):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 \
                    or (upper is not None and v >= upper):
                raise ConfigError(f"{name} must be a finite number in (0, {upper or 'inf'}), got {v!r}")

        known = set(sltheory.constructions())
        if not isinstance(self.rhos, tuple) or not self.rhos:
            raise ConfigError("rhos must name at least one construction")
        for name, grid in self.rhos + self.trained_rhos:
            if name not in known:
                raise ConfigError(f"unknown construction {name!r}; registered: {sorted(known)}")
            if not isinstance(grid, tuple) or not grid:
                raise ConfigError(f"rhos for {name} must be a non-empty tuple")
            for r in grid:
                positive(f"rho of {name}", r)
            if len(set(grid)) != len(grid):
                raise ConfigError(f"rhos for {name} has duplicates: {grid!r}")
        if len(set(self.constructions)) != len(self.constructions):
            raise ConfigError(f"a construction is listed twice in rhos: {self.constructions}")
        if len({n for n, _ in self.trained_rhos}) != len(self.trained_rhos):
            raise ConfigError("a construction is listed twice in trained_rhos")
        ints("dims", self.dims, 1, unique=False)
        ints("trained_dims", self.trained_dims, 1, unique=False)
        ints("mnist_dims", self.mnist_dims, 1, unique=False)
        for name in ("dims", "trained_dims", "mnist_dims"):
            if len(getattr(self, name)) < 2:
                raise ConfigError(f"{name} needs at least 2 entries (input and output width)")
        if self.trained_rhos and (self.trained_dims[0] != 64 or self.trained_dims[-1] != 10):
            raise ConfigError(f"trained_dims must start with 64 (digits pixels) and end with 10 (classes), "
                              f"got {self.trained_dims}")
        if self.mnist is not None:
            if (self.mnist_dims[0] != 784 or self.mnist_dims[-1] != 10):
                raise ConfigError(f"mnist_dims must start with 784 and end with 10, got {self.mnist_dims}")
            if not Path(self.mnist).is_dir():
                raise ConfigError(f"--mnist {self.mnist}: no such folder (it must hold the MNIST IDX files)")
        ints("seeds", self.seeds, 0)
        ints("target_seed", (self.target_seed,), 0)
        ints("train_seed", (self.train_seed,), 0)
        for name in ("adv_starts", "adv_refine", "adv_steps"):
            ints(name, (getattr(self, name),), 1)
        if not isinstance(self.eps, tuple) or not self.eps:
            raise ConfigError("eps must be a non-empty tuple")
        for e in self.eps:
            positive("eps", e)
        positive("delta", self.delta, upper=1)
        positive("adv_lr", self.adv_lr)
        from sltheory import cli
        try:   # the library's limits (eps ≥ 1e-12, delta ≥ 1e-100), and folders that can be written
            for e in self.eps:
                cli.eps("eps", e)
            cli.delta("delta", self.delta)
            for name in ("run_root", "fig_dir", "table_dir"):
                cli.output_dir(name, getattr(self, name))
        except sltheory.SltheoryError as exc:
            raise ConfigError(str(exc)) from None
        sized = [("dims", self.dims, self.rhos), ("trained_dims", self.trained_dims, self.trained_rhos)]
        if self.mnist is not None:
            sized.append(("mnist_dims", self.mnist_dims, self.trained_rhos))
        for field_name, dims, grids in sized:   # no target or random network beyond the library's cap
            n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
            for name, grid in grids:
                if max(grid) * n_target > cli.MAX_RANDOM_WEIGHTS:
                    raise ConfigError(f"{field_name} {'-'.join(map(str, dims))} ({n_target:,} weights) at ρ = "
                                      f"{max(grid):g} for {name} asks for {max(grid) * n_target:.3g} random weights, "
                                      f"more than the {cli.MAX_RANDOM_WEIGHTS:,} the library builds")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda":
            import torch
            if not torch.cuda.is_available():
                raise ConfigError("device=cuda requested but torch.cuda.is_available() is False")
        try:
            check_executor(self.executor, self.workers, self.ray_address)
        except sltheory.InvalidArgumentError as exc:
            raise ConfigError(str(exc)) from None

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"

    def hashed_dict(self, targets: dict) -> dict:
        """What defines the results: every field but how/where to run, the device resolved, and
        a fingerprint of each target's weights (a retrained target never reuses old rows)."""
        import sltheory
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self.OUTPUT_FIELDS}
        d["rhos"] = {name: [float(r) for r in grid] for name, grid in self.rhos}
        d["trained_rhos"] = {name: [float(r) for r in grid] for name, grid in self.trained_rhos}
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
        d["eps"] = [float(e) for e in self.eps]
        d["delta"], d["adv_lr"] = float(self.delta), float(self.adv_lr)
        d["device"] = self.resolved_device()
        d["targets"] = {label: t["fingerprint"] for label, t in targets.items()}
        d["schema_version"] = SCHEMA_VERSION
        d["sltheory_version"] = sltheory.__version__
        return d


QUICK = dict(
    rhos=(("subset_sum", (12, 24)), ("subset_sum_blockdiag", (6, 12)), ("burkholz", (16, 48)), ("orseau", (64, 256)),
          ("malach", (64, 256))),
    dims=(2, 3, 2), trained_rhos=(("subset_sum", (64,)),), trained_dims=(64, 4, 10), seeds=(0,), eps=(0.3,),
    adv_starts=64, adv_refine=2, adv_steps=10, workers=1,
)


# ----------------------------------------------------------------------------- targets and jobs
def _fingerprint(weights) -> str:
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def build_targets(cfg: SweepConfig, out=None) -> dict:
    """label → {'weights', 'x_test', 'y_test', 'rescale', 'constructions', 'dims', 'fingerprint', ...}."""
    import sltheory
    from sltheory import datasets

    targets = {}
    dims = tuple(cfg.dims)
    W = sltheory.gaussian_target(dims, cfg.target_seed)
    targets[f"gaussian {'-'.join(map(str, dims))}"] = dict(
        kind="gaussian", dims=dims, weights=[np.asarray(w) for w in W], x_test=None, y_test=None,
        rescale=False, rhos=cfg.rhos)
    trained = []
    if cfg.trained_rhos:
        trained.append(("digits", datasets.load_digits(seed=cfg.train_seed), tuple(cfg.trained_dims)))
    if cfg.mnist is not None:
        trained.append(("mnist", datasets.load_mnist(cfg.mnist), tuple(cfg.mnist_dims)))
    for name, data, tdims in trained:
        t0 = time.perf_counter()
        # one thread: seconds even on busy cores, and the same weights whatever the pool does
        net = datasets.train_mlp(tdims, data, seed=cfg.train_seed, num_threads=1)
        weights = [m.weight.detach().cpu().numpy().astype(np.float64) for m in net if hasattr(m, "weight")]
        acc = datasets.accuracy(net, data.x_test, data.y_test)
        if out is not None:
            print(f"trained {name} target {'-'.join(map(str, tdims))}: test accuracy {acc:.4f} "
                  f"({time.perf_counter() - t0:.1f}s; spectral norms "
                  f"{', '.join(f'{np.linalg.norm(w, 2):.2f}' for w in weights)})", file=out)
        targets[f"{name} {'-'.join(map(str, tdims))}"] = dict(
            kind=name, dims=tdims, weights=weights, x_test=data.x_test.cpu().numpy(),
            y_test=data.y_test.cpu().numpy(), rescale=True, rhos=cfg.trained_rhos,
            accuracy=acc)
    for t in targets.values():
        t["fingerprint"] = _fingerprint(t["weights"])
    return targets


def factor_for_rho(construction: str, dims, rho: float, eps: float, delta: float):
    """(width_factor, n, ρ actual) whose planned random weights per target weight are closest to
    ``rho`` (bisection on the factor; plans only, nothing sampled), or None if no width fits."""
    import sltheory
    spec = sltheory.construction(construction)
    shapes = tuple((b, a) for a, b in zip(dims[:-1], dims[1:]))
    n_target = sum(a * b for a, b in shapes)

    def ratio(f):
        try:
            plan = spec.plan(shapes, eps=eps, delta=delta, width_factor=f)
        except (sltheory.InvalidArgumentError, sltheory.NetworkTooLargeError):
            return math.inf, None
        return plan.num_random_weights / n_target, plan

    lo, hi = math.log(1e-7), math.log(1e3)
    best = None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        r, plan = ratio(math.exp(mid))
        if plan is not None and (best is None or abs(math.log(r / rho)) < abs(math.log(best[2] / rho))):
            best = (math.exp(mid), plan.n, r)
        if r < rho:
            lo = mid
        else:
            hi = mid
    if best is None or abs(math.log(best[2] / rho)) > math.log(1.5):
        return None
    return best


def make_jobs(cfg: SweepConfig, targets: dict, device: str, out=None) -> list:
    from sltheory.experiment.sweep import SweepJob

    jobs = []
    width_eps = max(cfg.eps)
    for label, t in targets.items():
        for name, grid in t["rhos"]:
            seen = set()
            for rho in grid:
                found = factor_for_rho(name, t["dims"], rho, width_eps, cfg.delta)
                if found is None or found[1] in seen:
                    if out is not None:
                        why = "no width fits" if found is None else f"same n {found[1]} as a smaller ρ"
                        print(f"  skip {name} on {label} at ρ={rho:g}: {why}", file=out)
                    continue
                seen.add(found[1])
                for seed in cfg.seeds:
                    jobs.append(SweepJob(
                        construction=name, target=label, weights=tuple(t["weights"]), rho_requested=float(rho),
                        width_factor=found[0], seed=int(seed), eps=tuple(float(e) for e in cfg.eps),
                        width_eps=width_eps, delta=float(cfg.delta), rescale=t["rescale"],
                        x_test=t["x_test"], y_test=t["y_test"], adv_starts=cfg.adv_starts,
                        adv_refine=cfg.adv_refine, adv_steps=cfg.adv_steps, adv_lr=cfg.adv_lr, device=device))
    return jobs


# ----------------------------------------------------------------------------- run
def run_folder(cfg: SweepConfig, targets: dict):
    from sltheory.experiment.runs import RunFolder
    from sltheory.experiment.sweep import COLUMNS, KEY
    return RunFolder(cfg.run_root, cfg.hashed_dict(targets), COLUMNS, KEY)


def _progress(total: int, initial: int):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="width sweep", unit="job", file=sys.stderr,
                dynamic_ncols=True, disable=None)


def run(cfg: SweepConfig, *, make_plots: bool = True, out=None) -> dict:
    """Run (or resume) the sweep; returns {'run_dir', 'rows', 'violations', 'figures', 'tables'}."""
    from sltheory.experiment.executors import run_jobs
    from sltheory.experiment.runs import mark_latest
    from sltheory.experiment.sweep import run_job

    out = sys.stdout if out is None else out
    cfg.validate()
    device = cfg.resolved_device()
    targets = build_targets(cfg, out)
    folder = run_folder(cfg, targets)
    jobs = make_jobs(cfg, targets, device, out)
    folder.prepare()
    rows = folder.read()
    done = {k[:4] for k in folder.done(rows)}
    todo = [j for j in jobs if j.key not in done]
    print(f"width sweep: {len(jobs)} jobs ({', '.join(cfg.constructions)}; targets {', '.join(targets)}), "
          f"eps={','.join(f'{e:g}' for e in cfg.eps)}, device={device}, executor={cfg.executor}\n"
          f"run folder: {folder.path}", file=out)
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} jobs already in {folder.RESULTS}", file=out)
    t_start = time.perf_counter()
    if todo:
        bar = _progress(len(jobs), len(jobs) - len(todo))
        finished = len(jobs) - len(todo)
        try:
            for job, job_rows in run_jobs(run_job, todo, executor=cfg.executor, workers=cfg.workers,
                                          ray_address=cfg.ray_address):
                rows = folder.add(job_rows)     # merged with the saved rows (another sweep's too)
                bar.update(1)
                r = job_rows[0]
                status = (f"{job.construction} on {job.target}, ρ={r['random_per_target']:.0f} seed {job.seed}: "
                          f"bound={r['best_bound']:.2e} adv={r['adversarial_error']:.2e} "
                          f"({r['time_total_s']:.1f}s)")
                if bar.disable:     # no terminal (CI, logs): one line per job instead of a bar
                    finished += 1
                    print(f"[{finished}/{len(jobs)}] {status}", file=out, flush=True)
                else:
                    bar.set_postfix_str(status, refresh=False)
        finally:
            bar.close()
        print(f"{len(todo)} job(s) in {time.perf_counter() - t_start:.1f}s", file=out)
    wanted = {j.key for j in jobs}
    rows = [r for r in rows if folder.key_of(r)[:4] in wanted]
    mark_latest(cfg.run_root, folder.path)
    violations = [r for r in rows if not r["bound_ok"]]
    for r in violations:
        print(f"WARNING: certified bound {r['best_bound']:.6e} < adversarial error {r['adversarial_error']:.6e} "
              f"({r['construction']}, {r['target']}, ρ={r['rho_requested']:g}, seed {r['seed']}): library bug",
              file=out)
    print("\n" + summarize(rows), file=out)
    print(f"\nbound ≥ adversarial in {len(rows) - len(violations)}/{len(rows)} rows", file=out)
    figs, tabs = [], []
    if make_plots:
        figs = figures(folder.path, cfg.fig_dir)
        tabs = tables(folder.path, cfg.table_dir)
        print("figures: " + ", ".join(str(p) for p in figs) + "\ntables: " + ", ".join(str(p) for p in tabs),
              file=out)
    return {"run_dir": folder.path, "rows": rows, "violations": len(violations), "figures": figs, "tables": tabs}


# ----------------------------------------------------------------------------- summaries
def _median(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(vals) if vals else float("nan")


def _groups(rows):
    """(target, construction, rho_requested) → rows of the first ε (one per seed), and all rows."""
    first_eps = {}
    for r in rows:
        k = (r["target"], r["construction"], r["rho_requested"], r["seed"])
        first_eps.setdefault(k, r)
    groups = {}
    for k, r in first_eps.items():
        groups.setdefault(k[:3], []).append(r)
    return {k: groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1], k[2]))}


def summary_records(rows) -> list[dict]:
    """One record per (target, construction, ρ): medians over seeds and success counts per ε."""
    recs = []
    eps_values = sorted({r["eps"] for r in rows}, reverse=True)
    for (target, name, rho), rs in _groups(rows).items():
        seeds = {r["seed"] for r in rs}
        rec = {"target": target, "construction": name, "rho": _median([r["random_per_target"] for r in rs]),
               "n": rs[0]["n"], "seeds": len(seeds),
               "bound": _median([r["best_bound"] for r in rs]), "adv": _median([r["adversarial_error"] for r in rs]),
               "ratio": _median([r["bound_over_adversarial"] for r in rs]),
               "kept": _median([r["best_kept_per_target"] for r in rs]),
               "time": _median([r["time_total_s"] for r in rs]),
               "target_acc": _median([r["target_accuracy"] for r in rs]),
               "acc": _median([r["best_accuracy"] for r in rs]),
               "agree": _median([r["best_agreement"] for r in rs])}
        for e in eps_values:
            er = [r for r in rows if r["target"] == target and r["construction"] == name
                  and r["rho_requested"] == rho and r["eps"] == e]
            rec[f"ok@{e:g}"] = (sum(bool(r["eps_success"]) for r in er), len(er))
            rec[f"kept@{e:g}"] = _median([r["eps_kept_per_target"] for r in er if r["eps_success"]])
        recs.append(rec)
    return recs


def summarize(rows) -> str:
    recs = summary_records(rows)
    if not recs:
        return "(no rows)"
    eps_keys = [k for k in recs[0] if k.startswith("ok@")]
    head = (f"{'target':<18} {'construction':<11} {'ρ':>7} {'n':<12} {'bound':>9} {'adv':>9} {'b/adv':>6} "
            f"{'kept/t':>7} " + " ".join(f"{'ok ε=' + k[3:]:>9}" for k in eps_keys) + f" {'acc':>6} {'t(s)':>6}")
    lines = [head, "-" * len(head)]
    for r in recs:
        acc = "-" if math.isnan(r["acc"]) else f"{r['acc']:.3f}"
        lines.append(f"{r['target']:<18} {r['construction']:<11} {r['rho']:>7.0f} {r['n']:<12} {r['bound']:>9.2e} "
                     f"{r['adv']:>9.2e} {r['ratio']:>6.1f} {r['kept']:>7.2f} "
                     + " ".join(f"{f'{r[k][0]}/{r[k][1]}':>9}" for k in eps_keys) + f" {acc:>6} {r['time']:>6.2f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures
COLORS = {"subset_sum": "C0", "burkholz": "C1", "orseau": "C2", "malach": "C3", "subset_sum_blockdiag": "C4"}


def _load(run_dir):
    import json

    from sltheory.experiment.runs import read_rows
    from sltheory.experiment.sweep import COLUMNS
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    rows = read_rows(run_dir / "results.csv", COLUMNS)
    if not rows:
        raise FileNotFoundError(f"no results in {run_dir / 'results.csv'}: run experiments/width_sweep.py first")
    return cfg, rows


def _dims_of(label: str) -> tuple[int, ...]:
    return tuple(int(v) for v in label.split()[-1].split("-"))


def theorem_curve(construction: str, dims, delta: float, eps_grid):
    """(ρ, ε) points of the construction's width rule: random weights per target weight the theorem
    asks for to reach ε with probability ≥ 1 − δ (its parameter_bound, the expression proofs/ checks)."""
    import sltheory
    spec = sltheory.construction(construction)
    n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return np.array([float(spec.parameter_bound(tuple(dims), float(e), delta)) / n_target for e in eps_grid])


def counting_curve(dims, eps_grid):
    """ρ of the counting lower bound (Pensia et al., Theorem 2) at each ε."""
    import sltheory
    n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return np.array([sum(float(sltheory.counting_lower_bound(a, b, float(e))) for a, b in zip(dims[:-1], dims[1:]))
                     / n_target for e in eps_grid])


def _per_rho(rs, key):
    xs = sorted({r["rho_requested"] for r in rs})
    x, med, lo, hi = [], [], [], []
    for rho in xs:
        g = [r for r in rs if r["rho_requested"] == rho]
        vals = [r[key] for r in g if r[key] is not None]
        if not vals:
            continue
        x.append(_median([r["random_per_target"] for r in g]))
        med.append(statistics.median(vals))
        lo.append(min(vals))
        hi.append(max(vals))
    return np.array(x), np.array(med), np.array(lo), np.array(hi)


def figures(run_dir, out_dir) -> list[Path]:
    """Rebuild width_sweep, success_rate, kept_per_target and trained_accuracy (PDF + PNG) in
    ``out_dir`` from ``run_dir``'s config.json and results.csv only. Returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sltheory.experiment.runs import savefig_atomic

    cfg, rows = _load(run_dir)
    out_dir = Path(out_dir)
    delta = cfg["delta"]
    first_eps = max(r["eps"] for r in rows)
    one = [r for r in rows if r["eps"] == first_eps]       # one row per job
    names = [n for n in list(cfg["rhos"]) + [t for t in cfg.get("trained_rhos", {}) if t not in cfg["rhos"]]
             if any(r["construction"] == n for r in rows)]
    gauss = sorted({r["target"] for r in rows if r["target"].startswith("gaussian")})
    trained = sorted({r["target"] for r in rows if r["target_accuracy"] is not None})
    eps_grid = np.logspace(-12, math.log10(0.5), 60)
    paths = []

    def save(fig, name):
        for suffix in ("pdf", "png"):
            p = out_dir / f"{name}.{suffix}"
            savefig_atomic(fig, p)
            paths.append(p)
        plt.close(fig)

    # 1. error vs overparameterization, one panel per construction (Gaussian target)
    target = gauss[0] if gauss else sorted({r["target"] for r in rows})[0]
    dims = _dims_of(target)
    cols = min(2, len(names))
    nrows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.6 * cols, 4.0 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        rs = [r for r in one if r["construction"] == name and r["target"] == target]
        x, b, blo, bhi = _per_rho(rs, "best_bound")
        _, a, alo, ahi = _per_rho(rs, "adversarial_error")
        c = COLORS.get(name, "C5")
        ax.fill_between(x, blo, bhi, color=c, alpha=0.2, lw=0)
        ax.plot(x, b, "o-", color=c, label="certified bound (median; band: min–max over seeds)")
        ax.fill_between(x, alo, ahi, color="gray", alpha=0.2, lw=0)
        ax.plot(x, a, "s--", color="k", ms=4, label="adversarial error (lower bound on the sup)")
        ax.plot(theorem_curve(name, dims, delta, eps_grid), eps_grid, "-.", color=c, lw=1.5,
                label=rf"theorem: width for error $\varepsilon$ ($\delta$={delta:g})")
        ax.plot(counting_curve(dims, eps_grid), eps_grid, ":", color="k", lw=1.5,
                label="counting lower bound (any construction)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo_x = min(x.min() if len(x) else 10, 1) / 1.5
        hi_x = max(x.max() if len(x) else 10, 10) * 30
        ax.set_xlim(lo_x, hi_x)
        ylo = min(np.nanmin(alo) if len(alo) else 1e-6, 1e-6)
        ax.set_ylim(max(ylo / 3, 1e-13), 10)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("overparameterization  ρ = random weights / target weights")
        ax.set_ylabel(r"$\sup_{\|x\|_2\leq 1}\|f(x)-g(x)\|_2$")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper right")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    n_seeds = len({r["seed"] for r in one})
    fig.suptitle(f"Error vs. overparameterization, target {target} (‖W_i‖₂ = 1), {n_seeds} seed(s) per point "
                 f"[run {Path(run_dir).name}]", fontsize=10)
    fig.tight_layout()
    save(fig, "width_sweep")

    # 2. success rate vs width, theorem's width marked (Gaussian target), one panel per ε
    eps_values = sorted({r["eps"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(eps_values), figsize=(5.2 * len(eps_values), 3.8), squeeze=False)
    for ax, e in zip(axes.flat, eps_values):
        for name in names:
            rs = [r for r in rows if r["construction"] == name and r["target"] == target and r["eps"] == e]
            xs = sorted({r["rho_requested"] for r in rs})
            px = [_median([r["random_per_target"] for r in rs if r["rho_requested"] == x]) for x in xs]
            py = [np.mean([bool(r["eps_success"]) for r in rs if r["rho_requested"] == x]) for x in xs]
            c = COLORS.get(name, "C5")
            ax.plot(px, py, "o-", color=c, label=name)
            thm = theorem_curve(name, dims, delta, [e])[0]
            ax.axvline(thm, color=c, ls="-.", lw=1)
            ax.annotate(f"theorem {name}\n{thm:.3g}×", (thm, 0.5), rotation=90, fontsize=6, color=c,
                        ha="right", va="center", xytext=(-2, 0), textcoords="offset points")
        cnt = counting_curve(dims, [e])[0]
        ax.axvline(cnt, color="k", ls=":", lw=1)
        ax.annotate("counting bound", (cnt, 0.5), rotation=90, fontsize=6, ha="right", va="center",
                    xytext=(-2, 0), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("ρ = random weights / target weights")
        ax.set_ylabel(f"success rate at ε = {e:g}")
        ax.set_title(rf"approximate(eps={e:g}) succeeds; dash-dot: theorem's width ($\delta$={delta:g})", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Success rate vs. width, target {target}", fontsize=10)
    fig.tight_layout()
    save(fig, "success_rate")

    # 3. kept random weights per target weight
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name in names:
        rs = [r for r in one if r["construction"] == name and r["target"] == target]
        x, k, klo, khi = _per_rho(rs, "best_kept_per_target")
        c = COLORS.get(name, "C5")
        ax.plot(x, k, "o-", color=c, label=f"{name}: best ticket")
        e_min = min(eps_values)
        rs_e = [r for r in rows if r["construction"] == name and r["target"] == target and r["eps"] == e_min]
        xe, ke, _, _ = _per_rho(rs_e, "eps_kept_per_target")
        if len(xe):
            ax.plot(xe, ke, "s--", color=c, ms=4, label=f"{name}: sparsest ticket with bound ≤ {e_min:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ρ = random weights / target weights")
    ax.set_ylabel("kept random weights / target weights")
    ax.set_title(f"Ticket size, target {target} (median over seeds)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, "kept_per_target")

    # 4. trained targets: test accuracy of ticket and target vs width
    if trained:
        fig, axes = plt.subplots(1, len(trained), figsize=(6.0 * len(trained), 4.0), squeeze=False)
        for ax, label in zip(axes.flat, trained):
            rs_t = [r for r in one if r["target"] == label]
            for name in [n for n in names if any(r["construction"] == n for r in rs_t)]:
                rs = [r for r in rs_t if r["construction"] == name]
                x, acc, lo, hi = _per_rho(rs, "best_accuracy")
                c = COLORS.get(name, "C5")
                ax.fill_between(x, lo, hi, color=c, alpha=0.2, lw=0)
                ax.plot(x, acc, "o-", color=c, label=f"{name}: ticket (best subsets)")
                _, ag, _, _ = _per_rho(rs, "best_agreement")
                ax.plot(x, ag, "x:", color=c, label=f"{name}: predictions equal to the target's")
            tacc = _median([r["target_accuracy"] for r in rs_t])
            ax.axhline(tacc, color="k", ls="--", lw=1, label=f"target test accuracy {tacc:.4f}")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("ρ = random weights / target weights")
            ax.set_ylabel("test accuracy / agreement")
            ax.set_title(f"trained target {label}", fontsize=10)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        save(fig, "trained_accuracy")
    return paths


# ----------------------------------------------------------------------------- tables
def _tex_num(v, fmt="{:.2g}"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "--"
    s = fmt.format(v)
    if "e" in s:
        m, e = s.split("e")
        return f"${m}\\cdot 10^{{{int(e)}}}$"
    return s


def _tex_escape(s: str) -> str:
    return s.replace("_", r"\_")


def tables(run_dir, out_dir) -> list[Path]:
    """Write sweep_summary.tex (and trained.tex when there are trained targets): complete
    ``tabular`` environments generated from ``run_dir`` only."""
    from sltheory.experiment.runs import atomic_write_text

    cfg, rows = _load(run_dir)
    out_dir = Path(out_dir)
    recs = summary_records(rows)
    eps_keys = [k for k in recs[0] if k.startswith("ok@")]
    paths = []
    gauss = [r for r in recs if r["target"].startswith("gaussian")]
    lines = [r"\begin{tabular}{llrlrrrr" + "r" * len(eps_keys) + "}", r"\toprule",
             r"construction & target & $\rho$ & $n$ & bound & adversarial & ratio & kept/target & "
             + " & ".join(f"success $\\varepsilon{{=}}{k[3:]}$" for k in eps_keys) + r" \\", r"\midrule"]
    prev = None
    for r in gauss:
        if prev is not None and r["construction"] != prev:
            lines.append(r"\midrule")
        prev = r["construction"]
        lines.append(f"{_tex_escape(r['construction'])} & {r['target'].split()[-1]} & {r['rho']:.0f} & "
                     f"{r['n'].replace('/', '/')} & {_tex_num(r['bound'])} & {_tex_num(r['adv'])} & "
                     f"{r['ratio']:.1f} & {r['kept']:.2f} & "
                     + " & ".join(f"{r[k][0]}/{r[k][1]}" for k in eps_keys) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    p = out_dir / "sweep_summary.tex"
    atomic_write_text(p, f"% generated by experiments/width_sweep.py from run {Path(run_dir).name}; do not edit\n"
                      + "\n".join(lines))
    paths.append(p)
    tr = [r for r in recs if not math.isnan(r["target_acc"])]
    if tr:
        lines = [r"\begin{tabular}{llrlrrrr}", r"\toprule",
                 r"target & construction & $\rho$ & $n$ & bound & target acc. & ticket acc. & agreement \\",
                 r"\midrule"]
        for r in tr:
            lines.append(f"{r['target']} & {_tex_escape(r['construction'])} & {r['rho']:.0f} & {r['n']} & "
                         f"{_tex_num(r['bound'])} & {r['target_acc']:.4f} & {r['acc']:.4f} & {r['agree']:.4f} \\\\")
        lines += [r"\bottomrule", r"\end{tabular}", ""]
        p = out_dir / "trained.tex"
        atomic_write_text(p, f"% generated by experiments/width_sweep.py from run {Path(run_dir).name}; "
                          "do not edit\n" + "\n".join(lines))
        paths.append(p)
    return paths


# ----------------------------------------------------------------------------- CLI
def _int_list(text: str) -> tuple[int, ...]:
    """'0,1,2' or an inclusive range 'start:stop[:step]'."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError
            vals = tuple(range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1))
        else:
            vals = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers or start:stop[:step], "
                                         f"got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return vals


def _float_list(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return vals


def _rho_spec(text: str):
    name, sep, grid = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=ρ1,ρ2,..., got {text!r}")
    return name.strip(), _float_list(grid)


def _str_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def build_parser() -> argparse.ArgumentParser:
    d = SweepConfig()
    grids = "; ".join(f"{n}={','.join(f'{r:g}' for r in g)}" for n, g in d.rhos)
    p = argparse.ArgumentParser(
        prog="width_sweep.py",
        description="Error of strong lottery tickets against overparameterization for every construction: "
                    "certified bound, adversarial error, kept/total random weights, success at eps, wall time, "
                    "trained-target accuracy. Resumable; results in RUN_ROOT/<config hash>/results.csv; figures "
                    "and tables rebuilt from them into paper/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--constructions", type=_str_list, default=None,
                   help=f"comma list of constructions to sweep (default all: {','.join(d.constructions)})")
    p.add_argument("--rho", type=_rho_spec, action="append", default=None, metavar="NAME=R1,R2,...",
                   help=f"ρ grid (random weights per target weight) of one construction; repeat for several "
                        f"(default {grids})")
    p.add_argument("--dims", type=_int_list, default=None, help=f"Gaussian target widths (default {d.dims})")
    p.add_argument("--target-seed", type=int, default=None, help=f"Gaussian target seed (default {d.target_seed})")
    tgrids = "; ".join(f"{n}={','.join(f'{r:g}' for r in g)}" for n, g in d.trained_rhos)
    p.add_argument("--trained-rho", type=_rho_spec, action="append", default=None, metavar="NAME=R1,R2,...",
                   help=f"ρ grid of one construction on the trained targets (digits, MNIST); repeat for several "
                        f"(default {tgrids})")
    p.add_argument("--no-trained", action="store_true", help="no trained targets (Gaussian target only)")
    p.add_argument("--trained-dims", type=_int_list, default=None,
                   help=f"digits MLP widths, 64,...,10 (default {','.join(map(str, d.trained_dims))})")
    p.add_argument("--train-seed", type=int, default=None,
                   help=f"seed of the digits split and of training (default {d.train_seed})")
    p.add_argument("--mnist", default=None, metavar="DIR",
                   help="folder with local MNIST IDX files (train-images-idx3-ubyte[.gz], ...): adds an MNIST-trained "
                        "target for the --trained constructions (never downloads)")
    p.add_argument("--mnist-dims", type=_int_list, default=None,
                   help=f"MNIST MLP widths, 784,...,10 (default {','.join(map(str, d.mnist_dims))})")
    p.add_argument("--seeds", type=_int_list, default=None,
                   help=f"random-network seeds (default {','.join(map(str, d.seeds))})")
    p.add_argument("--eps", type=_float_list, default=None,
                   help=f"accuracies whose success is measured (default {','.join(map(str, d.eps))})")
    p.add_argument("--delta", type=float, default=None,
                   help=f"failure probability of the width rules (default {d.delta})")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="torch device of the random networks, forward passes and adversarial search; "
                        "auto = cuda when available (default auto)")
    p.add_argument("--executor", choices=("local", "ray"), default=None,
                   help="local: process pool on this machine; ray: every job a Ray task (default local)")
    p.add_argument("--workers", type=int, default=None,
                   help="local pool size, or CPUs of the Ray instance started when --ray-address is absent "
                        "(default: all cores; 1 = run in this process)")
    p.add_argument("--ray-address", default=None,
                   help="join this Ray cluster ('auto' or 'ray://host:port'); default: start a local one")
    p.add_argument("--adv-starts", type=int, default=None,
                   help=f"adversarial search: random starts (default {d.adv_starts})")
    p.add_argument("--adv-refine", type=int, default=None,
                   help=f"adversarial search: starts refined by ascent (default {d.adv_refine})")
    p.add_argument("--adv-steps", type=int, default=None,
                   help=f"adversarial search: ascent steps (default {d.adv_steps})")
    p.add_argument("--adv-lr", type=float, default=None, help=f"adversarial search: initial step (default {d.adv_lr})")
    p.add_argument("--run-root", default=None, help=f"folder of run folders (default {DEFAULT_RUN_ROOT})")
    p.add_argument("--fig-dir", default=None,
                   help=f"where figures go (default {DEFAULT_FIG_DIR}; with --quick the run folder)")
    p.add_argument("--table-dir", default=None,
                   help=f"where LaTeX tables go (default {DEFAULT_TABLE_DIR}; with --quick the run folder)")
    p.add_argument("--quick", action="store_true",
                   help="tiny smoke run for tests (2-3-2 target, 2 widths per construction, 1 seed, digits 64-4-10 "
                        "for subset_sum, in-process); explicit options still win")
    p.add_argument("--no-plot", action="store_true", help="skip figures and tables")
    return p


def config_from_args(args: argparse.Namespace) -> SweepConfig:
    values = dict(QUICK) if args.quick else {}
    base = dict(values.get("rhos", DEFAULT_RHOS))
    if args.rho:
        for name, grid in args.rho:
            base[name] = grid
    if args.constructions is not None:
        unknown = [n for n in args.constructions if n not in base]
        if unknown:
            raise ConfigError(f"no ρ grid for {unknown}: give --rho NAME=R1,R2,...")
        values["rhos"] = tuple((n, tuple(base[n])) for n in args.constructions)
    elif args.rho:
        values["rhos"] = tuple((n, tuple(g)) for n, g in base.items())
    if args.no_trained:
        values["trained_rhos"] = ()
    elif args.trained_rho:
        values["trained_rhos"] = tuple((n, tuple(g)) for n, g in args.trained_rho)
    elif args.constructions is not None:
        values["trained_rhos"] = tuple((n, g) for n, g in values.get("trained_rhos", DEFAULT_TRAINED_RHOS)
                                       if n in args.constructions)
    for name in ("dims", "target_seed", "trained_dims", "train_seed", "mnist", "mnist_dims", "seeds", "eps",
                 "delta", "device", "executor", "workers", "ray_address", "adv_starts", "adv_refine", "adv_steps",
                 "adv_lr", "run_root"):
        v = getattr(args, name)
        if v is not None:
            values[name] = v
    cfg = SweepConfig(**values)
    for field_name, arg in (("fig_dir", args.fig_dir), ("table_dir", args.table_dir)):
        where = arg if arg is not None else (str(Path(cfg.run_root) / "quick-figures") if args.quick else None)
        if where is not None:
            cfg = dataclasses.replace(cfg, **{field_name: where})
    return cfg


def latest_run_dir(run_root=DEFAULT_RUN_ROOT) -> Path:
    """The run folder of the last finished sweep under ``run_root`` (what make_figures.py reads
    by default), from the ``latest`` pointer file :func:`run` writes."""
    from sltheory.experiment.runs import latest
    return latest(run_root)


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        cfg.validate()
    except ConfigError as exc:
        parser.error(str(exc))
    return run(cfg, make_plots=not args.no_plot)


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
