"""Training-time augmentation that transfers across sessions and cameras (opt-in).

Photometric and capture changes a new session or camera brings (light, white balance, tone
curve, focus, sensor noise, compression) plus a horizontal flip, built on the functional ops of
``torchvision.transforms.v2``. Applied to the uint8 crops of a training batch
(:class:`fas_lib.cache.loader.CropDataset`), **one draw per sample, applied to each of its scales**:
the n crops of a sample are one window of the same face, so they get the same flip, the same
colour change, the same blur, the same JPEG quality and the same noise pattern (drawn from the
sample's own seed, once per scale): identical scales stay identical.

Names (``ExperimentConfig.augment``), in the order they are applied:

* ``"hflip"``: mirror left-right;
* ``"color_jitter"``: brightness, contrast, saturation factors in ``[1 - s, 1 + s]`` and a hue
  shift in ``[-hue, hue]`` (fractions of the hue circle), applied in that fixed order;
* ``"gamma"``: a tone curve ``x ** gamma``, gamma log-uniform in ``gamma``;
* ``"blur"``: Gaussian blur, sigma uniform in ``blur_sigma`` (pixels), kernel ``blur_kernel``;
* ``"noise"``: additive Gaussian noise, std uniform in ``noise_std`` (fraction of 255);
* ``"jpeg"``: JPEG re-compression at an integer quality uniform in ``jpeg_quality``.

Each enabled transform is applied to a sample with probability ``p``
(:class:`AugmentSettings`; defaults documented there, overridable per field through
``ExperimentConfig.augment_params``). Every parameter of an epoch is drawn up front from
``(seed, epoch)`` (:meth:`Augment.draw`), a fixed number of draws per sample whatever is
enabled, so a sample's augmentation depends neither on its batch nor on the other switches,
and a resumed run sees the same augmentations. The global RNGs are left untouched (the noise
is drawn under :func:`torch.random.fork_rng`), so with nothing enabled training is unchanged.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as F

__all__ = ["AUGMENTS", "CAPTURE", "PHOTOMETRIC", "Augment", "AugmentSettings",
           "augment_settings"]

#: The transforms, in the order they are applied.
AUGMENTS: tuple[str, ...] = ("hflip", "color_jitter", "gamma", "blur", "noise", "jpeg")
#: A new session's light and colour (and the mirror): they change colour and tone, which is
#: also what a recapture changes (a print's gamut, a screen's black level and gamma).
PHOTOMETRIC: tuple[str, ...] = ("hflip", "color_jitter", "gamma")
#: A new camera's capture: focus, sensor noise, compression (the ``robust`` preset's).
CAPTURE: tuple[str, ...] = ("blur", "noise", "jpeg")

#: Salt of the epoch's parameter stream (independent of the crop offsets' ``(seed, epoch)``).
_SALT = 0xA06
#: Columns of the uniform draws per sample: one "apply?" draw per transform, then parameters.
_APPLY = {name: i for i, name in enumerate(AUGMENTS)}
_BRIGHT, _CONTRAST, _SAT, _HUE, _GAMMA, _SIGMA, _STD, _QUALITY = range(6, 14)
_N_UNIFORM = 14


@dataclass(frozen=True)
class AugmentSettings:
    """Strengths of the transforms (defaults: moderate changes a new camera or session brings).

    Attributes:
        p: probability that each enabled transform is applied to a sample.
        brightness: brightness factor in ``[1 - brightness, 1 + brightness]``.
        contrast: contrast factor in ``[1 - contrast, 1 + contrast]``.
        saturation: saturation factor in ``[1 - saturation, 1 + saturation]``.
        hue: hue shift in ``[-hue, hue]`` (at most 0.5).
        gamma: ``(low, high)`` of the gamma, drawn log-uniformly.
        blur_sigma: ``(low, high)`` of the blur's sigma in pixels.
        blur_kernel: odd side of the blur kernel.
        noise_std: ``(low, high)`` of the noise's standard deviation (fraction of 255).
        jpeg_quality: ``(low, high)`` JPEG quality, inclusive, in 1..100.
    """

    p: float = 0.5
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05
    gamma: tuple[float, float] = (0.7, 1.5)
    blur_sigma: tuple[float, float] = (0.1, 1.5)
    blur_kernel: int = 7
    noise_std: tuple[float, float] = (0.005, 0.04)
    jpeg_quality: tuple[int, int] = (30, 95)

    def check(self) -> None:
        """``ValueError`` naming the first out-of-range strength."""
        lo_hi = {"gamma": (self.gamma, 1e-3), "blur_sigma": (self.blur_sigma, 1e-3),
                 "noise_std": (self.noise_std, 0.0), "jpeg_quality": (self.jpeg_quality, 1)}
        checks = [
            (0 <= self.p <= 1, f"p must be in [0, 1], got {self.p}"),
            (all(0 <= v < 1 for v in (self.brightness, self.contrast, self.saturation)),
             "brightness, contrast and saturation must be in [0, 1)"),
            (0 <= self.hue <= 0.5, f"hue must be in [0, 0.5], got {self.hue}"),
            (self.blur_kernel >= 1 and self.blur_kernel % 2 == 1,
             f"blur_kernel must be odd and >= 1, got {self.blur_kernel}"),
            (self.jpeg_quality[1] <= 100, f"jpeg_quality must be in 1..100: {self.jpeg_quality}"),
        ] + [(len(v) == 2 and least <= v[0] <= v[1], f"{k} must be (low, high) with "
              f"{least} <= low <= high, got {v}") for k, (v, least) in lo_hi.items()]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"augment_params: {msg}")


def augment_settings(names: Sequence[str],
                     params: Mapping[str, Any] | None = None) -> AugmentSettings:
    """Check augmentation names and build their :class:`AugmentSettings` (``ValueError``)."""
    unknown = sorted(set(names) - set(AUGMENTS))
    if unknown:
        raise ValueError(f"unknown augment {unknown}; expected some of {list(AUGMENTS)}")
    fields = {f.name: f for f in dataclasses.fields(AugmentSettings)}
    bad = sorted(set(params or {}) - set(fields))
    if bad:
        raise ValueError(f"unknown augment_params {bad}; expected some of {sorted(fields)}")
    values = {k: tuple(v) if isinstance(v, (list, tuple)) else v
              for k, v in (params or {}).items()}
    settings = AugmentSettings(**values)
    settings.check()
    return settings


def _noise(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """``F.gaussian_noise`` with the same noise pattern on every scale of ``x``, drawn from
    ``seed`` without touching the global RNG."""
    out = []
    for scale in x:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            out.append(F.gaussian_noise(scale, sigma=sigma, clip=True))
    return torch.stack(out)


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """``F.jpeg`` without torchvision 0.29's deprecation warning of its JPEG codec (one per
    call; its successor, torchcodec, is not a dependency of the course)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The image decoding and encoding",
                                category=DeprecationWarning)
        return F.jpeg(x, quality=quality)


class Augment:
    """The enabled transforms of a run, applied per sample to every scale alike.

    Args:
        names: enabled transforms, among :data:`AUGMENTS` (order does not matter).
        params: overrides of :class:`AugmentSettings` fields, e.g. ``{"jpeg_quality": [50, 95]}``.
    """

    def __init__(self, names: Sequence[str], params: Mapping[str, Any] | None = None) -> None:
        self.settings = augment_settings(names, params)
        self.names = tuple(n for n in AUGMENTS if n in set(names))

    def __bool__(self) -> bool:
        return bool(self.names)

    def draw(self, n: int, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's draws for ``n`` samples: ``(n, 14)`` uniforms and ``(n,)`` noise seeds."""
        rng = np.random.default_rng([int(seed), int(epoch), _SALT])
        return rng.random((n, _N_UNIFORM)), rng.integers(0, 2**62, size=n)

    def apply(self, x: torch.Tensor, u: np.ndarray, noise_seed: int) -> torch.Tensor:
        """Augment one sample's ``(n_scales, 3, H, W)`` uint8 crops with its draws ``u``."""
        s = self.settings

        def span(col: int, lo: float, hi: float) -> float:
            return float(lo + (hi - lo) * u[col])

        for name in self.names:
            if u[_APPLY[name]] >= s.p:
                continue
            if name == "hflip":
                x = F.horizontal_flip(x)
            elif name == "color_jitter":
                x = F.adjust_brightness(x, span(_BRIGHT, 1 - s.brightness, 1 + s.brightness))
                x = F.adjust_contrast(x, span(_CONTRAST, 1 - s.contrast, 1 + s.contrast))
                x = F.adjust_saturation(x, span(_SAT, 1 - s.saturation, 1 + s.saturation))
                x = F.adjust_hue(x, span(_HUE, -s.hue, s.hue))
            elif name == "gamma":
                x = F.adjust_gamma(x, math.exp(span(_GAMMA, *map(math.log, s.gamma))))
            elif name == "blur":
                k = s.blur_kernel
                x = F.gaussian_blur(x, [k, k], [span(_SIGMA, *s.blur_sigma)] * 2)
            elif name == "noise":
                x = _noise(x, span(_STD, *s.noise_std), noise_seed)
            elif name == "jpeg":
                lo, hi = s.jpeg_quality
                x = _jpeg(x, min(hi, int(lo + (hi - lo + 1) * u[_QUALITY])))
        return x

    def apply_batch(self, batch_u8: np.ndarray, u: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Augment a ``(B, n_scales, 3, H, W)`` uint8 batch, sample ``i`` with ``u[i]``."""
        out = np.empty_like(batch_u8)
        for i in range(len(batch_u8)):
            x = self.apply(torch.from_numpy(np.ascontiguousarray(batch_u8[i])), u[i],
                           int(seeds[i]))
            out[i] = x.numpy()
        return out
