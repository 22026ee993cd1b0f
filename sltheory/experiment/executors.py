"""Run independent jobs in this process, in a local process pool, or on a Ray cluster.

:func:`run_jobs` calls ``fn(job)`` for every job and yields ``(job, result)`` as each finishes
(completion order), so a caller can save every result the moment it exists (resumable sweeps).

* ``executor="local"``: ``workers=1`` runs in this process (no pool); ``workers > 1`` uses a
  :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method (safe with torch
  and numba threads). Each worker pins torch and numba to ``threads_per_worker`` threads so that
  ``workers × threads`` does not oversubscribe the cores. No worker outlives the sweep: a worker
  dies with its parent however the parent dies (Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; every
  OS: a thread that exits the worker within 0.5 s of its parent changing), the parent kills its
  workers before it dies of SIGTERM (when SIGTERM has its default action, in the main thread), and
  Ctrl-C (``KeyboardInterrupt``), an error in a job, or a caller that stops iterating early
  terminate the running jobs' workers at once instead of waiting for them. Workers ignore SIGINT
  (a terminal's Ctrl-C reaches the whole process group; the parent decides). The death signal is
  tied to the thread that started the workers: iterate the generator from one thread that lives
  until it is done.
* ``executor="ray"``: every job is one Ray task (``num_cpus=1``). ``ray_address=None`` starts a
  local Ray instance with ``workers`` CPUs (default: all cores) and shuts it down afterwards;
  ``ray_address="auto"`` or ``"ray://host:port"`` joins an existing cluster (the way to scale to
  many machines) and leaves it running. ``fn`` and the jobs must be picklable; ``fn`` must be a
  module-level function of an installed package (workers import it by name).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from ..errors import InvalidArgumentError

__all__ = ["run_jobs", "EXECUTORS", "default_workers"]

EXECUTORS = ("local", "ray")


def default_workers() -> int:
    """Usable cores (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _limit_threads(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)
    try:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]  # set at import
    except ImportError:  # pragma: no cover - numba is a dependency
        pass


#: How often a pool worker checks that its parent is alive (the fallback where PR_SET_PDEATHSIG is missing).
_PARENT_POLL_S = 0.5


def _set_parent_death_signal() -> None:
    """Linux: ask the kernel to SIGKILL this process when its parent (thread) exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):                   # pragma: no cover - no libc prctl
        pass


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent_pid:      # reparented: the parent is gone
            os._exit(1)


def _worker_init(parent_pid: int) -> None:
    """Initializer of every pool worker: die with the parent, leave Ctrl-C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    if os.getppid() != parent_pid:          # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="sltheory-parent-watch", daemon=True).start()


def _call(fn, job, threads):
    _limit_threads(threads)
    return fn(job)


def check_executor(executor: str, workers, ray_address) -> int:
    """Validate the options (typed errors before any work); returns the worker count."""
    if executor not in EXECUTORS:
        raise InvalidArgumentError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError(f"workers must be an integer ≥ 1, got {workers!r}")
    if ray_address is not None and executor != "ray":
        raise InvalidArgumentError("ray_address is only meaningful with executor='ray'")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InvalidArgumentError("executor='ray' needs the ray package: pip install 'ray>=2.9'") from None
    return workers


def run_jobs(fn: Callable, jobs: Iterable, *, executor: str = "local", workers: int | None = None,
             ray_address: str | None = None, threads_per_worker: int = 1) -> Iterator[tuple]:
    """Yield ``(job, fn(job))`` for every job, in completion order. See the module docstring."""
    workers = check_executor(executor, workers, ray_address)
    jobs = list(jobs)
    if not jobs:
        return
    if executor == "ray":
        yield from _run_ray(fn, jobs, workers, ray_address, threads_per_worker)
    elif workers == 1:
        for job in jobs:
            yield job, fn(job)
    else:
        yield from _run_pool(fn, jobs, workers, threads_per_worker)


def _run_pool(fn, jobs, workers, threads):
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx,
                               initializer=_worker_init, initargs=(os.getpid(),))
    restore = _kill_workers_on_sigterm(pool)
    try:
        pending = {pool.submit(_call, fn, job, threads): job for job in jobs}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = pending.pop(fut)
                yield job, fut.result()
    except BaseException:   # a job's error, Ctrl-C, or the caller stopped early (GeneratorExit)
        _stop_pool(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        restore()


def _workers(pool) -> list:
    """The pool's worker processes (``ProcessPoolExecutor`` keeps them in ``_processes``)."""
    for _ in range(3):      # the manager thread may change the dict while it is copied
        try:
            return list((getattr(pool, "_processes", None) or {}).values())
        except RuntimeError:
            continue
    return []


def _stop_pool(pool) -> None:
    """Cancel the queued jobs and terminate the workers now (not after their running jobs)."""
    procs = _workers(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():    # pragma: no cover - SIGTERM ignored
            p.kill()
            p.join()


def _kill_workers_on_sigterm(pool):
    """While the pool runs, a SIGTERM with its default action (death) first kills the pool's workers,
    then kills this process by SIGTERM as before. Returns the function that undoes it. Only the
    main thread can set a handler; a handler someone else set is left alone (if it returns, the
    sweep goes on; if it raises, :func:`_run_pool` stops the pool)."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def handler(signum, frame):
        for p in _workers(pool):        # no locks here: the main thread may hold the pool's
            try:
                os.kill(p.pid, signal.SIGKILL)
            except (OSError, TypeError):
                pass
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)

    def restore():
        if signal.getsignal(signal.SIGTERM) is handler:
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
            except ValueError:          # the generator was finished from another thread
                pass
    return restore


def _run_ray(fn, jobs, workers, ray_address, threads):
    import ray

    started = False
    if not ray.is_initialized():
        if ray_address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        else:
            ray.init(address=ray_address, log_to_driver=False, configure_logging=False)
        started = True
    refs = {}
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        refs = {remote.remote(fn, job, threads): job for job in jobs}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                job = refs.pop(ref)
                yield job, ray.get(ref)
    finally:
        for ref in refs:            # interrupted (an exception, or the caller stopped early)
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
