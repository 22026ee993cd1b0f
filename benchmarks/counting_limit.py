"""Random network size against the counting lower bound, lever by lever, at ≥ 95% success.

The counting bound (Pensia et al. 2020, Theorem 2, counting form; ``sltheory.counting_lower_bound``)
says a network whose masks ε-approximate every d_in × d_out linear map of norm ≤ 1 has at least
d_in d_out log₂(1/(2ε)) − 1 weights. For square bias-free ReLU targets (d-d-…-d, depth l, each
matrix Gaussian divided by its spectral norm: ``sltheory.gaussian_target``) this script prints the
ratio

    ρ_c = random weights / Σ_i d_in d_out log₂(1/(2ε))     (and the same per layer)

for a chain of levers, each applied on top of the previous one:

1. ``theorem``: subset_sum as Theorem 1 states it — the rule's n (C = 1, reach floor), dense
   pairs of 2n·d_in hidden units everywhere (``spare_negative_half=False``). Planned only: its
   pruning is that of lever 2 (the extra units after a ReLU are the ones never used).
2. ``negative half``: the library's default, the negative half spared after ReLUs; success of
   ``approximate(eps=ε)`` at the rule's n over ``--rule-seeds`` seeds (d ≤ ``--dense-max-d``).
3. ``uniform τ, measured n`` (d ≤ ``--dense-max-d``): the smallest common n at which ≥ 95% of the seeds give a
   ticket whose
   every weight error is within the proof's uniform tolerance τ_i = e/√(d_in' d_out) (e the
   per-layer budget (1+ε)^{1/l} − 1; the theorem's ε/(d l) up to constants), which guarantees ε.
4. ``spectral, measured n`` (d ≤ ``--dense-max-d``): the smallest common n at which ≥ 95% of the seeds give a
   ticket whose
   *certificate* is ≤ ε (sltheory.certificate: spectral norms of the actual error matrices, propagated;
   the S-procedure bound where it is affordable) — the tolerance allocated from the actual error
   propagation instead of a uniform τ.
5. ``block-diagonal first sub-layer``: lever 4 on ``subset_sum_blockdiag`` (a variant, its own
   claim and bound: ``sltheory/constructions/subset_sum_blockdiag.py``, ``proofs/``).
6. ``balanced signs``: lever 5 with ``balanced_signs=True`` (checkerboard signs in the second
   sub-layers: every (output, slot) problem has n/2 samples of each sign; a further variant).
7. ``n per layer``: from the better of levers 5–6, a local search over per-layer n (lower one
   layer by 1, or lower one and raise another by 1) keeping ≥ 95% success.

Success in 3–7 is measured on the best ticket (``approximate(target, rand)``: every weight at its
optimal subset); its certificate ≤ ε implies ``approximate(eps=ε)`` succeeds (that is its last
resort), so the n found is an upper bound on what the ε mode needs. Trial s uses target seed
1000 + s and random-network seed s; ≥ 95% means ≥ ⌈0.95 S⌉ of S trials (S = ``--seeds``, 20 by
default: 19 of 20); a count stops early once it cannot reach that.

Then, per row, where the rest goes: the *extra bits* n_i − log₂(1/(2ε)) of each layer against
log₂√d_in' (what an entrywise scheme pays because ‖E‖₂ is at least the largest row norm), and
the factor the structure costs ((d_in'/d_in)(1 + d_out)/d_out for the block-diagonal pair).

Results go to ``runs/counting_limit/<settings hash>/{config.json,results.csv}``, one row per lever
and cell (d, depth, ε), rewritten atomically after every cell; the folder is named by the per-cell
settings (seeds, δ, …) only, so a rerun, or a run over another grid, skips the finished cells
(two processes, e.g. ``--depths 2`` and ``--depths 3``, can fill it side by side), and
``python experiments/make_figures.py`` turns the last finished run into paper/tables/counting_limit.tex.
Prints measured figures only (no assertions). Run from the repository root::

    python benchmarks/counting_limit.py                 # d = 32…256, depth 2–3, ε = 1e-1…1e-3 (hours;
                                                        # one d = 256 cell at ε = 1e-3: 43 min on 2 cores)
    python benchmarks/counting_limit.py --quick         # d = 16, 32, depth 2, ε = 0.1, 0.01, 10 seeds
    python benchmarks/counting_limit.py --dims 64 --depths 2 --eps 0.01
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import sltheory  # noqa: E402
from sltheory.bounds import layer_error_budget, weight_tolerance  # noqa: E402

PASS = 0.95
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN_ROOT = REPO_ROOT / "runs" / "counting_limit"
COLUMNS = ["d", "depth", "eps", "lever", "network", "n", "weights", "ratio", "layer_ratios", "success", "note",
           "extra_bits"]
LEVER_ORDER = ("theorem", "negative half", "uniform τ, measured n", "spectral, measured n",
               "block-diagonal first sub-layer", "balanced signs", "n per layer")


#: name → (construction, options of random_network)
CONFIGS = {
    "dense": ("subset_sum", {}),
    "blockdiag": ("subset_sum_blockdiag", {}),
    "balanced": ("subset_sum_blockdiag", {"balanced_signs": True}),
}


class Trials:
    """Memoized best tickets: (config, n tuple, trial) → (certified bound, per-layer max weight
    error, certificate method); ``config`` a key of :data:`CONFIGS`."""

    def __init__(self, d: int, depth: int, seeds: int):
        self.d, self.depth, self.seeds = d, depth, seeds
        self.dims = (d,) * (depth + 1)
        self.cache: dict = {}
        self.targets = {}
        self.runs = 0
        self.seconds = 0.0

    def target(self, s: int):
        if s not in self.targets:
            self.targets[s] = sltheory.gaussian_target(self.dims, 1000 + s)
        return self.targets[s]

    def best(self, config: str, n: tuple, s: int):
        key = (config, n, s)
        if key not in self.cache:
            start = time.perf_counter()
            W = self.target(s)
            construction, options = CONFIGS[config]
            rand = sltheory.random_network(W, n=list(n), seed=s, construction=construction, **options)
            ticket = sltheory.approximate(W, rand, min_cardinality=False)
            self.cache[key] = (ticket.error_bound, tuple(L["max_weight_error"] for L in ticket.stats["layers"]),
                               ticket.certificate.method)
            self.runs += 1
            self.seconds += time.perf_counter() - start
        return self.cache[key]

    def passes(self, config: str, n: tuple, ok) -> tuple[bool, int, int]:
        """Whether ≥ 95% of the trials satisfy ``ok(best)``; (passed, successes, trials run)."""
        need = math.ceil(PASS * self.seeds)
        good = 0
        for s in range(self.seeds):
            good += bool(ok(self.best(config, n, s)))
            if good + (self.seeds - s - 1) < need:   # cannot reach the quota any more
                return False, good, s + 1
        return good >= need, good, self.seeds


def weights_of(config: str, dims, n: tuple) -> tuple[int, tuple[int, ...]]:
    """Random weights of the plan, total and per pair (planned, nothing sampled)."""
    construction, options = CONFIGS[config]
    spec = sltheory.construction(construction)
    shapes = tuple((o, i) for i, o in zip(dims[:-1], dims[1:]))
    plan = spec.plan(shapes, eps=None, delta=0.05, n=list(n), max_weights=10**15, **options)
    per = tuple(sum(plan.layer_weights(t) for t in pair) for pair in plan.pairs)
    return plan.num_random_weights, per


def smallest_n(trials: Trials, config: str, ok, start: int, lo: int = 1, hi: int = 64):
    """Smallest common n ≥ lo with ≥ 95% success (success assumed monotone in n), searched from
    ``start``: up until it passes, then down until it fails. Returns (n, (successes, run)) or None."""
    n = max(lo, min(hi, start))
    res = {}

    def test(v):
        if v not in res:
            res[v] = trials.passes(config, (v,) * trials.depth, ok)
        return res[v][0]

    while not test(n):
        if n >= hi:
            return None
        n += 1
    while n > lo and test(n - 1):
        n -= 1
    return n, res[n][1:], (res.get(n - 1) or (None, None, None))[1:]


def per_layer_search(trials: Trials, config: str, ok, n0: int):
    """Local search over per-layer n from (n0, …, n0): moves that lower the planned weights and keep
    ≥ 95% success — lower one layer by 1, or lower one by 1 and raise another by 1."""
    dims = trials.dims
    current = (n0,) * trials.depth
    cost = weights_of(config, dims, current)[0]
    while True:
        moves = []
        for i in range(trials.depth):
            down = list(current)
            down[i] -= 1
            if down[i] < 1:
                continue
            moves.append(tuple(down))
            for j in range(trials.depth):
                if j != i:
                    trade = list(down)
                    trade[j] += 1
                    moves.append(tuple(trade))
        moves = sorted({m for m in moves if weights_of(config, dims, m)[0] < cost},
                       key=lambda m: weights_of(config, dims, m)[0])
        for m in moves:
            if trials.passes(config, m, ok)[0]:
                current, cost = m, weights_of(config, dims, m)[0]
                break
        else:
            return current


def run_cell(d: int, depth: int, eps: float, seeds: int, rule_seeds: int, delta: float,
             dense_max_d: int) -> list[dict]:
    dims = (d,) * (depth + 1)
    shapes = tuple((d, d) for _ in range(depth))
    bits = math.log2(1 / (2 * eps))
    counting = [d * d * bits] * depth
    trials = Trials(d, depth, seeds)
    budget = layer_error_budget(eps, depth)
    taus = [weight_tolerance(budget, 2 * d if i == 0 else d, d) for i in range(depth)]
    rows = []

    def row(lever, config, n, success, note=""):
        total, per = weights_of(config, dims, n)
        rows.append(dict(d=d, depth=depth, eps=eps, lever=lever, network=config, n=tuple(n),
                         weights=total, ratio=total / sum(counting),
                         layer_ratios=tuple(p / c for p, c in zip(per, counting)), success=success, note=note))

    # 1-2. the rule's n.
    dense = sltheory.construction("subset_sum")
    rule_plan = dense.plan(shapes, eps=eps, delta=delta, max_weights=10**15)
    n_rule = tuple(rule_plan.n)
    lit = dense.plan(shapes, eps=eps, delta=delta, spare_negative_half=False, max_weights=10**15)
    rows.append(dict(d=d, depth=depth, eps=eps, lever="theorem", network="dense", n=n_rule,
                     weights=lit.num_random_weights, ratio=lit.num_random_weights / sum(counting),
                     layer_ratios=tuple(sum(lit.layer_weights(t) for t in p) / c for p, c in zip(lit.pairs, counting)),
                     success="(planned)", note="spare_negative_half=False"))
    ok_rule = 0
    rule_seeds = rule_seeds if d <= dense_max_d else 0
    for s in range(rule_seeds):
        W = trials.target(s)
        rand = sltheory.random_network(W, eps=eps, delta=delta, seed=s)
        try:
            sltheory.approximate(W, rand, eps=eps, min_cardinality=False)
            ok_rule += 1
        except sltheory.ApproximationFailedError:
            pass
        del rand
    row("negative half", "dense", n_rule, f"{ok_rule}/{rule_seeds}" if rule_seeds else "(planned)",
        "approximate(eps) at the rule's n" if rule_seeds else f"not run for d > {dense_max_d}")

    # 3-4. measured common n: uniform entrywise tolerance vs the certificate.
    def uniform_ok(best):
        return all(e <= t for e, t in zip(best[1], taus))

    def spectral_ok(best):
        return best[0] <= eps

    guess = max(1, math.floor(bits + math.log2(math.sqrt(d))))  # searched upwards from here
    found = {}
    # Searched cheapest first, each from the previous answer (the dense and block-diagonal pairs
    # solve the same problems, so they need about the same n); printed in lever order.
    found, measured = {}, {}
    searches = (("balanced signs", "balanced", spectral_ok, None),
                ("block-diagonal first sub-layer", "blockdiag", spectral_ok, "balanced"),
                ("spectral, measured n", "dense", spectral_ok, "blockdiag"),
                ("uniform τ, measured n", "dense-uniform", uniform_ok, "dense"))
    for lever, key, ok, after in searches:
        config = key.split("-")[0]
        if config == "dense" and d > dense_max_d:
            measured[lever] = (config, None, f"not measured for d > {dense_max_d} (--dense-max-d)")
            continue
        start = guess if after is None or after not in found else max(1, found[after] - 1)
        res = smallest_n(trials, config, ok, start)
        if res is None:
            measured[lever] = (config, None, "none ≤ 64")
            continue
        n, (good, ran), (good_below, ran_below) = res
        found[key] = n
        below = f"; n − 1: {good_below}/{ran_below}" if ran_below else ""
        methods = sorted({trials.best(config, (n,) * depth, s)[2] for s in range(min(ran, seeds))})
        measured[lever] = (config, n, f"{good}/{ran}{below}", f"certificates: {'/'.join(methods)}")
    for lever, *_ in sorted(searches, key=lambda t: LEVER_ORDER.index(t[0])):
        config, n, *rest = measured[lever]
        if n is None:
            rows.append(dict(d=d, depth=depth, eps=eps, lever=lever, network=config, n=(), weights=0,
                             ratio=math.nan, layer_ratios=(), success=rest[0], note=""))
        else:
            row(lever, config, (n,) * depth, *rest)

    # 7. per-layer n, from the better of the two variants.
    cands = [c for c in ("blockdiag", "balanced") if c in found]
    if cands:
        config = min(cands, key=lambda c: weights_of(c, dims, (found[c],) * depth)[0])
        n_layers = per_layer_search(trials, config, spectral_ok, found[config])
        ok, good, ran = trials.passes(config, n_layers, spectral_ok)
        row("n per layer", config, n_layers, f"{good}/{ran}")
    for r in rows:
        r["extra_bits"] = tuple(v - bits for v in r["n"])
        r["entrywise_bits"] = tuple(math.log2(math.sqrt(2 * d if i == 0 else d)) for i in range(depth))
    rows[-1]["pruning_runs"], rows[-1]["pruning_seconds"] = trials.runs, trials.seconds
    return rows


def print_cell(rows):
    r0 = rows[0]
    print(f"\nd = {r0['d']}, depth {r0['depth']}, ε = {r0['eps']:g}: counting bound "
          f"{r0['depth']} × {r0['d']}² × log₂(1/(2ε)) = "
          f"{r0['depth'] * r0['d'] ** 2 * math.log2(1 / (2 * r0['eps'])):,.0f}")
    print(f"  {'lever':<31} {'network':<10} {'n':<13} {'random w.':>11} {'ρ_c':>6} {'per layer':<17} "
          f"{'success':<16} {'extra bits (log₂√d_in′)':<28} note")
    for r in rows:
        extra = " ".join(f"{e:+.1f}({b:.1f})" for e, b in zip(r["extra_bits"], r["entrywise_bits"]))
        if not r["n"]:
            print(f"  {r['lever']:<31} {r['network']:<10} {r['success']}")
            continue
        print(f"  {r['lever']:<31} {r['network']:<10} {str(r['n']):<13} {r['weights']:>11,} {r['ratio']:>6.2f} "
              f"{'/'.join(f'{v:.2f}' for v in r['layer_ratios']):<17} {r['success']:<16} {extra:<28} {r['note']}")
    last = rows[-1]
    if "pruning_runs" in last:
        print(f"  ({last['pruning_runs']} best-ticket prunings, {last['pruning_seconds']:.0f} s)")


def _csv_row(r) -> dict:
    return {"d": r["d"], "depth": r["depth"], "eps": r["eps"], "lever": r["lever"], "network": r["network"],
            "n": "/".join(map(str, r["n"])), "weights": r["weights"], "ratio": f"{r['ratio']:.6g}",
            "layer_ratios": "/".join(f"{v:.4g}" for v in r["layer_ratios"]), "success": r["success"],
            "note": r["note"], "extra_bits": "/".join(f"{v:.3g}" for v in r["extra_bits"])}


def _cell(r) -> tuple:
    return int(r["d"]), int(r["depth"]), float(r["eps"])


def _read(run_dir: Path) -> list[dict]:
    path = run_dir / "results.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _append(run_dir: Path, rows: list[dict]) -> list[dict]:
    """Add one finished cell's rows to run_dir/results.csv (atomic rewrite, under the run folder's
    lock, the one :class:`sltheory.experiment.runs.RunFolder` takes, so that several processes filling the same
    run folder — one per depth, say — lose no row). A cell's rows replace all its saved rows.
    Returns every saved row."""
    from sltheory.experiment.runs import atomic_write_text, folder_lock

    with folder_lock(run_dir):
        cells = {_cell(r) for r in rows}
        saved = [r for r in _read(run_dir) if _cell(r) not in cells] + rows
        saved.sort(key=lambda r: (_cell(r), LEVER_ORDER.index(r["lever"])))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(saved)
        atomic_write_text(run_dir / "results.csv", buf.getvalue())
    return saved


def latest_run_dir(root=DEFAULT_RUN_ROOT) -> Path:
    from sltheory.experiment.runs import latest

    return latest(root)


def table(run_dir, table_dir) -> list[str]:
    """paper/tables/counting_limit.tex from a saved run: per (d, depth, ε), ρ_c of every lever,
    and the n of the last lever."""
    from sltheory.experiment.runs import atomic_write_text

    with open(Path(run_dir) / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells: dict = {}
    for r in rows:
        cells.setdefault((int(r["depth"]), int(r["d"]), float(r["eps"])), {})[r["lever"]] = r
    heads = ["theorem", "neg.\\ half", "uniform $\\tau$", "spectral", "block-diag.", "balanced", "$n$ per layer"]
    lines = ["\\begin{tabular}{rrr" + "r" * len(LEVER_ORDER) + "l}", "\\toprule",
             "$l$ & $d$ & $\\varepsilon$ & " + " & ".join(heads) + " & $n$ (last) \\\\", "\\midrule"]
    for (depth, d, eps), by in sorted(cells.items()):
        vals = []
        for lv in LEVER_ORDER:
            r = by.get(lv)
            vals.append("--" if r is None or r["ratio"] in ("", "nan") else f"{float(r['ratio']):.2f}")
        last = by.get(LEVER_ORDER[-1]) or {}
        lines.append(f"{depth} & {d} & {eps:g} & " + " & ".join(vals) + f" & {last.get('n', '--')} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    path = Path(table_dir) / "counting_limit.tex"
    atomic_write_text(path, "\n".join(lines))
    return [str(path)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="d = 16, 32, depth 2, ε = 0.1, 0.01, 10 seeds")
    parser.add_argument("--dims", type=int, nargs="+", default=None, help="widths d (default 32 64 128 256)")
    parser.add_argument("--depths", type=int, nargs="+", default=None, help="depths (default 2 3)")
    parser.add_argument("--eps", type=float, nargs="+", default=None, help="network-level ε (default 0.1 0.01 0.001)")
    parser.add_argument("--seeds", type=int, default=None, help="trials per measured point (default 20)")
    parser.add_argument("--rule-seeds", type=int, default=None, help="trials at the rule's n (default 3)")
    parser.add_argument("--delta", type=float, default=0.05, help="δ of the rule (levers 1-2)")
    parser.add_argument("--dense-max-d", type=int, default=64,
                        help="measure levers 3-4 (the dense pairs, the costliest prunings) only up to this d "
                             "(default 64; the block-diagonal pairs solve problems of the same law)")
    parser.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="where run folders go")
    args = parser.parse_args(argv)
    dims = args.dims or ([16, 32] if args.quick else [32, 64, 128, 256])
    depths = args.depths or ([2] if args.quick else [2, 3])
    epss = args.eps or ([0.1, 0.01] if args.quick else [0.1, 0.01, 0.001])
    seeds = args.seeds if args.seeds is not None else (10 if args.quick else 20)
    rule_seeds = args.rule_seeds if args.rule_seeds is not None else (1 if args.quick else 3)
    if min(dims) < 1 or min(depths) < 1 or seeds < 1 or rule_seeds < 0 or not all(0 < e < 0.5 for e in epss) \
            or not 0 < args.delta < 1:
        parser.error("--dims, --depths, --seeds must be ≥ 1, --rule-seeds ≥ 0, every --eps in (0, 0.5) and "
                     "--delta in (0, 1)")
    from sltheory import cli
    for e in epss:
        cli.eps("--eps", e)
    cli.delta("--delta", args.delta)
    cli.output_dir("--run-root", args.run_root)
    for depth in depths:   # the smallest network a cell samples (block-diagonal pairs, n = 1) must fit
        for d in dims:
            sltheory.construction("subset_sum_blockdiag").plan(((d, d),) * depth, eps=None, delta=args.delta, n=1)
    from sltheory.experiment.runs import atomic_write_text, mark_latest

    # The run folder is named by the per-cell settings only: runs over other grids (another depth,
    # another d) with the same settings fill the same folder, and a finished cell is not redone.
    # (--dense-max-d only decides which levers a cell measures; the rows say which were not, and a
    # later run whose --dense-max-d covers that d redoes the cell.)
    config = {"seeds": seeds, "rule_seeds": rule_seeds, "delta": args.delta, "pass": PASS,
              "sltheory_version": sltheory.__version__}
    run_dir = Path(args.run_root) / hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    saved = _read(run_dir)
    # A cell is finished unless it skipped the dense levers for a d this run's --dense-max-d covers.
    skipped_dense = {_cell(r) for r in saved if "(--dense-max-d)" in r["success"] or "not run for d >" in r["note"]}
    done = {c for c in map(_cell, saved) if not (c in skipped_dense and c[0] <= args.dense_max_d)}
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")

    start = time.perf_counter()
    tiny = sltheory.gaussian_target((4, 4, 2), 0)
    for construction, options in CONFIGS.values():
        sltheory.approximate(tiny, sltheory.random_network(tiny, n=8, seed=0, construction=construction, **options),
                             min_cardinality=False)
    print(f"JIT warm-up {time.perf_counter() - start:.1f} s (not counted); {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}; success = ≥ {math.ceil(PASS * seeds)} of {seeds} trials; run {run_dir}")
    summary = []
    for depth in depths:
        for d in dims:
            for eps in epss:
                if (d, depth, eps) in done:
                    print(f"\nd = {d}, depth {depth}, ε = {eps:g}: finished in {run_dir.name} (skipped)")
                    continue
                t0 = time.perf_counter()
                rows = run_cell(d, depth, eps, seeds, rule_seeds, args.delta, args.dense_max_d)
                print_cell(rows)
                print(f"  cell time {time.perf_counter() - t0:.0f} s", flush=True)
                summary.append(rows)
                saved = _append(run_dir, [_csv_row(r) for r in rows])
    mark_latest(args.run_root, run_dir)
    print("\nρ_c = random weights / counting bound, per lever (goal ≤ 3):")
    levers = list(LEVER_ORDER)
    print(f"  {'d':>4} {'l':>2} {'ε':>6} " + " ".join(f"{lv[:14]:>14}" for lv in levers))
    cells: dict = {}
    for r in saved:
        cells.setdefault((int(r["depth"]), int(r["d"]), float(r["eps"])), {})[r["lever"]] = float(r["ratio"])
    for (depth, d, eps), by in sorted(cells.items()):
        print(f"  {d:>4} {depth:>2} {eps:>6g} " + " ".join(
            f"{by[lv]:>14.2f}" if lv in by and not math.isnan(by[lv]) else f"{'-':>14}" for lv in levers))
    print(f"results: {run_dir / 'results.csv'}; load average at end {os.getloadavg()[0]:.2f}")
    return summary


if __name__ == "__main__":
    from sltheory import cli
    cli.run(main)
