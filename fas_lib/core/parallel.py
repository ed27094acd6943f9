"""The one process pool of the package: spawn workers, results as they finish, in-process fallback.

:func:`pool_map` runs a worker function over a list of jobs, in a ``spawn`` process pool when
there is more than one worker and more than one job, else in this process. Results come back
as ``(job index, result)`` pairs as they finish, so callers that need a fixed order put them
back in place (the results never depend on the number of workers or on the finishing order).

When the pool breaks (:class:`~concurrent.futures.process.BrokenProcessPool`: a worker died,
most often because a plain script without the ``if __name__ == "__main__":`` guard spawned
it), :func:`pool_map` warns once, with one message, and computes the jobs not yet done in
this process::

    >>> from contextlib import closing
    >>> with closing(pool_map(work, jobs, workers=2, what="crop cache",
    ...                       entry="build_cache")) as results:
    ...     for i, res in results:
    ...         out[i] = res

Close the iterator (``contextlib.closing``) when the loop may stop early: the pool is then
shut down (pending jobs cancelled, running ones finished) before the exception travels on.

Workers use ``spawn`` (forking a parent whose OpenCV / BLAS thread pools are running can
deadlock the children on an inherited lock) and start single-threaded
(:func:`single_threaded_children`), so ``workers`` processes use ``workers`` cores.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")

#: Environment variables set to 1 in worker processes (no nested thread pools).
THREAD_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Set :data:`THREAD_ENV_VARS` to 1 while processes are spawned; restore them afterwards."""
    old = {k: os.environ.get(k) for k in THREAD_ENV_VARS}
    os.environ.update({k: "1" for k in THREAD_ENV_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def uses_pool(workers: int, n_jobs: int) -> bool:
    """Whether :func:`pool_map` runs ``n_jobs`` jobs in a pool (else in this process)."""
    return int(workers) > 1 and n_jobs > 1


InProcess = Callable[[], contextlib.AbstractContextManager[Callable[[Any], Any]]]


def pool_map(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    workers: int,
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    in_process: InProcess | None = None,
    what: str = "work",
    entry: str = "this function",
) -> Iterator[tuple[int, R]]:
    """Yield ``(i, fn(jobs[i]))`` for every job, as the jobs finish.

    Args:
        fn: the worker: a picklable (module-level) function of one job.
        jobs: picklable jobs.
        workers: processes; the pool has ``min(workers, len(jobs))`` of them, and with one
            worker or one job everything runs in this process.
        initializer, initargs: run once in every pool worker (not in this process).
        in_process: how to run jobs in this process (no pool, or the rest after a broken
            pool): a function returning a context manager that yields the function to apply
            to a job; entered once, and only when a job is left. ``None``: ``fn`` itself.
        what: the pool's owner, opening the warning (``"crop cache"``).
        entry: the public function a script calls (named in the warning's advice).
    """
    done: set[int] = set()
    if uses_pool(workers, len(jobs)):
        try:
            yield from _pooled(fn, jobs, min(int(workers), len(jobs)), initializer, initargs,
                               done)
        except BrokenProcessPool as exc:
            warnings.warn(
                f"{what}: the process pool failed ({exc}); running the {len(jobs) - len(done)} "
                f"of {len(jobs)} jobs not yet done in this process. In a plain script, call "
                f"{entry}() under `if __name__ == '__main__':`.",
                RuntimeWarning,
                stacklevel=3,
            )
    if len(done) == len(jobs):
        return
    with (in_process() if in_process is not None else contextlib.nullcontext(fn)) as run:
        for i, job in enumerate(jobs):
            if i not in done:
                res = run(job)
                done.add(i)
                yield i, res


def _pooled(
    fn: Callable[[J], R], jobs: Sequence[J], workers: int,
    initializer: Callable[..., None] | None, initargs: tuple, done: set[int],
) -> Iterator[tuple[int, R]]:
    """The pool part of :func:`pool_map`; adds each finished job's index to ``done``."""
    with single_threaded_children(), ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=initargs,
    ) as pool:
        futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        try:
            for fut in as_completed(futures):
                res = fut.result()
                done.add(futures[fut])
                yield futures[fut], res
        except BaseException:  # also GeneratorExit: the caller stopped early
            for f in futures:
                f.cancel()
            raise
