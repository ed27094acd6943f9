"""Procedural backgrounds: walls with gradients, furniture-like shapes, texture and lighting.

A session is a place (SynthSpoof 4.0): every video of a session, live or attack, is recorded in
one room (:func:`session_room`), seen from a slightly different spot each time
(:func:`room_view`), as in Replay-Attack's two scenarios and OULU-NPU's three sessions. Before
4.0 every subject and every attack had a room of its own, so the background around a face was
as varied as the medium's edge it should set off.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import cv2
import numpy as np


def _colour(
    rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]
) -> np.ndarray:
    h = rng.random()
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(*sat), rng.uniform(*val))
    return np.array([r, g, b]) * 255.0


def make_scene(rng: np.random.Generator, width: int, height: int,
               wall_sat: tuple[float, float] = (0.05, 0.45),
               wall_val: tuple[float, float] = (0.45, 0.9)) -> np.ndarray:
    """Render one indoor-looking background.

    A two-colour wall gradient, an optional floor, 3-7 shapes (doors, frames, windows, shelves,
    lamps), low-frequency texture and a light fall-off from a random light position.

    Args:
        rng: the video's random generator.
        width: image width.
        height: image height.
        wall_sat: saturation range of the wall colour (a session's style).
        wall_val: value range of the wall colour.

    Returns:
        ``(height, width, 3)`` uint8 RGB.
    """
    w, h = width, height
    c0 = _colour(rng, wall_sat, wall_val)
    c1 = c0 * rng.uniform(0.6, 1.1) + rng.normal(0, 18, 3)
    ang = rng.uniform(0, 2 * np.pi)
    # smooth fields (gradient, plaster texture, light fall-off) on a coarse grid
    q = 8
    yy, xx = np.mgrid[0:h:q, 0:w:q].astype(np.float32)
    t = ((xx - w / 2) * np.cos(ang) + (yy - h / 2) * np.sin(ang)) / max(w, h) + 0.5
    base = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    gh, gw = int(rng.integers(4, 12)), int(rng.integers(5, 16))
    tex = cv2.resize(
        rng.normal(0, 1, (gh, gw)).astype(np.float32),
        (xx.shape[1], xx.shape[0]),
        interpolation=cv2.INTER_CUBIC,
    )
    base += tex[..., None] * rng.uniform(3, 12)
    img = cv2.resize(np.clip(base, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.55:  # floor
        fy = int(h * rng.uniform(0.7, 0.92))
        img[fy:] = _colour(rng, (0.1, 0.5), (0.25, 0.6)).astype(np.uint8)
        cv2.line(img, (0, fy), (w, fy), tuple(float(v) for v in c0 * 0.6), max(2, h // 160))
    for _ in range(int(rng.integers(3, 8))):
        _shape(img, rng, w, h)
    lx, ly = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.3, 0.6) * h
    d = np.sqrt(((xx - lx) / w) ** 2 + ((yy - ly) / h) ** 2)
    light = np.clip(1.12 - rng.uniform(0.15, 0.4) * d, 0.45, 1.2) * 128.0
    light = cv2.resize(
        np.clip(light, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR
    )
    img = cv2.multiply(img, cv2.cvtColor(light, cv2.COLOR_GRAY2RGB), scale=1.0 / 128.0)
    return cv2.GaussianBlur(img, (0, 0), 0.8)


#: A session's room is this much larger than the canvas it is seen through, each way: how far
#: the camera (live) or the attacker (the medium's surroundings) stands from the room's centre.
ROOM_MARGIN: float = 0.25


@lru_cache(maxsize=8)
def session_room(seed: int, session: int, width: int, height: int,
                 wall_sat: tuple[float, float], wall_val: tuple[float, float]) -> np.ndarray:
    """The room of a dataset's session: one :func:`make_scene` of ``(1 + ROOM_MARGIN)`` times
    ``width`` x ``height``, deterministic from the dataset's ``seed`` and the session's index
    (cached: every video of the session looks into it). Read-only; take views with
    :func:`room_view`."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x524F4F4D, session]))  # "ROOM"
    room = make_scene(rng, round(width * (1 + ROOM_MARGIN)),
                      round(height * (1 + ROOM_MARGIN)), wall_sat, wall_val)
    room.setflags(write=False)
    return room


def room_view(room: np.ndarray, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A ``width`` x ``height`` window of ``room`` (a copy), its centre drawn uniformly within
    ``ROOM_MARGIN / 2`` of the canvas the room was made around (the room's size over
    ``1 + ROOM_MARGIN``) from the room's centre, each way; clipped to the room."""
    rh, rw = room.shape[:2]
    if width > rw or height > rh:
        raise ValueError(f"a {width} x {height} view does not fit a {rw} x {rh} room")
    cx = rw / 2 + rng.uniform(-0.5, 0.5) * ROOM_MARGIN / (1 + ROOM_MARGIN) * rw
    cy = rh / 2 + rng.uniform(-0.5, 0.5) * ROOM_MARGIN / (1 + ROOM_MARGIN) * rh
    x = int(np.clip(round(cx - width / 2), 0, rw - width))
    y = int(np.clip(round(cy - height / 2), 0, rh - height))
    return room[y:y + height, x:x + width].copy()


def _shape(img: np.ndarray, rng: np.random.Generator, w: int, h: int) -> None:
    kind = rng.choice(["rect", "frame", "window", "shelf", "circle"])
    col = tuple(float(v) for v in _colour(rng, (0.0, 0.7), (0.15, 0.95)))
    dark = tuple(float(v) * 0.55 for v in col)
    x0, y0 = int(rng.uniform(-0.1, 0.9) * w), int(rng.uniform(-0.1, 0.8) * h)
    sw, sh = int(rng.uniform(0.08, 0.4) * w), int(rng.uniform(0.1, 0.6) * h)
    lw = max(2, int(rng.uniform(0.004, 0.012) * w))
    if kind == "rect":  # door, cupboard
        cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), col, -1)
        cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), dark, lw)
    elif kind == "frame":  # picture on the wall
        cv2.rectangle(img, (x0, y0), (x0 + sw // 2, y0 + sh // 2), dark, -1)
        inner = tuple(float(v) for v in _colour(rng, (0.2, 0.8), (0.3, 0.9)))
        cv2.rectangle(
            img,
            (x0 + 3 * lw, y0 + 3 * lw),
            (x0 + sw // 2 - 3 * lw, y0 + sh // 2 - 3 * lw),
            inner,
            -1,
        )
    elif kind == "window":
        bright = tuple(float(v) for v in np.clip(np.array(col) * 0.3 + 190, 0, 255))
        cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), bright, -1)
        cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), dark, 2 * lw)
        cv2.line(img, (x0 + sw // 2, y0), (x0 + sw // 2, y0 + sh), dark, lw)
        cv2.line(img, (x0, y0 + sh // 2), (x0 + sw, y0 + sh // 2), dark, lw)
    elif kind == "shelf":
        for k in range(int(rng.integers(1, 4))):
            y = y0 + k * max(sh // 3, 10)
            cv2.rectangle(img, (x0, y), (x0 + sw, y + 2 * lw), dark, -1)
            for _ in range(int(rng.integers(2, 6))):  # books
                bx = int(x0 + rng.uniform(0, 0.9) * sw)
                bh = int(rng.uniform(0.03, 0.08) * h)
                bc = tuple(float(v) for v in _colour(rng, (0.3, 0.9), (0.2, 0.8)))
                cv2.rectangle(img, (bx, y - bh), (bx + int(rng.uniform(0.01, 0.03) * w), y), bc, -1)
    else:  # lamp, clock
        r = int(rng.uniform(0.02, 0.08) * w)
        cv2.circle(img, (x0, y0), r, col, -1, cv2.LINE_AA)
        cv2.circle(img, (x0, y0), r, dark, lw, cv2.LINE_AA)
