"""Preprocessing cache: aligned multi-scale crops of sampled video frames, built once, read fast.

>>> from fas_lib.cache import build_cache, open_cache
>>> cache = build_cache("casia_fasd", "/data/CASIA-FASD", n_frames=4)  # doctest: +SKIP
>>> cache.crops("train").shape   # (N, 7, 128, 128, 3) uint8, memory-mapped  # doctest: +SKIP
>>> cache.frames("train")        # one row per frame: protocol columns + frame_idx + index

Layout of a cache folder::

    params.json               what the cache is built from (written first; guards resumes)
    shards/<key>.npz          one finished video (written atomically; deleted once complete)
    crops_<split>.npy         (N, S, 128, 128, 3) uint8, frames in table order
    landmarks_<split>.npy     (N, 5, 2) float32, the predictor's points in frame pixels
    boxes_<split>.npy         (N, 4) float32 face box (left, top, right, bottom)
    pad_<split>.npy           (N, S) float32 share of each crop outside the frame
    table.csv                 one row per frame (protocol columns, frame_idx, index)
    manifest.json             dataset, protocol, parameters, versions, counts, every skip

Build (:func:`build_cache`): one job per video (decode the sampled frames, align each with the
face-location box when the dataset ships one, else dlib's detector) in a process pool; each
finished video is written as a shard with :func:`os.replace`, so an interrupted build resumes
by skipping finished shards, and a half-written temporary file is never taken for a shard. A
shard that fails to load is rebuilt with a warning. The final arrays are written to temporary
files and renamed; the manifest comes last and marks the cache complete. Frames are ordered by
the protocol table, then frame index, so a resumed build equals an uninterrupted one byte for
byte (``manifest.json`` aside, which records times).

Skips are counted, never silent: the adapter's (listed files missing, ...) and the media's
(``missing_file``, ``unreadable_file``, ``empty_video``, ``no_face`` frames) are counted per
reason, listed item by item in the manifest and printed by :func:`skip_report`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib import CROP_SIZE, SCALES
from fas_lib.protocol import COLUMNS, SPLITS
from fas_lib.utils import atomic_write_text, data_dir

#: Bumped when the cache layout or contents change for the same parameters.
CACHE_VERSION = "1"
#: Frames sampled per video when nothing else is asked for (evenly spaced). For the default
#: SynthSpoof (8 frames per video) that is 2,880 frames, about 850 for training: an epoch of
#: CNN_S MS-FANS takes seconds on 2 CPU cores, and neighbouring frames add little new.
DEFAULT_N_FRAMES = 4
#: Extra table columns after the protocol columns.
FRAME_COLUMNS: tuple[str, ...] = ("frame_idx", "index")

#: reason -> words for the skip report ("NUAA: 40 listed files missing")
REASON_WORDS: dict[str, str] = {
    "listed_missing": "listed files missing",
    "expected_missing": "expected files missing",
    "unrecognised_name": "files with unrecognised names",
    "unrecognised_folder": "folders with unrecognised names",
    "duplicate_entry": "entries listed twice",
    "malformed_line": "malformed list lines",
    "label_conflict": "entries whose label contradicts their name",
    "name_folder_conflict": "files whose name contradicts their folder",
    "unlabelled": "samples without a label",
    "missing_file": "files missing",
    "unreadable_file": "unreadable or corrupt files",
    "empty_video": "empty videos",
    "no_face": "frames with no detected face",
    "bad_face_file": "unreadable face-location files (dlib used instead)",
}


class CacheError(RuntimeError):
    """A cache folder is incomplete, foreign or built with other parameters."""


class BuildInterrupted(RuntimeError):
    """Raised by the ``_stop_after`` test hook of :func:`build_cache` (finished shards stay)."""


# ----------------------------------------------------------------------------- reading


class CropCache:
    """A finished crop cache (see the module docstring for the layout).

    Attributes:
        path: the cache folder.
        manifest: the parsed ``manifest.json``.
        scales: the cached crop scales, in array order.
        table: one row per cached frame: protocol columns, ``frame_idx`` and ``index`` (the row's
            position in its split's arrays).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        man_path = self.path / "manifest.json"
        if not man_path.is_file():
            hint = " (its build did not finish: rerun it to resume)" if (
                self.path / "params.json").is_file() else ""
            raise CacheError(
                f"{self.path} is not a finished crop cache: no manifest.json{hint}; build one "
                "with `fas prepare` or fas_lib.cache.build_cache"
            )
        try:
            self.manifest: dict[str, Any] = json.loads(man_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CacheError(f"{man_path} is not valid JSON ({exc}); rebuild the cache") from None
        if not self.manifest.get("complete"):
            raise CacheError(f"{self.path} is an incomplete crop cache; rerun its build")
        self.scales: tuple[float, ...] = tuple(float(s) for s in self.manifest["params"]["scales"])
        table = pd.read_csv(self.path / "table.csv", dtype=str, keep_default_na=False)
        for col in ("label", *FRAME_COLUMNS):
            table[col] = table[col].astype(np.int64)
        self.table: pd.DataFrame = table
        self._arrays: dict[tuple[str, str], np.ndarray] = {}

    def __repr__(self) -> str:
        m = self.manifest
        return (f"CropCache({str(self.path)!r}, dataset={m['dataset']!r}, "
                f"protocol={m['protocol']!r}, frames={len(self.table)}, scales={self.scales})")

    def _array(self, name: str, split: str) -> np.ndarray:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        key = (name, split)
        if key not in self._arrays:
            file = self.path / f"{name}_{split}.npy"
            if not file.is_file():
                raise CacheError(f"{file} is missing; rebuild the cache")
            arr = np.load(file, mmap_mode=None if _npy_is_empty(file) else "r")
            self._arrays[key] = arr
        return self._arrays[key]

    def crops(self, split: str) -> np.ndarray:
        """Crops of a split, ``(N, S, 128, 128, 3)`` uint8 RGB, memory-mapped, table order."""
        return self._array("crops", split)

    def landmarks(self, split: str) -> np.ndarray:
        """The 5 predictor points of every frame, ``(N, 5, 2)`` float32 frame pixels."""
        return self._array("landmarks", split)

    def boxes(self, split: str) -> np.ndarray:
        """Face boxes ``(N, 4)`` float32 ``(left, top, right, bottom)`` in frame pixels."""
        return self._array("boxes", split)

    def pad_fraction(self, split: str) -> np.ndarray:
        """Share of each crop outside the frame (padding), ``(N, S)`` float32."""
        return self._array("pad", split)

    def frames(self, split: str) -> pd.DataFrame:
        """Rows of ``split`` in array order (``index`` = 0, 1, ...)."""
        rows = self.table[self.table["split"] == split]
        return rows.sort_values("index").reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Frames per split (rows) and attack type (columns), with a total column."""
        counts = pd.crosstab(self.table["split"], self.table["attack_type"])
        counts = counts.reindex([s for s in SPLITS if s in counts.index])
        counts["total"] = counts.sum(axis=1)
        return counts

    def size_bytes(self) -> int:
        """Bytes on disk of every file of the cache."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def _npy_is_empty(file: Path) -> bool:
    """True when a ``.npy`` holds zero elements (those cannot be memory-mapped)."""
    with open(file, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, _ = read(fh)
    return int(np.prod(shape)) == 0


def open_cache(path: str | Path) -> CropCache:
    """Open a finished cache folder (raises :class:`CacheError` when it is not one)."""
    return CropCache(path)


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Job:
    """One video (or image) to process; picklable for the process pool."""

    key: str
    path: str  # absolute
    rel: str
    scales: tuple[float, ...]
    crop_size: int
    every: int | None
    n_frames: int | None
    boxes: dict[int, tuple[float, float, float, float] | None] | None


def shard_key(rel_path: str) -> str:
    """Shard file stem of a video: a hash of its path relative to the dataset root."""
    return hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:20]


def face_file_boxes(path: Path) -> dict[int, tuple[float, float, float, float] | None]:
    """Boxes of a ``.face`` file keyed by 0-based frame index, as ``(left, top, right, bottom)``.

    The files number frames ``frame x y w h``; a file without frame 0 is read as 1-based (the
    copies in circulation differ; Replay-Attack's start at 0).
    """
    from fas_lib.datasets import read_face_locations

    raw = read_face_locations(path)
    offset = 0 if (not raw or 0 in raw) else min(raw)
    offset = min(offset, 1)
    return {
        frame - offset: (None if b is None else (float(b[0]), float(b[1]),
                                                float(b[0] + b[2]), float(b[1] + b[3])))
        for frame, b in raw.items()
    }


def _gt_boxes(root: Path, video_id: str) -> dict[int, tuple[float, float, float, float]]:
    """SynthSpoof's exact per-frame face boxes (for ``use_gt_boxes``)."""
    with np.load(root / "gt" / f"{video_id}.npz", allow_pickle=False) as z:
        boxes = z["face_box"]
    return {t: tuple(float(v) for v in b) for t, b in enumerate(boxes)}


def limit_videos(table: pd.DataFrame, per_group: int | None) -> pd.DataFrame:
    """The first ``per_group`` videos of every (split, attack type), in table order."""
    if per_group is None:
        return table
    return table.groupby(["split", "attack_type"], sort=False).head(per_group)


def cache_params(
    scales: Iterable[float], crop_size: int, every: int | None, n_frames: int | None,
    use_gt_boxes: bool, max_videos_per_group: int | None,
) -> dict[str, Any]:
    """The parameters that determine a cache's contents (stored in ``params.json``)."""
    return {
        "scales": [float(s) for s in scales],
        "crop_size": int(crop_size),
        "every": None if every is None else int(every),
        "n_frames": None if (n_frames is None or every is not None) else int(n_frames),
        "landmarks": "5",
        "detector": "hog",
        "use_gt_boxes": bool(use_gt_boxes),
        "max_videos_per_group": max_videos_per_group,
        "cache_version": CACHE_VERSION,
    }


def default_cache_dir(dataset: str, protocol: str, fold: int | None, root: Path,
                      params: dict[str, Any]) -> Path:
    """``data_dir()/caches/<dataset>-<protocol>[-f<fold>]-<hash of params and root>``."""
    blob = json.dumps({"params": params, "root": str(root.resolve()), "fold": fold},
                      sort_keys=True).encode()
    digest = hashlib.sha1(blob).hexdigest()[:10]
    name = f"{dataset}-{protocol}" + (f"-f{fold}" if fold is not None else "") + f"-{digest}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return data_dir() / "caches" / safe


# ----------------------------------------------------------------------------- workers

_ALIGNERS: dict[tuple, Any] = {}


def _aligner(scales: tuple[float, ...], crop_size: int) -> Any:
    """The aligner of this process: a pool worker's (:func:`fas_lib.batch.aligner_pool`), else
    one created here once per parameter set."""
    from fas_lib import batch

    try:
        aligner = batch.worker_aligner()
        if tuple(aligner.scales) == scales and aligner.crop_size == crop_size:
            return aligner
    except KeyError:
        pass
    key = (scales, crop_size)
    if key not in _ALIGNERS:
        from fas_lib.align import FaceAligner

        _ALIGNERS[key] = FaceAligner(scales, crop_size=crop_size, landmarks="5")
    return _ALIGNERS[key]


def _run_job(job: _Job, shard_dir: str) -> tuple[str, int, dict[str, int]]:
    """Process one video and write its shard atomically; returns (key, frames, skip counts)."""
    from fas_lib.batch import process_media

    items, skips = process_media(job.path, _aligner(job.scales, job.crop_size),
                                 every=job.every, n_frames=job.n_frames, boxes=job.boxes)
    items = sorted(items, key=lambda it: it.frame_idx)
    n_s, c = len(job.scales), job.crop_size
    arrays = {
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
    }
    target = Path(shard_dir) / f"{job.key}.npz"
    fd, tmp = tempfile.mkstemp(dir=shard_dir, prefix=f".{job.key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return job.key, len(items), dict(skips)


def _load_shard(file: Path, job: _Job) -> dict[str, Any]:
    """Load and check a shard; raises ``ValueError`` / ``OSError`` when it is corrupt."""
    try:
        with np.load(file, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"unreadable shard: {exc}") from None
    n = len(data["frame_idx"])
    expected = {"crops": (n, len(job.scales), job.crop_size, job.crop_size, 3),
                "landmarks": (n, 5, 2), "boxes": (n, 4), "pad": (n, len(job.scales))}
    for name, shape in expected.items():
        if data[name].shape != shape:
            raise ValueError(f"{name} has shape {data[name].shape}, expected {shape}")
    if str(data["path"]) != job.rel or data["crops"].dtype != np.uint8:
        raise ValueError("shard of another video or dtype")
    data["skips"] = json.loads(str(data["skips"]))
    return data


# ----------------------------------------------------------------------------- building


def _versions() -> dict[str, str]:
    from fas_lib.utils import environment

    keys = ("fas_lib", "numpy", "pandas", "opencv", "dlib", "python")
    env = environment(packages=keys)
    return {k: env[k] for k in keys}


def _run_jobs(jobs: list[_Job], shard_dir: Path, workers: int, progress: bool,
              stop_after: int | None) -> None:
    """Run ``jobs`` (in a spawn pool when ``workers > 1``), with a progress bar."""
    from tqdm.auto import tqdm

    if not jobs:
        return
    bar = tqdm(total=len(jobs), desc="crop cache", unit="video", disable=not progress)
    done: set[str] = set()
    n_frames = 0

    def finished(key: str, n: int) -> None:
        nonlocal n_frames
        done.add(key)
        n_frames += n
        bar.update(1)
        bar.set_postfix(frames=n_frames, refresh=False)
        if stop_after is not None and len(done) >= stop_after:
            raise BuildInterrupted(f"stopped after {len(done)} videos (test hook)")

    try:
        if workers > 1 and len(jobs) > 1:
            try:
                from fas_lib.batch import aligner_pool

                kwargs = {"scales": jobs[0].scales, "crop_size": jobs[0].crop_size,
                          "landmarks": "5"}
                with aligner_pool(min(workers, len(jobs)), kwargs) as pool:
                    futures = [pool.submit(_run_job, j, str(shard_dir)) for j in jobs]
                    try:
                        for fut in as_completed(futures):
                            key, n, _ = fut.result()
                            finished(key, n)
                    except BaseException:
                        for f in futures:
                            f.cancel()
                        raise
            except BrokenProcessPool as exc:
                warnings.warn(f"the crop cache's process pool failed ({exc}); building the rest "
                              "in this process. In a script, call build_cache under "
                              "`if __name__ == '__main__':`.", RuntimeWarning, stacklevel=3)
        for job in jobs:
            if job.key not in done:
                key, n, _ = _run_job(job, str(shard_dir))
                finished(key, n)
    finally:
        bar.close()


def _check_params(out: Path, params_doc: dict[str, Any], force: bool) -> None:
    """Write ``params.json``, or check that an existing one matches (else refuse or wipe)."""
    file = out / "params.json"
    if file.is_file() and not force:
        try:
            old = json.loads(file.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if old != params_doc:
            raise CacheError(
                f"{out} holds a crop cache built from other parameters or data ({file}); pass "
                "another output folder, or force=True (--force) to rebuild it"
            )
        return
    is_cache = file.is_file() or (out / "manifest.json").is_file()
    if out.is_dir() and any(out.iterdir()) and not is_cache:
        raise CacheError(f"{out} exists and is not a crop cache; give an empty or new folder")
    if force and is_cache:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, json.dumps(params_doc, indent=2, sort_keys=True) + "\n")


def build_cache(
    dataset: str,
    root: str | Path,
    protocol: str | None = None,
    fold: int | None = None,
    out: str | Path | None = None,
    scales: Iterable[float] = SCALES,
    every: int | None = None,
    n_frames: int | None = DEFAULT_N_FRAMES,
    workers: int = 2,
    progress: bool = True,
    *,
    crop_size: int = CROP_SIZE,
    use_gt_boxes: bool = False,
    max_videos_per_group: int | None = None,
    force: bool = False,
    keep_shards: bool = False,
    _stop_after: int | None = None,
) -> CropCache:
    """Build (or resume, or just open) the crop cache of a dataset protocol.

    Args:
        dataset: a name of :data:`fas_lib.datasets.DATASETS`.
        root: the dataset root (see :mod:`fas_lib.datasets` for each layout).
        protocol: protocol name (``None``: the dataset's default).
        fold: fold number for protocols that have folds (OULU-NPU 3 and 4).
        out: cache folder; ``None``: :func:`default_cache_dir`.
        scales: crop scales (paper: 0.9 ... 1.5).
        every: keep every k-th frame of a video (overrides ``n_frames``).
        n_frames: frames per video, evenly spaced; ``None`` with ``every=None`` keeps all.
        workers: processes (1 runs in this process).
        progress: show a progress bar and print the skip report.
        crop_size: crop side in pixels (paper: 128).
        use_gt_boxes: SynthSpoof only: use the generator's exact face boxes instead of dlib's
            detector (the default follows the paper's pipeline: detect).
        max_videos_per_group: keep only the first k videos of every (split, attack type)
            (quick looks at a large dataset; ``None`` keeps all).
        force: rebuild from scratch even if ``out`` holds a cache.
        keep_shards: keep the per-video shards after the final arrays are written.
        _stop_after: test hook: raise :class:`BuildInterrupted` after this many videos.

    Returns:
        The opened cache.

    Raises:
        fas_lib.datasets.DatasetLayoutError: ``root`` does not hold the dataset's layout.
        fas_lib.protocol.ProtocolError: unknown protocol or fold.
        CacheError: ``out`` holds a cache of other parameters (and ``force`` is off).
        ValueError: bad parameters.
    """
    from fas_lib.datasets import get_adapter

    scales = tuple(float(s) for s in scales)
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f"scales must be positive numbers, got {scales}")
    for name, value in (("every", every), ("n_frames", n_frames), ("workers", workers),
                        ("max_videos_per_group", max_videos_per_group)):
        if value is not None and int(value) < 1:
            raise ValueError(f"{name} must be a positive integer or None, got {value}")
    adapter = get_adapter(dataset, root)
    if use_gt_boxes and adapter.name != "synthspoof":
        raise ValueError("use_gt_boxes is for SynthSpoof only (it needs the generator's boxes)")
    root = adapter.root
    params = cache_params(scales, crop_size, every, n_frames, use_gt_boxes, max_videos_per_group)
    proto_name = adapter.resolve_protocol(protocol)
    out = Path(out).expanduser() if out is not None else default_cache_dir(
        adapter.name, proto_name, fold, root, params)
    if not force:
        try:
            cache = CropCache(out)
            m = cache.manifest
            same = (m.get("params") == params and m.get("dataset") == adapter.name
                    and m.get("protocol") == proto_name and m.get("root") == str(root.resolve())
                    and str(m.get("fold")) == str(fold))
            if same:
                return cache
        except CacheError:
            pass
    t0 = time.perf_counter()
    res = adapter.load(protocol, fold)
    table = limit_videos(res.table, max_videos_per_group).reset_index(drop=True)
    params_doc = {"dataset": res.dataset, "protocol": res.protocol, "fold": res.fold,
                  "root": str(root.resolve()), "params": params}
    _check_params(out, params_doc, force)
    shard_dir = out / "shards"
    shard_dir.mkdir(exist_ok=True)

    notes: list[dict[str, Any]] = []
    jobs: list[_Job] = []
    n_face_files = 0
    for row in table.to_dict("records"):
        boxes = None
        if use_gt_boxes:
            boxes = _gt_boxes(root, row["video_id"])
        elif (face_file := res.face_location_file(row)) is not None:
            try:
                boxes = face_file_boxes(face_file)
                n_face_files += 1
            except (ValueError, OSError) as exc:
                notes.append({"path": str(face_file.relative_to(root)), "reason": "bad_face_file",
                              "count": 1, "detail": str(exc)})
        jobs.append(_Job(shard_key(row["path"]), str(root / row["path"]), row["path"], scales,
                         int(crop_size), params["every"], params["n_frames"], boxes))

    pending = [j for j in jobs if not (shard_dir / f"{j.key}.npz").is_file()]
    if progress and len(pending) < len(jobs):
        print(f"resuming: {len(jobs) - len(pending)} of {len(jobs)} videos already done")
    _run_jobs(pending, shard_dir, int(workers), progress, _stop_after)

    shards = {}
    for attempt in range(2):
        redo = []
        for job in jobs:
            if job.key in shards:
                continue
            file = shard_dir / f"{job.key}.npz"
            try:
                data = _load_shard(file, job)
            except (ValueError, OSError) as exc:
                if attempt:
                    raise CacheError(f"shard {file} of {job.rel} is still corrupt after a "
                                     f"rebuild: {exc}") from None
                warnings.warn(f"rebuilding corrupt shard {file.name} of {job.rel}: {exc}",
                              RuntimeWarning, stacklevel=2)
                file.unlink(missing_ok=True)
                redo.append(job)
                continue
            del data["crops"]  # read again while writing the arrays; keeps memory small
            shards[job.key] = data
        if not redo:
            break
        _run_jobs(redo, shard_dir, int(workers), progress, None)

    manifest = _consolidate(out, table, jobs, shards, res, params, notes, n_face_files)
    manifest["build_seconds"] = round(time.perf_counter() - t0, 3)
    manifest["workers"] = int(workers)
    manifest["n_videos_processed_this_run"] = len(pending)
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    if not keep_shards:
        shutil.rmtree(shard_dir, ignore_errors=True)
    if progress:
        print(skip_report(manifest))
    return CropCache(out)


def _atomic_save(file: Path, arr: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _consolidate(out: Path, table: pd.DataFrame, jobs: list[_Job], shards: dict[str, dict],
                 res: Any, params: dict[str, Any], notes: list[dict[str, Any]],
                 n_face_files: int) -> dict[str, Any]:
    """Write the per-split arrays and the frame table from the shards; return the manifest."""
    n_s, c = len(params["scales"]), params["crop_size"]
    rows: list[dict[str, Any]] = []
    media_skips: Counter[str] = Counter()
    skipped = [{"path": p, "reason": r, "count": 1, "stage": "protocol"} for p, r in res.skipped]
    skipped += [{**n, "stage": "faces"} for n in notes]
    arrays_info = {}
    for split in SPLITS:
        split_jobs = [j for j, s in zip(jobs, table["split"], strict=True) if s == split]
        n = sum(len(shards[j.key]["frame_idx"]) for j in split_jobs)
        file = out / f"crops_{split}.npy"
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{file.name}.", suffix=".tmp")
        os.close(fd)
        try:
            if n:
                crops = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                                  shape=(n, n_s, c, c, 3))
            else:
                with open(tmp, "wb") as fh:  # a path would get ".npy" appended
                    np.save(fh, np.zeros((0, n_s, c, c, 3), np.uint8))
            pos = 0
            for job in split_jobs:
                meta = shards[job.key]
                k = len(meta["frame_idx"])
                if k:
                    with np.load(out / "shards" / f"{job.key}.npz", allow_pickle=False) as z:
                        crops[pos:pos + k] = z["crops"]
                pos += k
            if n:
                crops.flush()
                del crops
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for name, empty in (("landmarks", (0, 5, 2)), ("boxes", (0, 4)), ("pad", (0, n_s))):
            parts = [shards[j.key][name] for j in split_jobs]
            arr = np.concatenate(parts).astype(np.float32) if parts else np.zeros(empty, np.float32)
            _atomic_save(out / f"{name}_{split}.npy", arr.reshape((-1, *empty[1:])))
        arrays_info[split] = {"crops": file.name, "shape": [n, n_s, c, c, 3]}
    index_in_split: Counter[str] = Counter()
    for row, job in zip(table.to_dict("records"), jobs, strict=True):
        meta = shards[job.key]
        for reason, k in meta["skips"].items():
            media_skips[reason] += k
            skipped.append({"path": job.rel, "reason": reason, "count": int(k), "stage": "media"})
        for f in meta["frame_idx"]:
            rows.append({**{col: row[col] for col in COLUMNS}, "frame_idx": int(f),
                         "index": index_in_split[row["split"]]})
            index_in_split[row["split"]] += 1
    frames = pd.DataFrame(rows, columns=[*COLUMNS, *FRAME_COLUMNS])
    atomic_write_text(out / "table.csv", frames.to_csv(index=False, lineterminator="\n"))

    def crosstab(df: pd.DataFrame) -> dict[str, dict[str, int]]:
        return {s: {str(t): int(v) for t, v in g.groupby("attack_type").size().items()}
                for s, g in df.groupby("split", sort=False)}

    from fas_lib.datasets import ADAPTERS

    return {
        "format": "fas_lib crop cache",
        "complete": True,
        "cache_version": CACHE_VERSION,
        "dataset": res.dataset,
        "title": ADAPTERS[res.dataset].title,
        "protocol": res.protocol,
        "fold": res.fold,
        "root": str(res.root.resolve()),
        "params": params,
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": {
            "videos": {s: int((table["split"] == s).sum()) for s in SPLITS},
            "videos_with_frames": {s: int(sum(1 for j, sp in zip(jobs, table["split"],
                                                                  strict=True)
                                              if sp == s and len(shards[j.key]["frame_idx"])))
                                   for s in SPLITS},
            "frames": {s: int(index_in_split[s]) for s in SPLITS},
            "videos_by_attack_type": crosstab(table),
            "frames_by_attack_type": crosstab(frames),
            "face_location_files": n_face_files,
        },
        "skips": {"protocol": dict(sorted(res.skips.items())),
                  "media": dict(sorted(media_skips.items())),
                  "faces": dict(Counter(n["reason"] for n in notes))},
        "skipped": skipped,
        "arrays": arrays_info,
    }


def skip_report(manifest: dict[str, Any]) -> str:
    """The skips of a cache, one line per reason (``"NUAA: 40 listed files missing"``)."""
    title = manifest.get("title", manifest.get("dataset", "dataset"))
    lines = []
    for stage, counts in manifest.get("skips", {}).items():
        for reason, n in counts.items():
            words = REASON_WORDS.get(reason, reason.replace("_", " "))
            examples = [s["path"] for s in manifest.get("skipped", [])
                        if s["reason"] == reason and s.get("stage") == stage][:3]
            more = f" (e.g. {', '.join(examples)})" if examples else ""
            lines.append(f"{title}: {n} {words}{more}")
    if not lines:
        return f"{title}: nothing skipped"
    return "\n".join(lines)


# ----------------------------------------------------------------------------- notebooks


def smoke_synth_config() -> Any:
    """The tiny SynthSpoof of ``SMOKE`` runs: 3 subjects (one per split), every attack type,
    one quality, 2 frames per video (18 videos, 36 frames).

    Seed 3 because dlib finds a face in all 36 frames with it (seed 0 loses both frames of
    the test split's ``replay_screen`` video, and with it an attack type), checked when chosen;
    any frame a later detector misses is still counted in the cache's manifest.
    """
    from fas_lib.synthspoof import SynthConfig

    return SynthConfig(n_subjects=3, frames_per_video=2, qualities=("normal",), seed=3)


def get_cache(
    dataset: str = "synthspoof",
    root: str | Path | None = None,
    protocol: str | None = None,
    fold: int | None = None,
    smoke: bool = False,
    workers: int = 2,
    progress: bool = True,
    *,
    n_frames: int | None = None,
    every: int | None = None,
    scales: Iterable[float] = SCALES,
    out: str | Path | None = None,
    use_gt_boxes: bool = False,
    force: bool = False,
) -> CropCache:
    """The crop cache a notebook asks for with its ``DATASET`` / ``DATA_ROOT`` parameters.

    SynthSpoof with ``root=None`` is generated first (:func:`fas_lib.synthspoof.generate`,
    cached): the default :class:`~fas_lib.synthspoof.SynthConfig` (40 subjects, 8 frames per
    video), or :func:`smoke_synth_config` when ``smoke``. Every dataset is then cached with
    :data:`DEFAULT_N_FRAMES` (4) evenly spaced frames per video (smoke: 2 per video, and for a
    real dataset only the first 2 videos of every split and attack type). A finished cache is
    opened, not rebuilt.

    Args:
        dataset: a name of :data:`fas_lib.datasets.DATASETS` (notebook ``DATASET``).
        root: the dataset root (notebook ``DATA_ROOT``); ``None`` only for SynthSpoof.
        protocol: protocol name (``None``: the dataset's default).
        fold: fold of protocols with folds.
        smoke: tiny data for quick runs.
        workers: processes for generation and caching.
        progress: progress bars and the skip report.
        n_frames: frames per video (``None``: as described above).
        every: keep every k-th frame instead of ``n_frames``.
        scales: crop scales to cache.
        out: cache folder (``None``: :func:`default_cache_dir`).
        use_gt_boxes: SynthSpoof: the generator's face boxes instead of dlib's detector.
        force: rebuild the cache from scratch.

    Raises:
        ValueError: ``root`` is ``None`` for a dataset other than SynthSpoof.
        fas_lib.datasets.DatasetLayoutError: ``root`` does not hold the dataset's layout.
    """
    from fas_lib.datasets import get_adapter

    name = get_adapter(dataset, root if root is not None else ".").name
    if root is None:
        if name != "synthspoof":
            raise ValueError(
                f"dataset {dataset!r} needs its root folder (DATA_ROOT / --root); only "
                "'synthspoof' is generated when no root is given; see README 'Use a real dataset'"
            )
        from fas_lib.synthspoof import SynthConfig, generate

        config = smoke_synth_config() if smoke else SynthConfig()
        root = generate(config, workers=workers, progress=progress).root
    if n_frames is None and every is None:
        n_frames = 2 if smoke else DEFAULT_N_FRAMES
    limit = 2 if (smoke and name != "synthspoof") else None
    return build_cache(name, root, protocol, fold, out=out, scales=scales, every=every,
                       n_frames=n_frames, workers=workers, progress=progress,
                       use_gt_boxes=use_gt_boxes, max_videos_per_group=limit, force=force)
