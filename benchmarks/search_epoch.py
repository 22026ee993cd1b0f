"""Time per epoch of each mask-search method (issue 16), on this machine's threads (2 CPUs here).

For every registered search method (``sltheory.search.methods()``) and three networks, one search
call with a fixed number of epochs; prints the measured seconds per epoch (training only: the
per-epoch evaluation on the held-out points included, the certificate not; after one untimed
warm-up call), the samples per epoch and the certificate's seconds:

1. ``digits labels`` — a signed-constant random MLP 64-512-512-10 (Ramanujan et al.'s setting),
   trained on the digits' 1,347 training images with their labels (no certificate);
2. ``subset_sum 4-8-4`` — the subset-sum construction's network for the width sweep's 4-8-4
   Gaussian target at n = 20 (about its rule's width at ε = 0.1), regressing the target on 4,096
   points of the unit ball, at kept fraction 0.25; certified;
3. ``digits distil`` — the subset-sum network for a digits-trained 64-16-10 MLP (rescaled to norms
   ≤ 1, over the data's box) at n = 8, distilling the target on the training images at kept
   fraction 0.25; certified.

Prints measured figures only (no assertions)::

    python benchmarks/search_epoch.py                # ~1–2 min on 2 cores
    python benchmarks/search_epoch.py --epochs 5 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import sltheory
from sltheory import Box, cli, datasets
from sltheory._checks import nonnegative_int
from sltheory.search import random_mlp


def _networks(seed: int):
    digits = datasets.load_digits(seed=seed)
    X, y = digits.x_train.numpy(), digits.y_train.numpy()
    yield ("digits labels", random_mlp((64, 512, 512, 10), init="signed_constant", seed=seed),
           dict(data=(X, y), keep=0.5))
    gauss = sltheory.gaussian_target((4, 8, 4), seed=0)
    rand = sltheory.random_network(gauss, n=20, seed=seed)
    yield "subset_sum 4-8-4", rand, dict(target=gauss, keep=0.25)
    net = datasets.train_mlp((64, 16, 10), digits, seed=seed, bias=True)
    box = Box.of(np.concatenate([X, digits.x_test.numpy()]))
    tgt = sltheory.targets.as_target(net, rescale=True)
    rescaled = [(W, tgt.bias(i)) for i, W in enumerate(tgt.weights)]
    rand = sltheory.random_network(rescaled, n=8, seed=seed, domain=box)
    yield "digits distil", rand, dict(target=rescaled, data=X, keep=0.25)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, = the CPUs)")
    args = p.parse_args(argv)
    nonnegative_int("--epochs", args.epochs, minimum=1, maximum=10_000)
    nonnegative_int("--seed", args.seed, maximum=2**63 - 1)
    if args.threads is not None:
        nonnegative_int("--threads", args.threads, minimum=1, maximum=1024)
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, epochs per call: {args.epochs}")
    # one untimed call first: torch's first training steps in a process pay its lazy initialisation
    # (measured: 0.40 s/epoch for the first call against 0.09 s for the same call again)
    warm = random_mlp((8, 16, 2), seed=0)
    sltheory.search.get("edge_popup").search(warm, data=(np.zeros((4, 8)), np.zeros(4, dtype=int)), epochs=1)
    print(f"{'network':<18} {'method':<11} {'random w.':>10} {'samples':>8} {'s/epoch':>8} {'certify s':>9}")
    for label, rand, kwargs in _networks(args.seed):
        weights = rand.plan.num_random_weights
        for name in sltheory.search.methods():
            start = time.perf_counter()
            t = sltheory.search.get(name).search(rand, epochs=args.epochs, seed=args.seed, **kwargs)
            total = time.perf_counter() - start
            per_epoch = t.stats["seconds_per_epoch"]
            cert = t.stats.get("certify_seconds")
            samples = t.stats["samples"]
            print(f"{label:<18} {name:<11} {weights:>10,} {samples:>8,} {per_epoch:>8.3f} "
                  f"{'-' if cert is None else f'{cert:.2f}':>9}   (call {total:.1f} s)")


if __name__ == "__main__":
    cli.run(main)
