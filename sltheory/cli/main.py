"""The ``sltheory`` command (also ``python -m sltheory``).

Subcommands (each with ``--help``)::

    sltheory approximate TARGET --eps 0.01 [--construction NAME] [--seed N] [--delta D] [--rescale]
                         [--device DEV] [--allow-pickle] -o ticket.npz
    sltheory verify TICKET [--target TARGET] [--starts N] [--allow-pickle]
    sltheory sweep ...          the width sweep (sltheory.experiment.width_sweep; its own --help)
    sltheory figures ...        figures from saved runs (sltheory.report.figures; its own --help)
    sltheory constructions      the registered constructions: name, whose (paper / ours), citation

TARGET files are read by :mod:`sltheory.cli.targetfile` (``.pt``/``.pth`` through
``torch.load(weights_only=True)``, a pickled module only with ``--allow-pickle``; ``.npz`` matrices).
``approximate`` records the target file's absolute path and SHA-256 in the ticket's stats
(``target_path``, ``target_sha256``), so that ``verify`` finds the same file again, or refuses one
that changed since.

Exit status: 0 ok; 1 a failure — :class:`~sltheory.errors.ApproximationFailedError` (the random
network is too small for eps), a :class:`~sltheory.errors.CertificateError`, or a broken claim in
``verify`` (the adversarial error above the stored bound, or the bound recomputed from the target
above the stored one); 2 a bad input (a usage error, a bad path or file, an argument out of range,
a target outside the theorems' class, a damaged ticket file): one line ``sltheory <cmd>: error: …``
on stderr, never a traceback. Inputs are checked before any work or file write, and ``-o`` is
written atomically (:meth:`sltheory.Ticket.save`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import os
import sys
from pathlib import Path

import sltheory

from .. import cli
from .._checks import path_arg
from ..errors import (
    ApproximationFailedError,
    CertificateError,
    InvalidArgumentError,
    NormAssumptionError,
    SltheoryError,
)
from .targetfile import check_target_path, load_target_file, regular_file

PROG = "sltheory"
#: sltheory errors that are a failure (exit 1) rather than a bad input (exit 2).
FAILURES = (ApproximationFailedError, CertificateError)
#: Subcommands that hand their arguments to another module's ``main(argv)``: name → (module, help).
DELEGATED = {
    "sweep": ("sltheory.report.width_sweep", "the width sweep: every construction at growing widths, into a "
                                             "run folder, then its figures (sltheory sweep --help: its own options)"),
    "figures": ("sltheory.report.figures", "figures and tables from saved run folders "
                                           "(sltheory figures --help: its own options)"),
}
#: Relative slack on ``recomputed bound ≤ stored bound`` in ``verify``: the certificate is recomputed
#: with the same float64 arithmetic, so the two agree to rounding (a different BLAS thread count).
RECERTIFY_RTOL = 1e-9


class _UsageError(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line ``<prog>: error: <message>`` (the usage itself is in --help)."""

    def error(self, message):
        raise _UsageError(self.prog, message)


def _say_error(prog: str, message) -> None:
    text = " ".join(str(message).split())
    print(f"{prog}: error: {text}", file=sys.stderr)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Strong lottery tickets, certified: prune a random network (masks only) to "
                                       "approximate a target ReLU network, and check the certified error bound.",
                epilog="Exit status: 0 ok, 1 a failure (approximation failed, a broken claim), 2 a bad input. "
                       "`sltheory <command> --help` for each command.")
    p.add_argument("--version", action="version", version=f"sltheory {sltheory.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    a = sub.add_parser(
        "approximate", help="prune a random network to approximate TARGET; write the ticket",
        description="Sample the random network a construction's theorem prescribes for TARGET's shapes (the "
                    "seed fixes it before pruning), prune it (masks only) so that its certified error bound on "
                    "sup_{‖x‖₂≤1} ‖target(x) − ticket(x)‖₂ is ≤ EPS, and save the ticket (plan, seed, kept "
                    "indices; no weights) to -o. The ticket's stats record TARGET's path and SHA-256.",
        epilog="Exit status: 0 ok; 1 the random network is too small for EPS (ApproximationFailedError); 2 a bad "
               "input (nothing written).")
    a.add_argument("target", metavar="TARGET",
                   help="the target network: a .pt/.pth file (torch.save of a state_dict, of a list of weight "
                        "tensors, or of an nn.Sequential of bias-free Linear and ReLU: see --allow-pickle), or a "
                        ".npz file (numpy.savez of the weight matrices, in order)")
    a.add_argument("--eps", required=True, type=float, help="accuracy: the certified error bound must be ≤ EPS")
    a.add_argument("--construction", default="subset_sum", metavar="NAME",
                   help="a registered construction (`sltheory constructions`; default: %(default)s)")
    a.add_argument("--seed", type=int, default=0, help="seed of the random network (default: %(default)s)")
    a.add_argument("--delta", type=float, default=0.05,
                   help="failure probability the width rule is sized for (default: %(default)s)")
    a.add_argument("--rescale", action="store_true",
                   help="accept layers with ‖W_i‖₂ > 1: approximate W_i/‖W_i‖₂, scale the output back by "
                        "S = Π‖W_i‖₂ (the bound is S × the rescaled target's bound)")
    a.add_argument("--device", default=None, help="'cpu' (default) or 'cuda[:i]'")
    a.add_argument("--allow-pickle", action="store_true",
                   help="load a TARGET saved as a whole module (a pickle: loading it runs code from the file; "
                        "only for files you trust). Without it, only tensors and containers are read")
    a.add_argument("-o", "--output", required=True, metavar="TICKET", help="the ticket file to write (.npz)")
    a.set_defaults(func=_approximate)

    v = sub.add_parser(
        "verify", help="reload a ticket and check its stored bound against the target",
        description="Reload TICKET (its file digest checked, its random network re-sampled bit for bit), "
                    "recompute the certified bound from the target and search adversarially for the input "
                    "of largest error. The target is --target, or else the file recorded by `sltheory "
                    "approximate` (its SHA-256 must match the recorded one). Without any target, prints the "
                    "stored claim.",
        epilog="Exit status: 0 the claim holds (or no target to check it against); 1 a broken claim: the "
               "adversarial error or the recomputed bound exceeds the stored bound, or the target does not fit "
               "the ticket (CertificateError); 2 a bad input (a missing or damaged ticket or target file).")
    v.add_argument("ticket", metavar="TICKET", help="a ticket file written by `sltheory approximate` or Ticket.save")
    v.add_argument("--target", default=None, metavar="TARGET",
                   help="the target file (.pt/.pth/.npz); default: the one recorded in the ticket")
    v.add_argument("--starts", type=int, default=None,
                   help="random starts of the adversarial search (default: sltheory.adversarial_error's, 2048)")
    v.add_argument("--allow-pickle", action="store_true",
                   help="load a target saved as a whole module (runs code from the file; only for files you trust)")
    v.set_defaults(func=_verify)

    c = sub.add_parser("constructions", help="list the registered constructions: name, whose (paper / ours), citation",
                       description="The registered construction names (for --construction), one per line, "
                                   "with their citations.")
    c.set_defaults(func=_constructions)

    for name, (module, text) in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False, description=f"Runs {module}.main with the arguments given.")
    return p


def main(argv=None) -> int:
    """Run the ``sltheory`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        _say_error(exc.prog, exc)
        return 2
    except SystemExit as exc:   # --help, --version
        return _exit_code(exc)
    if args.command is None:
        _say_error(PROG, "give a command: approximate, verify, sweep, figures or constructions (sltheory --help)")
        return 2
    try:
        return args.func(args)
    except SltheoryError as exc:
        _say_error(f"{PROG} {args.command}", exc)
        return 1 if isinstance(exc, FAILURES) else 2


# ------------------------------------------------------------------ approximate
def _output_file(name: str, value, *, not_same_as: Path | None = None) -> Path:
    """``value`` as a file the command may write: its folder exists and is writable; if it exists, it is a
    regular file (a folder, FIFO or device is refused) and not ``not_same_as``."""
    path = path_arg(name, value)
    folder = path.parent
    if not folder.is_dir():
        raise InvalidArgumentError(f"{name} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidArgumentError(f"{name} {path}: folder {folder} is not writable")
    if not regular_file(name, path, missing_ok=True):
        return path
    if not_same_as is not None and os.path.samefile(path, not_same_as):
        raise InvalidArgumentError(f"{name} {path} is the target file: writing the ticket would replace it")
    return path


def _note(cmd: str, message: str) -> None:
    print(f"{PROG} {cmd}: note: {' '.join(message.split())}", file=sys.stderr)


def _approximate(args) -> int:
    eps = cli.eps("--eps", args.eps)
    delta = cli.delta("--delta", args.delta)
    seed = cli.count("--seed", args.seed, minimum=0)
    device = None if args.device is None else cli.device("--device", args.device)
    sltheory.construction(args.construction)   # an unknown name: InvalidArgumentError listing the registered ones
    target_path = check_target_path("TARGET", args.target)
    out = _output_file("-o", args.output, not_same_as=target_path)

    tf = load_target_file("TARGET", target_path, allow_pickle=args.allow_pickle,
                          on_unpickle=lambda m: _note("approximate", m))
    try:   # the target's class and norms, before anything is sampled
        sltheory.as_target(tf.target, rescale=args.rescale)
    except NormAssumptionError as exc:
        exc.args = (str(exc).replace("pass rescale=True", "pass --rescale"),)   # the option's name here
        raise
    rand = sltheory.random_network(tf.target, eps=eps, delta=delta, seed=seed, construction=args.construction,
                                   device=device)
    ticket = sltheory.approximate(tf.target, rand, eps=eps, rescale=args.rescale)
    stats = {**ticket.stats, "target_path": str(Path(os.path.abspath(tf.path))), "target_sha256": tf.sha256}
    ticket = dataclasses.replace(ticket, stats=stats)
    ticket.save(out)

    s = ticket.stats
    scale = float(s.get("output_scale", 1.0))
    rescaled = f", output scaled back by S = {scale:.4g}" if scale != 1.0 else ""
    print(f"{out}: {ticket.construction}, kept {s['kept_weights']:,} of {s['random_weights']:,} random weights "
          f"({100 * s['kept_weights'] / s['random_weights']:.3g}%) for {s['target_weights']:,} target weights; "
          f"certified error bound {ticket.error_bound:.6g} ≤ eps {eps:g} ({ticket.certificate.method}{rescaled})")
    return 0


# ------------------------------------------------------------------ verify
def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _verify(args) -> int:
    ticket_path = path_arg("TICKET", args.ticket)
    regular_file("TICKET", ticket_path)
    starts = None if args.starts is None else cli.count("--starts", args.starts)
    target_path = None if args.target is None else check_target_path("--target", args.target)

    ticket = sltheory.load_ticket(ticket_path)
    s = ticket.stats
    stored = float(ticket.error_bound)
    unprotected = " (a version-1 file: its header is covered by no digest)" if s.get("file_format_version") == 1 \
        else ", file digest OK"
    print(f"ticket            {ticket_path}: {ticket.construction}, kept {_count(s.get('kept_weights'))} of "
          f"{_count(s.get('random_weights'))} random weights{unprotected}")
    recorded_path, recorded_sha = s.get("target_path"), s.get("target_sha256")

    on_unpickle = lambda m: _note("verify", m)   # noqa: E731
    if target_path is not None:
        tf = load_target_file("--target", target_path, allow_pickle=args.allow_pickle, on_unpickle=on_unpickle)
        if recorded_sha is None:
            origin = "given; the ticket records no target file"
        elif tf.sha256 == recorded_sha:
            origin = "given; SHA-256 matches the file recorded"
        else:
            origin = "given; not the file recorded by approximate: its SHA-256 differs"
    elif recorded_path is not None:
        if not isinstance(recorded_path, str) or not isinstance(recorded_sha, str):
            raise InvalidArgumentError(f"TICKET {ticket_path}: its recorded target is not a path and a SHA-256: "
                                       "pass --target TARGET")
        if not os.path.exists(recorded_path):
            raise InvalidArgumentError(f"the target recorded in {ticket_path}, {recorded_path}, does not exist "
                                       "(any more): pass --target TARGET")
        tf = load_target_file(f"the target recorded in {ticket_path},", recorded_path,
                              allow_pickle=args.allow_pickle, on_unpickle=on_unpickle, expected_sha256=recorded_sha)
        origin = "recorded in the ticket; SHA-256 matches"
    else:
        print(f"stored bound      {stored:.6g} ({ticket.certificate.method}): a claim; checking it needs the "
              "target (the ticket records no target file): pass --target TARGET")
        return 0

    print(f"target            {tf.path} ({origin})")
    f = sltheory.as_target(tf.target, check_norms=False)   # the target as given (not rescaled), float64
    print(f"stored bound      {stored:.6g} ({ticket.certificate.method})")
    try:
        cert = ticket.recertify(tf.target)
    except NormAssumptionError as exc:   # the ticket was built without rescaling: not this target's ticket
        raise CertificateError(f"the target does not fit this ticket: its layer {exc.layer} has spectral norm "
                               f"{exc.norm:.6g} > 1, and the ticket approximates a target without rescaling "
                               "(approximate --rescale)") from None
    print(f"recomputed bound  {cert.error_bound:.6g} ({cert.method})")
    kwargs = {} if starts is None else {"starts": starts}
    err, _ = sltheory.adversarial_error(f.to_module(), ticket.network, f.dims[0], **kwargs)
    ratio = err / stored if stored > 0 else (0.0 if err == 0 else math.inf)
    print(f"adversarial error {err:.6g} ({ratio:.3g} of the stored bound)")

    broken = []
    if cert.error_bound > stored * (1 + RECERTIFY_RTOL):
        broken.append(f"the bound recomputed from the target, {cert.error_bound:.6g}, exceeds the stored bound "
                      f"{stored:.6g}")
    if err > stored:
        broken.append(f"the adversarial error {err:.6g} exceeds the stored bound {stored:.6g}")
    if broken:
        _say_error(f"{PROG} verify", "broken claim: " + "; ".join(broken))
        return 1
    print("OK: the stored bound holds (recomputed from the target, and not beaten by the adversarial search)")
    return 0


# ------------------------------------------------------------------ constructions
def _constructions(args) -> int:
    names = sltheory.constructions()
    width = max(map(len, names))
    for name, citation in names.items():
        print(f"{name:<{width}}  {sltheory.construction(name).whose:<5}  {citation}")
    return 0


# ------------------------------------------------------------------ delegated
def _delegate(command: str, argv: list[str]) -> int:
    """``<module>.main(argv)`` for a delegated subcommand (imported only now)."""
    module_name = DELEGATED[command][0]
    prog = f"{PROG} {command}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise   # a dependency of the module is missing: its own traceback says which
        _say_error(prog, f"this installation of sltheory has no {module_name}")
        return 2
    try:
        result = module.main(argv, prog=prog)
    except SltheoryError as exc:
        _say_error(prog, exc)
        return 1 if isinstance(exc, FAILURES) else 2
    except SystemExit as exc:   # its argparse: --help (0) or a usage error (2)
        return _exit_code(exc)
    # figures reports experiments without saved results (its script exits 1 for them too)
    return 1 if isinstance(result, dict) and result.get("missing") else 0


__all__ = ["DELEGATED", "FAILURES", "PROG", "build_parser", "main"]

