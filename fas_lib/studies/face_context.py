"""Face or context: which part of a wide crop a single-scale CNN learns from.

A crop at scale ``s`` holds the aligned face, the part the scale-1.0 crop shows (its centre
``size / s`` pixels square), and a ring of context around it: hair, background and, in an
attack, the medium's border, a bezel, the fingers that hold it. Training the same network on
the crops with the ring greyed (``"face"``) and with the face greyed (``"context"``) shows
what each part alone carries, and whether the full crop's network combines them (it then
beats both) or uses one of them (it then scores like that one).

On SynthSpoof (issue 21; ``benchmarks/bench_realism.py --face-context``) the networks score
like one part: like the face up to about 1.4, like the context from 2.0 on (at 2.7 the whole
crop beats the context alone by 0.9 points), so the paper's scales stay flat. On real data the wide
scales win from 1.3 (Replay-Attack, the course's own runs); the same study on a real dataset's cache
tells which part carries that gain there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.cache.reader import CropCache
from fas_lib.studies.tables import run_many
from fas_lib.training.config import ExperimentConfig

#: The grey that replaces the hidden part (mid-grey, what the network's normalisation centres).
GREY: int = 128
#: The parts a study trains on: the whole crop, the face alone, the context alone.
PARTS: tuple[str, ...] = ("full", "face", "context")


def face_side(scale: float, size: int) -> int:
    """Side in pixels of the face part (the scale-1.0 crop) of a ``size`` crop at ``scale``."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return round(size / max(scale, 1.0))


def mask_crops(crops: np.ndarray, scales: Sequence[float], keep: str) -> np.ndarray:
    """A copy of ``crops`` ``(N, S, H, W, C)`` with one part of every crop greyed.

    Args:
        crops: crops of a cache split, one column per scale.
        scales: the scale of each column.
        keep: ``"face"`` (the context ring greyed) or ``"context"`` (the face greyed; a
            crop at scale <= 1 is then all grey: it has no context).
    """
    if keep not in ("face", "context"):
        raise ValueError(f"keep must be 'face' or 'context', got {keep!r}")
    if crops.ndim != 5 or crops.shape[1] != len(scales):
        raise ValueError(f"crops must be (N, {len(scales)}, H, W, C), got {crops.shape}")
    size = crops.shape[2]
    out = np.full_like(crops, GREY) if keep == "face" else np.array(crops)
    for j, s in enumerate(scales):
        side = face_side(s, size)
        o = (size - side) // 2
        window = (slice(None), j, slice(o, o + side), slice(o, o + side))
        out[window] = crops[window] if keep == "face" else GREY
    return out


class MaskedCropCache(CropCache):
    """A crop cache whose crops show only the face or only the context (:func:`mask_crops`).

    Its manifest says which (``params["view"]``), so its runs get their own folders
    (:func:`fas_lib.training.runs.data_key`). The masked crops are built once per split, in memory.
    """

    def __init__(self, path: str | Path, keep: str) -> None:
        super().__init__(path)
        if keep not in ("face", "context"):
            raise ValueError(f"keep must be 'face' or 'context', got {keep!r}")
        self.keep = keep
        self.manifest = {**self.manifest,
                         "params": {**self.manifest["params"], "view": keep}}

    def __repr__(self) -> str:
        return f"MaskedCropCache({str(self.path)!r}, keep={self.keep!r})"

    def array(self, name: str, split: str) -> np.ndarray:
        if name != "crops":
            return super().array(name, split)
        key = ("masked_crops", split)
        if key not in self._arrays:
            self._arrays[key] = mask_crops(super().array(name, split), self.scales, self.keep)
        return self._arrays[key]


def face_context_study(cache: CropCache, scales: Sequence[float], out_root: str | Path,
                       preset: str = "cpu", seed: int = 0, backbone: str = "cnn_s",
                       progress: bool = True) -> pd.DataFrame:
    """Train (or read back) one single-scale network per scale and part (:data:`PARTS`).

    The ``"full"`` runs are those of :func:`fas_lib.studies.tables.table_ii` on the same cache
    and settings (same folders under ``out_root``: read back when they exist); the masked
    runs go to ``out_root / "face_context"``, apart from the runs of the whole crops. A
    scale <= 1 has no context: only its ``"full"`` and ``"face"`` runs are trained.

    Returns:
        One row per run: ``scale``, ``part``, ``test_eer``, ``dev_eer``, ``run_dir``.
    """
    rows: list[dict[str, Any]] = []
    for part in PARTS:
        part_scales = [float(s) for s in scales if part != "context" or s > 1.0]
        if not part_scales:
            continue
        view = cache if part == "full" else MaskedCropCache(cache.path, part)
        configs = [ExperimentConfig(backbone=backbone, fusion="single", scales=(s,),
                                    preset=preset, seed=seed) for s in part_scales]
        root = Path(out_root) if part == "full" else Path(out_root) / "face_context"
        results = run_many(configs, root, cache=view, progress=progress, desc=f"{part} runs")
        for s, res in zip(part_scales, results):
            frame = res["metrics"]["frame"]
            rows.append({"scale": s, "part": part, "test_eer": frame["test_eer"],
                         "dev_eer": frame.get("dev_eer"), "run_dir": res["run_dir"]})
    return pd.DataFrame(rows)


def face_context_table(study: pd.DataFrame) -> pd.DataFrame:
    """Test EER (%) per scale (rows) and part (columns), and which part the full crop's
    network scores like (``"uses"``: the part whose EER is nearer the full crop's; ``"both"``
    when the full crop beats each part by more than one point)."""
    t = (100 * study.pivot(index="scale", columns="part", values="test_eer")).reindex(
        columns=[p for p in PARTS if p in set(study["part"])])
    uses = []
    for _, r in t.iterrows():
        parts = {p: r[p] for p in ("face", "context") if p in r and pd.notna(r[p])}
        if parts and all(r["full"] < v - 1.0 for v in parts.values()):
            uses.append("both")
        elif parts:
            uses.append(min(parts, key=lambda p: abs(parts[p] - r["full"])))
        else:
            uses.append("")
    return t.assign(uses=uses)
