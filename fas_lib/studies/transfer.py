"""Cross-dataset evaluation: train on one crop cache, test on another cache's test split.

:func:`cross_dataset` trains (or reads back) a run on ``train_cache`` in its usual run folder
(:func:`fas_lib.studies.tables.run_many`), scores the ``test`` split of ``test_cache`` (any
dataset adapter's cache, SynthSpoof included) with that run's model and computes the metrics
with the threshold fixed on the **training side**: at the EER of the training run's ``dev``
scores (a training cache without ``dev``: its ``test`` scores, recorded in
``threshold_from``). Nothing of the test cache chooses anything.

The result is a run folder of its own, ``out_root/cross-<run name>-<hash>`` (hash of the
training run folder and of the test data, :func:`fas_lib.training.runs.data_key`), written by
:func:`fas_lib.training.runs.write_run`: ``scores.csv`` holds the training side's threshold rows (as
``dev``) and the other cache's ``test`` rows; ``results.json`` the metrics
(:func:`fas_lib.evaluation.scores.evaluate_scores`), the training run's own metrics
(``within_dataset``) and where both sides come from. A finished one is read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fas_lib.cache.reader import CropCache
from fas_lib.core.utils import get_device
from fas_lib.evaluation.scores import evaluate_scores
from fas_lib.studies.tables import run_many
from fas_lib.training.config import ExperimentConfig, cache_splits, scale_indices
from fas_lib.training.runs import (
    SCORES,
    config_hash,
    data_key,
    load_run,
    read_results,
    read_run_scores,
    write_run,
)
from fas_lib.training.scoring import score_split

__all__ = ["cross_dataset"]


def _describe(cache: CropCache) -> dict[str, Any]:
    """Where a cache's data comes from: dataset, protocol, fold, data key and path."""
    m = getattr(cache, "manifest", {}) or {}
    return {"dataset": m.get("dataset"), "protocol": m.get("protocol"), "fold": m.get("fold"),
            "data_key": data_key(cache), "cache": str(getattr(cache, "path", ""))}


def _threshold_rows(train_dir: Path) -> tuple[pd.DataFrame, str]:
    """The training run's scores that fix the threshold, as ``dev`` rows, and their split."""
    scores = read_run_scores(train_dir)
    split = "dev" if (scores["split"] == "dev").any() else "test"
    rows = scores[scores["split"] == split].assign(split="dev")
    return rows.reset_index(drop=True), split


def cross_dataset(
    config: ExperimentConfig | dict[str, Any],
    train_cache: CropCache,
    test_cache: CropCache,
    out_root: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Train on ``train_cache``, evaluate on ``test_cache``'s test split (threshold: training dev).

    Args:
        config: the run (its ``dataset`` fields are not read: the caches are given).
        train_cache: the cache trained on (its run folder lands in ``out_root`` as usual).
        test_cache: the cache whose ``test`` split is scored; it must hold ``config.scales``.
        out_root: folder of the run folders (the training run's and the cross-dataset one's).
        progress: tqdm bars.

    Returns:
        ``results.json``'s content plus ``run_dir``: ``metrics`` (frame / video level, test on
        ``test_cache``), ``threshold_from``, ``within_dataset`` (the training run's metrics),
        ``train`` / ``test`` (:func:`_describe` of each side), ``train_run``.

    Raises:
        ValueError: a bad config, a scale missing from either cache, no test split.
    """
    if isinstance(config, dict):
        config = ExperimentConfig.from_dict(config)
    cfg = config.resolve()
    idx = scale_indices(test_cache, cfg.scales)  # fail before training
    if "test" not in cache_splits(test_cache):
        raise ValueError("the test cache has no test split; it has "
                         f"{sorted(cache_splits(test_cache))}")
    (trained,) = run_many([cfg], out_root, train_cache, progress, desc="cross-dataset train")
    train_dir = Path(trained["run_dir"])
    key = config_hash({"train_run": train_dir.name, "test": data_key(test_cache)})
    d = Path(out_root) / f"cross-{cfg.name}-{key}"
    res = read_results(d)
    if res is None or not res.get("complete"):
        device = get_device(cfg.device)
        model, _ = load_run(train_dir, device)
        test = score_split(model, test_cache, "test", idx, cfg.scales, cfg.eval_batch_size,
                           device, progress, with_aux=cfg.aux_weight > 0)
        dev, split = _threshold_rows(train_dir)
        scores = pd.concat([dev, test], ignore_index=True)
        res = {"complete": True, "name": f"cross-{cfg.name}", "config": cfg.to_dict(),
               "metrics": evaluate_scores(scores), "threshold_from": f"train cache, {split}",
               "within_dataset": trained["metrics"], "train": _describe(train_cache),
               "test": _describe(test_cache), "train_run": str(train_dir), "scores_csv": SCORES}
        write_run(d, res, scores)
    return {**res, "run_dir": str(d)}
