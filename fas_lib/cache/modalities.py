"""Depth and near-infrared crops of the crop cache, cut with the RGB frame's own alignment.

``build_cache(..., modalities=("depth", "nir"))`` (``fas prepare --modalities depth nir``) adds,
for every cached frame and scale, a depth and a NIR crop to the RGB crop. Each is one
``warpAffine`` of the modality frame with the *same* matrix as the RGB crop
(:meth:`fas_lib.preprocess.align.FaceAligner.crops_from_matrix`, the matrix kept in
:class:`fas_lib.preprocess.batch.FrameItem`), so a pixel of the RGB frame and the same pixel of its
depth and NIR frames land on the same crop pixel at every scale. Interpolation
(:data:`INTERPOLATION`): **nearest** for depth, so that a hole (0, no measurement) stays a hole
and no depth is invented between a surface and a hole or between two surfaces at an edge;
**bilinear** for NIR, an intensity image like RGB. What leaves the frame is padded as the RGB
crop is (the aligner's ``pad_mode``; with the default, 0: no depth, no light).

Where the frames come from (the protocol table's ``depth_path`` / ``ir_path``, relative to the
dataset root; :data:`COLUMNS`):

* a video (:func:`fas_lib.data.io.is_video`) or a frame folder
  (:func:`fas_lib.data.io.frame_files`): frame ``t`` of the RGB video is frame ``t`` of the modality
  video (frame-aligned; the generic CSV's extra columns);
* an image of ``k * H`` rows and ``W`` columns for ``H x W`` RGB frames: ``k`` frames stacked
  vertically, frame ``t`` is rows ``t*H ... (t+1)*H`` (SynthSpoof's PNG stacks,
  :meth:`fas_lib.synthspoof.reader.SynthSpoofReader.read_modality`); ``k = 1`` is a single
  image (an RGB image, or a one-frame video);
* pre-cropped datasets (CASIA-SURF): the RGB, depth and IR images are face crops cut
  separately and share no pixel grid, so no detector runs: each image, whatever its size, is
  taken as the aligned face box (:meth:`fas_lib.preprocess.align.FaceAligner.align_whole`, the
  matrix of :func:`fas_lib.preprocess.align.whole_image_matrix`): the scale-1.0 crop is the whole
  image resized, other scales zoom in or pad around it; boxes are the whole RGB image, landmarks
  NaN.

Colour modality images are converted to grey and 16-bit ones scaled to 8 bits
(:func:`fas_lib.data.io.read_image`). A video whose depth or NIR file cannot be used raises
:class:`ModalityError`; the builder counts it (reason ``modality_missing`` or
``modality_unreadable``, all the video's frames left out) and reports it with the other skips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from fas_lib.data.io import MediaError, is_video, iter_frames, read_image
from fas_lib.preprocess.align import FaceAligner, whole_image_matrix
from fas_lib.preprocess.batch import FrameItem

#: The modalities a cache can hold, in array order.
MODALITIES: tuple[str, ...] = ("depth", "nir")
#: modality -> protocol-table column naming its file.
COLUMNS: dict[str, str] = {"depth": "depth_path", "nir": "ir_path"}
#: modality -> OpenCV interpolation of its crops (nearest keeps depth holes as holes).
INTERPOLATION: dict[str, int] = {"depth": cv2.INTER_NEAREST, "nir": cv2.INTER_LINEAR}
#: The skip reasons of a video whose modality file cannot be used.
REASONS: tuple[str, ...] = ("modality_missing", "modality_unreadable")

Size = tuple[int, int]


class ModalityError(ValueError):
    """A depth or NIR file that cannot be used for a video.

    Attributes:
        reason: ``"modality_missing"`` (no file listed, or no such file) or
            ``"modality_unreadable"`` (corrupt, of another size than the RGB frames, or with
            fewer frames than the RGB video).
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}, got {reason!r}")
        super().__init__(message)
        self.reason = reason


def check_modalities(modalities: Iterable[str]) -> tuple[str, ...]:
    """The modalities asked for, checked, in :data:`MODALITIES` order (``()`` for none).

    Raises:
        ValueError: an unknown or repeated name (a bare string is refused too).
    """
    if isinstance(modalities, str):
        raise ValueError(f"modalities must be a list of names, got the string {modalities!r}")
    names = [str(m).strip().lower() for m in modalities]
    bad = [m for m in names if m not in MODALITIES]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"modalities must be distinct names of {MODALITIES}, got {names}")
    return tuple(m for m in MODALITIES if m in names)


def _grey(img: np.ndarray) -> np.ndarray:
    """An RGB uint8 image as one grey channel (equal channels stay exactly as they are)."""
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))


def _video_frames(path: str, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """Grey frames ``indices`` of a video, decoded in order up to the last one asked for."""
    wanted, last = set(indices), max(indices)
    out: dict[int, np.ndarray] = {}
    for idx, frame in iter_frames(path):
        if idx in wanted:
            out[idx] = _grey(frame)
        if idx >= last:
            break
    return out


def _stack_frames(img: np.ndarray, indices: Sequence[int], height: int) -> dict[int, np.ndarray]:
    """Frames ``indices`` of a vertical stack of frames ``height`` rows high."""
    k = img.shape[0] // height
    return {t: img[t * height:(t + 1) * height] for t in indices if 0 <= t < k}


def read_modality_frames(path: str, indices: Sequence[int],
                         frame_size: Size | None) -> dict[int, np.ndarray]:
    """Frames ``indices`` of a depth or NIR file, ``(H, W)`` uint8 each (see module docstring).

    Args:
        path: the file (absolute), a video, a frame folder or an image (a vertical stack when
            ``frame_size`` says so); ``""`` when the table row lists none.
        indices: frame indices of the RGB video (0 for an image).
        frame_size: ``(H, W)`` of the RGB frames the modality must match; ``None`` for
            pre-cropped datasets (any size; an image is one frame).

    Returns:
        frame index -> grey frame, one entry per index.

    Raises:
        ModalityError: no file, a corrupt one, one of another size than the RGB frames, or
            fewer frames than asked for.
    """
    if not path:
        raise ModalityError("modality_missing", "the protocol table lists no file")
    try:
        if is_video(path) or Path(path).is_dir():
            frames = _video_frames(path, indices)
        else:
            img = _grey(read_image(path))
            height = img.shape[0] if frame_size is None else frame_size[0]
            if frame_size is not None and (img.shape[1] != frame_size[1] or img.shape[0] % height):
                raise ModalityError("modality_unreadable", (
                    f"{path} is {img.shape[1]} x {img.shape[0]} pixels: not one or a vertical "
                    f"stack of {frame_size[1]} x {frame_size[0]} frames like its RGB video"))
            frames = _stack_frames(img, indices, height)
    except MediaError as exc:
        reason = "modality_missing" if exc.reason == "missing_file" else "modality_unreadable"
        raise ModalityError(reason, str(exc)) from None
    lacking = [t for t in indices if t not in frames]
    if lacking:
        raise ModalityError("modality_unreadable",
                            f"{path} has no frame {lacking[0]} (its RGB video has)")
    shapes = {f.shape for f in frames.values()}
    if frame_size is not None and shapes != {tuple(frame_size)}:
        raise ModalityError("modality_unreadable",
                            f"{path} has frames of {sorted(shapes)}, the RGB video {frame_size}")
    return frames


def modality_crops(aligner: FaceAligner, items: Sequence[FrameItem], paths: Mapping[str, str],
                   precropped: bool = False) -> dict[str, np.ndarray]:
    """The depth / NIR crops of a video's aligned frames, cut with each frame's RGB matrix.

    Args:
        aligner: the aligner that cut the RGB crops (its scales, crop size and padding).
        items: the video's aligned frames (:func:`fas_lib.preprocess.batch.process_media`), in
            array order.
        paths: modality -> its file (absolute; ``""`` when the row lists none).
        precropped: the dataset's images are face crops (CASIA-SURF): each modality image is
            cut with its own whole-image matrix instead of the RGB frame's.

    Returns:
        modality -> ``(len(items), S, crop_size, crop_size)`` uint8.

    Raises:
        ModalityError: a file cannot be used (see :func:`read_modality_frames`).
    """
    n_s, c = len(aligner.scales), aligner.crop_size
    out: dict[str, np.ndarray] = {}
    for mod, path in paths.items():
        arr = np.zeros((len(items), n_s, c, c), np.uint8)
        if items:
            size = None if precropped else items[0].frame_size
            frames = read_modality_frames(path, [it.frame_idx for it in items], size)
            for k, it in enumerate(items):
                img = frames[it.frame_idx]
                m = whole_image_matrix(img.shape[1], img.shape[0]) if precropped else it.matrix
                arr[k] = aligner.crops_from_matrix(img, m, INTERPOLATION[mod])[0]
        out[mod] = arr
    return out
