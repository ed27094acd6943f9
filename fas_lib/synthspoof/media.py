"""Presentation media: printed photos (flat, bent, cut) and phone / monitor screens.

A medium is a colour + opacity texture in its own plane coordinates (paper or device canvas,
with the holding fingers drawn on it), its OUTER polygon (paper edge, device edge) and INNER polygon
(printed image area, active screen area), and a point map from content pixels to the plane.
The video renderer moves the plane rigidly into the frame with a drifting homography.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from .factors import PRINTERS, Printer
from .fingers import draw_fingers, skin_colour
from .gt import rect_polygon

#: Content resolution of prints: inter-ocular distance in texture pixels (> frame, so that the
#: halftone is finer than the camera's pixels and aliases when the camera resamples it).
PRINT_IOD: float = 100.0
#: A face's inter-ocular distance in life, millimetres (sets the physical scale of media).
IOD_MM: float = 63.0
#: Face size on a print relative to life (prints are usually at least life size).
PRINT_SIZE: tuple[float, float] = (0.9, 1.6)
#: The camera of a printed photo, a good still camera: ranges of blur sigma, noise sigma and
#: JPEG quality in print-texture pixels (:func:`~.camera.source_capture`).
PHOTO_CAMERA: tuple[tuple[float, float], ...] = ((0.6, 1.1), (0.5, 2.0), (85, 97))
#: Quantile function of the smallest face-to-content margin (face boxes): (probabilities, values).
MIN_MARGIN_QUANTILES: tuple[tuple[float, ...], tuple[float, ...]] = (
    (0.0, 0.05, 0.6, 1.0),
    (0.01, 0.06, 0.155, 0.33),
)
#: The smallest face-to-content margin of every medium when a config fixes ``"margins"``
#: (``SynthConfig.fixed_factors``), face boxes: the widest of :data:`MIN_MARGIN_QUANTILES`, a
#: wide-margin, 1.x-like variant (1.0-1.1 drew 0.07-0.45) without the tight tail: at rest no
#: crop narrower than ``1 + 2 * 0.33 = 1.66`` face boxes shows the medium's edge. With the
#: medium's tilt and drift (a 4-subject sample, :func:`~.gt.border_share`): face-box crops
#: show it from scale 1.4 (5 %; the drawn margins: 3 % at 1.0, 21 % at 1.1), the aligner's
#: whole crop from 1.1 (2 %; 22 % at 1.2, 57 % at 1.3; drawn: 18 % at 0.9, 54 % at 1.0).
WIDE_MIN_MARGIN: float = 0.33


@dataclass
class Medium:
    """A presentation medium ready to be placed in a scene.

    Attributes:
        kind: ``"print"`` or ``"replay"``.
        rgba: ``(H, W, 4)`` uint8 colour and opacity (paper or device, and the holding fingers)
            in plane coordinates; one 4-channel array because one 4-channel warp is ~3x
            cheaper than separate colour and alpha warps. Replay: the active area is rewritten
            for every frame by :func:`display_texture`.
        outer: ``(P, 2)`` outer polygon (paper / device edge) in plane coordinates.
        inner: ``(P, 2)`` inner polygon (printed image / active screen area).
        to_plane: maps ``(N, 2)`` content-pixel points to plane coordinates.
        z: ``(H, W)`` uint8 distance added behind the plane (bend), or ``None`` when flat.
        gain: brightness factor applied after warping (emissive screens), 1 for prints.
        extra: kind-specific data (display LUT, sub-pixel mask, glare, eye holes, ``fingers``:
            the holding fingers' heights, uint8 in plane coordinates ...).
    """

    kind: str
    rgba: np.ndarray
    outer: np.ndarray
    inner: np.ndarray
    to_plane: Callable[[np.ndarray], np.ndarray]
    z: np.ndarray | None = None
    gain: float = 1.0
    extra: dict = field(default_factory=dict)


def sample_margins(rng: np.random.Generator, video_index: int, seed: int, kind: str,
                   wide: bool = False) -> np.ndarray:
    """Margins ``(left, top, right, bottom)`` from the face box to the content edge, in face boxes.

    The smallest margin sets the crop scale ``1 + 2 * m_min`` at which the crop starts to show
    medium context. It is stratified over videos (golden-ratio sequence of the video index) and
    drawn from :data:`MIN_MARGIN_QUANTILES`: 5 % of videos below 0.06 face boxes, 60 % below
    0.155, none above 0.33. The distances are set for what the CNN sees at test time, the
    centre 112 x 112 of a 128 x 128 aligned crop (the aligner's scale-1.0 crop is ~1.28 face
    boxes wide, its centre view ~1.12): that view rarely shows the medium at scale 0.9 and
    almost always at 1.5 (notebook 02 measures both the whole crop and this view). ``wide``
    (a config that fixes ``"margins"``): every ``m_min`` is :data:`WIDE_MIN_MARGIN` instead,
    with the same random draws otherwise.
    """
    u = (video_index * 0.6180339887 + seed * 0.1234567 + rng.uniform(0, 0.03)) % 1.0
    m_min = WIDE_MIN_MARGIN if wide else float(np.interp(u, *MIN_MARGIN_QUANTILES))
    m = m_min + rng.uniform(0.06, 0.6, 4)
    side = int(rng.integers(4))
    m[side] = m_min
    w, h = 1 + m[0] + m[2], 1 + m[1] + m[3]
    want = {"print_portrait": 1.2, "replay_phone": 1.6}.get(kind)
    # Aspect-ratio fix-ups only grow the sides that do not carry the smallest margin.
    if want is not None and h / w < want:  # taller than wide: grow top / bottom
        _grow(m, (1, 3), want * w - h, side)
    if kind == "replay_screen" and w / h < 1.33:  # landscape monitor / tablet: grow left / right
        _grow(m, (0, 2), 1.33 * h - w, side)
    return m


# ------------------------------------------------------------------------------------------
# Fingers
# ------------------------------------------------------------------------------------------


def _grow(m: np.ndarray, pair: tuple[int, int], extra: float, keep: int) -> None:
    """Add ``extra`` to the two margins in ``pair``, all of it to one if the other is ``keep``."""
    if keep == pair[0]:
        m[pair[1]] += extra
    elif keep == pair[1]:
        m[pair[0]] += extra
    else:
        m[pair[0]] += extra / 2
        m[pair[1]] += extra / 2


# ------------------------------------------------------------------------------------------
# Prints
# ------------------------------------------------------------------------------------------


#: Side of the cached halftone screen tile (larger prints wrap around).
SCREEN_TILE: int = 1024


@lru_cache(maxsize=4)
def _screen(period: float, angles: tuple[float, float, float]) -> np.ndarray:
    """AM halftone screens as uint8 thresholds ``(tile, tile, 3)``, one rotated screen per ink
    (``period`` in texture pixels, ``angles`` in degrees: a printer's dot pattern)."""
    yy, xx = np.mgrid[0:SCREEN_TILE, 0:SCREEN_TILE].astype(np.float32)
    out = np.empty((SCREEN_TILE, SCREEN_TILE, 3), np.uint8)
    k = 2 * np.pi / period
    for i, ang in enumerate(np.radians(angles)):
        u = xx * np.cos(ang) + yy * np.sin(ang)
        v = -xx * np.sin(ang) + yy * np.cos(ang)
        t = 0.5 + 0.25 * (np.cos(k * u) + np.cos(k * v))  # ink threshold in (0, 1)
        out[..., i] = np.clip((1.0 - t) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def sheen(rng: np.random.Generator, width: int, height: int, peak: float) -> np.ndarray:
    """A smooth specular band (gloss of paper or glass), ``(height, width)`` uint8, whose
    maximum is about ``peak`` grey levels, at a random angle and position."""
    yy, xx = np.mgrid[0:height:4, 0:width:4].astype(np.float32)  # smooth: coarse, upsampled
    ang = rng.uniform(0, np.pi)
    u = ((xx - rng.uniform(0, width)) * np.cos(ang)
         + (yy - rng.uniform(0, height)) * np.sin(ang)) / max(width, height)
    band = peak * np.exp(-((u / rng.uniform(0.06, 0.2)) ** 2))
    return cv2.resize(np.clip(band, 0, 255).astype(np.uint8), (width, height),
                      interpolation=cv2.INTER_LINEAR)


def print_process(content: np.ndarray, rng: np.random.Generator, paper: np.ndarray,
                  printer: Printer, residual: float = 1.0) -> np.ndarray:
    """Render an image as a halftone print: reduced gamut, paper white point, ink dots.

    With ``y`` the colour relative to the paper white (after desaturation and contrast
    compression towards the ink black), an ink dot is printed where ``y < 1 - t`` for the
    rotated screen threshold ``t``; the result mixes dots and continuous tone (dot gain) and
    is blurred slightly (ink spread). All steps are 8-bit OpenCV operations.

    Args:
        content: ``(H, W, 3)`` uint8 photo.
        rng: generator.
        paper: paper white (RGB 0..255).
        printer: gamut, dot mix and halftone screen.
        residual: share of the dots' contrast the camera will see
            (:func:`~.camera.residual_modulation`; 1 draws them at full strength).
    """
    h, w = content.shape[:2]
    sat = rng.uniform(*printer.saturation)
    bw = rng.uniform(*printer.black) / (float(np.mean(paper)) / 255.0)  # ink black / paper
    gamma = rng.uniform(*printer.gamma)
    lut = np.clip((np.arange(256) / 255.0) ** gamma * 255 + 0.5, 0, 255).astype(np.uint8)
    luma = np.array([0.299, 0.587, 0.114])
    m = (1 - bw) * (sat * np.eye(3) + (1 - sat) * np.outer(np.ones(3), luma))
    m34 = np.hstack([m, np.full((3, 1), 255.0 * bw)]).astype(np.float32)
    y8 = cv2.transform(cv2.LUT(content, lut), m34)
    scr = _screen(printer.period, printer.angles)
    oy, ox = (int(v) for v in rng.integers(0, 8, 2))
    if h + oy > SCREEN_TILE or w + ox > SCREEN_TILE:
        scr = np.pad(
            scr,
            ((0, max(0, h + oy - SCREEN_TILE)), (0, max(0, w + ox - SCREEN_TILE)), (0, 0)),
            mode="wrap",
        )
    dots = cv2.compare(y8, np.ascontiguousarray(scr[oy : oy + h, ox : ox + w]), cv2.CMP_LT)
    mix = rng.uniform(*printer.dot_mix) * float(np.clip(residual, 0.0, 1.0))
    out = cv2.addWeighted(y8, 1 - mix, dots, -mix * (1 - bw), mix * 255.0)
    out = cv2.multiply(out, tuple(float(v) / 255.0 for v in paper) + (0.0,))
    return cv2.GaussianBlur(out, (0, 0), 0.55)  # ink spread


def paper_grain(tex: np.ndarray, rect: tuple[int, int, int, int], rng: np.random.Generator,
                strength: float, face_px: float) -> None:
    """Multiply the paper inside ``rect`` (in place) by its texture: fibres (about a tenth of a
    millimetre) and mottle (a few millimetres), of relative contrast ``strength``; ``face_px``
    (the face box in texture pixels, about 15 cm of a life-size print) sets the scale."""
    x0, y0, x1, y1 = rect
    h, w = y1 - y0, x1 - x0
    if strength <= 0 or h < 2 or w < 2:
        return
    mm = face_px / 150.0  # texture pixels per millimetre, about
    fibres = cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32), (0, 0),
                              max(0.5, 0.15 * mm))
    q = max(1, int(2 * mm))
    mottle = cv2.GaussianBlur(rng.standard_normal((h // q + 2, w // q + 2), dtype=np.float32),
                              (0, 0), 1.0)
    mottle = cv2.resize(mottle, (w, h), interpolation=cv2.INTER_LINEAR)
    field = (fibres / (fibres.std() + 1e-6) + mottle / (mottle.std() + 1e-6)) * (strength / 2)
    region = tex[y0:y1, x0:x1, :3]
    tex[y0:y1, x0:x1, :3] = cv2.multiply(region, cv2.merge([1 + field] * 3), dtype=cv2.CV_8U)


def make_print(
    content: np.ndarray,
    lm68: np.ndarray,
    face_px: float,
    rng: np.random.Generator,
    variant: str,
    light: np.ndarray | None = None,
    printer: Printer = PRINTERS[0],
    residual: float = 1.0,
) -> Medium:
    """A printed photo with a white border and holding fingers.

    Args:
        content: ``(H, W, 3)`` uint8 photo of the subject (its first scene), print resolution.
        lm68: the face's landmarks in ``content`` pixels (for the eye holes of ``print_cut``).
        face_px: face-box side in content pixels (sets border and finger sizes).
        rng: generator.
        variant: ``"print_flat"``, ``"print_warped"`` or ``"print_cut"``.
        light: RGB shading of the paper (how it is held towards the light; default 1).
        printer: the printer and paper (:data:`fas_lib.synthspoof.factors.PRINTERS`).
        residual: share of the halftone's contrast the camera resolves (:func:`print_process`).
    """
    h, w = content.shape[:2]
    paper = np.clip(np.array(printer.paper) + 2 - rng.uniform(0, 10) + rng.normal(0, 3, 3), 190,
                    255)
    printed = print_process(content, rng, paper, printer, residual)
    if printer.gloss > 0:  # the glossy paper reflects a light source
        band = sheen(rng, w, h, 70.0 * printer.gloss * rng.uniform(0.5, 1.0))
        printed = cv2.add(printed, cv2.cvtColor(band, cv2.COLOR_GRAY2RGB))
    if light is not None:
        printed = cv2.multiply(printed, tuple(float(v) for v in light) + (0.0,))
        paper = np.clip(paper * light, 0, 255)
    border = face_px * rng.uniform(0.05, 0.22, 4)  # l, t, r, b
    pad = int(face_px * 0.45)
    ox, oy = pad + int(border[0]), pad + int(border[1])
    cw, ch = ox + w + int(border[2]) + pad, oy + h + int(border[3]) + pad
    tex = np.zeros((ch, cw, 4), np.uint8)
    px0, py0, px1, py1 = pad, pad, ox + w + int(border[2]), oy + h + int(border[3])
    cv2.rectangle(
        tex, (px0, py0), (px1 - 1, py1 - 1), tuple(float(v) for v in paper) + (255.0,), -1
    )
    tex[oy : oy + h, ox : ox + w] = cv2.cvtColor(printed, cv2.COLOR_RGB2RGBA)
    paper_grain(tex, (px0, py0, px1, py1), rng, printer.grain, face_px)
    extra: dict = {"content_origin": (ox, oy), "paper": paper}
    if variant == "print_cut":
        holes = np.zeros((ch, cw), np.uint8)
        for sl in (slice(36, 42), slice(42, 48)):
            e = lm68[sl]
            c = e.mean(0) + (ox, oy)
            ew = e[:, 0].max() - e[:, 0].min()
            cv2.ellipse(
                holes, (int(c[0]), int(c[1])), (int(0.78 * ew), int(0.45 * ew)), 0, 0, 360, 255, -1
            )
        rim = cv2.dilate(holes, np.ones((5, 5), np.uint8)) > holes
        tex[rim, :3] = (tex[rim, :3] * 0.55).astype(np.uint8)  # cut paper edge
        extra["holes"] = holes
    sides = tuple(s for s in ("left", "right", "bottom") if rng.random() < 0.6) or ("right",)
    extra["fingers"] = np.zeros((ch, cw), np.uint8)
    draw_fingers(
        tex,
        (px0, py0, px1, py1),
        rng,
        face_px * rng.uniform(0.13, 0.18),
        float(border[[0, 2, 3]].mean()) + face_px * 0.05,
        sides,
        skin_colour(rng),
        extra["fingers"],
    )
    outer = rect_polygon(px0, py0, px1, py1)
    inner = rect_polygon(ox, oy, ox + w, oy + h)

    def to_plane(p: np.ndarray) -> np.ndarray:
        return np.asarray(p, np.float64) + (ox, oy)

    if variant != "print_warped":
        return Medium("print", tex, outer, inner, to_plane, extra=extra)
    return _bend(tex, (px0, py0, px1, py1), outer, inner, to_plane, rng, extra)


def _bend(
    tex: np.ndarray,
    paper_rect: tuple,
    outer: np.ndarray,
    inner: np.ndarray,
    to_plane: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    extra: dict,
) -> Medium:
    """Bend a flat print (RGBA canvas) around a vertical cylinder, seen in perspective, shaded.

    A flat point at arc length ``s`` from the centre line goes to ``x = R sin(s/R) f/(f+Z)``,
    ``y = y_c + (y - y_c) f/(f+Z)`` with depth ``Z = R (1 - cos(s/R))``.
    """
    h, w = tex.shape[:2]
    px0, py0, px1, py1 = paper_rect
    xc, yc = (px0 + px1) / 2, (py0 + py1) / 2
    half = (px1 - px0) / 2
    radius = half / rng.uniform(0.55, 0.95)
    f = 4.0 * w
    sign = 1.0 if rng.random() < 0.75 else -1.0  # mostly convex towards the camera

    def fwd(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, np.float64)
        s = p[..., 0] - xc
        z = sign * radius * (1 - np.cos(s / radius))
        k = f / (f + z)
        return np.stack([xc + radius * np.sin(s / radius) * k, yc + (p[..., 1] - yc) * k], -1)

    s_grid = np.linspace(-1.5 * half, 1.5 * half, 4096)
    g_grid = fwd(np.stack([s_grid + xc, np.full_like(s_grid, yc)], -1))[:, 0] - xc
    # the inverse map is separable: arc length and depth depend on the column only
    s = np.interp(np.arange(w) - xc, g_grid, s_grid, left=np.nan, right=np.nan)
    z = sign * radius * (1 - np.cos(s / radius))
    valid = np.isfinite(s)
    map_x = np.ascontiguousarray(
        np.broadcast_to(np.where(valid, s + xc, -10.0).astype(np.float32)[None, :], (h, w))
    )
    ratio = np.where(valid, (f + np.nan_to_num(z)) / f, 1.0).astype(np.float32)
    rows = np.arange(h, dtype=np.float32)[:, None] - np.float32(yc)
    map_y = np.float32(yc) + rows * ratio[None, :]
    map_y[:, ~valid] = -10.0
    out = cv2.remap(
        tex,
        map_x,
        map_y,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )
    extra = extra | {"fingers": cv2.remap(extra["fingers"], map_x, map_y, cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)}
    phi_l = rng.uniform(-0.5, 0.5)
    shade = np.clip(0.78 + 0.26 * np.cos(np.nan_to_num(s / radius) - phi_l), 0, 1.04)
    out[..., :3] = np.clip(out[..., :3] * shade[None, :, None].astype(np.float32), 0, 255).astype(
        np.uint8
    )
    zcol = np.clip(np.nan_to_num(np.abs(z)) * (120.0 / max(radius, 1.0)), 0, 255).astype(np.uint8)
    zmap = np.ascontiguousarray(np.broadcast_to(zcol[None, :], (h, w)))
    return Medium(
        "print",
        out,
        fwd(outer),
        fwd(inner),
        lambda p: fwd(to_plane(p)),
        z=zmap,
        extra=extra | {"bend_sign": sign},
    )
