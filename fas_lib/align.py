"""Face detection, 5 landmarks, similarity alignment and the multi-scale crops of MS-FANS.

The paper (Sec. IV-A) detects the face, finds five points (eye centres, nose tip, mouth
corners), aligns the face to a canonical one and cuts 128 x 128 crops at scales
0.9, 1.0, ..., 1.5 from the aligned frame.

dlib's 5-point model gives different points: the two corners of each eye and the base of the
nose (subnasale). In image coordinates, for a frontal face, they are ordered

====  ==========================================================
0     outer corner of the eye on the image's right (subject's left eye)
1     inner corner of that eye
2     outer corner of the eye on the image's left (subject's right eye)
3     inner corner of that eye
4     base of the nose (dlib 68-point index 33)
====  ==========================================================

We turn them into the paper's kind of points as follows: each eye centre is the mean of its two
corners (the paper's eye centres), and the nose base stands in for the nose tip; dlib's 5-point
model has no mouth corners. With ``landmarks="68"`` the paper's five points are taken literally
from the 68-point model (eye centres = mean of the six eye points, nose tip = 30, mouth corners =
48 and 54). Either way a least-squares similarity transform (rotation, uniform scale,
translation) maps the points to a fixed template, so the aligned face is upright (eyes level)
and centred in the scale-1.0 crop.

Why the template makes the face upright and centred: both eye centres sit at the same height in
the template (``y = 0.33``), so the fitted rotation turns the eye line horizontal (head roll is
removed); the eyes are symmetric about ``x = 0.5`` and the nose point lies on that axis, so the
face's midline is the crop's vertical centre line; and the fixed eye distance (0.36 of the
crop side; 0.376 in the 68-point template, whose nose and mouth points also weigh in) fixes the
scale, so every face has the same size in the crop whatever its distance to the camera. The two
templates are matched so that a crop scale means the same face size in both modes (within 2 %
on the course's portraits; see :data:`TEMPLATE_PAPER5`). A similarity has four degrees of freedom and three (or five) points over-determine
it, so a single badly placed point cannot distort the face (no shear, no anisotropic scaling).
The paper's mouth corners only add two more points to that least-squares fit.

Speed: the HOG detector runs on the grey frame (it is about a third faster than on RGB and finds
the same boxes: on 324 frames of a 6-subject SynthSpoof, 316 detected on grey vs 314 on RGB,
median box difference 0 px);
the landmarks are predicted on the RGB frame, and each crop is one ``warpAffine`` of the
original frame with the composed matrix (no full-frame warp). ``align(rgb, box=...)`` skips the
detector and uses a given face box (a dataset's face-location file, or SynthSpoof's ground truth).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path


class ModelFilesNotFound(FileNotFoundError):
    """dlib's predictor files could not be found."""


def models_dir() -> Path:
    """Folder of the ``face-recognition-models`` package's ``models/`` (dlib predictor files).

    The package's ``__init__`` imports the removed ``pkg_resources``, so it is located with
    :func:`importlib.util.find_spec` and never imported.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesNotFound(
            "the package 'face-recognition-models' is not installed; it ships dlib's shape "
            "predictors. Install the project (pip install -e .) or run 'make test' once."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not folder.is_dir():
        raise ModelFilesNotFound(f"expected dlib model files in {folder}, which does not exist")
    return folder


@lru_cache(maxsize=4)
def load_shape_predictor(points: str = "5"):
    """Load dlib's 5-point or 68-point shape predictor (cached per process).

    Args:
        points: ``"5"`` or ``"68"``.
    """
    import dlib

    names = {
        "5": "shape_predictor_5_face_landmarks.dat",
        "68": "shape_predictor_68_face_landmarks.dat",
    }
    if points not in names:
        raise ValueError(f"points must be '5' or '68', got {points!r}")
    path = models_dir() / names[points]
    if not path.is_file():
        raise ModelFilesNotFound(f"dlib predictor file missing: {path}")
    return dlib.shape_predictor(str(path))


@lru_cache(maxsize=1)
def load_detector():
    """dlib's frontal (HOG + linear SVM) face detector, cached per process."""
    import dlib

    return dlib.get_frontal_face_detector()


# ----------------------------------------------------------------------------------------------
# Template and geometry
# ----------------------------------------------------------------------------------------------

import dataclasses  # noqa: E402  (kept below the loaders so the module reads top-down)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

#: Canonical positions, in units of the scale-1.0 crop (the aligned face box, [0, 1]^2), of the
#: points used for alignment with ``landmarks="5"``: image-left eye centre, image-right eye
#: centre, nose base. Chosen from dlib's detections on the two shipped portraits (eye distance
#: about 0.44 of dlib's box, nose base 0.74 eye-distances below the eyes), scaled so that
#: dlib's detection box (about 0.82 of the crop) lies inside the scale-1.0 crop, centred.
TEMPLATE_5 = np.array([[0.32, 0.33], [0.68, 0.33], [0.50, 0.596]], dtype=np.float64)

#: Canonical positions for ``landmarks="68"``: the paper's five points — image-left eye centre,
#: image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner. They are
#: where the 5-point alignment puts those points on the two shipped portraits (mean of
#: ``skimage.data.astronaut()`` and matplotlib's ``grace_hopper.jpg``, made left-right
#: symmetric), so that a crop scale gives the same face size in both modes: the similarity
#: scales of the two fits agree within 2 % on both portraits (a first template with the
#: 5-point eye distance 0.36 and the mouth at 0.65 made the 68-point face 3.5 % and 5.6 %
#: smaller). The 68-point eye distance is 0.376 because the mouth and nose pull the fit.
TEMPLATE_PAPER5 = np.array(
    [[0.312, 0.33], [0.688, 0.33], [0.50, 0.53], [0.325, 0.668], [0.675, 0.668]],
    dtype=np.float64,
)


def dlib5_to_alignment_points(pts5: np.ndarray) -> np.ndarray:
    """dlib's 5 points (see module docstring) -> [left eye centre, right eye centre, nose base]."""
    pts5 = np.asarray(pts5, dtype=np.float64)
    return np.stack([(pts5[2] + pts5[3]) / 2, (pts5[0] + pts5[1]) / 2, pts5[4]])


def dlib68_to_paper5(pts68: np.ndarray) -> np.ndarray:
    """dlib's 68 points -> the paper's 5 (eye centres, nose tip, mouth corners), left first."""
    pts68 = np.asarray(pts68, dtype=np.float64)
    return np.stack(
        [pts68[36:42].mean(0), pts68[42:48].mean(0), pts68[30], pts68[48], pts68[54]]
    )


def dlib68_to_dlib5(pts68: np.ndarray) -> np.ndarray:
    """dlib's 68 points -> dlib's 5-point convention (for ground truth and comparisons)."""
    pts68 = np.asarray(pts68, dtype=np.float64)
    return pts68[[45, 42, 36, 39, 33]]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping ``src`` points onto ``dst``.

    Args:
        src: ``(K, 2)`` points, K >= 2.
        dst: ``(K, 2)`` target points.

    Returns:
        ``(2, 3)`` affine matrix ``M`` with ``dst ~= M[:, :2] @ src + M[:, 2]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / var_s
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def crop_matrix(align_m: np.ndarray, scale: float, face_px: float, crop_size: int) -> np.ndarray:
    """Compose frame -> unit face box (``align_m``) with unit box -> crop pixels at ``scale``.

    The crop at scale ``s`` is the square of side ``s`` (in face-box units) centred on the box
    centre (0.5, 0.5), resampled to ``crop_size`` pixels.
    """
    k = crop_size / (scale * face_px)
    off = crop_size / 2 - k * face_px * 0.5
    m = align_m * (k * face_px)
    m[:, 2] += off
    return m


def _invert_affine(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def padded_fraction(m: np.ndarray, crop_size: int, frame_w: int, frame_h: int) -> float:
    """Share of a crop's area that falls outside the source frame (and so is padding).

    Args:
        m: ``(2, 3)`` frame -> crop matrix.
        crop_size: crop side in pixels.
        frame_w: frame width.
        frame_h: frame height.
    """
    inv = _invert_affine(m)
    c = float(crop_size)
    corners = np.array([[0, 0], [c, 0], [c, c], [0, c]], dtype=np.float64)
    quad = corners @ inv[:, :2].T + inv[:, 2]
    if (quad >= 0).all() and (quad[:, 0] <= frame_w).all() and (quad[:, 1] <= frame_h).all():
        return 0.0  # fully inside (exactly 0, not float32 round-off of the intersection)
    frame = np.array([[0, 0], [frame_w, 0], [frame_w, frame_h], [0, frame_h]], dtype=np.float32)
    area_quad = abs(cv2.contourArea(quad.astype(np.float32)))
    if area_quad <= 0:
        return 1.0
    inter, _ = cv2.intersectConvexConvex(quad.astype(np.float32), frame)
    return float(np.clip(1.0 - inter / area_quad, 0.0, 1.0))


# ----------------------------------------------------------------------------------------------
# The aligner
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class AlignResult:
    """What :meth:`FaceAligner.align` returns for one face.

    Attributes:
        box: detector box ``(left, top, right, bottom)`` in frame pixels.
        landmarks: the predictor's points in frame pixels, ``(5, 2)`` or ``(68, 2)``.
        matrix: ``(2, 3)`` frame -> unit face box (the scale-1.0 crop is ``[0, 1]^2``).
        crops: ``(n_scales, crop_size, crop_size, 3)`` uint8 RGB crops.
        pad_fraction: ``(n_scales,)`` share of each crop that lies outside the frame.
        n_faces: how many faces the detector found (the largest is used).
    """

    box: np.ndarray
    landmarks: np.ndarray
    matrix: np.ndarray
    crops: np.ndarray
    pad_fraction: np.ndarray
    n_faces: int


class FaceAligner:
    """Detect -> landmarks -> similarity alignment -> crops at several scales.

    Args:
        scales: crop scales relative to the aligned face box (paper: 0.9 ... 1.5; any positive
            scale works, e.g. 2.7 or 4.0: what leaves the frame is padded, ``pad_mode``).
        crop_size: crop side in pixels (paper: 128).
        landmarks: ``"5"`` (dlib 5-point, fast, default) or ``"68"`` (the paper's five points).
        upsample: times dlib upsamples the frame before detecting (0 finds faces >= ~80 px).
        detector: ``"hog"`` (dlib's frontal detector) or ``"cnn"`` (dlib's MMOD CNN; slow on CPU).
        pad_mode: ``"constant"`` (black, default), ``"replicate"`` or ``"reflect"``.

    Example:
        >>> aligner = FaceAligner()
        >>> result = aligner.align(rgb_frame)   # None when no face is found
    """

    _BORDER = {
        "constant": cv2.BORDER_CONSTANT,
        "replicate": cv2.BORDER_REPLICATE,
        "reflect": cv2.BORDER_REFLECT_101,
    }

    def __init__(
        self,
        scales: tuple[float, ...] = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5),
        crop_size: int = 128,
        landmarks: str = "5",
        upsample: int = 0,
        detector: str = "hog",
        pad_mode: str = "constant",
    ) -> None:
        if not scales or any(not np.isfinite(s) or s <= 0 for s in scales):
            raise ValueError(f"scales must be positive numbers, got {scales!r}")
        if crop_size < 8:
            raise ValueError(f"crop_size must be at least 8 pixels, got {crop_size}")
        if landmarks not in ("5", "68"):
            raise ValueError(f"landmarks must be '5' or '68', got {landmarks!r}")
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        if pad_mode not in self._BORDER:
            raise ValueError(f"pad_mode must be one of {sorted(self._BORDER)}, got {pad_mode!r}")
        self.scales = tuple(float(s) for s in scales)
        self.crop_size = int(crop_size)
        self.landmarks_kind = landmarks
        self.upsample = int(upsample)
        self.detector_kind = detector
        self.pad_mode = pad_mode
        self._predictor = load_shape_predictor(landmarks)
        if detector == "hog":
            self._detector = load_detector()
        else:
            import dlib

            self._detector = dlib.cnn_face_detection_model_v1(
                str(models_dir() / "mmod_human_face_detector.dat")
            )

    # -- steps, public so that notebook 01 can show them one by one ---------------------------
    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """All face boxes ``(left, top, right, bottom)``, largest first.

        Args:
            rgb: an RGB, RGBA or grey frame (the HOG detector runs on its grey version).
        """
        img = np.asarray(rgb)
        if self.detector_kind == "hog" and img.ndim == 2 and img.dtype == np.uint8:
            return self._detect(np.ascontiguousarray(img))
        img = ensure_rgb_uint8(img)
        if self.detector_kind == "hog":
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        return self._detect(img)

    def _detect(self, img: np.ndarray) -> list[np.ndarray]:
        """Boxes from the detector on a prepared image (grey for HOG, RGB for the CNN)."""
        dets = self._detector(img, self.upsample)
        rects = [d.rect if hasattr(d, "rect") else d for d in dets]
        boxes = [
            np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float64) for r in rects
        ]
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return boxes

    def predict_landmarks(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The predictor's points inside ``box``, ``(5, 2)`` or ``(68, 2)`` float pixels."""
        import dlib

        rect = dlib.rectangle(*(int(round(v)) for v in box))
        shape = self._predictor(ensure_rgb_uint8(rgb), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def alignment_matrix(self, landmarks: np.ndarray) -> np.ndarray:
        """``(2, 3)`` similarity mapping the frame to unit face-box coordinates."""
        if self.landmarks_kind == "5":
            return similarity_transform(dlib5_to_alignment_points(landmarks), TEMPLATE_5)
        return similarity_transform(dlib68_to_paper5(landmarks), TEMPLATE_PAPER5)

    def crops_from_matrix(
        self, rgb: np.ndarray, matrix: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cut the crops at every scale from the frame with one warp per scale.

        Cutting from the aligned frame and resizing equals one affine warp from the original
        frame with the composed matrix; composing saves a full-frame warp and a resampling.
        """
        h, w = rgb.shape[:2]
        n = self.crop_size
        crops = np.empty((len(self.scales), n, n, 3), dtype=np.uint8)
        pads = np.empty(len(self.scales), dtype=np.float32)
        border = self._BORDER[self.pad_mode]
        for i, s in enumerate(self.scales):
            m = crop_matrix(matrix, s, 1.0, n)
            cv2.warpAffine(
                rgb, m, (n, n), dst=crops[i], flags=cv2.INTER_LINEAR, borderMode=border,
                borderValue=(0, 0, 0),
            )
            pads[i] = padded_fraction(m, n, w, h)
        return crops, pads

    def align(self, rgb: np.ndarray, box: np.ndarray | None = None) -> AlignResult | None:
        """Run every step on one frame; ``None`` when no face is detected.

        Args:
            rgb: an RGB frame (grey and RGBA are converted, see :func:`ensure_rgb_uint8`).
            box: a known face box ``(left, top, right, bottom)`` in frame pixels (e.g. from a
                dataset's face-location file); the detector is then not run, and the result's
                ``box`` is this box and ``n_faces`` is 1.

        Raises:
            ValueError: ``box`` is not four finite numbers with ``right > left`` and
                ``bottom > top``.
        """
        rgb = ensure_rgb_uint8(rgb)
        if box is not None:
            face = check_box(box)
            n_faces = 1
        else:
            boxes = self.detect(rgb)
            if not boxes:
                return None
            face, n_faces = boxes[0], len(boxes)
        lms = self.predict_landmarks(rgb, face)
        m = self.alignment_matrix(lms)
        crops, pads = self.crops_from_matrix(rgb, m)
        return AlignResult(face, lms, m, crops, pads, n_faces)


def check_box(box: np.ndarray | tuple | list) -> np.ndarray:
    """A face box ``(left, top, right, bottom)`` as a float64 array, validated.

    Raises:
        ValueError: not four finite numbers, or ``right <= left`` or ``bottom <= top``.
    """
    try:
        b = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            f"box must be four numbers (left, top, right, bottom), got {box!r}"
        ) from None
    if b.shape != (4,) or not np.isfinite(b).all():
        raise ValueError(f"box must be four finite numbers (left, top, right, bottom), got {box!r}")
    if b[2] <= b[0] or b[3] <= b[1]:
        raise ValueError(
            f"box must be (left, top, right, bottom) with right > left and bottom > top, got "
            f"{b.tolist()} (a face-location file's (x, y, w, h) must be converted first)"
        )
    return b


def ensure_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """Return an ``HxWx3`` uint8 RGB view/copy of a grey, RGB or RGBA image.

    Raises:
        ValueError: for anything that is not a 2-D or 3-D image with 1, 3 or 4 channels.
    """
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise ValueError(f"expected a grey, RGB or RGBA image, got an array of shape {img.shape}")
    if img.dtype != np.uint8:
        if img.dtype == np.uint16:
            img = (img >> 8).astype(np.uint8)
        elif np.issubdtype(img.dtype, np.floating):
            img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        else:
            img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def box_in_crop(matrix: np.ndarray, box: np.ndarray, scale: float, crop_size: int) -> np.ndarray:
    """Map a frame box ``(l, t, r, b)`` into the pixel coordinates of the crop at ``scale``.

    Returns the ``(4, 2)`` corners; used to check that the scale-1.0 crop contains the face box.
    """
    m = crop_matrix(matrix, scale, 1.0, crop_size)
    l, t, r, b = box
    pts = np.array([[l, t], [r, t], [r, b], [l, b]], dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]
