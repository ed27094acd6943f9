"""The replay synthesizer's own recapture camera (:mod:`fas_lib.replay.synthesis`), not
SynthSpoof's.

SynthSpoof's camera (:func:`fas_lib.synthspoof.camera.capture`) works on 8-bit values: a
Gaussian lens blur, a down-and-up resampling, a gain jitter, Gaussian noise whose sigma grows
with the value (from a fixed-point noise bank), a white balance that removes a share of the
session's known light, a tint, a saturation matrix, an unsharp mask and JPEG. This camera
works on linear light and shares none of it (:func:`recapture`, in this order):

1. **exposure**: auto-exposure metered once on the first frame (the scene's mean to 18 %
   grey), with a per-frame jitter;
2. **lens**: a defocus **disc** PSF (not a Gaussian), **lateral chromatic aberration** (the
   red image magnified, the blue one shrunk about the optical centre) and **vignetting**
   (a ``1 / (1 + k r^2)^2`` fall-off);
3. **sensor**: spectral crosstalk between the colour channels, a **Bayer colour filter
   mosaic** (RGGB, GRBG or BGGR), **Poisson-Gaussian noise** in electrons (shot noise of
   the photons collected, ``full_well`` at clipping, plus a read noise), a 12-bit ADC;
4. **ISP**: **bilinear demosaicking** (OpenCV), a grey-world white balance measured on the
   first frame (a share ``awb`` of it), a colour-correction matrix that inverts a nominal
   crosstalk (not the sensor's true one), a **tone curve** (a power with a Reinhard-like
   shoulder), chroma denoising (blurred Cr / Cb) and JPEG at a quality drawn per video from
   the camera's range, with 4:2:0 or 4:4:4 chroma sampling.

:data:`CAMERAS` lists three cameras, named ``k1`` ... ``k3``; ``quality`` is the protocol's
``low`` / ``normal`` / ``high``. Every random draw comes from the caller's generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from fas_lib.replay.panel import disc_kernel

#: Reflectance the auto-exposure puts the scene's mean at.
MID_GREY: float = 0.18
#: Levels of the ADC (12 bits).
ADC_LEVELS: int = 4096


@dataclass(frozen=True)
class RecaptureCamera:
    """A recapturing camera.

    Attributes:
        name: ``"k1"`` ...
        title: what it stands for.
        quality: ``"low"``, ``"normal"`` or ``"high"`` (the protocol's ``quality``).
        lens: range of the defocus disc's radius, pixels.
        chromatic: range of the lateral chromatic aberration (relative magnification of red
            over green; blue the opposite).
        vignette: range of ``k`` in the ``1 / (1 + k r^2)^2`` fall-off (``r`` = 1 at a corner).
        cfa: Bayer pattern of the top-left 2 x 2 pixels.
        full_well: electrons at clipping (more: less shot noise).
        read_noise: read noise, electrons.
        crosstalk: share of each channel's light that reaches the other two.
        ccm_crosstalk: the crosstalk its colour-correction matrix assumes.
        awb: share of the grey-world white balance applied.
        tone: ``(gamma, shoulder)`` of the tone curve ``x^(1/g) (1 + s) / (x^(1/g) + s)``.
        jpeg: range of the JPEG quality.
        subsampling: JPEG chroma sampling, ``"420"`` or ``"444"``.
        denoise: sigma of the chroma blur, pixels (0: none).
        jitter: sigma of the per-frame exposure change.
    """

    name: str
    title: str
    quality: str
    lens: tuple[float, float]
    chromatic: tuple[float, float]
    vignette: tuple[float, float]
    cfa: str
    full_well: float
    read_noise: float
    crosstalk: float
    ccm_crosstalk: float
    awb: float
    tone: tuple[float, float]
    jpeg: tuple[int, int]
    subsampling: str
    denoise: float
    jitter: float


CAMERAS: tuple[RecaptureCamera, ...] = (
    RecaptureCamera("k1", "budget phone, rear camera", "low", (0.9, 1.4), (0.0015, 0.003),
                    (0.35, 0.5), "RGGB", 1200.0, 5.0, 0.12, 0.08, 0.9, (2.0, 1.5), (55, 75),
                    "420", 1.2, 0.02),
    RecaptureCamera("k2", "mirrorless camera, kit lens", "high", (0.45, 0.75), (0.0003, 0.001),
                    (0.1, 0.2), "GRBG", 9000.0, 2.5, 0.06, 0.06, 0.95, (2.3, 6.0), (88, 97),
                    "444", 0.0, 0.004),
    RecaptureCamera("k3", "wide-angle USB conference camera", "normal", (0.7, 1.1),
                    (0.002, 0.004), (0.45, 0.65), "BGGR", 2500.0, 8.0, 0.15, 0.1, 0.7,
                    (2.1, 3.0), (65, 85), "420", 0.8, 0.012),
)
CAMERA_NAMES: tuple[str, ...] = tuple(c.name for c in CAMERAS)
SAMPLING = {"420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
            "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}


def camera_by_name(name: str) -> RecaptureCamera:
    """The camera called ``name`` (:data:`CAMERAS`)."""
    for c in CAMERAS:
        if c.name == name:
            return c
    raise KeyError(f"no recapture camera {name!r}; known: {CAMERA_NAMES}")


def _crosstalk(c: float) -> np.ndarray:
    return ((1 - c) * np.eye(3) + c / 2 * (1 - np.eye(3))).astype(np.float32)


@dataclass
class CameraDraw:
    """One video's camera, drawn (:func:`draw_camera`). ``exposure`` and ``wb`` are metered on
    the first frame :func:`recapture` sees, then kept."""

    camera: RecaptureCamera
    radius: float
    disc: np.ndarray
    chromatic: float
    vignette: np.ndarray
    jpeg: int
    tone_lut: np.ndarray
    exposure: float | None = None
    wb: np.ndarray | None = field(default=None)


def tone_curve(gamma: float, shoulder: float, levels: int = ADC_LEVELS) -> np.ndarray:
    """The tone curve on ``levels`` linear levels as uint8 ``(levels,)``."""
    p = (np.arange(levels) / (levels - 1)) ** (1 / gamma)
    y = p * (1 + shoulder) / (p + shoulder)
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)


def draw_camera(camera: RecaptureCamera, rng: np.random.Generator, size: tuple[int, int]
                ) -> CameraDraw:
    """Draw a video's lens (disc radius, chromatic aberration, vignetting) and JPEG quality,
    in this order, for frames of ``size = (width, height)``."""
    radius, ca = rng.uniform(*camera.lens), rng.uniform(*camera.chromatic)
    k, q = rng.uniform(*camera.vignette), int(rng.integers(camera.jpeg[0], camera.jpeg[1] + 1))
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    vig = (1.0 / (1.0 + k * r2) ** 2).astype(np.float32)
    return CameraDraw(camera, float(radius), disc_kernel(radius), float(ca), vig, q,
                      tone_curve(*camera.tone))


def _magnify(channel: np.ndarray, s: float) -> np.ndarray:
    h, w = channel.shape
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    m = np.hstack([np.eye(2) * s, ((1 - s) * c)[:, None]])
    return cv2.warpAffine(channel, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _mosaic(rgb: np.ndarray, cfa: str) -> np.ndarray:
    """The Bayer mosaic ``(H, W)`` of an RGB image: each pixel keeps its filter's channel."""
    raw = np.empty(rgb.shape[:2], rgb.dtype)
    for k, letter in enumerate(cfa):
        dy, dx = divmod(k, 2)
        raw[dy::2, dx::2] = rgb[dy::2, dx::2, "RGB".index(letter)]
    return raw


def _optics(lin: np.ndarray, cd: CameraDraw) -> np.ndarray:
    """Disc blur, lateral chromatic aberration, vignetting of a linear image."""
    img = cv2.filter2D(lin, -1, cd.disc, borderType=cv2.BORDER_REFLECT)
    if cd.chromatic > 0:
        img[..., 0] = _magnify(np.ascontiguousarray(img[..., 0]), 1 + cd.chromatic)
        img[..., 2] = _magnify(np.ascontiguousarray(img[..., 2]), 1 - cd.chromatic)
    return img * cd.vignette[..., None]


def _sensor(img: np.ndarray, cd: CameraDraw, rng: np.random.Generator) -> np.ndarray:
    """Crosstalk, mosaic, Poisson-Gaussian noise, 12-bit ADC, demosaic: linear RGB in [0, 1]."""
    cam = cd.camera
    img = cv2.transform(img, _crosstalk(cam.crosstalk))
    electrons = np.clip(_mosaic(img, cam.cfa), 0, 1) * np.float32(cam.full_well)
    sigma = np.sqrt(electrons + np.float32(cam.read_noise ** 2))
    raw = electrons + sigma * rng.standard_normal(electrons.shape, dtype=np.float32)
    code = np.clip(np.rint(raw / cam.full_well * (ADC_LEVELS - 1)), 0, ADC_LEVELS - 1)
    rgb = cv2.cvtColor(code.astype(np.uint16), getattr(cv2, f"COLOR_Bayer{cam.cfa}2RGB"))
    return rgb.astype(np.float32) / (ADC_LEVELS - 1)


def recapture(lin: np.ndarray, cd: CameraDraw, rng: np.random.Generator) -> np.ndarray:
    """Photograph a linear-light ``(H, W, 3)`` float32 scene: ``(H, W, 3)`` uint8 RGB, the
    JPEG the camera delivers. The first call meters exposure and white balance into ``cd``."""
    cam = cd.camera
    if cd.exposure is None:
        cd.exposure = MID_GREY / max(float(lin.mean()), 1e-4)
    gain = cd.exposure * (1.0 + float(rng.normal(0.0, cam.jitter)))
    rgb = _sensor(_optics(lin * np.float32(gain), cd), cd, rng)
    if cd.wb is None:
        means = np.maximum(rgb.reshape(-1, 3).mean(0), 1e-4)
        cd.wb = ((means[1] / means) ** cam.awb).astype(np.float32)
    ccm = np.linalg.inv(_crosstalk(cam.ccm_crosstalk)) @ np.diag(cd.wb)
    rgb = cv2.transform(rgb, ccm.astype(np.float32))
    code = np.clip(rgb * (ADC_LEVELS - 1), 0, ADC_LEVELS - 1).astype(np.uint16)
    out = cd.tone_lut[code]
    if cam.denoise > 0:
        ycc = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb)
        for c in (1, 2):
            ycc[..., c] = cv2.GaussianBlur(np.ascontiguousarray(ycc[..., c]), (0, 0),
                                           cam.denoise)
        out = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    params = [cv2.IMWRITE_JPEG_QUALITY, cd.jpeg,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SAMPLING[cam.subsampling]]
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), params)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
