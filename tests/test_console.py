"""The ``sltheory`` command (sltheory.cli.main): the real console script and ``python -m sltheory`` once
each in a subprocess, everything else in-process through ``main(argv)`` (small targets, eps 0.1).

Exit status: 0 ok, 1 a failure (approximation failed, a broken claim, a target that does not fit
the ticket), 2 a bad input — one line ``sltheory <cmd>: error: …`` on stderr, no traceback, and no
file written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

import sltheory
from sltheory.cli.main import main

EPS = "0.1"
STARTS = "64"   # adversarial starts in verify: enough for a 3-4-2 target, fast


def _module(mats, bias=False) -> torch.nn.Sequential:
    layers = []
    for i, w in enumerate(mats):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w))
        layers += [lin, torch.nn.ReLU()] if i < len(mats) - 1 else [lin]
    return torch.nn.Sequential(*layers)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Target files of one 3-4-2 target (‖W_i‖₂ = 1) in every supported form, plus bad ones."""
    d = tmp_path_factory.mktemp("targets")
    mats = sltheory.gaussian_target((3, 4, 2), seed=0)
    net = _module(mats)
    torch.save(net.state_dict(), d / "sd.pt")
    torch.save(net, d / "module.pth")
    np.savez(d / "mats.npz", *mats)
    torch.save([torch.as_tensor(m) for m in mats], d / "list.pt")
    biased = _module(mats, bias=True)
    with torch.no_grad():
        biased[0].bias.fill_(0.5)
    torch.save(biased.state_dict(), d / "biased.pt")
    torch.save({"0.weight": torch.as_tensor(3 * mats[0]), "2.weight": torch.as_tensor(mats[1])}, d / "big.pt")
    torch.save({"0.weight": torch.as_tensor(mats[0][::-1].copy()), "2.weight": torch.as_tensor(mats[1])},
               d / "other.pt")
    torch.save({"0.weight": torch.as_tensor(sltheory.gaussian_target((3, 5, 2), seed=1)[0])}, d / "shape.pt")
    (d / "damaged.pt").write_bytes(b"not a torch file" * 4)
    (d / "sd.txt").write_bytes((d / "sd.pt").read_bytes())
    return d


@pytest.fixture(scope="module")
def ticket_file(files, tmp_path_factory):
    """A ticket of sd.pt written by ``sltheory approximate``."""
    out = tmp_path_factory.mktemp("tickets") / "t.npz"
    assert main(["approximate", str(files / "sd.pt"), "--eps", EPS, "-o", str(out)]) == 0
    return out


def _one_error_line(capsys, cmd: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sltheory {cmd}: error: "), err
    return lines[0]


# ------------------------------------------------------------------ the real command
def test_console_script_help():
    exe = shutil.which("sltheory")
    if exe is None:
        pytest.skip("the sltheory console script is not installed (pip install -e .)")
    res = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    for cmd in ("approximate", "verify", "sweep", "figures", "constructions"):
        assert cmd in res.stdout


def test_python_m_constructions():
    res = subprocess.run([sys.executable, "-m", "sltheory", "constructions"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    names = sltheory.constructions()
    assert len(lines) == len(names)
    for line, (name, citation) in zip(lines, names.items()):
        assert line.split()[:2] == [name, sltheory.construction(name).whose] and line.endswith(citation)
        assert line.split()[1] in ("paper", "ours")


@pytest.mark.parametrize("argv", [[], ["approximate"], ["verify"], ["constructions"]])
def test_help(argv, capsys):
    assert main(argv + ["--help"]) == 0
    assert "usage: sltheory" in capsys.readouterr().out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert sltheory.__version__ in capsys.readouterr().out


# ------------------------------------------------------------------ approximate
def test_approximate_from_state_dict(files, ticket_file, capsys):
    ticket = sltheory.load_ticket(ticket_file)
    assert ticket.error_bound <= 0.1 and ticket.construction == "subset_sum"
    assert ticket.stats["target_path"] == str((files / "sd.pt").resolve())
    assert ticket.stats["target_sha256"] == hashlib.sha256((files / "sd.pt").read_bytes()).hexdigest()
    out = ticket_file.with_name("again.npz")
    assert main(["approximate", str(files / "sd.pt"), "--eps", EPS, "-o", str(out)]) == 0
    summary = capsys.readouterr().out.strip()
    assert summary.count("\n") == 0
    s = ticket.stats
    assert f"kept {s['kept_weights']:,} of {s['random_weights']:,} random weights" in summary
    assert "subset_sum" in summary and f"{ticket.error_bound:.6g}" in summary


@pytest.mark.parametrize("name", ["mats.npz", "list.pt"])
def test_approximate_from_matrices(files, ticket_file, tmp_path, name):
    out = tmp_path / "t.npz"
    assert main(["approximate", str(files / name), "--eps", EPS, "-o", str(out)]) == 0
    a, b = sltheory.load_ticket(out), sltheory.load_ticket(ticket_file)
    assert a.error_bound == b.error_bound and all(torch.equal(x, y) for x, y in zip(a.masks, b.masks))


def test_approximate_from_a_module_needs_the_flag(files, ticket_file, tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert main(["approximate", str(files / "module.pth"), "--eps", EPS, "-o", str(out)]) == 2
    assert "--allow-pickle" in _one_error_line(capsys, "approximate")
    assert not out.exists()
    assert main(["approximate", str(files / "module.pth"), "--eps", EPS, "--allow-pickle", "-o", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "runs code from the file" in err[0]
    assert sltheory.load_ticket(out).error_bound == sltheory.load_ticket(ticket_file).error_bound


def test_approximate_rescale(files, tmp_path, capsys):
    out = tmp_path / "big.npz"
    assert main(["approximate", str(files / "big.pt"), "--eps", EPS, "-o", str(out)]) == 2
    assert "--rescale" in _one_error_line(capsys, "approximate") and not out.exists()
    assert main(["approximate", str(files / "big.pt"), "--eps", EPS, "--rescale", "-o", str(out)]) == 0
    assert "S = 3" in capsys.readouterr().out
    assert main(["verify", str(out), "--starts", STARTS]) == 0


def test_approximation_failed_exits_1_and_writes_nothing(files, tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise sltheory.ApproximationFailedError("too small", missed=1, total=20, error_bound=0.2, eps=0.1,
                                                n=(21, 21), n_needed=(25, 25))
    monkeypatch.setattr(sltheory, "approximate", fail)
    out = tmp_path / "t.npz"
    assert main(["approximate", str(files / "sd.pt"), "--eps", EPS, "-o", str(out)]) == 1
    assert "too small" in _one_error_line(capsys, "approximate")
    assert list(tmp_path.iterdir()) == []


BAD_APPROXIMATE = {
    "missing file": (["{d}/nope.pt"], "no such file"),
    "wrong suffix": (["{d}/sd.txt"], ".txt"),
    "a folder": (["{d}"], "suffix"),
    "eps 0": (["{d}/sd.pt", "--eps", "0"], "--eps"),
    "eps < 0": (["{d}/sd.pt", "--eps", "-1"], "--eps"),
    "eps nan": (["{d}/sd.pt", "--eps", "nan"], "--eps"),
    "eps not a number": (["{d}/sd.pt", "--eps", "x"], "--eps"),
    "no eps": (["{d}/sd.pt", "--eps"], "--eps"),
    "delta 1": (["{d}/sd.pt", "--delta", "1"], "delta"),
    "seed < 0": (["{d}/sd.pt", "--seed", "-1"], "--seed"),
    "unknown construction": (["{d}/sd.pt", "--construction", "nope"], "unknown construction"),
    "device": (["{d}/sd.pt", "--device", "tpu"], "--device"),
    "biased target": (["{d}/biased.pt"], "bias"),
    "norm > 1": (["{d}/big.pt"], "--rescale"),
    "damaged file": (["{d}/damaged.pt"], "cannot be read"),
    "a ticket as target": (["{t}"], "ticket, not a target"),
    "output folder missing": (["{d}/sd.pt", "-o", "{o}/no/t.npz"], "does not exist"),
    "output is a folder": (["{d}/sd.pt", "-o", "{o}"], "is a folder"),
    "output is the target": (["{d}/sd.pt", "-o", "{d}/sd.pt"], "is the target file"),
}


@pytest.mark.parametrize("case", sorted(BAD_APPROXIMATE))
def test_approximate_bad_input(case, files, ticket_file, tmp_path, capsys):
    args, needle = BAD_APPROXIMATE[case]
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(d=files, t=ticket_file, o=out) for a in args]
    argv = ["approximate"] + argv + ([] if "--eps" in argv else ["--eps", EPS]) \
        + ([] if "-o" in argv else ["-o", str(out / "t.npz")])
    before = sorted(p.name for p in files.iterdir())
    assert main(argv) == 2
    assert needle in _one_error_line(capsys, "approximate")
    assert list(out.iterdir()) == [] and sorted(p.name for p in files.iterdir()) == before


def test_usage_errors(capsys):
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("sltheory: error: give a command")
    assert main(["bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# ------------------------------------------------------------------ verify
def test_verify_ok(ticket_file, capsys):
    assert main(["verify", str(ticket_file), "--starts", STARTS]) == 0
    out = capsys.readouterr().out
    stored = sltheory.load_ticket(ticket_file).error_bound
    for field in ("stored bound", "recomputed bound", "adversarial error", "of the stored bound", "OK"):
        assert field in out
    assert f"{stored:.6g}" in out


def test_verify_other_form_of_the_same_target(files, ticket_file, capsys):
    assert main(["verify", str(ticket_file), "--target", str(files / "mats.npz"), "--starts", STARTS]) == 0
    assert "SHA-256 differs" in capsys.readouterr().out


def test_verify_damaged_ticket(ticket_file, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    for at in range(len(ticket_file.read_bytes()) // 2, len(ticket_file.read_bytes())):
        data = bytearray(ticket_file.read_bytes())   # the first byte from the middle on that the file checks
        data[at] ^= 0xFF                             # (some zip bytes, timestamps say, are checked by nothing)
        bad.write_bytes(bytes(data))
        try:
            sltheory.load_ticket(bad)
        except sltheory.TicketFileError:
            break
    assert main(["verify", str(bad)]) == 2
    _one_error_line(capsys, "verify")
    assert main(["verify", str(tmp_path / "missing.npz")]) == 2
    assert "no such file" in _one_error_line(capsys, "verify")


def test_verify_forged_claim(ticket_file, tmp_path, capsys):
    """A stored bound 10× too small (a file written with its digest recomputed) is a broken claim."""
    ticket = sltheory.load_ticket(ticket_file)
    small = ticket.error_bound / 10
    forged = dataclasses.replace(ticket, error_bound=small,
                                 certificate=dataclasses.replace(ticket.certificate, error_bound=small))
    path = forged.save(tmp_path / "forged.npz")
    assert main(["verify", str(path), "--starts", STARTS]) == 1
    line = _one_error_line(capsys, "verify")
    assert "broken claim" in line and "recomputed" in line and "adversarial error" in line


@pytest.mark.parametrize("name, needle", [("other.pt", "broken claim"), ("shape.pt", "target shapes"),
                                          ("big.pt", "does not fit this ticket")])
def test_verify_wrong_target(name, needle, files, ticket_file, capsys):
    assert main(["verify", str(ticket_file), "--target", str(files / name), "--starts", STARTS]) == 1
    assert needle in _one_error_line(capsys, "verify")


class _Evil:
    """Unpickling it creates the file ``path`` (stands for code run from a file)."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_verify_recorded_target_changed_or_gone(files, tmp_path, capsys):
    target = tmp_path / "sd.pt"
    shutil.copyfile(files / "sd.pt", target)
    out = tmp_path / "t.npz"
    assert main(["approximate", str(target), "--eps", EPS, "-o", str(out)]) == 0
    shutil.copyfile(files / "other.pt", target)
    assert main(["verify", str(out)]) == 2
    assert "has changed since" in _one_error_line(capsys, "verify")
    # a replaced file is refused by its digest before it is parsed: with --allow-pickle, a pickle that
    # would run code when loaded is never loaded
    marker = tmp_path / "ran"
    with open(target, "wb") as fh:
        torch.save(_Evil(str(marker)), fh)
    assert main(["verify", str(out), "--allow-pickle"]) == 2
    assert "has changed since" in _one_error_line(capsys, "verify") and not marker.exists()
    target.unlink()
    assert main(["verify", str(out)]) == 2
    assert "does not exist" in _one_error_line(capsys, "verify")
    assert main(["verify", str(out), "--target", str(files / "sd.pt"), "--starts", STARTS]) == 0


def test_verify_without_a_target(ticket_file, tmp_path, capsys):
    ticket = sltheory.load_ticket(ticket_file)
    stats = {k: v for k, v in ticket.stats.items() if not k.startswith("target_")}
    path = dataclasses.replace(ticket, stats=stats).save(tmp_path / "bare.npz")
    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "needs the target" in out and f"{ticket.error_bound:.6g}" in out


@pytest.mark.parametrize("argv, needle", [(["--starts", "0"], "--starts"), (["--target", "x.txt"], ".txt")])
def test_verify_bad_input(argv, needle, ticket_file, capsys):
    assert main(["verify", str(ticket_file)] + argv) == 2
    assert needle in _one_error_line(capsys, "verify")


# ------------------------------------------------------------------ delegated: sweep, figures
@pytest.mark.parametrize("command, module", [("sweep", "sltheory.report.width_sweep"),
                                             ("figures", "sltheory.report.figures")])
def test_delegation(command, module, monkeypatch, capsys):
    """The rest of argv goes to <module>.main unparsed; its sltheory errors are one line, exit 2."""
    seen = []

    def fake_main(argv, *, prog):
        assert prog == f"sltheory {command}"
        seen.append(argv)
        if "--bad" in argv:
            raise sltheory.InvalidArgumentError("--bad is bad")

    monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(main=fake_main))
    assert main([command, "--eps", "0.1", "-x"]) == 0 and seen == [["--eps", "0.1", "-x"]]
    assert main([command, "--bad"]) == 2
    assert "--bad is bad" in _one_error_line(capsys, command)


def test_figures_without_saved_results_fails(tmp_path, capsys):
    """The real figures command: an experiment with no saved results is a failure (exit 1), as in
    experiments/make_figures.py."""
    empty = tmp_path / "run"
    empty.mkdir()
    argv = ["figures", "--only", "width_sweep", "--width-sweep", str(empty), "--fig-dir", str(tmp_path / "f"),
            "--table-dir", str(tmp_path / "t")]
    assert main(argv) == 1
    assert "missing: width_sweep" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["sweep", "figures"])
def test_delegated_help(command, capsys):
    """The real modules' own --help (sltheory.report.width_sweep: the sweep and its figures;
    sltheory.report.figures), under the command's own name."""
    assert main([command, "--help"]) == 0
    assert f"usage: sltheory {command}" in capsys.readouterr().out
