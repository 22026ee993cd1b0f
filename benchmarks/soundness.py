"""Soundness benchmark: random tickets of every construction, each certificate against an
independent lower bound of the error it certifies.

For ``--tickets`` random cases — construction, mode (``eps``: ``approximate(..., eps=ε)``;
``best``: ``eps=None``; ``weight_tol``: the per-weight mode, where the construction offers it),
depth 1–3, widths 1–8, n (or the construction's width rule), ε / τ, a target
``[scale · W for W in sltheory.gaussian_target(dims, target_seed)]`` with scale 0.1–3 and
``rescale=True`` when the norms exceed 1 (network-level modes) — the ticket is built and
``ticket.error_bound`` is compared with :func:`sltheory.testing.lower_bound.lower_bound` of the
ORIGINAL target (a float64 ``nn.Sequential``) against ``ticket.network``. That lower bound is a
float64 evaluation of ‖f(x) − g(x)‖₂ at a point ‖x‖₂ ≤ 1 (exact for input dimension 1 and,
up to regions thinner than its grid, 2; a multi-start projected-gradient ascent otherwise) and
shares no code with the certificate. A **violation** is ``lower > error_bound``, with no
tolerance in favour of the certificate. The cases and their check are
:mod:`sltheory.experiment.soundness`, the printed summary :mod:`sltheory.report.soundness`.

Prints: tickets checked per construction and mode; builds that failed with
``ApproximationFailedError`` (expected sometimes with ``eps``/``weight_tol``: they are not
tickets) and any other exception (unexpected: reported with a reproducer); every violation with
a one-line Python reproducer; the tightness error_bound / lower bound (median, 90%, 99%, max)
per construction and per mode; the wall time. Exits 1 if any violation, 2 if any unexpected
exception, 0 otherwise. The cases depend only on ``--seed`` (and ``--tickets``: case i is the
same in every run that draws at least i + 1).

Run from the repository root::

    python benchmarks/soundness.py --workers 2           # 10,000 tickets: 7-8.5 min on 2 cores
    python benchmarks/soundness.py --tickets 300         # CI's slice (tests/test_soundness.py): ~30-50 s

Measured at 65239af (seed 0, 10,000 cases): 8,892 tickets checked, 1,108 builds failed, 0
unexpected errors, 0 violations; error_bound / lower bound median 1.26, 90% 4.95, 99% 41.0, max
3,565 (burkholz, layer-wise); 505 s wall, 993 s CPU on 2 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads of torch/BLAS must not spin

# Case and cases are used by tests/test_soundness.py through this script
from sltheory.experiment.soundness import LOWER_BOUND, MAX_TICKETS, Case, cases, run_cases  # noqa: E402,F401
from sltheory.report.soundness import summary as report  # noqa: E402
from sltheory.testing.lower_bound import lower_bound, sequential  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=10_000, help="random cases to draw (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case generator (default 0)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes (default 1: in this process); each uses one thread")
    parser.add_argument("--json", metavar="PATH", help="also write every case and result to this JSON file")
    parser.add_argument("--progress", type=int, default=1000,
                        help="print a progress line to stderr every this many cases (default 1000)")
    args = parser.parse_args(argv)
    if args.tickets < 1 or args.seed < 0 or args.workers < 1 or args.progress < 1:
        parser.error("--tickets, --workers and --progress must be ≥ 1, --seed ≥ 0")
    from sltheory import cli
    cli.count("--tickets", args.tickets, maximum=MAX_TICKETS)   # the case list is drawn up front
    cli.count("--workers", args.workers, maximum=4 * (os.cpu_count() or 1))   # one process each
    todo = cases(args.tickets, args.seed)
    start = time.perf_counter()
    results = run_cases(todo, lower_bound=lower_bound, sequential=sequential, workers=args.workers,
                        progress=args.progress)
    summary = report(results, {c.index: c for c in todo}, time.perf_counter() - start, args.workers)
    summary["case_list"] = [asdict(c) for c in todo]
    if args.json:
        from sltheory.experiment.runs import atomic_write_text
        atomic_write_text(args.json, json.dumps({"seed": args.seed, "lower_bound": LOWER_BOUND,
                                                 "cases": summary["case_list"], "results": results}))
    return summary


if __name__ == "__main__":
    from sltheory import cli
    res = cli.run(main)
    sys.exit(1 if res["violations"] else 2 if res["errors"] else 0)
