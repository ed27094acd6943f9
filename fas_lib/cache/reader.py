"""Preprocessing cache, the reader: aligned multi-scale crops of sampled video frames, read fast.

>>> from fas_lib.cache.reader import open_cache
>>> cache = open_cache(path)                    # doctest: +SKIP
>>> cache.crops("train").shape   # (N, 7, 128, 128, 3) uint8, memory-mapped  # doctest: +SKIP
>>> cache.frames("train")        # one row per frame: protocol columns + frame_idx + index

A cache is built by :func:`fas_lib.cache.build.build_cache` (what ``fas prepare`` and the
notebooks' :func:`fas_lib.cache.prepare.get_cache` call). Layout of a cache folder::

    params.json               what the cache is built from (written first; guards resumes)
    shards/<key>.npz          one finished video (written atomically; deleted once complete)
    crops_<split>.npy         (N, S, 128, 128, 3) uint8, frames in table order
    landmarks_<split>.npy     (N, 5, 2) float32, the predictor's points in frame pixels
    boxes_<split>.npy         (N, 4) float32 face box (left, top, right, bottom)
    pad_<split>.npy           (N, S) float32 share of each crop outside the frame
    depth_<split>.npy         (N, S, 128, 128) uint8 depth crops (caches built with modalities)
    nir_<split>.npy           (N, S, 128, 128) uint8 near-infrared crops (idem)
    table.csv                 one row per frame (protocol columns, frame_idx, index)
    manifest.json             dataset, protocol, parameters, versions, counts, every skip

Every per-frame array is a file ``<name>_<split>.npy`` whose rows follow the split's table rows
(:data:`ARRAYS` names them); :meth:`CropCache.array` reads any of them, so arrays a later
cache version adds (clips of T frames, depth or NIR crops per frame and scale) need no new
reader code. Depth and NIR crops (``build_cache(..., modalities=("depth", "nir"))``, ``fas
prepare --modalities depth nir``) are cut with the RGB crop's alignment matrix, so a pixel of a
frame lands on the same crop pixel in every modality (:mod:`fas_lib.cache.modalities`);
:attr:`CropCache.modalities` says which a cache holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.data.protocol import SPLITS

#: Bumped when the cache layout or contents change for the same parameters.
CACHE_VERSION = "1"
#: Extra table columns after the protocol columns.
FRAME_COLUMNS: tuple[str, ...] = ("frame_idx", "index")
#: The per-frame arrays of a cache (files ``<name>_<split>.npy``): name -> one row's contents.
ARRAYS: dict[str, str] = {
    "crops": "(S, crop_size, crop_size, 3) uint8 RGB crops, one per scale",
    "landmarks": "(5, 2) float32 predictor points in frame pixels",
    "boxes": "(4,) float32 face box (left, top, right, bottom) in frame pixels",
    "pad": "(S,) float32 share of each crop outside the frame",
    "depth": "(S, crop_size, crop_size) uint8 depth crops, same alignment as the RGB crops "
             "(nearest-neighbour: holes stay 0); only in caches built with modalities",
    "nir": "(S, crop_size, crop_size) uint8 near-infrared crops, same alignment as the RGB "
           "crops (bilinear); only in caches built with modalities",
}


class CacheError(RuntimeError):
    """A cache folder is incomplete, foreign or built with other parameters."""


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
                "with `fas prepare` or fas_lib.cache.build.build_cache"
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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its folder (a process pool's worker opens it again; nothing is copied).

        Raises:
            TypeError: a subclass that does not say how it is pickled (it would come back as
                a plain cache).
        """
        if type(self) is not CropCache:
            raise TypeError(f"{type(self).__name__} cannot be sent to another process")
        return (CropCache, (str(self.path),))

    def __repr__(self) -> str:
        m = self.manifest
        return (f"CropCache({str(self.path)!r}, dataset={m['dataset']!r}, "
                f"protocol={m['protocol']!r}, frames={len(self.table)}, scales={self.scales})")

    def array(self, name: str, split: str) -> np.ndarray:
        """The array ``name`` (a key of :data:`ARRAYS`, or any ``<name>_<split>.npy`` of the
        folder) of a split, memory-mapped when not empty, rows in table order."""
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

    @property
    def modalities(self) -> tuple[str, ...]:
        """The extra modalities the cache holds (``("depth", "nir")``), ``()`` for RGB only."""
        return tuple(self.manifest["params"].get("modalities", ()))

    def crops(self, split: str) -> np.ndarray:
        """Crops of a split, ``(N, S, 128, 128, 3)`` uint8 RGB, memory-mapped, table order."""
        return self.array("crops", split)

    def landmarks(self, split: str) -> np.ndarray:
        """The 5 predictor points of every frame, ``(N, 5, 2)`` float32 frame pixels."""
        return self.array("landmarks", split)

    def boxes(self, split: str) -> np.ndarray:
        """Face boxes ``(N, 4)`` float32 ``(left, top, right, bottom)`` in frame pixels."""
        return self.array("boxes", split)

    def pad_fraction(self, split: str) -> np.ndarray:
        """Share of each crop outside the frame (padding), ``(N, S)`` float32."""
        return self.array("pad", split)

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
