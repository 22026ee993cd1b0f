"""Run independent jobs in this process, in a local process pool, or on a Ray cluster.

:func:`run_jobs` calls ``fn(job)`` for every job and yields ``(job, result)`` as each finishes
(completion order), so a caller can save every result the moment it exists (resumable sweeps).

* ``executor="local"``: ``workers=1`` runs in this process (no pool); ``workers > 1`` uses a
  :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method (safe with torch
  and numba threads). Each worker pins torch and numba to ``threads_per_worker`` threads so that
  ``workers × threads`` does not oversubscribe the cores.
* ``executor="ray"``: every job is one Ray task (``num_cpus=1``). ``ray_address=None`` starts a
  local Ray instance with ``workers`` CPUs (default: all cores) and shuts it down afterwards;
  ``ray_address="auto"`` or ``"ray://host:port"`` joins an existing cluster (the way to scale to
  many machines) and leaves it running. ``fn`` and the jobs must be picklable; ``fn`` must be a
  module-level function of an installed package (workers import it by name).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from .errors import InvalidArgumentError

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
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover - numba is a dependency
        pass


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
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
        pending = {pool.submit(_call, fn, job, threads): job for job in jobs}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job = pending.pop(fut)
                    yield job, fut.result()
        finally:
            for fut in pending:
                fut.cancel()


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
