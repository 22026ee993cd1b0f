"""Progress of a run: a tqdm bar on a terminal, one line per finished job elsewhere (CI, logs).

tqdm is optional (the ``experiments`` extra): without it every job is one line, as off a terminal.
"""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    """``update(status)`` after each finished job; ``close()`` at the end (or use ``with``).

    ``total`` jobs of which ``initial`` were already done (a resumed run)."""

    def __init__(self, total: int, initial: int = 0, *, desc: str = "jobs", out=None):
        self.total, self.done = total, initial
        self.out = sys.stdout if out is None else out
        self._bar = None
        try:
            from tqdm import tqdm
        except ImportError:
            return
        bar = tqdm(total=total, initial=initial, desc=desc, unit="job", file=sys.stderr, dynamic_ncols=True,
                   disable=None)
        if bar.disable:          # not a terminal: lines instead of a bar
            bar.close()
        else:
            self._bar = bar

    def update(self, status: str = "") -> None:
        self.done += 1
        if self._bar is None:
            print(f"[{self.done}/{self.total}] {status}", file=self.out, flush=True)
        else:
            self._bar.update(1)
            self._bar.set_postfix_str(status, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
