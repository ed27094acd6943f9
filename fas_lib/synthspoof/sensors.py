"""The depth and near-infrared (NIR) sensors of SynthSpoof and what each material shows them.

Depth is modelled on a structured-light camera: half resolution, noise that grows with the
surface's slope, holes at depth edges, at grazing angles and on dark hair (which absorbs the
projected pattern). NIR is modelled on an 850 nm camera with its own illuminator beside the
lens: the light falls off with the square of the distance (:func:`nir_gain`), skin scatters
it under the surface (bright, soft, darker towards grazing angles) and shows specular
highlights where it faces the camera (forehead, nose tip, cheekbones); a mask's resin or
paper reflects it flatter and brighter; printed ink absorbs it in proportion to its carbon
content (:attr:`~.factors.Printer.nir_ink`); an LCD / OLED image emits no NIR at all, so a
screen shows only its glass's reflection, never a face.

Depth values are nearness in grey levels (255 = nearest); 0 is a hole (no measurement).
"""

from __future__ import annotations

import cv2
import numpy as np

from .camera import BANK_ONE, bank_view, sensor_noise_mono

#: Frame inter-ocular distance (pixels at 640 wide) at which the NIR illuminator's gain is 1.
NIR_IOD_REF: float = 68.0
#: Relief levels (0..255 sprite relief) per pixel to surface slope, at :data:`NIR_IOD_REF`.
RELIEF_SLOPE: float = 0.9


def nir_gain(lm68: np.ndarray, k_frame: float) -> float:
    """Inverse-square falloff of the NIR illuminator from the face's distance in a frame.

    The distance is inversely proportional to the frame inter-ocular distance (``lm68``, one
    frame's 68 landmarks), so the gain is ``(iod / (NIR_IOD_REF * k_frame)) ** 2``, clipped to
    0.4..2.5.
    """
    iod = float(np.linalg.norm(lm68[36:42].mean(0) - lm68[42:48].mean(0)))
    return float(np.clip((iod / (NIR_IOD_REF * k_frame)) ** 2, 0.4, 2.5))


def facing(relief: np.ndarray, scale: float) -> np.ndarray:
    """``cos`` of the angle between the surface normal and the camera axis, float32 in 0..1.

    Args:
        relief: ``(H, W)`` height map in relief levels (uint8 or float).
        scale: slope per relief level and pixel (larger faces: steeper per pixel).
    """
    r = cv2.GaussianBlur(relief.astype(np.float32), (0, 0), 1.5)
    gx = cv2.Sobel(r, cv2.CV_32F, 1, 0, ksize=3) * (scale / 8.0)
    gy = cv2.Sobel(r, cv2.CV_32F, 0, 1, ksize=3) * (scale / 8.0)
    return 1.0 / np.sqrt(1.0 + gx * gx + gy * gy)


def head_nir(gray: np.ndarray, aux: np.ndarray, scale: float, gain: float,
             shine: float, gloss: float = 0.0) -> np.ndarray:
    """NIR radiance of a head (live, or wearing a mask) over a dim background, float32.

    Args:
        gray: ``(H, W)`` float32 visible grey level of the rendered frame.
        aux: ``(H, W, 3 or 4)`` uint8 [relief, skin, alpha(, mask NIR reflectance, 0 = none)].
        scale: see :func:`facing`.
        gain: :func:`nir_gain` of the frame.
        shine: peak of the skin's specular highlight, grey levels.
        gloss: peak of the mask material's specular highlight, grey levels.

    Returns:
        ``(H, W)`` float32 NIR image before the sensor (:func:`nir_frame`).
    """
    alpha = aux[..., 2].astype(np.float32) / 255
    skin = aux[..., 1].astype(np.float32) / 255
    nz = facing(aux[..., 0], scale)
    diffuse = (0.45 * gray + 105) * (0.55 + 0.45 * nz)  # subsurface: soft falloff
    person = (diffuse + shine * nz**40) * skin + (0.7 * gray + 10) * (1 - skin)
    if aux.shape[2] > 3:  # a mask: opaque, flat and bright, its own gloss, no subsurface
        cover = aux[..., 3].astype(np.float32)
        mask = cover * (0.8 + 0.2 * nz) + gloss * nz**60
        person = np.where(cover > 0, mask, person)
    return 0.35 * gray * (1 - alpha) + gain * person * alpha


def medium_nir(medium_rgba: np.ndarray, extra: dict, ink: float | None,
               gain: float = 1.0, picture: np.ndarray | None = None) -> np.ndarray:
    """NIR reflectance of a presentation medium's texture, uint8 in plane coordinates.

    Args:
        medium_rgba: the medium's ``(H, W, 4)`` texture.
        extra: its ``extra`` dict (``fingers``; ``active`` and ``glare`` of a screen).
        ink: the printer's :attr:`~.factors.Printer.nir_ink` for a print, ``None`` for a
            screen (no NIR image: the panel's glass reflects the illuminator, bezel dark).
        gain: a screen's brightness factor (its texture is stored at ``1 / gain``).
        picture: a NIR picture printed in carbon ink over the content area (``print_nir``),
            ``(h, w)`` uint8 placed at ``extra["content_origin"]``; ``None`` otherwise.
    """
    g = cv2.cvtColor(medium_rgba, cv2.COLOR_RGBA2GRAY).astype(np.float32)
    if ink is None:
        out = np.full(g.shape, 22.0, np.float32)
        ox, oy, aw, ah = extra["active"]
        out[oy : oy + ah, ox : ox + aw] = 16 + 0.4 * extra["glare"][..., 0] * gain
    else:
        paper = float(np.mean(extra["paper"]))
        out = 0.9 * paper - ink * np.clip(paper - g, 0, 255)  # paper reflects 850 nm
        if picture is not None:
            ox, oy = extra["content_origin"]
            h, w = picture.shape
            out[oy : oy + h, ox : ox + w] = 20 + (0.9 * paper - 20) * picture / 255.0
    fingers = extra["fingers"].astype(np.float32) / 255
    skin = 0.45 * cv2.cvtColor(medium_rgba, cv2.COLOR_RGBA2RGB)[..., 0] * gain + 105
    out = np.where(fingers > 0, skin * (0.55 + 0.45 * np.sqrt(fingers)), out)
    return np.clip(out, 0, 255).astype(np.uint8)


def depth_frame(depth: np.ndarray, rng: np.random.Generator, bank: np.ndarray,
                absorb: np.ndarray | None = None) -> np.ndarray:
    """A structured-light depth frame from exact nearness (float, grey levels).

    Half resolution; noise of 1.5 levels plus 0.5 per level of slope (up to 6); holes at
    depth edges (~38 %), at grazing angles (slope above 1.5 levels per pixel, more the steeper) and on ``absorb`` (dark hair,
    ~70 %).
    """
    h, w = depth.shape
    d = np.clip(depth, 0, 255).astype(np.uint8)
    d = cv2.resize(cv2.resize(d, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (w, h),
                   interpolation=cv2.INTER_NEAREST)
    edges = cv2.morphologyEx(d, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 25
    draw = bank_view(bank, rng, h, w)
    smooth = cv2.GaussianBlur(np.clip(depth, 0, 255).astype(np.float32), (0, 0), 2.0)
    slope = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3),
                          cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    holes = edges & (draw[..., 1] > 19)
    holes |= (slope > 1.5) & (draw[..., 2] > BANK_ONE * (2.5 - slope / 3.0))
    if absorb is not None:
        holes |= absorb & (draw[..., 1] > -BANK_ONE // 2)
    extra = draw[..., 0].astype(np.float32) * (np.minimum(0.5 * slope, 6.0) / BANK_ONE)
    d = sensor_noise_mono(d, 1.5, rng, bank)
    d = np.clip(d + extra, 0, 255).astype(np.uint8)
    d[holes] = 0
    return d


def nir_frame(nir: np.ndarray, rng: np.random.Generator, bank: np.ndarray) -> np.ndarray:
    """An NIR frame from radiance (float, grey levels): slight blur and sensor noise."""
    n = cv2.GaussianBlur(np.clip(nir, 0, 255).astype(np.uint8), (0, 0), 0.8)
    return sensor_noise_mono(n, 3.0, rng, bank)
