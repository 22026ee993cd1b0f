"""Certificate tightness: certified bound / adversarial error, before and after the S-procedure bound.

For depth 1, 2 and 3 Gaussian targets (``sltheory.gaussian_target(dims, 0)``, ‖W_i‖₂ = 1) and
subset-sum tickets at a few widths n and seeds (``sltheory.approximate(target, rand)``, every
weight at its optimal subset), prints per ticket:

* ``before``: the layer-wise certificate (``certify(..., method="layerwise")``: the recursion,
  the bound this library gave before, up to its float slack; recorded as
  ``ticket.certificate.layerwise_bound``) over the adversarial error found by the search as it
  was (``adversarial_error(..., hops=0)``, ``--starts`` starts);
* ``after``: the certificate ``approximate`` now returns (``method="auto"``: the S-procedure bound
  on these sizes) over the larger of the two searches' errors (both are lower bounds of the
  same supremum; the current search: ``hops=2``, 4× the starts);

and a summary per depth (median and worst ratio). Both searches run on the pruned random network
itself (``ticket.network``), never on a model of it, and every ratio must be ≥ 1 (a ratio below 1
would mean an unsound bound: the script says so and exits non-zero).

Run from the repository root (about 3 minutes on 2 cores; ``--quick``: about 20 s)::

    python benchmarks/certificate_tightness.py
    python benchmarks/certificate_tightness.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads of torch/BLAS must not spin

import torch  # noqa: E402

import sltheory  # noqa: E402

FULL = dict(dims=[(16, 8), (16, 32, 8), (16, 32, 32, 8)], ns=(8, 12, 16, 20), seeds=(0, 1, 2))
QUICK = dict(dims=[(8, 4), (8, 16, 4), (8, 16, 16, 4)], ns=(12,), seeds=(0,))


def measure(dims, n: int, seed: int, starts: int) -> dict:
    Ws = sltheory.gaussian_target(dims, 0)
    target = sltheory.as_target(Ws)
    rand = sltheory.random_network(Ws, n=n, seed=seed)
    start = time.perf_counter()
    ticket = sltheory.approximate(Ws, rand)
    t_ticket = time.perf_counter() - start
    cert = ticket.certificate
    start = time.perf_counter()
    adv_old, _ = sltheory.adversarial_error(target, ticket.network, dims[0], seed=seed, hops=0,
                                            starts=starts)
    adv_new, _ = sltheory.adversarial_error(target, ticket.network, dims[0], seed=seed, hops=2,
                                            starts=4 * starts)
    t_adv = time.perf_counter() - start
    adv_new = max(adv_new, adv_old)  # both are lower bounds of the same supremum
    return dict(depth=len(dims) - 1, dims="-".join(map(str, dims)), n=n, seed=seed,
                before=cert.layerwise_bound, after=ticket.error_bound, method=cert.method,
                adv_old=adv_old, adv_new=adv_new, ratio_before=cert.layerwise_bound / adv_old,
                ratio_after=ticket.error_bound / adv_new, t_ticket=t_ticket, t_adv=t_adv)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small targets, one width and seed")
    parser.add_argument("--ns", type=int, nargs="+", help="samples per block (overrides the default)")
    parser.add_argument("--seeds", type=int, nargs="+", help="random network seeds")
    parser.add_argument("--starts", type=int, default=2048,
                        help="random starts of the old search (the current one gets 4×)")
    args = parser.parse_args(argv)
    if args.starts < 1 or any(n < 1 for n in args.ns or ()) or any(s < 0 for s in args.seeds or ()):
        parser.error("--starts and every --ns must be ≥ 1, every --seeds ≥ 0")
    cfg = dict(QUICK if args.quick else FULL)
    if args.ns:
        cfg["ns"] = tuple(args.ns)
    if args.seeds:
        cfg["seeds"] = tuple(args.seeds)
    from sltheory import cli
    from sltheory.certificate import MAX_SEARCH_ENTRIES
    for n in cfg["ns"]:
        cli.count("--ns", n, maximum=64)
    # the current search holds 4 × starts points of the widest input at once
    cli.count("--starts", args.starts, maximum=MAX_SEARCH_ENTRIES // (4 * max(d[0] for d in cfg["dims"])))
    torch.set_num_threads(1)  # tiny batches: threads only add overhead (and fight on shared cores)

    print(f"{'target':>12} {'n':>3} {'seed':>4} | {'bound before':>12} {'adv before':>11} {'ratio':>6} | "
          f"{'bound after':>11} {'adv after':>11} {'ratio':>6} {'method':>9} | {'ticket s':>8} {'adv s':>6}")
    rows = []
    for dims in cfg["dims"]:
        for n in cfg["ns"]:
            for seed in cfg["seeds"]:
                r = measure(dims, n, seed, args.starts)
                rows.append(r)
                print(f"{r['dims']:>12} {n:>3} {seed:>4} | {r['before']:12.4e} {r['adv_old']:11.4e} "
                      f"{r['ratio_before']:6.2f} | {r['after']:11.4e} {r['adv_new']:11.4e} "
                      f"{r['ratio_after']:6.2f} {r['method']:>9} | {r['t_ticket']:8.2f} {r['t_adv']:6.1f}",
                      flush=True)
    print("\nbound / adversarial error per depth (median, worst):")
    for depth in sorted({r["depth"] for r in rows}):
        sel = [r for r in rows if r["depth"] == depth]
        b = [r["ratio_before"] for r in sel]
        a = [r["ratio_after"] for r in sel]
        print(f"  depth {depth} ({sel[0]['dims']}, {len(sel)} tickets): before median {statistics.median(b):.2f} "
              f"worst {max(b):.2f}  ->  after median {statistics.median(a):.2f} worst {max(a):.2f}")
    unsound = [r for r in rows if r["ratio_after"] < 1 or r["ratio_before"] < 1]
    if unsound:
        print(f"UNSOUND: {len(unsound)} tickets with adversarial error above the bound", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from sltheory import cli
    sys.exit(cli.run(main))
