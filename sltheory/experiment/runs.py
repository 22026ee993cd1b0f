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
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks, so stale temp files are never removed
    fcntl = None  # type: ignore[assignment]  # (no 'module or None' type; every use checks for None)

from .._atomic import atomic_write, atomic_write_text, savefig_atomic
from ..errors import InvalidArgumentError

__all__ = ["RunFolder", "atomic_write", "atomic_write_text", "savefig_atomic", "config_hash", "spaced_config_hash",
           "mark_latest", "latest",
           "read_rows", "folder_lock"]


def _canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def config_hash(config: dict) -> str:
    """First 12 hex digits of the sha256 of the canonical (sorted, compact) JSON of ``config``."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:12]


def spaced_config_hash(config: dict) -> str:
    """The hash ``experiments/fidelity.py`` named its run folders by before issue 12: sha256 of
    ``json.dumps(config, sort_keys=True)`` with json's default (spaced) separators. Kept so that
    those folders still resolve: ``RunFolder(..., hasher=spaced_config_hash)``."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def _fmt(v) -> str:
    if v is None:
        return ""
    if getattr(v, "shape", None) == () and hasattr(v, "item"):   # a numpy scalar (repr: 'np.float64(…)')
        v = v.item()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _parse(v, typ, where: str):
    """A CSV field back to ``typ`` ('' → None); :class:`InvalidArgumentError` naming ``where``."""
    if v == "" or v is None:
        return None
    if typ is bool:
        if v not in ("True", "False"):
            raise InvalidArgumentError(f"{where} holds {v!r}, not a bool")
        return v == "True"
    try:
        return typ(v)
    except ValueError:
        raise InvalidArgumentError(f"{where} holds {v!r}, not a{'n' if typ is int else ''} {typ.__name__}") from None


LOCK = ".lock"


class folder_lock:
    """``with folder_lock(folder):`` holds the exclusive lock of ``folder`` (``fcntl.flock`` on
    ``folder/.lock``, created with the folder if missing), waiting for whichever process holds it.
    Every process that reads, merges and rewrites a file of the folder under this lock sees the
    previous writer's whole result, so none loses another's rows. The OS drops the lock when its
    holder exits, however it exits (``kill -9`` included): a crashed writer never blocks the next.
    Not re-entrant (a second ``with`` on the same folder in one process waits forever). Without
    ``fcntl`` (not POSIX) it does not lock."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._fd = None

    def __enter__(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o666)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self.folder

    def __exit__(self, *exc) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:   # (always set by __enter__)
            os.close(fd)    # releases the lock


class RunFolder:
    """``root/<config_hash(config)>/{config.json, results.csv}``.

    ``columns`` maps each CSV column to its type (``int``, ``float``, ``bool`` or ``str``); a
    missing value is written as an empty field and read back as None. ``key`` names the columns
    that identify one job's rows: :meth:`done` returns the keys already saved. ``hasher`` names the
    folder (default :func:`config_hash`; :func:`spaced_config_hash` for fidelity's older folders).

    Several processes may fill the same folder at once (two sweeps of one config, one per depth...):
    :meth:`prepare` and :meth:`add` work under the folder's lock (:class:`folder_lock`), and
    :meth:`add` merges the rows it is given into those on disk, so no writer loses another's row.
    """

    CONFIG = "config.json"
    RESULTS = "results.csv"

    def __init__(self, root, config: dict, columns: dict, key: tuple[str, ...], *, hasher=config_hash):
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
        self.hash = hasher(self.config)
        self.path = Path(root) / self.hash

    @property
    def results_path(self) -> Path:
        return self.path / self.RESULTS

    def prepare(self) -> "RunFolder":
        """Create the folder and its config.json, or check that the existing one is the same config.
        Race-free: the first of several processes preparing the same folder writes config.json
        (under the folder's lock), the others check it."""
        cfg_path = self.path / self.CONFIG
        if not cfg_path.exists():          # only a writer needs the lock (a read-only folder is fine)
            with folder_lock(self.path):
                if not cfg_path.exists():
                    atomic_write_text(cfg_path, json.dumps(self.config, sort_keys=True, indent=2) + "\n")
        try:
            saved = json.loads(cfg_path.read_text())
        except ValueError:
            raise InvalidArgumentError(f"{cfg_path} is not valid JSON; refusing to add results (delete the folder)") \
                from None
        if saved != self.config:
            raise InvalidArgumentError(
                f"{cfg_path} holds a different config than the one hashed to {self.hash}; "
                "refusing to mix results (delete the folder)")
        return self

    def read(self) -> list[dict]:
        """The saved rows, typed ('' → None). Unknown columns are refused (schema changed)."""
        return read_rows(self.results_path, self.columns)

    def _fields(self, row, i: int) -> dict:
        """``row`` (the ``i``-th given) as the CSV fields it is saved as, in the form reading them
        back and writing them again gives (an int 2 in a float column is saved as 2.0, so it has the
        same key as the saved 2.0). Refuses what would not read back as its columns' types."""
        if not isinstance(row, dict):
            raise InvalidArgumentError(f"row {i} must be a dict, got {type(row).__name__}")
        unknown = set(row) - set(self.columns)
        if unknown:
            raise InvalidArgumentError(f"row {i} has columns not in the schema: {sorted(unknown)}")
        missing = [k for k in self.key if row.get(k) is None]
        if missing:
            raise InvalidArgumentError(f"row {i} has no value for the key column(s) {missing}")
        return {k: _fmt(_parse(_fmt(row.get(k)), typ, f"row {i}: column {k}")) for k, typ in self.columns.items()}

    def add(self, rows: list[dict]) -> list[dict]:
        """Merge ``rows`` into results.csv: under the folder's lock, read the saved rows, let each row
        given replace the saved row of the same key (and keep every other saved row), and rewrite
        the file atomically (sorted by key). Returns every saved row, typed as :meth:`read` gives
        them. Rows are checked (columns, key values, types) before anything is written."""
        given = [self._fields(r, i) for i, r in enumerate(rows)]

        def key(fields):
            return tuple(fields[k] for k in self.key)

        with folder_lock(self.path):
            merged = {key(f): f for f in ({k: _fmt(v) for k, v in r.items()} for r in self.read())}
            merged.update((key(f), f) for f in given)
            saved = [merged[k] for k in sorted(merged)]
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(self.columns), lineterminator="\n")
            w.writeheader()
            w.writerows(saved)
            atomic_write_text(self.results_path, buf.getvalue())
        return [{k: _parse(v, self.columns[k], f"{self.results_path}: column {k}") for k, v in f.items()}
                for f in saved]

    def write(self, rows: list[dict]) -> list[dict]:
        """The same as :meth:`add` (it merges: a saved row whose key ``rows`` lacks is kept, never
        dropped). Kept for callers of the earlier API, which replaced the file."""
        return self.add(rows)

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
            if None in raw or any(v is None for v in raw.values()):   # a field too many, or too few
                raise InvalidArgumentError(f"{path}: line {reader.line_num} does not have exactly {len(columns)} "
                                           "fields (a damaged file: delete the run folder and rerun)")
            out.append({k: _parse(v, columns[k], f"{path}: column {k}") for k, v in raw.items()})
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
