"""A fabricated clip cache for the clip tests: a crop-cache folder written directly (no video).

:func:`write_clip_cache` writes ``manifest.json``, ``table.csv`` and the per-frame arrays of a
crop cache (:mod:`fas_lib.cache.reader`) with ``t`` frames per video, so that
:func:`fas_lib.cache.clips.clip_set` and :func:`fas_lib.cache.clips.clip_batch` read it like a real
one. Live clips are greenish, attacks reddish, with seeded noise and a per-frame brightness drift,
so a tiny model can learn them in a few steps. Landmarks are those of an upright face whose
alignment puts the crop's centre on the frame's centre (see :func:`fake_landmarks`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fas_lib.data.protocol import COLUMNS

#: Attack types of the fake videos (one per subject and split, besides one live video).
ATTACKS: tuple[str, ...] = ("print_flat", "replay_phone")


def fake_landmarks(cx: float = 160.0, cy: float = 120.0, iod: float = 60.0) -> np.ndarray:
    """dlib's 5 points of an upright face, in dlib's order: the image-right eye's outer and
    inner corners, the image-left eye's outer and inner corners, the nose base."""
    return np.array([[cx + iod * 0.8, cy - 20], [cx + iod * 0.2, cy - 20],
                     [cx - iod * 0.8, cy - 20], [cx - iod * 0.2, cy - 20],
                     [cx, cy + 15]], dtype=np.float32)


def _rows(split: str, n_subjects: int, t: int, attacks: tuple[str, ...]) -> list[dict]:
    rows = []
    for s in range(n_subjects):
        subject = f"{split}{s}"
        for kind in ("live", *attacks):
            vid = f"{subject}_{kind}"
            for f in range(t):
                rows.append({
                    "path": f"videos/{vid}.avi", "subject": subject,
                    "label": int(kind == "live"), "attack_type": kind, "quality": "normal",
                    "split": split, "video_id": vid, "depth_path": "", "ir_path": "",
                    "session": "s1", "camera": "c1",
                    "instrument": "" if kind == "live" else "d1", "frame_idx": f})
    return rows


def write_clip_cache(folder: Path, t: int = 2, n_subjects: int = 2, side: int = 72,
                     scales: tuple[float, ...] = (1.0, 1.4), seed: int = 0,
                     attacks: tuple[str, ...] = ATTACKS) -> Path:
    """Write a finished crop cache of ``t`` frames per video into ``folder``; return it.

    Every split has ``n_subjects`` subjects, each with one live video and one video per attack
    type of ``attacks``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tables, counts = [], {"videos": {}, "videos_with_frames": {}, "frames": {}}
    for split in ("train", "dev", "test"):
        table = pd.DataFrame(_rows(split, n_subjects, t, attacks))
        table["index"] = np.arange(len(table))
        n = len(table)
        crops = rng.integers(0, 60, size=(n, len(scales), side, side, 3)).astype(np.int16)
        live = table["label"].to_numpy() == 1
        crops[live, ..., 1] += 150
        crops[~live, ..., 0] += 150
        crops += 10 * table["frame_idx"].to_numpy()[:, None, None, None, None]
        np.save(folder / f"crops_{split}.npy", np.clip(crops, 0, 255).astype(np.uint8))
        np.save(folder / f"landmarks_{split}.npy", np.tile(fake_landmarks(), (n, 1, 1)))
        np.save(folder / f"boxes_{split}.npy", np.tile([130, 90, 190, 150], (n, 1)).astype(
            np.float32))
        np.save(folder / f"pad_{split}.npy", np.zeros((n, len(scales)), np.float32))
        tables.append(table)
        nv = int(table["video_id"].nunique())
        counts["videos"][split] = counts["videos_with_frames"][split] = nv
        counts["frames"][split] = n
    table = pd.concat(tables, ignore_index=True)[[*COLUMNS, "frame_idx", "index"]]
    table.to_csv(folder / "table.csv", index=False)
    manifest = {"format": "fas_lib crop cache", "complete": True, "dataset": "fake",
                "protocol": "standard", "fold": None, "root": str(folder / "data"),
                "params": {"scales": list(scales), "crop_size": side, "n_frames": t,
                           "landmarks": "5"},
                "counts": counts, "skipped": []}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder
