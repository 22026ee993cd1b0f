"""Experiment configurations (sltheory.experiment.config): a dataclass generates its command line,
checks are typed and run before any work, --quick picks each field's quick value (explicit options
still win), and the dict a run folder's name hashes is the same as before issue 12 for every
experiment, so saved run folders (runs/, users' own) still resume and rebuild."""

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import sltheory
from sltheory.errors import InvalidArgumentError
from sltheory.experiment import config as C
from sltheory.experiment.config import option
from sltheory.experiment.runs import config_hash, spaced_config_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))


@dataclass(frozen=True)
class Toy:
    eps: tuple = option((0.1, 0.01), "accuracies", quick=(0.3,), check=C.each(C.eps))
    seed: int = option(0, "seed", check=C.nonnegative)
    delta: float = option(0.05, "failure probability", check=C.delta)
    mode: str = option("fast", "how", choices=("fast", "slow"))
    run_root: str = option("runs/toy", "folder of run folders", hashed=False, check=C.output_dir)
    fig_dir: str = option("paper", "figures", quick=lambda v: v["run_root"] + "/quick", hashed=False)
    cases: tuple = option(((1, 2),), "cases", quick=((3, 4),), cli=False)
    verbose: bool = option(False, "talk", hashed=False)

    def validate(self):
        if self.mode == "slow" and self.seed > 5:
            raise InvalidArgumentError("--mode slow needs --seed ≤ 5")


def parse(argv):
    return C.parse(Toy, argv, prog="toy.py", description="a toy")[0]


def test_parser_is_generated_from_the_dataclass(capsys):
    parser = C.build_parser(Toy, prog="toy.py", description="a toy")
    flags = {o for a in parser._actions for o in a.option_strings}
    assert flags == {"-h", "--help", "--eps", "--seed", "--delta", "--mode", "--run-root", "--fig-dir", "--verbose",
                     "--quick"}                                   # cases has cli=False
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "accuracies (default 0.1,0.01; --quick 0.3)" in " ".join(text.split())
    assert parser.parse_args([]).eps is None                     # None = not given, so --quick cannot override it
    cfg = parse(["--eps", "0.2,0.02", "--seed", "3", "--mode", "slow", "--verbose", "--run-root", "r"])
    assert cfg == Toy(eps=(0.2, 0.02), seed=3, mode="slow", verbose=True, run_root="r")
    assert parse([]) == Toy()


def test_quick_values_and_explicit_options_win():
    assert parse(["--quick"]) == Toy(eps=(0.3,), fig_dir="runs/toy/quick", cases=((3, 4),))
    cfg = parse(["--quick", "--eps", "0.5", "--run-root", "elsewhere"])
    assert cfg.eps == (0.5,) and cfg.fig_dir == "elsewhere/quick" and cfg.cases == ((3, 4),)
    assert parse(["--quick", "--fig-dir", "f"]).fig_dir == "f"


@pytest.mark.parametrize("bad,match", [
    (dict(eps=(0.1, float("nan"))), "--eps"), (dict(seed=-1), "--seed"), (dict(delta=1.5), "--delta"),
    (dict(mode="slow", seed=6), "--mode slow"), (dict(run_root="/dev/null/x"), "--run-root"),
])
def test_checks_are_typed(bad, match):
    with pytest.raises(InvalidArgumentError, match=match):
        C.check(Toy(**bad))


@pytest.mark.parametrize("argv", [["--eps", "1e-17"], ["--seed", "-2"], ["--mode", "medium"], ["--eps", "x"],
                                  ["--mode", "slow", "--seed", "9"]])
def test_bad_command_line_exits_2_with_one_error_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "error:" in line][0].startswith("toy.py: error: ")
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_config_dict_holds_the_hashed_fields_only():
    d = C.config_dict(parse(["--quick", "--verbose"]))
    assert d == {"eps": [0.3], "seed": 0, "delta": 0.05, "mode": "fast", "cases": [[3, 4]]}


# Run-folder names computed by the scripts as they were BEFORE the config dataclasses (issue 12),
# on a machine without CUDA (the device enters the hash resolved) with sltheory 0.1.0. If one of these
# changes, saved run folders no longer resolve: bump the experiment's SCHEMA_VERSION on purpose
# and regenerate with its script (python experiments/<name>.py; then python experiments/make_figures.py).
# Issue 13 changed width_sweep (SCHEMA_VERSION 3, new constructions) and fidelity (new cases) on purpose;
# issue 14 changed width_sweep (SCHEMA_VERSION 4, certified-agreement columns) on purpose;
# issue 15 changed width_sweep (SCHEMA_VERSION 5: conv / residual targets and the conv constructions'
# grids, family / rule_rho / counting_rho columns) on purpose.
PINNED = {
    "width_sweep": "2dad70afc31b", "width_sweep --quick": "cf5651332764",
    "solver_time": "c071284747ad", "solver_time --quick": "083d8e64dd89",
    "ticket_graph": "91118317d6cd",
    "fidelity": "300b770337cf", "fidelity --quick": "620bb2d9683b",
}


def _hash(name: str) -> str:
    script, *argv = name.split()
    if script == "width_sweep":
        from sltheory.experiment import width_sweep
        cfg = width_sweep.parse(argv + ["--device", "cpu"])       # "auto" resolves to cpu here, as it did then
        return config_hash(cfg.hashed_dict(width_sweep.build_targets(cfg)))
    module = __import__(script)
    cls = {"solver_time": "SolverTimeConfig", "ticket_graph": "TicketGraphConfig", "fidelity": "FidelityConfig"}
    cfg = C.parse(getattr(module, cls[script]), argv, prog=script, description="")[0]
    return (spaced_config_hash if script == "fidelity" else config_hash)(cfg.hashed_dict())


@pytest.mark.skipif(sltheory.__version__ != "0.1.0", reason="the version enters every run folder's hash")
@pytest.mark.parametrize("name", list(PINNED))
def test_run_folder_hashes_unchanged(name):
    assert _hash(name) == PINNED[name], (
        f"{name}: the config dict hashed for its run folder changed; saved runs/ folders will not be found. "
        "If intended, bump the schema version and regenerate: python experiments/<script>.py, then "
        "python experiments/make_figures.py")


def test_help_text_may_hold_a_percent_sign():
    """argparse %-formats help strings: a literal '%' in an option's help (the search experiment's
    "80 % train") broke --help with a ValueError traceback."""
    import contextlib
    import io

    from sltheory.experiment import search

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        search.parse(["--help"])
    assert exc.value.code == 0 and "80 % train" in out.getvalue()
