"""A crop cache seen under a shift protocol (:mod:`fas_lib.data.shift`), without re-cutting.

:class:`ProtocolView` is a :class:`~fas_lib.cache.reader.CropCache` whose tables and arrays are
the rows a protocol keeps; :func:`protocol_view` returns the cache itself for ``standard``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fas_lib.cache.reader import CropCache
from fas_lib.data.protocol import SPLITS, ProtocolError
from fas_lib.data.shift import fold_name, select

__all__ = ["ProtocolView", "protocol_view"]


class ProtocolView(CropCache):
    """A crop cache seen under a shift protocol: only the rows the protocol keeps.

    The arrays of a split are read from the base cache (the selected rows, in memory); the
    manifest is the base's with ``protocol``, ``fold`` and the frame counts of the view, so a
    run's folder (:func:`fas_lib.training.runs.data_key`) tells protocols and folds apart.

    Attributes:
        base: the cache of the ``standard`` protocol it views.
    """

    def __init__(self, base: CropCache, protocol: str, fold: int | str | None = None) -> None:
        keep = select(base.table, protocol, fold)
        table = base.table[keep].copy()
        self.base = base
        self._view = (protocol, fold)
        self.path: Path = base.path
        self.scales = base.scales
        self._rows: dict[str, np.ndarray] = {}
        for split in SPLITS:
            part = table["split"] == split
            rows = table.loc[part].sort_values("index")
            self._rows[split] = rows["index"].to_numpy()
            table.loc[rows.index, "index"] = np.arange(len(rows))
        self.table = table.reset_index(drop=True)
        name = fold_name(base.table, protocol, fold)
        manifest: dict[str, Any] = dict(base.manifest)
        manifest.update(protocol=str(protocol).lower(), fold=name, base_cache=str(base.path),
                        counts={**manifest.get("counts", {}), "frames": len(self.table)})
        self.manifest = manifest
        self._arrays: dict[tuple[str, str], np.ndarray] = {}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its base cache and protocol (the rows are selected again, not copied)."""
        return (ProtocolView, (self.base, *self._view))

    def __repr__(self) -> str:
        m = self.manifest
        return (f"ProtocolView({str(self.path)!r}, protocol={m['protocol']!r}, fold={m['fold']!r}"
                f", frames={len(self.table)}, scales={self.scales})")

    def rows(self, split: str) -> np.ndarray:
        """Positions in the base cache's ``split`` arrays of this view's ``split`` rows, in
        the view's order (what :meth:`array` reads)."""
        return self._rows[split]

    def array(self, name: str, split: str) -> np.ndarray:
        """The base cache's array ``name`` of ``split``, the rows this protocol keeps."""
        key = (name, split)
        if key not in self._arrays:
            self._arrays[key] = np.ascontiguousarray(self.base.array(name, split)[
                self.rows(split)])
        return self._arrays[key]


def protocol_view(cache: CropCache, protocol: str | None,
                  fold: int | str | None = None) -> CropCache:
    """``cache`` itself for ``standard`` / ``None``, else a :class:`ProtocolView` of it."""
    if protocol is None or str(protocol).lower() in ("standard", "default"):
        if fold is not None:
            raise ProtocolError(f"the standard protocol has no folds; got fold={fold!r}")
        return cache
    return ProtocolView(cache, protocol, fold)
