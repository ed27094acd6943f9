"""Read a crop cache for training and scoring: random (train) or centre (test) crops, batched.

>>> from fas_lib.cache.prepare import get_cache
>>> from fas_lib.cache.loader import CropDataset
>>> cache = get_cache("synthspoof", smoke=True)                     # doctest: +SKIP
>>> ds = CropDataset(cache, "train", scale_indices=[2, 3, 4], train=True)  # doctest: +SKIP
>>> loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)  # doctest: +SKIP
>>> x, y, row = next(iter(loader))   # (32, 3, 3, 112, 112) float32 in [-1, 1], labels, rows

Speed: a :class:`~torch.utils.data.DataLoader` asks for a whole batch at once
(``__getitems__``); the batch's frames are read from the memory-mapped uint8 array in one
indexing operation (only the chosen scales), cut in NumPy on uint8 and converted to float once
per batch. The random offsets of an epoch are drawn up front from ``(seed, epoch)``, so a sample's
crop does not depend on the batch it lands in or on the number of loader workers; all scales of
one sample share the offset (the scales stay nested, as in the paper's centre-aligned crops).

Whole splits in memory: :func:`load_split_tensors` (RGB, several scales) and
:func:`load_splits` (every modality at one scale, :class:`SplitData`, the multi-modal runs of
:mod:`fas_lib.training.multimodal`, which re-exports the two; :func:`split_inputs` picks their
inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from fas_lib.preprocess.augment import Augment


def to_float(batch_u8: np.ndarray, channels_last: bool = True) -> torch.Tensor:
    """uint8 crops -> float32 in ``[-1, 1]``, ``(B, S, 3, H, W)``.

    Args:
        batch_u8: ``(B, S, H, W, 3)`` (``channels_last``) or ``(B, S, 3, H, W)`` uint8.
        channels_last: layout of ``batch_u8``.
    """
    t = torch.from_numpy(np.ascontiguousarray(batch_u8))
    if channels_last:
        t = t.permute(0, 1, 4, 2, 3)
    out = torch.empty(t.shape, dtype=torch.float32)
    out.copy_(t)
    return out.mul_(1 / 127.5).sub_(1.0)


def check_window(n_scales: int, side: int, scale_indices: Sequence[int], size: int) -> np.ndarray:
    """The scale positions to read from crops of ``n_scales`` scales and side ``side``, checked
    with the window side ``size`` (every reader of the cache checks them the same way).

    Raises:
        ValueError: no scale position, one outside ``0..n_scales - 1``, or ``size`` not in
            ``1..side``.
    """
    idx = [int(i) for i in scale_indices]
    if not idx or any(i < 0 or i >= n_scales for i in idx):
        raise ValueError(f"scale_indices must be in 0..{n_scales - 1}, got {list(scale_indices)}")
    if not 1 <= size <= side:
        raise ValueError(f"size must be between 1 and the cached crop side {side}, got {size}")
    return np.asarray(idx, dtype=np.int64)


def centre_offset(side: int, size: int) -> int:
    """Top-left offset (y and x) of the centre ``size`` x ``size`` window of a ``side`` crop:
    the network's view at test time (:class:`CropDataset` with ``train=False``)."""
    return (int(side) - int(size)) // 2


def centre_input(crops_u8: np.ndarray, size: int = 112) -> torch.Tensor:
    """The model input of freshly cut crops, exactly as a cached test frame is scored.

    Args:
        crops_u8: ``(B, S, side, side, 3)`` uint8 RGB crops
            (:meth:`fas_lib.preprocess.align.FaceAligner. align_box`), the scales in the model's
        order. size: side of the centre window (paper: 112 of 128).

    Returns:
        ``(B, S, 3, size, size)`` float32 in ``[-1, 1]`` (:func:`to_float`).
    """
    o = centre_offset(crops_u8.shape[2], size)
    return to_float(crops_u8[:, :, o:o + size, o:o + size], channels_last=True)


def modality_batch(cache: Any, split: str, rows: Sequence[int], scale_index: int | None = None,
                   size: int | None = None, modalities: Sequence[str] | None = None,
                   ) -> dict[str, torch.Tensor]:
    """One scale of some frames in every cached modality, as the multi-modal models take them.

    The RGB, depth and NIR crops of a frame share one alignment (:mod:`fas_lib.cache.modalities`)
    and are cut here to the same centre window, so they stay pixel-aligned. Every modality is
    scaled like RGB (:func:`to_float`: uint8 ``v`` -> ``v / 127.5 - 1``, in ``[-1, 1]``).

    Args:
        cache: a crop cache (:class:`~fas_lib.cache.reader.CropCache` or a protocol view of one)
            built with modalities.
        split: ``"train"``, ``"dev"`` or ``"test"``.
        rows: positions in ``cache.frames(split)``.
        scale_index: position in ``cache.scales`` (``None``: the cached scale nearest 1.0).
        size: side of the centre window (as :func:`centre_input`; ``None``: the whole crop).
        modalities: the modalities besides RGB (``None``: all the cache holds, at least one).

    Returns:
        ``{"rgb": (B, 3, h, w), "depth": (B, 1, h, w), "nir": (B, 1, h, w)}`` float32 (one
        key per modality asked for), ``"label"`` ``(B,)`` int64 (1 = bona fide) and ``"row"``
        ``(B,)`` int64.

    Raises:
        ValueError: a modality the cache does not hold, a scale index or size out of range.
        IndexError: a row out of range.
    """
    held = tuple(getattr(cache, "modalities", ()))
    mods = held if modalities is None else tuple(modalities)
    if (modalities is None and not held) or any(m not in held for m in mods):
        raise ValueError(f"the cache holds the modalities {held}, not {list(mods)}; build it "
                         "with modalities=('depth', 'nir') (fas prepare --modalities depth nir)")
    scales = np.asarray(cache.scales, dtype=np.float64)
    k = int(np.argmin(np.abs(scales - 1.0))) if scale_index is None else int(scale_index)
    if not 0 <= k < len(scales):
        raise ValueError(f"scale_index must be in 0..{len(scales) - 1}, got {scale_index}")
    crops = cache.crops(split)
    side = crops.shape[2]
    size = side if size is None else int(size)
    if not 1 <= size <= side:
        raise ValueError(f"size must be between 1 and the cached crop side {side}, got {size}")
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(crops)):
        raise IndexError(f"row out of range for a split of {len(crops)} frames")
    o = centre_offset(side, size)
    win = slice(o, o + size)
    out = {"rgb": to_float(crops[rows, k][:, None, win, win], channels_last=True)[:, 0]}
    for m in mods:
        block = cache.array(m, split)[rows, k][:, None, None, win, win]
        out[m] = to_float(block, channels_last=False)[:, 0]
    labels = cache.frames(split)["label"].to_numpy(dtype=np.int64)
    out["label"] = torch.from_numpy(labels[rows])
    out["row"] = torch.from_numpy(rows)
    return out


class CropDataset(torch.utils.data.Dataset):
    """Frames of one split of a crop cache as ``(x, label, row)`` samples.

    Args:
        cache: a :class:`~fas_lib.cache.reader.CropCache` (anything with ``.crops(split)`` and
            ``.frames(split)``).
        split: ``"train"``, ``"dev"`` or ``"test"``.
        scale_indices: positions in ``cache.scales`` of the scales to return, in order.
        train: random ``size`` crops (same offset for all scales of a sample) when True,
            centre crops when False.
        size: side of the returned crops (paper: 112 out of 128).
        seed: seed of the random crops; epoch ``e`` uses offsets drawn from ``(seed, e)``.
        augment: training augmentation (:class:`fas_lib.preprocess.augment.Augment`), one draw per
            sample from ``(seed, e)`` applied to all its scales; ``None`` (or nothing enabled):
            none, and no draws.

    Item: ``x`` float32 ``(len(scale_indices), 3, size, size)`` in ``[-1, 1]``, ``label`` int64
    (1 = bona fide), ``row`` int (position in ``cache.frames(split)``).
    """

    def __init__(self, cache: Any, split: str, scale_indices: Sequence[int], train: bool,
                 size: int = 112, seed: int = 0, augment: Augment | None = None) -> None:
        self.crops = cache.crops(split)
        frames = cache.frames(split)
        if len(frames) != len(self.crops):
            raise ValueError(f"cache split {split!r}: {len(frames)} table rows but "
                             f"{len(self.crops)} crops")
        self.labels = frames["label"].to_numpy(dtype=np.int64)
        self.scale_indices = check_window(self.crops.shape[1], self.crops.shape[2],
                                          scale_indices, size)
        self.split, self.train, self.size, self.seed = split, bool(train), int(size), int(seed)
        self.epoch = 0
        self._offsets: np.ndarray | None = None
        self.augment = augment if augment and self.train else None
        self._draws: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def set_epoch(self, epoch: int) -> None:
        """Draw new random crops for ``epoch`` (training only)."""
        self.epoch = int(epoch)
        self._offsets = None
        self._draws = None

    def offsets(self) -> np.ndarray:
        """``(N, 2)`` top-left (y, x) crop offsets of every sample for the current epoch."""
        if self._offsets is None:
            side = self.crops.shape[2]
            margin = side - self.size
            if self.train:
                rng = np.random.default_rng([self.seed, self.epoch])
                self._offsets = rng.integers(0, margin + 1, size=(len(self), 2))
            else:
                self._offsets = np.full((len(self), 2), centre_offset(side, self.size),
                                        dtype=np.int64)
        return self._offsets

    def batch(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Samples ``rows`` as batched tensors ``(x (B, S, 3, size, size), labels, rows)``."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError(f"row out of range for a split of {len(self)} frames")
        rows = rows % max(len(self), 1)
        order = np.argsort(rows, kind="stable")  # sorted reads are sequential on disk
        block = self.crops[rows[order][:, None], self.scale_indices[None, :]]
        out = np.empty((len(rows), len(self.scale_indices), 3, self.size, self.size), np.uint8)
        offs, s = self.offsets(), self.size
        for j, i in enumerate(order):  # crop and move channels first in one uint8 copy
            y, x = offs[rows[i]]
            out[i] = block[j, :, y:y + s, x:x + s].transpose(0, 3, 1, 2)
        if self.augment is not None:
            if self._draws is None:
                self._draws = self.augment.draw(len(self), self.seed, self.epoch)
            out = self.augment.apply_batch(out, self._draws[0][rows], self._draws[1][rows])
        return (to_float(out, channels_last=False), torch.from_numpy(self.labels[rows]),
                torch.from_numpy(rows))

    def __getitems__(self, rows: list[int]) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
        """What a DataLoader calls for a batch: one read and one conversion for all rows."""
        x, y, r = self.batch(rows)
        return [(x[k], y[k], int(r[k])) for k in range(len(r))]

    def __getitem__(self, row: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """One sample ``(x, label, row)``; a list of rows gives a whole batch (see :meth:`loader`)."""
        if isinstance(row, (list, tuple, np.ndarray, torch.Tensor)):
            return self.batch(np.asarray(row))
        x, y, r = self.batch([row])
        return x[0], y[0], int(r[0])

    def loader(self, batch_size: int, shuffle: bool = False,
               generator: torch.Generator | None = None,
               drop_last: bool = False) -> torch.utils.data.DataLoader:
        """A DataLoader whose batches are read whole, with no per-sample collation copy.

        Yields ``(x (B, S, 3, size, size), labels (B,), rows (B,))`` exactly like
        ``DataLoader(self, batch_size, shuffle)``, about twice as fast on 2 cores.
        """
        sampler: torch.utils.data.Sampler = (
            torch.utils.data.RandomSampler(self, generator=generator) if shuffle
            else torch.utils.data.SequentialSampler(self))
        batches = torch.utils.data.BatchSampler(sampler, batch_size, drop_last)
        return torch.utils.data.DataLoader(self, sampler=batches, batch_size=None,
                                           generator=generator)


class SplitTensors(NamedTuple):
    """A whole split in memory: ``x`` (N, S, 3, size, size) float32, ``y`` (N,) int64, frames."""

    x: torch.Tensor
    y: torch.Tensor
    frames: pd.DataFrame


def load_split_tensors(cache: Any, split: str, scale_indices: Sequence[int], size: int = 112,
                       chunk: int = 256) -> SplitTensors:
    """Centre crops of a whole split as tensors (for small caches and quick experiments).

    Args:
        cache: a crop cache.
        split: ``"train"``, ``"dev"`` or ``"test"``.
        scale_indices: positions in ``cache.scales``.
        size: crop side (centre crop of the cached crops).
        chunk: frames converted at a time.

    Returns:
        ``SplitTensors(x, y, frames)``; ``frames`` is ``cache.frames(split)``.
    """
    ds = CropDataset(cache, split, scale_indices, train=False, size=size)
    n = len(ds)
    x = torch.empty((n, len(ds.scale_indices), 3, size, size), dtype=torch.float32)
    for start in range(0, n, chunk):
        x[start:start + chunk] = ds.batch(np.arange(start, min(n, start + chunk)))[0]
    return SplitTensors(x, torch.from_numpy(ds.labels.copy()), cache.frames(split))


class SplitData(NamedTuple):
    """A whole split in memory: ``x`` ``{modality: (N, C, S, S)}`` float32 in ``[-1, 1]``,
    labels ``y`` (N,) int64, and the cache's ``frames`` table of the split (the multi-modal
    runs of :mod:`fas_lib.training.multimodal`)."""

    x: dict[str, torch.Tensor]
    y: torch.Tensor
    frames: pd.DataFrame


def load_splits(cache: Any, scale: float, size: int | None = None, splits: tuple[str, ...] = (
        "train", "dev", "test"), chunk: int = 256) -> dict[str, SplitData]:
    """Every modality of the given splits at one cached scale, in memory.

    Args:
        cache: a crop cache with modality crops (:class:`fas_lib.cache.reader.CropCache`).
        scale: one of ``cache.scales``.
        size: centre crop side (``None``: the cached side).
        splits: the splits to load.
        chunk: frames read per :func:`modality_batch` call.

    Raises:
        ValueError: ``scale`` is not cached, or a split is empty.
    """
    scales = [float(s) for s in cache.scales]
    if not any(abs(s - scale) < 1e-9 for s in scales):
        raise ValueError(f"scale {scale} is not in the cache (it has {scales})")
    index = min(range(len(scales)), key=lambda i: abs(scales[i] - scale))
    out = {}
    for split in splits:
        frames = cache.frames(split)
        if len(frames) == 0:
            raise ValueError(f"the cache's {split!r} split is empty")
        parts = [modality_batch(cache, split, np.arange(a, min(a + chunk, len(frames))),
                                scale_index=index, size=size)
                 for a in range(0, len(frames), chunk)]
        x = {m: torch.cat([p[m] for p in parts]) for m in ("rgb", *cache.modalities)}
        out[split] = SplitData(x, torch.tensor(frames["label"].to_numpy(np.int64)), frames)
    return out


def split_inputs(data: SplitData, modalities: Sequence[str],
                 rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """The model inputs ``{modality: x[rows]}`` of some frames of a split.

    Raises:
        ValueError: the split has no crops of one of ``modalities``.
    """
    missing = [m for m in modalities if m not in data.x]
    if missing:
        raise ValueError(f"the cache has no {missing} crops (it has {sorted(data.x)}); build it "
                         "with modalities=('depth', 'nir')")
    return {m: data.x[m][rows] for m in modalities}
