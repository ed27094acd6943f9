"""Face detection, 5 landmarks, similarity alignment and the multi-scale crops of MS-FANS.

The paper (Sec. IV-A) detects the face, finds five points (eye centres, nose tip, mouth
corners), aligns the face to a canonical one and cuts 128 x 128 crops at scales
0.9, 1.0, ..., 1.5 from the aligned frame.

This module holds dlib's models (:func:`load_detector`, :func:`load_shape_predictor`) and
:class:`FaceAligner`, which runs them. The geometry (which of dlib's points stand for the
paper's, the alignment templates, the similarity fit and the crop matrices) is in
:mod:`fas_lib.preprocess.geometry`.

Speed: the HOG detector runs on the grey frame (it is about a third faster than on RGB and finds
the same boxes: on 324 frames of a 6-subject SynthSpoof, 316 detected on grey vs 314 on RGB,
median box difference 0 px);
the landmarks are predicted on the RGB frame, and each crop is one ``warpAffine`` of the
original frame with the composed matrix (no full-frame warp). ``align(rgb, box=...)`` skips the
detector and uses a given face box (a dataset's face-location file, or SynthSpoof's ground truth).
``align_whole(image)`` takes an image that already is a face crop (CASIA-SURF) as the face box.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from fas_lib.preprocess.geometry import (
    TEMPLATE_5,
    TEMPLATE_PAPER5,
    check_box,
    crop_matrix,
    dlib5_to_alignment_points,
    dlib68_to_paper5,
    padded_fraction,
    similarity_transform,
)


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
        self, rgb: np.ndarray, matrix: np.ndarray, interpolation: int = cv2.INTER_LINEAR
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cut the crops at every scale from the frame with one warp per scale.

        Cutting from the aligned frame and resizing equals one affine warp from the original
        frame with the composed matrix; composing saves a full-frame warp and a resampling.

        Args:
            rgb: the ``(H, W, 3)`` uint8 frame, or an ``(H, W)`` uint8 one-channel image on the
                same pixel grid (the depth and NIR crops of the cache,
                :mod:`fas_lib.cache.modalities`, are cut with the RGB frame's matrix).
            matrix: ``(2, 3)`` frame -> unit face box (:meth:`alignment_matrix`).
            interpolation: OpenCV flag (``cv2.INTER_LINEAR`` for RGB; ``cv2.INTER_NEAREST``
                keeps a depth map's holes as holes).

        Returns:
            ``(n_scales, crop_size, crop_size[, 3])`` uint8 crops and the ``(n_scales,)``
            share of each crop outside the frame.
        """
        h, w = rgb.shape[:2]
        n = self.crop_size
        crops = np.empty((len(self.scales), n, n, *rgb.shape[2:]), dtype=np.uint8)
        pads = np.empty(len(self.scales), dtype=np.float32)
        border = self._BORDER[self.pad_mode]
        for i, s in enumerate(self.scales):
            m = crop_matrix(matrix, s, 1.0, n)
            cv2.warpAffine(
                rgb, m, (n, n), dst=crops[i], flags=interpolation, borderMode=border,
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
            return self.align_box(rgb, check_box(box), 1)
        boxes = self.detect(rgb)
        if not boxes:
            return None
        return self.align_box(rgb, boxes[0], len(boxes))

    def align_all(self, rgb: np.ndarray, max_faces: int | None = None) -> list[AlignResult]:
        """Every detected face of a frame, largest first (``[]`` when there is none).

        Each face goes through :meth:`align_box`, the same steps :meth:`align` (and so the crop
        cache) runs on the largest one: the first result equals ``align(rgb)``.

        Args:
            rgb: an RGB frame (grey and RGBA are converted, see :func:`ensure_rgb_uint8`).
            max_faces: keep at most this many faces (``None``: all).
        """
        rgb = ensure_rgb_uint8(rgb)
        boxes = self.detect(rgb)[:max_faces]
        n_faces = len(boxes)
        return [self.align_box(rgb, b, n_faces) for b in boxes]

    def align_whole(self, rgb: np.ndarray) -> AlignResult:
        """The crops of an image that already is a face crop (CASIA-SURF's pre-cropped faces):
        no detector and no landmarks; the whole image is taken as the aligned face box.

        The matrix maps the image onto the unit face box (``[[1/W, 0, 0], [0, 1/H, 0]]``, so a
        non-square image is stretched to a square), the scale-1.0 crop is the whole image
        resized, a scale above 1 adds padding around it and one below 1 zooms in. ``box`` is
        the whole image ``(0, 0, W, H)``; ``landmarks`` are ``(5, 2)`` NaN (none predicted).

        Args:
            rgb: the image (grey and RGBA are converted, see :func:`ensure_rgb_uint8`).
        """
        rgb = ensure_rgb_uint8(rgb)
        h, w = rgb.shape[:2]
        m = whole_image_matrix(w, h)
        crops, pads = self.crops_from_matrix(rgb, m)
        box = np.array([0.0, 0.0, float(w), float(h)])
        return AlignResult(box, np.full((5, 2), np.nan), m, crops, pads, 1)

    def align_box(self, rgb: np.ndarray, box: np.ndarray, n_faces: int = 1) -> AlignResult:
        """Landmarks, alignment and crops of the face in ``box`` (an RGB uint8 frame): the one
        function that cuts the crops of the cache (:meth:`align`) and of ``fas predict``."""
        lms = self.predict_landmarks(rgb, box)
        m = self.alignment_matrix(lms)
        crops, pads = self.crops_from_matrix(rgb, m)
        return AlignResult(box, lms, m, crops, pads, n_faces)


def whole_image_matrix(width: int, height: int) -> np.ndarray:
    """``(2, 3)`` matrix mapping a ``width`` x ``height`` image onto the unit face box (the
    alignment of :meth:`FaceAligner.align_whole`)."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    return np.array([[1.0 / width, 0.0, 0.0], [0.0, 1.0 / height, 0.0]])


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
