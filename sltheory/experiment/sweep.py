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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SweepJob", "run_job", "COLUMNS", "KEY"]

#: results.csv schema of a width sweep: column → type.
COLUMNS: dict = {
    "construction": str, "target": str, "rho_requested": float, "width_factor": float, "seed": int,
    "eps": float,
    "n": str, "random_weights": int, "target_weights": int, "random_per_target": float,
    "best_bound": float, "adversarial_error": float, "bound_over_adversarial": float, "bound_ok": bool,
    "best_kept_per_target": float,
    "eps_success": bool, "eps_bound": float, "eps_kept_per_target": float,
    "target_accuracy": float, "best_accuracy": float, "eps_accuracy": float, "best_agreement": float,
    "best_certified_agreement": float, "eps_certified_agreement": float,
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

    @property
    def key(self) -> tuple:
        return (self.construction, self.target, float(self.rho_requested), int(self.seed))


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


def run_job(job: SweepJob) -> list[dict]:
    """Run one job; returns its rows (one per ε in ``job.eps``)."""
    import torch

    from ..agreement import certified_agreement
    from ..api import approximate, random_network
    from ..certificate import adversarial_error
    from ..errors import ApproximationFailedError

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
        "construction": job.construction, "target": job.target, "rho_requested": float(job.rho_requested),
        "width_factor": float(job.width_factor), "seed": int(job.seed),
        "n": "/".join(str(v) for v in st["n"]), "random_weights": int(st["random_weights"]),
        "target_weights": int(st["target_weights"]), "random_per_target": float(st["random_per_target"]),
        "best_bound": bound, "adversarial_error": float(adv),
        "bound_over_adversarial": bound / float(adv) if adv > 0 else float("inf"),
        "bound_ok": bool(bound >= adv), "best_kept_per_target": float(st["kept_per_target"]),
        "time_sample_s": t_sampled - t_start, "time_prune_s": t_pruned - t_sampled,
        "time_adversarial_s": t_adv - t_pruned,
    }
    trained = job.x_test is not None
    if trained:
        x = torch.as_tensor(job.x_test, dtype=torch.float64, device=job.device)
        y = torch.as_tensor(job.y_test, dtype=torch.int64, device=job.device)
        pred_f = _predict(f, x)
        pred_g = _predict(best.network, x)
        common.update(target_accuracy=float((pred_f == y).double().mean()),
                      best_accuracy=float((pred_g == y).double().mean()),
                      best_agreement=float((pred_f == pred_g).double().mean()),
                      best_certified_agreement=certified_agreement(weights, best, job.x_test).certified)
    rows = []
    for eps in job.eps:
        t0 = time.perf_counter()
        row = dict(common, eps=float(eps))
        try:
            tk = approximate(weights, rand, eps=eps, rescale=job.rescale)
        except ApproximationFailedError as exc:
            row.update(eps_success=False, eps_bound=float(exc.error_bound))
        else:
            row.update(eps_success=True, eps_bound=float(tk.error_bound),
                       eps_kept_per_target=float(tk.stats["kept_per_target"]))
            if trained:
                row["eps_accuracy"] = float((_predict(tk.network, x) == y).double().mean())
                row["eps_certified_agreement"] = certified_agreement(weights, tk, job.x_test).certified
        row["time_eps_s"] = time.perf_counter() - t0
        rows.append(row)
    total = time.perf_counter() - t_start
    for row in rows:
        row["time_total_s"] = total
    return [{k: row.get(k) for k in COLUMNS} for row in rows]
