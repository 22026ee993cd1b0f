"""Run folders: results are data, named by the configuration that produced them.

A run folder is ``ROOT/<first 12 hex digits of sha256(canonical config JSON)>/`` holding
``config.json`` and ``results.csv``. A changed configuration hashes to a different folder, so old
results are never reused for it; an existing folder whose ``config.json`` differs from the one
hashed to its name is refused. Every write is atomic (temp file in the same folder, fsync,
``os.replace``): an interrupted run leaves either the previous or the new file, never half of one,
so a rerun resumes from the rows already saved without losing or duplicating any.

Used by the experiment scripts (``experiments/*.py``); public so that users' own sweeps can share
the format.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

from .errors import InvalidArgumentError

__all__ = ["RunFolder", "atomic_write_text", "savefig_atomic", "config_hash", "mark_latest", "latest", "read_rows"]


def _mkstemp_like_open(path: Path) -> tuple[int, str]:
    """mkstemp in ``path``'s folder, with the permissions open() would give (mkstemp uses 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return fd, tmp


def atomic_write(path, write, *, binary: bool = False) -> None:
    """``write(fh)`` into a temp file in ``path``'s folder, fsync it, then ``os.replace`` it onto
    ``path``: a reader sees the old file or the whole new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp_like_open(path)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text))


def savefig_atomic(fig, path) -> None:
    """``fig.savefig`` to a temp file beside ``path`` (format from its suffix), then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp_like_open(path)
    os.close(fd)
    try:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def config_hash(config: dict) -> str:
    """First 12 hex digits of the sha256 of the canonical (sorted, compact) JSON of ``config``."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:12]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


class RunFolder:
    """``root/<config_hash(config)>/{config.json, results.csv}``.

    ``columns`` maps each CSV column to its type (``int``, ``float``, ``bool`` or ``str``); a
    missing value is written as an empty field and read back as None. ``key`` names the columns
    that identify one job's rows: :meth:`done` returns the keys already saved.
    """

    CONFIG = "config.json"
    RESULTS = "results.csv"

    def __init__(self, root, config: dict, columns: dict, key: tuple[str, ...]):
        try:
            json.dumps(config, sort_keys=True)
        except TypeError as exc:
            raise InvalidArgumentError(f"config must be JSON-serializable: {exc}") from None
        for k in key:
            if k not in columns:
                raise InvalidArgumentError(f"key column {k!r} is not among the columns")
        for name, typ in columns.items():
            if typ not in (int, float, bool, str):
                raise InvalidArgumentError(f"column {name!r}: type must be int, float, bool or str")
        self.config = json.loads(json.dumps(config))
        self.columns = dict(columns)
        self.key = tuple(key)
        self.hash = config_hash(self.config)
        self.path = Path(root) / self.hash

    @property
    def results_path(self) -> Path:
        return self.path / self.RESULTS

    def prepare(self) -> "RunFolder":
        """Create the folder and its config.json, or check that the existing one is the same config."""
        cfg_path = self.path / self.CONFIG
        if cfg_path.exists():
            if json.loads(cfg_path.read_text()) != self.config:
                raise InvalidArgumentError(
                    f"{cfg_path} holds a different config than the one hashed to {self.hash}; "
                    "refusing to mix results (delete the folder)")
        else:
            atomic_write_text(cfg_path, json.dumps(self.config, sort_keys=True, indent=2) + "\n")
        return self

    def read(self) -> list[dict]:
        """The saved rows, typed ('' → None). Unknown columns are refused (schema changed)."""
        return read_rows(self.results_path, self.columns)

    def write(self, rows: list[dict]) -> None:
        """Atomically replace results.csv with ``rows`` (sorted by key)."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(self.columns), lineterminator="\n")
        w.writeheader()
        for row in sorted(rows, key=lambda r: tuple(_fmt(r.get(k)) for k in self.key)):
            unknown = set(row) - set(self.columns)
            if unknown:
                raise InvalidArgumentError(f"row has columns not in the schema: {sorted(unknown)}")
            w.writerow({k: _fmt(row.get(k)) for k in self.columns})
        atomic_write_text(self.results_path, buf.getvalue())

    def key_of(self, row: dict) -> tuple:
        return tuple(row[k] for k in self.key)

    def done(self, rows: list[dict] | None = None) -> set:
        return {self.key_of(r) for r in (self.read() if rows is None else rows)}


def read_rows(path, columns: dict) -> list[dict]:
    """Rows of a CSV written by :meth:`RunFolder.write`, converted with ``columns``' types."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is not None and list(reader.fieldnames) != list(columns):
            raise InvalidArgumentError(f"{path} has columns {reader.fieldnames}, expected {list(columns)}")
        for raw in reader:
            row = {}
            for k, v in raw.items():
                typ = columns[k]
                if v == "" or v is None:
                    row[k] = None
                elif typ is bool:
                    if v not in ("True", "False"):
                        raise InvalidArgumentError(f"{path}: column {k} holds {v!r}, not a bool")
                    row[k] = v == "True"
                else:
                    row[k] = typ(v)
            out.append(row)
    return out


LATEST = "latest"


def mark_latest(root, run_dir) -> None:
    """Record ``run_dir`` (a folder under ``root``) as the last finished run: ``root/latest``."""
    atomic_write_text(Path(root) / LATEST, Path(run_dir).name + "\n")


def latest(root) -> Path:
    """The run folder recorded by :func:`mark_latest` under ``root``."""
    pointer = Path(root) / LATEST
    if not pointer.exists():
        raise FileNotFoundError(f"no finished run under {root} (no {LATEST} file): run the experiment first")
    run_dir = Path(root) / pointer.read_text().strip()
    if not (run_dir / RunFolder.RESULTS).exists():
        raise FileNotFoundError(f"{pointer} names {run_dir.name}, which holds no {RunFolder.RESULTS}")
    return run_dir
