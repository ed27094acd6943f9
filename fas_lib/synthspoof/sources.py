"""Source portraits: the shipped astronaut and Grace Hopper photos and the user's own photos.

Each portrait is annotated ONCE with dlib's 68-point predictor, resampled so that the eyes are
:data:`~fas_lib.synthspoof.subjects.SPRITE_IOD` pixels apart, and segmented (GrabCut inside a
head-and-shoulders prior) into person, skin, hair and clothes masks used to derive subjects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from fas_lib.core.utils import atomic_path, data_dir
from fas_lib.preprocess.align import load_detector, load_shape_predictor

from .config import GENERATOR_VERSION
from .gt import BOX_RULE, face_box

#: Inter-ocular distance (eye centres) of every sprite, in sprite pixels.
SPRITE_IOD: float = 80.0
#: Sprite extent around the face box centre, in face boxes: left/right, above, below.
SPRITE_HALF_W, SPRITE_ABOVE, SPRITE_BELOW = 2.4, 1.45, 2.6
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class SourcePortrait:
    """An annotated portrait resampled to sprite space (IOD = :data:`SPRITE_IOD`).

    Attributes:
        name: where it came from (``"astronaut"``, ``"grace_hopper"`` or a file name).
        rgb: ``(H, W, 3)`` uint8 image (edges replicated where the photo ended).
        lm68: ``(68, 2)`` dlib landmarks in sprite pixels.
        person: ``(H, W)`` uint8 alpha of the person (head, hair, shoulders).
        skin, hair, clothes: ``(H, W)`` uint8 soft region masks used for recolouring.
    """

    name: str
    rgb: np.ndarray
    lm68: np.ndarray
    person: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    clothes: np.ndarray


def annotate(rgb: np.ndarray) -> np.ndarray | None:
    """The 68 landmarks of the most confident face (dlib, upsample 1), or ``None``."""
    import dlib  # optional and slow to import: only when a portrait is annotated

    dets, scores, _ = load_detector().run(np.ascontiguousarray(rgb), 1, 0)
    if len(dets) == 0:
        return None
    best = dets[int(np.argmax(scores))]
    shape = load_shape_predictor("68")(
        rgb, dlib.rectangle(best.left(), best.top(), best.right(), best.bottom())
    )
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def portrait_files() -> dict[str, Path]:
    """The two public-domain portraits the course ships with its dependencies (SynthSpoof's
    sources, and the photos ``fas predict`` is tried on): scikit-image's ``astronaut.png`` and
    matplotlib's ``grace_hopper.jpg``."""
    import matplotlib
    import skimage.data

    return {"astronaut": Path(skimage.data.__file__).parent / "astronaut.png",
            "grace_hopper": Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"}


def _builtin_images() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    grace = cv2.imread(str(portrait_files()["grace_hopper"]))
    return [
        ("astronaut", data.astronaut()),
        ("grace_hopper", cv2.cvtColor(grace, cv2.COLOR_BGR2RGB)),
    ]


@lru_cache(maxsize=1)
def builtin_sources() -> tuple[SourcePortrait, ...]:
    """The two shipped portraits, annotated and segmented.

    Cached per process and on disk (``data_dir()/synthspoof/_sources``, keyed by the generator
    version and the image bytes), since loading dlib's 68-point model and GrabCut take seconds.
    """
    out = []
    for name, rgb in _builtin_images():
        cached = _load_cached_source(name, rgb)
        if cached is None:
            lm = annotate(rgb)
            if lm is None:  # pragma: no cover - the shipped portraits always have a face
                raise RuntimeError(f"dlib found no face in the shipped portrait {name}")
            cached = prepare_source(rgb, lm, name)
            _save_cached_source(cached, rgb)
        out.append(cached)
    return tuple(out)


def _source_cache_path(name: str, rgb: np.ndarray) -> Path:
    h = hashlib.sha1(np.ascontiguousarray(rgb).tobytes())
    h.update(
        repr(
            (sorted(BOX_RULE.items()), SPRITE_IOD, SPRITE_HALF_W, SPRITE_ABOVE, SPRITE_BELOW)
        ).encode()
    )
    digest = h.hexdigest()[:12]
    return data_dir() / "synthspoof" / "_sources" / f"{name}-{GENERATOR_VERSION}-{digest}.npz"


_SOURCE_FIELDS = ("rgb", "lm68", "person", "skin", "hair", "clothes")


def _load_cached_source(name: str, rgb: np.ndarray) -> SourcePortrait | None:
    path = _source_cache_path(name, rgb)
    try:
        with np.load(path, allow_pickle=False) as z:
            return SourcePortrait(name, *(z[k] for k in _SOURCE_FIELDS))
    except (OSError, KeyError, ValueError):
        return None


def _save_cached_source(src: SourcePortrait, rgb: np.ndarray) -> None:
    path = _source_cache_path(src.name, rgb)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{k: getattr(src, k) for k in _SOURCE_FIELDS})
    except OSError:  # a read-only cache folder only costs time
        pass


def user_sources(folder: str | Path | None) -> tuple[list[SourcePortrait], list[dict]]:
    """Annotate the user's own photos; never raises on a bad file.

    Returns:
        ``(sources, skipped)`` where ``skipped`` lists ``{"file", "reason"}`` for images that
        could not be read or in which dlib found no face.
    """
    if not folder:
        return [], []
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return [], [{"file": str(folder), "reason": "folder not found"}]
    sources, skipped = [], []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append({"file": path.name, "reason": "not an image file (suffix)"})
            continue
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None or bgr.size == 0:
            skipped.append({"file": path.name, "reason": "unreadable or corrupt image"})
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        k = 800.0 / max(rgb.shape[:2])
        if k < 1:
            rgb = cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        lm = annotate(rgb)
        if lm is None:
            skipped.append({"file": path.name, "reason": "no face found by dlib"})
            continue
        sources.append(prepare_source(rgb, lm, path.name))
    return sources, skipped


def subject_sources(users: list[SourcePortrait]) -> list[SourcePortrait]:
    """The portraits subjects are drawn from, in the order subject indices refer to: the
    built-in ones, then ``users`` (from :func:`user_sources`)."""
    return list(builtin_sources()) + list(users)


def _head_prior(shape: tuple[int, int], cx: float, cy: float, b: float) -> np.ndarray:
    """Head-ellipse + neck + shoulders prior mask (uint8 0/1) around a face box centre."""
    h, w = shape
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (int(cx), int(cy - 0.22 * b)), (int(0.82 * b), int(1.08 * b)), 0, 0, 360, 1, -1)
    cv2.rectangle(
        m, (int(cx - 0.38 * b), int(cy + 0.2 * b)), (int(cx + 0.38 * b), int(cy + 1.1 * b)), 1, -1
    )
    pts = np.array(
        [
            [cx - 0.6 * b, cy + 0.75 * b],
            [cx + 0.6 * b, cy + 0.75 * b],
            [cx + 2.2 * b, cy + 1.35 * b],
            [cx + 2.4 * b, h],
            [cx - 2.4 * b, h],
            [cx - 2.2 * b, cy + 1.35 * b],
        ],
        np.int32,
    )
    cv2.fillPoly(m, [pts], 1)
    return m


def prepare_source(rgb: np.ndarray, lm68: np.ndarray, name: str) -> SourcePortrait:
    """Resample a portrait to sprite space and segment person, skin, hair and clothes."""
    img, lm, b, (cx, cy) = _to_sprite_space(rgb, lm68)
    h, w = img.shape[:2]
    prior = _head_prior((h, w), cx, cy, b)
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(lm.astype(np.int32)), 1)
    person = _segment_person(img, prior, hull, b)
    skin, hair, clothes = _skin_hair_clothes(img, lm, person, hull, b, cx, cy)

    def soft(mask: np.ndarray, sigma: float) -> np.ndarray:
        return cv2.GaussianBlur(mask.astype(np.uint8) * 255, (0, 0), sigma)

    return SourcePortrait(
        name, img, lm, soft(person, 1.2), soft(skin, 2.0), soft(hair, 2.0), soft(clothes, 2.0)
    )


def _to_sprite_space(
    rgb: np.ndarray, lm68: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float, tuple[float, float]]:
    """The portrait resampled so the eyes are :data:`SPRITE_IOD` apart, its landmarks there,
    the face box side ``b`` and the box centre ``(cx, cy)`` in sprite pixels."""
    iod = np.linalg.norm(lm68[36:42].mean(0) - lm68[42:48].mean(0))
    s = SPRITE_IOD / iod
    box = face_box(lm68)
    b = (box[2] - box[0]) * s
    w, h = round(2 * SPRITE_HALF_W * b), round((SPRITE_ABOVE + SPRITE_BELOW) * b)
    cx, cy = SPRITE_HALF_W * b, SPRITE_ABOVE * b
    bc = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    m = np.array([[s, 0, cx - s * bc[0]], [0, s, cy - s * bc[1]]])
    img = cv2.warpAffine(
        rgb,
        m,
        (w, h),
        flags=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    lm = lm68 @ m[:, :2].T + m[:, 2]
    return img, lm, b, (cx, cy)


def _segment_person(img: np.ndarray, prior: np.ndarray, hull: np.ndarray, b: float) -> np.ndarray:
    """The person mask: GrabCut at half resolution inside the head-and-shoulders prior."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    gc = np.where(
        cv2.resize(prior, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST) > 0,
        cv2.GC_PR_FGD,
        cv2.GC_PR_BGD,
    ).astype(np.uint8)
    gc[cv2.resize(hull, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST) > 0] = cv2.GC_FGD
    far = cv2.dilate(prior, np.ones((int(0.3 * b) | 1, int(0.3 * b) | 1), np.uint8)) == 0
    gc[cv2.resize(far.astype(np.uint8), (w // 2, h // 2), interpolation=cv2.INTER_NEAREST) > 0] = (
        cv2.GC_BGD
    )
    bgm, fgm = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(
        cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgm, fgm, 3, cv2.GC_INIT_WITH_MASK
    )
    fg = cv2.resize(
        np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8),
        (w, h),
        interpolation=cv2.INTER_NEAREST,
    )
    person = ((fg & prior) | hull).astype(np.uint8)
    k = int(0.08 * b) | 1
    person = cv2.morphologyEx(person, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    return _fill_holes_largest(person)


def _skin_hair_clothes(
    img: np.ndarray, lm: np.ndarray, person: np.ndarray, hull: np.ndarray, b: float, cx: float,
    cy: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skin (YCrCb rule) in the head and neck; hair above the mouth; clothes below the neck."""
    h, w = img.shape[:2]
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
    skin_rule = (ycc[..., 1] > 135) & (ycc[..., 1] < 178) & (ycc[..., 2] > 80) & (ycc[..., 2] < 130)
    head = np.zeros((h, w), np.uint8)
    cv2.ellipse(
        head, (int(cx), int(cy - 0.22 * b)), (int(0.82 * b), int(1.08 * b)), 0, 0, 360, 1, -1
    )
    neck = np.zeros((h, w), np.uint8)
    cv2.rectangle(
        neck,
        (int(cx - 0.38 * b), int(cy + 0.2 * b)),
        (int(cx + 0.38 * b), int(cy + 1.0 * b)),
        1,
        -1,
    )
    skin = (skin_rule & ((head | neck) > 0) & (person > 0)) | (hull > 0)
    skin = cv2.morphologyEx(skin.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    rows = np.arange(h)[:, None]
    hair = (person > 0) & (head > 0) & (skin == 0) & (rows < lm[51, 1])
    clothes = (person > 0) & (head == 0) & (skin == 0) & (rows > lm[8, 1] + 0.1 * b)
    return skin, hair, clothes


def _fill_holes_largest(mask: np.ndarray) -> np.ndarray:
    """Keep the largest connected component of a 0/1 mask and fill its holes."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask
    keep = (lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    contours, _ = cv2.findContours(keep, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(keep)
    cv2.drawContours(out, contours, -1, 1, -1)
    return out
