"""Where STASN looks: how often its attended regions cover the attack medium's border.

STASN's abstract says its region attention finds the evidence: borders, moire, reflections.
SynthSpoof knows where the medium's border is in every frame (ground truth ``medium_inner``:
the outline of the printed picture or of the screen's active area, frame pixels), so the claim
can be counted: a region **covers the border** when that outline passes through it, i.e. when
the region holds points on both sides of it (:func:`covers_border`, on the 7 x 7 grid of its
cells' centres, :func:`box_points`).

Each of the ``K`` regions of every frame of every attack clip is mapped from the model's input
pixels back to frame pixels: input -> the cached crop (the centre window, resized:
:func:`input_to_crop`) -> the frame, with the inverse of the crop's alignment transform
(:func:`crop_to_frame`: the cache stores the landmarks; ``FaceAligner.alignment_matrix``
recomputes the transform and :func:`fas_lib.preprocess.geometry.crop_matrix` the crop's). **Chance**
is the same count for regions of the same size placed uniformly at random where the RAM can place
them (centres in ``[-(1 - size), 1 - size]`` in normalised coordinates, :func:`random_boxes`), in
the same frames. :func:`border_attention` returns both shares, per attack type too, and a
bootstrap interval over clips of their difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fas_lib.cache.loader import centre_offset
from fas_lib.models import STASN
from fas_lib.preprocess.geometry import crop_matrix, invert_affine
from fas_lib.synthspoof.gt import points_in_polygon
from fas_lib.training.clip_inputs import ClipConfig, ClipSource, clip_input, frame_positions

__all__ = [
    "attention_boxes", "border_attention", "box_points", "covers_border", "crop_to_frame",
    "input_to_crop", "random_boxes",
]


def crop_to_frame(landmarks: np.ndarray, scale: float, side: int, aligner: Any) -> np.ndarray:
    """The ``(2, 3)`` affine map from the pixels of a cached crop to its frame's pixels.

    Args:
        landmarks: the frame's landmarks as the cache stores them.
        scale: the crop's scale.
        side: the cached crop side in pixels.
        aligner: a :class:`~fas_lib.preprocess.align.FaceAligner` (its ``alignment_matrix``) of the
            cache's landmark kind.
    """
    m = crop_matrix(aligner.alignment_matrix(np.asarray(landmarks, dtype=np.float64)),
                    float(scale), 1.0, int(side))
    return invert_affine(m)


def input_to_crop(points: np.ndarray, cfg: ClipConfig, side: int) -> np.ndarray:
    """Model input pixels -> cached crop pixels: undo the resize of the centre window."""
    w = min(cfg.window, side)
    return np.asarray(points, dtype=np.float64) * (w / cfg.input_size) + centre_offset(side, w)


def box_points(boxes: np.ndarray, n: int = 7) -> np.ndarray:
    """An ``n x n`` grid of points over each box ``(..., 4)`` = ``(x0, y0, x1, y1)``: the
    centres of the ``n x n`` cells, ``(..., n * n, 2)``."""
    b = np.asarray(boxes, dtype=np.float64)
    u = (np.arange(n) + 0.5) / n
    gx, gy = np.meshgrid(u, u)
    x = b[..., 0:1] + (b[..., 2:3] - b[..., 0:1]) * gx.reshape(-1)
    y = b[..., 1:2] + (b[..., 3:4] - b[..., 1:2]) * gy.reshape(-1)
    return np.stack([x, y], axis=-1)


def covers_border(points: np.ndarray, polygon: np.ndarray) -> bool:
    """Whether the polygon's outline passes between ``points`` (some inside, some outside)."""
    inside = points_in_polygon(points, polygon)
    return bool(inside.any() and not inside.all())


def random_boxes(rng: np.random.Generator, n: int, size: float, input_size: int) -> np.ndarray:
    """``n`` boxes ``(n, 4)`` in input pixels, of side ``size`` (fraction of the input side),
    centres uniform over where the region attention can put them (every box inside)."""
    centres = rng.uniform(-(1 - size), 1 - size, size=(n, 2))
    lo = (centres - size + 1) * input_size / 2
    hi = (centres + size + 1) * input_size / 2
    return np.concatenate([lo, hi], axis=1)


def attention_boxes(model: STASN, x: torch.Tensor) -> np.ndarray:
    """The attended boxes ``(B, t, K, 4)`` of clips ``x`` (model input,
    :func:`~fas_lib.training.clip_inputs.clip_input`) in input pixels (eval)."""
    model.eval()
    with torch.no_grad():
        return model.region_boxes(x).numpy().astype(np.float64)


def _frame_hits(boxes: np.ndarray, polygon: np.ndarray, to_frame: np.ndarray,
                cfg: ClipConfig, side: int) -> np.ndarray:
    """Per box ``(K, 4)`` in input pixels: does it cover the polygon's outline in the frame?"""
    pts = input_to_crop(box_points(boxes), cfg, side)
    pts = pts @ to_frame[:, :2].T + to_frame[:, 2]
    return np.array([covers_border(p, polygon) for p in pts])


def _clip_hits(boxes: np.ndarray, rows: np.ndarray, source: ClipSource, frame_idx: np.ndarray,
               gt: dict, aligner: Any, cfg: ClipConfig, rng: np.random.Generator,
               n_random: int) -> tuple[list[bool], list[bool]]:
    """Attended and random hits of one clip's frames (frames without a medium are skipped);
    ``frame_idx``: the video frame of every row of the split."""
    split, cache = source.clips.split, source.cache
    landmarks = cache.landmarks(split)
    side = int(cache.crops(split).shape[2])
    attended: list[bool] = []
    chance: list[bool] = []
    for j, row in enumerate(rows):
        polygon = np.asarray(gt["medium_inner"][int(frame_idx[row])])
        if not np.isfinite(polygon).all():
            continue
        to_frame = crop_to_frame(landmarks[row], cfg.scales[0], side, aligner)
        attended += _frame_hits(boxes[j], polygon, to_frame, cfg, side).tolist()
        rand = random_boxes(rng, n_random, cfg.region_size, cfg.input_size)
        chance += _frame_hits(rand, polygon, to_frame, cfg, side).tolist()
    return attended, chance


def _summary(att: list[list[bool]], cha: list[list[bool]], n_boot: int,
             rng: np.random.Generator) -> dict[str, Any]:
    """Shares, counts and a bootstrap interval over clips of attended - chance."""
    keep = [i for i in range(len(att)) if att[i]]
    if not keep:
        return {"attended": None, "chance": None, "n_regions": 0, "n_clips": 0}
    a = np.array([np.mean(att[i]) for i in keep])
    c = np.array([np.mean(cha[i]) for i in keep])
    share_a = float(np.mean(np.concatenate([att[i] for i in keep])))
    share_c = float(np.mean(np.concatenate([cha[i] for i in keep])))
    draws = rng.integers(0, len(keep), size=(n_boot, len(keep)))
    diff = (a[draws] - c[draws]).mean(axis=1)
    return {"attended": share_a, "chance": share_c, "diff": share_a - share_c,
            "ci_low": float(np.quantile(diff, 0.025)), "ci_high": float(np.quantile(diff, 0.975)),
            "n_regions": int(sum(len(att[i]) for i in keep)), "n_clips": len(keep)}


def border_attention(model: STASN, cfg: ClipConfig, source: ClipSource,
                     load_gt: Callable[[str], dict], aligner: Any, n_random: int = 8,
                     seed: int = 0, batch_size: int = 16, n_boot: int = 1000) -> dict[str, Any]:
    """The share of attended regions that cover the medium's border, against chance.

    Args:
        model: a trained STASN with the spatial branch (``load_clip_run``).
        cfg: its config (scale, window, input size, ``t``).
        source: the clips to look at (attack clips are used; live ones have no medium).
        load_gt: ``video_id`` -> SynthSpoof ground truth (``SynthSpoofReader.load_gt``).
        aligner: a ``FaceAligner`` of the cache's landmark kind (:func:`crop_to_frame`).
        n_random: random regions per frame for chance.
        seed: seed of the random regions and the bootstrap.
        batch_size: clips per forward pass.
        n_boot: bootstrap replicates over clips.

    Returns:
        ``attended``, ``chance``, ``diff`` (attended - chance), ``ci_low`` / ``ci_high`` (95 %
        bootstrap over clips of the per-clip difference), ``n_regions``, ``n_clips``, and
        ``per_attack_type`` (the same per type); ``None`` shares when no frame has a medium.

    Raises:
        ValueError: a model without the spatial branch.
    """
    if not getattr(model, "has_spatial", False):
        raise ValueError("border_attention needs a STASN with region attention (branches "
                         "'both' or 'spatial')")
    rng = np.random.default_rng(seed)
    clips = source.clips
    attack = np.flatnonzero(clips.labels == 0)
    pos = frame_positions(clips.t, cfg.t)
    frame_idx = source.cache.frames(clips.split)["frame_idx"].to_numpy()
    att: list[list[bool]] = []
    cha: list[list[bool]] = []
    for start in range(0, len(attack), batch_size):
        idx = attack[start:start + batch_size]
        boxes = attention_boxes(model, clip_input([source], idx, cfg)[0])
        for b, i in enumerate(idx):
            gt = load_gt(str(clips.videos["video_id"].iloc[i]))
            a, c = _clip_hits(boxes[b], clips.rows[i, pos], source, frame_idx, gt, aligner, cfg,
                              rng, n_random)
            att.append(a)
            cha.append(c)
    types = clips.videos["attack_type"].astype(str).to_numpy()[attack]
    out = _summary(att, cha, n_boot, rng)
    out["per_attack_type"] = {
        t: _summary([att[i] for i in np.flatnonzero(types == t)],
                    [cha[i] for i in np.flatnonzero(types == t)], n_boot, rng)
        for t in sorted(set(types))}
    out.update(n_random=int(n_random), k=int(cfg.n_regions), region_size=float(cfg.region_size))
    return out
