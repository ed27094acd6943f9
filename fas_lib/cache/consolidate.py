"""Crop cache, the last step of a build: the per-split arrays, the frame table and the manifest.

:func:`consolidate` reads the finished shards of :mod:`fas_lib.cache.shards` in protocol-table
order and writes every array of :data:`fas_lib.cache.reader.ARRAYS` for each split (``crops``, and
``depth`` / ``nir`` when the cache has them, through a memory map, one shard at a time),
``table.csv`` (one row per frame), and returns the manifest that
:func:`fas_lib.cache.build.build_cache` writes last. Every file goes through
:func:`fas_lib.core.utils.atomic_path`.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.cache.reader import CACHE_VERSION, FRAME_COLUMNS
from fas_lib.cache.shards import ShardJob
from fas_lib.core.utils import atomic_path, atomic_write_text, environment
from fas_lib.data.datasets import ADAPTERS
from fas_lib.data.datasets.base import ProtocolResult
from fas_lib.data.protocol import COLUMNS, SPLITS


def _versions() -> dict[str, str]:
    keys = ("fas_lib", "numpy", "pandas", "opencv", "dlib", "python")
    env = environment(packages=keys)
    return {k: env[k] for k in keys}


def _write_crops(out: Path, split: str, split_jobs: list[ShardJob],
                 shards: dict[str, dict[str, Any]], shape: tuple[int, ...],
                 name: str = "crops") -> Path:
    """``<name>_<split>.npy`` from the shards' ``name`` arrays (uint8 crops, RGB or a
    modality's), written through a memory map."""
    file = out / f"{name}_{split}.npy"
    with atomic_path(file) as tmp:
        if not shape[0]:
            with open(tmp, "wb") as fh:  # a path would get ".npy" appended
                np.save(fh, np.zeros(shape, np.uint8))
            return file
        crops = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        pos = 0
        for job in split_jobs:
            k = len(shards[job.key]["frame_idx"])
            if k:
                with np.load(out / "shards" / f"{job.key}.npz", allow_pickle=False) as z:
                    crops[pos:pos + k] = z[name]
            pos += k
        crops.flush()
        del crops
    return file


def _write_split(out: Path, split: str, split_jobs: list[ShardJob],
                 shards: dict[str, dict[str, Any]], n_s: int, c: int,
                 modalities: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every array of one split; returns the split's entry of the manifest's ``arrays``."""
    n = sum(len(shards[j.key]["frame_idx"]) for j in split_jobs)
    file = _write_crops(out, split, split_jobs, shards, (n, n_s, c, c, 3))
    extra = {m: _write_crops(out, split, split_jobs, shards, (n, n_s, c, c), m).name
             for m in modalities}
    for name, empty in (("landmarks", (0, 5, 2)), ("boxes", (0, 4)), ("pad", (0, n_s))):
        parts = [shards[j.key][name] for j in split_jobs]
        arr = np.concatenate(parts).astype(np.float32) if parts else np.zeros(empty, np.float32)
        with atomic_path(out / f"{name}_{split}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, arr.reshape((-1, *empty[1:])))
    return {"crops": file.name, "shape": [n, n_s, c, c, 3], **extra}


def _frame_table(table: pd.DataFrame, jobs: list[ShardJob], shards: dict[str, dict[str, Any]],
                 skipped: list[dict[str, Any]]) -> tuple[pd.DataFrame, Counter[str]]:
    """One row per cached frame; appends the media skips to ``skipped`` and counts them."""
    rows: list[dict[str, Any]] = []
    media_skips: Counter[str] = Counter()
    index_in_split: Counter[str] = Counter()
    for row, job in zip(table.to_dict("records"), jobs, strict=True):
        meta = shards[job.key]
        for reason, k in meta["skips"].items():
            media_skips[reason] += k
            entry = {"path": job.rel, "reason": reason, "count": int(k), "stage": "media"}
            if reason == "no_face":  # which sampled frames: the missing slots of a clip
                entry["frames"] = [int(i) for i in meta["no_face_idx"]]
            skipped.append(entry)
        for f in meta["frame_idx"]:
            rows.append({**{col: row[col] for col in COLUMNS}, "frame_idx": int(f),
                         "index": index_in_split[row["split"]]})
            index_in_split[row["split"]] += 1
    return pd.DataFrame(rows, columns=[*COLUMNS, *FRAME_COLUMNS]), media_skips


def _crosstab(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {s: {str(t): int(v) for t, v in g.groupby("attack_type").size().items()}
            for s, g in df.groupby("split", sort=False)}


def _counts(table: pd.DataFrame, frames: pd.DataFrame, n_face_files: int) -> dict[str, Any]:
    """The manifest's ``counts``: videos (distinct ``video_id``: the frames of a video listed
    one per row are one video), videos with frames, frames, by attack type."""
    videos = table.drop_duplicates(["split", "video_id"])
    return {
        "videos": {s: int((videos["split"] == s).sum()) for s in SPLITS},
        "videos_with_frames": {s: int(frames.loc[frames["split"] == s, "video_id"].nunique())
                               for s in SPLITS},
        "frames": {s: int((frames["split"] == s).sum()) for s in SPLITS},
        "videos_by_attack_type": _crosstab(videos),
        "frames_by_attack_type": _crosstab(frames),
        "face_location_files": n_face_files,
    }


def consolidate(out: Path, table: pd.DataFrame, jobs: list[ShardJob],
                shards: dict[str, dict[str, Any]], res: ProtocolResult, params: dict[str, Any],
                notes: list[dict[str, Any]], n_face_files: int) -> dict[str, Any]:
    """Write the per-split arrays and the frame table from the shards; return the manifest."""
    n_s, c = len(params["scales"]), params["crop_size"]
    skipped = [{"path": p, "reason": r, "count": 1, "stage": "protocol"} for p, r in res.skipped]
    skipped += [{**n, "stage": "faces"} for n in notes]
    arrays_info = {}
    for split in SPLITS:
        split_jobs = [j for j, s in zip(jobs, table["split"], strict=True) if s == split]
        arrays_info[split] = _write_split(out, split, split_jobs, shards, n_s, c,
                                          tuple(params.get("modalities", ())))
    frames, media_skips = _frame_table(table, jobs, shards, skipped)
    atomic_write_text(out / "table.csv", frames.to_csv(index=False, lineterminator="\n"))
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
        "counts": _counts(table, frames, n_face_files),
        "skips": {"protocol": dict(sorted(res.skips.items())),
                  "media": dict(sorted(media_skips.items())),
                  "faces": dict(Counter(n["reason"] for n in notes))},
        "skipped": skipped,
        "arrays": arrays_info,
    }
