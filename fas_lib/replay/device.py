"""The replay synthesizer's device: body, hands, glass, and the screen seen by the camera.

Part of the synthesizer's own display model (:mod:`fas_lib.replay.panel` has the panels):

* :func:`draw_device`: a phone (rounded body, metal rim, punch-hole camera) or a monitor /
  tablet (thin bezel, a chin with a power LED) in a body colour of :data:`BODY_COLOURS`,
  held by a thumb and finger tips (capsules with a nail, skin from :data:`SKIN`);
* :func:`glass`: what the glass adds to the screen: a lamp's specular hotspot (an
  anisotropic Gaussian) and the room (:func:`fas_lib.synthspoof.scene.make_scene`, mirrored)
  through the anti-reflective coating, defocused by a disc;
* :func:`composite`: the device and its screen in the camera's pixels, in linear light. Each
  output pixel of the screen is mapped back to the display plane: the panel's emission is
  sampled there, times the emitter tile (wrapping), times the PWM gain of its sensor row,
  plus the glass; the device's body and front layer are warped
  (:func:`fas_lib.synthspoof.render.warp_patch`, geometry only) and lit by the room's light.

Plane coordinates are display pixels: pixel ``j`` of the active area covers ``[x0 + j,
x0 + j + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fas_lib.replay.panel import (
    AR_TINT,
    SAMPLES,
    Panel,
    PanelDraw,
    disc_kernel,
    to_linear,
)
from fas_lib.synthspoof.render import apply
from fas_lib.synthspoof.scene import make_scene

BODY_COLOURS: tuple[tuple[int, int, int], ...] = (
    (38, 40, 44), (70, 72, 78), (188, 190, 194), (232, 232, 228), (30, 42, 70), (60, 90, 70),
    (150, 30, 40))
SKIN: tuple[tuple[int, int, int], ...] = (
    (245, 214, 190), (226, 186, 150), (198, 150, 110), (160, 110, 75), (112, 72, 48),
    (74, 48, 34))


def _rounded(canvas, x0, y0, x1, y1, r, colour) -> None:
    """A filled rounded rectangle (corner radius ``r``) on an RGBA canvas."""
    r = max(1, int(min(r, (x1 - x0) / 2, (y1 - y0) / 2)))
    x0, y0, x1, y1 = (round(v) for v in (x0, y0, x1, y1))
    cv2.rectangle(canvas, (x0 + r, y0), (x1 - r, y1), colour, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (x0, y0 + r), (x1, y1 - r), colour, -1, cv2.LINE_AA)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(canvas, (cx, cy), r, colour, -1, cv2.LINE_AA)


def _capsule(canvas, p0, p1, width, colour) -> None:
    """A finger: a thick line with round caps, a darker edge and a nail near ``p1``."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    dark = tuple(float(c) * 0.72 for c in colour[:3]) + (255.0,)
    for w, col in ((width, dark), (width * 0.8, tuple(colour))):
        cv2.line(canvas, tuple(int(v) for v in p0), tuple(int(v) for v in p1), col,
                 max(1, int(w)), cv2.LINE_AA)
    nail = p1 + (p0 - p1) / max(np.linalg.norm(p0 - p1), 1e-6) * width * 0.35
    tint = tuple(min(255.0, float(c) * 1.12 + 12) for c in colour[:3]) + (255.0,)
    cv2.circle(canvas, tuple(int(v) for v in nail), max(1, int(width * 0.25)), tint, -1,
               cv2.LINE_AA)


def _hands(front, rng, kind, dev, fp, hands) -> None:
    """A thumb over one long edge and finger tips over the other (always on a phone, on 30 %
    of monitors and tablets with ``hands=None``), in texture pixels."""
    held = (kind == "replay_phone" or rng.random() < 0.3) if hands is None else hands
    if not held:
        return
    x0, y0, x1, y1 = dev
    tone = rng.uniform(0, len(SKIN) - 1)  # a point on the palette, interpolated
    lo = int(np.floor(tone))
    hi = min(lo + 1, len(SKIN) - 1)
    skin = (1 - (tone - lo)) * np.array(SKIN[lo]) + (tone - lo) * np.array(SKIN[hi])
    colour = tuple(float(c) for c in np.clip(skin + rng.normal(0, 5, 3), 0, 255)) + (255.0,)
    left = rng.random() < 0.5
    width = fp * rng.uniform(0.26, 0.34)
    ty = y0 + (y1 - y0) * rng.uniform(0.5, 0.8)
    edge, out = (x0, -1) if left else (x1, 1)
    reach = fp * rng.uniform(0.05, 0.14)
    _capsule(front, (edge + out * fp * 0.35, ty + fp * 0.2), (edge - out * reach, ty), width,
             colour)
    for k in range(int(rng.integers(2, 4))):  # finger tips over the other edge
        fy = y0 + (y1 - y0) * (0.35 + 0.15 * k + rng.uniform(-0.03, 0.03))
        other = x1 if left else x0
        _capsule(front, (other - out * fp * 0.3, fy), (other + out * fp * rng.uniform(0.0, 0.05),
                 fy), width * 0.8, colour)


def draw_device(rng: np.random.Generator, kind: str, disp: tuple[int, int], fp: float,
                hands: bool | None, scale: float = 2.0
                ) -> tuple[np.ndarray, np.ndarray, tuple, tuple]:
    """The device around a ``disp`` active area: ``(body, front, active, device)``.

    ``body`` and ``front`` are RGBA uint8 textures at ``scale`` pixels per display pixel
    (the body with the panel's off-state glass; the front: the hands and a phone's punch-hole
    camera, drawn over the screen); ``active`` and ``device`` are ``(x0, y0, x1, y1)`` in
    display pixels (the plane's units). ``fp``: the face's size in display pixels.
    """
    phone = kind == "replay_phone"
    side = fp * rng.uniform(0.03, 0.08 if phone else 0.1)
    top = fp * (rng.uniform(0.06, 0.14) if phone else rng.uniform(0.03, 0.1))
    bottom = fp * (rng.uniform(0.05, 0.12) if phone else rng.uniform(0.12, 0.3))
    pad = fp * 0.45
    ax0, ay0 = pad + side, pad + top
    active = (ax0, ay0, ax0 + disp[0], ay0 + disp[1])
    device = (pad, pad, active[2] + side, active[3] + bottom)
    s = scale
    size = (int(np.ceil((device[2] + pad) * s)), int(np.ceil((device[3] + pad) * s)))
    body = np.zeros((size[1], size[0], 4), np.uint8)
    colour = np.array(BODY_COLOURS[int(rng.integers(len(BODY_COLOURS)))], float)
    colour = np.clip(colour + rng.normal(0, 4, 3), 0, 255)
    radius = fp * (rng.uniform(0.15, 0.25) if phone else rng.uniform(0.01, 0.04)) * s
    rim = tuple(float(c) for c in np.clip(colour * 1.35 + 25, 0, 255)) + (255.0,)
    _rounded(body, *(v * s for v in device), radius, rim)
    inset = max(1.0, 0.006 * fp * s)
    _rounded(body, *(v * s + d for v, d in zip(device, (inset, inset, -inset, -inset))),
             radius - inset, tuple(float(c) for c in colour) + (255.0,))
    cv2.rectangle(body, (int(active[0] * s), int(active[1] * s)),
                  (int(np.ceil(active[2] * s)), int(np.ceil(active[3] * s))), (4, 4, 5, 255), -1)
    front = np.zeros_like(body)
    cx = (active[0] + active[2]) / 2 * s
    if phone:  # punch-hole camera in the screen
        cv2.circle(front, (int(cx), int((active[1] + 0.035 * fp) * s)),
                   max(1, int(0.025 * fp * s)), (3, 3, 4, 255), -1, cv2.LINE_AA)
    else:  # power LED in the chin
        cv2.circle(front, (int(cx), int((active[3] + bottom / 2) * s)), max(1, int(0.01 * fp * s)),
                   (120, 200, 255, 255), -1, cv2.LINE_AA)
    _hands(front, rng, kind, tuple(v * s for v in device), fp * s, hands)
    return body, front, active, device


def glass(rng: np.random.Generator, panel: Panel, disp: tuple[int, int], glare: float,
          reflection: float, wall_sat: tuple[float, float], wall_val: tuple[float, float]
          ) -> np.ndarray:
    """The light the glass reflects, ``(dh, dw, 3)`` float32 linear: a hotspot of peak
    ``glare`` x the panel's range, and the room (these wall ranges) x the panel's
    reflectance x ``reflection``, tinted by the coating and defocused."""
    dw, dh = disp
    q = 4
    yy, xx = (np.mgrid[0:dh:q, 0:dw:q] + 0.5).astype(np.float32)
    cx, cy = rng.uniform(0, dw), rng.uniform(0, dh)
    sx, sy, ang = rng.uniform(0.08, 0.25) * dw, rng.uniform(0.04, 0.15) * dh, rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
    v = -(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)
    peak = glare * rng.uniform(*panel.glare)
    spot = cv2.resize(peak * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2)), (dw, dh),
                      interpolation=cv2.INTER_LINEAR)
    room = to_linear(np.ascontiguousarray(make_scene(rng, 160, 120, wall_sat, wall_val)[:, ::-1]))
    room = cv2.filter2D(room, -1, disc_kernel(rng.uniform(3.0, 8.0)), borderType=cv2.BORDER_REFLECT)
    room = cv2.resize(room, (dw, dh), interpolation=cv2.INTER_LINEAR)
    room *= np.float32(panel.reflectance * reflection) * np.asarray(AR_TINT, np.float32)
    return (room + spot[..., None]).astype(np.float32)


@dataclass
class Screen:
    """A device ready to be composited: its layers behind and in front of the screen
    (:func:`layers`: linear, premultiplied float32 RGBA at ``scale`` pixels per display
    pixel, each with its plane origin), plane rectangles (``active``, ``device``:
    ``(x0, y0, x1, y1)``), drawn panel, glass, and camera pixels per display pixel."""

    body: list[tuple[np.ndarray, tuple[float, float]]]
    front: list[tuple[np.ndarray, tuple[float, float]]]
    active: tuple[float, float, float, float]
    device: tuple[float, float, float, float]
    panel: PanelDraw
    glass: np.ndarray
    pitch: float
    scale: float


def linear_rgba(tex: np.ndarray) -> np.ndarray:
    """uint8 sRGB RGBA -> float32 linear RGBA, colour premultiplied by alpha (warps blend
    premultiplied colour correctly at the edges)."""
    a = tex[..., 3:].astype(np.float32) / 255.0
    return np.concatenate([to_linear(tex[..., :3]) * a, a], axis=-1)


def _warp(src: np.ndarray, m: np.ndarray, box: tuple[int, int, int, int],
          border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """``src`` seen through the ``src -> output`` map ``m`` in the output ``box``."""
    x0, y0, x1, y1 = box
    t = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]]) @ m
    return cv2.warpPerspective(src, t, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=border, borderValue=0)


def _box(hom: np.ndarray, rect: tuple[float, ...], size: tuple[int, int]):
    """Output pixels ``(x0, y0, x1, y1)`` that may show the plane's ``rect``, or ``None``."""
    x0, y0, x1, y1 = rect
    c = apply(hom, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64))
    lo = np.maximum(np.floor(c.min(0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(c.max(0)).astype(int) + 2, size)
    return None if (hi <= lo).any() else (*lo, *hi)


def _layer(img: np.ndarray, light: np.ndarray, tex: np.ndarray, hom: np.ndarray,
           scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> None:
    """Warp a premultiplied RGBA texture (``scale`` pixels per plane unit, its top-left
    corner at the plane's ``origin``) by the plane -> output ``hom``, light it and blend it
    into the linear ``img`` in place."""
    h, w = tex.shape[:2]
    ox, oy = origin
    box = _box(hom, (ox, oy, ox + w / scale, oy + h / scale), (img.shape[1], img.shape[0]))
    if box is None:
        return
    s = 1.0 / scale
    m = hom @ np.array([[s, 0, ox + 0.5 * s], [0, s, oy + 0.5 * s], [0, 0, 1.0]])
    patch = _warp(tex, m, box)
    x0, y0, x1, y1 = box
    roi = img[y0:y1, x0:x1]
    roi *= 1.0 - patch[..., 3:]
    roi += np.ascontiguousarray(patch[..., :3]) * light[y0:y1, x0:x1]


def layers(tex: np.ndarray, scale: float, hole: tuple[float, ...] | None = None
           ) -> list[tuple[np.ndarray, tuple[float, float]]]:
    """A uint8 RGBA texture (``scale`` pixels per plane unit) as premultiplied linear layers
    ``(texture, plane origin)`` cut to their opaque parts; with ``hole`` (a plane rectangle
    the screen covers), as the four strips around it (2 pixels into it), so that warping and
    blending skip the screen."""
    h, w = tex.shape[:2]
    parts = [(0, 0, w, h)]
    if hole is not None:
        x0, y0, x1, y1 = (round(v * scale) for v in hole)
        x0, y0, x1, y1 = x0 + 2, y0 + 2, x1 - 2, y1 - 2
        parts = [(0, 0, w, y0), (0, y1, w, h), (0, y0, x0, y1), (x1, y0, w, y1)]
    out = []
    for c0, r0, c1, r1 in parts:
        ys, xs = np.nonzero(tex[r0:r1, c0:c1, 3] > 0)
        if len(ys):
            ya, xa = r0 + max(ys.min() - 1, 0), c0 + max(xs.min() - 1, 0)
            cut = linear_rgba(tex[ya:r0 + ys.max() + 2, xa:c0 + xs.max() + 2])
            out.append((cut, (xa / scale, ya / scale)))
    return out


def grid_to_plane(active: tuple[float, ...], size: tuple[int, int]) -> np.ndarray:
    """``(3, 3)`` map from the pixels (centres at integers) of a ``size = (w, h)`` image shown
    over the ``active`` rectangle to the display plane."""
    x0, y0, x1, y1 = active
    gx, gy = (x1 - x0) / size[0], (y1 - y0) / size[1]
    return np.array([[gx, 0, x0 + 0.5 * gx], [0, gy, y0 + 0.5 * gy], [0, 0, 1.0]])


def composite(img: np.ndarray, light: np.ndarray, screen: Screen, emitted: np.ndarray,
              hom: np.ndarray, row_gain: np.ndarray) -> None:
    """Composite the device showing ``emitted`` (:func:`~fas_lib.replay.panel.emission`)
    into the linear ``(H, W, 3)`` float32 ``img`` in place, through the plane -> output
    ``hom``; ``light``: the room's light per output pixel; ``row_gain``: PWM gain per row.

    The screen's pixels are resampled from the plane (OpenCV's inverse warp: each output pixel
    reads the plane where it lands): the emission and the glass (on a grid over the active
    area, as fine as the display's pixels or coarser), the emitter tile with wrap-around
    (:data:`SAMPLES` per display pixel), and the active area's coverage.
    """
    for tex, origin in screen.body:
        _layer(img, light, tex, hom, screen.scale, origin)
    box = _box(hom, screen.active, (img.shape[1], img.shape[0]))
    if box is not None:
        x0, y0 = screen.active[:2]
        pix = hom @ grid_to_plane(screen.active, (emitted.shape[1], emitted.shape[0]))
        k = 1.0 / SAMPLES
        sub = hom @ np.array([[k, 0, x0 + 0.5 * k], [0, k, y0 + 0.5 * k], [0, 0, 1.0]])
        ones = np.ones((*emitted.shape[:2], 1), np.float32)
        lit = _warp(np.concatenate([emitted, ones], -1), pix, box)  # coverage in channel 3
        mask = _warp(screen.panel.tile, sub, box, cv2.BORDER_WRAP)
        shine = _warp(screen.glass, pix, box, cv2.BORDER_REPLICATE)
        cover = lit[..., 3:]
        rad = lit[..., :3] * mask * row_gain[box[1]:box[3], None, None] + shine * cover
        roi = img[box[1]:box[3], box[0]:box[2]]
        roi *= 1.0 - cover
        roi += rad
    for tex, origin in screen.front:
        _layer(img, light, tex, hom, screen.scale, origin)
