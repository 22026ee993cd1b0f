"""Structure or weights? Figures and tables, rebuilt from a saved run folder alone.

:func:`figures` writes (PDF + PNG, from ``config.json`` and ``results.csv`` only; nothing is
recomputed):

* ``structure_vs_weights`` — test accuracy against the fraction of the random network's weights
  whose value changed, one panel per data set at the largest width where every method ran: the
  mask alone (at the axis's 0 position), the same mask with a budget of k·N weights trained
  (sparse fine-tuning), random masks and RigL at fixed densities, IMP's rounds and dense training;
  median over seeds, bars min–max;
* ``structure_width`` — test accuracy of the mask alone, of sparse fine-tuning at each budget and of
  dense training against the width (top), and the gap to dense training (bottom: per seed on the
  same network, then the median; bars min–max);
* ``structure_continual`` — continual learning on split tasks: each method's accuracy on every task
  after the last one (top), forgetting per task (middle), and the average final accuracy against the
  bits stored per task (bottom).

:func:`tables` writes ``structure_accuracy.tex`` (per method and setting, per data set at the
largest width where every method ran: density, changed fraction, test accuracy; the instability
rows' error barrier), ``structure_width.tex`` (per width: mask only, dense, the gap between them,
and sparse fine-tuning at the smallest budget) and ``structure_continual.tex`` (per method: average
accuracy, mean and largest forgetting, bits per task, task-inference accuracy). :func:`main` is the
experiment's command with these as its report (``experiments/structure_vs_weights.py``).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from .._atomic import savefig_formats
from ..experiment import structure as experiment
from ..experiment.runs import latest
from ..experiment.summary import finite as _ok
from ..experiment.summary import median as _median
from .common import acc as _acc
from .common import load_run, write_tabular
from .common import num as _num
from .common import tex as _tex

__all__ = ["FIGURES", "TABLES", "figures", "tables", "report", "main", "latest_run_dir", "accuracy_table_rows",
           "width_table_rows", "continual_table_rows"]

FIGURES = ("structure_vs_weights", "structure_width", "structure_continual")
TABLES = ("structure_accuracy", "structure_width", "structure_continual")
COLORS = {"mask_only": "k", "sparse_finetune": "C0", "random_mask": "C1", "rigl": "C2", "imp": "C4",
          "dense": "C3", "supsup": "k", "supsup_inferred": "0.5", "sequential_sparse": "C0",
          "sequential_dense": "C3"}
MARKERS = {"mask_only": "o", "sparse_finetune": "s", "random_mask": "^", "rigl": "v", "imp": "D", "dense": "*"}
LABELS = {"mask_only": "mask only (edge-popup)", "sparse_finetune": "mask + k·N weights trained (sparse fine-tuning)",
          "random_mask": "random mask, weights trained", "rigl": "RigL", "imp": "IMP (rewound), per round",
          "dense": "dense training", "instability": "IMP instability", "supsup": "SupSup, task given",
          "supsup_inferred": "SupSup, task inferred", "sequential_sparse": "sequential sparse fine-tuning",
          "sequential_dense": "sequential dense fine-tuning"}
DATASET_NAMES = {"digits": "digits", "mnist1d": "MNIST-1D"}


def report(run_dir, fig_dir, table_dir) -> tuple[list[Path], list[Path]]:
    """(figures, tables) of ``run_dir``, written into ``fig_dir`` and ``table_dir``."""
    return figures(run_dir, fig_dir), tables(run_dir, table_dir)


def main(argv=None, *, prog: str = "structure_vs_weights.py") -> dict:
    """Run (or resume) the experiment from a command line, then make its figures and tables."""
    return experiment.main(argv, report=report, prog=prog)


def latest_run_dir(run_root=experiment.DEFAULT_RUN_ROOT) -> Path:
    """The run folder of the last finished run under ``run_root`` (its ``latest`` pointer)."""
    return latest(run_root)


def _load(run_dir):
    return load_run(run_dir, experiment.COLUMNS, "run experiments/structure_vs_weights.py")


def _spread(vals) -> tuple[float, float, float]:
    """(median, min, max) of the finite values (nan when none)."""
    vals = [v for v in vals if _ok(v)]
    if not vals:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(vals), min(vals), max(vals)


def _datasets(rows, part: str) -> list[str]:
    found = {r["dataset"] for r in rows if r["part"] == part}
    return [d for d in experiment.DATASETS if d in found] + sorted(found - set(experiment.DATASETS))


def _settings(rows, method: str) -> list[str]:
    return sorted({r["setting"] for r in rows if r["method"] == method}, key=experiment._setting_order)


def _points(rows, method: str, key: str = "test_accuracy") -> list[tuple[float, float, float, float, str]]:
    """Per setting of ``method``: (median changed fraction, median, min, max of ``key``, setting)."""
    out = []
    for s in _settings(rows, method):
        rs = [r for r in rows if r["method"] == method and r["setting"] == s]
        m, lo, hi = _spread([r[key] for r in rs])
        out.append((_median([r["changed_fraction"] for r in rs]), m, lo, hi, s))
    return out


def _zero_position(rows) -> float:
    """Where 0 sits on the log axis: a decade below the smallest positive changed fraction (≤ 1e-4)."""
    pos = [r["changed_fraction"] for r in rows if _ok(r["changed_fraction"]) and r["changed_fraction"] > 0]
    low = min(pos) if pos else 1e-3
    return min(1e-4, 10 ** (math.floor(math.log10(low)) - 1))


# ----------------------------------------------------------------------------- figures
def _accuracy_panel(ax, rows, *, zero: float) -> None:
    def x_of(c):
        return zero if c <= 0 else c

    mask = _points(rows, "mask_only")
    for method in ("mask_only", "sparse_finetune", "random_mask", "rigl", "imp", "dense"):
        pts = _points(rows, method)
        if method == "sparse_finetune":
            pts = mask + pts            # k = 0 is the mask alone: the curve starts there
        if not pts:
            continue
        xs = np.array([x_of(p[0]) for p in pts])
        ys = np.array([p[1] for p in pts])
        err = np.array([[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]])
        c, mk = COLORS[method], MARKERS[method]
        style = "" if method in ("mask_only", "dense") else "-"
        ax.errorbar(xs, ys, yerr=err, fmt=mk + style, color=c, ms=8 if method in ("mask_only", "dense") else 5,
                    capsize=2, lw=1.2, elinewidth=0.8, label=LABELS[method], zorder=3 if method == "mask_only" else 2)
        if method == "sparse_finetune":
            for x, y, p in zip(xs[len(mask):], ys[len(mask):], pts[len(mask):]):
                ax.annotate(p[4], (x, y), xytext=(3, -9), textcoords="offset points", fontsize=6, color=c)
        if method == "imp":
            for x, y, p in zip(xs, ys, pts):
                ax.annotate(p[4].replace("round ", "r"), (x, y), xytext=(3, 3), textcoords="offset points",
                            fontsize=6, color=c)
    ax.set_xscale("log")
    ticks = [zero] + [10.0 ** e for e in range(int(round(math.log10(zero))) + 1, 1)]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0"] + [f"{t:g}" for t in ticks[1:]])
    ax.set_xlim(zero / 2.5, 1.6)
    ax.axvspan(zero * 1.6, zero * 3.5, color="0.92", lw=0, zorder=0)       # the axis break between 0 and 10^k
    ax.axhline(0.1, color="0.5", ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("changed fraction: weights whose value is not the random one / all N")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="major", alpha=0.3)


def _width_records(rows, dataset: str):
    """Per method/setting on the width axis: widths, median, min, max of the test accuracy, and of the
    gap to dense training on the same network (per seed)."""
    rs = [r for r in rows if r["part"] == "methods" and r["dataset"] == dataset]
    widths = sorted({r["width"] for r in rs})
    dense = {(r["width"], r["seed"]): r["test_accuracy"] for r in rs if r["method"] == "dense"}
    series = [("mask_only", "k=0")] + [("sparse_finetune", s) for s in _settings(rs, "sparse_finetune")]
    out = []
    for method, setting in series:
        acc, gap = [], []
        for w in widths:
            g = [r for r in rs if r["method"] == method and r["setting"] == setting and r["width"] == w]
            acc.append(_spread([r["test_accuracy"] for r in g]))
            gap.append(_spread([dense[(w, r["seed"])] - r["test_accuracy"] for r in g
                                if _ok(dense.get((w, r["seed"]))) and _ok(r["test_accuracy"])]))
        out.append((method, setting, acc, gap))
    dense_acc = [_spread([r["test_accuracy"] for r in rs if r["method"] == "dense" and r["width"] == w])
                 for w in widths]
    return widths, out, dense_acc


def _continual_records(rows, dataset: str):
    rs = [r for r in rows if r["part"] == "continual" and r["dataset"] == dataset]
    keys = sorted({(r["method"], r["setting"]) for r in rs},
                  key=lambda k: (experiment.ORDER.index(k[0]) if k[0] in experiment.ORDER else 99,
                                 experiment._setting_order(k[1])))
    out = []
    for method, setting in keys:
        g = [r for r in rs if r["method"] == method and r["setting"] == setting]
        final = [[float(v) for v in r["final_accuracies"].split(";")] for r in g if r["final_accuracies"]]
        forget = [[float(v) for v in r["forgetting"].split(";")] for r in g if r["forgetting"]]
        out.append(dict(method=method, setting=setting, rows=g,
                        final=np.median(np.array(final), axis=0) if final else np.array([]),
                        forgetting=np.median(np.array(forget), axis=0) if forget else np.array([]),
                        average=_spread([r["average_accuracy"] for r in g]),
                        bits=_median([r["bits_per_task"] for r in g])))
    return out


def _continual_label(rec) -> str:
    m, s = rec["method"], rec["setting"]
    if m == "sequential_sparse":
        return f"{LABELS[m]}, {s}"
    if m == "supsup_inferred":
        return f"{LABELS[m]} ({s.split(': ', 1)[-1]})"
    return LABELS.get(m, m)


def _continual_style(rec, i: int) -> tuple[str, str | None]:
    """(colour, hatch) of the i-th record of its method."""
    if rec["method"] == "sequential_sparse":
        return ("C0", "C9", "C5", "C8", "C6")[i % 5], None
    if rec["method"] == "supsup_inferred":
        return ("0.45", "0.7", "0.3")[i % 3], ("//", "..", "xx")[i % 3]
    return COLORS.get(rec["method"], "C7"), None


def _full_width(rows, dataset: str) -> int:
    """The largest width at which every method group of the run ran (the baselines run at fewer widths)."""
    rs = [r for r in rows if r["part"] == "methods" and r["dataset"] == dataset]
    base = [r["width"] for r in rs if r["group"] not in experiment.WIDTH_METHODS]
    return max(base) if base else max(r["width"] for r in rs)


def _spread_bars(ax, x, spreads, **kw) -> None:
    """Error bars of (median, min, max) triples at ``x``: the median, bars min–max."""
    m = np.array([v[0] for v in spreads])
    err = np.array([[v[0] - v[1] for v in spreads], [v[2] - v[0] for v in spreads]])
    ax.errorbar(x, m, yerr=err, **kw)


def _legend_title(fig, axes, title: str, *, bottom: float) -> None:
    """The first panel's legend below the panels (``bottom``: the height it takes), and the title."""
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, bottom, 1, 1))


def figures(run_dir, out_dir) -> list[Path]:
    """Rebuild structure_vs_weights, structure_width and structure_continual (PDF + PNG) in ``out_dir``
    from ``run_dir``'s config.json and results.csv only. Returns the paths written (a figure whose part is
    not in the run is skipped)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, rows = _load(run_dir)
    out_dir = Path(out_dir)
    run = Path(run_dir).name
    paths: list[Path] = []

    def save(fig, name):
        paths.extend(savefig_formats(fig, out_dir, name))
        plt.close(fig)

    seeds = len({r["seed"] for r in rows})
    meth = [r for r in rows if r["part"] == "methods"]
    data = _datasets(rows, "methods")
    if data:
        # 1. accuracy against the changed fraction, at the largest width
        fig, axes = plt.subplots(1, len(data), figsize=(6.2 * len(data), 4.6), squeeze=False)
        for ax, dataset in zip(axes[0], data):
            width = _full_width(rows, dataset)
            rs = [r for r in meth if r["dataset"] == dataset and r["width"] == width]
            _accuracy_panel(ax, rs, zero=_zero_position(meth))
            ax.set_title(f"{DATASET_NAMES.get(dataset, dataset)}, {rs[0]['dims']} random MLP "
                         f"(N = {rs[0]['weights']:,})", fontsize=9)
        _legend_title(fig, axes, f"Structure or weights: one random network, every method (median of {seeds} "
                      f"seed(s); bars min–max) [run {run}]", bottom=0.1)
        save(fig, "structure_vs_weights")

        # 2. against width
        fig, axes = plt.subplots(2, len(data), figsize=(6.0 * len(data), 7.2), squeeze=False, sharex="col")
        for col, dataset in enumerate(data):
            widths, series, dense_acc = _width_records(rows, dataset)
            ax_a, ax_g = axes[0][col], axes[1][col]
            x = np.array(widths, dtype=float)
            cols = {"mask_only": "k"}
            for i, (method, setting, acc, gap) in enumerate(series):
                c = cols.get(method, plt.get_cmap("Blues")(0.4 + 0.6 * i / max(1, len(series) - 1)))
                label = LABELS["mask_only"] if method == "mask_only" else f"mask + {setting}·N trained"
                mk = "o" if method == "mask_only" else "s"
                for ax, vals in ((ax_a, acc), (ax_g, gap)):
                    _spread_bars(ax, x, vals, fmt=mk + "-", color=c, ms=5, capsize=2, lw=1.2, elinewidth=0.8,
                                 label=label)
            _spread_bars(ax_a, x, dense_acc, fmt="*-", color=COLORS["dense"], ms=8, capsize=2, lw=1.2,
                         label=LABELS["dense"])
            ax_g.axhline(0, color=COLORS["dense"], lw=1)
            for ax in (ax_a, ax_g):
                ax.set_xscale("log", base=2)
                ax.set_xticks(x)
                ax.set_xticklabels([str(w) for w in widths])
                ax.grid(True, alpha=0.3)
            ax_a.set_ylim(0, 1.02)
            ax_a.set_ylabel("test accuracy")
            ax_a.set_title(f"{DATASET_NAMES.get(dataset, dataset)}: d-h-h-10 random MLP", fontsize=9)
            ax_g.set_ylabel("gap: dense − method (test acc., same network)")
            ax_g.set_xlabel("hidden width h")
        _legend_title(fig, axes, f"Does the mask-only gap close with width? (median of {seeds} seed(s); bars "
                      f"min–max) [run {run}]", bottom=0.08)
        save(fig, "structure_width")

    # 3. continual learning
    cdata = _datasets(rows, "continual")
    if cdata:
        fig, axes = plt.subplots(3, len(cdata), figsize=(6.2 * len(cdata), 9.6), squeeze=False)
        for col, dataset in enumerate(cdata):
            recs = _continual_records(rows, dataset)
            ax_f, ax_g, ax_b = axes[0][col], axes[1][col], axes[2][col]
            bar = 0.8 / max(1, len(recs))
            seen: dict[str, int] = {}
            for i, rec in enumerate(recs):
                c, hatch = _continual_style(rec, seen.get(rec["method"], 0))
                seen[rec["method"]] = seen.get(rec["method"], 0) + 1
                label = _continual_label(rec)
                off = (i - (len(recs) - 1) / 2) * bar
                ax_f.bar(np.arange(len(rec["final"])) + off, rec["final"], bar, color=c, hatch=hatch,
                         edgecolor="w" if hatch else None, label=label)
                ax_g.bar(np.arange(len(rec["forgetting"])) + off, rec["forgetting"], bar, color=c, hatch=hatch,
                         edgecolor="w" if hatch else None, label=label)
                m, lo, hi = rec["average"]
                if _ok(rec["bits"]) and rec["bits"] > 0:
                    ax_b.errorbar([rec["bits"]], [m], yerr=[[m - lo], [hi - m]], fmt="o", color=c, ms=7,
                                  capsize=2, label=label)
            rs = [r for r in rows if r["part"] == "continual" and r["dataset"] == dataset]
            T = int(_median([r["tasks"] for r in rs]))
            ax_f.set_xticks(range(T))
            ax_f.set_xticklabels([f"task {t}" for t in range(T)])
            ax_f.set_ylim(0, 1.02)
            ax_f.axhline(0.5 if T == 5 else 1 / max(1, 10 // T), color="0.5", ls=":", lw=1)
            ax_f.set_ylabel("test accuracy after the last task")
            ax_f.set_title(f"{DATASET_NAMES.get(dataset, dataset)}: {T} tasks, {rs[0]['dims']} random MLP",
                           fontsize=9)
            ax_g.set_xticks(range(T - 1))
            ax_g.set_xticklabels([f"task {t}" for t in range(T - 1)])
            ax_g.axhline(0, color="k", lw=0.8)
            ax_g.set_ylabel("forgetting (best earlier − final)")
            ax_b.set_xscale("log")
            ax_b.set_ylim(0, 1.02)
            ax_b.set_xlabel("bits stored per task beyond the random network's seed")
            ax_b.set_ylabel("average accuracy after the last task")
            for ax in (ax_f, ax_g, ax_b):
                ax.grid(True, alpha=0.3, axis="y" if ax is not ax_b else "both")
        _legend_title(fig, axes, f"Continual learning on one random network (median of {seeds} seed(s)) "
                      f"[run {run}]", bottom=0.07)
        save(fig, "structure_continual")
    return paths


# ----------------------------------------------------------------------------- tables
def _frac(v) -> str:
    """A fraction: three decimals from 0.1 on, two significant digits below (plain decimals down to 1e-4)."""
    if not _ok(v):
        return "--"
    if v == 0:
        return "0"
    if v >= 0.0995:
        return f"{v:.3f}"
    text = f"{v:#.2g}"
    return _num(v) if "e" in text else text


def _shown_setting(r) -> str:
    """The setting as tables show it: an instability row's late rewind step differs per data set (a
    fraction of its steps), so it is shown as 'rewind t' (the step is in the row's ``rewind``)."""
    if r["method"] == "instability" and _ok(r["round"]) and _ok(r["rewind"]):
        return f"round {r['round']}, rewind {'0' if r['rewind'] == 0 else 't'}"
    return r["setting"]


def _setting_tex(setting: str) -> str:
    s = setting.replace("density=", "$d=").replace("k=", "$k=")
    if "$" in s:
        s += "$"
    return _tex(s) if "$" not in s else s


def accuracy_table_rows(rows) -> tuple[list[str], list[list[str]], dict]:
    """(header, cells per method and setting, notes): structure_accuracy.tex at each data set's largest width."""
    meth = [r for r in rows if r["part"] == "methods"]
    data = _datasets(rows, "methods")
    top = {d: _full_width(rows, d) for d in data}
    at = {d: [r for r in meth if r["dataset"] == d and r["width"] == top[d]] for d in data}
    keys = sorted({(r["method"], _shown_setting(r)) for d in data for r in at[d]},
                  key=lambda k: (experiment.ORDER.index(k[0]) if k[0] in experiment.ORDER else 99,
                                 experiment._setting_order(k[1].replace("rewind t", "rewind inf"))))
    header = ["method", "setting"]
    for d in data:
        name = DATASET_NAMES.get(d, d)
        header += [f"{name} density", "changed", "test acc.", "barrier"]
    body = []
    for method, setting in keys:
        cells = [_tex(method), _setting_tex(setting)]
        for d in data:
            g = [r for r in at[d] if r["method"] == method and _shown_setting(r) == setting]
            cells += [_frac(_median([r["density"] for r in g])), _frac(_median([r["changed_fraction"] for r in g])),
                      _acc(_median([r["test_accuracy"] for r in g])),
                      _acc(_median([r["barrier"] for r in g])) if method == "instability" else "--"]
        body.append(cells)
    rewinds = {d: sorted({r["rewind"] for r in at[d] if r["method"] == "instability" and r["rewind"]}) for d in data}
    return header, body, {"widths": top, "late_rewinds": rewinds}


def width_table_rows(rows) -> tuple[list[str], list[list[str]], dict]:
    """(header, cells per width, notes): structure_width.tex — mask only, dense, their gap (per seed, median)
    and sparse fine-tuning at the smallest budget, per data set."""
    data = _datasets(rows, "methods")
    header = ["$h$"]
    per: dict = {}
    smallest = None
    for d in data:
        widths, series, dense_acc = _width_records(rows, d)
        sft = [s for s in series if s[0] == "sparse_finetune"]
        smallest = sft[0][1] if sft else None
        per[d] = (widths, series, dense_acc, sft[0] if sft else None)
        name = DATASET_NAMES.get(d, d)
        header += [f"{name} mask only", "dense", "gap"] + ([f"mask + ${smallest}$"] if sft else [])
    all_widths = sorted({w for d in data for w in per[d][0]})
    body = []
    for w in all_widths:
        cells = [str(w)]
        for d in data:
            widths, series, dense_acc, sft = per[d]
            if w not in widths:
                cells += ["--"] * (3 + (sft is not None))
                continue
            i = widths.index(w)
            mask = series[0]
            cells += [_acc(mask[2][i][0]), _acc(dense_acc[i][0]), _acc(mask[3][i][0])]
            if sft is not None:
                cells.append(_acc(sft[2][i][0]))
        body.append(cells)
    return header, body, {"smallest_budget": smallest}


def continual_table_rows(rows) -> tuple[list[str], list[list[str]], dict]:
    """(header, cells per method, notes): structure_continual.tex."""
    data = _datasets(rows, "continual")
    recs = {d: _continual_records(rows, d) for d in data}
    keys = []
    for d in data:
        for rec in recs[d]:
            if (rec["method"], rec["setting"]) not in keys:
                keys.append((rec["method"], rec["setting"]))
    header = ["method", "setting"]
    for d in data:
        header += [f"{DATASET_NAMES.get(d, d)} avg. acc.", "forgetting", "max forg.", "bits/task", "task inf."]
    body = []
    for method, setting in keys:
        cells = [_tex(method), _setting_tex(setting)]
        for d in data:
            g = [r for rec in recs[d] if (rec["method"], rec["setting"]) == (method, setting) for r in rec["rows"]]
            ti = _median([r["task_inference_accuracy"] for r in g])
            cells += [_acc(_median([r["average_accuracy"] for r in g])),
                      _acc(_median([r["forgetting_mean"] for r in g])),
                      _acc(_median([r["forgetting_max"] for r in g])),
                      _num(_median([r["bits_per_task"] for r in g])), _acc(ti)]
        body.append(cells)
    return header, body, {}


def _write_table(path: Path, run: str, header: list[str], body: list[list[str]], align: str) -> Path:
    return write_tabular(path, "experiments/structure_vs_weights.py", run, header, body, align)


def tables(run_dir, out_dir) -> list[Path]:
    """Rebuild structure_accuracy.tex, structure_width.tex and structure_continual.tex in ``out_dir`` from
    ``run_dir`` alone (a table whose part is not in the run is skipped); returns the paths written."""
    _, rows = _load(run_dir)
    run = Path(run_dir).name
    out_dir = Path(out_dir)
    paths = []
    if any(r["part"] == "methods" for r in rows):
        header, body, _ = accuracy_table_rows(rows)
        paths.append(_write_table(out_dir / "structure_accuracy.tex", run, header, body,
                                  "ll" + "r" * (len(header) - 2)))
        header, body, _ = width_table_rows(rows)
        paths.append(_write_table(out_dir / "structure_width.tex", run, header, body, "r" * len(header)))
    if any(r["part"] == "continual" for r in rows):
        header, body, _ = continual_table_rows(rows)
        paths.append(_write_table(out_dir / "structure_continual.tex", run, header, body,
                                  "ll" + "r" * (len(header) - 2)))
    return paths
