"""Run every proof check: one line per step (theorem, step, method, result); exit 1 on any failure."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

#: The shared steps first, then every other module of proofs/ with a ``run()`` (one per construction,
#: discovered: a new construction's proof touches no other file).
_FIRST = ["counting", "certificate"]
MODULES = _FIRST + sorted(info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)])
                          if not info.name.startswith("_") and info.name not in _FIRST)


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
