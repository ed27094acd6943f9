"""Clips of T frames per video, read from a crop cache: the clip index, batches, motion energy.

>>> from fas_lib.cache.prepare import get_clips
>>> cache, clips = get_clips("synthspoof", t=8)                 # doctest: +SKIP
>>> x, y = clip_batch(cache, clips["train"], [0, 1], [2, 3, 4])  # doctest: +SKIP
>>> x.shape   # (2, 8, 3, 3, 112, 112): (B, T, S, 3, size, size), y (2,) labels (1 = bona fide)

A clip cache is a crop cache built with ``n_frames=T`` (:func:`fas_lib.cache.prepare.get_clips`,
``fas prepare --clips T``): each video is decoded once, T evenly spaced frames are aligned at
every scale, and :func:`clip_set` indexes the cached frames of every video as a clip, ``rows``
``(V, T)``: positions in the split's per-frame arrays, in time order. Nothing is cut twice, and a
:class:`~fas_lib.cache.views.ProtocolView` works like the cache it views.

**Missing frames.** A sampled frame with no face is a counted skip of the cache (its frame index
is in the manifest). A clip's T time slots are the T frames sampled (from a cache of more frames
per video: T of them evenly spaced, as :func:`fas_lib.data.io.sample_indices` picks them; from a
video shorter than T frames: T evenly spaced times over its frames). The clip's surviving frames are
its slots that have a face (a short video: all its frames with a face). A clip with fewer than
``min_frames`` surviving frames (default ``ceil(T / 2)``) is dropped and counted
(``too_few_frames``); a video with no cached frame at all is counted as ``no_frames``. Otherwise
**every missing slot is filled by the surviving frame nearest in time** (frame index; a tie goes
to the earlier frame), so a clip's rows may repeat a frame; ``videos.n_found`` says how many
slots are the clip's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from fas_lib.cache.loader import centre_input, check_window
from fas_lib.cache.reader import CacheError, CropCache
from fas_lib.data.protocol import COLUMNS, SPLITS
from fas_lib.evaluation.metrics import eer

#: Frames per clip when nothing else is asked for (SynthSpoof videos have 8 frames).
DEFAULT_T = 8
#: Side of the centre window :func:`clip_batch` returns by default (as :mod:`fas_lib.cache.loader`).
DEFAULT_SIZE = 112
#: reason -> words for :func:`clip_report`.
DROP_WORDS: dict[str, str] = {
    "too_few_frames": "videos with fewer than {min_frames} of {t} frames with a face",
    "no_frames": "videos with no cached frame (skipped by the crop cache)",
}


@dataclass(frozen=True)
class ClipSet:
    """The clips of one split of a crop cache (see the module docstring).

    Attributes:
        split: ``"train"``, ``"dev"`` or ``"test"``.
        t: frames per clip.
        rows: ``(V, T)`` int64 rows into the cache's per-frame arrays of ``split``, time order.
        videos: one row per kept clip: the protocol columns of its video, ``n_found`` (slots
            with their own face) and ``n_sampled`` (frames the cache sampled from the video).
        dropped: counted drops per reason (keys of :data:`DROP_WORDS`).
        min_frames: the fewest surviving frames a kept clip has.
    """

    split: str
    t: int
    rows: np.ndarray
    videos: pd.DataFrame
    dropped: dict[str, int]
    min_frames: int = 1

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> np.ndarray:
        """``(V,)`` int64 labels of the clips (1 = bona fide)."""
        return self.videos["label"].to_numpy(dtype=np.int64)


def no_face_frames(cache: CropCache) -> dict[str, list[int] | None]:
    """Path -> the sampled frame indices that had no face (``None``: a cache built before
    they were recorded, with no-face frames in that video)."""
    out: dict[str, list[int] | None] = {}
    for entry in cache.manifest.get("skipped", []):
        if entry.get("stage") == "media" and entry.get("reason") == "no_face":
            frames = entry.get("frames")
            out[entry["path"]] = None if frames is None else [int(f) for f in frames]
    return out


def slot_times(sampled: np.ndarray, t: int) -> np.ndarray:
    """The T slot times (frame indices, float) of a video whose sampled frames are ``sampled``
    (sorted): T of them evenly spaced, or T evenly spaced times when fewer were sampled."""
    if len(sampled) >= t:
        return sampled[np.rint(np.linspace(0, len(sampled) - 1, t)).astype(int)].astype(float)
    return np.linspace(float(sampled[0]), float(sampled[-1]), t)


def fill_slots(found: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, int]:
    """Positions in ``found`` (sorted frame indices with a face) of the frame nearest in time to
    each slot (ties: the earlier frame), and how many slots are a found frame exactly."""
    dist = np.abs(found[None, :].astype(float) - times[:, None])
    pick = dist.argmin(axis=1)  # first minimum: the earlier frame on a tie
    own = int(np.sum(dist[np.arange(len(times)), pick] == 0))
    return pick, own


def check_clip_length(t: int, min_frames: int | None) -> tuple[int, int]:
    """``(t, min_frames)`` as integers, ``min_frames`` defaulting to ``ceil(t / 2)``.

    Raises:
        ValueError: ``t`` is not a positive integer or ``min_frames`` not in ``1..t``.
    """
    if isinstance(t, bool) or int(t) != t or int(t) < 1:
        raise ValueError(f"t must be a positive integer, got {t!r}")
    t = int(t)
    m = math.ceil(t / 2) if min_frames is None else int(min_frames)
    if not 1 <= m <= t:
        raise ValueError(f"min_frames must be between 1 and t={t}, got {min_frames!r}")
    return t, m


def _no_frame_videos(cache: CropCache, split: str) -> int:
    """Videos of ``split`` with no cached frame (of the base cache for a protocol view)."""
    counts = getattr(cache, "base", cache).manifest.get("counts", {})
    return int(counts.get("videos", {}).get(split, 0)
               - counts.get("videos_with_frames", {}).get(split, 0))


def clip_set(cache: CropCache, split: str, t: int = DEFAULT_T,
             min_frames: int | None = None) -> ClipSet:
    """Index the cached frames of every video of ``split`` as a clip of ``t`` frames.

    Args:
        cache: a crop cache or a :class:`~fas_lib.cache.views.ProtocolView` of one, built with at
            least ``t`` frames per video (``n_frames >= t``, or ``every`` / all frames).
        split: ``"train"``, ``"dev"`` or ``"test"``.
        t: frames per clip.
        min_frames: drop clips with fewer surviving frames (default ``ceil(t / 2)``).

    Returns:
        The :class:`ClipSet`, clips in the cache's video order.

    Raises:
        ValueError: bad ``split``, ``t`` or ``min_frames``, or a cache of fewer than ``t``
            frames per video.
        CacheError: a video has no-face frames whose indices the cache did not record (a
            cache built before they were; rebuild it with ``force=True``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    t, m = check_clip_length(t, min_frames)
    n_cached = cache.manifest.get("params", {}).get("n_frames")
    if n_cached is not None and int(n_cached) < t:
        raise ValueError(f"the cache holds {n_cached} frames per video, fewer than t={t}; "
                         f"build one with n_frames={t} (get_clips / `fas prepare --clips {t}`)")
    frames = cache.frames(split)
    missing = no_face_frames(cache)
    rows, keep, n_found, n_sampled = [], [], [], []
    dropped = {"too_few_frames": 0, "no_frames": _no_frame_videos(cache, split)}
    for path, group in frames.groupby("path", sort=False):
        group = group.sort_values("frame_idx")
        found = group["frame_idx"].to_numpy(dtype=np.int64)
        lost = missing.get(str(path), [])
        if lost is None:
            raise CacheError(f"{cache.path}: the no-face frames of {path} were not recorded (a "
                             "cache built by an older version); rebuild it with force=True")
        sampled = np.union1d(found, np.asarray(lost, dtype=np.int64))
        times = slot_times(sampled, t)
        pick, own = fill_slots(found, times)
        surviving = own if len(sampled) >= t else len(found)
        if surviving < m:
            dropped["too_few_frames"] += 1
            continue
        rows.append(group["index"].to_numpy(dtype=np.int64)[pick])
        keep.append(group.index[0])
        n_found.append(surviving)
        n_sampled.append(len(sampled))
    cols = [c for c in COLUMNS if c in frames.columns]
    videos = frames.loc[keep, cols].reset_index(drop=True)
    videos["n_found"] = np.asarray(n_found, dtype=np.int64)
    videos["n_sampled"] = np.asarray(n_sampled, dtype=np.int64)
    arr = np.stack(rows) if rows else np.zeros((0, t), np.int64)
    return ClipSet(split, t, arr, videos, {k: v for k, v in dropped.items() if v}, m)


def clip_sets(cache: CropCache, t: int = DEFAULT_T,
              min_frames: int | None = None) -> dict[str, ClipSet]:
    """:func:`clip_set` of every split: ``{"train": ..., "dev": ..., "test": ...}``."""
    return {s: clip_set(cache, s, t, min_frames) for s in SPLITS}


def _check_batch(cache: CropCache, clips: ClipSet, idx: np.ndarray,
                 scale_indices: Sequence[int], size: int | None) -> tuple[np.ndarray, int]:
    """Validated scale positions and window side of :func:`clip_batch`."""
    n_scales, side = cache.crops(clips.split).shape[1:3]
    size = min(DEFAULT_SIZE, side) if size is None else int(size)
    sidx = check_window(n_scales, side, scale_indices, size)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(clips)):
        raise IndexError(f"clip index out of range for a ClipSet of {len(clips)} clips")
    return sidx, size


def clip_batch(cache: CropCache, clips: ClipSet, idx: Sequence[int] | np.ndarray,
               scale_indices: Sequence[int], size: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The clips ``idx`` of ``clips`` as model input: centre crops, every frame and scale.

    Args:
        cache: the cache (or protocol view) ``clips`` was made from.
        clips: a :class:`ClipSet` of it.
        idx: clip positions in ``clips``.
        scale_indices: positions in ``cache.scales`` of the scales to return, in order.
        size: side of the centre window (default :data:`DEFAULT_SIZE`, 112, as the loader's
            test-time view; at most the cached side).

    Returns:
        ``x`` ``(B, T, S, 3, size, size)`` float32 in ``[-1, 1]`` (the normalisation of
        :func:`fas_lib.cache.loader.centre_input`) and ``y`` ``(B,)`` int64 labels (1 = bona fide).

    Raises:
        ValueError: bad ``scale_indices`` or ``size``.
        IndexError: a clip position out of range.
    """
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    sidx, size = _check_batch(cache, clips, idx, scale_indices, size)
    rows = clips.rows[idx]  # (B, T)
    uniq, inv = np.unique(rows.reshape(-1), return_inverse=True)  # sorted: sequential reads
    block = cache.crops(clips.split)[uniq[:, None], sidx[None, :]]
    x = centre_input(block, size)[torch.from_numpy(inv.reshape(-1))]
    x = x.view(len(idx), clips.t, len(sidx), 3, size, size)
    return x, torch.from_numpy(clips.labels[idx])


def motion_energy(cache: CropCache, clips: ClipSet, scale_index: int,
                  size: int | None = None) -> pd.DataFrame:
    """Mean absolute difference between consecutive frames of each clip, in grey levels.

    The difference is taken over the centre ``size`` window of the aligned crop at one scale,
    averaged over pixels, channels and the clip's consecutive pairs of *distinct* frames (a
    filled slot repeats a frame and would add a zero). Alignment removes most rigid motion, so
    what is left is expression, blinks, the medium's bending and screen artefacts.

    Returns:
        One row per clip: ``video_id``, ``label``, ``attack_type``, ``subject``, ``motion``
        (NaN for a clip of one distinct frame) and ``n_pairs``.
    """
    motion = np.full(len(clips), np.nan)
    pairs = np.zeros(len(clips), np.int64)
    for i in range(len(clips)):
        x = clip_batch(cache, clips, [i], [scale_index], size)[0][0, :, 0]  # (T, 3, s, s)
        distinct = np.r_[True, clips.rows[i, 1:] != clips.rows[i, :-1]]
        x = x[torch.from_numpy(distinct)]
        if len(x) > 1:
            motion[i] = float((x[1:] - x[:-1]).abs().mean()) * 127.5
            pairs[i] = len(x) - 1
    cols = [c for c in ("video_id", "label", "attack_type", "subject") if c in clips.videos]
    out = clips.videos[cols].copy()
    out["motion"], out["n_pairs"] = motion, pairs
    return out


def motion_separability(energy: pd.DataFrame) -> dict[str, Any]:
    """How well motion energy alone tells live from attacks.

    ``eer`` scores with ``motion`` as a bona fide score (the hypothesis "more motion = more
    live"); an EER above 50 % says that attacks move more. ``eer_either`` is the lower EER of the
    two signs (``motion`` and ``-motion``): how separable the classes are, whatever the
    direction. Both per attack type too, against the live clips.

    Returns:
        A dict with ``eer`` and ``eer_either`` (floats), ``per_attack`` and
        ``per_attack_either`` (``{attack_type: eer}``) and ``n_clips`` (NaN where a class is
        missing).
    """
    e = energy.dropna(subset=["motion"])
    live = e[e["label"] == 1]

    def _eer(part: pd.DataFrame, sign: float) -> float:
        if part["label"].nunique() < 2:
            return math.nan
        return float(eer(part["label"].to_numpy(), sign * part["motion"].to_numpy())[0])

    parts = {str(a): pd.concat([live, g])
             for a, g in e[e["label"] == 0].groupby("attack_type")}
    return {"eer": _eer(e, 1.0), "eer_either": min(_eer(e, 1.0), _eer(e, -1.0)),
            "per_attack": {a: _eer(p, 1.0) for a, p in parts.items()},
            "per_attack_either": {a: min(_eer(p, 1.0), _eer(p, -1.0)) for a, p in parts.items()},
            "n_clips": int(len(e))}


def clip_report(clips: ClipSet | Iterable[ClipSet], title: str = "clips") -> str:
    """Kept clips per split, then per split the kept clips with filled slots and one line per
    drop reason, like :func:`fas_lib.cache.build.skip_report`: ``"clips (test): 2 videos with
    fewer than 4 of 8 frames with a face"``."""
    sets = [clips] if isinstance(clips, ClipSet) else list(clips)
    kept = ", ".join(f"{c.split} {len(c)}" for c in sets)
    t = sets[0].t if sets else DEFAULT_T
    lines = [f"{title}: T={t} frames; kept {kept}"]
    for c in sets:
        n_filled = int((c.videos["n_found"] < c.t).sum()) if len(c) else 0
        if n_filled:
            lines.append(f"{title} ({c.split}): {n_filled} kept clips with missing frames "
                         "filled by the nearest frame in time")
        for reason, n in c.dropped.items():
            words = DROP_WORDS.get(reason, reason.replace("_", " "))
            lines.append(f"{title} ({c.split}): {n} "
                         + words.format(min_frames=c.min_frames, t=c.t))
    if len(lines) == 1:
        lines.append(f"{title}: nothing dropped")
    return "\n".join(lines)
