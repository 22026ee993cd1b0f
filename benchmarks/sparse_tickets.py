"""Sparse tickets: kept random weights per target weight, per-weight mode on a trained network.

Pensia et al. (NeurIPS 2020) pruned a raw trained 784-500-10 MNIST MLP weight by weight, each
weight to within ε = 0.01 and counted 9.39 *coefficients* per target weight. What their official
code (acnagle/optimal-lottery-tickets, subset-sum/) did: n = 3·round(log₂(1/ε)) = 21 coefficients
~ U[min(0, min w), max(0, max w)] over all target weights, drawn once per ROW and reused by every
weight of that row (its comment says per weight), one Gurobi MIP per weight minimising |w − Σ|
within ε (MIPGap 0.01); no random network, no products; 9.39 = coefficients used (3.73M) / target
weights (397k). Its published accuracy predates a 2022 fix (commit aa40dbd) and is the target's.
Here, on the same shape for scikit-learn's digits (64-500-10, ``sltheory.datasets``, nothing
downloaded):

* **Their experiment, faithfully** (``sltheory.subset_sum.coefficients.pensia_coefficient_mode``,
  solved by our solver): coefficients per row and per weight, each with the closest subset (their
  MIP's objective) and the sparsest one within ε (ours): coefficients used / target weights (their
  9.39's unit), weights beyond ε (where their code exits), and the test accuracy of the target
  with every weight replaced by its subset sum (what their code evaluates since the fix);
* **ours in the same unit, at their n = 21**: the per-weight mode on a real random network whose
  law is U[−s, s) (``random_network(net, n=21, weight_scale=s)``; s = 1 the theorem's law, s² =
  max |w| "range-matched", and larger), in network weights (kept / target: both random layers)
  *and* in subset terms (products |a_k|·B[o, k] summed per target weight: one of their
  coefficients is one product here; the signed first layer meets each weight twice, σ(x_j) and
  σ(−x_j), so per subset-sum problem too); then, per s, the weights beyond τ on a grid of n:
  the n our mode needs with and without the weight scale;
* the library's per-weight table (``approximate(net, rand, weight_tol=τ)``: every target weight's
  error ≤ τ in the ticket's effective maps, no norm assumption, certified network bound from the
  actual norms) and minimum-cardinality subsets, for each τ and samples per slot n: kept / target
  weights, the largest weight error, the certified bound sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂, test
  accuracy of target and ticket, the fraction of test predictions unchanged, seconds; the
  per-weight width rule's n (``random_network(net, weight_tol=τ, weight_bound=B)``) for B = 1
  and for B = max |w|: the rule covers every weight being ±B.

Then, at τ = 0.01 and one n, the same ticket without minimum cardinality (the staged solver);
and the network-level ε mode on a Gaussian target (‖W_i‖₂ = 1) at the theorem's width, with and
without minimum cardinality. Prints measured figures only (no assertions). Run from the
repository root::

    python benchmarks/sparse_tickets.py                 # ~8 min on 2 cores
    python benchmarks/sparse_tickets.py --part pensia   # only the comparison with their experiment
    python benchmarks/sparse_tickets.py --part pensia --their-weights fc2.pt
        # also on their own 784-500-10 target: a local copy of subset-sum/weights/fc2.pt of
        # acnagle/optimal-lottery-tickets (nothing is downloaded; no MNIST here, so no accuracy)
    python benchmarks/sparse_tickets.py --quick         # 64-100-10, fewer points, ~1 min
"""

from __future__ import annotations

import argparse
import copy
import itertools
import math
import os
import pickle
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads of torch/BLAS must not spin

import numpy as np  # noqa: E402
import torch  # noqa: E402

import sltheory  # noqa: E402
from sltheory import datasets  # noqa: E402
from sltheory.constructions.subset_sum import (  # noqa: E402
    MAX_N,
    MAX_WEIGHT_SCALE,
    MIN_WEIGHT_SCALE,
    num_problems,
    per_weight_samples,
)
from sltheory.subset_sum import MAX_SAMPLES  # noqa: E402
from sltheory.subset_sum.coefficients import pensia_coefficient_mode, pensia_n  # noqa: E402

#: Their published figures (784-500-10 MNIST, Gurobi; the accuracy is the target's, see above).
PENSIA_COEFFICIENTS_PER_WEIGHT = 9.39


def accuracy(net, data, target_pred):
    """(test accuracy, fraction of test predictions equal to the target's); NaN without data."""
    if data is None:
        return float("nan"), float("nan")
    pred = datasets.predictions(net, data.x_test)
    return float((pred == data.y_test).double().mean()), float((pred == target_pred).double().mean())


def their_target(path):
    """Their 784-500-10 target (``subset-sum/weights/fc2.pt`` of acnagle/optimal-lottery-tickets, a
    state_dict; not downloaded here) as a float64 nn.Sequential, loaded with weights_only=True."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        mats = [sd[k].double() for k in ("fc1.weight", "fc2.weight")]
    except (OSError, RuntimeError, KeyError, AttributeError, pickle.UnpicklingError) as exc:
        raise sltheory.InvalidArgumentError(f"--their-weights {path}: not their fc2 state_dict ({exc})") from None
    net = torch.nn.Sequential(torch.nn.Linear(784, 500, bias=False), torch.nn.ReLU(),
                              torch.nn.Linear(500, 10, bias=False)).double()
    if tuple(mats[0].shape) != (500, 784) or tuple(mats[1].shape) != (10, 500):
        raise sltheory.InvalidArgumentError(f"--their-weights {path}: shapes {[tuple(m.shape) for m in mats]}, "
                                            "expected (500, 784), (10, 500)")
    with torch.no_grad():
        net[0].weight.copy_(mats[0])
        net[2].weight.copy_(mats[1])
    return net


def run_point(net, data, rand, tol, target_pred, **options):
    """One per-weight ticket: a dict of measured figures (or the failure)."""
    start = time.perf_counter()
    try:
        ticket = sltheory.approximate(net, rand, weight_tol=tol, **options)
    except sltheory.ApproximationFailedError as exc:
        return {"failed": exc.missed, "t_approx": time.perf_counter() - start}
    t_approx = time.perf_counter() - start
    acc, unchanged = accuracy(ticket.network, data, target_pred)
    s = ticket.stats
    return {
        "failed": 0, "t_approx": t_approx,
        "kept_per_target": s["kept_per_target"], "random_per_target": s["random_per_target"],
        "max_err": s["max_weight_error"], "bound": ticket.error_bound,
        "acc": acc, "unchanged": unchanged,
        "subset": tuple(layer["mean_subset_size"] for layer in s["layers"]),
        "terms": subset_terms(ticket, [m.weight.detach().numpy() for m in net if isinstance(m, torch.nn.Linear)]),
    }


def per_weight_table(net, data, taus, ns, seed):
    target_pred = datasets.predictions(net, data.x_test)
    acc_target = float((target_pred == data.y_test).double().mean())
    weights = [m.weight.detach().numpy() for m in net if isinstance(m, torch.nn.Linear)]
    big = max(float(np.abs(w).max()) for w in weights)
    shapes = tuple(w.shape for w in weights)
    N = num_problems(shapes)
    print(f"\ntarget {'-'.join(str(d) for d in [shapes[0][1]] + [s[0] for s in shapes])}: "
          f"{sum(w.size for w in weights):,} weights, test accuracy {acc_target:.4f}, "
          f"‖W_i‖₂ = {', '.join(f'{np.linalg.norm(w, 2):.2f}' for w in weights)}, max |w| = {big:.3f}, "
          f"median |w| = {np.median(np.abs(np.concatenate([w.ravel() for w in weights]))):.3f}")
    print(f"per-weight rule (δ = 0.05, N = {N:,} subset-sum problems), n for B = 1 / B = max|w| = {big:.2f}:")
    for tol in taus:
        n1 = per_weight_samples(N, tol, 0.05, 1.0)
        nb = per_weight_samples(N, tol, 0.05, big)
        print(f"  τ = {tol:<6g}: n = {n1} / {nb}{' (beyond the supported ' + str(MAX_N) + ')' if nb > MAX_N else ''}")

    print(f"\n{'τ':>6} {'n':>3} {'random/tgt':>10} {'kept/tgt':>8} {'subset sizes':>12} {'max err':>9} "
          f"{'bound':>8} {'acc':>6} {'unchanged':>9} {'t_rand':>6} {'t_prune':>7}")
    rows = []
    for n in ns:
        start = time.perf_counter()
        rand = sltheory.random_network(net, n=n, seed=seed)
        t_rand = time.perf_counter() - start
        for tol in taus:
            r = run_point(net, data, rand, tol, target_pred)
            r.update(tol=tol, n=n, t_rand=t_rand)
            rows.append(r)
            if r["failed"]:
                print(f"{tol:>6g} {n:>3} {'':>10} failed: {r['failed']} weights beyond τ "
                      f"{'':>30} {t_rand:>6.1f} {r['t_approx']:>7.1f}", flush=True)
                continue
            print(f"{tol:>6g} {n:>3} {r['random_per_target']:>10.1f} {r['kept_per_target']:>8.3f} "
                  f"{'/'.join(f'{v:.2f}' for v in r['subset']):>12} {r['max_err']:>9.2e} {r['bound']:>8.3g} "
                  f"{r['acc']:>6.4f} {r['unchanged']:>9.4f} {t_rand:>6.1f} {r['t_approx']:>7.1f}", flush=True)
        del rand
    return rows, target_pred


def replaced(net, mats):
    """A copy of ``net`` with its Linear weights replaced by ``mats`` (their "approximated" model)."""
    out = copy.deepcopy(net)
    for m, w in zip([m for m in out if isinstance(m, torch.nn.Linear)], mats):
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(w))
    return out


def subset_terms(ticket, weights):
    """Products |a_k|·B[o, k] in the subsets, summed over all problems: (per target weight, per problem)."""
    layers = ticket.stats["layers"]
    problems = [w.shape[0] * L["slots"] for L, w in zip(layers, weights)]
    terms = sum(L["mean_subset_size"] * p for L, p in zip(layers, problems))
    return terms / sum(w.size for w in weights), terms / sum(problems)


def pensia_comparison(net, data, n, tol, seeds, scales, target_pred):
    """Their experiment faithfully (coefficients), and our per-weight mode at their n, same units."""
    weights = [m.weight.detach().numpy().copy() for m in net if isinstance(m, torch.nn.Linear)]
    acc_target = accuracy(net, data, target_pred)[0]
    dims = "-".join(str(d) for d in [weights[0].shape[1]] + [w.shape[0] for w in weights])
    print(f"\nPensia et al.'s experiment, faithfully, on the {dims} target ({sum(w.size for w in weights):,} "
          f"weights, range [{min(float(w.min()) for w in weights):.3f}, {max(float(w.max()) for w in weights):.3f}]) "
          f"at n = {n} (their rule at ε = {tol}: {pensia_n(tol)}), τ = {tol}; their 784-500-10 MNIST run: "
          f"{PENSIA_COEFFICIENTS_PER_WEIGHT} coefficients per weight (Gurobi, closest within ε, per row). "
          + ("No test data (accuracy nan)." if data is None else f"Target test accuracy {acc_target:.4f}."))
    print(f"{'seed':>4} {'coefficients':>12} {'subset':>8} {'coef/weight':>11} {'beyond τ':>8} {'max err':>9} "
          f"{'acc':>6} {'unchanged':>9} {'s':>5}")
    for seed, per, select in itertools.product(seeds, ("row", "weight"), ("closest", "sparsest")):
        start = time.perf_counter()
        r = pensia_coefficient_mode(weights, n=n, tol=tol, seed=seed, per=per, select=select)
        acc, unchanged = accuracy(replaced(net, r.approximations), data, target_pred)
        print(f"{seed:>4} {'per ' + per:>12} {select:>8} {r.coefficients_per_weight:>11.3f} {r.failures:>8} "
              f"{r.max_error:>9.2e} {acc:>6.4f} {unchanged:>9.4f} {time.perf_counter() - start:>5.1f}", flush=True)
    big = max(float(np.abs(w).max()) for w in weights)
    print(f"\nours at n = {n}: per-weight mode, random weights U[−s, s) (weight_scale; s² = max |w| = {big:.3f} "
          "is range-matched), minimum-cardinality subsets;\nkept/tgt = random network weights kept per target "
          "weight, terms/tgt = products in the subsets per target weight (one of their coefficients = one "
          "product), terms/problem = per subset-sum problem")
    print(f"{'seed':>4} {'s':>6} {'random/tgt':>10} {'kept/tgt':>8} {'terms/tgt':>9} {'terms/problem':>13} "
          f"{'max err':>9} {'bound':>8} {'acc':>6} {'unchanged':>9} {'s':>5}")
    for seed, scale in itertools.product(seeds, scales):
        rand = sltheory.random_network(net, n=n, seed=seed, weight_scale=scale)
        r = run_point(net, data, rand, tol, target_pred)
        if r["failed"]:
            print(f"{seed:>4} {scale:>6.3f} {'':>10} failed: {r['failed']} weights beyond τ {'':>52} "
                  f"{r['t_approx']:>5.1f}", flush=True)
            continue
        per_tgt, per_prob = r["terms"]
        print(f"{seed:>4} {scale:>6.3f} {r['random_per_target']:>10.1f} {r['kept_per_target']:>8.3f} {per_tgt:>9.3f} "
              f"{per_prob:>13.3f} {r['max_err']:>9.2e} {r['bound']:>8.3g} {r['acc']:>6.4f} {r['unchanged']:>9.4f} "
              f"{r['t_approx']:>5.1f}", flush=True)


def n_needed(net, tol, seeds, scales, ns):
    """Weights beyond τ of our per-weight mode for each weight scale s, seed and n of a grid."""
    print(f"\nweights beyond τ = {tol} of our per-weight mode (0 = the ticket exists), by weight_scale s and n; "
          "'n needed' = smallest n of the grid from which every larger one succeeds")
    print(f"{'s':>6} {'seed':>4} " + " ".join(f"{'n=' + str(n):>6}" for n in ns) + f" {'n needed':>8}")
    for scale in scales:
        for seed in seeds:
            missed = []
            for n in ns:
                rand = sltheory.random_network(net, n=n, seed=seed, weight_scale=scale)
                try:
                    sltheory.approximate(net, rand, weight_tol=tol)
                    missed.append(0)
                except sltheory.ApproximationFailedError as exc:
                    missed.append(exc.missed)
                del rand
            ok = [n for i, n in enumerate(ns) if not any(missed[i:])]
            print(f"{scale:>6.3f} {seed:>4} " + " ".join(f"{m:>6}" for m in missed)
                  + f" {(str(ok[0]) if ok else '> ' + str(ns[-1])):>8}", flush=True)


def staged_comparison(net, data, n, tol, seed, target_pred):
    rand = sltheory.random_network(net, n=n, seed=seed)
    print(f"\nminimum cardinality vs the staged solver, τ = {tol}, n = {n}:")
    for flag in (True, False):
        r = run_point(net, data, rand, tol, target_pred, min_cardinality=flag)
        name = "min-cardinality" if flag else "staged"
        if r["failed"]:
            print(f"  {name:>15}: failed ({r['failed']} weights beyond τ)")
            continue
        print(f"  {name:>15}: kept/target {r['kept_per_target']:.3f}, subset sizes "
              f"{'/'.join(f'{v:.2f}' for v in r['subset'])}, max err {r['max_err']:.2e}, "
              f"unchanged {r['unchanged']:.4f}, {r['t_approx']:.1f} s")


def network_mode(dims, epss, seed):
    Ws = sltheory.gaussian_target(dims, seed)
    print(f"\nnetwork-level ε mode, Gaussian target {'-'.join(map(str, dims))} (‖W_i‖₂ = 1), theorem's width:")
    print(f"{'ε':>6} {'n':>12} {'min-card kept/tgt':>17} {'bound':>8} {'s':>6} {'staged kept/tgt':>15} "
          f"{'bound':>8} {'s':>6}")
    for eps in epss:
        rand = sltheory.random_network(Ws, eps=eps, seed=seed)
        out = []
        for flag in (True, False):
            start = time.perf_counter()
            try:
                t = sltheory.approximate(Ws, rand, eps=eps, min_cardinality=flag)
                out.append((t.stats["kept_per_target"], t.error_bound, time.perf_counter() - start))
            except sltheory.ApproximationFailedError:
                out.append((float("nan"), float("nan"), time.perf_counter() - start))
        (k1, b1, s1), (k2, b2, s2) = out
        print(f"{eps:>6g} {str(rand.n):>12} {k1:>17.3f} {b1:>8.4f} {s1:>6.1f} {k2:>15.3f} {b2:>8.4f} {s2:>6.1f}",
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64-100-10, fewer points (~1 min)")
    parser.add_argument("--hidden", type=int, default=None, help="hidden width (default 500; 100 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="data split, training and random network seed")
    parser.add_argument("--taus", type=float, nargs="+", default=None, help="weight tolerances")
    parser.add_argument("--ns", type=int, nargs="+", default=None, help="samples per slot")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 40; 15 with --quick)")
    parser.add_argument("--their-weights", default=None, metavar="FC2_PT",
                        help="also run the comparison on their own 784-500-10 target: a copy of subset-sum/weights/"
                             "fc2.pt from acnagle/optimal-lottery-tickets (not downloaded here; no accuracy: no MNIST)")
    parser.add_argument("--part", choices=("all", "pensia"), default="all",
                        help="everything, or only the comparison with Pensia et al.'s experiment")
    parser.add_argument("--pensia-n", type=int, default=21, help="their n (default 21 = 3·round(log₂ 100))")
    parser.add_argument("--scales", type=float, nargs="+", default=None,
                        help="weight scales s (default 1, √max|w| (range-matched), 1.5, 2, 2.5)")
    parser.add_argument("--need-ns", type=int, nargs="+", default=None,
                        help="grid of n for the n our mode needs (default 21 24 28 32 36 40; 21 32 with --quick)")
    parser.add_argument("--comparison-seeds", type=int, default=1,
                        help="seeds (from --seed on) of their coefficients and of our random networks in the "
                             "comparison (default 1)")
    args = parser.parse_args(argv)
    hidden = args.hidden if args.hidden is not None else (100 if args.quick else 500)
    taus = args.taus or ([0.1, 0.01] if args.quick else [0.1, 0.03, 0.01, 0.003])
    ns = args.ns or ([16, 32] if args.quick else [16, 24, 32, 40, 48, 64])
    epochs = args.epochs if args.epochs is not None else (15 if args.quick else 40)
    need_ns = sorted(args.need_ns or ([21, 32] if args.quick else [21, 24, 28, 32, 36, 40]))
    if (hidden < 1 or epochs < 1 or args.seed < 0 or not all(t > 0 for t in taus)
            or not all(1 <= n <= MAX_N for n in ns + need_ns) or not 1 <= args.pensia_n <= MAX_SAMPLES
            or args.comparison_seeds < 1
            or not all(MIN_WEIGHT_SCALE <= s < MAX_WEIGHT_SCALE for s in args.scales or [])):
        parser.error(f"--hidden, --epochs and --comparison-seeds must be ≥ 1, --seed ≥ 0, every --taus > 0, every --ns "
                     f"and --need-ns in 1..{MAX_N}, --pensia-n in 1..{MAX_SAMPLES}, every --scales in "
                     f"[{MIN_WEIGHT_SCALE:g}, {MAX_WEIGHT_SCALE:g})")
    from sltheory import cli
    for tau in taus:
        cli.eps("--taus", tau)
    cli.dims("--hidden", (64, hidden, 10), max_weights=datasets.MAX_MLP_WEIGHTS)   # before the JIT warm-up
    theirs = None if args.their_weights is None else their_target(args.their_weights)

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    start = time.perf_counter()
    tiny = sltheory.gaussian_target((4, 4, 2), 0)
    sltheory.approximate(tiny, sltheory.random_network(tiny, n=20, seed=0), weight_tol=0.05)
    sltheory.approximate(tiny, sltheory.random_network(tiny, n=48, seed=0), weight_tol=0.05)
    print(f"JIT warm-up: {time.perf_counter() - start:.1f} s (not counted)")

    data = datasets.load_digits(seed=args.seed)
    start = time.perf_counter()
    net = datasets.train_mlp([data.dim, hidden, data.num_classes], data, seed=args.seed, epochs=epochs)
    print(f"trained {data.dim}-{hidden}-{data.num_classes} on digits ({epochs} epochs): "
          f"{time.perf_counter() - start:.1f} s")

    target_pred = datasets.predictions(net, data.x_test)
    big = max(float(m.weight.detach().abs().max()) for m in net if isinstance(m, torch.nn.Linear))
    scales = args.scales or [1.0, math.sqrt(big), 1.5, 2.0, 2.5]
    seeds = range(args.seed, args.seed + args.comparison_seeds)
    pensia_comparison(net, data, args.pensia_n, 0.01, seeds, scales, target_pred)
    n_needed(net, 0.01, seeds, scales, need_ns)
    if theirs is not None:
        their_big = max(float(m.weight.detach().abs().max()) for m in theirs if isinstance(m, torch.nn.Linear))
        their_scales = args.scales or [1.0, math.sqrt(their_big), 2.0]
        pensia_comparison(theirs, None, args.pensia_n, 0.01, seeds, their_scales, None)
        n_needed(theirs, 0.01, seeds, their_scales, sorted(args.need_ns or [21, 22, 23, 24, 26, 28]))
    if args.part == "pensia":
        return
    per_weight_table(net, data, taus, ns, args.seed)
    staged_comparison(net, data, ns[-1] if args.quick else 40, 0.01, args.seed, target_pred)
    network_mode((64, 32, 10) if args.quick else (64, 128, 10), [0.1] if args.quick else [0.1, 0.01], args.seed)


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
