"""Scores and their metrics: a model's bona-fide score for every frame of a split.

* :func:`score_split`: score every frame of a split (centre crops, eval mode) into a
  **scores table**; :func:`scores_table` builds that table for any scorer (the CNNs, the LBP
  baseline) and :func:`write_scores` / :func:`read_scores` are the one way it is stored
  (``scores.csv``: ``split, video_id, frame_idx, label, attack_type, score``; MS-FANS adds its
  learned scale weights ``w_<scale>``; runs trained with auxiliary losses add the per-scale
  classifiers' scores ``aux_<scale>``);
* :func:`evaluate_scores`: frame- and video-level metrics of a scores table
  (:func:`fas_lib.metrics.evaluate`, threshold at the dev EER);
* notebook 05: :class:`ScaleFeatures` / :func:`extract_scale_features` (the CNN run once over a
  split) and :func:`rescore` (fuse those features with hand-set weights, instantly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm.auto import tqdm

from fas_lib.cache import CropCache
from fas_lib.config import ExperimentConfig, open_experiment_cache, scale_indices
from fas_lib.loader import CropDataset
from fas_lib.metrics import evaluate
from fas_lib.models import MultiScaleNet, scores_from_logits
from fas_lib.utils import atomic_write_text

__all__ = [
    "ScaleFeatures", "align_scores", "evaluate_scores", "extract_scale_features", "mean_weights",
    "read_scores", "rescore", "score_split", "scores_table", "write_scores",
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


def _forward_split(model: MultiScaleNet, cache: CropCache, split: str, idx: Sequence[int],
                   batch_size: int, device: str, progress: bool) -> dict[str, Any]:
    """Run the model over ``split``'s centre crops: scores, weights, aux scores, row order."""
    ds = CropDataset(cache, split, list(idx), train=False, size=112, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    scores, weights, aux, rows = [], [], [], []
    model.eval()
    with torch.no_grad():
        for x, _y, row in tqdm(loader, desc=f"score {split}", leave=False, disable=not progress):
            out = model(x.to(device))
            scores.append(scores_from_logits(out.logits).cpu())
            weights.append(out.weights.cpu())
            aux.append(scores_from_logits(out.per_scale_logits).cpu())
            rows.append(torch.as_tensor(row))
    return {"scores": scores, "weights": weights, "aux": aux, "rows": rows}


def score_split(
    model: MultiScaleNet,
    cache: CropCache,
    split: str,
    idx: Sequence[int],
    scales: Sequence[float],
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = True,
    with_aux: bool = False,
) -> pd.DataFrame:
    """Score every frame of ``split`` (centre crops, eval mode).

    Returns:
        One row per frame in array order: ``split, video_id, frame_idx, label, attack_type,
        score``; MS-FANS adds ``w_<scale>`` (learned weights), ``with_aux`` adds ``aux_<scale>``.
    """
    out = _forward_split(model, cache, split, idx, batch_size, device, progress)
    r = torch.cat(out["rows"]).numpy()
    frames = cache.frames(split).iloc[r].reset_index(drop=True)
    df = scores_table(split, frames, torch.cat(out["scores"]).numpy().astype(np.float64))
    if getattr(model, "fusion_name", None) == "msfans":
        w = torch.cat(out["weights"]).numpy()
        for j, s in enumerate(scales):
            df[f"w_{s:g}"] = w[:, j]
    if with_aux:
        a = torch.cat(out["aux"]).numpy()
        for j, s in enumerate(scales):
            df[f"aux_{s:g}"] = a[:, j]
    return df


def evaluate_scores(scores: pd.DataFrame, score_col: str = "score") -> dict[str, Any]:
    """Frame- and video-level metrics of a scores table (:func:`fas_lib.metrics.evaluate`).

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


# ----------------------------------------------------------------------------- notebook 05


@dataclass
class ScaleFeatures:
    """Per-scale CNN features of one split, computed once (notebook 05's weight sliders).

    Attributes:
        features: ``(N, n, D)`` features (Eq. 1), centre crops, eval mode.
        weights: ``(N, n)`` the model's own scale weights (MS-FANS: ``alpha``).
        frames: ``video_id, frame_idx, label, attack_type`` of each row.
        scales: the scales, in feature order.
    """

    features: Tensor
    weights: Tensor
    frames: pd.DataFrame
    scales: tuple[float, ...]

    @property
    def labels(self) -> np.ndarray:
        """Labels (1 = bona fide)."""
        return self.frames["label"].to_numpy().astype(int)


def extract_scale_features(
    run: tuple[MultiScaleNet, ExperimentConfig],
    split: str = "test",
    cache: CropCache | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> ScaleFeatures:
    """Run the CNN once over a split and keep the per-scale features and learned weights.

    Args:
        run: ``(model, config)``, e.g. from :func:`fas_lib.runs.load_run`; for a run folder
            use :func:`fas_lib.runs.extract_run_features`.
        split: ``"dev"`` or ``"test"`` (or ``"train"``: centre crops).
        cache: opened crop cache (``None``: the one the config names).
        batch_size: frames per forward pass.
        progress: tqdm bar.
    """
    if isinstance(run, (str, Path)):  # fas_lib.runs imports this module, not the reverse
        raise TypeError(
            f"extract_scale_features takes (model, config); for the run folder {run} use "
            "fas_lib.runs.extract_run_features"
        )
    model, cfg = run
    if cache is None:
        cache = open_experiment_cache(cfg, progress=progress)
    idx = scale_indices(cache, cfg.scales)
    ds = CropDataset(cache, split, idx, train=False, size=112, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    feats, weights, rows = [], [], []
    model.eval()
    dev = next(model.parameters()).device
    with torch.no_grad():
        for x, _y, row in tqdm(loader, desc=f"features {split}", disable=not progress,
                               leave=False):
            f = model.extract_features(x.to(dev))
            feats.append(f.cpu())
            weights.append(model.scale_weights(f).cpu())
            rows.append(torch.as_tensor(row))
    r = torch.cat(rows).numpy()
    frames = cache.frames(split).iloc[r][["video_id", "frame_idx", "label", "attack_type"]]
    return ScaleFeatures(torch.cat(feats), torch.cat(weights), frames.reset_index(drop=True),
                         cfg.scales)


def rescore(model: MultiScaleNet, feats: ScaleFeatures | Tensor,
            weights: Tensor | Sequence[float] | None = None) -> np.ndarray:
    """Bona-fide scores of precomputed features fused with ``weights`` (no CNN; instant).

    Args:
        model: the run's model (:func:`fas_lib.runs.load_run`).
        feats: :class:`ScaleFeatures` or a ``(N, n, D)`` tensor.
        weights: ``None`` (the model's own), ``(n,)`` or ``(N, n)`` hand-set weights.
    """
    f = feats.features if isinstance(feats, ScaleFeatures) else feats
    dev = next(model.parameters()).device
    with torch.no_grad():
        logits = model.classify_features(f.to(dev), weights)
    return scores_from_logits(logits).cpu().numpy().astype(np.float64)
