"""Read images and video frames as RGB uint8, with one clear error for every kind of bad file.

Everything here decodes with OpenCV and returns ``(H, W, 3)`` uint8 **RGB** arrays:

- grey images become three equal channels;
- RGBA (PNG, WebP, TIFF with alpha) is composited on a **white** background, so a cut-out
  portrait with a transparent background looks like a photo on white paper rather than on
  whatever colour the transparent pixels happen to hold;
- 16-bit images are scaled to 8 bits (``round(v * 255 / 65535)``), float images (EXR, HDR)
  are clipped to ``[0, 1]`` and scaled;
- JPEG files are decoded with their EXIF orientation applied (as a photo viewer shows them).

A **frame folder** (one folder of image frames per video, as many copies of Replay-Attack,
CASIA-FASD and OULU-NPU are released) is read like a video: its image files, in natural name
order (``frame_2`` before ``frame_10``, :func:`frame_files`), are frames 0, 1, 2, ... and the
same :func:`sample_indices` picks which of them to decode.

A file that cannot be used raises :class:`MediaError`, whose ``reason`` is one of
``"missing_file"`` (no such file), ``"unreadable_file"`` (not a decodable image or video:
corrupt, truncated, empty, not a media file), ``"empty_video"`` (a video or frame folder that
opens but yields no frame) or ``"empty_folder"`` (a frame folder without an image file); a
frame that does not decode goes to :func:`iter_frames`' ``on_bad_frame`` (:data:`BAD_FRAME`).
Batch code (:mod:`fas_lib.preprocess.batch`) counts these reasons instead of stopping.

Example:
    >>> for idx, frame in iter_frames("video.avi", n_frames=4):   # 4 evenly spaced frames
    ...     print(idx, frame.shape)
    >>> for idx, frame in iter_frames("frames/client001/", n_frames=4):  # a frame folder
    ...     print(idx, frame.shape)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

#: Extensions treated as videos by :func:`is_video` (lower case).
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".avi", ".mov", ".mp4", ".mkv", ".m4v", ".wmv", ".mpg", ".mpeg", ".webm"}
)

#: Extensions of the image files a frame folder is made of (lower case).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

#: The values of :attr:`MediaError.reason` (one per file: the file could not be used at all).
MEDIA_REASONS: tuple[str, ...] = ("missing_file", "unreadable_file", "empty_video",
                                  "empty_folder")

#: Why one frame of a video or frame folder is left out (it does not decode; the others stay).
BAD_FRAME: str = "unreadable_frame"
#: ``on_bad_frame(frame_index, error)``: told about every frame that could not be decoded.
BadFrameHook = Callable[[int, "MediaError"], None]

#: Frame rate :func:`video_fps` gives when a file has no usable one (an image, a bad header).
DEFAULT_FPS: float = 25.0

_JPEG_MAGIC = b"\xff\xd8\xff"


class MediaError(ValueError):
    """An image or video that cannot be used.

    Attributes:
        path: the file, as given.
        reason: one of :data:`MEDIA_REASONS`.
    """

    def __init__(self, path: str | os.PathLike, reason: str, message: str) -> None:
        if reason not in MEDIA_REASONS:
            raise ValueError(f"reason must be one of {MEDIA_REASONS}, got {reason!r}")
        super().__init__(message)
        self.path = str(path)
        self.reason = reason


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a video, by its extension (see :data:`VIDEO_EXTENSIONS`)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def video_fps(path: str | os.PathLike) -> float:
    """The frame rate in a video's header, or :data:`DEFAULT_FPS` (an image, a file that does
    not open, a rate outside 1-240)."""
    if not is_video(path):
        return DEFAULT_FPS
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    cap.release()
    return float(fps) if np.isfinite(fps) and 1.0 <= fps <= 240.0 else DEFAULT_FPS


def natural_key(name: str) -> list[str | int]:
    """Sort key that orders the numbers in a name by value: ``frame_2`` before ``frame_10``."""
    parts = re.split(r"(\d+)", name)
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(parts)]


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The frames of a frame folder (one video): its image files (:data:`IMAGE_EXTENSIONS`,
    hidden files left out) in natural name order (:func:`natural_key`), frame 0 first.

    Raises:
        MediaError: ``missing_file`` (no such folder), ``unreadable_file`` (cannot be listed),
            ``empty_folder`` (no image file; the message says what it holds instead).
    """
    folder = Path(folder)
    if not folder.exists():
        raise MediaError(folder, "missing_file", f"frame folder not found: {folder}")
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError as exc:
        raise MediaError(folder, "unreadable_file", f"could not list {folder}: {exc}") from None
    frames = [p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    if not frames:
        held = ("is empty" if not entries else f"holds {len(entries)} entries but no image "
                f"(e.g. {sorted(p.name for p in entries)[0]})")
        kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise MediaError(folder, "empty_folder",
                         f"expected a folder of image frames ({kinds}), but {folder} {held}")
    return sorted(frames, key=lambda p: natural_key(p.name))


def frame_count(path: str | os.PathLike) -> int:
    """Frames :func:`iter_frames` would choose from: a video's (its header's count, else
    counted by decoding), a frame folder's images, 1 for an image file.

    Raises:
        MediaError: the path is missing, a video that does not open, a folder without images.
    """
    path = Path(path)
    if path.is_dir():
        return len(frame_files(path))
    _check_exists(path)
    if not is_video(path):
        return 1
    cap = _open_video(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n if n > 0 else _count_frames(path)


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise MediaError(path, "missing_file", f"media file not found: {path}")
    if not path.is_file():
        raise MediaError(
            path, "unreadable_file", f"expected an image or video file, but {path} is a folder"
        )


def to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """Convert an OpenCV-decoded image (BGR / BGRA / grey, 8/16-bit or float) to RGB uint8.

    Args:
        img: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA array.

    Returns:
        ``(H, W, 3)`` uint8 RGB; alpha is composited on white.

    Raises:
        ValueError: the array is not an image of 1, 3 or 4 channels.
    """
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected a grey, BGR or BGRA image, got an array of shape {img.shape}")
    if img.dtype == np.uint8:
        full = 255.0
    elif img.dtype == np.uint16:
        full = 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        full = 1.0
        img = np.nan_to_num(np.clip(img, 0.0, 1.0))
    else:
        raise ValueError(f"unsupported image depth {img.dtype}")
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / full
        colour = img[:, :, :3].astype(np.float32) * (255.0 / full)
        out = np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    elif img.dtype == np.uint8:
        out = img
    else:
        out = np.rint(img.astype(np.float32) * (255.0 / full)).astype(np.uint8)
    if out.shape[2] == 1:
        return cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``.

    Args:
        path: any image format OpenCV decodes (JPEG, PNG, BMP, TIFF, WebP, ...).

    Returns:
        The image; grey, RGBA, 16-bit and float images are converted (see the module docstring).

    Raises:
        MediaError: ``missing_file`` when the path does not exist, ``unreadable_file`` when it
            is a folder, empty, or not a decodable image.
    """
    path = Path(path)
    _check_exists(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise MediaError(path, "unreadable_file", f"could not read {path}: {exc}") from None
    if data.size == 0:
        raise MediaError(
            path, "unreadable_file", f"expected an image, but {path} is empty (0 bytes)"
        )
    # JPEG has no alpha: decode to colour so that the EXIF orientation is applied; every other
    # format is decoded unchanged so that alpha and 16-bit depth survive.
    flags = cv2.IMREAD_COLOR if data[:3].tobytes() == _JPEG_MAGIC else cv2.IMREAD_UNCHANGED
    try:
        img = cv2.imdecode(data, flags)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise MediaError(
            path,
            "unreadable_file",
            f"expected an image OpenCV can decode (JPEG, PNG, BMP, TIFF, ...), but {path} "
            f"({data.size} bytes) is corrupt or not an image",
        )
    try:
        return to_rgb_uint8(img)
    except ValueError as exc:
        raise MediaError(path, "unreadable_file", f"{path}: {exc}") from None


def sample_indices(
    n_total: int, every: int | None = None, n_frames: int | None = None
) -> list[int]:
    """Which frame indices of a video of ``n_total`` frames to use.

    Args:
        n_total: number of frames in the video (>= 0).
        every: keep every ``every``-th frame (0, every, 2 * every, ...).
        n_frames: keep ``n_frames`` evenly spaced frames, first and last included (all
            frames when the video has fewer). With ``every`` too, they are chosen among the
            every-th frames.

    Returns:
        Sorted, distinct indices; all frames when both are ``None``.

    Raises:
        ValueError: ``n_total`` < 0, or ``every`` / ``n_frames`` < 1.
    """
    if n_total < 0:
        raise ValueError(f"n_total must be >= 0, got {n_total}")
    if every is not None and int(every) < 1:
        raise ValueError(f"every must be a positive number of frames, got {every}")
    if n_frames is not None and int(n_frames) < 1:
        raise ValueError(f"n_frames must be a positive number of frames, got {n_frames}")
    idx = list(range(0, n_total, int(every) if every is not None else 1))
    if n_frames is not None and len(idx) > int(n_frames):
        picks = np.rint(np.linspace(0, len(idx) - 1, int(n_frames))).astype(int)
        idx = [idx[p] for p in sorted(set(picks.tolist()))]
    return idx


def _open_video(path: Path) -> cv2.VideoCapture:
    try:
        cap = cv2.VideoCapture(str(path))
    except cv2.error:
        cap = None
    if cap is None or not cap.isOpened():
        raise MediaError(
            path,
            "unreadable_file",
            f"expected a video OpenCV can open (AVI, MOV, MP4, ...), but {path} "
            f"({path.stat().st_size} bytes) is truncated, corrupt or not a video",
        )
    return cap


def _count_frames(path: Path) -> int:
    """Frames in a video by grabbing them all (for containers whose header has no count)."""
    cap = _open_video(path)
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def _decode(
    cap: cv2.VideoCapture, keep: Callable[[int], bool], last: int | None, grabbed: list[int],
    path: Path, on_bad: BadFrameHook | None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Grab frames in order up to index ``last`` (to the end when ``None``) and yield
    ``(index, RGB frame)`` for those ``keep`` accepts that decode (``on_bad`` is told of those
    that do not); ``grabbed[0]`` counts the frames grabbed."""
    while (last is None or grabbed[0] <= last) and cap.grab():
        i = grabbed[0]
        grabbed[0] += 1
        if keep(i):
            ok, frame = cap.retrieve()
            if ok and frame is not None and frame.size:
                yield i, to_rgb_uint8(frame)
            elif on_bad is not None:
                on_bad(i, MediaError(path, "unreadable_file", f"frame {i} of {path} is corrupt"))


def _iter_video(
    path: Path, every: int | None, n_frames: int | None, on_bad_frame: BadFrameHook | None
) -> Iterator[tuple[int, np.ndarray]]:
    cap = _open_video(path)
    grabbed = [0]  # frames the stream delivered (updated by _decode)
    done: set[int] = set()
    try:
        wanted: set[int] | None = None
        if n_frames is not None:
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            if n <= 0:  # header without a count: count by grabbing
                n = _count_frames(path)
            wanted = set(sample_indices(n, every, n_frames))
        last = max(wanted) if wanted else None
        keep = ((lambda i: i in wanted) if wanted is not None
                else (lambda i: every is None or i % every == 0))
        for i, rgb in _decode(cap, keep, last, grabbed, path, on_bad_frame):
            done.add(i)
            yield i, rgb
    finally:
        cap.release()
    seen = grabbed[0]
    if wanted is not None and seen > 0 and any(i >= seen for i in wanted):
        # The header promised more frames than the stream holds: pick again from the true count.
        redo = [i for i in sample_indices(seen, every, n_frames) if i not in done]
        if redo:
            cap = _open_video(path)
            try:
                for i, rgb in _decode(cap, set(redo).__contains__, max(redo), [0], path,
                                      on_bad_frame):
                    done.add(i)
                    yield i, rgb
            finally:
                cap.release()
    if not done:
        raise MediaError(
            path,
            "empty_video",
            f"expected at least one decodable frame, but {path} opened and yielded none "
            f"({seen} frames in the stream)",
        )


def _iter_folder(
    folder: Path, every: int | None, n_frames: int | None, on_bad_frame: BadFrameHook | None
) -> Iterator[tuple[int, np.ndarray]]:
    """The frames of a frame folder, chosen by :func:`sample_indices` as a video's are."""
    files = frame_files(folder)
    picks = sample_indices(len(files), every, n_frames)
    done = 0
    for i in picks:
        try:
            rgb = read_image(files[i])
        except MediaError as exc:
            if on_bad_frame is None:
                raise MediaError(folder, "unreadable_file",
                                 f"frame {i} of the frame folder {folder}: {exc}") from None
            on_bad_frame(i, exc)
            continue
        done += 1
        yield i, rgb
    if not done:
        raise MediaError(folder, "empty_video",
                         f"expected at least one decodable frame, but none of the {len(picks)} "
                         f"frames picked of {folder} ({len(files)} images) decoded")


def iter_frames(
    path: str | os.PathLike, every: int | None = None, n_frames: int | None = None,
    on_bad_frame: BadFrameHook | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, rgb_frame)`` of a video or frame folder, or ``(0, image)`` of an
    image file.

    Frames are read in order; frames that are skipped are only grabbed (videos) or not read at
    all (frame folders). When a video's header promises more frames than it holds, the indices
    are chosen again from the true count (these few then come after the others).

    Args:
        path: a video (:func:`is_video`), a frame folder (:func:`frame_files`) or an image file.
        every: every ``every``-th frame (see :func:`sample_indices`).
        n_frames: that many evenly spaced frames (see :func:`sample_indices`).
        on_bad_frame: called as ``on_bad_frame(index, error)`` for a chosen frame that does not
            decode (it is left out, the others are kept). Without it such a frame of a frame
            folder raises ``MediaError`` (``unreadable_file``) when it is reached; one of a
            video is left out.

    Yields:
        Frame index (position in a frame folder) and the ``(H, W, 3)`` uint8 RGB frame.

    Raises:
        MediaError: ``missing_file``, ``unreadable_file`` (cannot be opened or decoded),
            ``empty_folder`` (a folder without an image) or ``empty_video`` (opens but no frame
            decodes; after the bad frames were reported).
        ValueError: ``every`` or ``n_frames`` below 1.
    """
    sample_indices(0, every, n_frames)  # validate the arguments before touching the file
    path = Path(path)
    if path.is_dir():
        yield from _iter_folder(path, every, n_frames, on_bad_frame)
        return
    _check_exists(path)
    if is_video(path):
        yield from _iter_video(path, every, n_frames, on_bad_frame)
    else:
        yield 0, read_image(path)
