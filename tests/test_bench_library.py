"""What the benchmark scripts share, as library modules (issue 12, thin benchmarks):
``sltheory.experiment.soundness`` / ``sltheory.report.soundness``, ``sltheory.experiment.counting``
/ ``sltheory.report.counting`` and ``sltheory.experiment.scale``. The scripts' end-to-end runs are
in tests/test_soundness.py and tests/test_experiments.py; these check the pieces on their own."""

import io
import math
from pathlib import Path

import numpy as np
import pytest

import sltheory
from sltheory.experiment import counting, scale, soundness
from sltheory.report import counting as counting_report
from sltheory.report import soundness as soundness_report
from sltheory.testing.lower_bound import lower_bound, sequential

# --- soundness ---------------------------------------------------------------------------------


def test_cases_are_reproducible_and_cover_the_constructions():
    first = soundness.cases(60, 5)
    assert first == soundness.cases(60, 5) and first[:7] == soundness.cases(7, 5)
    assert first != soundness.cases(60, 6)
    assert {c.construction for c in first} == set(sltheory.constructions())
    for c in first:
        assert c.mode in soundness.MODES and 2 <= len(c.dims) <= 4 and min(c.dims) >= 1
        assert (c.eps is not None) == (c.mode == "eps") and (c.weight_tol is not None) == (c.mode == "weight_tol")
        assert c.rescale == (c.mode != "weight_tol" and c.scale > 1)


def _first(mode, construction="subset_sum"):
    return next(c for c in soundness.cases(200, 0) if c.mode == mode and c.construction == construction)


def test_check_against_the_lower_bound_and_a_liar():
    """The real lower bound never exceeds the certificate; a lower bound that claims more than the
    certificate is reported as a violation, one that raises as an error (never raised)."""
    case = _first("best")
    ok = soundness.check(case, lower_bound, sequential)
    assert ok["status"] == "ok" and 0 <= ok["lower"] <= ok["error_bound"], ok

    def liar(f, g, dim, **kw):
        return math.inf, None

    def broken(f, g, dim, **kw):
        raise RuntimeError("boom")

    assert soundness.check(case, liar, sequential)["status"] == "violation"
    bad = soundness.check(case, broken, sequential)
    assert bad["status"] == "error" and "RuntimeError: boom" in bad["error"]


def test_summary_prints_violations_with_a_reproducer():
    todo = [_first("best"), _first("eps", "burkholz")]
    results = soundness.run_cases(todo, lower_bound=lambda f, g, dim, **kw: (1e9, None), sequential=sequential,
                                  progress=1, log=io.StringIO())
    out = io.StringIO()
    summary = soundness_report.summary(results, {c.index: c for c in todo}, 1.0, 1, out=out)
    text = out.getvalue()
    built = sum(r["status"] != "build_failed" for r in results)
    assert summary["violations"] == built >= 1 and summary["cases"] == 2
    assert f"violations (lower bound > error_bound): {built}" in text
    assert "python -c \"import sltheory; from sltheory.testing.lower_bound import" in text


# --- counting ----------------------------------------------------------------------------------


def test_run_folder_name_is_stable():
    """The folder is named by sha256 of the sorted JSON of the per-cell settings: old run folders
    keep loading (this name is the one the script gave before the library held it)."""
    config = {"seeds": 3, "rule_seeds": 1, "delta": 0.05, "pass": 0.95, "sltheory_version": "0.1.0"}
    assert counting.run_folder("/r", config).name == "3671f4d6732b"


def _row(d, lever, ratio=1.0, success="3/3", note=""):
    return {"d": d, "depth": 2, "eps": 0.1, "lever": lever, "network": "dense", "n": "4/4", "weights": 10,
            "ratio": f"{ratio:.6g}", "layer_ratios": "1/1", "success": success, "note": note, "extra_bits": "1/1"}


def test_saved_cells_merge_and_skip(tmp_path):
    first = [_row(8, lv) for lv in reversed(counting.LEVER_ORDER)]
    counting.save_cell(tmp_path, first)
    other = [_row(16, "theorem"), _row(16, "spectral, measured n", math.nan,
                                       success="not measured for d > 8 (--dense-max-d)")]
    saved = counting.save_cell(tmp_path, other)
    as_read = [{k: str(v) for k, v in r.items()} for r in saved]   # the new cell's rows keep their types
    assert as_read == counting.read_saved(tmp_path) and len(saved) == len(first) + 2
    assert [r["lever"] for r in saved[:len(first)]] == list(counting.LEVER_ORDER)   # sorted by lever
    assert counting.save_cell(tmp_path, [_row(8, "theorem", 2.0)])[0]["ratio"] == "2"   # a cell replaces its rows
    assert counting.done_cells(saved, dense_max_d=8) == {(8, 2, 0.1), (16, 2, 0.1)}
    assert counting.done_cells(saved, dense_max_d=16) == {(8, 2, 0.1)}   # its dense levers now covered
    out = tmp_path / "tables"
    (path,) = counting_report.table(tmp_path, out)
    tex = Path(path).read_text()
    assert "2 & 8 & 0.1 & 2.00 & -- & --" in tex and "2 & 16 & 0.1 & 1.00 & -- & -- & --" in tex


def test_weights_of_counts_the_plan():
    total, per = counting.weights_of("dense", (4, 4, 4), (3, 3))
    plan = sltheory.construction("subset_sum").plan(((4, 4), (4, 4)), eps=None, delta=0.05, n=[3, 3])
    assert total == plan.num_random_weights == sum(per) and len(per) == 2
    assert counting.weights_of("blockdiag", (4, 4, 4), (3, 3))[0] < total


def test_print_cell_and_ratios(capsys):
    rows = counting.run_cell(4, 1, 0.2, seeds=2, rule_seeds=1, delta=0.05, dense_max_d=4)
    assert [r["lever"] for r in rows] == list(counting.LEVER_ORDER)
    counting_report.print_cell(rows)
    counting_report.print_ratios([counting.csv_row(r) for r in rows])
    text = capsys.readouterr().out
    assert "d = 4, depth 1, ε = 0.2" in text and "ρ_c = random weights / counting bound" in text
    for r in rows:
        assert r["ratio"] == pytest.approx(r["weights"] / (16 * math.log2(1 / 0.4)))


# --- scale -------------------------------------------------------------------------------------


def test_scale_target_and_measure():
    mats = scale.make_target(12, 3)
    assert [m.shape for m in mats] == [(12, scale.INPUTS), (12, 12)]
    assert all(np.linalg.norm(m, 2) <= 1 for m in mats)
    assert all(np.linalg.norm(m, 2) > 1 - 1e-6 for m in mats)
    out = scale.measure(6, 0.2, 0.05, 0, 10**8, "subset_sum")
    assert out["target_weights"] == 6 * scale.INPUTS + 36 and out["bit_for_bit"] is True
    assert out["bound"] <= 0.2 and out["recertified_bound"] == pytest.approx(out["bound"])
    assert out["dense_bytes"] == 8 * out["stored_weights"] and out["peak_gib"] >= out["peak_start_gib"] > 0
