"""Sampled neurons per target weight against log(1/ε): ``orseau`` (the paper's base-3/2 construction,
one sampling pass per layer) beside ``orseau_halving`` (ours: base-2 halving, disjoint batches).

Orseau et al.'s Figure 1 caption claims O(log 1/ε) sampled neurons and 2·log(1/ε) intermediate
neurons per target weight. For each construction and ε this prints, on a small target (Gaussian,
‖W_i‖₂ = 1, target seed 1000 + s, network seed s):

* ``rule``: the theorem's width (C = 1, δ): samples per slot n_i, hidden units sampled per target
  weight (Σ_i H_i / Σ_i d_in d_out), the share of ``--seeds`` seeds where ``approximate(eps=ε)``
  succeeds, and the mean wall time of one network (sample + prune + certify);
* ``min``: the smallest width factor of ``--factors`` (tried in increasing order) at which ≥ 90% of
  the seeds succeed, and the hidden units per target weight there;
* ``kept``: intermediate neurons kept per target weight at that factor (kept second-layer weights
  / target weights: one path per kept (output, unit) pair, both signs on the first layer) beside
  2·log_{3/2}(1/ε);
* then, per construction, least-squares slopes of hidden units per weight against ln(1/ε), and the
  exponent a of units ∝ ln(1/ε)^a (log–log fit): a ≈ 1 is the paper's order, 3 that of the halving.

Prints measured figures only (no assertions)::

    python benchmarks/orseau_order.py                  # 4-4-2, ε = 1e-1 … 1e-4, 10 seeds
    python benchmarks/orseau_order.py --dims 4,4 --seeds 5
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import sltheory
from sltheory.errors import ApproximationFailedError

FACTORS = (0.002, 0.003, 0.005, 0.007, 0.01, 0.015, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0)


def trial(name, dims, eps, delta, seed, factor):
    """(success, hidden units, kept second-layer weights, kept hidden units, seconds)."""
    W = sltheory.gaussian_target(dims, 1000 + seed)
    t0 = time.perf_counter()
    rand = sltheory.random_network(W, eps=eps, delta=delta, seed=seed, construction=name,
                                   width_factor=None if factor == 1.0 else factor, max_weights=10 ** 9)
    hidden = sum(s[0] for s in rand.plan.layer_shapes[::2])
    try:
        ticket = sltheory.approximate(W, rand, eps=eps)
    except ApproximationFailedError:
        return False, hidden, None, None, time.perf_counter() - t0
    masks = ticket.masks
    kept_paths = sum(int(masks[2 * i + 1].sum()) for i in range(len(dims) - 1))
    kept_units = sum(int(masks[2 * i].any(dim=1).sum()) for i in range(len(dims) - 1))
    return True, hidden, kept_paths, kept_units, time.perf_counter() - t0


def rate(name, dims, eps, delta, seeds, factor, need=None):
    """Successes over the seeds (stops once ``need`` cannot be reached), and the trials' records."""
    out = []
    fails = 0
    for s in range(seeds):
        rec = trial(name, dims, eps, delta, s, factor)
        out.append(rec)
        fails += not rec[0]
        if need is not None and seeds - fails < need:
            break
    return sum(r[0] for r in out), out


def fit(xs, ys):
    """(slope of y on x, exponent a of y ∝ x^a) by least squares."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    slope = float(np.polyfit(x, y, 1)[0])
    expo = float(np.polyfit(np.log(x), np.log(y), 1)[0])
    return slope, expo


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", default="4,4,2")
    ap.add_argument("--eps", default="1e-1,1e-2,1e-3,1e-4")
    ap.add_argument("--delta", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--rule-seeds", type=int, default=3, help="seeds at the rule's width")
    ap.add_argument("--constructions", default="orseau,orseau_halving")
    args = ap.parse_args(argv)
    dims = tuple(int(v) for v in args.dims.split(","))
    eps_list = [float(v) for v in args.eps.split(",")]
    weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    need = math.ceil(0.9 * args.seeds)
    print(f"target {'-'.join(map(str, dims))} ({weights} weights), delta = {args.delta:g}, "
          f"≥ {need}/{args.seeds} seeds for 'min', {args.rule_seeds} seeds at the rule")
    head = (f"{'construction':<15} {'eps':>7} {'ln1/e':>6} {'n rule/slot':>14} {'units/w rule':>12} "
            f"{'ok rule':>7} {'s/net':>6} {'f min':>6} {'n min/slot':>12} {'units/w min':>11} "
            f"{'kept/w':>7} {'2log1.5':>7}")
    print(head)
    print("-" * len(head))
    for name in args.constructions.split(","):
        xs, y_rule, y_min = [], [], []
        for eps in eps_list:
            ok, recs = rate(name, dims, eps, args.delta, args.rule_seeds, 1.0)
            plan = recs[0]
            n_rule = sltheory.random_network(sltheory.gaussian_target(dims, 1000), eps=eps, delta=args.delta,
                                             seed=0, construction=name, max_weights=10 ** 9).plan.n
            secs = sum(r[4] for r in recs) / len(recs)
            found = None
            for f in FACTORS:
                k, rs = rate(name, dims, eps, args.delta, args.seeds, f, need)
                if k >= need:
                    found = (f, rs)
                    break
            x = math.log(1 / eps)
            if found is None:
                print(f"{name:<15} {eps:>7.0e} {x:>6.2f} {str(n_rule):>14} {plan[1] / weights:>12.0f} "
                      f"{ok}/{len(recs):<5} {secs:>6.2f}  no factor ≤ 1 reached {need}/{args.seeds}")
                continue
            f, rs = found
            good = [r for r in rs if r[0]]
            n_min = sltheory.random_network(sltheory.gaussian_target(dims, 1000), eps=eps, delta=args.delta, seed=0,
                                            construction=name, width_factor=None if f == 1.0 else f,
                                            max_weights=10 ** 9).plan.n
            units_min = rs[0][1] / weights
            kept = sum(r[2] for r in good) / len(good) / weights
            xs.append(x)
            y_rule.append(plan[1] / weights)
            y_min.append(units_min)
            print(f"{name:<15} {eps:>7.0e} {x:>6.2f} {str(n_rule):>14} {plan[1] / weights:>12.0f} "
                  f"{ok:>3}/{len(recs):<3} {secs:>6.2f} {f:>6g} {str(n_min):>12} {units_min:>11.1f} "
                  f"{kept:>7.1f} {2 * math.log(1 / eps, 1.5):>7.1f}", flush=True)
        if len(xs) >= 2:
            s_r, a_r = fit(xs, y_rule)
            s_m, a_m = fit(xs, y_min)
            print(f"{name}: units/weight vs ln(1/ε): rule slope {s_r:.1f} (exponent {a_r:.2f}), "
                  f"measured-min slope {s_m:.1f} (exponent {a_m:.2f})")
        print()


if __name__ == "__main__":
    main()
