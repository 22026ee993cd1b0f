"""Real targets (issue 14): a digits MLP trained as torch trains it, approximated over its data's box.

A 64-H-10 ReLU MLP with biases (``nn.Linear``'s default, ``train_mlp(..., bias=True)``) trained on
scikit-learn's digits (``sltheory.datasets``, nothing downloaded; pixels scaled into the unit
ball, so every input is ≥ 0), approximated at ε over ``Box.of(X)`` (X: every digits image,
train and test) with a construction that supports biases (default subset_sum). Prints:

1. test accuracy of target and ticket, certified agreement (``sltheory.certified_agreement``: the
   fraction of test images where the target's top-2 margin exceeds 2·bound, and √2·bound) and the
   measured agreement; kept / target and random / target weights; the certified bound; seconds;
2. the negative-half saving on nonnegative inputs: the random network's planned weights (and the
   pruned ticket's) over the data's box against the same target on a signed domain, the box
   [−hi, hi] of the same extent (every first-layer weight approximated twice there);
3. the compact network's parameters (``ticket.compact()``) against the random network's weights.

If the construction does not support biases yet (``supports_biases``), the same runs on a
bias-free MLP, and the line says so. Prints measured figures only (no assertions). Run from the
repository root::

    python benchmarks/real_targets.py                     # ~1 min on 2 cores
    python benchmarks/real_targets.py --hidden 32 --eps 0.01 --seed 0
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import sltheory
from sltheory import Box, datasets


def _row(label: str, value) -> None:
    print(f"  {label:<44} {value}")


def approximate_timed(net, eps: float, seed: int, construction: str, domain):
    t0 = time.perf_counter()
    # a trained target has ‖W_i‖₂ > 1: rescale=True approximates f/S to eps/S (S = Π‖W_i‖₂), so the
    # random network is sized for eps/S
    S = sltheory.as_target(net, rescale=True).output_scale
    rand = sltheory.random_network(net, eps=eps / S, seed=seed, construction=construction, domain=domain)
    t1 = time.perf_counter()
    try:
        ticket = sltheory.approximate(net, rand, eps=eps, rescale=True)
    except sltheory.ApproximationFailedError as exc:   # the theorem's failure event: report the best ticket
        print(f"  approximate(eps={eps:g}) failed ({str(exc).split(':')[0]}); measuring the best ticket (eps=None)")
        ticket = sltheory.approximate(net, rand, rescale=True)
    t2 = time.perf_counter()
    return rand, ticket, t1 - t0, t2 - t1


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=16, help="hidden width H of the 64-H-10 MLP")
    p.add_argument("--eps", type=float, default=0.01, help="certified accuracy ε")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the training and the random network")
    p.add_argument("--construction", default="subset_sum", help="a construction with supports_biases")
    p.add_argument("--no-signed", action="store_true", help="skip the signed-domain comparison")
    args = p.parse_args(argv)
    if args.hidden < 1 or not 0 < args.eps < 1 or args.seed < 0:
        p.error("--hidden ≥ 1, 0 < --eps < 1, --seed ≥ 0")

    spec = sltheory.construction(args.construction)
    bias = bool(getattr(spec, "supports_biases", False))
    print(f"sltheory {sltheory.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    tiny = sltheory.gaussian_target((4, 4, 2), 0)
    t0 = time.perf_counter()
    sltheory.approximate(tiny, sltheory.random_network(tiny, eps=0.1, seed=0))
    print(f"JIT warm-up: {time.perf_counter() - t0:.1f} s (not counted)")

    data = datasets.load_digits(seed=args.seed)
    dims = [data.dim, args.hidden, data.num_classes]
    t0 = time.perf_counter()
    net = datasets.train_mlp(dims, data, seed=args.seed, num_threads=1, bias=bias)
    print(f"trained {'-'.join(map(str, dims))} on digits {'WITH biases' if bias else 'bias-free'} "
          f"({time.perf_counter() - t0:.1f} s)" + ("" if bias else
                                                   f": {args.construction} has no supports_biases yet"))
    X = torch.cat([data.x_train, data.x_test])
    box = Box.of(X)
    print(f"domain: {box!r}, nonnegative={box.nonnegative}, radius {box.radius:.4f}")

    rand, ticket, t_sample, t_prune = approximate_timed(net, args.eps, args.seed, args.construction, box)
    st = ticket.stats
    a = sltheory.certified_agreement(net, ticket, data.x_test, data.y_test)
    print(f"\n1. {args.construction} at eps = {args.eps:g} over the data's box ({data.x_test.shape[0]} test images)")
    _row("certified bound", f"{ticket.error_bound:.4g}")
    _row("test accuracy target / ticket", f"{a.target_accuracy:.4f} / {a.ticket_accuracy:.4f}")
    _row("certified agreement (margin > 2·bound)", f"{a.certified_2bound:.4f}")
    _row("certified agreement (margin > √2·bound)", f"{a.certified_sqrt2bound:.4f}")
    _row("measured agreement (argmax equal)", f"{a.agreement:.4f} (contradictions: {a.contradictions})")
    _row("kept / target weights", f"{st['kept_per_target']:.2f} ({st['kept_weights']:,} / {st['target_weights']:,})")
    _row("random / target weights", f"{st['random_per_target']:.1f} ({st['random_weights']:,})")
    _row("n per layer", f"{st['n']}")
    _row("seconds: sample / prune", f"{t_sample:.2f} / {t_prune:.2f}")

    if not args.no_signed:
        hi = np.maximum(np.abs(box.lo), np.abs(box.hi))
        signed = Box(-hi, hi)
        print(f"\n2. negative-half saving: the same target on the signed domain {signed!r}")
        plan_box, plan_signed = rand.plan, sltheory.random_network(
            net, eps=args.eps / sltheory.as_target(net, rescale=True).output_scale, seed=args.seed,
            construction=args.construction, domain=signed).plan
        _row("planned random weights: data box / signed", f"{plan_box.num_random_weights:,} / "
             f"{plan_signed.num_random_weights:,} (saving "
             f"{1 - plan_box.num_random_weights / plan_signed.num_random_weights:.1%})")
        _row("first random layer: data box / signed", f"{plan_box.layer_shapes[0]} / {plan_signed.layer_shapes[0]}")
        _, t_s, ts_sample, ts_prune = approximate_timed(net, args.eps, args.seed, args.construction, signed)
        _row("kept weights: data box / signed", f"{st['kept_weights']:,} / {t_s.stats['kept_weights']:,}")
        _row("certified bound: data box / signed", f"{ticket.error_bound:.4g} / {t_s.error_bound:.4g}")
        _row("seconds (sample + prune): data box / signed", f"{t_sample + t_prune:.2f} / {ts_sample + ts_prune:.2f}")

    print("\n3. compact network against the random network")
    if hasattr(ticket, "compact"):
        c = ticket.compact()
        widths = [m.out_features for m in c.network if isinstance(m, torch.nn.Linear)]
        _row("compact parameters / random weights", f"{c.parameters:,} / {st['random_weights']:,} "
             f"({c.parameters / st['random_weights']:.3f})")
        _row("compact widths", "-".join(map(str, [data.dim] + widths)))
        with torch.no_grad():
            same = torch.equal(c.network(data.x_test), ticket.network(data.x_test))
        _row("compact outputs equal the ticket's (float64)", same)
    else:
        _row("ticket.compact()", "not available in this version")


if __name__ == "__main__":
    main()
