"""What a clip model reads: :class:`ClipConfig`, the clip data and :func:`clip_input`.

A clip run (:mod:`fas_lib.training.clips`) is defined by a :class:`ClipConfig` (model, scales,
frames ``t``, input size, optimiser, seed) and trains on :data:`ClipData`: ``"train"`` /
``"dev"`` / ``"test"`` mapped to lists of :class:`ClipSource` (a clip cache and a
:class:`~fas_lib.cache.clips.ClipSet` of it), so that one split can hold clips of several caches
(the data ablation: live videos and real replays of one cache, synthesized replays of another).

Inputs (:func:`clip_input`): the cached crops (128 px, :func:`~fas_lib.cache.clips.clip_batch`) are
cut to a ``window`` (112, as the frame pipeline: random in training with one offset per clip, shared
by its frames and scales; the centre at test), then resized to ``input_size`` (antialiased
bilinear; the CPU study uses 64 px). A clip of ``t`` frames takes ``t`` evenly spaced frames of
the cached ``T`` (:func:`frame_positions`), so ``T = 8`` clips serve ``t = 1, 4, 8``.

The defaults are notebook 09's CPU study preset: CNN_S on 64 px frames, STASN with ``K = 4``
regions of a quarter of the frame side cropped at zoom 2 (32 px), an LSTM of 128, SGD at 3e-3
(the frame models' CPU preset) for 6 epochs of batches of 8 clips, decayed after 4. Measured on
the default SynthSpoof's 288 training clips (T = 8, one busy thread): an epoch of the full
STASN takes about 5 s, of MS-FANS over time (3 scales) about 7 s; after 6 epochs MS-FANS over
time reached a video-level test EER of 8.8 %, STASN 10 % (replays the hardest type).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fas_lib.cache.clips import ClipSet, clip_batch
from fas_lib.cache.loader import centre_offset
from fas_lib.models import STASN, TemporalMultiScaleNet
from fas_lib.training.config import scale_indices
from fas_lib.training.engine import opt_in_dict

__all__ = [
    "CLIP_MODELS", "ClipConfig", "ClipData", "ClipSource", "build_clip_model", "clip_input",
    "frame_positions", "split_data", "subset_clips",
]

#: The models :func:`run_clip_experiment` trains (:class:`ClipConfig` ``model``).
CLIP_MODELS: tuple[str, ...] = ("stasn", "msfans_time", "msfans_frame")


@dataclass(frozen=True)
class ClipConfig:
    """Everything that defines one clip run (JSON round trip: :meth:`to_dict` / ``from_dict``).

    Attributes:
        name: run name (folder prefix, table rows).
        model: one of :data:`CLIP_MODELS`.
        scales: crop scales in model order (``"stasn"``: exactly one).
        t: frames per clip the model reads (evenly spaced among the cached ``T``).
        input_size: model input side in pixels (the window is resized to it).
        window: side of the window cut from the cached crop (random in training, centre at test).
        backbone: frame CNN (``"cnn_s"`` CPU preset; STASN also ``"resnet50"``...).
        branches, n_regions, region_size: STASN's (:class:`~fas_lib.models.STASN`).
        region_zoom: STASN's region crop side / region side in input pixels.
        hidden_size: LSTM width (STASN's TASM, MS-FANS over time).
        fusion: MS-FANS's scale fusion per frame.
        epochs, batch_size, lr, momentum, weight_decay, milestones, gamma: SGD with a
            step schedule (milestones in epochs), as :mod:`fas_lib.training.frames`.
        branch_weight: :func:`~fas_lib.models.stasn_loss`'s weight of the modules' own terms.
        aux_weight: Eq. 6's auxiliary weight (:func:`~fas_lib.models.temporal_msfans_loss`).
        dropout: dropout after the backbone's FC layers.
        seed: initialisation, order, crops and dropout.
        eval_batch_size: clips per batch when scoring.
        select_on_dev: score the dev clips after every epoch and test with the weights of
            the lowest dev EER (:func:`fas_lib.training.engine.fit`).
        init_from: start from the weights of this finished clip run's folder (same model).
        amp: mixed precision (:class:`fas_lib.training.devices.Precision`; bfloat16 on CPU).
    """

    name: str = "stasn"
    model: str = "stasn"
    scales: tuple[float, ...] = (1.4,)
    t: int = 8
    input_size: int = 64
    window: int = 112
    backbone: str = "cnn_s"
    branches: str = "both"
    n_regions: int = 4
    region_size: float = 0.25
    region_zoom: float = 2.0
    hidden_size: int = 128
    fusion: str = "msfans"
    epochs: int = 6
    batch_size: int = 8
    lr: float = 3e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = (4,)
    gamma: float = 0.1
    branch_weight: float = 1.0
    aux_weight: float = 0.5
    dropout: float = 0.5
    seed: int = 0
    eval_batch_size: int = 16
    select_on_dev: bool = False
    init_from: str | None = None
    amp: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if self.init_from is not None:
            object.__setattr__(self, "init_from", str(self.init_from))
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if self.model not in CLIP_MODELS:
            raise ValueError(f"model must be one of {CLIP_MODELS}, got {self.model!r}")
        if not self.scales or (self.model == "stasn" and len(self.scales) != 1):
            need = "exactly one scale" if self.model == "stasn" else "at least one scale"
            raise ValueError(f"{self.model} needs {need}, got {self.scales}")
        for key in ("t", "input_size", "window", "epochs", "batch_size", "eval_batch_size"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")

    @property
    def region_out(self) -> int:
        """STASN's region crop side in pixels: ``region_zoom`` x the region's side."""
        return max(8, round(self.input_size * self.region_size * self.region_zoom))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields (tuples as lists); the engine's opt-in options only when
        on (:data:`fas_lib.training.engine.ENGINE_OPT_IN`: older run folders keep their names)."""
        return opt_in_dict({k: list(v) if isinstance(v, tuple) else v
                            for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipConfig:
        """The inverse of :meth:`to_dict` (``ValueError`` on unknown keys)."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown ClipConfig field(s) {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class ClipSource:
    """The clips of one split of one clip cache.

    Attributes:
        cache: the clip cache (a :class:`~fas_lib.cache.reader.CropCache` with ``T`` frames a
            video).
        clips: a :class:`~fas_lib.cache.clips.ClipSet` of it.
    """

    cache: Any
    clips: ClipSet

    def __len__(self) -> int:
        return len(self.clips.rows)


#: Split -> the sources of its clips (``"train"`` and ``"test"`` required, ``"dev"`` optional).
ClipData = dict[str, list[ClipSource]]


def split_data(cache: Any, clips: dict[str, ClipSet]) -> ClipData:
    """One source per split: ``{"train": [ClipSource(cache, clips["train"])], ...}``."""
    return {s: [ClipSource(cache, c)] for s, c in clips.items() if len(c)}


def subset_clips(clips: ClipSet, mask: Sequence[bool] | np.ndarray) -> ClipSet:
    """The clips of ``clips`` where ``mask`` (one bool per video) holds."""
    keep = np.asarray(mask, dtype=bool)
    if keep.shape != (len(clips.rows),):
        raise ValueError(f"mask has shape {keep.shape}, the clip set {len(clips.rows)} clips")
    return dataclasses.replace(clips, rows=clips.rows[keep],
                               videos=clips.videos[keep].reset_index(drop=True))


def frame_positions(n: int, t: int) -> np.ndarray:
    """``t`` evenly spaced positions among ``n`` frames, centred: ``(i + 0.5) * n / t``.

    ``n = 8``: ``t = 1`` -> ``[4]``, ``t = 4`` -> ``[1, 3, 5, 7]``, ``t = 8`` -> all.

    Raises:
        ValueError: ``t`` is not in ``1..n``.
    """
    if not 1 <= t <= n:
        raise ValueError(f"a clip of {n} cached frames cannot give t={t} frames")
    return ((np.arange(t) + 0.5) * n / t).astype(np.int64)


def build_clip_model(cfg: ClipConfig) -> nn.Module:
    """The (unseeded) model of a config: STASN or a TemporalMultiScaleNet."""
    if cfg.model == "stasn":
        return STASN(backbone=cfg.backbone, input_size=cfg.input_size, branches=cfg.branches,
                     n_regions=cfg.n_regions, region_size=cfg.region_size,
                     region_out=cfg.region_out, hidden_size=cfg.hidden_size, dropout=cfg.dropout)
    return TemporalMultiScaleNet(
        temporal="lstm" if cfg.model == "msfans_time" else "mean", hidden_size=cfg.hidden_size,
        backbone=cfg.backbone, fusion=cfg.fusion, n_scales=len(cfg.scales),
        input_size=cfg.input_size, dropout=cfg.dropout)


# ----------------------------------------------------------------------------- batches


def clip_input(sources: Sequence[ClipSource], idx: Sequence[int] | np.ndarray, cfg: ClipConfig,
               offsets: np.ndarray | None = None) -> tuple[Tensor, Tensor]:
    """Clips ``idx`` (positions in the concatenated ``sources``) as the model's input.

    Args:
        sources: clip sources; position ``i`` is clip ``i - start`` of the source holding it.
        idx: clip positions.
        cfg: the run's config (scales, ``t``, window, input size, model).
        offsets: ``(B, 2)`` window offsets as fractions in ``[0, 1)`` of the margin (training);
            ``None``: the centre window.

    Returns:
        ``(x, y)``: ``x`` ``(B, t, 3, s, s)`` for STASN, ``(B, t, n, 3, s, s)`` otherwise, float
        in ``[-1, 1]``; labels ``(B,)`` int64 (1 = bona fide).
    """
    idx = np.asarray(idx, dtype=np.int64)
    starts = np.cumsum([0] + [len(s) for s in sources])
    which = np.searchsorted(starts, idx, side="right") - 1
    if len(idx) and (idx.min() < 0 or idx.max() >= starts[-1]):
        raise IndexError(f"clip position out of range 0..{starts[-1] - 1}")
    parts: list[tuple[np.ndarray, Tensor, Tensor]] = []
    for k in np.unique(which):
        src, pos = sources[k], np.flatnonzero(which == k)
        side = int(src.cache.crops(src.clips.split).shape[2])  # the whole cached crop
        clips = src.clips  # only the t frames the model sees are read
        clips = dataclasses.replace(clips, rows=clips.rows[:, frame_positions(clips.t, cfg.t)],
                                    t=cfg.t)
        x, y = clip_batch(src.cache, clips, idx[pos] - starts[k],
                          scale_indices(src.cache, cfg.scales), size=side)
        parts.append((pos, x, y))
    x = torch.empty((len(idx), *parts[0][1].shape[1:]), dtype=parts[0][1].dtype)
    y = torch.empty(len(idx), dtype=torch.int64)
    for pos, xk, yk in parts:
        x[torch.from_numpy(pos)], y[torch.from_numpy(pos)] = xk, yk.long()
    x = _window(x, cfg, offsets)
    return (x[:, :, 0] if cfg.model == "stasn" else x), y


def _window(x: Tensor, cfg: ClipConfig, offsets: np.ndarray | None) -> Tensor:
    """Cut the ``window`` of every clip (one offset per clip) and resize it to ``input_size``."""
    side = x.shape[-1]
    w = min(cfg.window, side)
    margin = side - w
    if offsets is None:
        offs = np.full((len(x), 2), centre_offset(side, w), dtype=np.int64)
    else:
        offs = np.floor(np.asarray(offsets, dtype=np.float64) * (margin + 1)).astype(np.int64)
    cut = torch.stack([x[i, ..., oy:oy + w, ox:ox + w] for i, (oy, ox) in enumerate(offs)])
    if w == cfg.input_size:
        return cut
    flat = F.interpolate(cut.flatten(0, 2), size=(cfg.input_size, cfg.input_size),
                         mode="bilinear", align_corners=False, antialias=True)
    return flat.view(*cut.shape[:3], *flat.shape[1:])
