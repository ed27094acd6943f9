"""A model's scores: its bona-fide score for every frame of a split, and notebook 05's rescoring.

* :func:`score_split`: score every frame of a split (centre crops, eval mode) into a scores
  table (:mod:`fas_lib.evaluation.scores`, which stores and measures it);
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

from fas_lib.cache.loader import CropDataset
from fas_lib.cache.reader import CropCache
from fas_lib.evaluation.scores import scores_table
from fas_lib.models import MultiScaleNet, scores_from_logits
from fas_lib.training.config import ExperimentConfig, open_experiment_cache, scale_indices

__all__ = ["ScaleFeatures", "extract_scale_features", "rescore", "score_split"]


def _forward_split(model: MultiScaleNet, cache: CropCache, split: str, idx: Sequence[int],
                   batch_size: int, device: str, progress: bool) -> dict[str, Any]:
    """Run the model over ``split``'s centre crops: scores, weights, aux scores, row order."""
    ds = CropDataset(cache, split, list(idx), train=False, size=112, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    scores, weights, aux, rows = [], [], [], []
    model.eval()
    with torch.inference_mode():  # as no_grad, same numbers, less bookkeeping per op
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
        run: ``(model, config)``, e.g. from :func:`fas_lib.training.runs.load_run`; for a run folder
            use :func:`fas_lib.training.runs.extract_run_features`.
        split: ``"dev"`` or ``"test"`` (or ``"train"``: centre crops).
        cache: opened crop cache (``None``: the one the config names).
        batch_size: frames per forward pass.
        progress: tqdm bar.
    """
    if isinstance(run, (str, Path)):  # fas_lib.training.runs imports this module, not the reverse
        raise TypeError(
            f"extract_scale_features takes (model, config); for the run folder {run} use "
            "fas_lib.training.runs.extract_run_features"
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
        model: the run's model (:func:`fas_lib.training.runs.load_run`).
        feats: :class:`ScaleFeatures` or a ``(N, n, D)`` tensor.
        weights: ``None`` (the model's own), ``(n,)`` or ``(N, n)`` hand-set weights.
    """
    f = feats.features if isinstance(feats, ScaleFeatures) else feats
    dev = next(model.parameters()).device
    with torch.no_grad():
        logits = model.classify_features(f.to(dev), weights)
    return scores_from_logits(logits).cpu().numpy().astype(np.float64)
