"""Screens for replay attacks: phone and monitor with bezel, RGB sub-pixels, backlight, glare.

The screen's texture is in sub-pixel units (3 x 3 texture pixels per display pixel). The camera
that recaptures it resamples these stripes; what survives the lens blur aliases into moire.
"""

from __future__ import annotations

import cv2
import numpy as np

from .factors import DISPLAYS, Display
from .fingers import draw_fingers, rounded_rect, skin_colour
from .gt import rect_polygon
from .media import Medium, sheen
from .scene import make_scene

#: Face size on a screen relative to life: smaller on a phone, about life size on a monitor.
SCREEN_FACE_SIZE: dict[str, tuple[float, float]] = {"replay_phone": (0.55, 0.95),
                                                    "replay_screen": (0.85, 1.5)}
#: Drawn camera pixels per display pixel of a replay (the panel's texture resolution).
REPLAY_PITCH: tuple[float, float] = (0.75, 1.2)
#: The camera of a replayed video, a phone or webcam video: ranges of blur sigma, noise sigma
#: and JPEG quality in display pixels (:func:`~.camera.source_capture`).
VIDEO_CAMERA: tuple[tuple[float, float], ...] = ((0.4, 0.9), (1.0, 3.5), (65, 92))
#: Share of devices with a light body (silver, white or a coloured case) rather than a black one.
LIGHT_BODY_SHARE: dict[str, float] = {"replay_phone": 0.6, "replay_screen": 0.3}


def _body_colour(rng: np.random.Generator, kind: str) -> np.ndarray:
    """RGB colour of the device body: black, or (``LIGHT_BODY_SHARE``) silver, white or a case."""
    if rng.random() >= LIGHT_BODY_SHARE[kind]:
        return rng.uniform(12, 45) + rng.normal(0, 4, 3)  # black glass / plastic
    pick = rng.random()
    if pick < 0.4:  # silver / grey metal
        return rng.uniform(140, 200) + rng.normal(0, 6, 3)
    if pick < 0.7:  # white
        return rng.uniform(205, 240) + rng.normal(0, 4, 3)
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(90, 220), rng.integers(90, 220)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64)  # coloured case


def _bezel(rng: np.random.Generator, kind: str, fp: float) -> tuple[np.ndarray, float]:
    """Bezel widths (left, top, right, bottom) and corner radius, in texture pixels."""
    if kind == "replay_phone":
        bez = fp * np.array(
            [
                rng.uniform(0.04, 0.10),  # the sides: a thin bezel, or a case around it
                rng.uniform(0.12, 0.22),
                rng.uniform(0.04, 0.10),
                rng.uniform(0.12, 0.22),
            ]
        )
        radius = fp * rng.uniform(0.1, 0.18)
    else:
        bez = fp * np.array(
            [
                rng.uniform(0.06, 0.14),
                rng.uniform(0.06, 0.14),
                rng.uniform(0.06, 0.14),
                rng.uniform(0.08, 0.25),
            ]
        )
        radius = fp * rng.uniform(0.02, 0.06)
    return bez, radius


def _subpixel_stripe(rng: np.random.Generator, display: Display) -> tuple[np.ndarray, float]:
    """One 3 x 3 period of the panel's stripe mask (its sub-pixel order and dark matrix) and
    its gain (1 / mean transmission)."""
    stripe = np.full((3, 3, 3), rng.uniform(*display.dark), np.float32)
    order = (0, 1, 2) if display.order == "rgb" else (2, 1, 0)
    for col, c in enumerate(order):
        stripe[:, col, c] = 1.0
    stripe[2] *= rng.uniform(0.4, 0.65)
    gain = float(1.0 / stripe.mean(axis=(0, 1)).mean())
    return stripe, gain


def _draw_body(
    tex: np.ndarray,
    rng: np.random.Generator,
    kind: str,
    device: tuple[int, int, int, int],
    bez: np.ndarray,
    radius: float,
    fp: float,
    gain: float,
) -> None:
    """Draw the device body, its glossy rim and (phones) the front camera and speaker."""
    dx0, dy0, dx1, dy1 = device
    body = np.clip(_body_colour(rng, kind), 0, 255) / gain
    outline = rounded_rect(dx0, dy0, dx1, dy1, radius)
    cv2.fillPoly(tex, [outline], tuple(float(v) for v in body) + (255.0,), cv2.LINE_AA)
    rim = tuple(float(v) for v in np.clip(body * 2.2 + 20 / gain, 0, 255)) + (255.0,)
    cv2.polylines(tex, [outline], True, rim, max(2, int(fp * 0.008)), cv2.LINE_AA)  # glossy rim
    if kind == "replay_phone":  # front camera and speaker
        cx, cy = (dx0 + dx1) // 2, dy0 + int(bez[1] / 2)
        cv2.circle(tex, (cx + int(0.1 * fp), cy), max(2, int(0.02 * fp)), (3, 3, 5, 255), -1)
        cv2.rectangle(
            tex, (cx - int(0.07 * fp), cy - 2), (cx + int(0.04 * fp), cy + 2), (8, 8, 8, 255), -1
        )


def _draw_hands(
    tex: np.ndarray,
    rng: np.random.Generator,
    kind: str,
    device: tuple[int, int, int, int],
    bez: np.ndarray,
    fp: float,
    gain: float,
    hands: bool | None = None,
    heights: np.ndarray | None = None,
) -> None:
    """Fingers holding the device: always for a phone, sometimes for a monitor (``hands``
    ``None``), or as ``hands`` says; their heights go to ``heights`` (depth modality)."""
    held = (kind == "replay_phone" or rng.random() < 0.35) if hands is None else hands
    if held:  # held in the hand
        sides = (
            ("left", "right")
            if rng.random() < 0.5
            else (("left",) if rng.random() < 0.5 else ("right",))
        )
        draw_fingers(
            tex,
            device,
            rng,
            fp * rng.uniform(0.13, 0.18),
            float(bez[[0, 2]].mean()) + fp * 0.04,
            sides,
            skin_colour(rng) / gain,
            heights,
        )


def _backlight_lut(rng: np.random.Generator, display: Display) -> np.ndarray:
    """The panel's transfer (black level, gamma, white point) as a ``(256, 1, 3)`` uint8 LUT."""
    x = np.arange(256) / 255.0
    blk, gam = rng.uniform(*display.black), rng.uniform(*display.gamma)
    tint = np.asarray(display.tint) * (1 + rng.normal(0, 0.015, 3))
    lut = np.stack([(blk + (1 - blk) * x**gam) * tint[c] for c in range(3)], -1) * 255
    return np.clip(lut, 0, 255).astype(np.uint8).reshape(256, 1, 3)


def _blurred_mask(
    rng: np.random.Generator, stripe: np.ndarray, pitch: float, disp_w: int, disp_h: int,
    residual: float | None = None,
) -> np.ndarray:
    """The sub-pixel mask after the lens blur, tiled over the active area (uint8).

    With ``residual`` (:func:`~.camera.residual_modulation` of the panel's real pixel
    period), the mask keeps that share of its contrast about each colour's mean instead of
    being blurred at the drawn ``pitch``.
    """
    if residual is not None:
        mean = stripe.mean(axis=(0, 1), keepdims=True)
        period = mean + (stripe - mean) * float(np.clip(residual, 0.0, 1.0))
        period = np.clip(period * 255 + 0.5, 0, 255).astype(np.uint8)
        return np.tile(period, (disp_h, disp_w, 1))
    # The lens low-passes the screen before the sensor samples it. Content is constant within a
    # display pixel, so blurring the periodic sub-pixel mask once approximates blurring every
    # frame; what survives the blur aliases into moire when the warp resamples it.
    sigma = rng.uniform(0.3, 0.5) * 3.0 / pitch
    # blurring a periodic pattern = tiling one blurred period; the period is taken from the
    # middle of a 16-period tile, far beyond the kernel's reach from the tile's edges
    period = cv2.GaussianBlur(np.tile(stripe, (16, 16, 1)), (0, 0), sigma)
    period = np.clip(period[24:27, 24:27] * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.tile(period, (disp_h, disp_w, 1))


def make_display(
    disp_w: int,
    disp_h: int,
    face_px: float,
    rng: np.random.Generator,
    kind: str,
    pitch: float = 1.5,
    display: Display = DISPLAYS[0],
    hands: bool | None = None,
    residual: float | None = None,
) -> Medium:
    """A phone or monitor showing video: bezel, RGB stripe sub-pixels, backlight, glare.

    Texture coordinates are sub-pixel units: every display pixel is 3 x 3 texture pixels
    (R, G, B stripes; the third row is the dark matrix between pixel rows). Everything is stored
    at ``1 / gain`` brightness (the stripes' mean transmission) and multiplied by ``gain`` after
    the camera-side warp, which averages the stripes.

    The random draws happen in a fixed order (bezel, stripes, body, hands, backlight, glare,
    blur), so a seed gives the same screen.

    Args:
        disp_w: active-area width in display pixels.
        disp_h: active-area height in display pixels.
        face_px: face-box side in display pixels (sets bezel and finger sizes).
        rng: generator.
        kind: ``"replay_phone"`` or ``"replay_screen"``.
        pitch: camera pixels per display pixel (sets the lens blur in texture pixels).
        display: the panel (:data:`fas_lib.synthspoof.factors.DISPLAYS`).
        hands: fingers holding the device: ``None`` (SynthSpoof) always for a phone and for
            35 % of monitors, ``True`` always, ``False`` never.
        residual: contrast share of the sub-pixel pattern that the camera resolves at the
            panel's real pixel period (:func:`~.camera.residual_modulation`); ``None``: the
            drawn pattern blurred by a lens at ``pitch``.
    """
    aw, ah = 3 * disp_w, 3 * disp_h
    fp = 3 * face_px
    bez, radius = _bezel(rng, kind, fp)
    stripe, gain = _subpixel_stripe(rng, display)
    pad = int(fp * 0.4)
    ox, oy = pad + int(bez[0]), pad + int(bez[1])
    cw, ch = ox + aw + int(bez[2]) + pad, oy + ah + int(bez[3]) + pad
    tex = np.zeros((ch, cw, 4), np.uint8)
    device = (pad, pad, ox + aw + int(bez[2]), oy + ah + int(bez[3]))
    _draw_body(tex, rng, kind, device, bez, radius, fp, gain)
    fingers = np.zeros((ch, cw), np.uint8)
    _draw_hands(tex, rng, kind, device, bez, fp, gain, hands, fingers)
    lut = _backlight_lut(rng, display)  # panel transfer (LUT), glare (additive, texture units)
    glare = sheen(rng, aw, ah, rng.uniform(*display.glare) / gain)
    extra = {
        "lut": lut,
        "mask": _blurred_mask(rng, stripe, pitch, disp_w, disp_h, residual),
        "glare": cv2.cvtColor(glare, cv2.COLOR_GRAY2RGB),
        "active": (ox, oy, aw, ah),
        "display": (disp_w, disp_h),
        "fingers": fingers,
    }
    return Medium(
        "replay",
        tex,
        rect_polygon(*device),
        rect_polygon(ox, oy, ox + aw, oy + ah),
        lambda p: np.asarray(p, np.float64) * 3 + 1 + (ox, oy),
        gain=gain,
        extra=extra,
    )


def display_texture(medium: Medium, content: np.ndarray) -> np.ndarray:
    """Show one ``(disp_h, disp_w, 3)`` uint8 content frame on the screen; returns ``medium.rgba``.

    The active area of ``medium.rgba`` is overwritten in place (every frame rewrites all of it),
    so no per-frame copy of the texture is made.
    """
    e = medium.extra
    ox, oy, aw, ah = e["active"]
    shown = cv2.LUT(content, e["lut"])
    big = cv2.resize(shown, (aw, ah), interpolation=cv2.INTER_NEAREST)
    big = cv2.multiply(big, e["mask"], scale=1.0 / 255.0)
    medium.rgba[oy : oy + ah, ox : ox + aw] = cv2.cvtColor(
        cv2.add(big, e["glare"]), cv2.COLOR_RGB2RGBA
    )
    return medium.rgba


def backlight_bleed(rng: np.random.Generator, width: int, height: int, peak: float) -> np.ndarray:
    """Backlight bleeding past an LCD's edges: 2-4 soft blobs of light on the panel's borders,
    ``(height, width)`` uint8 peaking at about ``peak`` grey levels."""
    q = 4  # smooth: computed on a coarse grid, upsampled
    yy, xx = np.mgrid[0:height:q, 0:width:q].astype(np.float32)
    field = np.zeros_like(xx)
    for _ in range(int(rng.integers(2, 5))):
        side, t = int(rng.integers(4)), rng.uniform(0.05, 0.95)
        cx, cy = [(t * width, 0), (width, t * height), (t * width, height), (0, t * height)][side]
        s = rng.uniform(0.04, 0.12) * max(width, height)
        field += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)) * rng.uniform(0.5, 1)
    glow = np.clip(peak * np.minimum(field, 1.0), 0, 255).astype(np.uint8)
    return cv2.resize(glow, (width, height), interpolation=cv2.INTER_LINEAR)


def room_reflection(rng: np.random.Generator, width: int, height: int, peak: float,
                    wall_sat: tuple[float, float], wall_val: tuple[float, float]) -> np.ndarray:
    """A room (:func:`~.scene.make_scene` with these wall ranges) mirrored in a screen's glass
    and out of focus: ``(height, width, 3)`` uint8 of at most ``peak`` grey levels."""
    small = make_scene(rng, 160, 120, wall_sat, wall_val)[:, ::-1]  # a mirror image
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(2.0, 5.0))
    return cv2.convertScaleAbs(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR),
                               alpha=peak / 255.0)
