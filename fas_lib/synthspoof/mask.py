"""The opt-in worn attacks: a mask of the subject's face (rigid, partial or flexible) or a
paper mask, worn by an attacker.

``mask``: a rigid mask moulded on the subject's face (so its depth is face-shaped, only
smoother) and painted (so its colour is flat and too uniform, with the material's own sheen
and grain). It covers the face from the jaw to above the brows, with a visible edge, and has
two eye holes through which the wearer's eyes show and blink; the mask itself never changes
expression. Its NIR reflectance is the material's (:attr:`~.factors.MaskMaterial.nir`), not
skin's.

``mask_partial``: the same rigid mask cut to the upper face (brows to below the nose) or to
the lower face (below the eyes to the jaw), one or the other per video (:func:`cut_cover`);
the rest is the wearer's own skin in every sensor (relief, NIR, and the smile where the mouth
is free). Partial attacks cover part of the face only: SiW-M's half masks and partial paper
attacks (Liu et al., "Deep tree learning for zero-shot face anti-spoofing", CVPR 2019), and
WMCA's glasses, which cover the eyes only (George et al., IEEE TIFS 2020).

``mask_flexible``: a thin latex or silicone mask (:data:`~.factors.FLEX_MASKS`) that follows
the face closely (little smoothing, 2-3 relief levels proud), keeps the wearer's expression,
reaches past the jaw with a thin, blended edge, and scatters part of the NIR light under its
surface as skin does (:attr:`~.factors.MaskMaterial.scatter`). WMCA's "flexible masks"
(silicone; George et al., IEEE TIFS 2020). That silicone scatters part of the NIR light
under its surface is this course's modelling choice (how far masks and skin differ beyond
visible light is studied by Bhattacharjee & Marcel, BIOSIG 2017; not a number taken from it).

``mask_paper``: a photo of the subject printed on paper (printers ``p1``-``p3``), cut out along
the face with eye holes, bent round the face and folded along the nose, resting on the nose and
the cheekbones (:func:`paper_sheet`): a face-like surface in depth at a lower relief, the NIR
of paper darkened by the ink's carbon (:attr:`~.factors.Printer.nir_ink`), the print's
halftone at the strength the camera resolves. WMCA's "paper masks"; iBeta-style "printed photos
with holes for eyes".

The wearer is drawn with the subject's own head (hair, ears, neck): only the mask differs, so
that RGB alone must find the mask from its texture, edge and rigidity. The result is an
ordinary :class:`~.subjects.Subject` (with ``nir`` set), rendered by the live-video code path
with the wearer's head motion (:func:`worn_subject`).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from .camera import residual_modulation
from .factors import MaskMaterial, Printer, by_name
from .media import IOD_MM, paper_grain, print_process
from .sensors import NIR_IOD_REF, RELIEF_SLOPE
from .subjects import VARIANTS, Subject

#: The worn attack types (rendered by the live-video code path).
WORN_ATTACKS: tuple[str, ...] = ("mask", "mask_partial", "mask_flexible", "mask_paper")
#: The two halves a partial mask covers.
PARTS: tuple[str, ...] = ("upper", "lower")
#: A paper mask's bend: its sheet at the face's sides lies this many relief levels behind its
#: middle (uniform range); and its fold along the nose (levels at the sides).
PAPER_BEND: tuple[float, float] = (20.0, 45.0)
PAPER_FOLD: tuple[float, float] = (0.0, 12.0)
#: NIR gloss (grey levels) per unit of a printer's paper gloss.
PAPER_GLOSS: float = 60.0


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


def cut_cover(region: np.ndarray, lm68: np.ndarray, iod: float, part: str) -> np.ndarray:
    """A partial mask's outline: ``region`` (uint8, 255 in) above or below a cut.

    ``"upper"``: down to 0.4 of the way from the nose's base (landmark 33) to the upper lip
    (51), the edge rising by 0.2 inter-ocular distances towards the jaw's ends; ``"lower"``:
    from the middle of the nose's bridge (29) down, the edge falling by 0.1 towards the sides
    (below the eyes).

    Raises:
        ValueError: ``part`` is not one of :data:`PARTS`.
    """
    h, w = region.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    half = max(1.0, 0.5 * float(lm68[16, 0] - lm68[0, 0]))
    u2 = ((xx - float(lm68[27:31, 0].mean())) / half) ** 2
    if part == "upper":
        keep = yy < lm68[33, 1] + 0.4 * (lm68[51, 1] - lm68[33, 1]) - 0.2 * iod * u2
    elif part == "lower":
        keep = yy > lm68[29, 1] + 0.1 * iod * u2
    else:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return np.where(keep, region, 0).astype(np.uint8)


def _wear(subject: Subject, painted: dict[str, np.ndarray], cover: np.ndarray,
          region: np.ndarray, holes: np.ndarray, rim_gain: float,
          expressive: bool) -> tuple[dict, dict]:
    """Every sprite variant of ``subject`` wearing ``painted`` (colours per source variant,
    ``"open"`` at least) on ``cover``: the variant's eyes in the holes (shadowed), the edge of
    ``region`` darkened by ``rim_gain``. A rigid mask (not ``expressive``) drops the smile and
    keeps the open face's landmarks but the eyes; an expressive one keeps the variant's."""
    lm = subject.landmarks["open"]
    rim = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    c = cv2.GaussianBlur(cover.astype(np.float32) / 255, (0, 0), 0.8)[..., None]
    sprites, landmarks = {}, {}
    for v in VARIANTS:
        src = v if expressive or v != "smile" else "open"
        spr = subject.sprites[src].copy()
        paint_v = painted.get(src, painted["open"])
        mixed = paint_v * c + spr[..., :3].astype(np.float32) * (1 - c)
        mixed[holes > 0] *= 0.7  # the wearer's eyes, in the holes' shadow
        mixed[rim] *= rim_gain  # the mask's edge
        spr[..., :3] = np.clip(mixed, 0, 255).astype(np.uint8)
        sprites[v] = spr
        if expressive:
            landmarks[v] = subject.landmarks[v].copy()
        else:
            landmarks[v] = lm.copy()
            landmarks[v][36:48] = subject.landmarks[src][36:48]
    return sprites, landmarks


def _outline(subject: Subject, part: str | None,
             flexible: bool) -> tuple[np.ndarray, np.ndarray]:
    """A mask's region and eye holes (uint8, 255 in): :func:`face_cover`, cut to ``part``;
    a flexible mask reaches 0.25 inter-ocular distances further (within the head) and its eye
    holes are 0.1 tighter."""
    lm, iod = subject.landmarks["open"], subject.iod
    region, holes = face_cover(lm, subject.relief.shape, iod)
    if part is not None:
        region = cut_cover(region, lm, iod, part)
        holes = cv2.bitwise_and(holes, region)
    if flexible:
        k = max(3, int(0.5 * iod) | 1)
        grown = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        region = np.where(subject.sprites["open"][..., 3] > 0, grown, 0).astype(np.uint8)
        k = max(3, int(0.2 * iod) | 1)
        holes = cv2.erode(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return region, holes


def mask_subject(subject: Subject, material: MaskMaterial, rng: np.random.Generator,
                 part: str | None = None, flexible: bool = False) -> Subject:
    """The subject wearing a painted mask of its own face (see the module docstring).

    Every sprite variant shows the mask as moulded on the open-eye face, with the variant's
    own eyes (blinks) in the holes; a rigid mask drops the smile, a flexible one (and the
    wearer's free mouth under an upper ``part``) keeps it. The relief is the face's relief
    blurred by ``material.smooth`` inter-ocular distances, ``material.thickness`` levels proud
    of it, and in the holes 25 levels deeper (a flexible mask: the wearer's own eyes, just
    behind it); ``skin`` under the mask is the material's ``scatter`` (0 for resin); ``nir``
    holds the material's NIR reflectance (the share not scattered, with grain) under the mask,
    0 elsewhere.

    Args:
        subject: the impersonated subject.
        material: the mask's material (:data:`~.factors.MASKS`, :data:`~.factors.FLEX_MASKS`).
        rng: generator (paint grain).
        part: ``None`` (the whole face) or one of :data:`PARTS` (:func:`cut_cover`).
        flexible: thin, expressive, reaching past the jaw (:func:`_outline`).

    Returns:
        A new subject; ``subject`` is not modified.
    """
    iod = subject.iod
    region, holes = _outline(subject, part, flexible)
    cover = cv2.subtract(region, holes)
    rel = subject.relief.astype(np.float32)
    moulded = cv2.GaussianBlur(rel, (0, 0), material.smooth * iod) + material.thickness
    inner = rel - 1.0 if flexible else moulded - 25.0
    relief = np.where(region > 0, np.where(holes > 0, inner, moulded), rel)
    sources = ("open", "smile") if flexible else ("open",)
    painted = {v: paint(subject.sprites[v][..., :3], relief, cover, material, rng, iod)
               for v in sources}
    sprites, landmarks = _wear(subject, painted, cover, region, holes,
                               0.9 if flexible else 0.6, flexible or part == "upper")
    grain = rng.normal(0, material.grain, cover.shape)
    reflect = material.nir * (1.0 - material.scatter)
    nir = np.where(cover > 0, np.clip(reflect + grain, 1, 255), 0).astype(np.uint8)
    person = subject.sprites["open"][..., 3] > 0
    return dataclasses.replace(
        subject, sprites=sprites, landmarks=landmarks, nir=nir,
        relief=np.clip(relief * person, 0, 255).astype(np.uint8),
        skin=np.where(cover > 0, round(255 * material.scatter), subject.skin).astype(np.uint8),
    )


def paper_sheet(relief: np.ndarray, region: np.ndarray, lm68: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """The relief of a paper mask (float32 relief levels): a sheet bent round the face and
    folded along the nose, ``top - bend u^2 - fold |u|`` with ``u`` the horizontal distance
    from the nose over half the face's width (a function of ``u`` alone, as a bent and folded
    sheet of paper is: it cannot stretch), ``top`` the face's relief at its nose (97th
    percentile of ``region``), ``bend`` and ``fold`` drawn from :data:`PAPER_BEND` and
    :data:`PAPER_FOLD`; the sheet rests on the face (never below its relief + 2)."""
    h, w = relief.shape
    half = max(1.0, 0.5 * float(lm68[16, 0] - lm68[0, 0]))
    u = np.abs(np.arange(w, dtype=np.float32) - float(lm68[27:31, 0].mean())) / half
    inside = region > 0
    top = float(np.percentile(relief[inside], 97)) if inside.any() else float(relief.max())
    bend, fold = rng.uniform(*PAPER_BEND), rng.uniform(*PAPER_FOLD)
    sheet = np.broadcast_to((top - bend * u**2 - fold * u)[None, :], (h, w))
    return np.maximum(sheet, relief + 2.0).astype(np.float32)


def paper_mask(subject: Subject, printer: Printer, rng: np.random.Generator,
               residual: float = 1.0) -> Subject:
    """The subject wearing a paper mask: its open-eye photo printed by ``printer``
    (:func:`~.media.print_process` with the halftone's ``residual``, paper grain), cut out
    along :func:`face_cover` with eye holes, on :func:`paper_sheet`'s relief, shaded by the
    room's light over the sheet; ``nir`` the paper's reflectance less the ink's carbon share;
    rigid (no smile; the eyes blink in the holes). ``subject`` is not modified."""
    lm, iod = subject.landmarks["open"], subject.iod
    region, holes = face_cover(lm, subject.relief.shape, iod)
    cover = cv2.subtract(region, holes)
    rel = subject.relief.astype(np.float32)
    relief = np.where(region > 0, np.where(holes > 0, rel, paper_sheet(rel, region, lm, rng)),
                      rel)
    paper = np.asarray(printer.paper, np.float64)
    printed = print_process(np.ascontiguousarray(subject.sprites["open"][..., :3]), rng, paper,
                            printer, residual)
    h, w = cover.shape
    paper_grain(printed, (0, 0, w, h), rng, printer.grain, 2.6 * iod)
    n = _normals(relief, RELIEF_SLOPE * iod / NIR_IOD_REF)
    light = np.array([-0.4, -0.5, 1.0], np.float32) / np.linalg.norm([-0.4, -0.5, 1.0])
    shade = 0.75 + 0.3 * np.clip(n @ light, 0, 1)
    colours = printed.astype(np.float32) * shade[..., None]
    grey = cv2.cvtColor(printed, cv2.COLOR_RGB2GRAY).astype(np.float32)
    white = float(paper.mean())
    reflect = 0.9 * white - printer.nir_ink * np.clip(white - grey, 0, 255)
    nir = np.where(cover > 0, np.clip(reflect, 1, 255), 0).astype(np.uint8)
    sprites, landmarks = _wear(subject, {"open": colours}, cover, region, holes, 0.85, False)
    person = subject.sprites["open"][..., 3] > 0
    return dataclasses.replace(
        subject, sprites=sprites, landmarks=landmarks, nir=nir,
        relief=np.clip(relief * person, 0, 255).astype(np.uint8),
        skin=np.where(cover > 0, 0, subject.skin).astype(np.uint8),
    )


def worn_subject(attack_type: str, instrument: str, camera: str, subject: Subject,
                 rng: np.random.Generator, f_iod: float) -> tuple[Subject, float]:
    """The subject as the attacker of a worn attack (:data:`WORN_ATTACKS`) wears it, and the
    worn surface's NIR gloss (grey levels).

    Args:
        attack_type: one of :data:`WORN_ATTACKS`.
        instrument: its mask (``m*``, ``f*``) or printer (``p*``, ``mask_paper``).
        camera: the video's camera (how much of a paper mask's halftone it resolves).
        subject: the impersonated subject.
        rng: the video's generator (a partial mask's half, paint grain, the paper's bend).
        f_iod: a typical inter-ocular distance of the face in the frame, pixels.

    Raises:
        ValueError: ``attack_type`` is not a worn attack.
    """
    level = by_name(instrument)
    if attack_type == "mask_paper":
        cam = by_name(camera)
        period = 25.4 / level.lpi * f_iod / IOD_MM  # a life-size print's halftone period
        residual = residual_modulation(period, cam.optics.blur, cam.alias)
        return paper_mask(subject, level, rng, residual), PAPER_GLOSS * level.gloss
    if attack_type not in WORN_ATTACKS:
        raise ValueError(f"{attack_type!r} is not a worn attack; worn: {WORN_ATTACKS}")
    part = PARTS[int(rng.integers(2))] if attack_type == "mask_partial" else None
    return (mask_subject(subject, level, rng, part, attack_type == "mask_flexible"),
            level.gloss)
