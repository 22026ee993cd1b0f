"""experiments/search_vs_construction.py: a --quick run end to end (every part, every method, the
certificate above the adversarial error), a rerun that resumes without recomputing, figures and
table rebuilt from the saved run alone (directly and by make_figures), and bad command lines ending
in one clean error line before anything is written."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

import sltheory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

import make_figures  # noqa: E402
import search_vs_construction as svc  # noqa: E402

from sltheory.experiment import search as experiment  # noqa: E402

TIME_COLUMNS = {c for c in experiment.COLUMNS if c.startswith("time_")}


def _measured(rows):
    out = [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in rows]
    return sorted(out, key=lambda r: tuple(str(r[k]) for k in experiment.KEY))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    args = ["--quick", "--run-root", str(root / "runs"), "--fig-dir", str(root / "fig"),
            "--table-dir", str(root / "tab")]
    return root, args, svc.main(args)


def test_quick_run_measures_every_part_and_method(quick_run):
    root, _, out = quick_run
    rows = out["rows"]
    methods = set(sltheory.search.methods())
    assert {r["part"] for r in rows} == {"generated", "classifier", "planted", "planted_construction"}
    assert out["violations"] == 0
    for part in ("generated", "classifier"):
        rs = [r for r in rows if r["part"] == part]
        assert {r["method"] for r in rs if r["mode"] == "search"} == methods
        assert {r["keep_label"] for r in rs if r["mode"] == "search"} == ({"matched", "0.5"} if part == "generated"
                                                                          else {"matched"})
        for r in rs:
            if r["mode"] == "labels":                                  # no target: nothing certified
                assert r["bound"] is None and 0 <= r["accuracy"] <= 1
                continue
            assert r["bound"] >= r["adversarial_error"] > 0             # the certificate holds
            assert r["bound_ok"] and 0 < r["kept_fraction"] <= 1
            assert r["rule_rho"] > r["counting_rho"] > 0
            if r["mode"] == "search":
                assert r["time_per_epoch_s"] > 0 and r["epochs"] == 2
                assert r["certificate"] in ("construction", "networks")
    # the matched searches keep (about) the construction ticket's kept fraction, on the same network
    for r in rows:
        if r["mode"] == "search" and r["keep_label"] == "matched":
            con = next(c for c in rows if c["mode"] == "construction" and c["part"] == r["part"]
                       and c["target"] == r["target"] and c["rho_requested"] == r["rho_requested"]
                       and c["seed"] == r["seed"])
            assert r["keep"] == con["kept_fraction"] and r["random_weights"] == con["random_weights"]
    clf = [r for r in rows if r["part"] == "classifier"]
    assert {r["target"].split()[0] for r in clf} == {"digits", "mnist1d"}
    assert {r["mode"] for r in clf} == {"construction", "search", "labels"}
    assert all(0 <= r["accuracy"] <= 1 and r["target_accuracy"] > 0 for r in clf)
    assert all(0 <= r["certified_agreement"] <= r["agreement"] for r in clf if r["mode"] != "labels")
    for r in rows:
        if r["mode"] == "planted":
            assert 0 <= r["jaccard"] <= min(r["precision"], r["recall"]) <= 1
            assert r["reach_tol"] > 0 and r["planted_error"] < r["reach_tol"] or r["part"] == "planted_construction"
            if r["method"] == "planted":
                assert r["reached"] and r["jaccard"] == 1.0
            else:
                assert r["reached"] == (r["adversarial_error"] <= max(2 * r["planted_error"], r["reach_tol"]))
    for name in svc.FIGURES:
        for suffix in ("pdf", "png"):
            assert (root / "fig" / f"{name}.{suffix}").stat().st_size > 1000
    text = (root / "tab" / "search_summary.tex").read_text()
    assert text.count(r"\begin{tabular}") == 1 and r"\end{tabular}" in text
    assert all(m.replace("_", r"\_") in text for m in methods | {"subset_sum"})


def test_rerun_resumes_without_recomputing(quick_run, capsys):
    _, args, out = quick_run
    capsys.readouterr()
    again = svc.main(args + ["--no-plot"])
    text = capsys.readouterr().out
    assert "resuming:" in text and "job(s) in" not in text and again["ran"] == 0
    assert again["run_dir"] == out["run_dir"]
    assert _measured(again["rows"]) == _measured(out["rows"])


def test_figures_rebuilt_from_the_saved_run(quick_run, tmp_path):
    _, _, out = quick_run
    paths = svc.figures(out["run_dir"], tmp_path / "f") + svc.tables(out["run_dir"], tmp_path / "t")
    assert {p.name for p in paths} >= {f"{n}.png" for n in svc.FIGURES} | {"search_summary.tex"}
    res = make_figures.main(["--only", "search_vs_construction", "--search-vs-construction", str(out["run_dir"]),
                             "--fig-dir", str(tmp_path / "mf"), "--table-dir", str(tmp_path / "mt")])
    assert res["missing"] == []
    assert {p.name for p in res["written"]} == {p.name for p in paths}
    assert (tmp_path / "mt" / "search_summary.tex").read_text() == (tmp_path / "t" / "search_summary.tex").read_text()


@pytest.mark.parametrize("bad", [
    ["--keeps", "1.5"], ["--keeps", "0"], ["--methods", "edge_popup,nonexistent"], ["--parts", "nonsense"],
    ["--rhos", "0"], ["--classifier-rhos", "8,8"], ["--seeds", "-1"], ["--dims", "3"],
    ["--digits-dims", "10,4,10"], ["--epochs", "0"], ["--planted", "sphere"], ["--rule-eps", "0.7"],
    ["--workers", "0"], ["--mnist1d-samples", "5"], ["--lr", "-1"],
])
def test_bad_config_exits_before_writing(tmp_path, bad):
    with pytest.raises(SystemExit) as exc:
        svc.main(["--quick", "--run-root", str(tmp_path / "runs")] + bad)
    assert exc.value.code == 2
    assert not (tmp_path / "runs").exists()


def test_bad_command_line_is_one_error_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "search_vs_construction.py"), "--quick",
                           "--run-root", str(tmp_path / "runs"), "--keeps", "2"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--keeps" in errors[0]
    assert not (tmp_path / "runs").exists()


def test_reached_rule_and_rule_marks():
    assert experiment._reach(0.01, 0.006, 1e-3) and not experiment._reach(0.013, 0.006, 1e-3)
    assert experiment._reach(5e-4, 0.0, 1e-3)                  # an exact planted ticket: the tolerance decides
    rule, counting = experiment._rule_marks((4, 8, 4), 0.1, 0.05)
    assert rule > counting > 0 and math.isfinite(rule)
