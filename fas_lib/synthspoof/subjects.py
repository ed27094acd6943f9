"""Synthetic identities: annotated source portraits turned into many distinct face sprites.

A subject is a source portrait (see :mod:`.sources`) with a smooth landmark-driven geometric
warp, new skin, hair and clothing colours, contrast/gamma, optional mirroring and glasses. Its
"sprite" (RGBA, head and shoulders) and its 68 landmarks are built once; blinks and a smile are
precomputed variants, so that rendering a frame is a single warp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from fas_lib.preprocess.geometry import (
    TEMPLATE_PAPER5,
    crop_matrix,
    dlib68_to_paper5,
    similarity_transform,
)

from .gt import face_box
from .sources import SPRITE_IOD, SourcePortrait, builtin_sources
from .sprite_ops import (
    blink_warp,
    draw_glasses,
    landmark_warp,
    mirror_landmarks,
    recolour,
    relief_map,
)

#: Variants rendered per subject: eye states and a smile (non-rigid change across frames).
VARIANTS: tuple[str, ...] = ("open", "half", "closed", "smile")


@dataclass
class Subject:
    """One synthetic identity.

    Attributes:
        subject_id: e.g. ``"s007"``.
        source: name of the source portrait.
        params: the appearance and geometry parameters drawn for it.
        sprites: variant name -> ``(H, W, 4)`` uint8 RGBA sprite.
        landmarks: variant name -> ``(68, 2)`` landmarks in sprite pixels.
        skin: ``(H, W)`` uint8 skin mask (for the near-infrared modality).
        relief: ``(H, W)`` uint8 height of the head above the body plane (depth modality).
        nir: ``(H, W)`` uint8 NIR reflectance of what covers the face (a mask,
            :mod:`.mask`), 0 where skin, hair or eyes show; ``None`` for a bare head.
    """

    subject_id: str
    source: str
    params: dict
    sprites: dict[str, np.ndarray] = field(repr=False)
    landmarks: dict[str, np.ndarray] = field(repr=False)
    skin: np.ndarray = field(repr=False)
    relief: np.ndarray = field(repr=False)
    nir: np.ndarray | None = field(default=None, repr=False)

    @property
    def iod(self) -> float:
        """Inter-ocular distance (eye centres) of the open-eye sprite."""
        lm = self.landmarks["open"]
        return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))


# ------------------------------------------------------------------------------------------
# Subjects
# ------------------------------------------------------------------------------------------

#: Hair colours as CIE Lab (L in 0..100).
HAIR_PALETTE: tuple[tuple[float, float, float], ...] = (
    (16, 1, 2),
    (28, 8, 14),
    (40, 12, 22),
    (36, 24, 28),
    (66, 4, 30),
    (60, 0, 2),
    (80, 0, 5),
)


def draw_params(index: int, n_sources: int, rng: np.random.Generator) -> dict:
    """Appearance and geometry parameters of subject ``index`` (skin tone and hair stratified)."""
    k = index // n_sources
    return {
        "mirror": bool(rng.random() < 0.5),
        "face_width": float(rng.uniform(0.9, 1.1)),
        "jaw_width": float(rng.uniform(0.88, 1.12)),
        "chin": float(rng.uniform(-0.05, 0.08)),
        "eye_spacing": float(rng.uniform(-0.06, 0.06)),
        "nose_length": float(rng.uniform(-0.1, 0.15)),
        "mouth_width": float(rng.uniform(0.9, 1.12)),
        "brow_raise": float(rng.uniform(-0.03, 0.05)),
        "skin_tone": float((k * 0.381966 + rng.uniform(0, 0.2)) % 1.0),
        "hair": int((k + index) % len(HAIR_PALETTE)),
        "clothes_lab": [
            float(rng.uniform(22, 70)),
            float(rng.uniform(-35, 40)),
            float(rng.uniform(-40, 40)),
        ],
        "gamma": float(rng.uniform(0.88, 1.12)),
        "contrast": float(rng.uniform(0.9, 1.1)),
        "glasses": bool(rng.random() < 0.25),
        "glasses_colour": [int(v) for v in rng.integers(0, 120, 3)],
        "scene_seed": int(rng.integers(0, 2**31 - 1)),
    }


def derive_subject(source: SourcePortrait, subject_id: str, params: dict) -> Subject:
    """Build one subject's sprites, landmarks and masks from a source and its parameters."""
    lm = source.lm68
    iod = SPRITE_IOD
    b = float(face_box(lm)[2] - face_box(lm)[0])
    tgt = lm.copy()
    c = lm[17:].mean(0)
    tgt[:, 0] = c[0] + (tgt[:, 0] - c[0]) * params["face_width"]
    jaw = np.arange(3, 14)
    tgt[jaw, 0] = c[0] + (tgt[jaw, 0] - c[0]) * params["jaw_width"]
    chin_w = np.clip(1 - np.abs(np.arange(17) - 8) / 5.0, 0, 1)
    tgt[:17, 1] += params["chin"] * b * chin_w
    tgt[36:42, 0] -= params["eye_spacing"] * iod / 2
    tgt[17:22, 0] -= params["eye_spacing"] * iod / 2
    tgt[42:48, 0] += params["eye_spacing"] * iod / 2
    tgt[22:27, 0] += params["eye_spacing"] * iod / 2
    nose_len = lm[33, 1] - lm[27, 1]
    tgt[30:36, 1] += params["nose_length"] * nose_len * np.array([0.6, 1, 1, 1, 1, 1])
    tgt[48:68, 1] += params["nose_length"] * nose_len * 0.7
    mc = tgt[48:68].mean(0)
    tgt[48:68, 0] = mc[0] + (tgt[48:68, 0] - mc[0]) * params["mouth_width"]
    tgt[17:27, 1] -= params["brow_raise"] * b
    stack = np.dstack([source.rgb, source.person, source.skin, source.hair, source.clothes])
    warped = landmark_warp(stack, lm, tgt)
    rgb, person, skin, hair, clothes = (
        warped[..., :3],
        warped[..., 3],
        warped[..., 4],
        warped[..., 5],
        warped[..., 6],
    )
    rgb = recolour(rgb, skin, hair, clothes, params, HAIR_PALETTE)
    lm2 = tgt
    if params["mirror"]:
        rgb, person, skin = rgb[:, ::-1].copy(), person[:, ::-1].copy(), skin[:, ::-1].copy()
        lm2 = mirror_landmarks(lm2, rgb.shape[1])
    sprites, lms = {}, {}
    base = np.dstack([rgb, person])
    for name in VARIANTS:
        if name == "open":
            img, pts = base, lm2
        elif name in ("half", "closed"):
            img, pts = blink_warp(base, lm2, 0.55 if name == "half" else 1.0)
        else:
            smile = lm2.copy()
            mw = np.linalg.norm(lm2[54] - lm2[48])
            for i, sx in ((48, -1), (54, 1)):
                smile[i] += (sx * 0.07 * mw, -0.08 * mw)
            for i, sx in ((49, -1), (53, 1), (59, -1), (55, 1), (60, -1), (64, 1)):
                smile[i] += (sx * 0.03 * mw, -0.04 * mw)
            img, pts = landmark_warp(base, lm2, smile, local=True), smile
        if params["glasses"]:
            img = draw_glasses(img.copy(), pts, tuple(params["glasses_colour"]))
        sprites[name], lms[name] = np.ascontiguousarray(img), pts
    return Subject(subject_id, source.name, params, sprites, lms, skin, relief_map(person, lm2))


def make_subjects(
    n: int,
    seed: int = 0,
    sources: list[SourcePortrait] | None = None,
    indices: list[int] | None = None,
) -> list[Subject]:
    """Derive synthetic subjects deterministically from ``seed``.

    Args:
        n: total number of subjects (their ids are ``s000`` ... ``s{n-1}``).
        seed: master seed; subject ``i`` draws from ``SeedSequence([seed, 1_000_003, i])``.
        sources: source portraits; the two shipped ones by default.
        indices: build only these subject indices (workers build what they need).
    """
    srcs = list(sources) if sources is not None else list(builtin_sources())
    out = []
    for i in range(n) if indices is None else indices:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1_000_003, i]))
        params = draw_params(i, len(srcs), rng)
        out.append(derive_subject(srcs[i % len(srcs)], f"s{i:03d}", params))
    return out


def subject_thumbnails(subjects: list[Subject], size: int = 64) -> np.ndarray:
    """Aligned face thumbnails ``(N, size, size, 3)`` (scale-1.3 crop of the aligner's box)."""
    out = np.empty((len(subjects), size, size, 3), np.uint8)
    for i, s in enumerate(subjects):
        m = similarity_transform(dlib68_to_paper5(s.landmarks["open"]), TEMPLATE_PAPER5)
        spr = s.sprites["open"]
        a = spr[..., 3:4].astype(np.float32) / 255
        rgb = (spr[..., :3] * a + 128 * (1 - a)).astype(np.uint8)
        out[i] = cv2.warpAffine(rgb, crop_matrix(m, 1.3, 1.0, size), (size, size))
    return out


def distinctness(subjects: list[Subject], size: int = 64) -> np.ndarray:
    """Pairwise mean absolute difference (grey levels) between aligned thumbnails, ``(N, N)``."""
    t = subject_thumbnails(subjects, size).reshape(len(subjects), -1).astype(np.float32)
    return np.abs(t[:, None] - t[None]).mean(-1)
