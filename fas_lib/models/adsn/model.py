"""ADSN: attention-aware dual-stream network on depth and NIR (Deng et al., "Attention-Aware
Dual-Stream Network for Multimodal Face Anti-Spoofing", IEEE TIFS 2023).

What the paper states and this module follows: two ResNet18 streams, one on the **surface
normals computed from depth** (:func:`surface_normals`) and one on NIR; an attention mechanism
that splits the fusion into a **global cross-modal** branch ("complementary global information
between different modalities") and a **local fine-grained** branch ("subtle and local features
from each modality"), FAS treated as fine-grained classification; training with BCE + center
loss + cosine loss, and a joint loss "to ensure that local areas in the image do not overlap and
belong to the same class" (:class:`~fas_lib.models.adsn.losses.ADSNLoss`).

The paper's method section is not in any corpus we could search (they hold its title, abstract,
keywords and the summary "ResNet18; BCE, center and cosine loss; depth + IR; feature-level
fusion"). Everything below that is more precise than those sentences is **our reconstruction**,
each a parameter of :class:`ADSNConfig`:

* fusion on the last stage's maps ``F_d, F_n`` of shape ``(B, C, h, w)``;
* global cross-modal branch (:class:`GlobalCrossModal`): the two streams' average-pooled
  descriptors, concatenated, go through an MLP (``2C -> 2C/r -> 2C``, ``reduction`` r = 4)
  whose output is a softmax **over the two modalities per channel**: weights ``g_d + g_n = 1``
  for every channel, each depending on both modalities; output ``g_d * F_d + g_n * F_n``,
  average-pooled to ``(B, C)``;
* local fine-grained branch (:class:`LocalParts`), in the manner of fine-grained part
  attention (MA-CNN, Zheng et al. ICCV 2017; WS-DAN, Hu et al. 2019): in **each** stream a
  1x1 convolution gives ``parts`` (K = 4) attention maps, each a softmax over the map's
  positions (a distribution over where to look); a part's feature is the map's weighted
  average of the stream's features (``(B, K, C)``); the ``2K`` part features, concatenated,
  go through a linear layer to ``C``;
* the embedding is the sum of the two branches' ``C``-vectors, and a linear layer gives one
  logit (positive = bona fide, :data:`fas_lib.LIVE`);
* the local loss terms (:mod:`~fas_lib.models.adsn.losses`): an **overlap** penalty (the cosine
  similarity of every pair of a stream's part maps: 0 when no two parts look at the same
  place) and a **part-center** loss (each part feature near its class's center for that part:
  a part "belongs to the same class" as its image);
* ``fusion="concat"``: the ablation: concatenated maps, 1x1 conv ``2C -> C`` + BN + ReLU,
  the same pooling and classifier (same embedding size), no parts;
* paper preset: torchvision's ResNet18 sizes (widths 64/64/128/256/512, blocks 2/2/2/2,
  7x7 stride-2 stem and max-pool) at 224 x 224 (ResNet18's ImageNet input; the paper's crop
  size is not in what we found: 7 x 7 maps); CPU preset: widths 16/16/32/64/128 at 112 x 112
  with output stride 8 (14 x 14 maps; 8 x 8 at the notebook's 64 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fas_lib.models.mmfas.blocks import (
    ModalityInput,
    as_modalities,
    describe_presets,
    resnet_stage,
)

__all__ = [
    "ADSN", "ADSN_PRESETS", "ADSNConfig", "ADSNOutput", "ConcatFuse", "GlobalCrossModal",
    "LocalParts", "ResNet18Trunk", "adsn_dummy_input", "attention_maps", "build_adsn",
    "describe_adsn", "surface_normals",
]


def surface_normals(depth: Tensor, pixel_size: float = 1.0, hole: float | None = 0.0,
                    nearness: bool = False) -> Tensor:
    """Unit surface normals of a depth map, facing the camera.

    With ``d(row, col)`` the distance along the optical axis (larger = farther) and
    ``pixel_size`` the lateral size of a pixel in the depth's unit, the normal is
    ``(dd/dx, dd/dy, 1) / norm`` (x along columns, y along rows; z > 0 towards the camera):
    a surface whose right side is farther faces right (``n_x > 0``). A map of nearness
    (larger = nearer, as SynthSpoof and many depth cameras store it: 255 = nearest) is
    ``-d`` up to a constant, so its normal is ``(-dn/dx, -dn/dy, 1) / norm``.
    Derivatives by central differences inside and one-sided ones on the border
    (:func:`torch.gradient`), exact on planes.

    Args:
        depth: ``(B, 1, H, W)`` or ``(H, W)``.
        pixel_size: lateral pixel size in depth units (1: depth already in pixels).
        hole: depth value of missing pixels (structured-light holes); their normals are set to
            ``(0, 0, 0)``. ``None``: no holes.
        nearness: ``depth`` grows towards the camera instead of away from it.

    Returns:
        ``(B, 3, H, W)`` (or ``(3, H, W)`` for a 2-D input) channels ``(n_x, n_y, n_z)``, in
        the depth's floating dtype (integer depth becomes float32).
    """
    flat = depth.dim() == 2
    d = depth[None, None] if flat else depth
    if d.dim() != 4 or d.shape[1] != 1:
        raise ValueError(f"depth must be (B, 1, H, W) or (H, W), got {tuple(depth.shape)}")
    d = d if d.is_floating_point() else d.float()
    dy, dx = torch.gradient(d, spacing=pixel_size, dim=(2, 3))
    if nearness:
        dx, dy = -dx, -dy
    n = torch.cat([dx, dy, torch.ones_like(dx)], dim=1)
    n = n / n.norm(dim=1, keepdim=True)
    if hole is not None:
        n = n * (d != hole)
    return n[0] if flat else n


@dataclass(frozen=True)
class ADSNConfig:
    """Sizes and options of :class:`ADSN`.

    Attributes:
        widths: ``(stem, stage1, stage2, stage3, stage4)``; ``C = widths[-1]``.
        blocks: basic blocks per stage.
        input_size: side of the square inputs (ResNet18 reduces it 32-fold).
        normals: the depth stream sees :func:`surface_normals` (3 channels); ``False``: raw
            depth (1 channel).
        pixel_size: passed to :func:`surface_normals`; ``None`` (default): ``2 / W`` for inputs
            ``W`` pixels wide, i.e. the crop spans [-1, 1] laterally as the cached depth spans
            [-1, 1] after :func:`fas_lib.cache.loader.to_float` (with 1.0 a face's relief of a few
            grey levels per pixel gives normals within 0.001 of (0, 0, 1): no shape left).
        depth_hole: the input value of a depth hole, passed to :func:`surface_normals` (its
            normal becomes 0): -1.0 is a hole (uint8 0) of the crop cache after
            :func:`fas_lib.cache.loader.to_float`, the inputs of :mod:`fas_lib.training.multimodal`;
            ``None``: no holes.
        depth_nearness: the depth input grows towards the camera (SynthSpoof's and the crop
            cache's convention, 255 = nearest), passed to :func:`surface_normals`; ``False``:
            it is a distance.
        nir_channels: NIR input channels.
        fusion: ``"attention"`` (global + local branches) or ``"concat"`` (ablation).
        reduction: global branch MLP reduction ``r``.
        parts: local branch attention maps per stream ``K``.
        output_stride: input side / side of the streams' last maps, where the attention acts:
            32 (ResNet18's; 7 x 7 at the paper's 224 px), 16 or 8 (the last one or two
            stages keep their input's resolution). The CPU preset uses 8, so that its 64-112 px
            inputs still give an attention map of 8 x 8 to 14 x 14 rather than 2 x 2 to 3 x 3.
    """

    widths: tuple[int, int, int, int, int] = (64, 64, 128, 256, 512)
    blocks: tuple[int, int, int, int] = (2, 2, 2, 2)
    input_size: int = 224
    normals: bool = True
    pixel_size: float | None = None
    depth_hole: float | None = -1.0
    depth_nearness: bool = True
    nir_channels: int = 1
    fusion: str = "attention"
    reduction: int = 4
    parts: int = 4
    output_stride: int = 32

    def __post_init__(self) -> None:
        if self.output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {self.output_stride}")
        if self.fusion not in ("attention", "concat"):
            raise ValueError(f"fusion must be 'attention' or 'concat', got {self.fusion!r}")
        if len(self.widths) != 5 or len(self.blocks) != 4:
            raise ValueError("widths needs 5 entries (stem, stages 1-4), blocks 4")
        if self.parts < 1:
            raise ValueError(f"parts must be at least 1, got {self.parts}")


#: The paper's sizes (ResNet18 at 224) and a CPU preset.
ADSN_PRESETS: dict[str, ADSNConfig] = {
    "paper": ADSNConfig(),
    "cpu": ADSNConfig(widths=(16, 16, 32, 64, 128), input_size=112, output_stride=8),
}


class ResNet18Trunk(nn.Module):
    """ResNet18 without its classifier: 7x7/2 stem, 3x3/2 max-pool, four stages (strides 1,
    2, 2, 2); returns the last stage's maps ``(B, widths[4], S/32, S/32)``. With
    ``output_stride`` 16 or 8 the last one or two stages keep stride 1 (maps ``S/16``, ``S/8``)."""

    def __init__(self, in_channels: int, widths: Sequence[int], blocks: Sequence[int],
                 output_stride: int = 32) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1),
        )
        self.stages = nn.Sequential(*[
            resnet_stage(widths[i], widths[i + 1], blocks[i],
                         1 if i == 0 or 4 * 2 ** i > output_stride else 2)
            for i in range(4)
        ])

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(self.stem(x))


class GlobalCrossModal(nn.Module):
    """Global cross-modal branch: per-channel modality weights from both pooled descriptors.

    ``forward(a, b)`` returns ``(pooled, weights)``: ``pooled`` the average-pooled
    ``g_a * a + g_b * b`` of shape ``(B, C)``, ``weights`` of shape ``(B, 2, C)`` summing to 1
    over dim 1.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, 2 * channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, 2 * channels))

    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        pa, pb = a.mean(dim=(2, 3)), b.mean(dim=(2, 3))
        w = self.mlp(torch.cat([pa, pb], dim=1)).view(a.shape[0], 2, a.shape[1]).softmax(dim=1)
        return w[:, 0] * pa + w[:, 1] * pb, w


class LocalParts(nn.Module):
    """Local fine-grained branch of one stream: ``parts`` attention maps and their features.

    ``forward(f)`` with ``f`` of shape ``(B, C, h, w)`` returns ``(features, maps)``: ``maps``
    ``(B, K, h, w)``, each a softmax over the ``h * w`` positions of a 1x1 convolution of
    ``f``; ``features`` ``(B, K, C)``, each map's weighted average of ``f``.
    """

    def __init__(self, channels: int, parts: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, parts, 1)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = f.shape
        maps = self.conv(f).flatten(2).softmax(dim=-1)  # (B, K, h*w)
        features = torch.einsum("bkp,bcp->bkc", maps, f.flatten(2))
        return features, maps.view(b, -1, h, w)


class ConcatFuse(nn.Module):
    """The ablation's fusion: ``ReLU(BN(conv1x1(cat(a, b))))``, ``2C -> C``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2 * channels, channels, 1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return self.body(torch.cat([a, b], dim=1))


class ADSNOutput(NamedTuple):
    """What :class:`ADSN` returns.

    Attributes:
        logits: ``(B,)``, one logit per sample, positive = bona fide.
        embedding: ``(B, C)`` fused features (center and cosine losses act on it).
        channel_weights: ``(B, 2, C)`` global branch weights (depth, NIR), or ``None``.
        part_maps: ``(B, 2, K, h, w)`` local branch attention maps (depth, NIR; each sums to 1
            over its positions), or ``None``.
        part_features: ``(B, 2K, C)`` the parts' features (depth's K, then NIR's), or ``None``.
    """

    logits: Tensor
    embedding: Tensor
    channel_weights: Tensor | None
    part_maps: Tensor | None
    part_features: Tensor | None


class ADSN(nn.Module):
    """Deng et al.'s dual-stream network (see the module docstring).

    ``forward(x)`` takes ``{"depth": (B, 1, S, S), "nir": (B, C_nir, S, S)}`` (or the two
    stacked on channels) and returns an :class:`ADSNOutput`.
    """

    modalities = ("depth", "nir")

    def __init__(self, config: ADSNConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ADSNConfig()
        c = cfg.widths[-1]
        self.depth_stream = ResNet18Trunk(3 if cfg.normals else 1, cfg.widths, cfg.blocks,
                                          cfg.output_stride)
        self.nir_stream = ResNet18Trunk(cfg.nir_channels, cfg.widths, cfg.blocks,
                                        cfg.output_stride)
        #: ``{"global", "local"}`` branches (attention) or ``{"concat"}`` (ablation).
        self.fusion = nn.ModuleDict(
            {"global": GlobalCrossModal(c, cfg.reduction), "local_depth": LocalParts(c, cfg.parts),
             "local_nir": LocalParts(c, cfg.parts),
             "local": nn.Linear(2 * cfg.parts * c, c)}
            if cfg.fusion == "attention" else {"concat": ConcatFuse(c)}
        )
        self.classifier = nn.Linear(c, 1)

    def streams(self, x: ModalityInput) -> tuple[Tensor, Tensor]:
        """The two streams' last maps ``(F_depth, F_nir)``."""
        inputs = as_modalities(x, self.modalities, (1, self.config.nir_channels))
        return self.depth_stream(self.depth_input(inputs["depth"])), self.nir_stream(inputs["nir"])

    def depth_input(self, depth: Tensor) -> Tensor:
        """What the depth stream sees: :func:`surface_normals` of ``depth`` (``B, 1, H, W``)
        with the config's pixel size and hole value, or the depth itself without normals."""
        if not self.config.normals:
            return depth
        cfg = self.config
        pixel = 2.0 / depth.shape[-1] if cfg.pixel_size is None else cfg.pixel_size
        return surface_normals(depth, pixel, cfg.depth_hole, nearness=cfg.depth_nearness)

    def forward(self, x: ModalityInput) -> ADSNOutput:
        f_d, f_n = self.streams(x)
        if "concat" in self.fusion:
            emb = self.fusion["concat"](f_d, f_n).mean(dim=(2, 3))
            return ADSNOutput(self.classifier(emb).squeeze(1), emb, None, None, None)
        glob, weights = self.fusion["global"](f_d, f_n)
        parts_d, maps_d = self.fusion["local_depth"](f_d)
        parts_n, maps_n = self.fusion["local_nir"](f_n)
        parts = torch.cat([parts_d, parts_n], dim=1)  # (B, 2K, C)
        emb = glob + self.fusion["local"](parts.flatten(1))
        return ADSNOutput(self.classifier(emb).squeeze(1), emb, weights,
                          torch.stack([maps_d, maps_n], dim=1), parts)


def build_adsn(preset: str | ADSNConfig = "cpu", **overrides: Any) -> ADSN:
    """An :class:`ADSN` from a preset name (:data:`ADSN_PRESETS`) or a config, with
    ``overrides`` of config fields (e.g. ``fusion="concat"``)."""
    cfg = ADSN_PRESETS[preset] if isinstance(preset, str) else preset
    return ADSN(replace(cfg, **overrides))


def adsn_dummy_input(config: ADSNConfig, batch_size: int = 1) -> dict[str, Tensor]:
    """Zeros of the right shape for both modalities of ``config``."""
    s = config.input_size
    return {"depth": torch.zeros(batch_size, 1, s, s),
            "nir": torch.zeros(batch_size, config.nir_channels, s, s)}


@torch.no_grad()
def attention_maps(model: ADSN, x: ModalityInput, size: int | None = None) -> dict[str, Tensor]:
    """The fusion's attention for plotting, in eval mode.

    Returns:
        ``{"depth", "nir"}``: each stream's ``K`` part maps ``(B, K, S, S)``, each divided by
        its maximum (1 where the part looks most) and upsampled to ``size`` (default: the input
        side) by repeating cells (nearest), so that a map's real resolution stays visible;
        ``{"depth_channels", "nir_channels"}``: the global branch's ``(B, C)`` weights.

    Raises:
        ValueError: the model uses concatenation (it has no attention).
    """
    if model.config.fusion != "attention":
        raise ValueError("attention_maps needs fusion='attention'")
    was_training = model.training
    try:
        out = model.eval()(x)
    finally:
        model.train(was_training)
    side = size or model.config.input_size
    maps = out.part_maps / out.part_maps.amax(dim=(3, 4), keepdim=True)
    up = torch.stack([F.interpolate(maps[:, m], size=(side, side), mode="nearest")
                      for m in range(2)], dim=1)
    return {"depth": up[:, 0], "nir": up[:, 1], "depth_channels": out.channel_weights[:, 0],
            "nir_channels": out.channel_weights[:, 1]}


def describe_adsn(presets: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Parameters and FLOPs of one forward pass (batch 1) per preset, as
    :func:`~fas_lib.models.mmfas.model.describe_mmfas` (the surface normals cost no FLOPs here)."""
    return describe_presets(ADSN_PRESETS, ADSN, adsn_dummy_input, presets)
