"""Width sweep: error of strong lottery tickets against overparameterization, for every construction.

For each registered construction, each target, a grid of overparameterization factors ρ = random
weights / target weights, and several seeds, one job (:func:`sltheory.experiment.sweep.run_job`)
samples the theorem's random network at that width, prunes it, and records the certified bound on
sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂ of the best ticket, an adversarial lower bound on the same sup, kept and
total random weights, success of ``approximate(eps=ε)`` for each ε, wall time, and for trained
targets the test accuracy of target and ticket and their certified agreement (the fraction of test
inputs where the ticket provably predicts the target's class, :func:`sltheory.certified_agreement`).
The width for a grid point ρ is the rule's width ×
a factor found by bisection on the construction's plan (nothing sampled), so every construction is
measured at the same ρ values.

Targets: a Gaussian target with ‖W_i‖₂ = 1 (the theorems' boundary case), for all constructions;
and an MLP trained on scikit-learn's digits — plus MNIST when ``--mnist DIR`` points at local IDX
files — for the constructions whose width fits (by default subset_sum only; ``--trained-rho
burkholz=…`` adds burkholz: Malach's and Orseau's rules need 10⁸–10¹² weights there). Trained
targets have ‖W_i‖₂ > 1 and are pruned with ``rescale=True``.

Results go to ``runs/width_sweep/<hash of config.json>/results.csv`` (one row per job and ε),
saved after every finished job (:func:`sltheory.experiment.engine.run`). Figures and tables are the
report's (:mod:`sltheory.report.width_sweep`), passed in as ``report`` so that this module never
imports the report room.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError
from . import config as C

__all__ = ["SweepConfig", "build_parser", "main", "run", "build_targets", "factor_for_rho", "make_jobs",
           "summary_records", "summarize", "theorem_curve", "DEFAULT_RUN_ROOT", "SCHEMA_VERSION"]

DEFAULT_RUN_ROOT = C.project_root() / "runs" / "width_sweep"
DEFAULT_FIG_DIR = C.project_root() / "paper" / "figures"
DEFAULT_TABLE_DIR = C.project_root() / "paper" / "tables"
#: Bump when the meaning or the columns of results.csv change: old run folders are then never reused.
#: 3: "malach" and "orseau" name the papers' constructions (issue 13; the earlier ones are now
#: "malach_product" and "orseau_halving"), burkholz's first layer is U[−2, 2).
#: 4: best_certified_agreement and eps_certified_agreement columns (issue 14).
SCHEMA_VERSION = 4
#: Default ρ grid (random weights per target weight) per construction: from "hardly any signal"
#: to well below ε = 0.01 where the construction's solver stays fast on 2 cores. ``binary`` (ours:
#: deep ±1 ladders, millions of weights at its rule) is not in the default run: ``--rho binary=…``.
DEFAULT_RHOS = (
    ("subset_sum", (16, 24, 32, 48, 64, 96)),
    ("subset_sum_blockdiag", (8, 12, 16, 24, 32, 48)),
    ("pensia", (24, 36, 48, 72, 96, 144)),
    ("natale", (24, 36, 48, 72, 96, 144)),
    ("burkholz", (64, 128, 256, 512)),
    ("orseau", (32, 48, 64, 96, 128, 192, 256, 512)),
    ("orseau_halving", (128, 256, 512, 1024, 2048, 4096, 8192)),
    ("malach", (256, 1024, 4096, 16384, 65536)),
    ("malach_product", (128, 256, 512, 1024, 2048, 4096, 8192, 16384)),
)
#: ρ grids on the digits-trained target (wide signed first layer: the same n costs a larger ρ). Only
#: subset_sum by default: Malach's rule needs 10⁸–10¹² weights there, and Burkholz's
#: pruning took 2–15 min per job on 2 cores (``--trained-rho burkholz=128,256`` runs it).
DEFAULT_TRAINED_RHOS = (("subset_sum", (48, 72, 96, 144, 192)),)
QUICK_RHOS = (("subset_sum", (12, 24)), ("subset_sum_blockdiag", (6, 12)), ("pensia", (18, 36)),
              ("natale", (12, 24)), ("burkholz", (16, 48)), ("orseau", (32, 128)), ("orseau_halving", (64, 256)),
              ("malach", (64, 256)), ("malach_product", (64, 256)), ("binary", (300, 800)))


def _rho_spec(text: str):
    import argparse
    name, sep, grid = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=ρ1,ρ2,..., got {text!r}")
    return name.strip(), C.float_list(grid)


def _grids(rhos) -> str:
    return "; ".join(f"{n}={','.join(f'{r:g}' for r in g)}" for n, g in rhos)


def _quick_dir(values) -> str:
    return str(Path(values["run_root"]) / "quick-figures")


def _opt(default, help, **kw):
    return C.option(default, help, **kw)


@dataclass(frozen=True)
class SweepConfig:
    """Everything that determines the results (hashed), plus how and where to run (``hashed=False``)."""

    rhos: tuple = _opt(DEFAULT_RHOS, f"ρ grid (random weights per target weight) of one construction; repeat "
                       f"for several (default {_grids(DEFAULT_RHOS)})", flag="--rho", type=_rho_spec,
                       action="append", metavar="NAME=R1,R2,...", quick=QUICK_RHOS)
    dims: tuple = _opt((4, 8, 4), "Gaussian target widths", quick=(2, 3, 2))
    target_seed: int = _opt(0, "Gaussian target seed", check=C.nonnegative)
    trained_rhos: tuple = _opt(DEFAULT_TRAINED_RHOS, "ρ grid of one construction on the trained targets (digits, "
                               f"MNIST); repeat for several (default {_grids(DEFAULT_TRAINED_RHOS)})",
                               flag="--trained-rho", type=_rho_spec, action="append", metavar="NAME=R1,R2,...",
                               quick=(("subset_sum", (64,)),))
    trained_dims: tuple = _opt((64, 16, 10), "digits MLP widths, 64,...,10", quick=(64, 4, 10))
    train_seed: int = _opt(0, "seed of the digits split and of training", check=C.nonnegative)
    mnist: str | None = _opt(None, "folder with local MNIST IDX files (train-images-idx3-ubyte[.gz], ...): adds an "
                             "MNIST-trained target for the --trained constructions (never downloads)",
                             metavar="DIR", show_default=False)
    mnist_dims: tuple = _opt((784, 32, 10), "MNIST MLP widths, 784,...,10")
    seeds: tuple = _opt((0, 1, 2), "random-network seeds", quick=(0,), check=C.each(C.nonnegative))
    eps: tuple = _opt((0.1, 0.01), "accuracies whose success is measured", quick=(0.3,), check=C.each(C.eps))
    delta: float = _opt(0.05, "failure probability of the width rules", check=C.delta)
    device: str = _opt("auto", "torch device of the random networks, forward passes and adversarial search; "
                       "auto = cuda when available", choices=("auto", "cpu", "cuda"))
    adv_starts: int = _opt(512, "adversarial search: random starts", quick=64, check=C.count)
    adv_refine: int = _opt(8, "adversarial search: starts refined by ascent", quick=2, check=C.count)
    adv_steps: int = _opt(60, "adversarial search: ascent steps", quick=10, check=C.count)
    adv_lr: float = _opt(0.05, "adversarial search: initial step", check=C.positive)
    executor: str = _opt("local", "local: process pool on this machine; ray: every job a Ray task",
                         choices=("local", "ray"), hashed=False)
    workers: int | None = _opt(None, "local pool size, or CPUs of the Ray instance started when --ray-address is "
                               "absent (default: all cores; 1 = run in this process)", type=int, quick=1, hashed=False)
    ray_address: str | None = _opt(None, "join this Ray cluster ('auto' or 'ray://host:port'); default: start a "
                                   "local one", hashed=False)
    run_root: str = _opt(str(DEFAULT_RUN_ROOT), "folder of run folders", hashed=False, check=C.output_dir)
    fig_dir: str = _opt(str(DEFAULT_FIG_DIR), f"where figures go (default {DEFAULT_FIG_DIR}; with --quick the run "
                        "folder)", quick=_quick_dir, hashed=False, check=C.output_dir)
    table_dir: str = _opt(str(DEFAULT_TABLE_DIR), f"where LaTeX tables go (default {DEFAULT_TABLE_DIR}; with --quick "
                          "the run folder)", quick=_quick_dir, hashed=False, check=C.output_dir)
    no_plot: bool = _opt(False, "skip figures and tables", hashed=False)

    @property
    def constructions(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.rhos)

    @staticmethod
    def from_cli(values: dict, given: dict, args) -> dict:
        """--rho merges into the (quick) default grids; --constructions picks and orders them."""
        base = dict(values["rhos"])
        for name, grid in given.get("rhos") or ():
            base[name] = grid
        chosen = args.constructions
        if chosen is not None:
            unknown = [n for n in chosen if n not in base]
            if unknown:
                raise InvalidArgumentError(f"no ρ grid for {unknown}: give --rho NAME=R1,R2,...")
            values["rhos"] = tuple((n, tuple(base[n])) for n in chosen)
        elif given.get("rhos"):
            values["rhos"] = tuple((n, tuple(g)) for n, g in base.items())
        if args.no_trained:
            values["trained_rhos"] = ()
        elif given.get("trained_rhos"):
            values["trained_rhos"] = tuple((n, tuple(g)) for n, g in given["trained_rhos"])
        elif chosen is not None:
            values["trained_rhos"] = tuple((n, g) for n, g in values["trained_rhos"] if n in chosen)
        return values

    def validate(self) -> None:
        """Cross-field checks (the field checks ran first); InvalidArgumentError names the field."""
        from .._checks import dims_arg
        from ..constructions._pairs import MAX_RANDOM_WEIGHTS
        from ..constructions.registry import constructions
        from .executors import check_executor

        known = set(constructions())
        if not isinstance(self.rhos, tuple) or not self.rhos:
            raise InvalidArgumentError("rhos must name at least one construction")
        for name, grid in self.rhos + self.trained_rhos:
            if name not in known:
                raise InvalidArgumentError(f"unknown construction {name!r}; registered: {sorted(known)}")
            if not isinstance(grid, tuple) or not grid:
                raise InvalidArgumentError(f"rhos for {name} must be a non-empty tuple")
            for r in grid:
                C.positive(f"rho of {name}", r)
            if len(set(grid)) != len(grid):
                raise InvalidArgumentError(f"rhos for {name} has duplicates: {grid!r}")
        for label, pairs in (("rhos", self.rhos), ("trained_rhos", self.trained_rhos)):
            if len({n for n, _ in pairs}) != len(pairs):
                raise InvalidArgumentError(f"a construction is listed twice in {label}")
        for name in ("dims", "trained_dims", "mnist_dims"):
            dims_arg(name, getattr(self, name))
        if self.trained_rhos and (self.trained_dims[0] != 64 or self.trained_dims[-1] != 10):
            raise InvalidArgumentError(f"trained_dims must start with 64 (digits pixels) and end with 10 (classes), "
                                       f"got {self.trained_dims}")
        if self.mnist is not None:
            if self.mnist_dims[0] != 784 or self.mnist_dims[-1] != 10:
                raise InvalidArgumentError(f"mnist_dims must start with 784 and end with 10, got {self.mnist_dims}")
            if not Path(self.mnist).is_dir():
                raise InvalidArgumentError(f"--mnist {self.mnist}: no such folder (it must hold the MNIST IDX files)")
        if len(set(self.seeds)) != len(self.seeds):
            raise InvalidArgumentError(f"seeds has duplicates: {self.seeds!r}")
        sized = [("dims", self.dims, self.rhos), ("trained_dims", self.trained_dims, self.trained_rhos)]
        if self.mnist is not None:
            sized.append(("mnist_dims", self.mnist_dims, self.trained_rhos))
        for field_name, dims, grids in sized:   # no target or random network beyond the library's cap
            n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
            for name, grid in grids:
                if max(grid) * n_target > MAX_RANDOM_WEIGHTS:
                    raise InvalidArgumentError(
                        f"{field_name} {'-'.join(map(str, dims))} ({n_target:,} weights) at ρ = {max(grid):g} for "
                        f"{name} asks for {max(grid) * n_target:.3g} random weights, more than the "
                        f"{MAX_RANDOM_WEIGHTS:,} the library builds")
        if self.device == "cuda":
            import torch
            if not torch.cuda.is_available():
                raise InvalidArgumentError("device=cuda requested but torch.cuda.is_available() is False")
        elif self.device not in ("auto", "cpu"):
            raise InvalidArgumentError(f"device must be auto, cpu or cuda, got {self.device!r}")
        check_executor(self.executor, self.workers, self.ray_address)

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"

    def hashed_dict(self, targets: dict) -> dict:
        """What defines the results: the hashed fields, the device resolved, and a fingerprint of each
        target's weights (a retrained target never reuses old rows). Same dict as before issue 12."""
        d = C.config_dict(self)
        d["rhos"] = {name: [float(r) for r in grid] for name, grid in self.rhos}
        d["trained_rhos"] = {name: [float(r) for r in grid] for name, grid in self.trained_rhos}
        d["eps"] = [float(e) for e in self.eps]
        d["delta"], d["adv_lr"] = float(self.delta), float(self.adv_lr)
        d["device"] = self.resolved_device()
        d["targets"] = {label: t["fingerprint"] for label, t in targets.items()}
        d["schema_version"] = SCHEMA_VERSION
        d["sltheory_version"] = C.library_version()
        return d


# ----------------------------------------------------------------------------- targets and jobs
def _fingerprint(weights) -> str:
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def build_targets(cfg: SweepConfig, out=None) -> dict:
    """label → {'weights', 'x_test', 'y_test', 'rescale', 'rhos', 'dims', 'fingerprint', ...}."""
    import torch

    from .. import data as datasets

    targets: dict[str, dict] = {}
    dims = tuple(cfg.dims)
    W = datasets.gaussian_target(dims, cfg.target_seed)
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
        weights = [m.weight.detach().cpu().numpy().astype(np.float64) for m in net.modules()
                   if isinstance(m, torch.nn.Linear)]
        acc = datasets.accuracy(net, data.x_test, data.y_test)
        if out is not None:
            print(f"trained {name} target {'-'.join(map(str, tdims))}: test accuracy {acc:.4f} "
                  f"({time.perf_counter() - t0:.1f}s; spectral norms "
                  f"{', '.join(f'{np.linalg.norm(w, 2):.2f}' for w in weights)})", file=out)
        targets[f"{name} {'-'.join(map(str, tdims))}"] = dict(
            kind=name, dims=tdims, weights=weights, x_test=data.x_test.cpu().numpy(),
            y_test=data.y_test.cpu().numpy(), rescale=True, rhos=cfg.trained_rhos, accuracy=acc)
    for t in targets.values():
        t["fingerprint"] = _fingerprint(t["weights"])
    return targets


def factor_for_rho(construction: str, dims, rho: float, eps: float, delta: float):
    """(width_factor, n, ρ actual) whose planned random weights per target weight are closest to
    ``rho`` (bisection on the factor; plans only, nothing sampled), or None if no width fits."""
    from ..constructions.registry import get
    from ..errors import NetworkTooLargeError
    spec = get(construction)
    shapes = tuple((b, a) for a, b in zip(dims[:-1], dims[1:]))
    n_target = sum(a * b for a, b in shapes)

    def ratio(f):
        try:
            plan = spec.plan(shapes, eps=eps, delta=delta, width_factor=f)
        except (InvalidArgumentError, NetworkTooLargeError):
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
    from .sweep import SweepJob

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


def theorem_curve(construction: str, dims, delta: float, eps_grid):
    """ρ of the construction's width rule at each ε: random weights per target weight the theorem asks
    for to reach ε with probability ≥ 1 − δ (its parameter_bound, the expression proofs/ checks)."""
    from ..constructions.registry import get
    spec = get(construction)
    n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return np.array([float(spec.parameter_bound(tuple(dims), float(e), delta)) / n_target for e in eps_grid])


# ----------------------------------------------------------------------------- run
def run_folder(cfg: SweepConfig, targets: dict):
    from .runs import RunFolder
    from .sweep import COLUMNS, KEY
    return RunFolder(cfg.run_root, cfg.hashed_dict(targets), COLUMNS, KEY)


def _status(job, rows) -> str:
    r = rows[0]
    return (f"{job.construction} on {job.target}, ρ={r['random_per_target']:.0f} seed {job.seed}: "
            f"bound={r['best_bound']:.2e} adv={r['adversarial_error']:.2e} ({r['time_total_s']:.1f}s)")


def run(cfg: SweepConfig, *, report=None, make_plots: bool = True, out=None) -> dict:
    """Run (or resume) the sweep; ``report(run_dir, fig_dir, table_dir) -> (figures, tables)`` makes
    the figures and tables (:func:`sltheory.report.width_sweep.report`). Returns {'run_dir', 'rows',
    'violations', 'figures', 'tables'}."""
    from . import engine
    from .sweep import run_job

    out = sys.stdout if out is None else out
    C.check(cfg)
    device = cfg.resolved_device()
    targets = build_targets(cfg, out)
    folder = run_folder(cfg, targets)
    jobs = make_jobs(cfg, targets, device, out)
    print(f"width sweep: {len(jobs)} jobs ({', '.join(cfg.constructions)}; targets {', '.join(targets)}), "
          f"eps={','.join(f'{e:g}' for e in cfg.eps)}, device={device}, executor={cfg.executor}\n"
          f"run folder: {folder.path}", file=out)
    done = engine.run(folder, jobs, run_job, row_key=lambda r: folder.key_of(r)[:4], status=_status,
                      executor=cfg.executor, workers=cfg.workers, ray_address=cfg.ray_address,
                      desc="width sweep", out=out)
    rows = done.rows
    violations = [r for r in rows if not r["bound_ok"]]
    for r in violations:
        print(f"WARNING: certified bound {r['best_bound']:.6e} < adversarial error {r['adversarial_error']:.6e} "
              f"({r['construction']}, {r['target']}, ρ={r['rho_requested']:g}, seed {r['seed']}): library bug",
              file=out)
    print("\n" + summarize(rows), file=out)
    print(f"\nbound ≥ adversarial in {len(rows) - len(violations)}/{len(rows)} rows", file=out)
    figs, tabs = [], []
    if make_plots and report is not None:
        figs, tabs = report(folder.path, cfg.fig_dir, cfg.table_dir)
        print("figures: " + ", ".join(str(p) for p in figs) + "\ntables: " + ", ".join(str(p) for p in tabs),
              file=out)
    elif make_plots:
        print("figures and tables: rebuild them with python experiments/make_figures.py", file=out)
    return {"run_dir": folder.path, "rows": rows, "violations": len(violations), "figures": figs, "tables": tabs}


# ----------------------------------------------------------------------------- summaries
def _median(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(vals) if vals else float("nan")


def _groups(rows):
    """(target, construction, rho_requested) → rows of the first ε (one per seed)."""
    first_eps: dict[tuple, dict] = {}
    for r in rows:
        first_eps.setdefault((r["target"], r["construction"], r["rho_requested"], r["seed"]), r)
    groups: dict[tuple, list[dict]] = {}
    for k, r in first_eps.items():
        groups.setdefault(k[:3], []).append(r)
    return {k: groups[k] for k in sorted(groups)}


def summary_records(rows) -> list[dict]:
    """One record per (target, construction, ρ): medians over seeds and success counts per ε."""
    recs = []
    eps_values = sorted({r["eps"] for r in rows}, reverse=True)
    for (target, name, rho), rs in _groups(rows).items():
        rec = {"target": target, "construction": name, "rho": _median([r["random_per_target"] for r in rs]),
               "n": rs[0]["n"], "seeds": len({r["seed"] for r in rs}),
               "bound": _median([r["best_bound"] for r in rs]), "adv": _median([r["adversarial_error"] for r in rs]),
               "ratio": _median([r["bound_over_adversarial"] for r in rs]),
               "kept": _median([r["best_kept_per_target"] for r in rs]),
               "time": _median([r["time_total_s"] for r in rs]),
               "target_acc": _median([r["target_accuracy"] for r in rs]),
               "acc": _median([r["best_accuracy"] for r in rs]),
               "agree": _median([r["best_agreement"] for r in rs]),
               "cert": _median([r["best_certified_agreement"] for r in rs])}
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
            f"{'kept/t':>7} " + " ".join(f"{'ok ε=' + k[3:]:>9}" for k in eps_keys) + f" {'acc':>6} {'cert':>6}"
            f" {'t(s)':>6}")
    lines = [head, "-" * len(head)]
    for r in recs:
        acc = "-" if math.isnan(r["acc"]) else f"{r['acc']:.3f}"
        cert = "-" if math.isnan(r["cert"]) else f"{r['cert']:.3f}"
        lines.append(f"{r['target']:<18} {r['construction']:<11} {r['rho']:>7.0f} {r['n']:<12} {r['bound']:>9.2e} "
                     f"{r['adv']:>9.2e} {r['ratio']:>6.1f} {r['kept']:>7.2f} "
                     + " ".join(f"{f'{r[k][0]}/{r[k][1]}':>9}" for k in eps_keys)
                     + f" {acc:>6} {cert:>6} {r['time']:>6.2f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line
DESCRIPTION = ("Error of strong lottery tickets against overparameterization for every construction: certified "
               "bound, adversarial error, kept/total random weights, success at eps, wall time, trained-target "
               "accuracy. Resumable; results in RUN_ROOT/<config hash>/results.csv; figures and tables rebuilt from "
               "them into paper/.")
QUICK_HELP = ("tiny smoke run for tests (2-3-2 target, 2 widths per construction, 1 seed, digits 64-4-10 for "
              "subset_sum, in-process); explicit options still win")


def _extra(p) -> None:
    p.add_argument("--constructions", type=C.str_list, default=None,
                   help=f"comma list of constructions to sweep (default all: "
                        f"{','.join(n for n, _ in DEFAULT_RHOS)})")
    p.add_argument("--no-trained", action="store_true", help="no trained targets (Gaussian target only)")


def build_parser(prog: str = "width_sweep.py"):
    return C.build_parser(SweepConfig, prog=prog, description=DESCRIPTION, extra=_extra, quick_help=QUICK_HELP)


def parse(argv=None, prog: str = "width_sweep.py") -> SweepConfig:
    """The checked configuration of a command line (exit status 2 on a bad one)."""
    return C.parse(SweepConfig, argv, prog=prog, description=DESCRIPTION, extra=_extra, quick_help=QUICK_HELP)[0]


def main(argv=None, *, report=None, prog: str = "width_sweep.py") -> dict:
    """The width sweep's command: parse, run, and (unless --no-plot) ``report`` the figures/tables."""
    cfg = parse(argv, prog)
    return run(cfg, report=report, make_plots=not cfg.no_plot)
