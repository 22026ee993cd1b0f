"""Run every proof check: one line per step (theorem, step, method, result); exit 1 on any failure."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

MODULES = ["counting", "certificate", "subset_sum", "subset_sum_blockdiag", "malach", "orseau", "burkholz"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m proofs", description=__doc__)
    p.add_argument("only", nargs="*", help=f"run only these modules (of {MODULES})")
    args = p.parse_args(argv)
    names = args.only or MODULES
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        p.error(f"unknown proof modules {unknown}; available: {MODULES}")
    failed, total = 0, 0
    t0 = time.perf_counter()
    for name in names:
        proof = importlib.import_module(f"proofs.{name}").run()
        total += len(proof.steps)
        failed += sum(not s.ok for s in proof.steps)
    print(f"{total - failed} passed, {failed} failed ({time.perf_counter() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
