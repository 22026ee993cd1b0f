"""Search against construction: figures and table, rebuilt from a saved run folder alone.

:func:`figures` writes (PDF + PNG, from ``config.json`` and ``results.csv`` only; nothing is
recomputed):

* ``search_vs_construction`` — certified bound and adversarial error of every ticket against ρ
  (random weights and biases per target weight and bias): the generated target at the construction
  ticket's own kept fraction (``matched``) and at each fixed kept fraction, then each classifier at
  the matched fraction (errors of the unscaled classifier f); median over seeds, band min–max; the
  subset-sum rule's width at ``rule_eps`` (dash-dot) and the counting lower bound (dotted) marked
  as vertical lines (the ``rule_rho`` / ``counting_rho`` columns);
* ``search_accuracy`` — test accuracy against ρ per classifier: the construction's ticket, each
  method distilling the target on the construction's network, and each method trained on the labels
  on a plain signed-constant random MLP of the same widths (its own ρ), the target's accuracy and
  the construction's certified agreement;
* ``search_planted`` — per planted target and method: how often the search reached the planted
  error (``reached``), and the Jaccard overlap of its mask with the planted one.

:func:`tables` writes ``search_summary.tex`` (one row per method: certified bound on the generated
target near the rule's width, bound / adversarial error, distilled and label-trained accuracy,
time per epoch, planted success and overlap). :func:`main` is the experiment's command with these
as its report (``experiments/search_vs_construction.py``).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from .._atomic import savefig_formats
from ..experiment import search as experiment
from ..experiment.runs import latest
from ..experiment.summary import finite as _ok
from ..experiment.summary import median as _median
from .common import acc as _acc
from .common import load_run, write_tabular
from .common import num as _num
from .common import tex as _tex

__all__ = ["FIGURES", "TABLES", "figures", "tables", "report", "main", "latest_run_dir", "summary_table_rows"]

FIGURES = ("search_vs_construction", "search_accuracy", "search_planted")
TABLES = ("search_summary",)
CONSTRUCTION = experiment.CONSTRUCTION
COLORS = {CONSTRUCTION: "k", "edge_popup": "C0", "supermask": "C1", "biprop": "C2"}
MARKERS = {CONSTRUCTION: "o", "edge_popup": "s", "supermask": "^", "biprop": "D"}


def report(run_dir, fig_dir, table_dir) -> tuple[list[Path], list[Path]]:
    """(figures, tables) of ``run_dir``, written into ``fig_dir`` and ``table_dir``."""
    return figures(run_dir, fig_dir), tables(run_dir, table_dir)


def main(argv=None, *, prog: str = "search_vs_construction.py") -> dict:
    """Run (or resume) the experiment from a command line, then make its figures and tables."""
    return experiment.main(argv, report=report, prog=prog)


def latest_run_dir(run_root=experiment.DEFAULT_RUN_ROOT) -> Path:
    """The run folder of the last finished run under ``run_root`` (its ``latest`` pointer)."""
    return latest(run_root)


def _load(run_dir):
    return load_run(run_dir, experiment.COLUMNS, "run experiments/search_vs_construction.py")


def _per_rho(rs, key):
    """x = median measured ρ per grid point; median, min and max of ``key`` over seeds."""
    x, med, lo, hi = [], [], [], []
    for rho in sorted({r["rho_requested"] for r in rs}):
        g = [r for r in rs if r["rho_requested"] == rho]
        vals = [r[key] for r in g if _ok(r[key])]
        if not vals:
            continue
        x.append(_median([r["random_per_target"] for r in g]))
        med.append(statistics.median(vals))
        lo.append(min(vals))
        hi.append(max(vals))
    return np.array(x), np.array(med), np.array(lo), np.array(hi)


def _methods(cfg, rows) -> list[str]:
    found = {r["method"] for r in rows if r["mode"] in ("search", "labels")}
    return [m for m in cfg.get("methods") or sorted(found) if m in found]


def _keep_labels(cfg) -> list[str]:
    return ["matched"] + [f"{float(k):g}" for k in cfg.get("keeps") or ()]


def _log_x(ax) -> None:
    """Log x axis with plain tick labels at 1, 2, 5 × 10^k (readable when a panel spans less than a decade)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _marks(ax, rs, *, text=True) -> None:
    rule = _median([r["rule_rho"] for r in rs])
    counting = _median([r["counting_rho"] for r in rs])
    eps = _median([r["rule_eps"] for r in rs])
    for x, style, what in ((rule, "-.", "rule"), (counting, ":", "counting bound")):
        if _ok(x):
            ax.axvline(x, color="0.3", ls=style, lw=1.1)
            if text:
                ax.annotate(f"{what}, ε={eps:g}: ρ={x:.3g}", (x, 0.97), xycoords=("data", "axes fraction"),
                            rotation=90, fontsize=6, ha="right", va="top", xytext=(-2, 0), textcoords="offset points")


def _error_panel(ax, rows, methods, key, keep_label, *, ylabel: str) -> None:
    con = [r for r in rows if r["mode"] == "construction"]
    x, m, lo, hi = _per_rho(con, key)
    if len(x):
        own = "" if keep_label == "matched" else " (its own kept fraction)"
        ax.fill_between(x, lo, hi, color="k", alpha=0.12, lw=0)
        ax.plot(x, m, "o-", color="k", label=f"construction ({CONSTRUCTION}){own}")
    for name in methods:
        rs = [r for r in rows if r["mode"] == "search" and r["method"] == name and r["keep_label"] == keep_label]
        x, m, lo, hi = _per_rho(rs, key)
        if not len(x):
            continue
        c = COLORS.get(name, "C5")
        ax.fill_between(x, lo, hi, color=c, alpha=0.15, lw=0)
        ax.plot(x, m, MARKERS.get(name, "v") + "-", color=c, ms=4, label=name)
    _marks(ax, rows)
    _log_x(ax)
    ax.set_yscale("log")
    ax.set_xlabel("ρ = random / target weights (and biases)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def figures(run_dir, out_dir) -> list[Path]:
    """Rebuild search_vs_construction, search_accuracy and search_planted (PDF + PNG) in ``out_dir``
    from ``run_dir``'s config.json and results.csv only. Returns the paths written (a figure whose
    part is not in the run is skipped)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, rows = _load(run_dir)
    out_dir = Path(out_dir)
    run = Path(run_dir).name
    methods = _methods(cfg, rows)
    paths: list[Path] = []

    def save(fig, name):
        paths.extend(savefig_formats(fig, out_dir, name))
        plt.close(fig)

    # 1. error against width: generated target at each kept fraction, classifiers at the matched one
    gen = [r for r in rows if r["part"] == "generated"]
    clf = [r for r in rows if r["part"] == "classifier" and r["mode"] != "labels"]
    panels = [(f"{gen[0]['target']}, kept fraction: " + ("the construction's (matched)" if k == "matched"
               else k), [r for r in gen], k, "")
              for k in _keep_labels(cfg) if gen] if gen else []
    for target in sorted({r["target"] for r in clf}):
        panels.append((f"{target} (biases; errors of f = S·f̃), matched kept fraction",
                       [r for r in clf if r["target"] == target], "matched", " (box domain)"))
    if panels:
        fig, axes = plt.subplots(len(panels), 2, figsize=(10.5, 3.5 * len(panels)), squeeze=False)
        for (title, rs, keep, dom), (ax_b, ax_a) in zip(panels, axes):
            _error_panel(ax_b, rs, methods, "bound", keep, ylabel=r"certified bound on $\sup_D\|f-g\|_2$" + dom)
            _error_panel(ax_a, rs, methods, "adversarial_error", keep, ylabel="adversarial error (lower bound)")
            ax_b.set_title(title, fontsize=8.5)
            ax_a.set_title(title, fontsize=8.5)
        axes[0][0].legend(fontsize=7, loc="lower left")
        seeds = len({r["seed"] for r in rows})
        fig.suptitle(f"Search against construction on the same random networks ({seeds} seed(s); band: min–max) "
                     f"[run {run}]", fontsize=10)
        fig.tight_layout()
        save(fig, "search_vs_construction")

    # 2. accuracy against width (classifiers)
    cls = [r for r in rows if r["part"] == "classifier"]
    targets = sorted({r["target"] for r in cls})
    if targets:
        fig, axes = plt.subplots(1, len(targets), figsize=(6.0 * len(targets), 4.2), squeeze=False)
        for ax, target in zip(axes[0], targets):
            rs_t = [r for r in cls if r["target"] == target]
            con = [r for r in rs_t if r["mode"] == "construction"]
            x, m, lo, hi = _per_rho(con, "accuracy")
            ax.fill_between(x, lo, hi, color="k", alpha=0.12, lw=0)
            ax.plot(x, m, "o-", color="k", label="construction: ticket")
            x, m, _, _ = _per_rho(con, "certified_agreement")
            ax.plot(x, m, "x:", color="k", label="construction: certified agreement")
            for name in methods:
                c = COLORS.get(name, "C5")
                rs = [r for r in rs_t if r["mode"] == "search" and r["method"] == name and r["keep_label"] == "matched"]
                x, m, _, _ = _per_rho(rs, "accuracy")
                if len(x):
                    ax.plot(x, m, MARKERS.get(name, "v") + "-", color=c, ms=4,
                            label=f"{name}: distilling f on the same network (matched)")
                for keep in _keep_labels(cfg)[1:]:
                    rs = [r for r in rs_t if r["mode"] == "labels" and r["method"] == name and r["keep_label"] == keep]
                    x, m, _, _ = _per_rho(rs, "accuracy")
                    if len(x):
                        ax.plot(x, m, MARKERS.get(name, "v") + "--", color=c, ms=4, mfc="none",
                                label=f"{name}: labels, signed-constant MLP, kept {keep}")
            tacc = _median([r["target_accuracy"] for r in con])
            ax.axhline(tacc, color="0.4", ls="--", lw=1, label=f"{target.split()[0]} target's test accuracy {tacc:.3f}")
            _log_x(ax)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("ρ = random / target weights (and biases)")
            ax.set_ylabel("test accuracy")
            ax.set_title(f"{target} (median over seeds)", fontsize=9)
            ax.grid(True, alpha=0.3)
        handles, names = axes[0][0].get_legend_handles_labels()
        for ax in axes[0][1:]:                               # each panel's own target-accuracy line too
            h, n = ax.get_legend_handles_labels()
            handles, names = handles + h[-1:], names + n[-1:]
        fig.legend(handles, names, loc="lower center", ncol=3, fontsize=7, frameon=False)
        fig.tight_layout(rect=(0, 0.2, 1, 1))
        save(fig, "search_accuracy")

    # 3. planted tickets: success and overlap
    pl = [r for r in rows if r["part"] in ("planted", "planted_construction") and r["mode"] == "planted"
          and r["method"] != "planted"]
    if pl:
        groups = sorted({(r["part"], r["target"]) for r in pl}, key=lambda g: (g[0] != "planted", g[1]))
        labels = [t if p == "planted" else f"{t}\n(ours: construction)" for p, t in groups]
        fig, (ax_s, ax_j) = plt.subplots(1, 2, figsize=(11.0, 3.8))
        width = 0.8 / max(1, len(methods))
        for i, name in enumerate(methods):
            succ, jac, jlo, jhi = [], [], [], []
            for p, t in groups:
                rs = [r for r in pl if r["part"] == p and r["target"] == t and r["method"] == name]
                succ.append(np.mean([bool(r["reached"]) for r in rs]) if rs else np.nan)
                js = [r["jaccard"] for r in rs if _ok(r["jaccard"])]
                jac.append(statistics.median(js) if js else np.nan)
                jlo.append(min(js) if js else np.nan)
                jhi.append(max(js) if js else np.nan)
            xs = np.arange(len(groups)) + (i - (len(methods) - 1) / 2) * width
            c = COLORS.get(name, "C5")
            ax_s.bar(xs, succ, width, color=c, label=name)
            ax_j.bar(xs, jac, width, color=c, label=name)
            ax_j.errorbar(xs, jac, yerr=[np.array(jac) - np.array(jlo), np.array(jhi) - np.array(jac)], fmt="none",
                          ecolor="0.2", lw=0.8, capsize=2)
        tol = cfg.get("reach_tol")
        for ax in (ax_s, ax_j):
            ax.set_xticks(np.arange(len(groups)))
            ax.set_xticklabels(labels, fontsize=7)
            ax.set_ylim(0, 1.05)
            ax.grid(True, axis="y", alpha=0.3)
        ax_s.set_ylabel("fraction of seeds that reached the planted error")
        ax_s.set_title(f"reached: adversarial error ≤ max(2 × planted's, {tol:g} × max‖f‖)", fontsize=8)
        ax_j.set_ylabel("Jaccard overlap with the planted mask")
        ax_j.set_title("mask overlap (median; bars: min–max over seeds)", fontsize=8)
        ax_s.legend(fontsize=7)
        fig.suptitle(f"Planted tickets: does search find them? [run {run}]", fontsize=10)
        fig.tight_layout()
        save(fig, "search_planted")
    return paths


# ----------------------------------------------------------------------------- table
def summary_table_rows(cfg, rows) -> tuple[list[str], list[list[str]], dict]:
    """(header, one row of cells per method, notes): what search_summary.tex holds (module docstring)."""
    methods = [CONSTRUCTION] + _methods(cfg, rows)
    gen = [r for r in rows if r["part"] == "generated" and r["keep_label"] == "matched"
           and r["mode"] in ("construction", "search")]
    rule = _median([r["rule_rho"] for r in gen])
    grid = sorted({r["rho_requested"] for r in gen})
    anchor = min(grid, key=lambda g: abs(math.log(g / rule))) if grid and _ok(rule) else None
    at = [r for r in gen if r["rho_requested"] == anchor]
    anchor_rho = _median([r["random_per_target"] for r in at])
    clf = [r for r in rows if r["part"] == "classifier"]
    targets = sorted({r["target"] for r in clf})
    top = {t: max(r["rho_requested"] for r in clf if r["target"] == t) for t in targets}
    planted = [r for r in rows if r["part"] in ("planted", "planted_construction") and r["method"] != "planted"]
    header = ["method", f"bound, $\\rho\\approx{anchor_rho:.0f}$" if _ok(anchor_rho) else "bound",
              "bound/adv."]
    header += [f"{t.split()[0]} acc." for t in targets] + [f"{t.split()[0]} labels" for t in targets]
    header += ["s/epoch", "planted reached", "Jaccard"]
    out = []
    for name in methods:
        mode = "construction" if name == CONSTRUCTION else "search"
        cells = [_tex(name)]
        cells.append(_num(_median([r["bound"] for r in at if r["method"] == name and r["mode"] == mode])))
        cells.append(_num(_median([r["bound_over_adversarial"] for r in gen
                                   if r["method"] == name and r["mode"] == mode])))
        for t in targets:
            rs = [r for r in clf if r["target"] == t and r["rho_requested"] == top[t] and r["method"] == name
                  and r["mode"] == mode and r["keep_label"] == "matched"]
            cells.append(_acc(_median([r["accuracy"] for r in rs])))
        for t in targets:
            keep = _keep_labels(cfg)[1] if len(_keep_labels(cfg)) > 1 else None
            rs = [r for r in clf if r["target"] == t and r["rho_requested"] == top[t] and r["method"] == name
                  and r["mode"] == "labels" and r["keep_label"] == keep]
            cells.append(_acc(_median([r["accuracy"] for r in rs])))
        if name == CONSTRUCTION:
            cells += ["--", "--", "--"]
        else:
            t_ep = _median([r["time_per_epoch_s"] for r in rows if r["method"] == name and r["mode"] == "search"
                            and r["part"] == "generated"])
            pr = [r for r in planted if r["method"] == name]
            reached = sum(bool(r["reached"]) for r in pr)
            cells += [f"{t_ep:.3f}" if _ok(t_ep) else "--", f"{reached}/{len(pr)}" if pr else "--",
                      f"{_median([r['jaccard'] for r in pr]):.3f}" if pr else "--"]
        out.append(cells)
    notes = {"anchor": anchor, "anchor_rho": anchor_rho, "rule_rho": rule, "top": top}
    return header, out, notes


def tables(run_dir, out_dir) -> list[Path]:
    """Rebuild search_summary.tex in ``out_dir`` from ``run_dir`` alone; returns the path written."""
    cfg, rows = _load(run_dir)
    header, body, notes = summary_table_rows(cfg, rows)
    return [write_tabular(Path(out_dir) / "search_summary.tex", "experiments/search_vs_construction.py",
                          Path(run_dir).name, header, body, "l" + "r" * (len(header) - 1))]
