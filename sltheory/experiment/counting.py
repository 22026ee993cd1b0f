"""The counting-limit benchmark's jobs (``benchmarks/counting_limit.py``): random network size
against the counting lower bound d_in d_out log₂(1/(2ε)), lever by lever, at ≥ 95% success.

* :func:`run_cell` — one cell (d, depth, ε): a row per lever (the levers are described in the
  script's docstring), measured on memoized best tickets (:class:`Trials`);
* :func:`save_cell` / :func:`read_saved` — ``results.csv`` of a run folder, one row per lever and
  cell, rewritten atomically under the folder's lock after every cell, so that several processes
  can fill one folder; :func:`run_folder` names the folder by the hash of the per-cell settings;
  :func:`done_cells` says which saved cells a run may skip.

Tables and printed summaries: :mod:`sltheory.report.counting`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import time
from pathlib import Path

from ..api import approximate, random_network
from ..bounds import layer_error_budget, weight_tolerance
from ..constructions.registry import get as get_construction
from ..data.generated import gaussian_target
from ..errors import ApproximationFailedError
from .runs import atomic_write_text, folder_lock

__all__ = ["PASS", "COLUMNS", "LEVER_ORDER", "CONFIGS", "Trials", "weights_of", "smallest_n", "per_layer_search",
           "run_cell", "csv_row", "cell_of", "read_saved", "save_cell", "run_folder", "done_cells", "warm_up",
           "check_fits"]

#: Success means ≥ ⌈PASS · seeds⌉ of the trials.
PASS = 0.95
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
        self.targets: dict = {}
        self.runs = 0
        self.seconds = 0.0

    def target(self, s: int):
        if s not in self.targets:
            self.targets[s] = gaussian_target(self.dims, 1000 + s)
        return self.targets[s]

    def best(self, config: str, n: tuple, s: int):
        key = (config, n, s)
        if key not in self.cache:
            start = time.perf_counter()
            W = self.target(s)
            construction, options = CONFIGS[config]
            rand = random_network(W, n=list(n), seed=s, construction=construction, **options)
            ticket = approximate(W, rand, min_cardinality=False)
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
    spec = get_construction(construction)
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
    """The rows of cell (d, depth, ε), one per lever in :data:`LEVER_ORDER` order: d, depth, eps,
    lever, network (a key of :data:`CONFIGS`), n (per layer; () when not measured), weights, ratio
    ρ_c, layer_ratios, success, note, extra_bits, entrywise_bits; the last row also carries
    pruning_runs and pruning_seconds. Trial s: target seed 1000 + s, random-network seed s."""
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
    dense = get_construction("subset_sum")
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
        rand = random_network(W, eps=eps, delta=delta, seed=s)
        try:
            approximate(W, rand, eps=eps, min_cardinality=False)
            ok_rule += 1
        except ApproximationFailedError:
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
    # Searched cheapest first, each from the previous answer (the dense and block-diagonal pairs
    # solve the same problems, so they need about the same n); printed in lever order.
    found: dict[str, int] = {}
    measured: dict[str, tuple] = {}
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
        _, good, ran = trials.passes(config, n_layers, spectral_ok)
        row("n per layer", config, n_layers, f"{good}/{ran}")
    for r in rows:
        r["extra_bits"] = tuple(v - bits for v in r["n"])
        r["entrywise_bits"] = tuple(math.log2(math.sqrt(2 * d if i == 0 else d)) for i in range(depth))
    rows[-1]["pruning_runs"], rows[-1]["pruning_seconds"] = trials.runs, trials.seconds
    return rows


def csv_row(r) -> dict:
    """A row of :func:`run_cell` as saved in results.csv (:data:`COLUMNS`)."""
    return {"d": r["d"], "depth": r["depth"], "eps": r["eps"], "lever": r["lever"], "network": r["network"],
            "n": "/".join(map(str, r["n"])), "weights": r["weights"], "ratio": f"{r['ratio']:.6g}",
            "layer_ratios": "/".join(f"{v:.4g}" for v in r["layer_ratios"]), "success": r["success"],
            "note": r["note"], "extra_bits": "/".join(f"{v:.3g}" for v in r["extra_bits"])}


def cell_of(r) -> tuple:
    """(d, depth, ε) of a row, computed or read back."""
    return int(r["d"]), int(r["depth"]), float(r["eps"])


def read_saved(run_dir: Path) -> list[dict]:
    """The rows of run_dir/results.csv as strings ([] when there is none yet)."""
    path = run_dir / "results.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def save_cell(run_dir: Path, rows: list[dict]) -> list[dict]:
    """Add one finished cell's rows to run_dir/results.csv (atomic rewrite, under the run folder's
    lock, the one :class:`sltheory.experiment.runs.RunFolder` takes, so that several processes filling the same
    run folder — one per depth, say — lose no row). A cell's rows replace all its saved rows.
    Returns every saved row."""
    with folder_lock(run_dir):
        cells = {cell_of(r) for r in rows}
        saved = [r for r in read_saved(run_dir) if cell_of(r) not in cells] + rows
        saved.sort(key=lambda r: (cell_of(r), LEVER_ORDER.index(r["lever"])))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(saved)
        atomic_write_text(run_dir / "results.csv", buf.getvalue())
    return saved


def run_folder(root, config: dict) -> Path:
    """``root/<first 12 hex digits of sha256(config as sorted JSON)>``: the per-cell settings name
    the folder, so runs over other grids with the same settings fill the same one."""
    return Path(root) / hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def done_cells(saved: list[dict], dense_max_d: int) -> set[tuple]:
    """Saved cells (d, depth, ε) a run may skip: all but those that skipped the dense levers for a
    d this run's ``dense_max_d`` covers (--dense-max-d only decides which levers a cell measures)."""
    skipped_dense = {cell_of(r) for r in saved if "(--dense-max-d)" in r["success"] or "not run for d >" in r["note"]}
    return {c for c in map(cell_of, saved) if not (c in skipped_dense and c[0] <= dense_max_d)}


def check_fits(dims, depths, delta: float) -> None:
    """Raise (InvalidArgumentError) unless the smallest network a cell samples (block-diagonal
    pairs, n = 1) fits the library's cap on random weights, for every (d, depth)."""
    for depth in depths:
        for d in dims:
            get_construction("subset_sum_blockdiag").plan(((d, d),) * depth, eps=None, delta=delta, n=1)


def warm_up() -> float:
    """Compile the numba kernels on a 4-4-2 target for every configuration; the seconds it took."""
    start = time.perf_counter()
    tiny = gaussian_target((4, 4, 2), 0)
    for name, options in CONFIGS.values():
        approximate(tiny, random_network(tiny, n=8, seed=0, construction=name, **options), min_cardinality=False)
    return time.perf_counter() - start
