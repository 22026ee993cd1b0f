"""The ``sltheory`` command (:mod:`.main`: approximate, verify, sweep, figures, constructions; target
files read by :mod:`.targetfile`), and what the repository's scripts (experiments/, benchmarks/)
share on the command line.

One way to end on a bad input: :func:`run` calls a script's ``main(argv)`` and turns a
:class:`~sltheory.errors.SltheoryError` into one line ``<script>: error: <message>`` on stderr and
exit status 2 — the status and form of argparse's own usage errors — never a traceback. Errors
that are not sltheory's (a bug) still show their traceback.

Checks a script runs right after parsing, before any heavy work or file write (each raises an
:class:`~sltheory.errors.InvalidArgumentError` that :func:`run` reports): the library's own
argument checks under short names (:func:`eps`, :func:`delta`, :func:`count`, :func:`dims`,
:func:`device`; limits documented in :mod:`sltheory._checks`) and :func:`output_dir` for folders
a script will write into. Usage::

    from sltheory import cli

    def main(argv=None):
        args = parser.parse_args(argv)
        cli.eps("--eps", args.eps); cli.output_dir("--run-root", args.run_root)
        ...

    if __name__ == "__main__":
        cli.run(main)

May import: any room of the library (the command line sits on top of everything); nothing in the
library imports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .._checks import (
    MIN_DELTA,
    MIN_EPS,
    delta_arg,
    device_arg,
    dims_arg,
    eps_arg,
    nonnegative_int,
    path_arg,
    positive_float,
)
from .._checks import output_dir_arg as output_dir
from ..constructions._pairs import MAX_RANDOM_WEIGHTS
from ..errors import SltheoryError

__all__ = ["MAX_RANDOM_WEIGHTS", "MIN_DELTA", "MIN_EPS", "count", "delta", "device", "dims", "eps", "fail",
           "output_dir", "path", "positive", "run"]


def fail(message) -> None:
    """Print ``<script>: error: <message>`` (one line) to stderr and exit with status 2."""
    prog = Path(sys.argv[0]).name or "sltheory"
    text = " ".join(str(message).split())
    print(f"{prog}: error: {text}", file=sys.stderr)
    raise SystemExit(2)


def run(main, argv=None):
    """``main(argv)``'s result; a SltheoryError ends the process through :func:`fail` (exit 2)."""
    try:
        return main(argv)
    except SltheoryError as exc:
        fail(exc)


def eps(name: str, value) -> float:
    """An accuracy ε: finite, ≥ MIN_EPS (1e-12)."""
    return eps_arg(name, value)


def delta(name: str, value) -> float:
    """A failure probability δ in [MIN_DELTA, 1) (MIN_DELTA = 1e-100)."""
    return delta_arg(name, value)


def positive(name: str, value, *, upper: float | None = None) -> float:
    """A finite real > 0 (≥ 1e-300), optionally < ``upper``."""
    return positive_float(name, value, upper=upper)


def count(name: str, value, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum]."""
    return nonnegative_int(name, value, minimum=minimum, maximum=maximum)


def dims(name: str, value, *, max_weights: int | None = None) -> tuple[int, ...]:
    """Layer widths: ≥ 2 integers ≥ 1, with at most ``max_weights`` weights Σ d_{i−1} d_i."""
    return dims_arg(name, value, max_weights=max_weights)


def device(name: str, value):
    """"cpu", or "cuda[:i]" where CUDA is available (a torch.device)."""
    return device_arg(name, value, allow_none=False)


def path(name: str, value) -> Path:
    """A path argument: a non-empty str without NUL, within the file system's length limits."""
    return path_arg(name, value)


