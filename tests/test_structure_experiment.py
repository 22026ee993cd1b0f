"""experiments/structure_vs_weights.py: a --quick run end to end (every method and continual method, the
changed fraction where each method puts it), a rerun that resumes without recomputing, figures and
tables rebuilt from the saved run alone (directly and by make_figures), and bad command lines ending in
one clean error line before anything is written."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

import make_figures  # noqa: E402
import structure_vs_weights as svw  # noqa: E402

from sltheory.errors import InvalidArgumentError  # noqa: E402
from sltheory.experiment import config as C  # noqa: E402
from sltheory.experiment import structure as experiment  # noqa: E402

TIME_COLUMNS = {"time_job_s", "train_seconds"}


def _measured(rows):
    out = [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in rows]
    return sorted(out, key=lambda r: tuple(str(r[k]) for k in experiment.KEY))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("structure")
    args = ["--quick", "--run-root", str(root / "runs"), "--fig-dir", str(root / "fig"),
            "--table-dir", str(root / "tab")]
    return root, args, svw.main(args)


def test_quick_run_measures_every_method(quick_run):
    root, _, out = quick_run
    rows = out["rows"]
    meth = [r for r in rows if r["part"] == "methods"]
    assert {r["dataset"] for r in rows} == {"digits", "mnist1d"}
    assert {r["method"] for r in meth} == {"mask_only", "sparse_finetune", "random_mask", "rigl", "dense", "imp",
                                           "instability"}
    for dataset in ("digits", "mnist1d"):
        rs = [r for r in meth if r["dataset"] == dataset]
        assert len({r["weights"] for r in rs}) == 1                           # one random network per cell
        by = {(r["method"], r["setting"]): r for r in rs}
        assert by[("mask_only", "k=0")]["changed_fraction"] == 0.0            # structure only
        assert by[("mask_only", "k=0")]["density"] == pytest.approx(0.5, abs=0.01)
        for k in (0.001, 0.01, 0.1):
            r = by[("sparse_finetune", f"k={k:g}")]
            # at most the budget changes, and the mask is edge-popup's, the same as mask_only's
            assert r["changed_count"] <= r["budget_count"] == max(1, round(k * r["weights"]))
            assert r["mask_test_accuracy"] == by[("mask_only", "k=0")]["test_accuracy"]
        for k in (0.001, 0.01, 0.1):
            for m in ("random_mask", "rigl"):
                r = by[(m, f"density={k:g}")]
                assert r["changed_fraction"] <= r["density"] <= k + 3 / r["weights"]
        assert by[("dense", "k=1")]["density"] == 1.0
        imp = sorted((r for r in rs if r["method"] == "imp"), key=lambda r: r["round"])
        assert [r["round"] for r in imp] == [0, 1, 2]
        for r in imp:       # layer-wise rounding: density within a few weights of (1 − p)^r
            assert abs(r["density"] - 0.25 ** r["round"]) < 0.02
        assert imp[0]["test_accuracy"] == by[("dense", "k=1")]["test_accuracy"]   # round 0 is dense training
        inst = [r for r in rs if r["method"] == "instability"]
        assert sorted(r["rewind"] for r in inst)[0] == 0 and len(inst) == 2
        for r in inst:
            assert r["barrier"] >= 0 and len(r["path_errors"].split(";")) == 11
            assert r["density"] == imp[1]["density"]
        for r in rs:
            assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["changed_fraction"] <= r["density"] <= 1
    cont = [r for r in rows if r["part"] == "continual"]
    assert {r["method"] for r in cont} == {"supsup", "supsup_inferred", "sequential_dense", "sequential_sparse"}
    assert {r["setting"] for r in cont if r["method"] == "supsup_inferred"} == {
        "inferred: one_shot, batch 128", "inferred: lowest_entropy, batch 128"}
    for r in cont:
        assert r["tasks"] == 5 and 0 <= r["average_accuracy"] <= 1
        assert len(r["final_accuracies"].split(";")) == 5 and len(r["forgetting"].split(";")) == 4
        if r["method"] == "supsup":
            assert r["forgetting_max"] == 0.0 and r["bits_per_task"] == r["weights"]
        if r["method"] == "supsup_inferred":
            assert 0 <= r["task_inference_accuracy"] <= 1
        if r["method"] == "sequential_dense":
            assert r["bits_per_task"] == 32 * r["weights"]
    for name in svw.FIGURES:
        for suffix in ("pdf", "png"):
            assert (root / "fig" / f"{name}.{suffix}").stat().st_size > 1000
    for name in svw.TABLES:
        text = (root / "tab" / f"{name}.tex").read_text()
        assert text.count(r"\begin{tabular}") == 1 and r"\end{tabular}" in text
    acc = (root / "tab" / "structure_accuracy.tex").read_text()
    assert all(m.replace("_", r"\_") in acc for m in ("mask_only", "sparse_finetune", "rigl", "instability"))


def test_rerun_resumes_without_recomputing(quick_run, capsys):
    _, args, out = quick_run
    capsys.readouterr()
    again = svw.main(args + ["--no-plot"])
    text = capsys.readouterr().out
    assert "resuming:" in text and "job(s) in" not in text and again["ran"] == 0
    assert again["run_dir"] == out["run_dir"]
    assert _measured(again["rows"]) == _measured(out["rows"])


def test_figures_rebuilt_from_the_saved_run(quick_run, tmp_path):
    _, _, out = quick_run
    paths = svw.figures(out["run_dir"], tmp_path / "f") + svw.tables(out["run_dir"], tmp_path / "t")
    assert {p.name for p in paths} == ({f"{n}.{s}" for n in svw.FIGURES for s in ("pdf", "png")}
                                       | {f"{n}.tex" for n in svw.TABLES})
    res = make_figures.main(["--only", "structure_vs_weights", "--structure-vs-weights", str(out["run_dir"]),
                             "--fig-dir", str(tmp_path / "mf"), "--table-dir", str(tmp_path / "mt")])
    assert res["missing"] == []
    assert {p.name for p in res["written"]} == {p.name for p in paths}
    for name in svw.TABLES:
        assert (tmp_path / "mt" / f"{name}.tex").read_text() == (tmp_path / "t" / f"{name}.tex").read_text()


@pytest.mark.parametrize("bad", [
    ["--budgets", "1.5"], ["--budgets", "0"], ["--densities", "0.1,0.1"], ["--methods", "dense,nonexistent"],
    ["--parts", "nonsense"], ["--datasets", "mnist"], ["--widths", "0"], ["--seeds", "-1"], ["--epochs", "0"],
    ["--imp-pruned-fraction", "1"], ["--rewind-fraction", "0"], ["--tasks", "3"], ["--rule", "hessian"],
    ["--instability-round", "3"], ["--keep", "0"], ["--workers", "0"], ["--mnist1d-samples", "5"], ["--lr", "-1"],
    ["--baseline-widths", "32"], ["--infer-rules", "oracle"],
])
def test_bad_config_exits_before_writing(tmp_path, bad):
    with pytest.raises(SystemExit) as exc:
        svw.main(["--quick", "--run-root", str(tmp_path / "runs")] + bad)
    assert exc.value.code == 2
    assert not (tmp_path / "runs").exists()


def test_bad_config_in_code_is_a_typed_error(tmp_path):
    cfg = experiment.StructureConfig(run_root=str(tmp_path / "runs"), widths=(16,), baseline_widths=(16,), tasks=4)
    with pytest.raises(InvalidArgumentError, match="--tasks"):
        experiment.run(cfg)
    with pytest.raises(InvalidArgumentError, match="--methods"):
        C.check(experiment.StructureConfig(methods=("dense", "dense")))
    assert not (tmp_path / "runs").exists()


def test_command_line_help_and_one_error_line(tmp_path):
    script = str(ROOT / "experiments" / "structure_vs_weights.py")
    proc = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and "--budgets" in proc.stdout and "--quick" in proc.stdout
    proc = subprocess.run([sys.executable, script, "--quick", "--run-root", str(tmp_path / "runs"), "--budgets", "2"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--budgets" in errors[0]
    assert not (tmp_path / "runs").exists()


def test_late_rewind_and_setting_order():
    assert experiment._late_rewind(1347, 20, 128, 0.05) == 11          # 11 steps per epoch · 20 · 0.05
    assert experiment._late_rewind(10, 1, 128, 0.01) == 1               # at least one step
    labels = ["k=0.1", "k=0.001", "k=1", "k=0.01"]
    assert sorted(labels, key=experiment._setting_order) == ["k=0.001", "k=0.01", "k=0.1", "k=1"]
    assert sorted(["round 10", "round 2"], key=experiment._setting_order) == ["round 2", "round 10"]
