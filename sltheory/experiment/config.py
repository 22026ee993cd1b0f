"""Experiment configurations as dataclasses that generate their command line.

A configuration is a (frozen) dataclass whose fields are declared with :func:`option`: a default,
help text, optional choices, a check and a ``--quick`` value. From it :func:`build_parser` makes an
``argparse`` parser (one ``--field-name`` flag per field), :func:`parse` turns a command line into
a checked configuration, and :func:`config_dict` gives the JSON-ready dict of the fields that
define the results (what a run folder's name hashes; fields with ``hashed=False`` say how or where
to run and stay out of it)::

    @dataclass(frozen=True)
    class FidelityConfig:
        trials: int = option(10, "seeds per width", quick=5, check=count)
        run_root: str = option("runs/fidelity", "folder of run folders", hashed=False, check=output_dir)

    cfg, args = parse(FidelityConfig, argv, prog="fidelity.py", description="...")

A bad value ends the script before any work or file write: each field's check and the class's own
``validate()`` (cross-field checks) raise :class:`~sltheory.errors.InvalidArgumentError`, which
:func:`parse` reports as argparse does (``prog: error: message``, exit status 2). :func:`check`
runs the same checks for a configuration built in code (typed errors, no exit).

Checks: the library's argument checks (:mod:`sltheory._checks`) adapted to the ``check(name,
value)`` form — :func:`count`, :func:`positive`, :func:`eps`, :func:`delta`, :func:`output_dir`,
:func:`one_of`, :func:`fraction` — any callable raising InvalidArgumentError works.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from .._checks import delta_arg, eps_arg, nonnegative_int, positive_float
from .._checks import output_dir_arg as output_dir
from .._version import __version__
from ..errors import InvalidArgumentError

__all__ = ["option", "build_parser", "from_args", "parse", "check", "config_dict", "project_root", "library_version",
           "int_list", "float_list", "str_list", "count", "counts", "nonnegative", "positive", "eps", "delta",
           "output_dir", "one_of", "each", "fraction", "Command", "QUICK_FLAG", "executor_option", "workers_option",
           "ray_address_option", "run_root_option", "fig_dir_option", "table_dir_option", "no_plot_option"]

_NO_QUICK = object()
#: The flag that selects every field's quick value (added when some field has one).
QUICK_FLAG = "--quick"


def option(default, help: str, *, flag: str | None = None, type: Callable | None = None, choices=None,
           metavar: str | None = None, quick=_NO_QUICK, check: Callable | None = None, hashed: bool = True,
           action: str | None = None, show_default: bool = True, cli: bool = True):
    """A dataclass field that is also a command-line option.

    ``flag``: the option (default ``--field-name``); ``type``: parses the text (default from the
    default's type: int, float, str, a tuple of ints or floats as a comma list; a bool default makes a
    ``store_true`` flag); ``choices``; ``quick``: the value under ``--quick`` (a callable gets the
    other values, as a dict, and returns it); ``check(flag, value)``: raises InvalidArgumentError;
    ``hashed=False``: how/where to run, not part of :func:`config_dict`; ``action="append"``: a flag
    given several times (the parsed list goes to the class's ``from_cli`` hook); ``cli=False``: no
    flag (a value only code or ``--quick`` sets, such as a table of cases)."""
    meta = {"help": help, "flag": flag, "type": type, "choices": choices, "metavar": metavar, "quick": quick,
            "check": check, "hashed": hashed, "action": action, "show_default": show_default, "cli": cli}
    return dataclasses.field(default=default, metadata={"sltheory": meta})


def _meta(f: dataclasses.Field) -> dict | None:
    return f.metadata.get("sltheory")


def _options(cls) -> list[tuple[dataclasses.Field, dict]]:
    return [(f, m) for f in dataclasses.fields(cls) if (m := _meta(f)) is not None]


def flag_of(f: dataclasses.Field) -> str:
    meta = _meta(f) or {}
    return meta.get("flag") or "--" + f.name.replace("_", "-")


# ----------------------------------------------------------------------------- text → value
def int_list(text: str) -> tuple[int, ...]:
    """'0,1,2' or an inclusive range 'start:stop[:step]'."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError
            vals = tuple(range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1))
        else:
            vals = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers or start:stop[:step], "
                                         f"got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return vals


def float_list(text: str) -> tuple[float, ...]:
    """'0.1,0.01'."""
    try:
        vals = tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"empty list: {text!r}")
    return vals


def str_list(text: str) -> tuple[str, ...]:
    """'a,b'."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _infer_type(default):
    if isinstance(default, tuple) and default and all(isinstance(v, int) for v in default):
        return int_list
    if isinstance(default, tuple) and default and all(isinstance(v, (int, float)) for v in default):
        return float_list
    if isinstance(default, (int, float)):
        return type(default)
    return str


def _show(value) -> str:
    if isinstance(value, tuple) and all(isinstance(v, (int, float, str)) for v in value):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


# ----------------------------------------------------------------------------- checks (name, value)
def count(name: str, value, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum] (the library's check); bind bounds with a lambda."""
    return nonnegative_int(name, value, minimum=minimum, maximum=maximum)


def counts(*, minimum: int = 1, maximum: int | None = None) -> Callable:
    """A :func:`count` check with its bounds bound: ``check=counts(maximum=64)``."""
    def check_count(name, value):
        return count(name, value, minimum=minimum, maximum=maximum)
    return check_count


def nonnegative(name: str, value) -> int:
    """An integer ≥ 0 (a seed)."""
    return nonnegative_int(name, value, minimum=0)


def positive(name: str, value, *, upper: float | None = None) -> float:
    """A finite real > 0, optionally < ``upper``."""
    return positive_float(name, value, upper=upper)


def eps(name: str, value) -> float:
    """An accuracy ε: finite, ≥ 1e-12 (the library's limit)."""
    return eps_arg(name, value)


def delta(name: str, value) -> float:
    """A failure probability δ in [1e-100, 1)."""
    return delta_arg(name, value)


def each(check_one: Callable) -> Callable:
    """A check of every element of a tuple, with ``check_one``."""
    def check_all(name, values):
        for v in values:
            check_one(name, v)
    return check_all


def fraction(*, closed: bool = True, says: str = "a fraction must lie in") -> Callable:
    """A check of a real in (0, 1] (``closed=False``: in (0, 1)); a bad value raises
    ``"{name}: {says} (0, 1], got {value!r}"``."""
    interval = "(0, 1]" if closed else "(0, 1)"

    def check_fraction(name, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 < float(value) <= 1 if closed else 0 < float(value) < 1):
            raise InvalidArgumentError(f"{name}: {says} {interval}, got {value!r}")
    return check_fraction


def one_of(*allowed) -> Callable:
    """A check that the value is one of ``allowed``."""
    def check_choice(name, value):
        if value not in allowed:
            raise InvalidArgumentError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return check_choice


def project_root() -> Path:
    """Where default run folders (``runs/``) and the paper (``paper/``) are: the source checkout
    sltheory is imported from (an editable install), else the current folder."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


# ----------------------------------------------------------------------------- dataclass ↔ parser
def build_parser(cls, *, prog: str, description: str, extra: Callable | None = None,
                 quick_help: str = "a tiny smoke run (seconds; tests); explicit options still win"
                 ) -> argparse.ArgumentParser:
    """An argparse parser with one option per :func:`option` field of ``cls`` (in field order),
    ``--quick`` when a field has a quick value, and ``extra(parser)`` adding options that are not
    fields (read by the class's ``from_cli`` hook). Every option's default is None, so that an
    option given explicitly wins over ``--quick``; the help text shows the real default."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    for f, m in _options(cls):
        if not m["cli"]:
            continue
        text = m["help"]
        if m["show_default"] and "default" not in text:
            text += f" (default {_show(f.default)}"
            if m["quick"] is not _NO_QUICK and not callable(m["quick"]):
                text += f"; --quick {_show(m['quick'])}"
            text += ")"
        kw = dict(default=None, help=text.replace("%", "%%"), dest=f.name)   # argparse formats help with %
        if isinstance(f.default, bool) and m["action"] is None:
            kw["action"] = "store_true"
        else:
            kw.update(type=m["type"] or _infer_type(f.default), metavar=m["metavar"])
            if m["choices"] is not None:
                kw["choices"] = m["choices"]
            if m["action"] is not None:
                kw["action"] = m["action"]
        p.add_argument(flag_of(f), **kw)
    if extra is not None:
        extra(p)
    if any(m["quick"] is not _NO_QUICK for _, m in _options(cls)):
        p.add_argument(QUICK_FLAG, action="store_true", help=quick_help)
    return p


def from_args(cls, args: argparse.Namespace):
    """The configuration a parsed command line asks for: field defaults, then the quick values
    (with ``--quick``), then the options given. A class method ``from_cli(values, given, args)``
    may rewrite the values (options that combine, such as a repeated flag merged into a default)."""
    quick = bool(getattr(args, "quick", False))
    values = {f.name: f.default for f in dataclasses.fields(cls) if f.init}
    derived = {}
    if quick:
        for f, m in _options(cls):
            if m["quick"] is _NO_QUICK:
                continue
            if callable(m["quick"]):
                derived[f.name] = m["quick"]
            else:
                values[f.name] = m["quick"]
    given = {f.name: getattr(args, f.name) for f, _ in _options(cls) if getattr(args, f.name, None) is not None}
    appended = {f.name for f, m in _options(cls) if m["action"] == "append"}   # left to from_cli
    values.update({k: v for k, v in given.items() if k not in appended})
    for name, fn in derived.items():
        if name not in given:
            values[name] = fn(values)
    if hasattr(cls, "from_cli"):
        values = cls.from_cli(values, given, args)
    return cls(**values)


def check(cfg):
    """Run every field's check (in field order), then ``cfg.validate()`` when the class has one;
    :class:`InvalidArgumentError` names the first bad option. Returns ``cfg``."""
    for f, m in _options(type(cfg)):
        if m["check"] is not None:
            m["check"](flag_of(f), getattr(cfg, f.name))
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def parse(cls, argv=None, *, prog: str, description: str, extra: Callable | None = None, **kw):
    """``(config, namespace)`` from ``argv``, checked; a bad value exits as argparse does (one
    ``prog: error: ...`` line, status 2) before any work or file write."""
    parser = build_parser(cls, prog=prog, description=description, extra=extra, **kw)
    args = parser.parse_args(argv)
    try:
        cfg = check(from_args(cls, args))
    except InvalidArgumentError as exc:
        parser.error(str(exc))
    return cfg, args


@dataclasses.dataclass(frozen=True)
class Command:
    """The command line of a job experiment: its configuration class, description and ``--quick``
    help, and ``extra(parser)`` options that are not fields. An experiment module's ``build_parser``,
    ``parse`` and ``main`` are this object's, with the script's name as their default ``prog``."""

    cls: type
    description: str
    quick_help: str
    extra: Callable | None = None

    def build_parser(self, prog: str) -> argparse.ArgumentParser:
        return build_parser(self.cls, prog=prog, description=self.description, extra=self.extra,
                            quick_help=self.quick_help)

    def parse(self, argv, prog: str):
        """The checked configuration of a command line (exit status 2 on a bad one)."""
        return parse(self.cls, argv, prog=prog, description=self.description, extra=self.extra,
                     quick_help=self.quick_help)[0]

    def main(self, run: Callable, argv, *, report, prog: str) -> dict:
        """Parse, then ``run(cfg, report=report, make_plots=not cfg.no_plot)``."""
        cfg = self.parse(argv, prog)
        return run(cfg, report=report, make_plots=not cfg.no_plot)


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def config_dict(cfg) -> dict:
    """The fields that define the results (``hashed=True``; fields declared without :func:`option`
    count too), tuples as lists: the dict a run folder's name hashes, before any
    experiment-specific entries (schema version, target fingerprints) are added."""
    out = {}
    for f in dataclasses.fields(cfg):
        m = _meta(f)
        if m is None or m["hashed"]:
            out[f.name] = _jsonable(getattr(cfg, f.name))
    return out


def library_version() -> str:
    """``sltheory.__version__`` (hashed into run folders)."""
    return __version__


# ----------------------------------------------------------------------------- where and how a job runs
# The fields every job experiment (width sweep, search against construction) declares the same way:
# the executor, the run root and the figure / table folders. ``hashed=False``: how and where to run,
# not what is measured.
def _quick_dir(values) -> str:
    return str(Path(values["run_root"]) / "quick-figures")


def executor_option():
    return option("local", "local: process pool on this machine; ray: every job a Ray task",
                  choices=("local", "ray"), hashed=False)


def workers_option():
    return option(None, "local pool size, or CPUs of the Ray instance started when --ray-address is absent "
                  "(default: all cores; 1 = run in this process)", type=int, quick=1, hashed=False)


def ray_address_option():
    return option(None, "join this Ray cluster ('auto' or 'ray://host:port'); default: start a local one",
                  hashed=False)


def run_root_option(default):
    return option(str(default), "folder of run folders", hashed=False, check=output_dir)


def fig_dir_option():
    where = project_root() / "paper" / "figures"
    return option(str(where), f"where figures go (default {where}; with --quick the run folder)", quick=_quick_dir,
                  hashed=False, check=output_dir)


def table_dir_option():
    where = project_root() / "paper" / "tables"
    return option(str(where), f"where LaTeX tables go (default {where}; with --quick the run folder)",
                  quick=_quick_dir, hashed=False, check=output_dir)


def no_plot_option():
    return option(False, "skip figures and tables", hashed=False)
