"""The experiment scripts run end to end (quick modes), resume, refuse bad configs before writing,
rebuild figures from saved results alone, and give the same rows on every executor."""

import csv
import math
import sys
from pathlib import Path

import pytest

import sltheory
import sltheory.conv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import make_figures  # noqa: E402
import solver_time  # noqa: E402
import ticket_graph  # noqa: E402
import width_sweep  # noqa: E402

from sltheory.errors import InvalidArgumentError  # noqa: E402
from sltheory.experiment.executors import run_jobs  # noqa: E402
from sltheory.experiment.sweep import COLUMNS  # noqa: E402

TIME_COLUMNS = {c for c in COLUMNS if c.startswith("time_")}


def _measured(rows):
    """Rows without their wall times, in a canonical order (for comparing runs)."""
    out = [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in rows]
    return sorted(out, key=lambda r: (r["construction"], r["target"], r["rho_requested"], r["seed"], r["eps"]))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    args = ["--quick", "--run-root", str(root / "runs"), "--fig-dir", str(root / "fig"),
            "--table-dir", str(root / "tab")]
    return root, args, width_sweep.main(args)


def test_quick_sweep_measures_every_construction(quick_run):
    root, _, out = quick_run
    rows = out["rows"]
    conv_names = set(sltheory.conv.constructions())
    assert {r["construction"] for r in rows} == set(sltheory.constructions()) | conv_names
    assert {r["target"].split()[0] for r in rows} == {"gaussian", "digits", "conv2d", "resnet1d"}
    assert out["violations"] == 0
    assert {r["family"] for r in rows} == {"mlp", "conv"}
    assert all((r["family"] == "conv") == (r["construction"] in conv_names) for r in rows)
    for r in rows:
        assert r["best_bound"] >= r["adversarial_error"] > 0      # the certificate holds
        assert r["random_weights"] == round(r["random_per_target"] * r["target_weights"])
        if r["eps_success"]:
            assert r["eps_bound"] <= r["eps"]
    for r in rows:     # the rule's width and the counting bound at the row's ε, as ρ
        assert r["counting_rho"] > 0 and (r["rule_rho"] is None or r["rule_rho"] > r["counting_rho"])
    conv = [r for r in rows if r["family"] == "conv"]
    assert {r["target"].split()[0] for r in conv} == {"conv2d", "resnet1d"}
    trained = [r for r in rows if r["target"].startswith("digits")]
    assert trained and all(0 <= r["best_accuracy"] <= 1 and r["target_accuracy"] > 0.5 for r in trained)
    for name in width_sweep.FIGURES:
        for suffix in ("pdf", "png"):
            assert (root / "fig" / f"{name}.{suffix}").stat().st_size > 1000
    for name in width_sweep.TABLES:
        text = (root / "tab" / f"{name}.tex").read_text()
        assert text.count(r"\begin{tabular}") == 1 and r"\end{tabular}" in text


def test_rerun_resumes_and_changed_config_gets_new_folder(quick_run, capsys):
    root, args, out = quick_run
    again = width_sweep.main(args + ["--no-plot"])
    text = capsys.readouterr().out
    assert "resuming:" in text and "job(s) in" not in text      # nothing recomputed
    assert _measured(again["rows"]) == _measured(out["rows"])
    other = width_sweep.main(args + ["--eps", "0.2", "--no-plot"])
    assert other["run_dir"] != out["run_dir"]


def test_interrupted_sweep_resumes_without_losing_or_duplicating(quick_run, tmp_path):
    root, args, out = quick_run
    # copy the finished run into a fresh root, then cut results.csv as if killed after 3 jobs
    import shutil
    run_root = tmp_path / "runs"
    shutil.copytree(out["run_dir"], run_root / out["run_dir"].name)
    path = run_root / out["run_dir"].name / "results.csv"
    with open(path, newline="") as fh:
        lines = fh.read().splitlines()
    kept = lines[:1] + [ln for ln in lines[1:] if ln.startswith("mlp,subset_sum,gaussian 2-3-2,")
                        or ln.startswith("conv,conv_subset_sum,conv2d ")]
    assert len(kept) > 2
    path.write_text("\n".join(kept) + "\n")
    resumed = width_sweep.main(["--quick", "--run-root", str(run_root), "--no-plot"])
    keys = [(r["construction"], r["target"], r["rho_requested"], r["seed"], r["eps"]) for r in resumed["rows"]]
    assert len(keys) == len(set(keys)) == len(out["rows"])
    with open(path, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(out["rows"])


@pytest.mark.parametrize("bad", [
    ["--rho", "nonexistent=1,2"], ["--dims", "3"], ["--eps", "-1"], ["--seeds", "-2"], ["--workers", "0"],
    ["--rho", "subset_sum=0"], ["--mnist", "/nonexistent/mnist"], ["--delta", "1.5"],
    ["--trained-dims", "10,4,10"], ["--constructions", "subset_sum,nonexistent"],
    ["--conv-rho", "nonexistent=1,2"], ["--conv-rho", "conv_subset_sum=0"], ["--conv-targets", "conv3d"],
    ["--conv-channels", "0"], ["--conv-targets", "conv2d,conv2d"],
])
def test_bad_config_exits_before_writing(tmp_path, bad):
    with pytest.raises(SystemExit):
        width_sweep.main(["--quick", "--run-root", str(tmp_path / "runs")] + bad)
    assert not (tmp_path / "runs").exists()


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        width_sweep.main(["--help"])
    text = capsys.readouterr().out
    for action in width_sweep.build_parser()._actions:
        for opt in action.option_strings:
            assert opt in text
        assert action.help


def test_factor_for_rho_hits_the_grid():
    for name, rho in (("subset_sum", 48), ("subset_sum_blockdiag", 24), ("burkholz", 256), ("orseau", 1024),
                      ("malach", 2048)):
        factor, n, actual = width_sweep.factor_for_rho(name, (4, 8, 4), rho, 0.1, 0.05)
        assert abs(math.log(actual / rho)) < math.log(1.5), (name, actual)


def test_conv_widths_hit_the_grid_and_the_counting_bound_counts_kernel_parameters():
    """The conv targets: every layer's operator norm ≤ 1 (sound bound), the bisection on the conv
    plan lands within 1.5× of ρ, and the counting bound is the MLP formula over kernel parameters."""
    from sltheory.bounds import counting_lower_bound
    from sltheory.conv.norms import op_norm_bound
    from sltheory.experiment import width_sweep as ws

    cfg = ws.parse(["--quick", "--device", "cpu", "--no-trained"])
    targets = ws.build_conv_targets(cfg)
    assert {k.split()[0] for k in targets} == {"conv2d", "resnet1d"}
    for label, t in targets.items():
        tgt = t["conv"]
        assert all(op_norm_bound(a) <= 1 + 1e-12 for a in tgt.layers)
        assert sum(t["layer_parameters"]) == tgt.num_weights
        assert t["layer_parameters"][0] == tgt.layers[0].weight.size        # c_out·c_in·|K|, not the unrolled map
        for name, _ in cfg.conv_grids:
            if ws.conv_rule_rho(name, tgt, 0.1, 0.05, t["domain"]) is None:
                continue                                                    # a target the construction refuses
            found = ws.conv_factor_for_rho(name, tgt, 24, 0.3, 0.05, t["domain"])
            assert found is not None and abs(math.log(found[2] / 24)) < math.log(1.5), (name, label, found)
        bits = sum(float(counting_lower_bound(1, p, 0.01)) for p in t["layer_parameters"])
        assert ws.counting_rho(t["layer_parameters"], 0.01) == pytest.approx(bits / tgt.num_weights)
    assert ws.counting_rho((36, 144), 0.6) is None


def test_no_conv_and_conv_only_selections(tmp_path):
    from sltheory.experiment import width_sweep as ws

    assert ws.parse(["--quick", "--no-conv"]).conv_targets == ()
    cfg = ws.parse(["--quick", "--constructions", "conv_subset_sum", "--run-root", str(tmp_path)])
    assert cfg.rhos == () and [n for n, _ in cfg.conv_rhos] == ["conv_subset_sum"]
    cfg = ws.parse(["--quick", "--constructions", "subset_sum"])
    assert cfg.conv_rhos == () and [n for n, _ in cfg.rhos] == ["subset_sum"]


def test_local_pool_and_serial_give_the_same_results():
    jobs = list(range(1, 9))
    serial = dict(run_jobs(math.factorial, jobs, workers=1))
    pooled = dict(run_jobs(math.factorial, jobs, workers=2))
    assert serial == pooled == {j: math.factorial(j) for j in jobs}
    with pytest.raises(InvalidArgumentError):
        list(run_jobs(math.factorial, jobs, executor="threads"))
    with pytest.raises(InvalidArgumentError):
        list(run_jobs(math.factorial, jobs, workers=0))
    with pytest.raises(InvalidArgumentError):
        list(run_jobs(math.factorial, jobs, ray_address="auto"))


@pytest.mark.ray
def test_ray_executor_matches_local(quick_run, tmp_path):
    """Every (construction, width, seed) job as a task on a real local Ray cluster of 2 CPUs."""
    _, _, out = quick_run
    ray_out = width_sweep.main(["--quick", "--executor", "ray", "--workers", "2", "--run-root",
                                str(tmp_path / "runs"), "--no-plot"])
    assert ray_out["run_dir"].name == out["run_dir"].name      # the executor is not part of the config
    assert _measured(ray_out["rows"]) == _measured(out["rows"])


def test_solver_time_ticket_graph_and_make_figures(tmp_path, quick_run):
    st = solver_time.main(["--quick", "--run-root", str(tmp_path / "st")])
    methods = {r["method"] for r in st["rows"]}
    assert methods == {"exact", "sparsest", "staged", "brute_force", "milp"}
    for r in st["rows"]:
        if r["method"] in ("brute_force", "milp"):
            assert r["optimal_fraction"] == 1.0                   # ours is exact where they are
    tg = ticket_graph.main(["--run-root", str(tmp_path / "tg"), "--fig-dir", str(tmp_path / "tgfig"), "--n", "3"])
    assert (tmp_path / "tgfig" / "ticket_graph.png").stat().st_size > 1000
    _, _, sweep = quick_run
    fig, tab = tmp_path / "fig", tmp_path / "tab"
    res = make_figures.main(["--width-sweep", str(sweep["run_dir"]), "--solver-time", str(st["run_dir"]),
                             "--ticket-graph", str(tg["run_dir"]), "--fidelity", str(tmp_path / "none"),
                             "--counting-limit", str(tmp_path / "none"),
                             "--search-vs-construction", str(tmp_path / "none"),
                             "--structure-vs-weights", str(tmp_path / "none"),
                             "--fig-dir", str(fig), "--table-dir", str(tab)])
    assert res["missing"] == ["fidelity", "counting_limit", "search_vs_construction", "structure_vs_weights"]
    names = {p.name for p in res["written"]}
    for f in width_sweep.FIGURES + ("solver_time", "ticket_graph"):
        assert {f"{f}.pdf", f"{f}.png"} <= names
    assert {"sweep_summary.tex", "trained.tex", "solver_time.tex", "conv_sweep.tex", "conv_widths.tex"} <= names


def test_fidelity_quick(tmp_path, capsys):
    import fidelity

    rows = fidelity.main(["--quick", "--run-root", str(tmp_path)])
    assert {r["construction"] for r in rows} == set(sltheory.constructions())
    assert all(r["theorem_ok"] for r in rows)  # at the theorem's width: success ≥ 1 − δ
    again = fidelity.main(["--quick", "--run-root", str(tmp_path)])
    assert "printing saved results" in capsys.readouterr().out
    assert len(again) == len(rows)
    assert (fidelity.latest_run_dir(tmp_path) / "fidelity.tex").exists()


def test_counting_limit_benchmark_smoke(tmp_path, capsys):
    """benchmarks/counting_limit.py end to end on a tiny grid: every lever measured, the levers
    that only remove weights never raise ρ_c, a rerun skips the finished cell (but not one whose
    dense levers an earlier --dense-max-d skipped), the paper table is rebuilt from the saved run,
    and bad arguments are rejected before anything is written."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import counting_limit

    args = ["--dims", "8", "--depths", "2", "--eps", "0.1", "--seeds", "3", "--rule-seeds", "1",
            "--run-root", str(tmp_path)]
    (partial,) = counting_limit.main(args + ["--dense-max-d", "4"])   # the dense levers skipped for d = 8 …
    assert [r["lever"] for r in partial if not r["n"]] == ["uniform τ, measured n", "spectral, measured n"]
    (rows,) = counting_limit.main(args)                              # … so a run that covers d = 8 redoes it
    by = {r["lever"]: r for r in rows}
    assert list(by) == list(counting_limit.LEVER_ORDER)
    assert by["negative half"]["ratio"] <= by["theorem"]["ratio"]
    assert all(r["n"] for r in rows)   # d = 8 ≤ --dense-max-d: every lever measured, none failed
    # the per-layer search starts from the cheaper variant and only accepts cheaper moves
    assert by["n per layer"]["ratio"] <= min(by["balanced signs"]["ratio"],
                                             by["block-diagonal first sub-layer"]["ratio"])
    for r in rows:   # ρ_c is the plan's count over the counting bound d_in d_out log₂(1/(2ε)) per layer
        assert r["ratio"] == pytest.approx(r["weights"] / (2 * 64 * math.log2(5)))
    assert counting_limit.main(args) == []   # finished: skipped
    assert "skipped" in capsys.readouterr().out
    (path,) = counting_limit.table(counting_limit.latest_run_dir(tmp_path), tmp_path)
    tex = Path(path).read_text()
    assert "\\begin{tabular}" in tex
    assert " & ".join(f"{by[lv]['ratio']:.2f}" for lv in counting_limit.LEVER_ORDER) in tex
    for bad in (["--eps", "0.7"], ["--seeds", "0"], ["--delta", "0"], ["--delta", "1.5"]):
        with pytest.raises(SystemExit):
            counting_limit.main(bad + ["--run-root", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()   # rejected before any folder is written
