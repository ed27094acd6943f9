"""Holding hands: fingers that grip a photo or a phone across its edge, and rounded outlines."""

from __future__ import annotations

import cv2
import numpy as np


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float, n: int = 6) -> np.ndarray:
    """Outline ``(K, 2)`` int32 of a rectangle with rounded corners of radius ``r``."""
    pts = []
    for cx, cy, a0 in (
        (x1 - r, y0 + r, -90),
        (x1 - r, y1 - r, 0),
        (x0 + r, y1 - r, 90),
        (x0 + r, y0 + r, 180),
    ):
        for t in np.radians(np.linspace(a0, a0 + 90, n)):
            pts.append((cx + r * np.cos(t), cy + r * np.sin(t)))
    return np.round(np.array(pts)).astype(np.int32)


def skin_colour(rng: np.random.Generator) -> np.ndarray:
    """A random human skin colour (RGB 0..255)."""
    t = rng.random()
    light, dark = np.array([232, 190, 165]), np.array([95, 62, 45])
    return light * (1 - t) + dark * t + rng.normal(0, 6, 3)


def draw_fingers(
    canvas: np.ndarray,
    rect: tuple[float, float, float, float],
    rng: np.random.Generator,
    finger_w: float,
    reach: float,
    sides: tuple[str, ...],
    colour: np.ndarray,
    heights: np.ndarray | None = None,
) -> None:
    """Draw holding fingers (shaded capsules) across the edges of ``rect`` on an RGBA canvas.

    Args:
        canvas: ``(H, W, 4)`` uint8, modified in place (alpha set to 255 under the fingers).
        rect: ``(x0, y0, x1, y1)`` of the held object's outer edge.
        rng: generator.
        finger_w: finger width in canvas pixels.
        reach: how far fingers reach inside the edge, in canvas pixels.
        sides: edges to hold, among ``"left"``, ``"right"``, ``"bottom"``.
        colour: skin colour.
        heights: optional ``(H, W)`` uint8 canvas receiving each finger's height above the
            held object (255 on its ridge; the depth modality), modified in place.
    """
    x0, y0, x1, y1 = rect
    for side in sides:
        n = int(rng.integers(1, 4)) if side != "bottom" else 1
        span = (y0, y1) if side in ("left", "right") else (x0, x1)
        start = rng.uniform(0.25, 0.7)
        for k in range(n):
            pos = span[0] + (span[1] - span[0]) * min(
                start + k * 1.05 * finger_w / (span[1] - span[0]), 0.95
            )
            r_in = reach * rng.uniform(0.6, 1.1) * (1.5 if (side == "bottom" or n == 1) else 1.0)
            ang = rng.uniform(-0.25, 0.25)
            if side == "left":
                a, b = (x0 - 3 * finger_w, pos - 3 * finger_w * ang), (x0 + r_in, pos)
            elif side == "right":
                a, b = (x1 + 3 * finger_w, pos + 3 * finger_w * ang), (x1 - r_in, pos)
            else:
                a, b = (pos + 3 * finger_w * ang, y1 + 3 * finger_w), (pos, y1 - r_in)
            wid = finger_w * (1.25 if n == 1 else 1.0) * rng.uniform(0.9, 1.1)
            _finger(canvas, np.array(a), np.array(b), wid, colour, heights)


def _finger(
    canvas: np.ndarray, a: np.ndarray, b: np.ndarray, wid: float, colour: np.ndarray,
    heights: np.ndarray | None = None,
) -> None:
    """One finger from ``a`` (knuckle side) to the tip ``b``: shaded capsule with a nail."""
    h, w = canvas.shape[:2]
    r = wid / 2 + 2
    bx0, by0 = (
        int(max(0, np.floor(min(a[0], b[0]) - r))),
        int(max(0, np.floor(min(a[1], b[1]) - r))),
    )
    bx1, by1 = int(min(w, np.ceil(max(a[0], b[0]) + r))), int(min(h, np.ceil(max(a[1], b[1]) + r)))
    if bx1 <= bx0 or by1 <= by0:
        return
    o = np.array([bx0, by0])
    pa, pb = tuple(int(v) for v in a - o), tuple(int(v) for v in b - o)
    m = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
    cv2.line(m, pa, pb, 255, max(3, int(wid)), cv2.LINE_AA)
    cv2.circle(m, pb, max(2, int(wid / 2)), 255, -1, cv2.LINE_AA)  # rounded tip
    dist = cv2.distanceTransform((m > 127).astype(np.uint8), cv2.DIST_L2, 3)
    shade = np.sqrt(np.clip(dist / max(wid * 0.5, 1.0), 0, 1))  # cylindrical shading
    rgb = colour[None, None, :] * (0.5 + 0.55 * shade[..., None])
    d = (b - a) / (np.linalg.norm(b - a) + 1e-9)
    c = b - d * wid * 0.35 - o
    nails = np.zeros_like(m)
    cv2.ellipse(
        nails,
        (int(c[0]), int(c[1])),
        (max(1, int(wid * 0.3)), max(1, int(wid * 0.24))),
        float(np.degrees(np.arctan2(d[1], d[0]))),
        0,
        360,
        255,
        -1,
        cv2.LINE_AA,
    )
    nail = (nails.astype(np.float32) / 255.0 * 0.35)[..., None]
    rgb = rgb * (1 - nail) + np.array([235.0, 205.0, 200.0]) * nail
    alpha = m.astype(np.float32)[..., None] / 255.0
    dst = canvas[by0:by1, bx0:bx1]
    dst[..., :3] = np.clip(rgb * alpha + dst[..., :3] * (1 - alpha), 0, 255).astype(np.uint8)
    dst[..., 3] = np.maximum(dst[..., 3], m)
    if heights is not None:  # a cylinder: height follows the same profile as the shading
        hgt = heights[by0:by1, bx0:bx1]
        hgt[...] = np.maximum(hgt, (shade * (m > 127) * 255).astype(np.uint8))
