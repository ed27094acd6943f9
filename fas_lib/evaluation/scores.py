"""The scores table: one row per scored frame, the one way scores are stored and measured.

* :func:`scores_table` builds it for any scorer (the CNNs, the LBP baseline) and
  :func:`write_scores` / :func:`read_scores` are the one way it is stored (``scores.csv``:
  ``split, video_id, frame_idx, label, attack_type, score``; MS-FANS adds its learned scale
  weights ``w_<scale>``; runs trained with auxiliary losses add the per-scale classifiers'
  scores ``aux_<scale>``);
* :func:`align_scores`: several runs' tables on their common rows;
* :func:`evaluate_scores`: frame- and video-level metrics of a scores table
  (:func:`fas_lib.evaluation.metrics.evaluate`, threshold at the dev EER);
* :func:`mean_weights`: MS-FANS's mean learned weight per scale.

A model's scores are made by :mod:`fas_lib.training.scoring`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.core.utils import atomic_write_text
from fas_lib.evaluation.metrics import evaluate

__all__ = [
    "align_scores", "evaluate_scores", "mean_weights", "read_scores", "scores_table",
    "write_scores",
]


# ----------------------------------------------------------------------------- the scores table


def scores_table(split: str, frames: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    """The scores table of one split: ``split, video_id, frame_idx, label, attack_type, score``.

    Args:
        split: the split name written in every row.
        frames: one row per scored frame (``video_id``, ``frame_idx``, ``label``,
            ``attack_type``), in the order of ``scores``.
        scores: the bona-fide score of each frame (higher = more bona fide).
    """
    return pd.DataFrame({
        "split": split,
        "video_id": frames["video_id"].astype(str).to_numpy(),
        "frame_idx": frames["frame_idx"].astype(int).to_numpy(),
        "label": frames["label"].astype(int).to_numpy(),
        "attack_type": frames["attack_type"].astype(str).to_numpy(),
        "score": scores,
    })


def align_scores(tables: Sequence[pd.DataFrame], names: Sequence[str], key: Sequence[str],
                 column: str = "score", what: str = "frames") -> tuple[pd.DataFrame, np.ndarray]:
    """Several models' scores of the same test samples, side by side (for a paired bootstrap).

    Args:
        tables: one test table per model, each with ``key`` and ``column``.
        names: the models' names, for the error message.
        key: the columns that identify a sample (``video_id`` and ``frame_idx``, or a clip's
            ``video_id``).
        column: the score column.
        what: the samples' name in the error message (``"frames"``, ``"clips"``).

    Returns:
        ``(rows, scores)``: the first table's rows (index reset) and ``(len(rows),
        len(tables))`` scores, column ``k`` the ``k``-th model's score of each row.

    Raises:
        ValueError: a table holds other samples than the first.
    """
    key = list(key)
    first = tables[0].reset_index(drop=True)
    cols = []
    for name, t in zip(names, tables, strict=True):
        m = first[key].merge(t[[*key, column]], on=key, how="left")
        if len(t) != len(first) or len(m) != len(first) or m[column].isna().any():
            raise ValueError(f"{name} scored other test {what} than {names[0]}: different test "
                             f"{what} ({len(t)} and {len(first)})")
        cols.append(m[column].to_numpy(float))
    return first, np.stack(cols, axis=1)


def write_scores(scores: pd.DataFrame, path: str | Path) -> Path:
    """Write a scores table as CSV (atomically; no index column)."""
    return atomic_write_text(path, scores.to_csv(index=False))


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read back a scores table written by :func:`write_scores`."""
    return pd.read_csv(path)


# ----------------------------------------------------------------------------- scoring


def evaluate_scores(scores: pd.DataFrame, score_col: str = "score") -> dict[str, Any]:
    """Frame- and video-level metrics of a scores table
    (:func:`fas_lib.evaluation.metrics.evaluate`).

    The threshold is fixed on ``dev`` at its EER; a table without ``dev`` rows (train/test
    protocols such as CASIA-FASD's default ``standard_nodev``, the paper's, which reports only
    the test EER there) fixes it at the EER of ``test`` instead, which the result records in
    ``threshold_split``: ``test_hter`` / ``test_apcer`` / ... are then measured at a threshold
    chosen on test (optimistic, not an HTER in the usual sense), and ``dev_eer``,
    ``dev_threshold`` and ``dev_auc`` are NaN (there is no dev set to report).
    """
    test = scores[scores["split"] == "test"]
    dev = scores[scores["split"] == "dev"]
    if len(test) == 0:
        raise ValueError("no test scores: the cache has no 'test' split")
    thr_split = "dev"
    if len(dev) == 0:
        dev, thr_split = test, "test"
    out = evaluate(dev["label"].to_numpy(), dev[score_col].to_numpy(),
                   test["label"].to_numpy(), test[score_col].to_numpy(),
                   test_attack_types=test["attack_type"].to_numpy(),
                   dev_video_ids=dev["video_id"].to_numpy(),
                   test_video_ids=test["video_id"].to_numpy())
    if thr_split == "test":
        for level in ("frame", "video"):
            if level in out:
                out[level].update(dev_eer=float("nan"), dev_threshold=float("nan"),
                                  dev_auc=float("nan"))
    out["threshold_split"] = thr_split
    out["n_frames"] = {"dev": int(len(dev)) if thr_split == "dev" else 0, "test": int(len(test))}
    return out


def mean_weights(scores: pd.DataFrame, scales: Sequence[float]) -> dict[str, float] | None:
    """Mean learned weight of each scale over a scores table (``None`` without ``w_`` columns)."""
    cols = [f"w_{s:g}" for s in scales]
    if not all(c in scores for c in cols):
        return None
    return {c[2:]: float(scores[c].mean()) for c in cols}
