"""Search against construction: mask search (edge-popup, supermask, biprop) and the subset-sum
construction on the SAME random networks, certified by the same bounds.

Four parts, one kind of job each (:func:`run_job`; one row per ticket, :data:`COLUMNS`):

* ``generated`` — a Gaussian target with ‖W_i‖₂ = 1 (:func:`sltheory.data.gaussian_target`, the
  width sweep's 4-8-4 by default) × a ρ grid × seeds. Each job samples the subset-sum random network
  at ρ (:func:`sltheory.experiment.width_sweep.factor_for_rho`), builds the construction's best
  ticket (``approximate(eps=None)``) and runs every search method on that network with the target,
  once at the construction ticket's kept fraction (``keep_label="matched"``: the same sparsity) and
  once at each fixed kept fraction of ``--keeps``. Every ticket gets its certified bound (a search
  ticket: the smaller of the construction's certificate and the generic network bound, which one in
  ``certificate``), an adversarial lower bound on the same sup, its kept fraction and its times.
* ``classifier`` — MLPs trained with biases on scikit-learn's digits and on MNIST-1D (generated
  offline; its signals scaled into the unit ball by one constant, as every data set here). A trained
  target has ‖W_i‖₂ > 1: the construction and the searches work on f̃ = f/S (W_i/‖W_i‖₂, biases
  divided alike: :func:`sltheory.targets.as_target` with ``rescale=True``), and every error reported
  is of f itself (S × the error of f̃; argmax and certified agreement do not change under the scale).
  The domain is the bounding box of all inputs (``Box.of``), as :func:`sltheory.data.planted.digits_target`
  uses. Rows: the construction's ticket and each method *distilling* the target (``target=f̃``,
  ``data=`` the training inputs) on the same random network at the construction ticket's kept
  fraction (not at the fixed ones: there it measured chance accuracy, at a third of the run's time) —
  certified bound, test accuracy, agreement with the target and certified agreement
  (:func:`sltheory.certified_agreement`: the fraction of test inputs whose target margin exceeds 2 ×
  the bound) — and, ``mode="labels"``, each method trained on the labels at each fixed kept fraction
  on a plain random MLP of the construction network's widths (:func:`sltheory.search.random_mlp`,
  ``init="signed_constant"``: Ramanujan et al.'s setting), its test accuracy only (no target, so
  nothing to certify).
* ``planted`` — Plant 'n' Seek (:func:`sltheory.search.planting.plant`): each target of
  :mod:`sltheory.data.planted` is planted in a random MLP whose hidden widths are ``--planted-factor``
  × the target's; each method searches it with the target at the planted densities, layer by layer
  (``keep`` per random linear = its planted weights and biases / its candidates; the row's ``keep``
  the overall fraction). Rows: the planted ticket itself (``method="planted"``) and each method's
  ticket — adversarial error, certified bound, mask overlap with the planted ticket (precision,
  recall, Jaccard: :func:`sltheory.search.planting.mask_overlap`) and ``reached``.
* ``planted_construction`` — ours (:func:`sltheory.search.planting.plant_construction`): the
  subset-sum network for the Gaussian target at the rule's width for ``--rule-eps`` contains a known
  ticket (the construction's, certified ``planted_bound``); the same searches at its density.

**Reached** (``reached``): the found ticket's adversarial error ≤ max(2 × the planted ticket's
adversarial error, ``reach_tol`` × ‖f‖), where ‖f‖ is the largest ‖f(x)‖₂ over 4,096 points sampled
from the target's domain (column ``reach_tol`` holds the absolute tolerance used). Both errors come
from the same attack (:func:`sltheory.adversarial_error`, the same settings and seed).

**ρ** (``random_per_target``) = (random weights + random biases) / (target weights + target biases),
measured on the network searched; ``rho_requested`` is the grid point (the planted parts: the width
factor). ``rule_rho`` is the subset-sum rule's ρ at ``rule_eps`` (:func:`theorem_curve`; for a
trained target, of f̃, whose norms are ≤ 1) and ``counting_rho`` the counting lower bound at the same
ε (:func:`counting_rho`), both per target weight. Times: ``time_train_s`` (search: training;
construction: pruning), ``time_per_epoch_s`` (training / epochs, one thread per worker),
``time_certify_s``, ``time_adversarial_s``.

Results go to ``runs/search_vs_construction/<hash of config.json>/results.csv`` (one row per ticket),
saved after every finished job (:func:`sltheory.experiment.engine.run`): a rerun skips finished jobs,
an interrupted one resumes. Figures and tables are the report's (:mod:`sltheory.report.search`),
passed in as ``report`` so that this module never imports the report room.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from . import config as C
from .summary import measured, median

__all__ = ["SearchConfig", "SearchJob", "COLUMNS", "KEY", "PARTS", "PLANTED_TARGETS", "DEFAULT_RUN_ROOT",
           "SCHEMA_VERSION", "build_parser", "parse", "main", "run", "run_job", "make_jobs", "build_targets",
           "factor_for_rho", "summary_records", "summarize"]

DEFAULT_RUN_ROOT = C.project_root() / "runs" / "search_vs_construction"
#: Bump when the meaning or the columns of results.csv change: old run folders are then never reused.
#: 2: planted searches keep the planted ticket's density per layer (1: one global fraction).
SCHEMA_VERSION = 2
#: The parts of the experiment (module docstring).
PARTS = ("generated", "classifier", "planted", "planted_construction")
#: Plant 'n' Seek targets of :mod:`sltheory.data.planted` (``<name>_target``).
PLANTED_TARGETS = ("relu", "circle", "helix", "digits")
CLASSIFIERS = ("digits", "mnist1d")
#: The construction every search is compared with (its random networks are searched).
CONSTRUCTION = "subset_sum"

#: results.csv schema: column → type.
COLUMNS: dict = {
    "part": str, "target": str, "rho_requested": float, "seed": int, "mode": str, "method": str, "keep_label": str,
    "random_dims": str, "random_weights": int, "target_weights": int, "random_per_target": float,
    "keep": float, "kept_fraction": float, "kept_per_target": float, "epochs": int, "lr": float,
    "output_scale": float,
    "bound": float, "certificate": str, "bound_construction": float, "bound_networks": float,
    "adversarial_error": float, "bound_over_adversarial": float, "bound_ok": bool,
    "val_rmse": float, "val_max": float,
    "target_accuracy": float, "accuracy": float, "agreement": float, "certified_agreement": float,
    "rule_eps": float, "rule_rho": float, "counting_rho": float,
    "planted_error": float, "planted_bound": float, "reach_tol": float, "reached": bool,
    "precision": float, "recall": float, "jaccard": float,
    "time_train_s": float, "time_per_epoch_s": float, "time_certify_s": float, "time_adversarial_s": float,
    "time_job_s": float,
}
#: Columns identifying one row; the first four identify its job.
KEY = ("part", "target", "rho_requested", "seed", "mode", "method", "keep_label")


_opt = C.option
_fraction = C.fraction(says="a kept fraction must lie in")


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines the results (hashed), plus how and where to run (``hashed=False``)."""

    parts: tuple = _opt(PARTS, "parts to run, a comma list of " + ",".join(PARTS), type=C.str_list)
    methods: tuple | None = _opt(None, "search methods, a comma list (default: every registered one, "
                                 "sltheory.search.methods())", type=C.str_list, show_default=False)
    rhos: tuple = _opt((8, 16, 32, 64, 128), "ρ grid (random weights per target weight) on the generated target",
                       type=C.float_list, quick=(8, 32))
    dims: tuple = _opt((4, 8, 4), "Gaussian target widths (the width sweep's)", quick=(2, 3, 2))
    target_seed: int = _opt(0, "Gaussian target seed", check=C.nonnegative)
    classifiers: tuple = _opt(CLASSIFIERS, "trained classifiers, a comma list of " + ",".join(CLASSIFIERS),
                              type=C.str_list)
    classifier_rhos: tuple = _opt((16, 48, 144), "ρ grid on the classifiers (random weights and biases per target "
                                  "weight and bias, on the box domain)", type=C.float_list, quick=(24,))
    digits_dims: tuple = _opt((64, 16, 10), "digits MLP widths, 64,...,10 (with biases)", quick=(64, 4, 10))
    mnist1d_dims: tuple = _opt((40, 32, 10), "MNIST-1D MLP widths, 40,...,10 (with biases)", quick=(40, 4, 10))
    mnist1d_samples: int = _opt(2000, "MNIST-1D signals generated (80 % train)", quick=200,
                                check=C.counts(minimum=100, maximum=200_000))
    train_seed: int = _opt(0, "seed of the data splits and of training the classifiers", check=C.nonnegative)
    keeps: tuple = _opt((0.5,), "fixed kept fractions searched besides the construction's own ('matched')",
                        type=C.float_list, check=C.each(_fraction))
    epochs: int = _opt(20, "search epochs", quick=2, check=C.counts(maximum=10_000))
    lr: float = _opt(0.01, "search learning rate (Adam, cosine decay)", check=C.positive)
    time_budget: float = _opt(1.0, "seconds of input splitting for the generic network certificate per ticket",
                              quick=0.1, check=C.positive)
    seeds: tuple = _opt((0, 1), "random-network (and search) seeds", quick=(0,), check=C.each(C.nonnegative))
    planted: tuple = _opt(PLANTED_TARGETS, "Plant 'n' Seek targets, a comma list of " + ",".join(PLANTED_TARGETS),
                          type=C.str_list, quick=("relu", "helix"))
    planted_factor: int = _opt(4, "hidden widths of the planted networks, × the target's", quick=2,
                               check=C.counts(maximum=1000))
    rule_eps: float = _opt(0.1, "ε of the rule width marked (and of the construction planting)", check=C.eps)
    delta: float = _opt(0.05, "failure probability of the width rule", check=C.delta)
    reach_tol: float = _opt(0.01, "reached: absolute tolerance as a fraction of the target's largest sampled "
                            "‖f(x)‖₂", check=C.positive)
    adv_starts: int = _opt(256, "adversarial search: random starts", quick=32, check=C.count)
    adv_refine: int = _opt(4, "adversarial search: starts refined by ascent", quick=2, check=C.count)
    adv_steps: int = _opt(40, "adversarial search: ascent steps", quick=10, check=C.count)
    executor: str = C.executor_option()
    workers: int | None = C.workers_option()
    ray_address: str | None = C.ray_address_option()
    run_root: str = C.run_root_option(DEFAULT_RUN_ROOT)
    fig_dir: str = C.fig_dir_option()
    table_dir: str = C.table_dir_option()
    no_plot: bool = C.no_plot_option()

    @property
    def method_names(self) -> tuple[str, ...]:
        from ..search import methods
        return tuple(methods()) if self.methods is None else tuple(self.methods)

    def validate(self) -> None:
        from .._checks import dims_arg
        from ..search import methods
        from .executors import check_executor

        for label, values, known in (("parts", self.parts, PARTS), ("classifiers", self.classifiers, CLASSIFIERS),
                                     ("planted", self.planted, PLANTED_TARGETS),
                                     ("methods", self.method_names, tuple(methods()))):
            if not isinstance(values, tuple):
                raise InvalidArgumentError(f"{label} must be a tuple, got {values!r}")
            for v in values:
                if v not in known:
                    raise InvalidArgumentError(f"--{label}: unknown {v!r}; known: {', '.join(known)}")
            if len(set(values)) != len(values):
                raise InvalidArgumentError(f"--{label} has duplicates: {','.join(values)}")
        if not self.parts:
            raise InvalidArgumentError("--parts: name at least one part")
        if not self.method_names:
            raise InvalidArgumentError("--methods: name at least one search method")
        for label, grid in (("--rhos", self.rhos), ("--classifier-rhos", self.classifier_rhos)):
            if not grid or len(set(grid)) != len(grid):
                raise InvalidArgumentError(f"{label} must be a non-empty grid without duplicates, got {grid!r}")
            for r in grid:
                C.positive(label, r)
                if r > 1e5:
                    raise InvalidArgumentError(f"{label}: ρ = {r:g} is beyond what this experiment builds (≤ 1e5)")
        if len(set(self.keeps)) != len(self.keeps):
            raise InvalidArgumentError(f"--keeps has duplicates: {self.keeps!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise InvalidArgumentError(f"--seeds has duplicates: {self.seeds!r}")
        dims_arg("--dims", self.dims, max_weights=10**6)
        if len(self.dims) < 3:
            raise InvalidArgumentError(f"--dims needs a hidden layer (at least 3 widths), got {self.dims!r}")
        for flag, dims, first in (("--digits-dims", self.digits_dims, 64), ("--mnist1d-dims", self.mnist1d_dims, 40)):
            dims_arg(flag, dims, max_weights=10**6)
            if dims[0] != first or dims[-1] != 10 or len(dims) < 3:
                raise InvalidArgumentError(f"{flag} must start with {first}, end with 10 (classes) and have a hidden "
                                           f"layer, got {dims!r}")
        if self.rule_eps > 0.5:
            raise InvalidArgumentError(f"--rule-eps must be ≤ 0.5 (the counting bound says nothing above), got "
                                       f"{self.rule_eps:g}")
        check_executor(self.executor, self.workers, self.ray_address)

    def hashed_dict(self, targets: dict) -> dict:
        """The hashed fields, the methods resolved, each target's fingerprint, the schema and library versions."""
        d = C.config_dict(self)
        d["methods"] = list(self.method_names)
        d["rhos"] = [float(r) for r in self.rhos]
        d["classifier_rhos"] = [float(r) for r in self.classifier_rhos]
        d["keeps"] = [float(k) for k in self.keeps]
        d["targets"] = {label: t["fingerprint"] for label, t in targets.items()}
        d["schema_version"] = SCHEMA_VERSION
        d["sltheory_version"] = C.library_version()
        return d


# ----------------------------------------------------------------------------- targets
def _fingerprint(layers) -> str:
    h = hashlib.sha256()
    for w, b in layers:
        h.update(np.ascontiguousarray(w, dtype=np.float64).tobytes())
        if b is not None:
            h.update(np.ascontiguousarray(b, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _module(layers):
    """A float64 ``nn.Sequential`` of Linear (bias where ``b`` is given) / ReLU from ``[(W, b), …]``."""
    from ..data.planted import network_from_layers

    return network_from_layers(layers)


def _mnist1d_dataset(seed: int, num_samples: int):
    """MNIST-1D as a flat :class:`~sltheory.data.Dataset` (:func:`sltheory.data.load_mnist1d_dataset`)."""
    from ..data import load_mnist1d_dataset

    return load_mnist1d_dataset(seed=seed, num_samples=num_samples)


def build_targets(cfg: SearchConfig, out=None) -> dict:
    """label → target entry: ``part``, ``layers`` ((W, b) pairs of f̃, the target the networks are built
    for), ``output_scale`` S (f = S f̃), ``domain`` (spec), data for the classifiers, ``fingerprint``."""
    import torch

    from .. import data as datasets
    from ..domains import Ball, Box
    from ..targets import as_target

    targets: dict[str, dict] = {}
    if {"generated", "planted_construction"} & set(cfg.parts):
        W = datasets.gaussian_target(tuple(cfg.dims), cfg.target_seed)
        targets[f"gaussian {'-'.join(map(str, cfg.dims))}"] = dict(
            kind="gaussian", layers=[(np.asarray(w), None) for w in W], output_scale=1.0, domain=Ball().spec())
    if "classifier" in cfg.parts:
        for name in cfg.classifiers:
            t0 = time.perf_counter()
            if name == "digits":
                data, dims = datasets.load_digits(seed=cfg.train_seed), tuple(cfg.digits_dims)
            else:
                data, dims = _mnist1d_dataset(cfg.train_seed, cfg.mnist1d_samples), tuple(cfg.mnist1d_dims)
            net = datasets.train_mlp(dims, data, seed=cfg.train_seed, bias=True, num_threads=1)
            acc = datasets.accuracy(net, data.x_test, data.y_test)
            tgt = as_target(net, rescale=True)
            layers = [(np.asarray(w), None if tgt.bias(i) is None else np.asarray(tgt.bias(i)))
                      for i, w in enumerate(tgt.weights)]
            box = Box.of(torch.cat([data.x_train, data.x_test]).numpy())
            label = f"{name} {'-'.join(map(str, dims))}"
            if out is not None:
                print(f"trained {label} (biases): test accuracy {acc:.4f}, S = Π‖W_i‖₂ = {tgt.output_scale:.4g} "
                      f"({time.perf_counter() - t0:.1f}s)", file=out)
            targets[label] = dict(kind=name, layers=layers, output_scale=float(tgt.output_scale),
                                  domain=box.spec(), accuracy=acc,
                                  x_train=data.x_train.numpy(), x_test=data.x_test.numpy(),
                                  y_train=data.y_train.numpy(), y_test=data.y_test.numpy())
    for t in targets.values():
        t["fingerprint"] = _fingerprint(t["layers"]) + f"/{t['output_scale']!r}"
    return targets


# ----------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class SearchJob:
    """One job: a (part, target, ρ or width factor, seed) cell, every method and kept fraction in it."""

    part: str
    target: str
    rho_requested: float
    seed: int
    methods: tuple
    keeps: tuple
    epochs: int
    lr: float
    time_budget: float
    delta: float
    rule_eps: float
    reach_tol: float
    adv: tuple                                                # (starts, refine, steps)
    width_factor: float = 1.0
    rule_rho: float | None = None
    counting_rho: float | None = None
    layers: tuple = field(default=(), repr=False, compare=False)   # ((W, b), …) of f̃
    output_scale: float = 1.0
    domain: Any = field(default=None, repr=False, compare=False)   # a domain spec dict
    data: Any = field(default=None, repr=False, compare=False)     # classifier: dict of arrays
    planted_target: str | None = None                               # planted: a name of PLANTED_TARGETS
    planted_hidden: int = 16                                        # planted digits target: hidden width
    train_seed: int = 0                                             # planted digits target: its training seed

    @property
    def key(self) -> tuple:
        return (self.part, self.target, float(self.rho_requested), int(self.seed))


def factor_for_rho(dims, rho: float, eps: float, delta: float, domain=None, biases: bool = False):
    """(width_factor, n, ρ actual) of the subset-sum plan closest to ``rho``, ρ counting random weights
    and biases per target weight and bias, for the plan :func:`sltheory.random_network` makes on
    ``domain`` (a spec dict; None: the unit ball) for a target with (``biases``) or without biases.
    The width sweep's :func:`~sltheory.experiment.width_sweep.factor_for_rho` (its bisection reused)
    where that plan is the plain one; else the same bisection on the plan with the domain and the
    bias units (a nonnegative box spares the first layer's negative half: the same factor is fewer
    weights). None if no width fits (e.g. n beyond the solver's 64 samples)."""
    from ..constructions.registry import get
    from ..domains import domain_from_spec, is_default
    from ..errors import NetworkTooLargeError
    from .width_sweep import _bisect
    from .width_sweep import factor_for_rho as plain_factor

    dom = None if domain is None else domain_from_spec(domain)
    if not biases and (dom is None or is_default(dom)):
        return plain_factor(CONSTRUCTION, tuple(dims), rho, eps, delta)
    spec = get(CONSTRUCTION)
    shapes = tuple((b, a) for a, b in zip(dims[:-1], dims[1:]))
    n_target = sum(a * b for a, b in shapes) + (sum(b for b, _ in shapes) if biases else 0)
    options: dict = {}
    if biases:
        options["biases"] = (True,) * len(shapes)
    if dom is not None and not is_default(dom):
        options["domain"] = dom

    def ratio(f):
        try:
            plan = spec.plan(shapes, eps=eps, delta=delta, width_factor=f, **options)
        except (InvalidArgumentError, NetworkTooLargeError):
            return math.inf, None
        random_biases = sum(out for (out, _), law in zip(plan.layer_shapes, plan.layer_biases or ())
                            if law is not None)
        return (plan.num_random_weights + random_biases) / n_target, plan

    return _bisect(ratio, rho)


def _rule_marks(dims, eps: float, delta: float) -> tuple[float, float]:
    from .width_sweep import counting_rho, theorem_curve
    params = tuple(a * b for a, b in zip(dims[:-1], dims[1:]))
    return float(theorem_curve(CONSTRUCTION, tuple(dims), delta, [eps])[0]), float(counting_rho(params, eps))


def make_jobs(cfg: SearchConfig, targets: dict, out=None) -> list[SearchJob]:
    """The jobs of every part asked for (longest first, so that a pool finishes together)."""
    common: dict[str, Any] = dict(
        methods=cfg.method_names, keeps=tuple(float(k) for k in cfg.keeps), epochs=int(cfg.epochs), lr=float(cfg.lr),
        time_budget=float(cfg.time_budget), delta=float(cfg.delta), rule_eps=float(cfg.rule_eps),
        reach_tol=float(cfg.reach_tol), adv=(int(cfg.adv_starts), int(cfg.adv_refine), int(cfg.adv_steps)))
    jobs: list[SearchJob] = []
    for label, t in targets.items():
        part = {"gaussian": "generated"}.get(t["kind"], "classifier")
        dims = (t["layers"][0][0].shape[1],) + tuple(w.shape[0] for w, _ in t["layers"])
        rule, counting = _rule_marks(dims, cfg.rule_eps, cfg.delta)
        if part == "generated" and "planted_construction" in cfg.parts:
            for seed in cfg.seeds:
                jobs.append(SearchJob(part="planted_construction", target=label, rho_requested=round(rule, 6),
                                      seed=int(seed), rule_rho=rule, counting_rho=counting, layers=tuple(t["layers"]),
                                      domain=t["domain"], **common))
        if part == "generated" and "generated" not in cfg.parts:
            continue
        grid = cfg.rhos if part == "generated" else cfg.classifier_rhos
        seen = set()
        for rho in grid:
            found = factor_for_rho(dims, float(rho), float(cfg.rule_eps), float(cfg.delta), t["domain"],
                                   biases=any(b is not None for _, b in t["layers"]))
            if found is None or found[1] in seen:
                if out is not None:
                    why = "no width fits" if found is None else f"same n {found[1]} as a smaller ρ"
                    print(f"  skip {label} at ρ={rho:g}: {why}", file=out)
                continue
            seen.add(found[1])
            data = None
            if part == "classifier":
                data = {k: t[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            for seed in cfg.seeds:
                jobs.append(SearchJob(part=part, target=label, rho_requested=float(rho), seed=int(seed),
                                      width_factor=float(found[0]), rule_rho=rule, counting_rho=counting,
                                      layers=tuple(t["layers"]), output_scale=float(t["output_scale"]),
                                      domain=t["domain"], data=data, **common))
    if "planted" in cfg.parts:
        for name in cfg.planted:
            for seed in cfg.seeds:
                jobs.append(SearchJob(part="planted", target=name, rho_requested=float(cfg.planted_factor),
                                      seed=int(seed), planted_target=name, planted_hidden=int(cfg.digits_dims[1]),
                                      train_seed=int(cfg.train_seed), **common))
    order = {"classifier": 0, "planted": 1, "planted_construction": 2, "generated": 3}
    jobs.sort(key=lambda j: (order[j.part], -j.rho_requested))
    return jobs


# ----------------------------------------------------------------------------- one job
def _linears(net):
    from torch import nn
    return [m for m in net if isinstance(m, nn.Linear)]


def _counts(net) -> tuple[int, str]:
    """(weights + biases held by the linears, their widths 'd0-d1-…')."""
    lins = _linears(net)
    total = 0
    for lin in lins:
        total += int(lin.weight.numel()) + (0 if lin.bias is None else int(lin.bias.numel()))
    return total, "-".join(str(v) for v in [lins[0].in_features] + [lin.out_features for lin in lins])


def _random_count(rand) -> int:
    """Random weights (a slot layer's structural zeros excluded) + random biases of a sampled network."""
    plan = rand.plan
    return int(plan.num_random_weights) + sum(int(lin.bias.numel()) for lin in _linears(rand) if lin.bias is not None)


def _widths(rand) -> str:
    shapes = rand.plan.layer_shapes
    return "-".join(str(v) for v in [shapes[0][1]] + [s[0] for s in shapes])


def _adversarial(job: SearchJob, f, g, dim: int, domain) -> tuple[float, float]:
    from ..certificate import adversarial_error
    t0 = time.perf_counter()
    starts, refine, steps = job.adv
    err, _ = adversarial_error(f, g, dim, starts=starts, refine=refine, steps=steps, seed=job.seed, domain=domain)
    return float(err), time.perf_counter() - t0


def _classify(job: SearchJob, f, ticket, *, certify: bool) -> dict:
    """Test accuracy of the ticket (and the target), agreement, certified agreement (×2 bound)."""
    import torch

    from ..agreement import certified_agreement

    x = torch.as_tensor(job.data["x_test"], dtype=torch.float64)
    y = torch.as_tensor(job.data["y_test"], dtype=torch.int64)
    with torch.no_grad():
        pf, pg = f(x).argmax(1), ticket.network(x).argmax(1)
    out = {"target_accuracy": float((pf == y).double().mean()), "accuracy": float((pg == y).double().mean()),
           "agreement": float((pf == pg).double().mean())}
    if certify and math.isfinite(float(ticket.error_bound)):
        out["certified_agreement"] = float(certified_agreement(f, ticket, x).certified)
    return out


def _bounds(ticket, scale: float) -> dict:
    bounds = ticket.stats.get("bounds") or {}

    def s(v):
        return None if v is None or not math.isfinite(float(v)) else float(v) * scale
    return {"bound": float(ticket.error_bound) * scale, "certificate": ticket.stats.get("certificate"),
            "bound_construction": s(bounds.get("construction")), "bound_networks": s(bounds.get("networks"))}


def _search_row(job: SearchJob, method: str, rand, keep, keep_label: str, f, dim: int, domain, *,
                target_weights: int, scale: float = 1.0, data=None, keep_row: float | None = None) -> tuple[dict, Any]:
    """One search ticket on ``rand`` with the target ``f`` (regression on ``data`` inputs, or on domain
    samples when None): its row (errors of S·f̃) and the ticket. ``keep``: one kept fraction, or one per
    random linear (then ``keep_row`` is the overall one the row records)."""
    from ..search import get

    ticket = get(method).search(rand, target=f, data=data, keep=keep, epochs=job.epochs, seed=job.seed, lr=job.lr,
                                time_budget=job.time_budget)
    st = ticket.stats
    adv, t_adv = _adversarial(job, f, ticket.network, dim, domain)
    adv *= scale
    last = (st.get("curves") or [{}])[-1]
    row = dict(mode="search", method=method, keep_label=keep_label, keep=float(keep if keep_row is None else keep_row),
               kept_fraction=float(st["kept_fraction"]), kept_per_target=st["kept_weights"] / target_weights,
               epochs=job.epochs, lr=job.lr, **_bounds(ticket, scale), adversarial_error=adv,
               val_rmse=None if last.get("val_rmse") is None else float(last["val_rmse"]) * scale,
               val_max=None if last.get("val_max") is None else float(last["val_max"]) * scale,
               time_train_s=float(st["train_seconds"]), time_per_epoch_s=float(st["seconds_per_epoch"]),
               time_certify_s=st.get("certify_seconds"), time_adversarial_s=t_adv)
    return row, ticket


def _finish(row: dict) -> dict:
    b, a = row.get("bound"), row.get("adversarial_error")
    if b is not None and a is not None and math.isfinite(b):
        row["bound_ok"] = bool(b >= a)
        row["bound_over_adversarial"] = b / a if a > 0 else math.inf
    return row


def _construction_job(job: SearchJob) -> list[dict]:
    """Parts ``generated`` and ``classifier`` (module docstring)."""
    import torch

    from ..api import approximate, random_network
    from ..domains import domain_from_spec
    from ..search import random_mlp

    domain = domain_from_spec(job.domain)
    f = _module(job.layers)
    S = float(job.output_scale)
    dims = (job.layers[0][0].shape[1],) + tuple(w.shape[0] for w, _ in job.layers)
    dim = dims[0]
    target_count, _ = _counts(f)
    target_weights = sum(int(w.size) for w, _ in job.layers)
    rand = random_network(f, eps=job.rule_eps, delta=job.delta, seed=job.seed, construction=CONSTRUCTION,
                          width_factor=job.width_factor, domain=domain)
    n_random = _random_count(rand)
    common = dict(part=job.part, target=job.target, rho_requested=job.rho_requested, seed=job.seed,
                  random_dims=_widths(rand), random_weights=n_random, target_weights=target_count,
                  random_per_target=n_random / target_count, output_scale=S, rule_eps=job.rule_eps,
                  rule_rho=job.rule_rho, counting_rho=job.counting_rho)
    rows = []
    t0 = time.perf_counter()
    best = approximate(f, rand)
    t_prune = time.perf_counter() - t0
    adv, t_adv = _adversarial(job, f, best.network, dim, domain)
    matched = float(best.stats["kept_fraction"])
    crow = dict(common, mode="construction", method=CONSTRUCTION, keep_label="matched", keep=matched,
                kept_fraction=matched, kept_per_target=best.stats["kept_weights"] / target_weights,
                bound=float(best.error_bound) * S, certificate=best.certificate.method, adversarial_error=adv * S,
                time_train_s=t_prune, time_adversarial_s=t_adv)
    classifier = job.data is not None
    if classifier:
        crow.update(_classify(job, f, best, certify=True))
    rows.append(crow)
    x_train = None if not classifier else torch.as_tensor(job.data["x_train"], dtype=torch.float64)
    distill = [("matched", matched)] + ([] if classifier else [(f"{k:g}", k) for k in job.keeps])
    for method in job.methods:
        for label, keep in distill:
            row, ticket = _search_row(job, method, rand, keep, label, f, dim, domain, target_weights=target_weights,
                                      scale=S, data=x_train)
            if classifier:
                row.update(_classify(job, f, ticket, certify=True))
            rows.append(dict(common, **row))
    if classifier:      # label training on a plain random MLP of the construction network's widths
        widths = [int(v) for v in _widths(rand).split("-")]
        mlp = random_mlp(widths, init="signed_constant", seed=job.seed)
        n_mlp, mlp_dims = _counts(mlp)
        x_test = torch.as_tensor(job.data["x_test"], dtype=torch.float64)
        y_test = torch.as_tensor(job.data["y_test"], dtype=torch.int64)
        for method in job.methods:
            for label, keep in [(f"{k:g}", k) for k in job.keeps]:
                from ..search import get
                ticket = get(method).search(mlp, data=(x_train, torch.as_tensor(job.data["y_train"])),
                                            test=(x_test, y_test), keep=keep, epochs=job.epochs, seed=job.seed,
                                            lr=job.lr)
                st = ticket.stats
                rows.append(dict(common, mode="labels", method=method, keep_label=label, keep=float(keep),
                                 random_dims=mlp_dims, random_weights=n_mlp, random_per_target=n_mlp / target_count,
                                 kept_fraction=float(st["kept_fraction"]),
                                 kept_per_target=st["kept_weights"] / target_weights, epochs=job.epochs, lr=job.lr,
                                 time_train_s=float(st["train_seconds"]),
                                 time_per_epoch_s=float(st["seconds_per_epoch"]),
                                 **_classify(job, f, ticket, certify=False)))
    return [_finish(r) for r in rows]


def _reach(found: float, planted: float, tol: float) -> bool:
    return bool(found <= max(2.0 * planted, tol))


def _planted_rows(job: SearchJob, net, f, domain, common: dict, *, planted_bound: float | None) -> list[dict]:
    """The planted ticket's row and each method's, searching ``net`` (a PlantedNetwork) for ``f``."""
    import torch

    from ..search.planting import mask_overlap

    dim = _linears(f)[0].in_features
    target_count, _ = _counts(f)
    target_weights = sum(int(lin.weight.numel()) for lin in _linears(f))
    gen = torch.Generator().manual_seed(job.seed)
    with torch.no_grad():
        sup = float(f(domain.sample(4096, dim, gen)).norm(dim=1).max())
    tol = job.reach_tol * sup
    candidates = _random_count(net)
    planted_count = net.planted_weights + net.planted_biases
    density = planted_count / candidates
    # the planted ticket's own density per random linear (its layers' densities differ a lot: one global
    # fraction would make the planted masks themselves unreachable)
    bias_masks = net.planted_bias_masks or [None] * len(net.planted_masks)
    layer_keep = [(int(m.sum()) + (0 if b is None else int(b.sum())))
                  / (net.plan.layer_weights(t) + (0 if lin.bias is None else int(lin.bias.numel())))
                  for t, (m, b, lin) in enumerate(zip(net.planted_masks, bias_masks, _linears(net)))]
    e_planted, t_adv = _adversarial(job, f, net.ticket_network(), dim, domain)
    rows = [dict(common, mode="planted", method="planted", keep_label="planted", keep=density, kept_fraction=density,
                 kept_per_target=net.planted_weights / target_weights, adversarial_error=e_planted,
                 bound=planted_bound, planted_error=e_planted, planted_bound=planted_bound, reach_tol=tol,
                 reached=True, precision=1.0, recall=1.0, jaccard=1.0, time_adversarial_s=t_adv)]
    for method in job.methods:
        row, ticket = _search_row(job, method, net, layer_keep, "planted", f, dim, domain,
                                  target_weights=target_weights, keep_row=density)
        ov = mask_overlap(ticket.masks, net.planted_masks)["total"]
        row.update(mode="planted", planted_error=e_planted, planted_bound=planted_bound, reach_tol=tol,
                   reached=_reach(row["adversarial_error"], e_planted, tol), precision=float(ov["precision"]),
                   recall=float(ov["recall"]), jaccard=float(ov["jaccard"]))
        rows.append(dict(common, **row))
    return [_finish(r) for r in rows]


def _planted_job(job: SearchJob) -> list[dict]:
    """Part ``planted``: a Plant 'n' Seek target planted in a wider random MLP."""
    from ..data import planted as targets
    from ..search.planting import plant

    maker = getattr(targets, f"{job.planted_target}_target")
    pt = maker(hidden=job.planted_hidden, seed=job.train_seed) if job.planted_target == "digits" else maker()
    f = pt.network
    dims = pt.dims
    hidden = tuple(int(job.rho_requested) * h for h in dims[1:-1])
    net = plant(pt, hidden, seed=job.seed)
    target_count, _ = _counts(f)
    n_random, widths = _counts(net)
    common = dict(part=job.part, target=job.target, rho_requested=job.rho_requested, seed=job.seed,
                  random_dims=widths, random_weights=n_random, target_weights=target_count,
                  random_per_target=n_random / target_count, output_scale=float(net.output_scale))
    return _planted_rows(job, net, f, pt.domain, common, planted_bound=None)


def _planted_construction_job(job: SearchJob) -> list[dict]:
    """Part ``planted_construction``: the construction's network at the rule's width for ``rule_eps``."""
    from ..domains import domain_from_spec
    from ..search.planting import plant_construction

    f = _module(job.layers)
    domain = domain_from_spec(job.domain)
    net = plant_construction(f, CONSTRUCTION, eps=job.rule_eps, seed=job.seed, domain=domain, delta=job.delta)
    target_count, _ = _counts(f)
    n_random = _random_count(net)
    common = dict(part=job.part, target=job.target, rho_requested=job.rho_requested, seed=job.seed,
                  random_dims=_widths(net), random_weights=n_random, target_weights=target_count,
                  random_per_target=n_random / target_count, output_scale=1.0, rule_eps=job.rule_eps,
                  rule_rho=job.rule_rho, counting_rho=job.counting_rho)
    bound = net.planted_error_bound
    return _planted_rows(job, net, f, domain, common, planted_bound=None if bound is None else float(bound))


def run_job(job: SearchJob) -> list[dict]:
    """Run one job (any part); returns its rows, every column of :data:`COLUMNS` (None where not measured).

    Torch runs on one thread during the job (restored after it), in a pool worker as in this process:
    the times per epoch are one thread's, whatever the executor, and two threads fighting over busy
    cores (measured: 2-4× slower on tiny layers) do not distort them."""
    import torch

    runners = {"generated": _construction_job, "classifier": _construction_job, "planted": _planted_job,
               "planted_construction": _planted_construction_job}
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
def run_folder(cfg: SearchConfig, targets: dict):
    from .runs import RunFolder
    return RunFolder(cfg.run_root, cfg.hashed_dict(targets), COLUMNS, KEY)


def _status(job: SearchJob, rows) -> str:
    r = rows[0]
    return (f"{job.part} {job.target} ρ={job.rho_requested:g} seed {job.seed}: {len(rows)} tickets "
            f"({r['time_job_s']:.1f}s)")


def run(cfg: SearchConfig, *, report=None, make_plots: bool = True, out=None) -> dict:
    """Run (or resume) the experiment; ``report(run_dir, fig_dir, table_dir) -> (figures, tables)`` makes
    the figures and tables (:func:`sltheory.report.search.report`). Returns {'run_dir', 'rows',
    'violations', 'ran', 'figures', 'tables'}."""
    from . import engine

    out = sys.stdout if out is None else out
    C.check(cfg)
    targets = build_targets(cfg, out)
    folder = run_folder(cfg, targets)
    jobs = make_jobs(cfg, targets, out)
    print(f"search vs construction: {len(jobs)} jobs (parts {', '.join(cfg.parts)}; methods "
          f"{', '.join(cfg.method_names)}; keeps matched,{','.join(f'{k:g}' for k in cfg.keeps)}; "
          f"{cfg.epochs} epochs), executor={cfg.executor}\nrun folder: {folder.path}", file=out)
    done = engine.run(folder, jobs, run_job, row_key=lambda r: folder.key_of(r)[:4], status=_status,
                      executor=cfg.executor, workers=cfg.workers, ray_address=cfg.ray_address,
                      desc="search vs construction", out=out)
    rows = done.rows
    violations = [r for r in rows if r["bound_ok"] is False]
    for r in violations:
        print(f"WARNING: certified bound {r['bound']:.6e} < adversarial error {r['adversarial_error']:.6e} "
              f"({r['method']}, {r['target']}, ρ={r['rho_requested']:g}, seed {r['seed']}): library bug", file=out)
    print("\n" + summarize(rows), file=out)
    certified = [r for r in rows if r["bound_ok"] is not None]
    print(f"\nbound ≥ adversarial in {len(certified) - len(violations)}/{len(certified)} certified rows", file=out)
    figs, tabs = engine.make_report(folder.path, cfg, report, make_plots, out)
    return {"run_dir": folder.path, "rows": rows, "violations": len(violations), "ran": done.ran,
            "figures": figs, "tables": tabs}


# ----------------------------------------------------------------------------- summaries
def summary_records(rows) -> list[dict]:
    """One record per (part, target, ρ, mode, method, keep_label): medians over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["part"], r["target"], r["rho_requested"], r["mode"], r["method"], r["keep_label"]),
                          []).append(r)
    recs = []
    for (part, target, rho, mode, method, keep_label), rs in sorted(groups.items()):
        rec = {"part": part, "target": target, "rho_requested": rho, "mode": mode, "method": method,
               "keep_label": keep_label, "seeds": len(rs)}
        for k in ("random_per_target", "kept_fraction", "bound", "adversarial_error", "bound_over_adversarial",
                  "accuracy", "target_accuracy", "agreement", "certified_agreement", "time_per_epoch_s",
                  "time_train_s", "jaccard", "recall", "precision", "rule_rho", "counting_rho", "planted_error"):
            rec[k] = median([r[k] for r in rs], keep=measured)
        reached = [r["reached"] for r in rs if r["reached"] is not None]
        rec["reached"] = (sum(bool(v) for v in reached), len(reached))
        recs.append(rec)
    return recs


def summarize(rows) -> str:
    """The medians as a console table."""
    recs = summary_records(rows)
    if not recs:
        return "(no rows)"

    def f(v, spec):
        return "-" if not measured(v) else format(v, spec)

    head = (f"{'part':<20} {'target':<16} {'ρ':>6} {'mode':<12} {'method':<11} {'keep':<8} {'kept':>6} "
            f"{'bound':>9} {'adv':>9} {'acc':>6} {'cert':>6} {'s/ep':>6} {'jacc':>5} {'reached':>7}")
    lines = [head, "-" * len(head)]
    for r in recs:
        reached = f"{r['reached'][0]}/{r['reached'][1]}" if r["reached"][1] else "-"
        lines.append(f"{r['part']:<20} {r['target']:<16} {f(r['random_per_target'], '>6.1f')} {r['mode']:<12} "
                     f"{r['method']:<11} {r['keep_label']:<8} {f(r['kept_fraction'], '>6.3f')} "
                     f"{f(r['bound'], '>9.2e')} {f(r['adversarial_error'], '>9.2e')} {f(r['accuracy'], '>6.3f')} "
                     f"{f(r['certified_agreement'], '>6.3f')} {f(r['time_per_epoch_s'], '>6.3f')} "
                     f"{f(r['jaccard'], '>5.2f')} {reached:>7}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line
DESCRIPTION = ("Search against construction: edge-popup, supermask and biprop against the subset-sum construction "
               "on the same random networks — certified bound, adversarial error and accuracy against width at "
               "fixed sparsity, time per epoch, and on planted tickets how often search reaches the planted "
               "error. Resumable; results in RUN_ROOT/<config hash>/results.csv; figures and tables rebuilt from "
               "them into paper/.")
QUICK_HELP = ("tiny smoke run for tests (2-3-2 target at 2 widths, digits 64-4-10 and MNIST-1D 40-4-10 at one "
              "width, 2 epochs, the ReLU and helix planted, 1 seed, in-process); explicit options still win")


_COMMAND = C.Command(SearchConfig, DESCRIPTION, QUICK_HELP)


def build_parser(prog: str = "search_vs_construction.py"):
    return _COMMAND.build_parser(prog)


def parse(argv=None, prog: str = "search_vs_construction.py") -> SearchConfig:
    """The checked configuration of a command line (exit status 2 on a bad one)."""
    return _COMMAND.parse(argv, prog)


def main(argv=None, *, report=None, prog: str = "search_vs_construction.py") -> dict:
    """The experiment's command: parse, run, and (unless --no-plot) ``report`` the figures/tables."""
    return _COMMAND.main(run, argv, report=report, prog=prog)
