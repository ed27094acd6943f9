"""STASN (Yang et al., CVPR 2019, "Face Anti-Spoofing: Model Matters, So Does Data").

The Spatio-Temporal Anti-Spoof Network scores a clip ``(B, T, 3, H, W)`` with three modules:

* **TASM** (temporal anti-spoofing module): one CNN encodes every frame; an LSTM reads the ``T``
  frame vectors; a linear layer classifies its last output;
* **RAM** (region attention module, :class:`~fas_lib.models.stasn.regions.RegionAttention`): from
  the same CNN's feature map of every frame, ``K`` region centres; the regions are cropped from the
  frame by a spatial transformer (:func:`~fas_lib.models.stasn.regions.crop_regions`), so the crop
  is differentiable and the RAM learns from the classification loss alone;
* **SASM** (spatial anti-spoofing module): a second CNN encodes the ``K`` regions of every
  frame; their concatenated vectors are classified per frame; the clip's spatial logits are the
  mean over frames;
* the two modules' logits are fused: ``fusion_weight * TASM + (1 - fusion_weight) * SASM``.

What the public material says, and where it was looked up: the abstract (the model attends to
discriminative regions and finds borders, moire patterns, reflection artefacts) and a reading
note that gives "ResNet50 + LSTM, binary cross-entropy, RGB, dynamic" were found with the
repository search tools. No public code of the authors or named re-implementation was found, so
how the RAM places its regions (``locator``: soft-argmax heat maps, or ``"regress"``: ``2K``
coordinates regressed from the map), their fixed size and the losses are this course's
reconstruction. Everything below that is not the abstract's is our choice, documented here and
a constructor argument:

===================  ============================  =============================================
open question        choice (CPU preset / paper)   why
===================  ============================  =============================================
backbone             CNN_S 112 px / ResNet-50 224  CNN_S: about 12 training clips/s (T = 8,
                                                   K = 4) on one busy CPU thread; ResNet-50 is
                                                   the paper's (architecture only, no weights)
K (regions/frame)    4 / 4                         ablation runs 1, 2 and 4
region side          0.25 of the face / 0.25       a quarter of an aligned face holds an eye,
                                                   the mouth or a border strip
region crop side     56 px / 112 px                zoom 2 (28 px -> 56, 56 px -> 112)
SASM CNN             its own CNN of the same kind  regions are a different scale; Table I CNNs
                                                   fix their input side
LSTM hidden          128 / 256                     one layer, last output classified
locator              soft-argmax heat maps         smooth and starts at the centre
fusion               weighted logits, 0.5          symmetric; score = softmax of the fused logits
loss                 CE(fused) + CE(TASM) +        each module also learns alone, so either
                     CE(SASM), :func:`stasn_loss`  branch can be scored on its own (ours)
region overlap       no penalty by default         ``overlap_weight`` adds the regions' mean
                                                   pairwise IoU (ours; keeps the K apart)
===================  ============================  =============================================

Ablations: ``branches="temporal"`` (TASM only, no RAM or SASM built), ``"spatial"`` (RAM +
SASM; the frame CNN still gives the RAM its map, no LSTM), ``"both"``; any ``n_regions`` and
any ``T`` (``T = 1`` included). :meth:`STASN.region_boxes` gives the ``K`` boxes per frame in
pixels for attention figures.

Label convention: logit index 1 is bona fide (:data:`fas_lib.LIVE`), as everywhere in
:mod:`fas_lib.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from fas_lib.models.stasn.encoders import FrameEncoder, build_frame_encoder
from fas_lib.models.stasn.regions import (
    RegionAttention,
    crop_regions,
    region_boxes_px,
    region_overlap,
)

__all__ = ["BRANCHES", "STASN", "STASN_PRESETS", "STASN_SOURCES", "STASNOutput", "stasn_loss"]

#: Which modules a :class:`STASN` has: TASM and RAM + SASM, TASM only, RAM + SASM only.
BRANCHES: tuple[str, ...] = ("both", "temporal", "spatial")

#: Constructor arguments of the two presets (``STASN.from_preset(name, **overrides)``). Where
#: each value comes from is :data:`STASN_SOURCES`: only the ResNet-50 + LSTM design is the
#: paper's as far as the material found here says; every number is this course's choice.
STASN_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": dict(backbone="cnn_s", input_size=112, n_regions=4, region_size=0.25, region_out=56,
                hidden_size=128),
    "paper": dict(backbone="resnet50", input_size=224, n_regions=4, region_size=0.25,
                  region_out=112, hidden_size=256),
}

#: The source of each preset field: ``"paper"`` (the abstract and a reading note of Yang et al.,
#: CVPR 2019: ResNet-50 frames read by an LSTM, regions found by attention) or ``"ours"`` (the
#: full text and the authors' code were not available here; the reasons are in the module
#: docstring's table).
STASN_SOURCES: dict[str, str] = {
    "backbone": "paper for 'paper' (ResNet-50); ours for 'cpu' (CNN_S, to fit a laptop)",
    "input_size": "ours (224 is ResNet-50's usual input; 112 the course's CNN_S)",
    "n_regions": "ours (the paper's K is not in the material found; 1, 2 and 4 are ablated)",
    "region_size": "ours (a quarter of the face: an eye, the mouth or a border strip)",
    "region_out": "ours (zoom 2)",
    "hidden_size": "ours (one LSTM layer, last output classified)",
}


@dataclass
class STASNOutput:
    """Everything :meth:`STASN.forward` computes.

    Attributes:
        logits: fused clip logits ``(B, 2)`` (index 1 = bona fide).
        temporal_logits: TASM's clip logits ``(B, 2)``; ``None`` without the temporal branch.
        spatial_logits: SASM's clip logits ``(B, 2)`` (mean over frames); ``None`` without it.
        frame_spatial_logits: SASM's logits per frame ``(B, T, 2)``, or ``None``.
        centres: RAM's region centres ``(B, T, K, 2)`` (normalised coordinates), or ``None``.
        region_size: the regions' side as a fraction of the frame side.
    """

    logits: Tensor
    temporal_logits: Tensor | None
    spatial_logits: Tensor | None
    frame_spatial_logits: Tensor | None
    centres: Tensor | None
    region_size: float = 0.0


class STASN(nn.Module):
    """STASN: TASM (CNN + LSTM), RAM (``K`` regions per frame) and SASM, scores fused.

    See the module docstring for the design and the choices where the paper is silent.

    Args:
        backbone: frame CNN, one of :data:`~fas_lib.models.stasn.encoders.ENCODERS`.
        input_size: frame side in pixels.
        branches: ``"both"``, ``"temporal"`` or ``"spatial"``.
        n_regions: ``K``, regions per frame.
        region_size: region side as a fraction of the frame side.
        region_out: side of each cropped region fed to the SASM CNN.
        hidden_size: LSTM width.
        fusion_weight: weight of TASM's logits in the fused logits (SASM gets the rest).
        locator: RAM's locator, ``"softargmax"`` or ``"regress"``.
        dropout: dropout after the FC layers of Table I backbones.
        region_backbone: SASM's CNN; ``None`` for the same kind as ``backbone``.
    """

    def __init__(
        self,
        backbone: str = "cnn_s",
        input_size: int = 112,
        branches: str = "both",
        n_regions: int = 4,
        region_size: float = 0.25,
        region_out: int = 56,
        hidden_size: int = 128,
        fusion_weight: float = 0.5,
        locator: str = "softargmax",
        dropout: float = 0.5,
        region_backbone: str | None = None,
    ) -> None:
        super().__init__()
        if branches not in BRANCHES:
            raise ValueError(f"branches must be one of {BRANCHES}, got {branches!r}")
        #: Keyword arguments that rebuild this model (for checkpoints).
        self.config: dict[str, Any] = dict(
            backbone=backbone, input_size=input_size, branches=branches, n_regions=n_regions,
            region_size=region_size, region_out=region_out, hidden_size=hidden_size,
            fusion_weight=fusion_weight, locator=locator, dropout=dropout,
            region_backbone=region_backbone,
        )
        self.branches = branches
        self.input_size = input_size
        self.n_regions = n_regions
        self.region_size = region_size
        self.region_out = region_out
        self.fusion_weight = fusion_weight
        self.encoder: FrameEncoder = build_frame_encoder(backbone, input_size, dropout)
        if self.has_temporal:
            self.lstm = nn.LSTM(self.encoder.feature_dim, hidden_size, batch_first=True)
            self.temporal_head = nn.Linear(hidden_size, 2)
        if self.has_spatial:
            self.ram = RegionAttention(self.encoder.map_channels, n_regions, region_size, locator)
            self.region_encoder: FrameEncoder = build_frame_encoder(
                region_backbone or backbone, region_out, dropout
            )
            self.spatial_head = nn.Linear(n_regions * self.region_encoder.feature_dim, 2)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> STASN:
        """Build the ``"cpu"`` or ``"paper"`` preset of :data:`STASN_PRESETS`, with overrides."""
        if name not in STASN_PRESETS:
            raise ValueError(
                f"unknown STASN preset {name!r}; expected one of {sorted(STASN_PRESETS)}"
            )
        return cls(**{**STASN_PRESETS[name], **overrides})

    @property
    def has_temporal(self) -> bool:
        """Whether TASM's LSTM and classifier exist."""
        return self.branches in ("both", "temporal")

    @property
    def has_spatial(self) -> bool:
        """Whether RAM and SASM exist."""
        return self.branches in ("both", "spatial")

    def _frames(self, clips: Tensor) -> Tensor:
        """Check a clip batch ``(B, T, 3, H, W)`` and fold it into frames ``(B*T, 3, H, W)``."""
        if clips.dim() != 5:
            raise ValueError(f"expected clips of shape (B, T, 3, H, W); got {tuple(clips.shape)}")
        return clips.flatten(0, 1)

    def temporal_logits(self, fmap: Tensor, batch: int) -> Tensor:
        """TASM: frame maps ``(B*T, C, h, w)`` -> pooled vectors -> LSTM -> logits ``(B, 2)``."""
        feats = self.encoder.pool(fmap).view(batch, -1, self.encoder.feature_dim)
        out, _ = self.lstm(feats)
        return self.temporal_head(out[:, -1])

    def spatial_logits(self, frames: Tensor, centres: Tensor, batch: int) -> Tensor:
        """SASM: crop the regions of ``frames`` at ``centres``; per-frame logits ``(B, T, 2)``."""
        crops = crop_regions(frames, centres, self.region_size, self.region_out)
        feats = self.region_encoder(crops.flatten(0, 1))  # (B*T*K, D)
        feats = feats.view(frames.shape[0], -1)  # the K regions of a frame, concatenated
        return self.spatial_head(feats).view(batch, -1, 2)

    def locate(self, clips: Tensor) -> Tensor:
        """RAM's region centres ``(B, T, K, 2)`` (normalised coordinates) of clips."""
        if not self.has_spatial:
            raise ValueError("this STASN has no region attention (branches='temporal')")
        frames = self._frames(clips)
        centres = self.ram(self.encoder.feature_map(frames))
        return centres.view(clips.shape[0], clips.shape[1], self.n_regions, 2)

    def regions(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        """The attended regions ``(B, T, K, 3, r, r)`` and their centres ``(B, T, K, 2)``."""
        centres = self.locate(clips)
        crops = crop_regions(
            self._frames(clips), centres.flatten(0, 1), self.region_size, self.region_out
        )
        return crops.view(*centres.shape[:3], *crops.shape[2:]), centres

    def region_boxes(self, clips: Tensor) -> Tensor:
        """The ``K`` attended boxes per frame in pixels ``(B, T, K, 4)`` = ``(x0, y0, x1, y1)``.

        Pixel edges of the input frames (see :func:`~fas_lib.models.stasn.regions.region_boxes_px`);
        run in eval mode for figures.
        """
        h, w = clips.shape[-2:]
        return region_boxes_px(self.locate(clips), self.region_size, h, w)

    def forward(self, clips: Tensor) -> STASNOutput:
        """Clips ``(B, T, 3, H, W)`` -> :class:`STASNOutput`."""
        batch = clips.shape[0]
        frames = self._frames(clips)
        fmap = self.encoder.feature_map(frames)
        temporal = spatial = frame_spatial = centres = None
        if self.has_temporal:
            temporal = self.temporal_logits(fmap, batch)
        if self.has_spatial:
            flat_centres = self.ram(fmap)
            frame_spatial = self.spatial_logits(frames, flat_centres, batch)
            spatial = frame_spatial.mean(dim=1)
            centres = flat_centres.view(batch, clips.shape[1], self.n_regions, 2)
        if temporal is not None and spatial is not None:
            logits = self.fusion_weight * temporal + (1 - self.fusion_weight) * spatial
        else:
            logits = temporal if temporal is not None else spatial
        return STASNOutput(logits, temporal, spatial, frame_spatial, centres, self.region_size)


def stasn_loss(
    output: STASNOutput,
    targets: Tensor,
    branch_weight: float = 1.0,
    overlap_weight: float = 0.0,
    return_parts: bool = False,
) -> Tensor | tuple[Tensor, dict[str, float]]:
    """``CE(fused) + branch_weight * (CE(TASM) + CE(SASM)) + overlap_weight * IoU(regions)``.

    The branch terms exist only with both branches: with one, the fused logits *are* that
    branch's, so the loss is its cross-entropy. The overlap term (our addition, off by default)
    is the mean pairwise IoU of each frame's ``K`` regions
    (:func:`~fas_lib.models.stasn.regions.region_overlap`), averaged over frames and clips.

    Args:
        output: a :class:`STASNOutput`.
        targets: labels ``(B,)``, 1 = bona fide, 0 = attack.
        branch_weight: weight of the two modules' own losses (0: fused loss only).
        overlap_weight: weight of the regions' overlap penalty (needs the spatial branch).
        return_parts: also return the terms as floats (``fused``, ``temporal``, ``spatial``,
            ``overlap``).
    """
    targets = targets.long()
    loss = fused = F.cross_entropy(output.logits, targets)
    parts = dict(fused=fused.item())
    both = output.temporal_logits is not None and output.spatial_logits is not None
    if both and branch_weight != 0:
        for name, logits in (("temporal", output.temporal_logits),
                             ("spatial", output.spatial_logits)):
            term = F.cross_entropy(logits, targets)
            parts[name] = term.item()
            loss = loss + branch_weight * term
    if overlap_weight and output.centres is not None:
        overlap = region_overlap(output.centres, output.region_size).mean()
        parts["overlap"] = overlap.item()
        loss = loss + overlap_weight * overlap
    return (loss, parts) if return_parts else loss
