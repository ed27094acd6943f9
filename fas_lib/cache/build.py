"""Preprocessing cache, the builder: plan, run, resume and consolidate a crop cache.

>>> from fas_lib.cache.build import build_cache
>>> cache = build_cache("casia_fasd", "/data/CASIA-FASD", n_frames=4)  # doctest: +SKIP

The layout of a cache folder and its reader (:class:`~fas_lib.cache.reader.CropCache`) are in
:mod:`fas_lib.cache.reader`; one video's job, worker and shard in :mod:`fas_lib.cache.shards`.

Build (:func:`build_cache`): one job per video (decode the sampled frames, align each with the
face-location box when the dataset ships one, else dlib's detector) in a process pool; each
finished video is written as a shard atomically, so an interrupted build resumes by skipping
finished shards. A shard that fails to load is rebuilt with a warning. The final arrays are
written to temporary files and renamed (:func:`fas_lib.core.utils.atomic_path`); the manifest comes
last and marks the cache complete (:mod:`fas_lib.cache.consolidate`). Frames are ordered by the
protocol table, then frame index, so a resumed build equals an uninterrupted one byte for byte
(``manifest.json`` aside, which records times).

The detector runs once per frame sampling: a cache of the same frames at other scales or crop
size aligns on the boxes a finished cache beside it found (:func:`detections_of_sibling`), with
the same crops and skips, and names that cache in its manifest (``detections_from``).

Planning (:mod:`fas_lib.cache.plan`): a frame folder is a video
(:func:`fas_lib.data.io.iter_frames`); an adapter whose rows are frames (``frames_as_rows``: the
generic CSV) has the frames of each ``video_id`` sampled as a video's; before anything is decoded, a
build with ``progress`` prints the disk it needs (:func:`fas_lib.cache.plan.estimate_cache`).

Skips are counted, never silent: the adapter's (listed files missing, ...) and the media's
(``missing_file``, ``unreadable_file``, ``empty_video``, ``empty_folder``, ``no_face`` and
``unreadable_frame`` frames) are counted per reason, listed item by item in the manifest and
printed by :func:`skip_report`.

Depth and NIR (``modalities=("depth", "nir")``, :mod:`fas_lib.cache.modalities`): the crops of
every frame and scale are cut from the row's ``depth_path`` / ``ir_path`` with the RGB crop's
alignment matrix and written as ``depth_<split>.npy`` / ``nir_<split>.npy``; a video whose
modality file is missing or corrupt is a counted skip (``modality_missing``,
``modality_unreadable``). CASIA-SURF's faces come pre-cropped (``adapter.precropped``): with
modalities, no detector runs and every image is its own face box (recorded in the parameters as
``"alignment": "whole_image"``). An RGB-only cache has exactly the parameters (and so the
folder) it had before modalities existed.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from fas_lib import CROP_SIZE, SCALES
from fas_lib.cache.consolidate import consolidate
from fas_lib.cache.modalities import COLUMNS, check_modalities
from fas_lib.cache.plan import estimate_cache, limit_videos, sample_frame_rows
from fas_lib.cache.reader import CACHE_VERSION, CacheError, CropCache
from fas_lib.cache.shards import (
    Box,
    ShardJob,
    face_file_boxes,
    gt_boxes,
    load_shard,
    run_shard_jobs,
    shard_key,
)
from fas_lib.core.utils import atomic_write_text, data_dir
from fas_lib.data.datasets import get_adapter
from fas_lib.data.datasets.base import DatasetAdapter, ProtocolResult
from fas_lib.data.protocol import SPLITS

#: Frames sampled per video when nothing else is asked for (evenly spaced). For the default
#: SynthSpoof (8 frames per video) that is 2,880 frames, about 850 for training: an epoch of
#: CNN_S MS-FANS takes seconds on 2 CPU cores, and neighbouring frames add little new.
DEFAULT_N_FRAMES = 4

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
    "empty_video": "empty videos (or frame folders none of whose frames decoded)",
    "empty_folder": "frame folders without an image",
    "unreadable_frame": "frames that could not be decoded (the video's other frames kept)",
    "no_face": "frames with no detected face",
    "bad_face_file": "unreadable face-location files (dlib used instead)",
    "modality_missing": "videos without their depth or NIR file (all their frames skipped)",
    "modality_unreadable": "videos whose depth or NIR file is corrupt or does not match the "
                           "RGB frames (all their frames skipped)",
}


# ----------------------------------------------------------------------------- planning


def cache_params(
    scales: Iterable[float], crop_size: int, every: int | None, n_frames: int | None,
    use_gt_boxes: bool, max_videos_per_group: int | None,
    modalities: Iterable[str] = (), precropped: bool = False,
) -> dict[str, Any]:
    """The parameters that determine a cache's contents (stored in ``params.json``).

    ``modalities`` (checked, :func:`fas_lib.cache.modalities.check_modalities`) and
    ``precropped`` enter only when set (``"modalities"``, ``"alignment": "whole_image"``), so
    an RGB-only cache keeps the parameters, hash and folder it always had.
    """
    mods = check_modalities(modalities)
    extra: dict[str, Any] = {"modalities": list(mods)} if mods else {}
    if precropped:
        extra["alignment"] = "whole_image"
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
        **extra,
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


def _plan_jobs(
    table: pd.DataFrame, res: ProtocolResult, root: Path, scales: tuple[float, ...],
    crop_size: int, params: dict[str, Any], use_gt_boxes: bool, frame_index: list[int | None],
    detected: dict[str, dict[int, Box | None]] | None = None,
) -> tuple[list[ShardJob], list[dict[str, Any]], int]:
    """One job per table row (``frame_index``: the row's frame in its video when rows are
    frames); returns the jobs, bad face-file notes and face files used. ``detected``: the
    detector's boxes per video path from another cache of the same frames
    (:func:`detections_of_sibling`); a video listed there and without the generator's boxes or a
    face-location file is aligned on them instead of running the detector."""
    notes: list[dict[str, Any]] = []
    jobs: list[ShardJob] = []
    n_face_files = 0
    for row, k in zip(table.to_dict("records"), frame_index, strict=True):
        boxes = None
        if use_gt_boxes:
            boxes = gt_boxes(root, row["video_id"])
        elif (face_file := res.face_location_file(row)) is not None:
            try:
                boxes = face_file_boxes(face_file)
                n_face_files += 1
            except (ValueError, OSError) as exc:
                notes.append({"path": str(face_file.relative_to(root)), "reason": "bad_face_file",
                              "count": 1, "detail": str(exc)})
        if boxes is None and detected and row["path"] in detected:  # instead of the detector
            boxes = detected[row["path"]]
        mods = tuple(params.get("modalities", ()))
        mod_paths = tuple(str(root / row[COLUMNS[m]]) if row[COLUMNS[m]] else "" for m in mods)
        jobs.append(ShardJob(shard_key(row["path"]), str(root / row["path"]), row["path"],
                             scales, int(crop_size), params["every"], params["n_frames"], boxes,
                             mods, mod_paths, "alignment" in params, k))
    return jobs, notes, n_face_files


#: Cache parameters the face detector's boxes do not depend on (the crops cut from them do).
CROP_ONLY_PARAMS: tuple[str, ...] = ("scales", "crop_size")


def detections_of_sibling(out: Path, params_doc: dict[str, Any]
                          ) -> tuple[dict[str, dict[int, Box | None]], str | None]:
    """The detector's face boxes of a finished cache beside ``out`` of the same frames.

    Another cache in ``out``'s parent folder built from the same dataset, root, protocol and
    frame sampling with dlib's detector, differing only in :data:`CROP_ONLY_PARAMS` (notebook
    07 cuts SynthSpoof at ten scales where notebook 00 cut seven), found a box, or no face, on
    every frame this build samples. Aligning on those boxes gives the crops, landmarks and skips
    that running the detector again would (the detector is most of a frame's cost: about 34 of
    40 ms on a 640 x 480 SynthSpoof frame); a frame it does not list is detected as usual.

    Returns:
        ``({video path: {frame index: box or None (no face)}}, the sibling's folder name)``;
        ``({}, None)`` when no sibling qualifies, or the build does not run the detector
        (the generator's boxes, pre-cropped images, rows that are frames).
    """
    params = params_doc["params"]
    if params.get("use_gt_boxes") or "alignment" in params:
        return {}, None

    def detection_doc(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "params": {k: v for k, v in doc.get("params", {}).items()
                                  if k not in CROP_ONLY_PARAMS}}

    want = detection_doc(params_doc)
    for folder in sorted(out.parent.iterdir()) if out.parent.is_dir() else []:
        if folder == out or not (folder / "manifest.json").is_file():
            continue
        try:
            if detection_doc(json.loads((folder / "params.json").read_text("utf-8"))) != want:
                continue
            sibling = CropCache(folder)
        except (OSError, ValueError, CacheError):
            continue
        found: dict[str, dict[int, Box | None]] = {}
        for split in SPLITS:
            rows = sibling.frames(split)
            for path, idx, box in zip(rows["path"], rows["frame_idx"], sibling.boxes(split),
                                      strict=True):
                found.setdefault(str(path), {})[int(idx)] = tuple(float(v) for v in box)
        for entry in sibling.manifest.get("skipped", []):
            if entry.get("reason") == "no_face":
                for idx in entry.get("frames", []):
                    found.setdefault(str(entry["path"]), {})[int(idx)] = None
        return found, folder.name
    return {}, None


def check_modality_files(table: pd.DataFrame, modalities: tuple[str, ...], dataset: str) -> None:
    """Raise ``ValueError`` when no row of ``table`` lists a file for one of ``modalities`` (a
    row without one is a counted ``modality_missing`` skip; a dataset without any is an error)."""
    for mod in modalities:
        if not table[COLUMNS[mod]].astype(str).str.len().any():
            raise ValueError(
                f"{dataset} lists no {mod} file (column {COLUMNS[mod]} is empty in every row); "
                "cache it without that modality, or add the column (generic CSV), or generate "
                f"SynthSpoof with SynthConfig(modalities=({mod!r},))")


# ----------------------------------------------------------------------------- building


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


def _check_arguments(scales: tuple[float, ...], **counts: int | None) -> None:
    """Raise ``ValueError`` for scales that are not distinct positive finite numbers, or
    non-positive counts (``None`` counts are fine). Scales have no upper limit: the crop
    leaves the frame at wide context and is padded (``pad_<split>.npy`` measures how much)."""
    if not scales or any(not math.isfinite(s) or s <= 0 for s in scales):
        raise ValueError(f"scales must be positive numbers, got {scales}")
    if len(set(scales)) != len(scales):
        raise ValueError(f"scales must be distinct, got {scales}")
    for name, value in counts.items():
        if value is not None and int(value) < 1:
            raise ValueError(f"{name} must be a positive integer or None, got {value}")


def _finished_cache(out: Path, params: dict[str, Any], adapter: DatasetAdapter, proto_name: str,
                    fold: int | None) -> CropCache | None:
    """The finished cache in ``out`` when it was built from the same data and parameters."""
    try:
        cache = CropCache(out)
    except CacheError:
        return None
    m = cache.manifest
    same = (m.get("params") == params and m.get("dataset") == adapter.name
            and m.get("protocol") == proto_name and m.get("root") == str(adapter.root.resolve())
            and str(m.get("fold")) == str(fold))
    return cache if same else None


def _load_shards(jobs: list[ShardJob], shard_dir: Path, workers: int,
                 progress: bool) -> dict[str, dict[str, Any]]:
    """Every job's shard (crops left out); a corrupt one is rebuilt once, with a warning."""
    shards: dict[str, dict[str, Any]] = {}
    for attempt in range(2):
        redo = []
        for job in jobs:
            if job.key in shards:
                continue
            file = shard_dir / f"{job.key}.npz"
            try:
                data = load_shard(file, job)
            except (ValueError, OSError) as exc:
                if attempt:
                    raise CacheError(f"shard {file} of {job.rel} is still corrupt after a "
                                     f"rebuild: {exc}") from None
                warnings.warn(f"rebuilding corrupt shard {file.name} of {job.rel}: {exc}",
                              RuntimeWarning, stacklevel=3)
                file.unlink(missing_ok=True)
                redo.append(job)
                continue
            for name in ("crops", *job.modalities):
                del data[name]  # read again while writing the arrays; keeps memory small
            shards[job.key] = data
        if not redo:
            break
        run_shard_jobs(redo, shard_dir, workers, progress, None)
    return shards


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
    modalities: Iterable[str] = (),
    _stop_after: int | None = None,
) -> CropCache:
    """Build (or resume, or just open) the crop cache of a dataset protocol.

    Args:
        dataset: a name of :data:`fas_lib.data.datasets.DATASETS`.
        root: the dataset root (see :mod:`fas_lib.data.datasets` for each layout).
        protocol: protocol name (``None``: the dataset's default).
        fold: fold number for protocols that have folds (OULU-NPU 3 and 4).
        out: cache folder; ``None``: :func:`default_cache_dir`.
        scales: crop scales, distinct, relative to the aligned face box (paper: 0.9 ... 1.5;
            wider context such as 2.7 or 4.0 works the same way, padded outside the frame).
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
        modalities: ``("depth", "nir")`` or a part of it: also cache the crops of the rows'
            depth / NIR files, cut with the RGB crops' alignment (see the module docstring;
            ``()``: RGB only).
        _stop_after: test hook: raise :class:`~fas_lib.cache.shards.BuildInterrupted` after
            this many videos.

    Returns:
        The opened cache.

    Raises:
        fas_lib.data.datasets.DatasetLayoutError: ``root`` does not hold the dataset's layout.
        fas_lib.data.protocol.ProtocolError: unknown protocol or fold.
        CacheError: ``out`` holds a cache of other parameters (and ``force`` is off).
        ValueError: bad parameters, or a modality no row of the table has a file for.
    """
    scales = tuple(float(s) for s in scales)
    _check_arguments(scales, every=every, n_frames=n_frames, workers=workers,
                     max_videos_per_group=max_videos_per_group)
    adapter = get_adapter(dataset, root)
    if use_gt_boxes and adapter.name != "synthspoof":
        raise ValueError("use_gt_boxes is for SynthSpoof only (it needs the generator's boxes)")
    root = adapter.root
    mods = check_modalities(modalities)
    params = cache_params(scales, crop_size, every, n_frames, use_gt_boxes, max_videos_per_group,
                          mods, bool(mods) and adapter.precropped)
    proto_name = adapter.resolve_protocol(protocol)
    out = Path(out).expanduser() if out is not None else default_cache_dir(
        adapter.name, proto_name, fold, root, params)
    cache = None if force else _finished_cache(out, params, adapter, proto_name, fold)
    if cache is not None:
        return cache
    t0 = time.perf_counter()
    res = adapter.load(protocol, fold)
    table = limit_videos(res.table, max_videos_per_group, by_video=adapter.frames_as_rows)
    frame_index: list[int | None] = [None] * len(table)
    if adapter.frames_as_rows:  # rows sharing a video_id: a video's frames, sampled as one
        table, frame_index = sample_frame_rows(table, params["every"], params["n_frames"])
    table = table.reset_index(drop=True)
    check_modality_files(table, mods, res.dataset)
    params_doc = {"dataset": res.dataset, "protocol": res.protocol, "fold": res.fold,
                  "root": str(root.resolve()), "params": params}
    _check_params(out, params_doc, force)
    shard_dir = out / "shards"
    shard_dir.mkdir(exist_ok=True)
    detected, sibling = ({}, None) if adapter.frames_as_rows else detections_of_sibling(
        out, params_doc)
    jobs, notes, n_face_files = _plan_jobs(table, res, root, scales, crop_size, params,
                                           use_gt_boxes, frame_index, detected)
    pending = [j for j in jobs if not (shard_dir / f"{j.key}.npz").is_file()]
    if progress:  # before anything is decoded: the disk it needs (fas_lib.cache.plan)
        print(estimate_cache(table, root, scales, crop_size, params["every"], params["n_frames"],
                             mods).describe())
    if progress and len(pending) < len(jobs):
        print(f"resuming: {len(jobs) - len(pending)} of {len(jobs)} videos already done")
    run_shard_jobs(pending, shard_dir, int(workers), progress, _stop_after)
    shards = _load_shards(jobs, shard_dir, int(workers), progress)
    manifest = consolidate(out, table, jobs, shards, res, params, notes, n_face_files)
    manifest["build_seconds"] = round(time.perf_counter() - t0, 3)
    manifest["workers"] = int(workers)
    manifest["n_videos_processed_this_run"] = len(pending)
    manifest["detections_from"] = sibling  # the cache whose face boxes were reused (or None)
    return _finish(out, manifest, keep_shards, progress)


def _finish(out: Path, manifest: dict[str, Any], keep_shards: bool, progress: bool) -> CropCache:
    """Write the manifest (the cache is complete from here on), drop the shards, report."""
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    if not keep_shards:
        shutil.rmtree(out / "shards", ignore_errors=True)
    if progress:
        print(skip_report(manifest))
    return CropCache(out)


# ----------------------------------------------------------------------------- report


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
