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

**Sensor conditions** (:class:`SensorConditions`, drawn per video by :func:`draw_conditions`
from a generator of their own, so that a video's RGB frames never depend on them; applied by
:func:`ir_frames` whenever modalities are rendered). Depth and NIR come from one IR camera, as
in the Intel RealSense SR300 that recorded CASIA-SURF (Zhang et al., CVPR 2019) and WMCA's
colour-depth-NIR channels (George et al., IEEE TIFS 2020), so they share one pixel grid and
one registration to the separate RGB camera:

* **misregistration**: RGB and the IR camera are registered by a calibration made once per
  device at one distance; its error is a small similarity (shift, roll, scale) per camera
  device (:data:`MISALIGN_DEVICE`), plus the parallax left at the face's own distance along the
  cameras' horizontal baseline per video (:data:`MISALIGN_PARALLAX`);
* **weaker NIR illumination** (:data:`NIR_POWER`): the active illuminator's power (battery
  saving, an older emitter, a longer exposure budget) scales the light it returns; the IR
  camera's auto-exposure raises its gain up to :data:`NIR_MAX_GAIN`, amplifying its noise
  (lower SNR) and, past it, leaving the face darker;
* **depth dropouts**: a structured-light camera loses the projected pattern where too little
  of it returns (dark, absorbing surfaces: :data:`WEAK_RETURN`), at specular highlights that
  saturate it, and in blobs where ambient infrared swamps it (sunlight by a window, session
  :data:`SUNLIT_SESSIONS`; the known weakness of active-stereo and structured-light depth
  outdoors) or where the pattern is ambiguous (:data:`DROPOUT`, share of the frame lost).

The magnitudes (a few pixels, 20-100 % of the light, a few per cent of the frame lost) are this
course's choices, of the order such sensors show; none is a number measured on a device. The
conditions are drawn without regard to the video's label: they make every class harder alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .camera import BANK_ONE, bank_view, sensor_noise_mono
from .factors import CAMERA_NAMES

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
        aux: ``(H, W, 3 or 4)`` uint8 [relief, skin, alpha(, mask NIR reflectance, 0 = none)];
            under a mask, ``skin`` is the share of light its material scatters like skin.
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
    if aux.shape[2] > 3:  # a mask: flat and bright, its own gloss, no subsurface ...
        cover = aux[..., 3].astype(np.float32)
        mask = cover * (0.8 + 0.2 * nz) + gloss * nz**60
        mask += diffuse * skin  # ... but where translucent (``skin`` > 0 under it: silicone)
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
                absorb: np.ndarray | None = None,
                dropout: np.ndarray | None = None) -> np.ndarray:
    """A structured-light depth frame from exact nearness (float, grey levels).

    Half resolution; noise of 1.5 levels plus 0.5 per level of slope (up to 6); holes at
    depth edges (~38 %), at grazing angles (slope above 1.5 levels per pixel, more the
    steeper), on ``absorb`` (dark hair, ~70 %) and on ``dropout`` (every pixel;
    :func:`dropouts`).
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
    if dropout is not None:
        d[dropout] = 0
    return d


def nir_frame(nir: np.ndarray, rng: np.random.Generator, bank: np.ndarray,
              gain: float = 1.0) -> np.ndarray:
    """An NIR frame from radiance (float, grey levels): the camera's ``gain`` (its
    auto-exposure, :func:`exposure_gain`) on the signal and its noise of 3 levels, a slight
    blur."""
    n = cv2.GaussianBlur(np.clip(nir * gain, 0, 255).astype(np.uint8), (0, 0), 0.8)
    return sensor_noise_mono(n, 3.0 * gain, rng, bank)


# -- sensor conditions (module docstring) ------------------------------------------------------

#: Standard deviations of a camera device's RGB-to-IR registration error: shift (pixels at 640
#: wide, each axis), roll (degrees), log-scale. A few pixels is the error a factory or
#: one-shot calibration leaves; it is drawn once per camera level (``c1`` ... ``c5``).
MISALIGN_DEVICE: tuple[float, float, float] = (2.5, 0.6, 0.012)
#: Standard deviation of the parallax left along the horizontal baseline per video (pixels at
#: 640 wide): a registration made at one distance is off by ``baseline * f * |1/z - 1/z0|``.
MISALIGN_PARALLAX: float = 1.5
#: Range of the NIR illuminator's power relative to nominal, log-uniform per video.
NIR_POWER: tuple[float, float] = (0.2, 1.0)
#: The IR camera's largest auto-exposure gain.
NIR_MAX_GAIN: float = 2.5
#: Range of the share of a depth frame lost to dropout blobs, uniform per video.
DROPOUT: tuple[float, float] = (0.0, 0.06)
#: Extra share lost in a sunlit session (:data:`SUNLIT_SESSIONS`).
SUN_DROPOUT: float = 0.08
#: Sessions whose daylight carries enough 850 nm light to swamp the projected pattern.
SUNLIT_SESSIONS: tuple[str, ...] = ("s3",)
#: Pattern return (NIR radiance at nominal power, grey levels) below which a depth pixel may be
#: lost: with probability ``1 - return / WEAK_RETURN``.
WEAK_RETURN: float = 30.0
_SALT = 0x1A5E4  # the conditions' own stream, apart from the video's
_DEVICE_SALT = 0xDE71CE


@dataclass(frozen=True)
class SensorConditions:
    """The depth / NIR sensors' conditions in one video (module docstring).

    Attributes:
        nir_power: the NIR illuminator's power relative to nominal (1: the renderer of
            ``MODALITY_VERSION`` 1).
        dropout: share of each depth frame lost to dropout blobs.
        warp: ``(dx, dy, roll, log_scale)``: the IR camera's image (depth and NIR) relative to
            RGB is shifted by ``(dx, dy)`` pixels of the frame, rolled by ``roll`` degrees and
            scaled by ``exp(log_scale)`` about the frame's centre (:func:`misregister`).
        rng: the conditions' own generator (the per-frame dropouts).
    """

    nir_power: float
    dropout: float
    warp: tuple[float, float, float, float]
    rng: np.random.Generator = field(compare=False, repr=False)

    def gt(self) -> dict[str, np.ndarray]:
        """The conditions as ground-truth arrays (``nir_power``, ``depth_dropout``,
        ``ir_warp``)."""
        return {"nir_power": np.array(self.nir_power), "depth_dropout": np.array(self.dropout),
                "ir_warp": np.array(self.warp)}


def draw_conditions(seed: int, index: int, camera: str, session: str,
                    k_frame: float = 1.0) -> SensorConditions:
    """The sensor conditions of video ``index``: the device's registration error (from
    ``(seed, camera)``: every video of a camera level shares it) plus the video's parallax,
    NIR power and dropout share (from ``(seed, index)``), never from the video's generator.

    Args:
        seed: the dataset's seed.
        index: the video's index (its :class:`~.video.VideoJob` ``index``).
        camera: its camera level (``"c1"`` ...).
        session: its session (a sunlit one loses more depth).
        k_frame: frame width / 640 (pixel distances scale with it).
    """
    dev = np.random.default_rng(np.random.SeedSequence(
        [seed, _DEVICE_SALT, CAMERA_NAMES.index(camera)]))
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, _SALT]))
    shift, roll, scale = MISALIGN_DEVICE
    dx, dy = dev.normal(0.0, shift, 2) * k_frame
    warp = (float(dx + rng.normal(0.0, MISALIGN_PARALLAX) * k_frame), float(dy),
            float(dev.normal(0.0, roll)), float(dev.normal(0.0, scale)))
    power = float(np.exp(rng.uniform(*np.log(NIR_POWER))))
    dropout = float(rng.uniform(*DROPOUT)) + (SUN_DROPOUT if session in SUNLIT_SESSIONS else 0.0)
    return SensorConditions(power, dropout, warp, rng)


def exposure_gain(power: float) -> float:
    """The IR camera's auto-exposure gain under an illuminator of relative ``power``."""
    return float(min(1.0 / max(power, 1e-6), NIR_MAX_GAIN))


def misregister(img: np.ndarray, warp: tuple[float, float, float, float],
                nearest: bool = False) -> np.ndarray:
    """``img`` as the misregistered IR camera sees it: content at ``p`` moves to
    ``c + exp(log_scale) R(roll) (p - c) + (dx, dy)`` (``c`` the image centre); nearest
    neighbour for depth and masks (no mixing across a depth edge), bilinear for NIR; the
    border is replicated."""
    h, w = img.shape[:2]
    dx, dy, roll, log_scale = warp
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), roll, float(np.exp(log_scale)))
    m[:, 2] += (dx, dy)
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def dropouts(cond: SensorConditions, ret: np.ndarray) -> np.ndarray:
    """Depth pixels lost besides :func:`depth_frame`'s own holes, ``(H, W)`` bool.

    Args:
        cond: the video's conditions (its generator draws the frame's dropouts).
        ret: the pattern's return, the NIR radiance at nominal power (float, grey levels).

    Lost: with probability ``1 - ret / WEAK_RETURN`` where the return is weak, in blocks of
    4 x 4 pixels (the pattern is decoded over windows, not pixels); half the blocks of a
    saturated specular highlight (a peak above its surroundings); and blobs of a few tens of
    pixels (a smooth random field above its ``1 - dropout`` quantile).
    """
    h, w = ret.shape
    u = cond.rng.random((h // 4 + 1, w // 4 + 1), dtype=np.float32)  # lost in 4 x 4 blocks
    u = cv2.resize(u, ((w // 4 + 1) * 4, (h // 4 + 1) * 4), interpolation=cv2.INTER_NEAREST)
    u = u[:h, :w]
    lost = u < 1.0 - ret / WEAK_RETURN
    peak = ret - cv2.GaussianBlur(ret, (0, 0), 4.0)
    lost |= (ret >= 250) & (peak > 12) & (u > 0.5)
    if cond.dropout > 0:
        q = 24
        coarse = cond.rng.standard_normal((h // q + 2, w // q + 2), dtype=np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        lost |= smooth > np.quantile(smooth[::4, ::4], 1.0 - cond.dropout)
    return lost


def ir_frames(depth: np.ndarray, nir: np.ndarray, rng: np.random.Generator, bank: np.ndarray,
              absorb: np.ndarray | None = None,
              cond: SensorConditions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The IR camera's depth and NIR frames (:func:`depth_frame`, :func:`nir_frame`) under
    ``cond`` (``None``: perfect registration, nominal light, no dropouts).

    Args:
        depth: exact nearness, float, in RGB's pixel grid.
        nir: NIR radiance, float, in RGB's pixel grid, the illuminator's power already in it.
        rng, bank: the video's generator and noise bank (the same draws as without ``cond``).
        absorb: dark hair (absorbs the pattern), bool, or ``None``.
        cond: :func:`draw_conditions`' conditions.
    """
    if cond is None:
        return depth_frame(depth, rng, bank, absorb), nir_frame(nir, rng, bank)
    depth = misregister(np.asarray(depth, np.float32), cond.warp, nearest=True)
    nir = misregister(np.asarray(nir, np.float32), cond.warp)
    if absorb is not None:
        absorb = misregister(absorb.astype(np.uint8), cond.warp, nearest=True) > 0
    lost = dropouts(cond, nir / cond.nir_power)
    return (depth_frame(depth, rng, bank, absorb, lost),
            nir_frame(nir, rng, bank, exposure_gain(cond.nir_power)))
