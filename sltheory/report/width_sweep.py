"""The width sweep's figures and tables, rebuilt from a saved run folder alone.

:func:`figures` writes width_sweep, success_rate, kept_per_target and trained_accuracy (PDF + PNG),
and width_sweep_conv when the run has conv / residual targets; :func:`tables` sweep_summary.tex,
trained.tex, conv_sweep.tex and conv_widths.tex (complete ``tabular`` environments), both from
``config.json`` and ``results.csv`` only: nothing is recomputed but the theorems' width curves
(:func:`sltheory.experiment.width_sweep.theorem_curve`) and the counting lower bound (for conv
targets from the per-layer kernel-parameter counts in config.json; their rule widths are the
``rule_rho`` column).
:func:`main` is the width sweep's command with these as its report (``experiments/width_sweep.py``).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from .._atomic import savefig_formats
from ..bounds import counting_lower_bound, natale_min_parameters
from ..experiment import width_sweep as sweep
from ..experiment.runs import atomic_write_text, latest
from ..experiment.sweep import COLUMNS
from ..experiment.width_sweep import _median, conv_width_records, counting_rho, summary_records, theorem_curve
from .common import load_run

__all__ = ["FIGURES", "TABLES", "figures", "tables", "report", "main", "latest_run_dir", "counting_curve",
           "natale_curve", "conv_figure", "conv_tables"]

FIGURES = ("width_sweep", "success_rate", "kept_per_target", "trained_accuracy", "width_sweep_conv")
TABLES = ("sweep_summary", "trained", "conv_sweep", "conv_widths")


def report(run_dir, fig_dir, table_dir) -> tuple[list[Path], list[Path]]:
    """(figures, tables) of ``run_dir``, written into ``fig_dir`` and ``table_dir``."""
    return figures(run_dir, fig_dir), tables(run_dir, table_dir)


def main(argv=None, *, prog: str = "width_sweep.py") -> dict:
    """Run (or resume) the width sweep from a command line, then make its figures and tables."""
    return sweep.main(argv, report=report, prog=prog)


def latest_run_dir(run_root=sweep.DEFAULT_RUN_ROOT) -> Path:
    """The run folder of the last finished sweep under ``run_root`` (its ``latest`` pointer)."""
    return latest(run_root)


COLORS = {"subset_sum": "C0", "burkholz": "C1", "orseau": "C2", "malach": "C3", "subset_sum_blockdiag": "C4",
          "pensia": "C5", "natale": "C6", "malach_product": "C7", "orseau_halving": "C8", "binary": "C9",
          "conv_subset_sum": "C0", "conv_burkholz": "C1"}


def _is_conv(r) -> bool:
    return (r.get("family") or "mlp") == "conv"


def _load(run_dir):
    return load_run(run_dir, COLUMNS, "run experiments/width_sweep.py first")


def _dims_of(label: str) -> tuple[int, ...]:
    return tuple(int(v) for v in label.split()[-1].split("-"))


def counting_curve(dims, eps_grid):
    """ρ of the counting lower bound (Pensia et al., Theorem 2; its rectangular form, our reading) at each ε."""
    n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return np.array([sum(float(counting_lower_bound(a, b, float(e))) for a, b in zip(dims[:-1], dims[1:]))
                     / n_target for e in eps_grid])


def natale_curve(dims, eps, kept_grid, max_rho=1e12):
    """(ρ, κ) of Natale et al. 2024's Theorem 5 (:func:`sltheory.bounds.natale_lower_bound`) at ε:
    for each κ = kept weights per target weight in ``kept_grid``, the least ρ = random weights per
    target weight with n_i ≥ (d_in d_out/2)·log₂(k_i/ε)/H₂(k_i/n_i) in every layer, k_i = ⌈κ d_in d_out⌉.
    Theorem 5 is stated for one d×d linear map; applying it per layer (rectangular d_in·d_out) and
    summing is our reading, as for :func:`counting_curve`. Points with ρ > ``max_rho`` are dropped."""
    n_target = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    xs, ys = [], []
    for kappa in kept_grid:
        ks = [math.ceil(kappa * a * b) for a, b in zip(dims[:-1], dims[1:])]
        if any(not eps < k for k in ks):
            continue
        rho = sum(natale_min_parameters(a, b, k, eps) for (a, b), k in zip(zip(dims[:-1], dims[1:]), ks)) / n_target
        if rho <= max_rho:
            xs.append(rho)
            ys.append(float(kappa))
    return np.array(xs), np.array(ys)


def _per_rho(rs, key):
    xs = sorted({r["rho_requested"] for r in rs})
    x, med, lo, hi = [], [], [], []
    for rho in xs:
        g = [r for r in rs if r["rho_requested"] == rho]
        vals = [r[key] for r in g if r[key] is not None]
        if not vals:
            continue
        x.append(_median([r["random_per_target"] for r in g]))
        med.append(statistics.median(vals))
        lo.append(min(vals))
        hi.append(max(vals))
    return np.array(x), np.array(med), np.array(lo), np.array(hi)


def _bound_and_attack(ax, rs, color):
    """One panel's certified bound and adversarial error per grid ρ (median line, min–max band over
    seeds); returns the x values (median measured ρ), the attack's lower band and the bound's upper
    band (for the axis limits)."""
    x, b, blo, bhi = _per_rho(rs, "best_bound")
    _, a, alo, ahi = _per_rho(rs, "adversarial_error")
    ax.fill_between(x, blo, bhi, color=color, alpha=0.2, lw=0)
    ax.plot(x, b, "o-", color=color, label="certified bound (median; band: min–max over seeds)")
    ax.fill_between(x, alo, ahi, color="gray", alpha=0.2, lw=0)
    ax.plot(x, a, "s--", color="k", ms=4, label="adversarial error (lower bound on the sup)")
    return x, alo, bhi


def figures(run_dir, out_dir) -> list[Path]:
    """Rebuild width_sweep, success_rate, kept_per_target and trained_accuracy (PDF + PNG) in
    ``out_dir`` from ``run_dir``'s config.json and results.csv only. Returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, all_rows = _load(run_dir)
    out_dir = Path(out_dir)
    delta = cfg["delta"]
    first_eps = max(r["eps"] for r in all_rows)
    rows = [r for r in all_rows if not _is_conv(r)]         # the MLP figures; conv rows: conv_figure
    paths: list[Path] = []
    if not rows:
        return conv_figure(run_dir, out_dir)
    one = [r for r in rows if r["eps"] == first_eps]       # one row per job
    names = [n for n in list(cfg["rhos"]) + [t for t in cfg.get("trained_rhos", {}) if t not in cfg["rhos"]]
             if any(r["construction"] == n for r in rows)]
    gauss = sorted({r["target"] for r in rows if r["target"].startswith("gaussian")})
    trained = sorted({r["target"] for r in rows if r["target_accuracy"] is not None})
    eps_grid = np.logspace(-12, math.log10(0.5), 60)

    def save(fig, name):
        paths.extend(savefig_formats(fig, out_dir, name))
        plt.close(fig)

    # 1. error vs overparameterization, one panel per construction (Gaussian target)
    target = gauss[0] if gauss else sorted({r["target"] for r in rows})[0]
    dims = _dims_of(target)
    cols = min(2, len(names))
    nrows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.6 * cols, 4.0 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        rs = [r for r in one if r["construction"] == name and r["target"] == target]
        c = COLORS.get(name, "C5")
        x, alo, bhi = _bound_and_attack(ax, rs, c)
        ax.plot(theorem_curve(name, dims, delta, eps_grid), eps_grid, "-.", color=c, lw=1.5,
                label=rf"theorem: width for error $\varepsilon$ ($\delta$={delta:g})")
        ax.plot(counting_curve(dims, eps_grid), eps_grid, ":", color="k", lw=1.5,
                label="counting lower bound (any construction)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo_x = min(x.min() if len(x) else 10, 1) / 1.5
        hi_x = max(x.max() if len(x) else 10, 10) * 30
        ax.set_xlim(lo_x, hi_x)
        ylo = min(np.nanmin(alo) if len(alo) else 1e-6, 1e-6)
        ax.set_ylim(max(ylo / 3, 1e-13), 10)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("overparameterization  ρ = random weights / target weights")
        ax.set_ylabel(r"$\sup_{\|x\|_2\leq 1}\|f(x)-g(x)\|_2$")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper right")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    n_seeds = len({r["seed"] for r in one})
    fig.suptitle(f"Error vs. overparameterization, target {target} (‖W_i‖₂ = 1), {n_seeds} seed(s) per point "
                 f"[run {Path(run_dir).name}]", fontsize=10)
    fig.tight_layout()
    save(fig, "width_sweep")

    # 2. success rate vs width, theorem's width marked (Gaussian target), one panel per ε
    eps_values = sorted({r["eps"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(eps_values), figsize=(5.2 * len(eps_values), 3.8), squeeze=False)
    for ax, e in zip(axes.flat, eps_values):
        for name in names:
            rs = [r for r in rows if r["construction"] == name and r["target"] == target and r["eps"] == e]
            xs = sorted({r["rho_requested"] for r in rs})
            px = [_median([r["random_per_target"] for r in rs if r["rho_requested"] == x]) for x in xs]
            py = [np.mean([bool(r["eps_success"]) for r in rs if r["rho_requested"] == x]) for x in xs]
            c = COLORS.get(name, "C5")
            ax.plot(px, py, "o-", color=c, label=name)
            thm = theorem_curve(name, dims, delta, [e])[0]
            ax.axvline(thm, color=c, ls="-.", lw=1)
            ax.annotate(f"theorem {name}\n{thm:.3g}×", (thm, 0.5), rotation=90, fontsize=6, color=c,
                        ha="right", va="center", xytext=(-2, 0), textcoords="offset points")
        cnt = counting_curve(dims, [e])[0]
        ax.axvline(cnt, color="k", ls=":", lw=1)
        ax.annotate("counting bound", (cnt, 0.5), rotation=90, fontsize=6, ha="right", va="center",
                    xytext=(-2, 0), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("ρ = random weights / target weights")
        ax.set_ylabel(f"success rate at ε = {e:g}")
        ax.set_title(rf"approximate(eps={e:g}) succeeds; dash-dot: theorem's width ($\delta$={delta:g})", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Success rate vs. width, target {target}", fontsize=10)
    fig.tight_layout()
    save(fig, "success_rate")

    # 3. kept random weights per target weight
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    rho_seen = [1.0]
    for name in names:
        rs = [r for r in one if r["construction"] == name and r["target"] == target]
        x, k, klo, khi = _per_rho(rs, "best_kept_per_target")
        rho_seen.extend(float(v) for v in x)
        c = COLORS.get(name, "C5")
        ax.plot(x, k, "o-", color=c, label=f"{name}: best ticket")
        e_min = min(eps_values)
        rs_e = [r for r in rows if r["construction"] == name and r["target"] == target and r["eps"] == e_min]
        xe, ke, _, _ = _per_rho(rs_e, "eps_kept_per_target")
        if len(xe):
            ax.plot(xe, ke, "s--", color=c, ms=4, label=f"{name}: sparsest ticket with bound ≤ {e_min:g}")
    # lower bounds at the smallest ε: any ticket needs ρ ≥ the counting bound; a ticket of κ kept
    # weights per target weight needs ρ ≥ Theorem 5's (Natale et al. 2024) — left of the curve is out of reach
    e_min = min(eps_values)
    ax.axvline(counting_curve(dims, [e_min])[0], color="k", ls=":", lw=1.2,
               label=f"counting lower bound, ε = {e_min:g} (any ticket size)")
    nx_, ny_ = natale_curve(dims, e_min, np.logspace(0, math.log10(max(2.0, max(rho_seen))), 40))
    if len(nx_):
        ax.plot(nx_, ny_, "-", color="k", lw=1.2, alpha=0.7,
                label=f"Theorem 5 (Natale et al.), ε = {e_min:g}: least ρ for κ kept per target")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ρ = random weights / target weights")
    ax.set_ylabel("kept random weights / target weights")
    ax.set_title(f"Ticket size, target {target} (median over seeds)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, "kept_per_target")

    # 4. trained targets (MLP and conv): test accuracy of ticket and target vs width
    one = [r for r in all_rows if r["eps"] == first_eps]
    trained = sorted({r["target"] for r in all_rows if r["target_accuracy"] is not None})
    if trained:
        fig, axes = plt.subplots(1, len(trained), figsize=(6.0 * len(trained), 4.0), squeeze=False)
        for ax, label in zip(axes.flat, trained):
            rs_t = [r for r in one if r["target"] == label]
            for name in sorted({r["construction"] for r in rs_t}, key=lambda n: (n not in names, n)):
                rs = [r for r in rs_t if r["construction"] == name]
                x, acc, lo, hi = _per_rho(rs, "best_accuracy")
                c = COLORS.get(name, "C5")
                ax.fill_between(x, lo, hi, color=c, alpha=0.2, lw=0)
                ax.plot(x, acc, "o-", color=c, label=f"{name}: ticket (best subsets)")
                _, ag, _, _ = _per_rho(rs, "best_agreement")
                ax.plot(x, ag, "x:", color=c, label=f"{name}: predictions equal to the target's")
            tacc = _median([r["target_accuracy"] for r in rs_t])
            ax.axhline(tacc, color="k", ls="--", lw=1, label=f"target test accuracy {tacc:.4f}")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("ρ = random weights / target weights")
            ax.set_ylabel("test accuracy / agreement")
            ax.set_title(f"trained target {label}", fontsize=10)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        save(fig, "trained_accuracy")
    return paths + conv_figure(run_dir, out_dir)


def _conv_counting(cfg, label, eps_grid):
    params = (cfg.get("conv_layer_parameters") or {}).get(label)
    if not params:
        return None
    return np.array([counting_rho(params, float(e)) for e in eps_grid])


def conv_figure(run_dir, out_dir) -> list[Path]:
    """width_sweep_conv (PDF + PNG): one panel per conv target and conv construction — certified bound
    and adversarial error of the best ticket against ρ (median, band min–max over seeds), the
    construction's rule width at each ε of the sweep (stars, the ``rule_rho`` column), the smallest
    measured ρ where every seed reached ε (diamonds), and the counting lower bound over kernel
    parameters (dotted curve). Nothing is written when the run has no conv rows."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg, rows = _load(run_dir)
    rows = [r for r in rows if _is_conv(r)]
    if not rows:
        return []
    first_eps = max(r["eps"] for r in rows)
    one = [r for r in rows if r["eps"] == first_eps]
    order = list(cfg.get("conv_rhos") or {}) + list(cfg.get("conv_trained_rhos") or {})
    panels = sorted({(r["target"], r["construction"]) for r in rows},
                    key=lambda p: (p[0].startswith("digits"), p[0], order.index(p[1]) if p[1] in order else 99))
    widths = {(w["target"], w["construction"], w["eps"]): w for w in conv_width_records(rows)}
    eps_values = sorted({r["eps"] for r in rows}, reverse=True)
    eps_grid = np.logspace(-12, math.log10(0.5), 60)
    cols = min(2, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.6 * cols, 4.0 * nrows), squeeze=False)
    for ax, (label, name) in zip(axes.flat, panels):
        rs = [r for r in one if r["construction"] == name and r["target"] == label]
        c = COLORS.get(name, "C5")
        x, alo, bhi = _bound_and_attack(ax, rs, c)
        xs_all = list(x)
        rule = [(widths[(label, name, e)]["rule"], e) for e in eps_values
                if widths.get((label, name, e)) and widths[(label, name, e)]["rule"] is not None
                and not math.isnan(widths[(label, name, e)]["rule"])]
        if rule:
            ax.plot([p[0] for p in rule], [p[1] for p in rule], "*-.", color=c, ms=10, lw=1.2,
                    label=rf"rule: width for error $\varepsilon$ ($\delta$={cfg['delta']:g})")
            xs_all += [p[0] for p in rule]
        ok = [(widths[(label, name, e)]["smallest_all"], e) for e in eps_values
              if widths.get((label, name, e)) and widths[(label, name, e)]["smallest_all"] is not None]
        if ok:
            ax.plot([p[0] for p in ok], [p[1] for p in ok], "D", color="k", mfc="none", ms=7,
                    label=r"smallest measured $\rho$ reaching $\varepsilon$ (all seeds)")
        for e in eps_values:
            ax.axhline(e, color="gray", lw=0.6, ls="-", alpha=0.5)
        cnt = _conv_counting(cfg, label, eps_grid)
        if cnt is not None:
            ax.plot(cnt, eps_grid, ":", color="k", lw=1.5, label="counting lower bound (kernel parameters)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo_x = min(min(xs_all) if xs_all else 1, 1) / 1.5
        hi_x = max(max(xs_all) if xs_all else 10, 10) * 3
        ax.set_xlim(lo_x, hi_x)
        ylo = min(np.nanmin(alo) if len(alo) else 1e-6, min(eps_values), 1e-6)
        yhi = max(np.nanmax(bhi) if len(bhi) else 1, 1) * 3
        ax.set_ylim(max(ylo / 3, 1e-13), yhi)
        ax.set_title(f"{name} on {label}", fontsize=10)
        ax.set_xlabel("overparameterization  ρ = random / target weights (kernel parameters)")
        ax.set_ylabel(r"$\sup_{x \in \mathrm{domain}}\|f(x)-g(x)\|_2$")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6.5, loc="lower left")     # left of the counting curve: no ticket can be there
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    n_seeds = len({r["seed"] for r in one})
    fig.suptitle(f"Conv / residual targets: error vs. overparameterization, {n_seeds} seed(s) per point "
                 f"[run {Path(run_dir).name}]", fontsize=10)
    fig.tight_layout()
    paths = list(savefig_formats(fig, Path(out_dir), "width_sweep_conv"))
    plt.close(fig)
    return paths


# ----------------------------------------------------------------------------- tables
def _tex_num(v, fmt="{:.2g}"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "--"
    s = fmt.format(v)
    if "e" in s:
        m, e = s.split("e")
        return f"${m}\\cdot 10^{{{int(e)}}}$"
    return s


def _tex_escape(s: str) -> str:
    return s.replace("_", r"\_")


def tables(run_dir, out_dir) -> list[Path]:
    """Write sweep_summary.tex (and trained.tex when there are trained targets): complete
    ``tabular`` environments generated from ``run_dir`` only."""
    cfg, rows = _load(run_dir)
    out_dir = Path(out_dir)
    recs = summary_records(rows)
    eps_keys = [k for k in recs[0] if k.startswith("ok@")]
    paths = []
    gauss = [r for r in recs if r["target"].startswith("gaussian")]
    lines = [r"\begin{tabular}{llrlrrrr" + "r" * len(eps_keys) + "}", r"\toprule",
             r"construction & target & $\rho$ & $n$ & bound & adversarial & ratio & kept/target & "
             + " & ".join(f"success $\\varepsilon{{=}}{k[3:]}$" for k in eps_keys) + r" \\", r"\midrule"]
    prev = None
    for r in gauss:
        if prev is not None and r["construction"] != prev:
            lines.append(r"\midrule")
        prev = r["construction"]
        lines.append(f"{_tex_escape(r['construction'])} & {r['target'].split()[-1]} & {r['rho']:.0f} & "
                     f"{r['n'].replace('/', '/')} & {_tex_num(r['bound'])} & {_tex_num(r['adv'])} & "
                     f"{r['ratio']:.1f} & {r['kept']:.2f} & "
                     + " & ".join(f"{r[k][0]}/{r[k][1]}" for k in eps_keys) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    p = out_dir / "sweep_summary.tex"
    atomic_write_text(p, f"% generated by experiments/width_sweep.py from run {Path(run_dir).name}; do not edit\n"
                      + "\n".join(lines))
    paths.append(p)
    tr = [r for r in recs if not math.isnan(r["target_acc"])]
    paths += conv_tables(run_dir, out_dir)
    if tr:
        lines = [r"\begin{tabular}{llrlrrrrr}", r"\toprule",
                 r"target & construction & $\rho$ & $n$ & bound & target acc. & ticket acc. & agreement & "
                 r"certified \\",
                 r"\midrule"]
        for r in tr:
            cert = "--" if math.isnan(r["cert"]) else f"{r['cert']:.4f}"
            lines.append(f"{r['target']} & {_tex_escape(r['construction'])} & {r['rho']:.0f} & {r['n']} & "
                         f"{_tex_num(r['bound'])} & {r['target_acc']:.4f} & {r['acc']:.4f} & {r['agree']:.4f} & "
                         f"{cert} \\\\")
        lines += [r"\bottomrule", r"\end{tabular}", ""]
        p = out_dir / "trained.tex"
        atomic_write_text(p, f"% generated by experiments/width_sweep.py from run {Path(run_dir).name}; "
                          "do not edit\n" + "\n".join(lines))
        paths.append(p)
    return paths


def conv_tables(run_dir, out_dir) -> list[Path]:
    """conv_sweep.tex (one row per conv target, conv construction and ρ: medians over seeds, success
    counts per ε) and conv_widths.tex (per target, construction and ε: the rule's ρ, the smallest
    measured ρ where every seed reached ε, the counting lower bound's ρ over kernel parameters).
    Nothing is written when the run has no conv rows."""
    _, rows = _load(run_dir)
    rows = [r for r in rows if _is_conv(r)]
    if not rows:
        return []
    out_dir = Path(out_dir)
    recs = summary_records(rows)
    eps_keys = [k for k in recs[0] if k.startswith("ok@")]
    head = f"% generated by experiments/width_sweep.py from run {Path(run_dir).name}; do not edit\n"
    lines = [r"\begin{tabular}{llrlrrrr" + "r" * len(eps_keys) + "}", r"\toprule",
             r"target & construction & $\rho$ & $n$ & bound & adversarial & ratio & kept/target & "
             + " & ".join(f"success $\\varepsilon{{=}}{k[3:]}$" for k in eps_keys) + r" \\", r"\midrule"]
    prev = None
    for r in recs:
        if prev is not None and (r["target"], r["construction"]) != prev:
            lines.append(r"\midrule")
        prev = (r["target"], r["construction"])
        lines.append(f"{_tex_escape(r['target'])} & {_tex_escape(r['construction'])} & {r['rho']:.0f} & "
                     f"{r['n']} & {_tex_num(r['bound'])} & {_tex_num(r['adv'])} & {r['ratio']:.1f} & "
                     f"{r['kept']:.2f} & " + " & ".join(f"{r[k][0]}/{r[k][1]}" for k in eps_keys) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    paths = []
    p = out_dir / "conv_sweep.tex"
    atomic_write_text(p, head + "\n".join(lines))
    paths.append(p)

    def num(v):
        return "--" if v is None or (isinstance(v, float) and math.isnan(v)) else _tex_num(v, "{:.3g}")

    lines = [r"\begin{tabular}{llrrrr}", r"\toprule",
             r"target & construction & $\varepsilon$ & rule $\rho$ & smallest succeeding $\rho$ & counting $\rho$ \\",
             r"\midrule"]
    for w in conv_width_records(rows):
        smallest = num(w["smallest_all"]) if w["smallest_all"] is not None else f"$>${num(w['largest'])}"
        lines.append(f"{_tex_escape(w['target'])} & {_tex_escape(w['construction'])} & {w['eps']:g} & "
                     f"{num(w['rule'])} & {smallest} & {num(w['counting'])} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    p = out_dir / "conv_widths.tex"
    atomic_write_text(p, head + "\n".join(lines))
    paths.append(p)
    return paths
