"""ResNet scale (issue 15, item 5): a ResNet-style conv target with ≥ 1M weights approximated by
``conv_subset_sum``, certified and saved compactly — time, peak memory, kept/target and the bound.

Target (random, generated from ``--seed``; every conv and the head scaled to operator norm ≤ 1 on
its input shape with :func:`sltheory.conv.norms.op_norm_bound`, the theorems' class): on (3, 16, 16)
inputs in Box(0, 1): a 3×3 stem conv to C channels, ReLU, ``--blocks`` ResidualBlocks at C, one
downsampling block C → 2C (stride 2, 1×1 conv shortcut), ``--blocks2`` blocks at 2C, global average
pool, Flatten, Linear(2C, 10). Default C = 128, one block at C, none at 2C: 1,218,432 weights
(each residual block at most doubles the layer-wise certificate's activation bound, so the default
keeps two; ``--channels 64 --blocks 3 --blocks2 2`` is a deeper 1,043,392-weight one). Default
n = 20 samples per slot and eps=None (every weight at its optimal subset): the subset-sum solves
cost ~2^{n/2} each, so the rule's n at a small ε (≈ 30–37 here) takes far longer than 10 minutes.

Phases timed: building the target, sampling the random network (one stream per output channel, so
it is generated block by block), pruning with the certificate in the loop, the certificate
recomputed from the masks, saving the ticket (plan + seed + packed masks, no weights), reloading it
(weights regenerated from the seed) and checking its outputs bit for bit, and an adversarial search:
on the ticket's effective network (the same function: conv(P, σ(h)) + conv(N, σ(−h)) + p, target
sized, so affordable), its best points then evaluated on the real ticket network. Peak memory is
the process's maximum RSS. Prints measured figures only. Run from the repository root::

    python benchmarks/conv_scale.py                    # ≈ minutes on 2 cores
    python benchmarks/conv_scale.py --channels 16 --blocks 1 --blocks2 1 --n 12   # a small check
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import torch
from torch import nn

import sltheory
from sltheory import Box
from sltheory.conv import approximate, load_conv_ticket, random_network
from sltheory.conv.modules import ResidualBlock
from sltheory.conv.norms import op_norm_bound
from sltheory.conv.target import conv_target


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def build(channels: int, blocks: int, blocks2: int, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)  # the benchmark's own process; the library never uses global state
    C = channels
    layers: list[nn.Module] = [nn.Conv2d(3, C, 3, padding=1, bias=False), nn.ReLU()]
    layers += [ResidualBlock(C, C) for _ in range(blocks)]
    layers += [ResidualBlock(C, 2 * C, stride=2)]
    layers += [ResidualBlock(2 * C, 2 * C) for _ in range(blocks2)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * C, 10, bias=False)]
    return nn.Sequential(*layers).double().eval()


def normalise(model: nn.Sequential, input_shape) -> None:
    """Scale every conv / linear weight to operator norm ≤ 1 on its input (in place)."""
    tgt = conv_target(model, input_shape)
    mods = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(mods) != len(tgt.layers):
        raise RuntimeError("parser and module walk disagree on the layer count")
    # the parser's order is a Residual's body then its shortcut, as module registration order is
    for m, op in zip(mods, tgt.layers):
        s = op_norm_bound(op)
        with torch.no_grad():
            m.weight /= max(s, 1.0)


def effective_network(ticket, rand):
    """The ticket as the target-sized network of its effective maps (the same function)."""
    from sltheory.conv import ops as O
    from sltheory.conv.base import effective_maps
    from sltheory.conv.network import affine_specs

    maps = effective_maps(rand, ticket.masks)
    specs = affine_specs(rand._ops)

    def fn(x):
        xb = x.reshape(x.shape[0], *rand.plan.input_shape)
        idx = {id(s): i for i, s in enumerate(specs)}

        def aff(op, h):
            m = maps[idx[id(op)]]
            def lin(K, z):
                K = torch.as_tensor(K, dtype=z.dtype)
                if not op.is_conv:
                    return z @ K.T
                f = torch.nn.functional.conv2d if K.dim() == 4 else torch.nn.functional.conv1d
                return f(z, K, None, stride=op.stride, padding=op.padding)
            y = lin(m.P, torch.relu(h))
            if m.N is not None:
                y = y + lin(m.N, torch.relu(-h))
            if m.p is not None:
                y = y + torch.as_tensor(m.p, dtype=y.dtype).view((1, -1) + (1,) * (y.dim() - 2))
            return y
        return O.forward(rand._ops, xb, affine=aff).reshape(x.shape[0], -1)
    return fn


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--blocks2", type=int, default=0)
    p.add_argument("--n", type=int, default=20, help="samples per slot (0: the rule at --eps)")
    p.add_argument("--eps", type=float, default=None, help="certified ε (default: the best ticket, eps=None)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = (3, 16, 16)
    dom = Box(0, 1)
    t0 = time.perf_counter()
    model = build(args.channels, args.blocks, args.blocks2, args.seed)
    normalise(model, shape)
    tgt = conv_target(model, shape)
    t_build = time.perf_counter() - t0
    print(f"target: {tgt.depth} conv/linear layers, {tgt.num_weights:,} weights, input {shape}, domain {dom!r}")
    t0 = time.perf_counter()
    rand = random_network(tgt, seed=args.seed, n=args.n or None, eps=args.eps if not args.n else None, domain=dom)
    t_sample = time.perf_counter() - t0
    plan = rand.plan
    print(f"random network: n = {sorted(set(plan.n))}, {plan.num_random_weights:,} weights "
          f"({plan.num_random_weights / tgt.num_weights:.1f}× the target), sampled in {t_sample:.1f} s, "
          f"peak RSS {peak_gib():.2f} GiB")
    t0 = time.perf_counter()
    try:
        ticket = approximate(tgt, rand, eps=args.eps)
    except sltheory.ApproximationFailedError as exc:
        print(f"approximate(eps={args.eps}) failed: {str(exc)[:200]}; measuring the best ticket")
        ticket = approximate(tgt, rand, eps=None)
    t_prune = time.perf_counter() - t0
    print(f"pruned + certified in {t_prune:.1f} s (approximate recomputes the certificate from the masks); "
          f"peak RSS {peak_gib():.2f} GiB")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        path = ticket.save(os.path.join(d, "resnet_ticket.npz"))
        t_save = time.perf_counter() - t0
        size = os.path.getsize(path)
        t0 = time.perf_counter()
        back = load_conv_ticket(path)
        t_load = time.perf_counter() - t0
        x = dom.sample(8, tgt.input_dim, torch.Generator().manual_seed(1))
        same = torch.equal(back(x), ticket(x))
    print(f"saved in {t_save:.1f} s: {size / 2**20:.2f} MiB file (plan + seed + packed masks); reloaded in "
          f"{t_load:.1f} s, outputs bit for bit: {same}")
    t0 = time.perf_counter()
    eff = effective_network(ticket, rand)
    x = dom.sample(64, tgt.input_dim, torch.Generator().manual_seed(2))
    gap = float((eff(x) - ticket(x)).abs().max())
    adv_eff, x_adv = sltheory.adversarial_error(tgt, eff, tgt.input_dim, domain=dom, starts=16, refine=4, steps=15)
    adv_real = float((tgt(x_adv.reshape(-1, tgt.input_dim)) - ticket(x_adv.reshape(-1, tgt.input_dim)))
                     .norm(dim=-1).max())
    t_adv = time.perf_counter() - t0
    compact = ticket.network.num_parameters
    out_norm = float(tgt(x).norm(dim=1).mean())
    print(f"adversarial: {adv_real:.4g} on the real ticket network at the effective network's worst point "
          f"({adv_eff:.4g} there; effective vs real max gap {gap:.2g}), {t_adv:.1f} s")
    print("")
    print(f"  target weights                 {tgt.num_weights:,}")
    tw = tgt.num_weights
    print(f"  random weights                 {plan.num_random_weights:,}  ({plan.num_random_weights / tw:.1f}×)")
    print(f"  kept weights                   {ticket.kept_weights:,}  (kept/target {ticket.kept_weights / tw:.2f})")
    print(f"  ticket network parameters      {compact:,}  (live units, dense blocks)")
    print(f"  certified bound                {ticket.error_bound:.4g}  (mean ‖target(x)‖ on the domain "
          f"{out_norm:.4g})")
    print(f"  bound / adversarial            {ticket.error_bound / max(adv_real, 1e-300):.3g}")
    print(f"  time: build {t_build:.1f} s, sample {t_sample:.1f} s, prune+certify {t_prune:.1f} s, "
          f"save {t_save:.1f} s, total {t_build + t_sample + t_prune + t_save:.1f} s")
    print(f"  peak RSS                       {peak_gib():.2f} GiB")


if __name__ == "__main__":
    main()
