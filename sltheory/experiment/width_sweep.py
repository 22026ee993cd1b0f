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

Convolutional and residual targets (issue 15; :mod:`sltheory.conv`), for every conv construction
registered in :func:`sltheory.conv.constructions` that has a ρ grid (``--conv-rho``; a default
grid whose construction is not registered is skipped, and so is a target a construction refuses,
e.g. conv_burkholz on residual or biased targets): ``conv2d``, a generated Conv2d net on (1, 6, 6)
images (conv 3×3 stride 2 padding 1 → ReLU → Flatten → Linear, Gaussian kernels scaled so that every
layer's operator norm is ≤ 1 by the sound bound :func:`sltheory.conv.norms.op_norm_bound`);
``resnet1d``, a generated residual Conv1d net on (1, 8) signals (stem conv → ReLU → one
:class:`~sltheory.conv.modules.ResidualBlock` with identity shortcut → avg pool → Flatten →
Linear, scaled alike); both bias-free on the input domain Box(0, 1); and ``digits_conv``, the Conv2d
classifier trained on the digits (:func:`sltheory.data.digits_conv_target`, with biases, domain
Box(0, 1), its own grid ``--conv-trained-rho``). ρ counts kernel parameters and biases on both
sides (:func:`sltheory.experiment.sweep.conv_random_count`, ``ConvTarget.num_weights``); the width
for ρ is found by bisection on the conv plan's ``width_factor`` (:func:`conv_factor_for_rho`,
nothing sampled). Every row records the construction's rule width at its ε (``rule_rho``:
:func:`conv_rule_rho`, :func:`theorem_curve` for MLPs) and the counting lower bound at its ε
(``counting_rho``: :func:`counting_rho`, for convs over kernel parameters).

Results go to ``runs/width_sweep/<hash of config.json>/results.csv`` (one row per job and ε),
saved after every finished job (:func:`sltheory.experiment.engine.run`). Figures and tables are the
report's (:mod:`sltheory.report.width_sweep`), passed in as ``report`` so that this module never
imports the report room.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError
from . import config as C
from .summary import measured, median

__all__ = ["SweepConfig", "build_parser", "main", "run", "build_targets", "factor_for_rho", "make_jobs",
           "summary_records", "summarize", "theorem_curve", "conv_factor_for_rho", "conv_rule_rho",
           "counting_lower_bound_layers", "counting_rho", "conv_width_records", "summarize_widths", "CONV_TARGETS",
           "DEFAULT_RUN_ROOT", "SCHEMA_VERSION"]

DEFAULT_RUN_ROOT = C.project_root() / "runs" / "width_sweep"
#: Bump when the meaning or the columns of results.csv change: old run folders are then never reused.
#: 3: "malach" and "orseau" name the papers' constructions (issue 13; the earlier ones are now
#: "malach_product" and "orseau_halving"), burkholz's first layer is U[−2, 2).
#: 4: best_certified_agreement and eps_certified_agreement columns (issue 14).
#: 5: conv / residual targets (issue 15): family, rule_rho and counting_rho columns; conv rows.
SCHEMA_VERSION = 5
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
#: ρ grids of the conv constructions on the generated conv targets (conv2d, resnet1d). A name that
#: is not registered in sltheory.conv.constructions() is skipped. conv_burkholz takes three points up
#: to 128 (6-38 s per job on 2 busy cores; 40-50 s at ρ = 192-256 on conv2d): ``--conv-rho
#: conv_burkholz=…`` extends it.
DEFAULT_CONV_RHOS = (
    ("conv_subset_sum", (8, 12, 16, 24, 32)),
    ("conv_burkholz", (32, 64, 128)),
)
#: ρ grids on the digits-trained Conv2d target (conv_subset_sum; 10-60 s per job on 2 busy cores,
#: 74 s at ρ = 48).
DEFAULT_CONV_TRAINED_RHOS = (("conv_subset_sum", (12, 32)),)
#: Conv targets: generated Conv2d, generated residual Conv1d, the digits-trained Conv2d.
CONV_TARGETS = ("conv2d", "resnet1d", "digits_conv")
QUICK_CONV_RHOS = (("conv_subset_sum", (8, 16)), ("conv_burkholz", (32,)))
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


_opt = C.option


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
    conv_rhos: tuple = _opt(DEFAULT_CONV_RHOS, f"ρ grid of one conv construction on the generated conv targets; "
                            f"repeat for several (default {_grids(DEFAULT_CONV_RHOS)}; unregistered ones skipped)",
                            flag="--conv-rho", type=_rho_spec, action="append", metavar="NAME=R1,R2,...",
                            quick=QUICK_CONV_RHOS)
    conv_trained_rhos: tuple = _opt(DEFAULT_CONV_TRAINED_RHOS, "ρ grid of one conv construction on the digits-trained "
                                    f"conv target (default {_grids(DEFAULT_CONV_TRAINED_RHOS)})",
                                    flag="--conv-trained-rho", type=_rho_spec, action="append",
                                    metavar="NAME=R1,R2,...", quick=())
    conv_targets: tuple = _opt(CONV_TARGETS, "conv targets, a comma list of " + ",".join(CONV_TARGETS),
                               type=C.str_list, quick=("conv2d", "resnet1d"))
    conv_channels: int = _opt(4, "channels of the generated conv targets (conv2d, resnet1d)", quick=2,
                              check=C.count)
    seeds: tuple = _opt((0, 1, 2), "random-network seeds", quick=(0,), check=C.each(C.nonnegative))
    eps: tuple = _opt((0.1, 0.01), "accuracies whose success is measured", quick=(0.3,), check=C.each(C.eps))
    delta: float = _opt(0.05, "failure probability of the width rules", check=C.delta)
    device: str = _opt("auto", "torch device of the random networks, forward passes and adversarial search; "
                       "auto = cuda when available", choices=("auto", "cpu", "cuda"))
    adv_starts: int = _opt(512, "adversarial search: random starts", quick=64, check=C.count)
    adv_refine: int = _opt(8, "adversarial search: starts refined by ascent", quick=2, check=C.count)
    adv_steps: int = _opt(60, "adversarial search: ascent steps", quick=10, check=C.count)
    adv_lr: float = _opt(0.05, "adversarial search: initial step", check=C.positive)
    executor: str = C.executor_option()
    workers: int | None = C.workers_option()
    ray_address: str | None = C.ray_address_option()
    run_root: str = C.run_root_option(DEFAULT_RUN_ROOT)
    fig_dir: str = C.fig_dir_option()
    table_dir: str = C.table_dir_option()
    no_plot: bool = C.no_plot_option()

    @property
    def constructions(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.rhos)

    @property
    def conv_grids(self) -> tuple:
        """The conv ρ grids of registered conv constructions only (the others are skipped)."""
        from ..conv import constructions as conv_constructions
        known = set(conv_constructions())
        return tuple((n, g) for n, g in self.conv_rhos if n in known)

    @property
    def conv_trained_grids(self) -> tuple:
        from ..conv import constructions as conv_constructions
        known = set(conv_constructions())
        return tuple((n, g) for n, g in self.conv_trained_rhos if n in known)

    @staticmethod
    def from_cli(values: dict, given: dict, args) -> dict:
        """--rho (--conv-rho) merges into the (quick) default grids; --constructions picks and orders
        them (MLP and conv names; a list without conv names runs no conv target, and vice versa)."""
        base = dict(values["rhos"])
        for name, grid in given.get("rhos") or ():
            base[name] = grid
        conv_base = dict(values["conv_rhos"])
        for name, grid in given.get("conv_rhos") or ():
            conv_base[name] = grid
        chosen = args.constructions
        if chosen is not None:
            unknown = [n for n in chosen if n not in base and n not in conv_base]
            if unknown:
                raise InvalidArgumentError(f"no ρ grid for {unknown}: give --rho (or --conv-rho) NAME=R1,R2,...")
            values["rhos"] = tuple((n, tuple(base[n])) for n in chosen if n in base)
            values["conv_rhos"] = tuple((n, tuple(conv_base[n])) for n in chosen if n in conv_base)
            values["conv_trained_rhos"] = tuple((n, tuple(g)) for n, g in
                                                (given.get("conv_trained_rhos") or values["conv_trained_rhos"])
                                                if n in chosen)
        else:
            if given.get("rhos"):
                values["rhos"] = tuple((n, tuple(g)) for n, g in base.items())
            if given.get("conv_rhos"):
                values["conv_rhos"] = tuple((n, tuple(g)) for n, g in conv_base.items())
            if given.get("conv_trained_rhos"):
                values["conv_trained_rhos"] = tuple((n, tuple(g)) for n, g in given["conv_trained_rhos"])
        if args.no_conv:
            values["conv_targets"] = ()
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
        from ..conv import constructions as conv_constructions
        from .executors import check_executor

        known = set(constructions())
        conv_known = set(conv_constructions()) | {n for n, _ in DEFAULT_CONV_RHOS}   # absent defaults: skipped
        if not isinstance(self.rhos, tuple) or not isinstance(self.conv_rhos, tuple) or \
                not (self.rhos or (self.conv_rhos and self.conv_targets)):
            raise InvalidArgumentError("rhos must name at least one construction")
        all_grids = [(n, g, known, "") for n, g in self.rhos + self.trained_rhos]
        all_grids += [(n, g, conv_known, "conv ") for n, g in self.conv_rhos + self.conv_trained_rhos]
        for name, grid, names, kind in all_grids:
            if name not in names:
                raise InvalidArgumentError(f"unknown {kind}construction {name!r}; registered: {sorted(names)}")
            if not isinstance(grid, tuple) or not grid:
                raise InvalidArgumentError(f"rhos for {name} must be a non-empty tuple")
            for r in grid:
                C.positive(f"rho of {name}", r)
            if len(set(grid)) != len(grid):
                raise InvalidArgumentError(f"rhos for {name} has duplicates: {grid!r}")
        for label, pairs in (("rhos", self.rhos), ("trained_rhos", self.trained_rhos), ("conv_rhos", self.conv_rhos),
                             ("conv_trained_rhos", self.conv_trained_rhos)):
            if len({n for n, _ in pairs}) != len(pairs):
                raise InvalidArgumentError(f"a construction is listed twice in {label}")
        if not isinstance(self.conv_targets, tuple) or len(set(self.conv_targets)) != len(self.conv_targets):
            raise InvalidArgumentError(f"conv_targets must be a tuple without duplicates, got {self.conv_targets!r}")
        for name in self.conv_targets:
            if name not in CONV_TARGETS:
                raise InvalidArgumentError(f"unknown conv target {name!r}; known: {', '.join(CONV_TARGETS)}")
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
        d["conv_rhos"] = {name: [float(r) for r in grid] for name, grid in self.conv_grids}
        d["conv_trained_rhos"] = {name: [float(r) for r in grid] for name, grid in self.conv_trained_grids}
        # per conv target, the parameters (kernel weights + biases) of each conv / linear layer: the
        # report's counting-bound curve needs them (results.csv alone rebuilds the figures)
        d["conv_layer_parameters"] = {label: list(t["layer_parameters"]) for label, t in targets.items()
                                      if t["kind"] == "conv"}
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
        t["kind"] = t.get("kind", "mlp")
        t["fingerprint"] = _fingerprint(t["weights"])
    targets.update(build_conv_targets(cfg, out))
    return targets


def _scaled_conv(model, input_shape):
    """``model``'s ConvTarget with every conv / linear layer divided by the sound upper bound
    :func:`sltheory.conv.norms.op_norm_bound` of its operator norm (on its input shape), so that
    every layer has operator norm ≤ 1 (the theorems' class); the model's weights are scaled in
    place too."""
    import torch

    from ..conv.norms import op_norm_bound
    from ..conv.target import conv_target

    tgt = conv_target(model, input_shape)
    mods = [m for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))]
    if len(mods) != len(tgt.layers):
        raise RuntimeError("internal error: the conv target's layers do not match the model's modules")
    with torch.no_grad():
        for mod, op in zip(mods, tgt.layers):
            mod.weight.div_(max(float(op_norm_bound(op)), 1e-300))
    return conv_target(model, input_shape)


def _generated_conv(name: str, channels: int, seed: int):
    """(torch model, input shape) of a generated conv target (module docstring), Gaussian weights from
    ``seed``, float64, bias-free, each layer's operator norm ≤ 1."""
    import torch
    from torch import nn

    from ..conv.modules import ResidualBlock

    gen = torch.Generator().manual_seed(int(seed))
    c = int(channels)
    if name == "conv2d":
        shape: tuple = (1, 6, 6)
        model = nn.Sequential(nn.Conv2d(1, c, 3, stride=2, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                              nn.Linear(c * 9, 4, bias=False))
    elif name == "resnet1d":
        shape = (1, 8)
        model = nn.Sequential(nn.Conv1d(1, c, 3, padding=1, bias=False), nn.ReLU(),
                              ResidualBlock(c, c, dims=1), nn.AvgPool1d(2), nn.Flatten(),
                              nn.Linear(c * 4, 3, bias=False))
    else:
        raise InvalidArgumentError(f"unknown generated conv target {name!r}")
    model = model.to(torch.float64).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen, dtype=torch.float64))
    return model, shape


def _conv_label(name: str, target, channels: int | None = None) -> str:
    shape = "x".join(str(v) for v in target.input_shape)
    return f"{name} {shape}" + ("" if channels is None else f" c{channels}")


def build_conv_targets(cfg: SweepConfig, out=None) -> dict:
    """label → the conv targets' entries (``kind="conv"``; ``conv`` the ConvTarget, ``domain``,
    ``layer_parameters``, ``rhos`` its grids of registered conv constructions, test data of the
    trained one flattened)."""
    from ..conv.norms import op_norm_bound
    from ..domains import Box

    targets: dict[str, dict] = {}
    for name in cfg.conv_targets:
        x_test = y_test = acc = None
        if name == "digits_conv":
            if not cfg.conv_trained_grids:
                continue
            from .. import data as datasets
            t0 = time.perf_counter()
            trained = datasets.digits_conv_target(seed=cfg.train_seed)
            from ..conv.target import conv_target
            tgt = conv_target(trained.model, trained.input_shape)
            domain, rhos = Box(trained.lo, trained.hi), cfg.conv_trained_grids
            x_test = np.asarray(trained.x_test, dtype=np.float64).reshape(len(trained.x_test), -1)
            y_test, acc = np.asarray(trained.y_test), float(trained.test_accuracy)
            label = _conv_label("digits-conv", tgt)
            if out is not None:
                print(f"trained conv target {label}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.1f}s, "
                      f"{tgt.num_weights} weights and biases)", file=out)
        else:
            if not cfg.conv_grids:
                continue
            model, shape = _generated_conv(name, cfg.conv_channels, cfg.target_seed)
            tgt = _scaled_conv(model, shape)
            domain, rhos = Box(0.0, 1.0), cfg.conv_grids
            label = _conv_label(name, tgt, cfg.conv_channels)
        weights = [w for a in tgt.layers for w in ((a.weight,) if a.bias is None else (a.weight, a.bias))]
        # the rule's class: every layer's operator norm ≤ weight_norm (1 for the generated targets,
        # scaled to it; the trained one declares its largest sound bound, so its rule is its own)
        norm = max(float(op_norm_bound(a)) for a in tgt.layers)
        options = {"weight_norm": norm} if norm > 1.0 + 1e-9 else {}
        targets[label] = dict(kind="conv", conv=tgt, domain=domain, weights=weights, x_test=x_test, y_test=y_test,
                              rescale=False, rhos=rhos, accuracy=acc, fingerprint=_fingerprint(weights),
                              plan_options=tuple(sorted(options.items())),
                              layer_parameters=tuple(int(a.weight.size + (0 if a.bias is None else a.bias.size))
                                                     for a in tgt.layers))
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

    return _bisect(ratio, rho)


def counting_lower_bound_layers(layer_parameters, eps):
    """Σ_l (p_l log₂(1/(2ε)) − 1): :func:`sltheory.bounds.counting_lower_bound` applied per layer with
    d_in·d_out replaced by the layer's parameter count p_l. For an MLP layer p_l = d_in·d_out and this
    is the MLP bound; **for a conv layer p_l counts its kernel parameters** c_out·c_in·|K| (plus its
    biases): the packing argument runs over the layer's free parameters, not over the entries of the
    unrolled (weight-shared) matrix. Floats; ε ≤ 1/2."""
    from ..bounds import counting_lower_bound
    return float(sum(float(counting_lower_bound(1, int(p), float(eps))) for p in layer_parameters))


def counting_rho(layer_parameters, eps):
    """The counting lower bound at ε as random weights per target weight (None for ε > 1/2, where the
    packing bound says nothing)."""
    if float(eps) > 0.5:
        return None
    return counting_lower_bound_layers(layer_parameters, eps) / sum(int(p) for p in layer_parameters)


def _plan_ratio(spec, target, **kw):
    from .sweep import conv_random_count
    plan = spec.plan(target, **kw)
    return conv_random_count(plan) / target.num_weights, plan


def conv_rule_rho(construction: str, target, eps: float, delta: float, domain, **options):
    """ρ of the conv construction's width rule at ε (its plan at ``width_factor`` 1; random weights
    and biases per target weight and bias), or None when the construction refuses the target or the
    rule's network is beyond the library's caps. ``options`` go to the plan (``weight_norm``)."""
    from ..conv.registry import get
    from ..errors import NetworkTooLargeError, TargetError
    try:
        return _plan_ratio(get(construction), target, eps=eps, delta=delta, domain=domain, **options)[0]
    except (InvalidArgumentError, NetworkTooLargeError, TargetError):
        return None


def conv_factor_for_rho(construction: str, target, rho: float, eps: float, delta: float, domain, **options):
    """(width_factor, n, ρ actual) of the conv construction's plan closest to ``rho`` (bisection on
    the factor, plans only, nothing sampled), or None if no width fits. TargetError (propagated) when
    the construction refuses the target."""
    from ..conv.registry import get
    from ..errors import NetworkTooLargeError
    spec = get(construction)
    spec.plan(target, eps=eps, delta=delta, domain=domain, **options)      # a refused target raises here

    def ratio(f):
        try:
            return _plan_ratio(spec, target, eps=eps, delta=delta, width_factor=f, domain=domain, **options)
        except (InvalidArgumentError, NetworkTooLargeError):
            return math.inf, None

    return _bisect(ratio, rho)


def _bisect(ratio, rho: float):
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


def _new_width(found, seen: set, name: str, label: str, rho: float, out) -> bool:
    """Whether the width ``found`` for grid point ρ is measured: a width fits and its n is not one a
    smaller ρ already gave (then it is recorded in ``seen``); otherwise the skip is printed."""
    if found is None or found[1] in seen:
        if out is not None:
            why = "no width fits" if found is None else f"same n {found[1]} as a smaller ρ"
            print(f"  skip {name} on {label} at ρ={rho:g}: {why}", file=out)
        return False
    seen.add(found[1])
    return True


def _conv_jobs(cfg: SweepConfig, label: str, t: dict, device: str, out=None) -> list:
    from ..errors import TargetError
    from .sweep import ConvSweepJob

    jobs = []
    width_eps = max(cfg.eps)
    eps = tuple(float(e) for e in cfg.eps)
    counting = tuple(counting_rho(t["layer_parameters"], e) for e in eps)
    options = dict(t["plan_options"])
    for name, grid in t["rhos"]:
        rules = tuple(conv_rule_rho(name, t["conv"], e, cfg.delta, t["domain"], **options) for e in eps)
        seen: set[int] = set()
        for rho in grid:
            try:
                found = conv_factor_for_rho(name, t["conv"], rho, width_eps, cfg.delta, t["domain"], **options)
            except TargetError as exc:
                if out is not None:
                    print(f"  skip {name} on {label}: {exc}", file=out)
                break
            if not _new_width(found, seen, name, label, rho, out):
                continue
            for seed in cfg.seeds:
                jobs.append(ConvSweepJob(
                    construction=name, target=label, conv=t["conv"], domain=t["domain"], rho_requested=float(rho),
                    width_factor=found[0], seed=int(seed), eps=eps, width_eps=width_eps, delta=float(cfg.delta),
                    x_test=t["x_test"], y_test=t["y_test"], adv_starts=cfg.adv_starts, adv_refine=cfg.adv_refine,
                    adv_steps=cfg.adv_steps, adv_lr=cfg.adv_lr, device=device, rule_rhos=rules,
                    counting_rhos=counting, plan_options=tuple(sorted(options.items()))))
    return jobs


def make_jobs(cfg: SweepConfig, targets: dict, device: str, out=None) -> list:
    from .sweep import SweepJob

    jobs = []
    width_eps = max(cfg.eps)
    eps = tuple(float(e) for e in cfg.eps)
    for label, t in targets.items():
        if t["kind"] == "conv":
            jobs += _conv_jobs(cfg, label, t, device, out)
            continue
        dims = t["dims"]
        params = tuple(a * b for a, b in zip(dims[:-1], dims[1:]))
        counting = tuple(counting_rho(params, e) for e in eps)
        for name, grid in t["rhos"]:
            rules = tuple(float(v) for v in theorem_curve(name, dims, cfg.delta, eps))
            seen: set[int] = set()
            for rho in grid:
                found = factor_for_rho(name, t["dims"], rho, width_eps, cfg.delta)
                if not _new_width(found, seen, name, label, rho, out):
                    continue
                for seed in cfg.seeds:
                    jobs.append(SweepJob(
                        construction=name, target=label, weights=tuple(t["weights"]), rho_requested=float(rho),
                        width_factor=found[0], seed=int(seed), eps=tuple(float(e) for e in cfg.eps),
                        width_eps=width_eps, delta=float(cfg.delta), rescale=t["rescale"],
                        x_test=t["x_test"], y_test=t["y_test"], adv_starts=cfg.adv_starts,
                        adv_refine=cfg.adv_refine, adv_steps=cfg.adv_steps, adv_lr=cfg.adv_lr, device=device,
                        rule_rhos=rules, counting_rhos=counting))
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
    names = cfg.constructions + tuple(n for n, _ in cfg.conv_grids + cfg.conv_trained_grids
                                      if n not in cfg.constructions and cfg.conv_targets)
    print(f"width sweep: {len(jobs)} jobs ({', '.join(dict.fromkeys(names))}; targets {', '.join(targets)}), "
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
    widths = summarize_widths(rows)
    if widths:
        print("\nconv widths (ρ = random weights / target weights):\n" + widths, file=out)
    print(f"\nbound ≥ adversarial in {len(rows) - len(violations)}/{len(rows)} rows", file=out)
    figs, tabs = engine.make_report(folder.path, cfg, report, make_plots, out)
    return {"run_dir": folder.path, "rows": rows, "violations": len(violations), "figures": figs, "tables": tabs}


# ----------------------------------------------------------------------------- summaries
def _median(vals):
    return median(vals, keep=measured)


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
        rec = {"family": rs[0].get("family") or "mlp", "target": target, "construction": name,
               "rho": _median([r["random_per_target"] for r in rs]),
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
            rec[f"rule@{e:g}"] = _median([r.get("rule_rho") for r in er])
            rec[f"counting@{e:g}"] = _median([r.get("counting_rho") for r in er])
        recs.append(rec)
    recs.sort(key=lambda r: r["family"] == "conv")      # stable: MLP rows first, then the conv rows
    return recs


def conv_width_records(rows, family: str = "conv") -> list[dict]:
    """Per (target, construction, ε) of ``family``: the rule's ρ at ε (``rule``), the counting lower
    bound's (``counting``), the smallest measured ρ at which every seed's ``approximate(eps=ε)``
    succeeded (``smallest_all``; None if none did) and at which some seed did (``smallest_any``),
    and the grid's largest ρ (``largest``)."""
    out = []
    recs = [r for r in summary_records(rows) if r["family"] == family]
    eps_values = sorted({r["eps"] for r in rows}, reverse=True)
    pairs = sorted({(r["target"], r["construction"]) for r in recs})
    for target, name in pairs:
        rs = sorted((r for r in recs if r["target"] == target and r["construction"] == name), key=lambda r: r["rho"])
        for e in eps_values:
            k = f"{e:g}"
            all_ok = [r["rho"] for r in rs if r[f"ok@{k}"][1] and r[f"ok@{k}"][0] == r[f"ok@{k}"][1]]
            any_ok = [r["rho"] for r in rs if r[f"ok@{k}"][0]]
            out.append({"target": target, "construction": name, "eps": e, "rule": rs[0][f"rule@{k}"],
                        "counting": rs[0][f"counting@{k}"], "smallest_all": min(all_ok) if all_ok else None,
                        "smallest_any": min(any_ok) if any_ok else None, "largest": rs[-1]["rho"]})
    return out


def summarize_widths(rows) -> str:
    """The conv rows' widths at each ε: the rule's, the smallest succeeding one, the counting bound's."""
    lines = []
    for w in conv_width_records(rows):
        def f(v):
            return "-" if not measured(v) else f"{v:.3g}"
        lines.append(f"{w['target']:<20} {w['construction']:<16} ε={w['eps']:<6g} rule ρ={f(w['rule']):>8}  "
                     f"smallest succeeding ρ (all seeds)={f(w['smallest_all']):>7} (any seed {f(w['smallest_any'])}, "
                     f"grid up to {f(w['largest'])})  counting ρ={f(w['counting'])}")
    return "\n".join(lines)


def summarize(rows) -> str:
    recs = summary_records(rows)
    if not recs:
        return "(no rows)"
    eps_keys = [k for k in recs[0] if k.startswith("ok@")]
    head = (f"{'target':<18} {'construction':<11} {'ρ':>7} {'n':<12} {'bound':>9} {'adv':>9} {'b/adv':>6} "
            f"{'kept/t':>7} " + " ".join(f"{'ok ε=' + k[3:]:>9}" for k in eps_keys) + f" {'acc':>6} {'cert':>6}"
            f" {'t(s)':>6}")
    lines = [head, "-" * len(head)]
    family = "mlp"
    for r in recs:
        if r["family"] != family:
            family = r["family"]
            lines.append("-" * len(head) + "  conv / residual targets (ρ counts kernel parameters and biases)")
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
              "subset_sum, conv2d and resnet1d with 2 channels for the conv constructions, in-process); explicit "
              "options still win")


def _extra(p) -> None:
    p.add_argument("--constructions", type=C.str_list, default=None,
                   help=f"comma list of constructions to sweep (default all: "
                        f"{','.join(n for n, _ in DEFAULT_RHOS)})")
    p.add_argument("--no-trained", action="store_true", help="no trained MLP targets (digits, MNIST)")
    p.add_argument("--no-conv", action="store_true", help="no conv / residual targets (the MLP sweep only)")


_COMMAND = C.Command(SweepConfig, DESCRIPTION, QUICK_HELP, extra=_extra)


def build_parser(prog: str = "width_sweep.py"):
    return _COMMAND.build_parser(prog)


def parse(argv=None, prog: str = "width_sweep.py") -> SweepConfig:
    """The checked configuration of a command line (exit status 2 on a bad one)."""
    return _COMMAND.parse(argv, prog)


def main(argv=None, *, report=None, prog: str = "width_sweep.py") -> dict:
    """The width sweep's command: parse, run, and (unless --no-plot) ``report`` the figures/tables."""
    return _COMMAND.main(run, argv, report=report, prog=prog)
