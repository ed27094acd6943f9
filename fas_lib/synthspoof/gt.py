"""Exact ground truth from landmarks: the dlib-like face box, polygons and border visibility.

The generator knows every frame's 68 landmarks exactly (each synthetic warp transforms the
annotated points). From them it derives the box dlib's HOG detector would give, with a fixed
rule calibrated against dlib's detections (see :data:`BOX_RULE`), and it knows the outline of
the presentation medium. :func:`border_share` turns that into the share of attack frames whose
crop at scale ``s`` shows some medium context (paper border, bezel, fingers, second scene).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from fas_lib.preprocess.geometry import TEMPLATE_PAPER5, dlib68_to_paper5, similarity_transform

#: Points sampled along each side of a medium polygon (polygons are ``(4 * N, 2)``).
POLY_SIDE_POINTS: int = 8

#: Face-box rule: ``size = a * jaw_width + b * brow_to_chin``; the centre is the mean of the
#: inner landmarks (17..67) plus ``(dx, dy) * size``. Fitted by least squares (:func:`fit_box_rule`)
#: to dlib's HOG detections (upsample 0) on 842 detected frames of all types and qualities of a
#: 12-subject SynthSpoof (seed 7); against those detections the rule's median absolute size error
#: is 7 % and its median centre error 4 % of the box side (dlib's own jitter is of that order).
#: ``dx`` is 0 by mirror symmetry (the fit gave 0.005).
BOX_RULE: dict[str, float] = {"a": 0.91, "b": 0.17, "dx": 0.0, "dy": 0.05}


def face_box(lm68: np.ndarray, rule: dict[str, float] | None = None) -> np.ndarray:
    """Square dlib-like face box ``(left, top, right, bottom)`` from 68 landmarks.

    Args:
        lm68: ``(68, 2)`` or ``(T, 68, 2)`` landmarks.
        rule: coefficients, :data:`BOX_RULE` by default.

    Returns:
        ``(4,)`` or ``(T, 4)`` float boxes.
    """
    r = BOX_RULE if rule is None else rule
    lm = np.asarray(lm68, dtype=np.float64)
    feats = box_features(lm)
    size = r["a"] * feats[..., 0] + r["b"] * feats[..., 1]
    cx = feats[..., 2] + r["dx"] * size
    cy = feats[..., 3] + r["dy"] * size
    return np.stack([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], axis=-1)


def box_features(lm68: np.ndarray) -> np.ndarray:
    """``[jaw_width, brow_to_chin, inner_cx, inner_cy]`` for ``(..., 68, 2)`` landmarks."""
    lm = np.asarray(lm68, dtype=np.float64)
    jaw = np.linalg.norm(lm[..., 16, :] - lm[..., 0, :], axis=-1)
    brow = (lm[..., 19, :] + lm[..., 24, :]) / 2
    height = np.linalg.norm(lm[..., 8, :] - brow, axis=-1)
    inner = lm[..., 17:, :].mean(axis=-2)
    return np.stack([jaw, height, inner[..., 0], inner[..., 1]], axis=-1)


def fit_box_rule(lm68: np.ndarray, boxes: np.ndarray) -> dict[str, float]:
    """Fit :data:`BOX_RULE` to detector boxes ``(N, 4)`` given landmarks ``(N, 68, 2)``."""
    f = box_features(lm68)
    boxes = np.asarray(boxes, dtype=np.float64)
    size = ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1])) / 2
    (a, b), *_ = np.linalg.lstsq(f[:, :2], size, rcond=None)
    pred = a * f[:, 0] + b * f[:, 1]
    dx = np.median(((boxes[:, 0] + boxes[:, 2]) / 2 - f[:, 2]) / pred)
    dy = np.median(((boxes[:, 1] + boxes[:, 3]) / 2 - f[:, 3]) / pred)
    return {"a": float(a), "b": float(b), "dx": float(dx), "dy": float(dy)}


def aligned_box(lm68: np.ndarray) -> np.ndarray:
    """Corners ``(4, 2)`` of the unit box of :class:`~fas_lib.preprocess.align.FaceAligner` (68
    points).

    The aligner maps the paper's five points onto ``TEMPLATE_PAPER5``; its scale-1.0 crop is the
    unit square there. The corners are returned in frame pixels (a rotated square).
    """
    m = similarity_transform(dlib68_to_paper5(lm68), TEMPLATE_PAPER5)
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(a)
    unit = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64)
    return (unit @ inv.T)[:, :2]


def rect_polygon(
    x0: float, y0: float, x1: float, y1: float, n: int = POLY_SIDE_POINTS
) -> np.ndarray:
    """Rectangle outline sampled with ``n`` points per side, clockwise from the top-left corner."""
    t = np.arange(n) / n
    top = np.stack([x0 + (x1 - x0) * t, np.full(n, y0)], 1)
    right = np.stack([np.full(n, x1), y0 + (y1 - y0) * t], 1)
    bottom = np.stack([x1 - (x1 - x0) * t, np.full(n, y1)], 1)
    left = np.stack([np.full(n, x0), y1 - (y1 - y0) * t], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float64)


def points_in_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd test of ``(N, 2)`` points against a closed polygon ``(P, 2)``; bool ``(N,)``."""
    pts = np.asarray(points, dtype=np.float64)
    p0 = np.asarray(poly, dtype=np.float64)
    p1 = np.roll(p0, -1, axis=0)
    x, y = pts[:, None, 0], pts[:, None, 1]
    cond = (p0[None, :, 1] > y) != (p1[None, :, 1] > y)
    denom = np.where(p1[:, 1] == p0[:, 1], 1e-12, p1[:, 1] - p0[:, 1])
    xint = p0[None, :, 0] + (y - p0[None, :, 1]) * (p1[None, :, 0] - p0[None, :, 0]) / denom[None]
    return (cond & (x < xint)).sum(axis=1) % 2 == 1


def _square_outline(corners: np.ndarray, scale: float, n: int = 6) -> np.ndarray:
    """Points along the outline of a square given by 4 corners, scaled about its centre."""
    c = corners.mean(0)
    k = (corners - c) * scale + c
    t = (np.arange(n) / n)[:, None]
    return np.concatenate([k[i] + (k[(i + 1) % 4] - k[i]) * t for i in range(4)])


def crop_shows_border(gt: dict, frame: int, scale: float, box: str = "face") -> bool:
    """Whether the scale-``scale`` crop of one attack frame leaves the medium's content area.

    Args:
        gt: a ground-truth dict (see :meth:`SynthSpoofReader.load_gt`).
        frame: frame index.
        scale: crop scale relative to the face box.
        box: ``"face"`` (the dlib-like GT box, the brief's definition) or ``"aligned"`` (the
            unit box of :class:`fas_lib.preprocess.align.FaceAligner`, about 1.2 face boxes wide).
    """
    inner = np.asarray(gt["medium_inner"][frame])
    if not np.isfinite(inner).all():
        return False
    if box == "face":
        x0, y0, x1, y1 = gt["face_box"][frame]
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    elif box == "aligned":
        corners = aligned_box(gt["landmarks68"][frame])
    else:
        raise ValueError(f"box must be 'face' or 'aligned', got {box!r}")
    return not bool(points_in_polygon(_square_outline(corners, scale), inner).all())


def border_share(
    gt_list: Iterable[dict],
    scales: Sequence[float] = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5),
    box: str = "face",
) -> dict[float, float]:
    """Share of attack frames whose crop at each scale contains medium border or context.

    A crop "contains border" when the scaled square box is not entirely inside the medium's
    INNER polygon (the printed image area or the screen's active area): beyond it lie the
    white paper border or the bezel, fingers and the second scene.

    Args:
        gt_list: ground-truth dicts of any videos; live frames are ignored.
        scales: crop scales.
        box: ``"face"`` or ``"aligned"``, see :func:`crop_shows_border`.

    Returns:
        ``{scale: share}``; NaN shares when there is no attack frame.
    """
    hits = np.zeros(len(scales))
    n = 0
    for gt in gt_list:
        if int(gt["label"]) != 0:
            continue
        for f in range(len(gt["face_box"])):
            n += 1
            for i, s in enumerate(scales):
                hits[i] += crop_shows_border(gt, f, float(s), box=box)
    return {float(s): (float(hits[i] / n) if n else float("nan")) for i, s in enumerate(scales)}
