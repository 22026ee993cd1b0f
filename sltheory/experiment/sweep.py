"""One job of a width sweep: sample, prune, certify, attack, and (for trained targets) classify.

A :class:`SweepJob` is self-contained and picklable (target weights and test data travel with it),
so :func:`run_job` runs unchanged in this process, in a process pool or on a Ray worker
(:mod:`sltheory.experiment.executors`). It returns one row per requested ε (:data:`COLUMNS`):

1. ``random_network(target, eps=width_eps, delta, seed, construction, width_factor)``: the
   theorem's random network at ``width_factor`` × the rule's width for ``width_eps``;
2. ``approximate(target, rand)`` (eps=None): every target weight at its best subset; its
   certified bound on sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂ and an adversarial lower bound on the same sup
   (:func:`sltheory.adversarial_error`);
3. for each ε: ``approximate(target, rand, eps=ε)`` — success (a ticket with certified bound ≤ ε
   exists), its bound and its kept weights;
4. trained targets (``x_test`` given): test accuracy of the target and of both tickets, the
   fraction of test predictions the best ticket leaves unchanged, and the fraction it provably
   leaves unchanged (:func:`sltheory.certified_agreement`: the target's top-2 logit margin exceeds
   2 × the ticket's certified bound), for the best ticket and for each ε's ticket.

Trained targets have ‖W_i‖₂ > 1: they are pruned with ``rescale=True`` (see
:func:`sltheory.approximate`), and every reported error is of the unscaled network f.

A :class:`ConvSweepJob` (a convolutional / residual target, :mod:`sltheory.conv`) runs the same
steps with ``sltheory.conv.random_network`` / ``sltheory.conv.approximate`` over the target's input
domain (a :class:`~sltheory.domains.Box`): the certified bound and the adversarial search are both
over that domain, on flattened inputs; random and target weights count kernel parameters and biases
(:func:`conv_random_count`, ``ConvTarget.num_weights``). Every row also carries the construction's
width rule at its ε (``rule_rho``) and the counting lower bound at its ε (``counting_rho``), both as
random weights per target weight (for convs the counting bound counts kernel parameters).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SweepJob", "ConvSweepJob", "run_job", "run_conv_job", "conv_random_count", "COLUMNS", "KEY"]

#: results.csv schema of a width sweep: column → type.
COLUMNS: dict = {
    "family": str, "construction": str, "target": str, "rho_requested": float, "width_factor": float, "seed": int,
    "eps": float,
    "n": str, "random_weights": int, "target_weights": int, "random_per_target": float,
    "best_bound": float, "adversarial_error": float, "bound_over_adversarial": float, "bound_ok": bool,
    "best_kept_per_target": float,
    "eps_success": bool, "eps_bound": float, "eps_kept_per_target": float,
    "target_accuracy": float, "best_accuracy": float, "eps_accuracy": float, "best_agreement": float,
    "best_certified_agreement": float, "eps_certified_agreement": float,
    "rule_rho": float, "counting_rho": float,
    "time_sample_s": float, "time_prune_s": float, "time_adversarial_s": float, "time_eps_s": float,
    "time_total_s": float,
}
#: Columns identifying one job (its rows: one per ε).
KEY = ("construction", "target", "rho_requested", "seed", "eps")


@dataclass(frozen=True)
class SweepJob:
    """Everything one (construction, target, width, seed) measurement needs."""

    construction: str
    target: str                                   # a label, e.g. "gaussian 4-8-4"
    weights: tuple = field(repr=False, compare=False)   # numpy float64 matrices (d_out, d_in)
    rho_requested: float                          # the grid point (random weights per target weight)
    width_factor: float                           # × the rule's width at width_eps
    seed: int
    eps: tuple                                    # ε values whose success is measured
    width_eps: float
    delta: float
    rescale: bool = False
    x_test: np.ndarray | None = field(default=None, repr=False, compare=False)
    y_test: np.ndarray | None = field(default=None, repr=False, compare=False)
    adv_starts: int = 512
    adv_refine: int = 8
    adv_steps: int = 60
    adv_lr: float = 0.05
    device: str = "cpu"
    rule_rhos: tuple = ()                         # the width rule's ρ at each ε (aligned with eps)
    counting_rhos: tuple = ()                     # the counting lower bound's ρ at each ε

    @property
    def key(self) -> tuple:
        return (self.construction, self.target, float(self.rho_requested), int(self.seed))


@dataclass(frozen=True)
class ConvSweepJob:
    """One (conv construction, conv target, width, seed) measurement (:func:`run_conv_job`)."""

    construction: str                             # a name of sltheory.conv.constructions()
    target: str                                   # a label, e.g. "conv2d 1x6x6 c4"
    conv: Any = field(repr=False, compare=False)   # the sltheory.conv.ops.ConvTarget
    domain: Any = field(repr=False, compare=False)  # its input domain (a sltheory.Box)
    rho_requested: float = 0.0
    width_factor: float = 1.0
    seed: int = 0
    eps: tuple = ()
    width_eps: float = 0.1
    delta: float = 0.05
    x_test: np.ndarray | None = field(default=None, repr=False, compare=False)   # flattened (N, C·H·W)
    y_test: np.ndarray | None = field(default=None, repr=False, compare=False)
    adv_starts: int = 512
    adv_refine: int = 8
    adv_steps: int = 60
    adv_lr: float = 0.05
    device: str = "cpu"
    rule_rhos: tuple = ()
    counting_rhos: tuple = ()
    plan_options: tuple = ()                      # (name, value) pairs for the plan, e.g. weight_norm

    @property
    def key(self) -> tuple:
        return (self.construction, self.target, float(self.rho_requested), int(self.seed))


def conv_random_count(plan) -> int:
    """Random weights and random biases of a conv plan: ``ConvPlan.num_random_weights`` (the pair
    constructions' univariate and dense layers; a construction with its own random layers, such as
    conv_burkholz, records its count as ``plan.options["random_weights"]``) plus the bias units'
    random biases (``num_random_biases``) — the numerator of ρ, whose denominator counts the target's
    kernel parameters and biases."""
    total = plan.options.get("random_weights") if isinstance(plan.options, dict) else None
    if total is None:
        total = plan.num_random_weights
    return int(total) + int(plan.num_random_biases)


def _target_module(weights, device):
    import torch
    layers: list[torch.nn.Module] = []
    for i, w in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64, device=device)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w, dtype=torch.float64))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _predict(net, x):
    import torch
    with torch.no_grad():
        return net(x).argmax(dim=1)


def _extras(job, eps: float) -> dict:
    i = tuple(job.eps).index(eps)
    rule = job.rule_rhos[i] if i < len(job.rule_rhos) else None
    count = job.counting_rhos[i] if i < len(job.counting_rhos) else None
    return {"rule_rho": None if rule is None else float(rule), "counting_rho": None if count is None else float(count)}


def run_job(job) -> list[dict]:
    """Run one job (a :class:`SweepJob` or a :class:`ConvSweepJob`); returns its rows (one per ε in
    ``job.eps``)."""
    if isinstance(job, ConvSweepJob):
        return run_conv_job(job)

    from ..agreement import certified_agreement
    from ..api import approximate, random_network
    from ..certificate import adversarial_error

    weights = [np.asarray(w, dtype=np.float64) for w in job.weights]
    t_start = time.perf_counter()
    rand = random_network(weights, eps=job.width_eps, delta=job.delta, seed=job.seed,
                          construction=job.construction, width_factor=job.width_factor, device=job.device)
    t_sampled = time.perf_counter()
    best = approximate(weights, rand, rescale=job.rescale)
    t_pruned = time.perf_counter()
    f = _target_module(weights, job.device)
    adv, _ = adversarial_error(f, best.network, weights[0].shape[1], starts=job.adv_starts,
                                        refine=job.adv_refine, steps=job.adv_steps, lr=job.adv_lr,
                                        seed=job.seed, device=job.device)
    t_adv = time.perf_counter()
    st = best.stats
    bound = float(best.error_bound)
    common = {
        "family": "mlp", "construction": job.construction, "target": job.target,
        "rho_requested": float(job.rho_requested),
        "width_factor": float(job.width_factor), "seed": int(job.seed),
        "n": "/".join(str(v) for v in st["n"]), "random_weights": int(st["random_weights"]),
        "target_weights": int(st["target_weights"]), "random_per_target": float(st["random_per_target"]),
        "best_bound": bound, "adversarial_error": float(adv),
        "bound_over_adversarial": bound / float(adv) if adv > 0 else float("inf"),
        "bound_ok": bool(bound >= adv), "best_kept_per_target": float(st["kept_per_target"]),
        "time_sample_s": t_sampled - t_start, "time_prune_s": t_pruned - t_sampled,
        "time_adversarial_s": t_adv - t_pruned,
    }
    return _rows(job, common, f, best, t_start,
                 solve=lambda eps: approximate(weights, rand, eps=eps, rescale=job.rescale),
                 kept_per_target=lambda tk: float(tk.stats["kept_per_target"]),
                 certified=lambda tk: certified_agreement(weights, tk, job.x_test).certified)


def run_conv_job(job: ConvSweepJob) -> list[dict]:
    """A conv target's job: the same steps and columns as :func:`run_job`, over ``job.domain``."""

    from ..certificate import adversarial_error
    from ..conv import api as conv_api

    target = job.conv
    t_start = time.perf_counter()
    rand = conv_api.random_network(target, eps=job.width_eps, delta=job.delta, seed=job.seed,
                                   construction=job.construction, width_factor=job.width_factor,
                                   domain=job.domain, device=job.device, **dict(job.plan_options))
    t_sampled = time.perf_counter()
    best = conv_api.approximate(target, rand)
    t_pruned = time.perf_counter()
    dim = int(target.input_dim)
    adv, _ = adversarial_error(target, best.network, dim, starts=job.adv_starts, refine=job.adv_refine,
                               steps=job.adv_steps, lr=job.adv_lr, seed=job.seed, device=job.device,
                               domain=job.domain)
    t_adv = time.perf_counter()
    n_random = conv_random_count(rand.plan)
    n_target = int(target.num_weights)
    bound = float(best.error_bound)
    common = {
        "family": "conv", "construction": job.construction, "target": job.target,
        "rho_requested": float(job.rho_requested), "width_factor": float(job.width_factor), "seed": int(job.seed),
        "n": "/".join(str(v) for v in rand.plan.n), "random_weights": n_random, "target_weights": n_target,
        "random_per_target": n_random / n_target, "best_bound": bound, "adversarial_error": float(adv),
        "bound_over_adversarial": bound / float(adv) if adv > 0 else float("inf"),
        "bound_ok": bool(bound >= adv), "best_kept_per_target": best.kept_weights / n_target,
        "time_sample_s": t_sampled - t_start, "time_prune_s": t_pruned - t_sampled,
        "time_adversarial_s": t_adv - t_pruned,
    }
    return _rows(job, common, target, best, t_start,
                 solve=lambda eps: conv_api.approximate(target, rand, eps=eps),
                 kept_per_target=lambda tk: tk.kept_weights / n_target,
                 certified=lambda tk: _conv_certified(target, tk, job.x_test))


def _rows(job, common: dict, f, best, t_start: float, *, solve, kept_per_target, certified) -> list[dict]:
    """What MLP and conv jobs share after the best ticket: on a trained target the test accuracy of
    target and best ticket, their agreement and the certified agreement (``certified(ticket)``); then
    one row per ε of ``job.eps`` — ``solve(eps)`` (success, its bound, ``kept_per_target(ticket)``, its
    accuracy and certified agreement on a trained target) — and the job's total time."""
    import torch

    from ..errors import ApproximationFailedError

    trained = job.x_test is not None
    if trained:
        x = torch.as_tensor(job.x_test, dtype=torch.float64, device=job.device)
        y = torch.as_tensor(job.y_test, dtype=torch.int64, device=job.device)
        pred_f = _predict(f, x)
        pred_g = _predict(best.network, x)
        common.update(target_accuracy=float((pred_f == y).double().mean()),
                      best_accuracy=float((pred_g == y).double().mean()),
                      best_agreement=float((pred_f == pred_g).double().mean()),
                      best_certified_agreement=certified(best))
    rows = []
    for eps in job.eps:
        t0 = time.perf_counter()
        row = dict(common, eps=float(eps), **_extras(job, eps))
        try:
            tk = solve(eps)
        except ApproximationFailedError as exc:
            row.update(eps_success=False, eps_bound=float(exc.error_bound))
        else:
            row.update(eps_success=True, eps_bound=float(tk.error_bound), eps_kept_per_target=kept_per_target(tk))
            if trained:
                row["eps_accuracy"] = float((_predict(tk.network, x) == y).double().mean())
                row["eps_certified_agreement"] = certified(tk)
        row["time_eps_s"] = time.perf_counter() - t0
        rows.append(row)
    total = time.perf_counter() - t_start
    for row in rows:
        row["time_total_s"] = total
    return [{k: row.get(k) for k in COLUMNS} for row in rows]


def _conv_certified(target, ticket, x_test) -> float | None:
    """:func:`sltheory.certified_agreement` of a conv ticket on the flattened test inputs (its
    certified fraction), or None where the library's certified_agreement takes no conv tickets."""
    from ..agreement import certified_agreement
    from ..errors import InvalidArgumentError

    tk: Any = ticket
    try:
        return float(certified_agreement(target, tk, x_test).certified)
    except InvalidArgumentError:
        return None
