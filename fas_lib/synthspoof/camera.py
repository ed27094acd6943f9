"""The simulated camera: lens blur, effective resolution, sensor noise, exposure jitter, JPEG.

A camera's optics and sensor are a :class:`Quality`; the five camera models of SynthSpoof
(:data:`fas_lib.synthspoof.factors.CAMERAS`) each have one, named low / normal / high as
CASIA-FASD names its three cameras: lower quality means lower effective resolution, more blur,
more noise and stronger compression. Noise is drawn from a per-process bank seeded by the dataset
seed and indexed at random offsets drawn from the video's generator, so it is deterministic and
cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class Quality:
    """Optics and sensor settings of a camera.

    Attributes:
        name: ``"low"``, ``"normal"`` or ``"high"``.
        resolution: effective resolution as a fraction of the frame (resampled down and up).
        blur: Gaussian lens blur sigma in pixels.
        noise0: signal-independent noise sigma (grey levels).
        noise1: additional noise sigma at full white (shot-noise-like).
        jpeg: JPEG quality of the camera's own compression.
        exposure_jitter: sigma of the frame-to-frame gain change.
    """

    name: str
    resolution: float
    blur: float
    noise0: float
    noise1: float
    jpeg: int
    exposure_jitter: float


def residual_modulation(period: float, blur: float, alias: float) -> float:
    """Share of a fine periodic pattern's contrast (a print's halftone, a screen's sub-pixels)
    that survives a camera, for a pattern of ``period`` camera pixels.

    The lens (a Gaussian of ``blur`` pixels) and the pixel's own area (a box of one pixel)
    low-pass the pattern before the sensor samples it: ``exp(-2 pi^2 blur^2 f^2) |sinc f|``
    at ``f = 1 / period`` cycles per pixel. Sensors without an optical low-pass filter, and
    Bayer demosaicking, still alias a little of what lies far beyond that: ``alias`` is that
    floor. Real prints (100-200 lines per inch) and screens (100-460 pixels per inch) held at
    arm's length put 3-10 periods in a camera pixel of a 640 x 480 face video, so the dots and
    sub-pixels that a CNN would find at once survive only at the floor; the moire of recaptured
    screens (Patel, Han, Jain, TIFS 2016) is that aliased remainder.
    """
    f = 1.0 / max(float(period), 1e-6)
    return float(max(np.exp(-2 * np.pi**2 * blur**2 * f**2) * abs(np.sinc(f)), alias))


def source_capture(rgb: np.ndarray, rng: np.random.Generator, blur: tuple[float, float],
                   noise: tuple[float, float], jpeg: tuple[int, int]) -> np.ndarray:
    """The camera that took an attack's photo or video, before it was printed or shown:
    lens blur, sensor noise and JPEG, each drawn from its range (in the content's pixels).

    The attack is then photographed again (:func:`capture`): a recapture carries two
    cameras' blur, noise and compression, a real and weak cue.
    """
    img = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(*blur))
    sigma = rng.uniform(*noise)
    n = rng.standard_normal(img.shape[:2], dtype=np.float32)[..., None] * sigma
    img = np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)
    q = int(rng.integers(jpeg[0], jpeg[1] + 1))
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                          [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


#: Extra rows/columns of the noise bank, so that frames can be cut at random offsets.
BANK_PAD: int = 48


#: Fixed-point scale of the int16 noise bank (a unit Gaussian is stored as 64).
BANK_ONE: int = 64


@lru_cache(maxsize=4)
def noise_bank(seed: int, height: int, width: int) -> np.ndarray:
    """Unit Gaussian noise in fixed point: ``(height + pad, width + pad, 3)`` int16, cached."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2_000_003, height, width]))
    bank = rng.standard_normal((height + BANK_PAD, width + BANK_PAD, 3), dtype=np.float32)
    bank = np.clip(np.rint(bank * BANK_ONE), -32000, 32000).astype(np.int16)
    bank.setflags(write=False)
    return bank


def bank_view(bank: np.ndarray, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A ``(height, width, C)`` window of the bank at a random offset."""
    oy, ox = (int(v) for v in rng.integers(0, BANK_PAD, 2))
    return bank[oy : oy + height, ox : ox + width]


def capture(
    rgb: np.ndarray, quality: Quality, rng: np.random.Generator, bank: np.ndarray,
    isp: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Photograph an image: lens blur, resolution loss, exposure jitter, noise, colour
    processing (``isp``: white balance, colour response, sharpening), JPEG round trip.

    Noise is ``n * (noise0 + noise1 * x / 255)`` with ``n`` a unit Gaussian field; all
    arithmetic is 16-bit fixed point (OpenCV SIMD), which is ~15x faster than float NumPy.

    Args:
        rgb: ``(H, W, 3)`` uint8 scene radiance (already composed).
        quality: camera settings.
        rng: the video's generator (offsets and exposure).
        bank: from :func:`noise_bank` with at least the frame's size.
        isp: the camera's image processing between the sensor and the JPEG encoder
            (:func:`fas_lib.synthspoof.factors.colour_pipeline`), or ``None``.

    Returns:
        ``(H, W, 3)`` uint8 RGB as the camera would deliver it.
    """
    h, w = rgb.shape[:2]
    img = rgb
    if quality.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), quality.blur)
    if quality.resolution < 1.0:  # the blur above acts as the anti-aliasing filter
        small = cv2.resize(
            img,
            (int(w * quality.resolution), int(h * quality.resolution)),
            interpolation=cv2.INTER_LINEAR,
        )
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    gain = 1.0 + float(rng.normal(0.0, quality.exposure_jitter))
    n = bank_view(bank, rng, h, w)
    x16 = img.astype(np.int16)
    shot = cv2.multiply(x16, n, scale=quality.noise1 / (255.0 * BANK_ONE), dtype=cv2.CV_16S)
    y = cv2.addWeighted(x16, gain, n, quality.noise0 / BANK_ONE, 0.0, dtype=cv2.CV_16S)
    y = cv2.add(y, shot, dtype=cv2.CV_16S)
    out = np.clip(y, 0, 255).astype(np.uint8)
    if isp is not None:
        out = isp(out)
    _, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality.jpeg]
    )
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def sensor_noise_mono(
    img: np.ndarray, sigma: float, rng: np.random.Generator, bank: np.ndarray
) -> np.ndarray:
    """Add Gaussian noise (from the bank) to a single-channel uint8 image (depth, NIR)."""
    h, w = img.shape[:2]
    n = bank_view(bank, rng, h, w)[..., 0]
    y = cv2.addWeighted(img.astype(np.int16), 1.0, n, sigma / BANK_ONE, 0.0, dtype=cv2.CV_16S)
    return np.clip(y, 0, 255).astype(np.uint8)
