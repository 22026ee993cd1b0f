"""Atomic file writes: an anonymous temp file in the target's folder, fsync, ``os.replace``.

A writer killed mid-write leaves the previous file or the new one, never half of one, and no temp
file that a later writer would not remove. Foundation: imported by tickets (file format) and run
folders alike; imports only sltheory.errors.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks, so stale temp files are never removed
    fcntl = None  # type: ignore[assignment]  # mypy has no "module or None" type; every use checks for None

from .errors import InvalidArgumentError

__all__ = ["atomic_write", "atomic_write_text", "savefig_atomic", "savefig_formats"]


#: Temp files of :func:`atomic_write`: ``.sl-<writer's pid>-<8 random hex digits>.tmp`` in the
#: target's folder. Short whatever the target's name (so any legal name can be written), and the pid
#: lets a later writer recognise a temp file whose writer died (:func:`_remove_stale_temps`).
_TEMP_NAME = re.compile(r"\.sl-([0-9]{1,10})-[0-9a-f]{8}\.tmp")
_NO_O_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT, errno.EACCES, errno.EPERM}
#: Anonymous temp files (Linux ``O_TMPFILE``, named at the end through ``/proc/self/fd``) where possible.
_ANONYMOUS_TEMPS = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def _temp_name() -> str:
    return f".sl-{os.getpid()}-{os.urandom(4).hex()}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # a live process of another user
        return True
    except OverflowError:     # beyond pid_t: no such process
        return False
    return True


def _remove_stale_temps(dir_fd: int) -> None:
    """Remove the temp files (named by :func:`_temp_name`) that writers killed mid-write (``kill -9``,
    a power loss) left in the folder: those whose pid is not a live process *and* whose advisory lock
    no process holds (a live writer holds it from creation to rename, which also covers a writer in
    another pid namespace sharing the folder). Best effort: a file that cannot be checked is kept."""
    if fcntl is None:
        return
    try:
        temps = [(m.group(0), int(m.group(1))) for e in os.scandir(dir_fd) if (m := _TEMP_NAME.fullmatch(e.name))]
    except OSError:
        return
    for name, pid in temps:
        if _pid_alive(pid):
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # OSError (EWOULDBLOCK): a live writer holds it
            now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):   # still the file we locked
                os.unlink(name, dir_fd=dir_fd)
        except OSError:
            continue
        finally:
            os.close(fd)


def _mkstemp_like_open(dir_fd: int) -> tuple[int, str | None]:
    """A new temp file for :func:`atomic_write` in the folder ``dir_fd``, open for writing, with the
    permissions open() would give (mode 0o666 less the umask, applied by the kernel) and an exclusive
    advisory lock held until it is closed. Anonymous where the OS allows (Linux ``O_TMPFILE``, with
    ``/proc/self/fd`` to name it later): ``(fd, None)``, so that a writer killed before the rename
    leaves nothing behind. Otherwise a named ``.sl-<pid>-<hex>.tmp``: ``(fd, name)``."""
    if _ANONYMOUS_TEMPS:
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno not in _NO_O_TMPFILE:
                raise
        else:
            _lock(fd)
            return fd, None
    fd, name = _create_named(dir_fd)
    _lock(fd)
    return fd, name


def _create_named(dir_fd: int) -> tuple[int, str]:
    """A new, empty ``.sl-<pid>-<hex>.tmp`` in ``dir_fd`` (a fresh name until one is free)."""
    while True:
        name = _temp_name()
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=dir_fd), name
        except FileExistsError:
            continue


def _lock(fd: int) -> None:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            os.close(fd)
            raise


def _name_anonymous(fd: int, dir_fd: int) -> tuple[int, str]:
    """Give the anonymous (O_TMPFILE) file ``fd`` a short temp name in ``dir_fd``: ``(fd, name)``.
    Where the kernel refuses the link (a sandbox), its bytes are copied into a named temp file
    instead, fsync'ed, and that file's fd is returned (``fd`` is then closed)."""
    while True:
        name = _temp_name()
        try:
            os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)   # linkat
        except FileExistsError:
            continue
        except OSError:
            break
        return fd, name
    size = os.fstat(fd).st_size
    out, name = _create_named(dir_fd)
    try:
        _lock(out)
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(1 << 24, size - offset), offset)
            if not chunk:
                raise OSError(errno.EIO, "the temp file shrank while being copied")
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
            offset += len(chunk)
        os.fsync(out)
    except BaseException:
        os.close(out)
        os.unlink(name, dir_fd=dir_fd)
        raise
    os.close(fd)
    return out, name


def atomic_write(path, write, *, binary: bool = False) -> None:
    """``write(fh)`` into a temp file in ``path``'s folder, fsync it, then ``os.replace`` it onto
    ``path`` (and fsync the folder): a reader sees the old file or the whole new one, never a
    half-written one. The folder is created if needed.

    The temp file is anonymous until the rename where the OS allows (Linux ``O_TMPFILE``), so a
    writer killed mid-write (``kill -9``) leaves no file behind; otherwise, and in the instant
    between naming and renaming, it is ``.sl-<pid>-<8 hex>.tmp`` (short, so any legal name of
    ``path`` works), and every write into the folder first removes such files whose writer is dead.
    ``path`` itself must be a regular file or not exist (:class:`InvalidArgumentError` for a
    folder, FIFO, device or socket, and for a name longer than the file system allows, before
    anything is written)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write {path}: {exc.strerror}") from None
    else:
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO, device or socket)"
            raise InvalidArgumentError(f"cannot write {path}: it is {kind}")
    path.parent.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            name_max = os.fpathconf(dir_fd, "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = None
        if name_max is not None and len(os.fsencode(path.name)) > name_max:
            raise InvalidArgumentError(f"cannot write {path}: the name is {len(os.fsencode(path.name))} bytes "
                                       f"long, the file system allows {name_max}")
        _remove_stale_temps(dir_fd)
        fd, tmp = _mkstemp_like_open(dir_fd)
        try:
            with (os.fdopen(fd, "wb", closefd=False) if binary
                  else os.fdopen(fd, "w", newline="", closefd=False)) as fh:
                write(fh)
                fh.flush()
                os.fsync(fd)
            if tmp is None:
                fd, tmp = _name_anonymous(fd, dir_fd)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            tmp = None
        except BaseException:
            if tmp is not None:
                try:
                    os.unlink(tmp, dir_fd=dir_fd)
                except FileNotFoundError:
                    pass
            raise
        finally:
            os.close(fd)   # releases the lock
        try:
            os.fsync(dir_fd)   # the rename itself survives a power loss
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
                raise
    finally:
        os.close(dir_fd)


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text))


def savefig_atomic(fig, path) -> None:
    """``fig.savefig`` (format from ``path``'s suffix) written atomically (:func:`atomic_write`)."""
    path = Path(path)
    atomic_write(path, lambda fh: fig.savefig(fh, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight"),
                 binary=True)


def savefig_formats(fig, folder, name: str, suffixes=("pdf", "png")) -> list[Path]:
    """``fig`` saved as ``folder/name.<suffix>`` for each suffix (:func:`savefig_atomic`); the paths."""
    paths = [Path(folder) / f"{name}.{suffix}" for suffix in suffixes]
    for path in paths:
        savefig_atomic(fig, path)
    return paths
