"""proofs/: every check passes, and the harness reports failures instead of passing them."""

import subprocess
import sys
from pathlib import Path

import sympy as sp

from proofs.__main__ import MODULES
from proofs._check import Proof

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_proofs_passes():
    res = subprocess.run([sys.executable, "-m", "proofs"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert {"counting", "certificate", "subset_sum", "subset_sum_blockdiag", "malach", "orseau",
            "burkholz"} <= set(MODULES)
    for theorem in MODULES:   # every module printed its steps
        assert any(f"] {theorem.replace('subset_sum_blockdiag', 'blockdiag')}" in line for line in lines), theorem
    assert lines[-1].endswith(")") and " 0 failed" in lines[-1]
    assert not any(line.startswith("[FAIL]") for line in lines)
    # every step says how it was checked
    steps = [line for line in lines if line.startswith("[")]
    assert all(any(m in line for m in ("symbolic", "grid (", "measured")) for line in steps)


def test_harness_reports_failures():
    x = sp.Symbol("x", real=True)
    P = Proof("demo")
    assert not P.equal("wrong identity", x, x + 1).ok
    assert not P.nonneg("negative somewhere", x, grid={x: [-1.0, 0.0, 1.0]}).ok
    assert P.nonneg("square", x**2, grid={x: [-1.0, 1.0]}).ok
    assert P.equal("needs a grid", sp.Max(x, 0) - sp.Max(-x, 0), x, grid={x: [-2.0, 0.5]}).ok
    assert not P.ok


def test_unknown_module_is_an_error():
    res = subprocess.run([sys.executable, "-m", "proofs", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and "unknown proof modules" in res.stderr
