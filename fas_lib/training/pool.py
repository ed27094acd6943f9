"""Several training runs at once on a CPU: one process per run, the cores shared out.

A small network does not keep every core busy inside one training step (on the 2-core
reference machine CNN_S trains at about 555 samples/s on two threads and 450 on one:
``benchmarks/bench_roofline.py --threads``), so runs side by side, each with its share of the
cores, can train more samples per second than the same runs one after the other
(``benchmarks/bench_pool.py`` measures how many more). :func:`train_runs` does that for the runs
a table or a study still has to train: each in a ``spawn`` worker of
:func:`fas_lib.core.parallel.pool_map` with ``cores // workers`` threads, results handed back as
the runs finish.

**What it changes in the numbers.** A CPU convolution's weight gradient sums over the batch in
per-thread chunks, so a run trained on one thread is not bit-identical to the same run on two
(differences of about 1e-4 in the weights after a few steps). Which runs train in a pool is
decided by the work alone: the not-yet-finished runs of one call, when there are two or more
and ``workers`` is above 1; a lone run trains in this process with every thread. A from-scratch
``make notebooks`` with a given ``FAS_RUN_WORKERS`` therefore reproduces itself exactly, and
``results.json`` records each run's ``threads``. Unset (the default, :func:`run_workers`), runs
train one after the other, as the committed results were.

GPU runs never use a pool (one device, one run at a time): :func:`run_workers` is 1 for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from tqdm.auto import tqdm

from fas_lib.core.parallel import pool_map

__all__ = ["RUN_WORKERS_ENV", "run_workers", "train_runs", "worker_threads"]

J = TypeVar("J")
R = TypeVar("R")

#: Environment variable that sets how many runs train at once (``1``: one after the other).
RUN_WORKERS_ENV = "FAS_RUN_WORKERS"


def run_workers(device: str | None = "cpu") -> int:
    """How many runs train at once: ``$FAS_RUN_WORKERS`` when set (a CPU only: GPU runs train
    one at a time), else 1.

    One is the default because on this course's 2-core reference machine the gain is small
    (``benchmarks/bench_pool.py``) and pooled runs are not bit-identical to the committed
    results; on a CPU with more cores, where one small network leaves most of them idle, set
    ``FAS_RUN_WORKERS=2`` (or more).

    Raises:
        ValueError: ``$FAS_RUN_WORKERS`` is not a positive integer.
    """
    raw = os.environ.get(RUN_WORKERS_ENV, "").strip()
    if not raw or device not in (None, "cpu"):
        return 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"${RUN_WORKERS_ENV} must be a positive integer, got {raw!r}")
    return n


def worker_threads(workers: int) -> int:
    """Threads of each pool worker: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, int(workers)))


def _init_worker(threads: int) -> None:
    import torch  # the worker's own torch, before any run touches it

    torch.set_num_threads(threads)


def train_runs(
    train: Callable[[J], R],
    jobs: Sequence[J],
    workers: int,
    *,
    progress: bool = True,
    desc: str = "runs",
    entry: str = "train_runs",
) -> Iterator[tuple[int, R]]:
    """Yield ``(i, train(jobs[i]))`` for every job as it finishes, with a tqdm bar over the jobs.

    With ``workers > 1`` and more than one job, the jobs run in a pool of
    ``min(workers, len(jobs))`` spawned processes, each with :func:`worker_threads` threads;
    otherwise one after the other in this process (with this process's threads).

    Args:
        train: a module-level (picklable) function that trains one job and returns its results;
            it should show no progress bar of its own inside a pool.
        jobs: picklable jobs (a config, its run folder, its data).
        workers: processes (:func:`run_workers` for the default).
        progress: the bar over the jobs.
        desc: the bar's label.
        entry: the public function a script calls (named in the advice when a plain script
            without ``if __name__ == "__main__":`` breaks the pool; the jobs then run here).
    """
    n = min(int(workers), len(jobs))
    bar = tqdm(total=len(jobs), desc=desc, unit="run", disable=not progress)
    with bar:
        for i, res in pool_map(train, jobs, n, initializer=_init_worker,
                               initargs=(worker_threads(n),), what=desc, entry=entry):
            bar.update(1)
            yield i, res
