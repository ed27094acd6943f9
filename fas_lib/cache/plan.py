"""Crop cache, the plan: which videos and frames a build caches, and how much disk it takes.

>>> from fas_lib.cache.plan import estimate_cache
>>> est = estimate_cache(table, root, scales=SCALES, n_frames=20)  # doctest: +SKIP
>>> print(est.describe())                                           # doctest: +SKIP
crop cache: at most 24,000 frames of 1,200 videos x 7 scales ...

:func:`fas_lib.cache.build.build_cache` plans a build with these functions before it decodes
anything:

* :func:`limit_videos`: the first k videos of every (split, attack type) (smoke runs);
* :func:`sample_frame_rows`: for a table whose rows are a video's image frames (an adapter with
  ``frames_as_rows``, the generic CSV), the frames a video file of that many frames would give:
  the same :func:`fas_lib.data.io.sample_indices` picks them;
* :func:`estimate_cache`: the disk a finished cache takes, from the per-frame arrays of
  :data:`fas_lib.cache.reader.ARRAYS`. Per frame and scale the RGB crop is ``crop_size**2 * 3``
  bytes (uint8), a depth or NIR crop ``crop_size**2``; per frame the landmarks (``5 * 2`` float32),
  box (``4`` float32) and padding (``S`` float32) add ``56 + 4 S`` bytes. So::

      bytes = frames * (S * crop_size**2 * (3 + n_modalities) + 56 + 4 * S)

  e.g. 128 px crops: 49,152 bytes per frame and scale; Replay-Attack's 1,200 videos at 20
  frames each: 1.18 GB (1.10 GiB) per scale. While a cache is built, the per-video shards
  hold the same crops until the final arrays are written, so the build needs about twice that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fas_lib.cache.modalities import check_modalities
from fas_lib.core.utils import human_bytes
from fas_lib.data.io import MediaError, frame_count, is_video, natural_key, sample_indices

#: Bytes per frame of the per-frame arrays that do not depend on the crop size: landmarks
#: ``(5, 2)`` and box ``(4,)`` float32 (the ``(S,)`` float32 padding is added per scale).
FIXED_BYTES_PER_FRAME: int = (5 * 2 + 4) * 4


def limit_videos(table: pd.DataFrame, per_group: int | None,
                 by_video: bool = False) -> pd.DataFrame:
    """The first ``per_group`` videos of every (split, attack type), in table order.

    Args:
        table: a protocol table.
        per_group: videos to keep per group; ``None`` keeps all.
        by_video: count distinct ``video_id`` values (rows that are frames of one video stay
            together) instead of rows.
    """
    if per_group is None:
        return table
    if not by_video:
        return table.groupby(["split", "attack_type"], sort=False).head(per_group)
    firsts = table.drop_duplicates("video_id").groupby(["split", "attack_type"], sort=False)
    return table[table["video_id"].isin(firsts.head(per_group)["video_id"])]


def sample_frame_rows(table: pd.DataFrame, every: int | None,
                      n_frames: int | None) -> tuple[pd.DataFrame, list[int | None]]:
    """The rows of a table whose rows are frames that a video's sampling keeps.

    Rows sharing a ``video_id`` are one video's frames in natural path order
    (:func:`fas_lib.data.io.natural_key`): frame ``i`` is the ``i``-th. Of a video of ``n`` frames
    the rows :func:`fas_lib.data.io.sample_indices` ``(n, every, n_frames)`` picks are kept, exactly
    the frames a video file of ``n`` frames would give. A row alone in its video (a video
    file, a frame folder, one image) is kept as it is.

    Returns:
        The kept rows in table order, and for each its frame index in its video (``None`` for
        a row that is a whole video).
    """
    position = {label: i for i, label in enumerate(table.index)}
    kept: list[tuple[int, object, int | None]] = []
    for _, group in table.groupby("video_id", sort=False):
        if len(group) == 1:
            kept.append((position[group.index[0]], group.index[0], None))
            continue
        order = sorted(group.index, key=lambda i: natural_key(str(table.at[i, "path"])))
        for k in sample_indices(len(order), every, n_frames):
            kept.append((position[order[k]], order[k], k))
    kept.sort(key=lambda t: t[0])
    return table.loc[[label for _, label, _ in kept]], [k for _, _, k in kept]


def frames_per_row(table: pd.DataFrame, root: Path, every: int | None,
                   n_frames: int | None) -> list[int]:
    """How many frames each row gives at most: 1 for an image, the frames
    :func:`~fas_lib.data.io.sample_indices` picks of a frame folder's images or a video's frames.

    A video with ``n_frames`` (and no ``every``) counts ``n_frames`` without being opened (an
    upper bound: a shorter video gives fewer); otherwise its header is read. A row whose file
    cannot be used counts 0 (the build skips it).
    """
    out = []
    for rel in table["path"].astype(str):
        path = root / rel
        if is_video(path) and n_frames is not None and every is None:
            out.append(int(n_frames))
            continue
        try:
            n = frame_count(path)
        except MediaError:
            n = 0
        out.append(len(sample_indices(n, every, n_frames)))
    return out


def bytes_per_frame(n_scales: int, crop_size: int, modalities: Iterable[str] = ()) -> int:
    """Bytes one cached frame takes in the arrays of :data:`fas_lib.cache.reader.ARRAYS`.

    ``S * crop_size**2 * (3 + n_modalities)`` uint8 crop bytes, ``4 * S`` float32 padding and
    :data:`FIXED_BYTES_PER_FRAME`.
    """
    n_mod = len(check_modalities(modalities))
    crop = n_scales * crop_size * crop_size * (3 + n_mod) * np.dtype(np.uint8).itemsize
    return int(crop + n_scales * np.dtype(np.float32).itemsize + FIXED_BYTES_PER_FRAME)


@dataclass(frozen=True)
class CacheEstimate:
    """The disk a crop cache takes (:func:`estimate_cache`).

    Attributes:
        n_videos: videos (distinct ``video_id``) to cache.
        n_frames: frames to cache, at most (frames without a face are left out).
        n_scales: crop scales.
        crop_size: crop side in pixels.
        modalities: extra modalities cached (``("depth", "nir")`` or a part).
        bytes_per_frame: :func:`bytes_per_frame`.
    """

    n_videos: int
    n_frames: int
    n_scales: int
    crop_size: int
    modalities: tuple[str, ...]
    bytes_per_frame: int

    @property
    def total_bytes(self) -> int:
        """Bytes of the finished cache's arrays."""
        return self.n_frames * self.bytes_per_frame

    @property
    def bytes_per_scale(self) -> int:
        """Bytes one scale adds (its RGB crops and padding, and the modalities' crops)."""
        per = self.crop_size ** 2 * (3 + len(self.modalities)) + 4
        return self.n_frames * per

    @property
    def peak_bytes(self) -> int:
        """Bytes while it is built: the per-video shards and the final arrays both."""
        return 2 * self.total_bytes

    def describe(self) -> str:
        """One line, e.g. ``crop cache: at most 24,000 frames of 1,200 videos x 9 scales ...``."""
        mods = f" + {', '.join(self.modalities)}" if self.modalities else ""
        return (f"crop cache: at most {self.n_frames:,} frames of {self.n_videos:,} videos x "
                f"{self.n_scales} scales of {self.crop_size} x {self.crop_size} px RGB{mods} = "
                f"{human_bytes(self.total_bytes)} on disk ({human_bytes(self.bytes_per_scale)} "
                f"per scale); about {human_bytes(self.peak_bytes)} free while it is built")


def estimate_cache(table: pd.DataFrame, root: str | Path, scales: Iterable[float],
                   crop_size: int, every: int | None = None, n_frames: int | None = None,
                   modalities: Iterable[str] = (),
                   frame_rows: bool = False) -> CacheEstimate:
    """How much disk the crop cache of ``table`` takes once built (see the module docstring).

    Args:
        table: the protocol table to cache (after :func:`limit_videos`).
        root: the dataset root its paths are relative to.
        scales: crop scales.
        crop_size: crop side in pixels.
        every, n_frames: the frame sampling (:func:`fas_lib.data.io.sample_indices`).
        modalities: ``("depth", "nir")`` or a part.
        frame_rows: the table's rows are frames (apply :func:`sample_frame_rows` first).

    Returns:
        The estimate; ``describe()`` gives the line ``fas prepare`` prints.
    """
    if frame_rows:  # each kept row is one image frame
        table, _ = sample_frame_rows(table, every, n_frames)
    frames = frames_per_row(table, Path(root), every, n_frames)
    n_scales = len(tuple(scales))
    mods = check_modalities(modalities)
    return CacheEstimate(int(table["video_id"].nunique()), int(sum(frames)), n_scales,
                         int(crop_size), mods, bytes_per_frame(n_scales, crop_size, mods))
