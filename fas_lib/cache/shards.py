"""Crop cache, one video at a time: the jobs, the pool workers and the per-video shards.

:func:`fas_lib.cache.build.build_cache` plans one :class:`ShardJob` per video (decode the
sampled frames, align each with the face-location box when the dataset ships one, else dlib's
detector) and runs them with :func:`run_shard_jobs` on :func:`fas_lib.core.parallel.pool_map`'s
pool. Each finished video is written as a shard ``shards/<key>.npz`` through
:func:`fas_lib.core.utils.atomic_path`, so an interrupted build resumes by skipping finished shards,
and a half-written temporary file is never taken for a shard; :func:`load_shard` checks one
before it is used. With depth / NIR (:mod:`fas_lib.cache.modalities`) a shard also holds their
crops, cut with each frame's RGB alignment; a video whose modality file cannot be used keeps no
frame and is counted under its reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from fas_lib.cache.modalities import ModalityError, modality_crops
from fas_lib.core.parallel import pool_map
from fas_lib.core.utils import atomic_path
from fas_lib.data.datasets import read_face_locations
from fas_lib.preprocess import batch
from fas_lib.preprocess.align import FaceAligner
from fas_lib.preprocess.batch import FrameItem, process_media_frames

Box = tuple[float, float, float, float]


class BuildInterrupted(RuntimeError):
    """Raised by the ``_stop_after`` test hook of :func:`fas_lib.cache.build.build_cache`
    (finished shards stay)."""


@dataclass(frozen=True)
class ShardJob:
    """One video (or image) to process; picklable for the process pool."""

    key: str
    path: str  # absolute
    rel: str
    scales: tuple[float, ...]
    crop_size: int
    every: int | None
    n_frames: int | None
    boxes: dict[int, Box | None] | None
    modalities: tuple[str, ...] = ()
    modality_paths: tuple[str, ...] = ()  # absolute, one per modality ("" when none listed)
    precropped: bool = False  # the images are face crops (CASIA-SURF): no detector
    frame_index: int | None = None  # an image that is frame k of a video listed frame by frame


def shard_key(rel_path: str) -> str:
    """Shard file stem of a video: a hash of its path relative to the dataset root."""
    return hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:20]


def face_file_boxes(path: Path) -> dict[int, Box | None]:
    """Boxes of a ``.face`` file keyed by 0-based frame index, as ``(left, top, right, bottom)``.

    The files number frames ``frame x y w h``; a file without frame 0 is read as 1-based (the
    copies in circulation differ; Replay-Attack's start at 0).
    """
    raw = read_face_locations(path)
    offset = 0 if (not raw or 0 in raw) else min(raw)
    offset = min(offset, 1)
    return {
        frame - offset: (None if b is None else (float(b[0]), float(b[1]),
                                                float(b[0] + b[2]), float(b[1] + b[3])))
        for frame, b in raw.items()
    }


def gt_boxes(root: Path, video_id: str) -> dict[int, Box]:
    """SynthSpoof's exact per-frame face boxes (for ``use_gt_boxes``)."""
    with np.load(root / "gt" / f"{video_id}.npz", allow_pickle=False) as z:
        boxes = z["face_box"]
    return {t: tuple(float(v) for v in b) for t, b in enumerate(boxes)}


# ----------------------------------------------------------------------------- workers

_ALIGNERS: dict[tuple[tuple[float, ...], int], FaceAligner] = {}


def _aligner(scales: tuple[float, ...], crop_size: int) -> FaceAligner:
    """The aligner of this process: a pool worker's (:func:`fas_lib.preprocess.batch.init_worker`),
    else one created here once per parameter set."""
    try:
        aligner = batch.worker_aligner()
        if tuple(aligner.scales) == scales and aligner.crop_size == crop_size:
            return aligner
    except KeyError:
        pass
    key = (scales, crop_size)
    if key not in _ALIGNERS:
        _ALIGNERS[key] = FaceAligner(scales, crop_size=crop_size, landmarks="5")
    return _ALIGNERS[key]


def shard_arrays(job: ShardJob, items: list[FrameItem], skips: dict[str, int],
                 no_face: list[int] | tuple[int, ...] = (),
                 extra: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The arrays of one video's shard (frames in frame order; empty arrays for no frame);
    ``no_face_idx`` holds the sampled frames without a face (what a clip needs to know which
    of its time slots are missing, :mod:`fas_lib.cache.clips`); ``extra``: more arrays of the same
    rows (the modality crops), added as they are."""
    items = sorted(items, key=lambda it: it.frame_idx)
    n_s, c = len(job.scales), job.crop_size
    return {
        **(extra or {}),
        "path": np.array(job.rel),
        "frame_idx": np.array([it.frame_idx for it in items], dtype=np.int64),
        "crops": (np.stack([it.crops for it in items]).astype(np.uint8, copy=False) if items
                  else np.zeros((0, n_s, c, c, 3), np.uint8)),
        "landmarks": (np.stack([np.asarray(it.landmarks, np.float32)[:5] for it in items])
                      if items else np.zeros((0, 5, 2), np.float32)),
        "boxes": (np.stack([np.asarray(it.box, np.float32) for it in items])
                  if items else np.zeros((0, 4), np.float32)),
        "pad": (np.stack([np.asarray(it.pad_fraction, np.float32) for it in items])
                if items else np.zeros((0, n_s), np.float32)),
        "skips": np.array(json.dumps(dict(sorted(skips.items())))),
        "no_face_idx": np.array(sorted(int(i) for i in no_face), dtype=np.int64),
    }


def with_modalities(job: ShardJob, aligner: FaceAligner, items: list[FrameItem],
                    skips: dict[str, int]) -> tuple[list[FrameItem], dict[str, np.ndarray]]:
    """The frames to keep and their modality crops; when a modality file cannot be used, no
    frame, empty crops and one count of the reason in ``skips``."""
    items = sorted(items, key=lambda it: it.frame_idx)
    paths = dict(zip(job.modalities, job.modality_paths, strict=True))
    try:
        return items, modality_crops(aligner, items, paths, job.precropped)
    except ModalityError as exc:
        skips[exc.reason] = skips.get(exc.reason, 0) + 1
        return [], modality_crops(aligner, [], paths, job.precropped)


def run_job(job: ShardJob, shard_dir: str) -> tuple[str, int, dict[str, int]]:
    """Process one video and write its shard atomically; returns (key, frames, skip counts)."""
    aligner = _aligner(job.scales, job.crop_size)
    items, skips, no_face = process_media_frames(
        job.path, aligner, every=job.every, n_frames=job.n_frames, boxes=job.boxes,
        precropped=job.precropped)
    extra = None
    if job.modalities:
        items, extra = with_modalities(job, aligner, items, skips)
    if job.frame_index is not None:  # one frame of a video listed frame by frame: its index
        for it in items:
            it.frame_idx = job.frame_index
        no_face = [job.frame_index for _ in no_face]
    arrays = shard_arrays(job, items, skips, no_face, extra)
    with atomic_path(Path(shard_dir) / f"{job.key}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return job.key, len(items), dict(skips)


def load_shard(file: Path, job: ShardJob) -> dict[str, Any]:
    """Load and check a shard; raises ``ValueError`` / ``OSError`` when it is corrupt."""
    try:
        with np.load(file, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"unreadable shard: {exc}") from None
    n, n_s, c = len(data.get("frame_idx", ())), len(job.scales), job.crop_size
    expected = {"crops": (n, n_s, c, c, 3), "landmarks": (n, 5, 2), "boxes": (n, 4),
                "pad": (n, n_s), **{m: (n, n_s, c, c) for m in job.modalities}}
    for name, shape in expected.items():
        if name not in data:
            raise ValueError(f"shard has no array {name!r}")
        if data[name].shape != shape:
            raise ValueError(f"{name} has shape {data[name].shape}, expected {shape}")
    if str(data["path"]) != job.rel or data["crops"].dtype != np.uint8:
        raise ValueError("shard of another video or dtype")
    if "no_face_idx" not in data:
        raise ValueError("shard of an older build (no no_face_idx)")
    data["skips"] = json.loads(str(data["skips"]))
    return data


def run_shard_jobs(jobs: list[ShardJob], shard_dir: Path, workers: int, progress: bool,
                   stop_after: int | None) -> None:
    """Run ``jobs`` (in a spawn pool when ``workers > 1``), with a progress bar.

    Raises:
        BuildInterrupted: once ``stop_after`` videos are done (a test hook; ``None``: never).
    """
    if not jobs:
        return
    bar = tqdm(total=len(jobs), desc="crop cache", unit="video", disable=not progress)
    done: set[str] = set()
    n_frames = 0
    kwargs = {"scales": jobs[0].scales, "crop_size": jobs[0].crop_size, "landmarks": "5"}
    try:
        with contextlib.closing(pool_map(
            partial(run_job, shard_dir=str(shard_dir)), jobs, workers,
            initializer=batch.init_worker, initargs=(kwargs,),
            what="crop cache", entry="build_cache",
        )) as finished:
            for _, (key, n, _) in finished:
                done.add(key)
                n_frames += n
                bar.update(1)
                bar.set_postfix(frames=n_frames, refresh=False)
                if stop_after is not None and len(done) >= stop_after:
                    raise BuildInterrupted(f"stopped after {len(done)} videos (test hook)")
    finally:
        bar.close()
