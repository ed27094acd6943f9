"""The opt-in 3-D mask attack: a rigid mask of the subject's face, worn by an attacker.

The mask is moulded on the subject's face (so its depth is face-shaped, only smoother) and
painted (so its colour is flat and too uniform, with the material's own sheen and grain). It
covers the face from the jaw to above the brows, with a visible edge, and has two eye holes
through which the wearer's eyes show and blink; the mask itself never changes expression.
The wearer is drawn with the subject's own head (hair, ears, neck): only the mask differs, so
that RGB alone must find the mask from its texture, edge and rigidity. Its NIR reflectance is
the material's (:attr:`~.factors.MaskMaterial.nir`), not skin's.

The result is an ordinary :class:`~.subjects.Subject` (with ``nir`` set), rendered by the
live-video code path with the wearer's head motion.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .factors import MaskMaterial
from .sensors import NIR_IOD_REF, RELIEF_SLOPE
from .subjects import VARIANTS, Subject


def face_cover(lm68: np.ndarray, shape: tuple[int, int], iod: float) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """The mask's outline and its eye holes in sprite pixels, two ``(H, W)`` uint8 (255 in).

    The outline follows the jaw (landmarks 0-16) and closes above the brows (17-26 raised by
    0.55 inter-ocular distances); the holes are ellipses 1.6 x 0.9 eye widths on the eyes.
    """
    region = np.zeros(shape, np.uint8)
    top = lm68[26:16:-1] - (0.0, 0.55 * iod)
    cv2.fillPoly(region, [np.round(np.vstack([lm68[0:17], top])).astype(np.int32)], 255)
    holes = np.zeros(shape, np.uint8)
    for sl in (slice(36, 42), slice(42, 48)):
        e = lm68[sl]
        c = e.mean(0)
        ew = float(e[:, 0].max() - e[:, 0].min())
        cv2.ellipse(holes, (int(c[0]), int(c[1])), (int(0.8 * ew), int(0.45 * ew)), 0, 0, 360,
                    255, -1)
    return region, holes


def _normals(relief: np.ndarray, scale: float) -> np.ndarray:
    """Unit normals ``(H, W, 3)`` of a height map (relief levels, ``scale`` slope per level)."""
    gx = cv2.Sobel(relief, cv2.CV_32F, 1, 0, ksize=3) * (scale / 8.0)
    gy = cv2.Sobel(relief, cv2.CV_32F, 0, 1, ksize=3) * (scale / 8.0)
    n = np.dstack([-gx, -gy, np.ones_like(gx)])
    return n / np.linalg.norm(n, axis=2, keepdims=True)


def paint(rgb: np.ndarray, relief: np.ndarray, cover: np.ndarray, material: MaskMaterial,
          rng: np.random.Generator, iod: float) -> np.ndarray:
    """The painted mask surface, ``(H, W, 3)`` float32: the face's colours blurred and pulled
    towards their mean (``flatness``), tinted, shaded by a light from the upper left, with
    the material's specular sheen (``gloss``) and grain.

    Args:
        rgb: the subject's open-eye sprite colours.
        relief: the mask's height map (float32 relief levels).
        cover: where the mask is (uint8, 255 in).
        material: the mask's material.
        rng: generator (the grain).
        iod: the sprite's inter-ocular distance.
    """
    base = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), 0.03 * iod)  # no pores
    inside = cover > 0
    mean = base[inside].mean(0) if inside.any() else base.reshape(-1, 3).mean(0)
    flat = (mean + (1 - material.flatness) * (base - mean)) * np.asarray(material.tint)
    n = _normals(relief, RELIEF_SLOPE * iod / NIR_IOD_REF)
    light = np.array([-0.4, -0.5, 1.0]) / np.linalg.norm([-0.4, -0.5, 1.0])
    half = (light + (0, 0, 1)) / np.linalg.norm(light + (0, 0, 1))
    lambert = np.clip(n @ light.astype(np.float32), 0, 1)
    spec = material.gloss * np.clip(n @ half.astype(np.float32), 0, 1) ** 30
    h, w = cover.shape
    grain = cv2.resize(rng.normal(0, material.grain, (h // 2 + 1, w // 2 + 1)).astype(np.float32),
                       (w, h), interpolation=cv2.INTER_LINEAR)
    return flat * (0.55 + 0.5 * lambert)[..., None] + (spec + grain)[..., None]


def mask_subject(subject: Subject, material: MaskMaterial, rng: np.random.Generator) -> Subject:
    """The subject wearing a rigid, painted mask of its own face (see the module docstring).

    Every sprite variant shows the mask as moulded on the open-eye face (a smile is dropped:
    rigid), with the variant's own eyes (blinks) in the holes; the relief is the face's
    relief blurred by ``material.smooth`` inter-ocular distances, 6 levels proud of it, and
    25 levels deeper in the holes; ``skin`` is cleared under the mask; ``nir`` holds the
    material's NIR reflectance (with grain) under the mask, 0 elsewhere.

    Args:
        subject: the impersonated subject.
        material: the mask's material (:data:`~.factors.MASKS`).
        rng: generator (paint grain).

    Returns:
        A new subject; ``subject`` is not modified.
    """
    lm = subject.landmarks["open"]
    iod = subject.iod
    region, holes = face_cover(lm, subject.relief.shape, iod)
    cover = cv2.subtract(region, holes)
    rel = subject.relief.astype(np.float32)
    moulded = cv2.GaussianBlur(rel, (0, 0), material.smooth * iod) + 6.0
    relief = np.where(region > 0, np.where(holes > 0, moulded - 25.0, moulded), rel)
    painted = paint(subject.sprites["open"][..., :3], relief, cover, material, rng, iod)
    rim = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    c = cv2.GaussianBlur(cover.astype(np.float32) / 255, (0, 0), 0.8)[..., None]
    sprites, landmarks = {}, {}
    for v in VARIANTS:
        src = "open" if v == "smile" else v  # rigid: no expression, but the eyes blink
        spr = subject.sprites[src].copy()
        mixed = painted * c + spr[..., :3].astype(np.float32) * (1 - c)
        mixed[holes > 0] *= 0.7  # the wearer's eyes, in the holes' shadow
        mixed[rim] *= 0.6  # the mask's edge
        spr[..., :3] = np.clip(mixed, 0, 255).astype(np.uint8)
        sprites[v] = spr
        landmarks[v] = lm.copy()
        landmarks[v][36:48] = subject.landmarks[src][36:48]
    grain = rng.normal(0, material.grain, cover.shape)
    nir = np.where(cover > 0, np.clip(material.nir + grain, 1, 255), 0).astype(np.uint8)
    person = subject.sprites["open"][..., 3] > 0
    return dataclasses.replace(
        subject, sprites=sprites, landmarks=landmarks, nir=nir,
        relief=np.clip(relief * person, 0, 255).astype(np.uint8),
        skin=np.where(cover > 0, 0, subject.skin).astype(np.uint8),
    )
