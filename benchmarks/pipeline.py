"""Whole-pipeline time and size of a strong lottery ticket for a 784-300-100-10 target.

For each seed s: the target's matrices are Gaussian (``numpy.random.default_rng(s)``), each
divided by its spectral norm (‖W_i‖₂ = 1); then

* ``sltheory.random_network(Ws, eps, delta, seed=s)`` (sampling the random network), and
* ``sltheory.approximate(Ws, rand, eps)`` (subset-sum pruning and the certificate)

are timed separately and in total. The numba JIT is warmed once on a tiny 4-4-2 target first,
so compile time is not counted. Prints, per seed: samples per block n per layer, random and kept
weights, kept per target weight, the certified error bound, the times; then the median total
against the 10 s goal.

``--compare-negative-half`` also builds (and prunes) the random network with
``spare_negative_half=False`` to measure what skipping the negative half after ReLUs saves.
``--staged`` prunes with ``min_cardinality=False`` (the staged solver: faster, more kept weights).
``--adversarial`` runs ``sltheory.adversarial_error`` and prints certified bound / found error.

Prints measured figures only (no assertions). Run from the repository root::

    python benchmarks/pipeline.py
    python benchmarks/pipeline.py --seeds 0 1 2 --compare-negative-half --adversarial
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads of torch/BLAS must not spin

import numba  # noqa: E402
import torch  # noqa: E402

import sltheory  # noqa: E402

DIMS = (784, 300, 100, 10)
#: The goal for one whole pipeline run on this target (seconds).
GOAL_S = 10.0


def build(Ws, eps: float, delta: float, seed: int, min_cardinality: bool = True, **options):
    """(random network, ticket, seconds sampling, seconds pruning + certifying)."""
    start = time.perf_counter()
    rand = sltheory.random_network(Ws, eps=eps, delta=delta, seed=seed, **options)
    mid = time.perf_counter()
    ticket = sltheory.approximate(Ws, rand, eps=eps, min_cardinality=min_cardinality)
    return rand, ticket, mid - start, time.perf_counter() - mid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--compare-negative-half", action="store_true",
                        help="also build with spare_negative_half=False and compare")
    parser.add_argument("--staged", action="store_true",
                        help="prune with the staged solver (min_cardinality=False) instead of minimum-cardinality "
                             "subsets")
    parser.add_argument("--adversarial", action="store_true",
                        help="search for the worst input and print bound / found error")
    args = parser.parse_args(argv)
    from sltheory import cli
    cli.eps("--eps", args.eps)
    cli.delta("--delta", args.delta)
    for seed in args.seeds:
        cli.count("--seeds", seed, minimum=0)
    shapes = tuple((b, a) for a, b in zip(DIMS[:-1], DIMS[1:]))
    sltheory.construction("subset_sum").plan(shapes, eps=args.eps, delta=args.delta)   # n ≤ 64, fits: before any work

    dims = "-".join(map(str, DIMS))
    print(f"target {dims}, eps {args.eps}, delta {args.delta}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), numba {numba.get_num_threads()} threads")
    start = time.perf_counter()
    tiny = sltheory.gaussian_target((4, 4, 2), 0)
    sltheory.approximate(tiny, sltheory.random_network(tiny, eps=args.eps, delta=args.delta, seed=0),
                         eps=args.eps, min_cardinality=not args.staged)
    print(f"JIT warm-up on a 4-4-2 target: {time.perf_counter() - start:.2f} s (not counted below)")

    totals = []
    for seed in args.seeds:
        Ws = sltheory.gaussian_target(DIMS, seed)
        rand, ticket, t_rand, t_approx = build(Ws, args.eps, args.delta, seed, not args.staged)
        s = ticket.stats
        total = t_rand + t_approx
        totals.append(total)
        print(f"\nseed {seed}: n per layer {s['n']}")
        print(f"  weights: random {s['random_weights']:,}, kept {s['kept_weights']:,} "
              f"({s['kept_per_target']:.2f} per target weight, {s['target_weights']:,} target weights)")
        print(f"  certified error bound {ticket.error_bound:.6f} (eps {args.eps})")
        print(f"  time: random_network {t_rand:.2f} s, approximate {t_approx:.2f} s, total {total:.2f} s")
        if args.compare_negative_half:
            del rand  # free the first network's memory before building the second
            _, full, t_rand_f, t_approx_f = build(Ws, args.eps, args.delta, seed, not args.staged,
                                                  spare_negative_half=False)
            f = full.stats
            saved = f["random_weights"] - s["random_weights"]
            print(f"  negative half: spared  -> random {s['random_weights']:,}, "
                  f"bound {ticket.error_bound:.6f}")
            print(f"                 built   -> random {f['random_weights']:,}, "
                  f"bound {full.error_bound:.6f}, kept {f['kept_weights']:,} "
                  f"(time {t_rand_f:.2f} + {t_approx_f:.2f} s)")
            print(f"                 saving {saved:,} random weights "
                  f"({saved / f['random_weights']:.1%} of the full network)")
            del full
        if args.adversarial:
            start = time.perf_counter()
            found, _ = sltheory.adversarial_error(sltheory.as_target(Ws), ticket.network, DIMS[0])
            print(f"  adversarial error {found:.6f} ({time.perf_counter() - start:.1f} s): "
                  f"bound / adversarial = {ticket.error_bound / found:.2f}")

    median = statistics.median(totals)
    print(f"\nmedian total {median:.2f} s over seeds {args.seeds}: {median / GOAL_S:.2f} × the "
          f"{GOAL_S:g} s goal ({'within' if median <= GOAL_S else 'over'} it)")


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
