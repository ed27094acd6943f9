"""Runs one after the other against runs side by side (``FAS_RUN_WORKERS``), in one run.

Trains the same runs twice through :func:`fas_lib.studies.tables.run_many`, each time into a
fresh folder: with ``workers=1`` (one after the other, every thread each: the default) and
with ``workers=2`` (:mod:`fas_lib.training.pool`: two spawned processes, the cores shared out).
Two kinds of run, as the notebooks train them (the ``cpu`` preset's schedule; ``--epochs``
shortens them alike, which favours one after the other: each worker process starts once, a
few seconds, whatever the runs' length):

* four single-scale CNN_S runs (Table II at 0.9, 1.0, 1.1, 1.2);
* four three-scale runs (Table III's Average and MS-FANS on [0.9, 1.0, 1.1] and [1.0, 1.1, 1.2]).

It prints, and writes to ``results/bench_pool.json``, the wall seconds of each way, their
ratio (``speedup``: one after the other / side by side) and each run's training samples/s
and threads, plus whether the two ways' test EERs agree (they need not be bit-identical: a run
on one thread sums its gradients in another order than on two).

Usage::

    python benchmarks/bench_pool.py [--epochs N] [--workers 2] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from fas_lib.core.utils import save_results
from fas_lib.studies import tables
from fas_lib.training.config import load_experiment

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "single-scale CNN_S x4": ("table_ii", {"scales": [(0.9,), (1.0,), (1.1,), (1.2,)]}),
    "three-scale fusions x4": ("table_iii", {"scales": [(0.9, 1.0, 1.1), (1.0, 1.1, 1.2)],
                                             "fusion": ["average", "msfans"]}),
}


def time_runs(configs: list[Any], cache: Any, workers: int) -> dict[str, Any]:
    """Train ``configs`` into a fresh folder with ``workers`` processes; wall time and runs."""
    with tempfile.TemporaryDirectory(prefix="bench_pool-") as out:
        t0 = time.perf_counter()
        res = tables.run_many(configs, Path(out), cache, progress=False, workers=workers)
        wall = time.perf_counter() - t0
    return {"workers": workers, "wall_seconds": wall,
            "runs": [{"name": r["name"], "threads": r["timing"]["threads"],
                      "train_samples_per_s": r["timing"]["train_samples_per_s"],
                      "test_eer": r["metrics"]["frame"]["test_eer"]} for r in res]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs of every run, both ways (default: the cpu preset's)")
    ap.add_argument("--workers", type=int, default=2, help="processes of the side-by-side way")
    ap.add_argument("--smoke", action="store_true", help="tiny cache, one epoch")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()

    from fas_lib.cache.prepare import get_cache

    cache = get_cache(smoke=args.smoke, progress=False)
    epochs = None if args.smoke else args.epochs  # None: the preset's (smoke: one)
    kinds = {}
    for kind, (experiment, grid) in KINDS.items():
        configs = load_experiment(experiment).configs(grid=grid, epochs=epochs,
                                                      smoke=args.smoke)
        alone = time_runs(configs, cache, 1)
        pooled = time_runs(configs, cache, args.workers)
        gaps = [abs(a["test_eer"] - p["test_eer"]) for a, p in
                zip(alone["runs"], pooled["runs"], strict=True)]
        kinds[kind] = {"one_after_the_other": alone, "side_by_side": pooled,
                       "speedup": alone["wall_seconds"] / pooled["wall_seconds"],
                       "max_test_eer_gap": max(gaps)}
        print(f"{kind}: {alone['wall_seconds']:.1f} s one after the other, "
              f"{pooled['wall_seconds']:.1f} s with {args.workers} side by side -> "
              f"{kinds[kind]['speedup']:.2f}x (test EERs within {100 * max(gaps):.2f} points)")
    out = {"epochs": configs[0].resolve().epochs, "workers": args.workers, "cpu_count": os.cpu_count(),
           "smoke": args.smoke, "cache": str(getattr(cache, "path", "")), "kinds": kinds}
    print(f"wrote {save_results(out, 'bench_pool', args.out)}")


if __name__ == "__main__":
    main()
