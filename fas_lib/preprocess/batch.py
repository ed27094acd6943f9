"""Align the faces of many images and videos, in parallel, and account for everything skipped.

:func:`process_media` runs :class:`~fas_lib.preprocess.align.FaceAligner` on the chosen frames of
one file and never raises for bad media: a missing, unreadable or empty file and every frame without
a face is *counted* under one of :data:`SKIP_REASONS`. :func:`align_batch` does that for a list of
files on a process pool (one aligner per worker, created once in the pool's initializer) and
returns the results in the order of the paths, with a :class:`~fas_lib.data.protocol.SkipLog`
and a one-line report::

    >>> result = align_batch(paths, n_frames=4, workers=2)
    >>> print(result.report())
    10 files, 8 read; 2 files skipped: 1 missing_file, 1 empty_video; 32 frames seen, 29 aligned;
    3 frames with no face

Nothing is dropped silently: ``len(items) + skips.counts["no_face"] == n_frames_seen`` and every
path is either read (at least one frame decoded) or counted once under a file-level reason.

The pool is :func:`fas_lib.core.parallel.pool_map`'s (``spawn`` workers, safe with OpenCV's and
dlib's threads); a script that calls :func:`align_batch` with ``workers > 1`` needs the usual
``if __name__ == "__main__":`` guard (without it the pool breaks and the remaining files are
processed in this process, with a warning). Each worker holds one aligner (created by
:func:`init_worker`, fetched by jobs with :func:`worker_aligner`), runs OpenCV single-threaded
and starts with ``OMP_NUM_THREADS=1`` (and the BLAS equivalents), so ``workers`` processes use
``workers`` cores.
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from fas_lib import CROP_SIZE, SCALES
from fas_lib.core.parallel import pool_map
from fas_lib.data.io import BAD_FRAME, MEDIA_REASONS, MediaError, iter_frames, sample_indices
from fas_lib.data.protocol import SkipLog
from fas_lib.preprocess.align import AlignResult, FaceAligner
from fas_lib.preprocess.geometry import dlib68_to_dlib5

#: Why a file or a frame produced no crops: the file-level reasons of
#: :class:`~fas_lib.data.io.MediaError`, ``"no_face"`` for a decoded frame with no face found and
#: ``"unreadable_frame"`` (:data:`fas_lib.data.io.BAD_FRAME`) for a frame that did not decode.
SKIP_REASONS: tuple[str, ...] = (*MEDIA_REASONS, "no_face", BAD_FRAME)

Box = Sequence[float]


@dataclass
class FrameItem:
    """The aligned crops of one frame.

    Attributes:
        path: the media file.
        frame_idx: frame index in the video (0 for an image).
        crops: ``(S, crop_size, crop_size, 3)`` uint8 RGB crops, one per scale.
        landmarks: ``(5, 2)`` float32 points in dlib's 5-point order (frame pixels).
        box: ``(4,)`` float32 face box ``[x0, y0, x1, y1]`` (detected or given).
        pad_fraction: ``(S,)`` float32 share of each crop that lies outside the frame.
        matrix: ``(2, 3)`` frame -> unit face box alignment the crops were cut with (the depth
            and NIR crops of the cache are cut with it too).
        frame_size: ``(height, width)`` of the frame.
    """

    path: str
    frame_idx: int
    crops: np.ndarray
    landmarks: np.ndarray
    box: np.ndarray
    pad_fraction: np.ndarray
    matrix: np.ndarray | None = None
    frame_size: tuple[int, int] | None = None


@dataclass
class BatchResult:
    """What :func:`align_batch` returns.

    Attributes:
        items: aligned frames, in the order of the paths and, within a file, of the frames.
        skips: every skipped file (``(path, reason)``), every frame with no face
            (``("path#frame_idx", "no_face")``) and every frame that did not decode
            (``(path, "unreadable_frame")``), with counts per reason.
        n_frames_seen: frames decoded (aligned ones plus the ones with no face).
        n_files: number of paths given.
    """

    items: list[FrameItem]
    skips: SkipLog
    n_frames_seen: int
    n_files: int = 0
    files_read: int = field(default=0)

    def report(self) -> str:
        """One line: files read and skipped per reason, frames seen, aligned and without face."""
        counts = self.skips.counts
        file_skips = [(r, counts[r]) for r in MEDIA_REASONS if counts.get(r)]
        n_file_skips = sum(k for _, k in file_skips)
        parts = [f"{self.n_files} files, {self.files_read} read"]
        if n_file_skips:
            detail = ", ".join(f"{k} {r}" for r, k in file_skips)
            parts.append(f"{n_file_skips} file{'s' if n_file_skips != 1 else ''} skipped: {detail}")
        else:
            parts.append("no file skipped")
        parts.append(f"{self.n_frames_seen} frames seen, {len(self.items)} aligned")
        n_no_face = counts.get("no_face", 0)
        parts.append(f"{n_no_face} frame{'s' if n_no_face != 1 else ''} with no face")
        if counts.get(BAD_FRAME):
            parts.append(f"{counts[BAD_FRAME]} frame(s) that did not decode")
        return "; ".join(parts)

    def check(self) -> None:
        """Raise ``AssertionError`` unless the counts add up (every frame and file counted)."""
        n_no_face = self.skips.counts.get("no_face", 0)
        if len(self.items) + n_no_face != self.n_frames_seen:
            raise AssertionError(
                f"{len(self.items)} items + {n_no_face} no-face frames != "
                f"{self.n_frames_seen} frames seen"
            )
        n_file_skips = sum(self.skips.counts.get(r, 0) for r in MEDIA_REASONS)
        if self.files_read + n_file_skips != self.n_files:
            raise AssertionError(
                f"{self.files_read} files read + {n_file_skips} skipped != {self.n_files} files"
            )


def _item(path: str, idx: int, res: AlignResult, frame_size: tuple[int, int]) -> FrameItem:
    lms = np.asarray(res.landmarks, dtype=np.float64)
    if len(lms) == 68:
        lms = dlib68_to_dlib5(lms)
    return FrameItem(
        path=path,
        frame_idx=int(idx),
        crops=res.crops,
        landmarks=lms.astype(np.float32),
        box=np.asarray(res.box, dtype=np.float32),
        pad_fraction=np.asarray(res.pad_fraction, dtype=np.float32),
        matrix=np.asarray(res.matrix, dtype=np.float64),
        frame_size=(int(frame_size[0]), int(frame_size[1])),
    )


def _process(
    path: str | os.PathLike,
    aligner: FaceAligner,
    every: int | None,
    n_frames: int | None,
    boxes: Mapping[int, Box | None] | None,
    precropped: bool = False,
) -> tuple[list[FrameItem], collections.Counter, list[int], int, bool]:
    """:func:`process_media` plus the no-face frame indices, frames seen and whether it was read."""
    path = str(path)
    items: list[FrameItem] = []
    counts: collections.Counter = collections.Counter()
    no_face: list[int] = []
    seen = 0

    def bad_frame(idx: int, exc: MediaError) -> None:
        counts[BAD_FRAME] += 1

    try:
        for idx, frame in iter_frames(path, every=every, n_frames=n_frames,
                                      on_bad_frame=bad_frame):
            seen += 1
            res = None
            if precropped:
                res = aligner.align_whole(frame)
            elif boxes is not None and idx in boxes:
                if boxes[idx] is not None:
                    res = aligner.align(frame, box=boxes[idx])
            else:
                res = aligner.align(frame)
            if res is None:
                counts["no_face"] += 1
                no_face.append(int(idx))
            else:
                items.append(_item(path, idx, res, frame.shape[:2]))
    except MediaError as exc:
        counts[exc.reason] += 1
    return items, counts, no_face, seen, seen > 0


def process_media(
    path: str | os.PathLike,
    aligner: FaceAligner,
    every: int | None = None,
    n_frames: int | None = None,
    boxes: Mapping[int, Box | None] | None = None,
    precropped: bool = False,
) -> tuple[list[FrameItem], collections.Counter]:
    """Align the chosen frames of one image or video; count what could not be used.

    Args:
        path: an image or video file, or a frame folder (:func:`fas_lib.data.io.frame_files`).
        aligner: a :class:`~fas_lib.preprocess.align.FaceAligner`.
        every: every ``every``-th frame (see :func:`fas_lib.data.io.sample_indices`).
        n_frames: that many evenly spaced frames.
        boxes: face boxes ``(left, top, right, bottom)`` by frame index (a face-location file):
            a box is used instead of the detector, ``None`` means "no face in this frame"
            (counted as ``no_face``); frames missing from the mapping fall back to the detector.
        precropped: every frame already is a face crop (CASIA-SURF): no detector, the whole
            frame is the face box (:meth:`~fas_lib.preprocess.align.FaceAligner.align_whole`).

    Returns:
        The aligned frames, and counts per reason of :data:`SKIP_REASONS` (one
        ``missing_file`` / ``unreadable_file`` / ``empty_video`` / ``empty_folder`` for a bad
        file, one ``no_face`` per frame without a face, one ``unreadable_frame`` per frame that
        did not decode). Bad media never raise.

    Raises:
        ValueError: ``every`` or ``n_frames`` below 1 (a programming error, not bad media).
    """
    items, counts, _, _, _ = _process(path, aligner, every, n_frames, boxes, precropped)
    return items, counts


def process_media_frames(
    path: str | os.PathLike,
    aligner: FaceAligner,
    every: int | None = None,
    n_frames: int | None = None,
    boxes: Mapping[int, Box | None] | None = None,
    precropped: bool = False,
) -> tuple[list[FrameItem], collections.Counter, list[int]]:
    """:func:`process_media` plus the indices of the sampled frames that had no face.

    The crop cache records them (:mod:`fas_lib.cache.shards`) so that a clip of a video
    (:mod:`fas_lib.cache.clips`) knows which time slots are missing.

    Returns:
        The aligned frames, the skip counts, and the no-face frame indices in decoding order.
    """
    items, counts, no_face, _, _ = _process(path, aligner, every, n_frames, boxes, precropped)
    return items, counts, no_face


# ---------------------------------------------------------------------------------- workers

_WORKER: dict[str, FaceAligner] = {}


def aligner_kwargs(aligner: FaceAligner) -> dict[str, Any]:
    """Constructor arguments of a :class:`~fas_lib.preprocess.align.FaceAligner`, to rebuild it in a worker."""
    return {
        "scales": tuple(aligner.scales),
        "crop_size": int(aligner.crop_size),
        "landmarks": aligner.landmarks_kind,
        "upsample": int(aligner.upsample),
        "detector": aligner.detector_kind,
        "pad_mode": aligner.pad_mode,
    }


def init_worker(kwargs: dict[str, Any]) -> None:
    """Pool initializer: single-threaded OpenCV and one aligner (``FaceAligner(**kwargs)``) for
    this process; jobs get it with :func:`worker_aligner`."""
    cv2.setNumThreads(1)
    _WORKER["aligner"] = FaceAligner(**kwargs)


def worker_aligner() -> FaceAligner:
    """The aligner :func:`init_worker` created in this worker process (``KeyError`` outside)."""
    return _WORKER["aligner"]


def _run(job: tuple[str, int | None, int | None, Mapping[int, Box | None] | None]) -> tuple:
    path, every, n_frames, boxes = job
    return _process(path, worker_aligner(), every, n_frames, boxes)


@contextlib.contextmanager
def in_process_aligner(
    kwargs: dict[str, Any], run: Callable[[Any, FaceAligner], Any],
) -> Iterator[Callable[[Any], Any]]:
    """For :func:`fas_lib.core.parallel.pool_map`'s ``in_process``: ``run(job, aligner)`` with one
    aligner built here from ``kwargs`` (this process's OpenCV threads left as they are)."""
    aligner = FaceAligner(**kwargs)
    yield lambda job: run(job, aligner)


def align_batch(
    paths: Sequence[str | os.PathLike],
    scales: Sequence[float] = SCALES,
    crop_size: int = CROP_SIZE,
    every: int | None = None,
    n_frames: int | None = None,
    workers: int = 1,
    progress: bool = True,
    boxes: Sequence[Mapping[int, Box | None] | None] | None = None,
    landmarks: str = "5",
) -> BatchResult:
    """Align the faces of many images and videos.

    Args:
        paths: image and video files.
        scales: crop scales (default :data:`fas_lib.SCALES`).
        crop_size: crop side in pixels.
        every: every ``every``-th frame of each video.
        n_frames: that many evenly spaced frames of each video.
        workers: processes; 1 runs in this process.
        progress: show a tqdm progress bar (one step per file).
        boxes: optional face-location boxes per path (see :func:`process_media`).
        landmarks: ``"5"`` or ``"68"`` (see :class:`~fas_lib.preprocess.align.FaceAligner`).

    Returns:
        The aligned frames in path order, the skip log and the counts.

    Raises:
        ValueError: wrong ``workers``, ``every``, ``n_frames`` or a ``boxes`` list of another
            length than ``paths``. Bad media never raise; they are counted.
    """
    paths = [str(p) for p in paths]
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    sample_indices(0, every, n_frames)  # validate before starting anything
    if boxes is not None and len(boxes) != len(paths):
        raise ValueError(f"boxes has {len(boxes)} entries for {len(paths)} paths")
    jobs = [
        (p, every, n_frames, boxes[i] if boxes is not None else None) for i, p in enumerate(paths)
    ]
    kwargs = {"scales": tuple(float(s) for s in scales), "crop_size": int(crop_size),
              "landmarks": landmarks}
    results: list[tuple | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="align", unit="file", disable=not progress)
    try:
        with contextlib.closing(pool_map(
            _run, jobs, workers, initializer=init_worker, initargs=(kwargs,),
            in_process=lambda: in_process_aligner(kwargs, _run_with),
            what="alignment", entry="align_batch",
        )) as finished:
            for i, res in finished:
                results[i] = res
                bar.update(1)
    finally:
        bar.close()
    return _collect(paths, results)


def _run_with(job: tuple, aligner: FaceAligner) -> tuple:
    """:func:`_run` with a given aligner (in this process)."""
    return _process(job[0], aligner, *job[1:])


def _collect(paths: list[str], results: list[tuple | None]) -> BatchResult:
    items: list[FrameItem] = []
    skips = SkipLog()
    seen = files_read = 0
    for path, res in zip(paths, results, strict=True):
        assert res is not None
        file_items, counts, no_face, n_seen, read = res
        items.extend(file_items)
        seen += n_seen
        files_read += bool(read)
        for reason in (*MEDIA_REASONS, BAD_FRAME):
            for _ in range(counts.get(reason, 0)):
                skips.add(path, reason)
        for idx in no_face:
            skips.add(f"{path}#{idx}", "no_face")
    result = BatchResult(items, skips, seen, n_files=len(paths), files_read=files_read)
    result.check()
    return result
