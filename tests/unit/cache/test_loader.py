"""Tests of fas_lib.cache.loader on a tiny in-memory stand-in of a crop cache (random uint8 crops).

The memory-mapped path (a real CropCache) is tested in test_cache.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fas_lib.cache.loader import CropDataset, load_split_tensors, to_float


class ArrayCache:
    """``.crops(split)`` and ``.frames(split)`` over random arrays: 10 frames, 4 scales."""

    def __init__(self, n: int = 10, n_scales: int = 4, side: int = 128) -> None:
        rng = np.random.default_rng(0)
        self.scales = tuple(1.0 + 0.1 * i for i in range(n_scales))
        self.array = rng.integers(0, 256, size=(n, n_scales, side, side, 3), dtype=np.uint8)
        self.table = pd.DataFrame({"split": "train", "label": np.arange(n) % 2,
                                   "index": np.arange(n), "video_id": [f"v{i // 2}" for i in
                                                                       range(n)]})

    def crops(self, split: str) -> np.ndarray:
        return self.array

    def frames(self, split: str) -> pd.DataFrame:
        return self.table


def as_u8(x: torch.Tensor) -> np.ndarray:
    """(S, 3, H, W) in [-1, 1] -> (S, H, W, 3) uint8 (exact inverse of to_float)."""
    return np.rint((x.numpy() + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)


def find_offset(crop: np.ndarray, full: np.ndarray, size: int) -> tuple[int, int]:
    for y in range(full.shape[0] - size + 1):
        for x in range(full.shape[1] - size + 1):
            if np.array_equal(full[y:y + size, x:x + size], crop):
                return y, x
    raise AssertionError("crop not found in the cached image")


def test_to_float_range_and_layout():
    u8 = np.array([0, 255, 128], np.uint8).reshape(1, 1, 1, 1, 3)
    t = to_float(u8)
    assert t.shape == (1, 1, 3, 1, 1) and t.dtype == torch.float32
    np.testing.assert_allclose(t.flatten().numpy(), [-1, 1, 128 / 127.5 - 1], atol=1e-6)
    first = to_float(u8.transpose(0, 1, 4, 2, 3), channels_last=False)
    torch.testing.assert_close(first, t, rtol=0, atol=0)


def test_centre_crop_at_test_time():
    cache = ArrayCache()
    ds = CropDataset(cache, "test", [3, 1], train=False, size=112)
    x, y, row = ds[4]
    assert x.shape == (2, 3, 112, 112) and y.dtype == torch.int64 and int(y) == 0 and row == 4
    np.testing.assert_array_equal(as_u8(x), cache.array[4, [3, 1], 8:120, 8:120])
    assert x.min() >= -1 and x.max() <= 1


def test_random_crop_shared_by_scales_and_reproducible():
    cache = ArrayCache()
    ds = CropDataset(cache, "train", [0, 2, 3], train=True, size=100, seed=5)
    x = as_u8(ds[7][0])
    off = find_offset(x[0], cache.array[7, 0], 100)
    for k, s in enumerate([0, 2, 3]):  # every scale cut at the same offset
        np.testing.assert_array_equal(x[k], cache.array[7, s, off[0]:off[0] + 100,
                                                        off[1]:off[1] + 100])
    again = CropDataset(cache, "train", [0, 2, 3], train=True, size=100, seed=5)
    np.testing.assert_array_equal(as_u8(again[7][0]), x)  # same seed, same epoch: same crop
    offsets = ds.offsets().copy()
    ds.set_epoch(1)
    assert not np.array_equal(ds.offsets(), offsets)  # a new epoch draws new crops
    assert ds.offsets().min() >= 0 and ds.offsets().max() <= 28
    other = CropDataset(cache, "train", [0, 2, 3], train=True, size=100, seed=6)
    assert not np.array_equal(other.offsets(), offsets)


def test_batched_reads_equal_single_reads_in_any_order():
    cache = ArrayCache()
    ds = CropDataset(cache, "train", [1, 2], train=True, seed=1)
    rows = [9, 2, 2, 5, 0]
    x, y, r = ds.batch(rows)
    assert r.tolist() == rows and y.tolist() == [1, 0, 0, 1, 0]
    for k, row in enumerate(rows):
        torch.testing.assert_close(x[k], ds[row][0], rtol=0, atol=0)


def test_dataloader_uses_whole_batches():
    cache = ArrayCache()
    ds = CropDataset(cache, "train", [0, 1, 2], train=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    seen = []
    for x, y, row in loader:
        assert x.shape[1:] == (3, 3, 112, 112) and x.dtype == torch.float32
        assert y.tolist() == (row % 2).tolist()
        for k in range(len(row)):
            torch.testing.assert_close(x[k], ds[int(row[k])][0], rtol=0, atol=0)
        seen += row.tolist()
    assert sorted(seen) == list(range(10))
    # ds.loader(): the same batches, read whole (no per-sample collation)
    plain = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True,
                                        generator=torch.Generator().manual_seed(7))
    fast = ds.loader(4, shuffle=True, generator=torch.Generator().manual_seed(7))
    pairs = list(zip(plain, fast, strict=True))
    assert len(pairs) == 3
    for a, b in pairs:
        for u, v in zip(a, b, strict=True):
            torch.testing.assert_close(u, v, rtol=0, atol=0)
    x, y, row = ds[[5, 1]]
    assert x.shape == (2, 3, 3, 112, 112) and row.tolist() == [5, 1]
    sub = torch.utils.data.Subset(ds, [3, 4])  # Subset forwards to __getitems__
    x, _, row = next(iter(torch.utils.data.DataLoader(sub, batch_size=2)))
    assert row.tolist() == [3, 4] and x.shape[0] == 2


def test_load_split_tensors_equals_centre_crops():
    cache = ArrayCache()
    st = load_split_tensors(cache, "dev", [2], size=112, chunk=3)
    assert st.x.shape == (10, 1, 3, 112, 112) and st.y.tolist() == [0, 1] * 5
    ds = CropDataset(cache, "dev", [2], train=False)
    torch.testing.assert_close(st.x[6], ds[6][0], rtol=0, atol=0)
    assert len(st.frames) == 10


def test_bad_arguments_are_clear():
    cache = ArrayCache()
    with pytest.raises(ValueError, match="scale_indices must be in 0..3"):
        CropDataset(cache, "train", [4], train=True)
    with pytest.raises(ValueError, match="size must be"):
        CropDataset(cache, "train", [0], train=True, size=129)
    with pytest.raises(IndexError):
        CropDataset(cache, "train", [0], train=False)[10]
