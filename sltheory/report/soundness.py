"""The soundness benchmark's printed summary (``benchmarks/soundness.py``), from the results of
:func:`sltheory.experiment.soundness.run_cases` and their cases.

Prints: tickets checked per construction and mode; builds that failed with
``ApproximationFailedError`` and any other exception (with a reproducer); every violation with a
one-line Python reproducer; the tightness error_bound / lower bound (median, 90%, 99%, max) per
construction and per mode; the loosest certificates; time per case.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

import numpy as np

from ..experiment.soundness import MODES

__all__ = ["LOOSEST", "summary"]

#: How many of the loosest certificates the summary lists.
LOOSEST = 8


def _quantiles(values) -> str:
    v = np.asarray(sorted(values), dtype=float)
    if v.size == 0:
        return "–"
    q = np.quantile(v, [0.5, 0.9, 0.99])
    return f"{q[0]:8.3f} {q[1]:8.3f} {q[2]:9.3f} {v[-1]:10.4g}"


def summary(results: list[dict], by_index: dict, wall: float, workers: int, out=None) -> dict:
    """Print the summary to ``out`` (default stdout); return the counts (cases, checked,
    build_failed, errors, violations), ``wall`` and the ``results``. ``by_index``: case index →
    :class:`~sltheory.experiment.soundness.Case`."""
    p = lambda *a: print(*a, file=out or sys.stdout)  # noqa: E731
    status = Counter(r["status"] for r in results)
    checked = [r for r in results if r["status"] in ("ok", "violation")]
    p(f"soundness: {len(results)} cases, {len(checked)} tickets checked, {status['build_failed']} builds failed "
      f"(ApproximationFailedError: not tickets), {status['error']} unexpected errors, "
      f"{status['violation']} violations; {wall:.1f} s wall on {workers} worker(s)")
    names = sorted({r["construction"] for r in results})
    p("\ntickets checked (build failures) per construction and mode:")
    p(f"  {'construction':<22}" + "".join(f"{m:>16}" for m in MODES) + f"{'total':>10}")
    for name in names:
        row = []
        for m in MODES:
            rs = [r for r in results if r["construction"] == name and r["mode"] == m]
            ok = sum(r["status"] in ("ok", "violation") for r in rs)
            row.append(f"{ok:>9} ({sum(r['status'] == 'build_failed' for r in rs):>4})" if rs else f"{'–':>16}")
        p(f"  {name:<22}" + "".join(row) + f"{sum(r['construction'] == name for r in checked):>10}")
    dims = Counter(min(r["dim"], 4) for r in checked)
    p("  by input dimension: " + ", ".join(f"{'≥4' if d == 4 else d}: {c}" for d, c in sorted(dims.items()))
      + "  (1 and 2: exact lower bound; ≥ 3: search)")
    viol = [r for r in results if r["status"] == "violation"]
    p(f"\nviolations (lower bound > error_bound): {len(viol)}")
    for r in viol:
        c = by_index[r["index"]]
        p(f"  case {c.index}: {c.construction} {c.mode} dims={c.dims} error_bound={r['error_bound']:.6g} "
          f"lower={r['lower']:.6g} ({r['method']})")
        p(f"    python -c \"{c.reproducer()}\"")
    errs = [r for r in results if r["status"] == "error"]
    if errs:
        p(f"\nunexpected errors: {len(errs)}")
        for r in errs:
            c = by_index[r["index"]]
            p(f"  case {c.index}: {c.construction} {c.mode} dims={c.dims}: {r['error'][:300]}")
            p(f"    python -c \"{c.reproducer()}\"")
    zero = [r for r in checked if r["lower"] == 0]
    p(f"\ntightness error_bound / lower bound ({len(zero)} tickets with lower bound 0 left out):")
    p(f"  {'':<34}{'median':>8} {'90%':>8} {'99%':>9} {'max':>10}   n")
    groups = defaultdict(list)
    for r in checked:
        if r["lower"] > 0:
            ratio = r["error_bound"] / r["lower"]
            groups[(r["construction"], "")].append(ratio)
            groups[(r["construction"], r["mode"])].append(ratio)
            groups[("all", "")].append(ratio)
            groups[("all", "exact (dim ≤ 2)" if r["dim"] <= 2 else "search (dim ≥ 3)")].append(ratio)
    for key in sorted(groups, key=lambda k: (k[0] == "all", k)):
        label = key[0] + (f" / {key[1]}" if key[1] else "")
        p(f"  {label:<34}{_quantiles(groups[key])}   {len(groups[key])}")
    loose = sorted((r for r in checked if r["lower"] > 0), key=lambda r: r["error_bound"] / r["lower"])[-LOOSEST:]
    if loose:
        p(f"\nthe {len(loose)} loosest certificates (error_bound / lower bound):")
        for r in reversed(loose):
            c = by_index[r["index"]]
            p(f"  case {c.index}: {c.construction} {c.mode} dims={c.dims} n={c.n} scale={c.scale}: "
              f"{r['error_bound']:.4g} / {r['lower']:.4g} = {r['error_bound'] / r['lower']:.4g} ({r['method']})")
    secs = [r["seconds"] for r in results]
    p(f"\nper case: median {np.median(secs):.3f} s, max {max(secs):.2f} s (build + lower bound, one core)")
    return dict(cases=len(results), checked=len(checked), build_failed=status["build_failed"],
                errors=len(errs), violations=len(viol), wall=wall, results=results)
