"""Real conv targets (issue 15, item 4): a Conv2d net trained on scikit-learn's digits (8×8 images)
and a Conv1d net trained on MNIST-1D (generated offline by the ``mnist1d`` package), approximated by
each conv construction over the data's box and certified.

Per target and construction, prints: random / target and kept / target weights (kernel parameters
and biases counted), test accuracy of target and ticket, certified agreement
(:func:`sltheory.certified_agreement`: test inputs whose target top-2 margin exceeds 2·bound, and
√2·bound) and measured agreement, the certified bound, an adversarial lower bound on the same sup
(``sltheory.adversarial_error`` over the box) and bound / adversarial, seconds. The random network
follows the construction's rule at ``--eps`` with ``weight_norm`` = the target's largest layer
operator norm (trained layers exceed 1; the rule is for the declared class, module docstring of
:mod:`sltheory.conv.subset_sum`). Prints measured figures only. Run from the repository root::

    python benchmarks/conv_real_targets.py                 # ≈ 1–3 min on 2 cores
    python benchmarks/conv_real_targets.py --eps 0.1 --targets digits
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import sltheory
from sltheory import Box, data
from sltheory.conv import approximate, constructions, random_network
from sltheory.conv.norms import op_norm_bound
from sltheory.conv.target import conv_target


def run(name: str, trained, construction: str, eps: float, seed: int) -> None:
    model, shape = trained.model, tuple(trained.input_shape)
    tgt = conv_target(model, shape)
    X_all = np.concatenate([trained.x_train, trained.x_test]).reshape(-1, tgt.input_dim)
    dom = Box.of(X_all)
    g = max(op_norm_bound(op) for op in tgt.layers)
    t0 = time.perf_counter()
    try:
        rand = random_network(tgt, eps=eps, seed=seed, construction=construction, domain=dom, weight_norm=max(g, 1.0))
    except sltheory.SltheoryError as exc:
        print(f"  {name:<9} {construction:<16} not run: {exc}")
        return
    try:
        ticket = approximate(tgt, rand, eps=eps)
        note = ""
    except sltheory.ApproximationFailedError as exc:
        ticket = approximate(tgt, rand, eps=None)
        note = f" (eps={eps:g} failed: {str(exc).split(':')[0]}; best ticket)"
    secs = time.perf_counter() - t0
    Xt = trained.x_test.reshape(len(trained.x_test), -1)
    agr = sltheory.certified_agreement(model, ticket, Xt, trained.y_test)
    adv, _ = sltheory.adversarial_error(tgt, ticket.network, tgt.input_dim, domain=dom, starts=256, steps=60)
    tw, rw = tgt.num_weights, rand.plan.num_random_weights
    print(f"  {name:<9} {construction:<16} n={max(rand.plan.n):<3} random/target {rw / tw:7.1f}  kept/target "
          f"{ticket.kept_weights / tw:6.2f}  acc {agr.target_accuracy:.4f}/{agr.ticket_accuracy:.4f}  "
          f"cert.agree {agr.certified_2bound:.4f} ({agr.certified_sqrt2bound:.4f} at √2)  agree {agr.agreement:.4f}  "
          f"bound {ticket.error_bound:.4g}  adv {adv:.4g}  bound/adv {ticket.error_bound / max(adv, 1e-300):.3g}  "
          f"{secs:.1f} s{note}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eps", type=float, default=0.1, help="certified ε (logits)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--targets", default="digits,mnist1d")
    p.add_argument("--constructions", default=",".join(constructions()))
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    targets = {}
    wanted = args.targets.split(",")
    if "digits" in wanted:
        targets["digits"] = data.digits_conv_target(seed=args.seed)
    if "mnist1d" in wanted:
        targets["mnist1d"] = data.mnist1d_conv_target(seed=args.seed)
    for name, tr in targets.items():
        tgt = conv_target(tr.model, tuple(tr.input_shape))
        print(f"{name}: {tgt.num_weights:,} weights, input {tuple(tr.input_shape)}, test accuracy "
              f"{tr.test_accuracy:.4f}; layer norms {[round(op_norm_bound(op), 2) for op in tgt.layers]}")
        for c in args.constructions.split(","):
            run(name, tr, c, args.eps, args.seed)


if __name__ == "__main__":
    main()
