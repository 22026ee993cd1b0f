"""Evaluating a theorem-width ticket costs what its kept structure needs (issue 14, point 3).

A Malach ticket (``construction="malach"``) of a 5-7-3 target at ε = 0.1 (δ = 0.05) has a random
network of hidden widths 18.7M and 3.4M (257M random weights, 2 GiB in float64) and keeps a few
hundred weights. Its full-width masked network, evaluated on 512 inputs, would allocate
512 × 18.7M float64 activations in its first layer alone (76 GB). ``ticket.network`` holds the
live units only (:mod:`sltheory.ticket.compact`); this script builds the ticket, then evaluates
``ticket.network`` on 512 inputs (float64, and float32 as data usually is) and prints:

* the peak memory of the evaluation: the resident set (``/proc/self/statm``, polled every 0.2 ms
  by a thread during the forward) above its value just before, and ``tracemalloc``'s peak of
  Python allocations during it — it must be within 1 GiB (asserted);
* the compact network's parameters and live widths against the random network's weights and
  widths, and what the full-width masked forward would allocate;
* the times of sampling, pruning, the forward, and ``ticket.save`` / ``load_ticket``.

The random network needs ~2 GiB and ``approximate`` a few more (the masks, the certificate's
sparse matrices): run it on a machine with ≥ 8 GiB free. ``--quick`` uses ε = 0.3 (a far smaller
random network) for a check in seconds. Run from the repository root::

    python benchmarks/ticket_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import sltheory  # noqa: E402

GiB = 1 << 30
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def peak_during(fn):
    """(result, peak RSS above the RSS before, tracemalloc peak) of ``fn()``."""
    gc.collect()
    base = rss()
    peak = [base]
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.0002)
    th = threading.Thread(target=poll, daemon=True)
    tracemalloc.start()
    th.start()
    try:
        out = fn()
        peak[0] = max(peak[0], rss())
    finally:
        stop.set()
        th.join()
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return out, peak[0] - base, traced


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="eps = 0.3 instead of 0.1 (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    eps = 0.3 if args.quick else 0.1
    W = sltheory.gaussian_target((5, 7, 3), args.seed)
    print(f"target 5-7-3 (gaussian_target seed {args.seed}), construction malach, eps = {eps}, delta = 0.05")

    t0 = time.perf_counter()
    rand = sltheory.random_network(W, eps=eps, delta=0.05, seed=args.seed, construction="malach",
                                   max_weights=400_000_000)
    t_sample = time.perf_counter() - t0
    widths = [rand.plan.layer_shapes[0][1]] + [o for o, _ in rand.plan.layer_shapes]
    print(f"random network: widths {widths}, {rand.plan.num_random_weights:,} weights "
          f"({8 * rand.plan.stored_weights / GiB:.2f} GiB float64), sampled in {t_sample:.1f} s")
    t0 = time.perf_counter()
    ticket = sltheory.approximate(W, rand, eps=eps)
    t_prune = time.perf_counter() - t0
    del rand
    gc.collect()
    so_far = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"ticket: bound {ticket.error_bound:.4g} ≤ eps {eps}, {ticket.stats['kept_weights']:,} kept weights, "
          f"approximate {t_prune:.1f} s, peak RSS so far {so_far:.2f} GiB")

    compact = ticket.compact()
    live = [len(u) for u in compact.units]
    print(f"compact network: live widths {live}, {compact.parameters:,} parameters "
          f"({8 * compact.parameters / 1024:.1f} KiB) against {ticket.stats['random_weights']:,} random weights "
          f"(ratio {ticket.stats['random_weights'] / compact.parameters:,.0f}×)")
    full_acts = 512 * sum(widths[1:]) * 8
    print(f"a full-width masked forward on 512 inputs would hold {full_acts / GiB:.1f} GiB of float64 "
          f"activations (and {8 * ticket.stats['random_weights'] / GiB:.2f} GiB of weights)")

    x = torch.randn(512, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min(1.0)
    with torch.no_grad():
        ticket(x[:2])   # warm-up (first-call allocations of the thread pool)
        for name, batch in (("float64", x), ("float32", x.float())):
            y, delta, traced = peak_during(lambda b=batch: ticket(b))
            t0 = time.perf_counter()
            ticket(batch)
            dt = time.perf_counter() - t0   # (timed apart from the measurement, whose polling thread slows it)
            print(f"evaluate ticket.network on 512 {name} inputs: {dt * 1e3:.1f} ms, "
                  f"peak RSS +{delta / 2**20:.2f} MiB, tracemalloc peak {traced / 1024:.1f} KiB, "
                  f"output {tuple(y.shape)} {y.dtype}")
            assert delta < GiB and traced < GiB, "evaluation exceeded 1 GiB"
        target = sltheory.as_target(W).to_module().double()
        err = float(torch.linalg.vector_norm(target(x) - ticket(x), dim=1).max())
    print(f"max error on these inputs {err:.4g} ≤ bound {ticket.error_bound:.4g}: {err <= ticket.error_bound}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = ticket.save(os.path.join(tmp, "t.npz"))
        t_save = time.perf_counter() - t0
        t0 = time.perf_counter()
        loaded = sltheory.load_ticket(path, max_weights=400_000_000)
        t_load = time.perf_counter() - t0
        same = all(torch.equal(a.weight, b.weight) for a, b in zip(ticket.network[::2], loaded.network[::2])
                   if isinstance(a, torch.nn.Linear))
        print(f"ticket file {os.path.getsize(path):,} bytes, save {t_save:.1f} s, load {t_load:.1f} s "
              f"(re-samples every layer), loaded network bit for bit: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
