"""MM-FAS: multi-modal face anti-spoofing with per-modality trunks and deep layer aggregation
(Parkin & Grinchuk, "Recognizing Multi-Modal Face Spoofing with Face Recognition Networks",
CVPRW 2019).

The paper is short on the architecture; this follows the authors' public ChaLearn 2019 code
(``AlexanderParkin/ChaLearn_liveness_challenge``, ``models/architectures/resnet_caffe_DLAS.py``,
the ``DLAS_type='A'`` network they trained with ``opts.py``), written anew here:

* one "ResNet caffe" trunk per modality (stem 3x3 conv without padding + BN + PReLU, then three
  :func:`~fas_lib.models.mmfas.blocks.caffe_stage`), returning its level-1, 2 and 3 features;
* **main path**: the three level-3 maps concatenated, a fourth stage (``M * w3 -> w4``),
  global average pooling;
* **aggregation path** (:class:`AggregationBlock`, levels 1, 2, 3): concatenate the
  modalities' level-k maps, 1x1 convolution (with bias) back to one modality's width ``w_k``,
  ReLU, add the previous level's aggregation output (levels 2 and 3), pass through a copy of
  stage ``k + 1`` (its own weights); the level-3 output is pooled;
* **head**: the two pooled vectors are summed (the authors' choice; ``head="concat"`` as an
  option) and a linear layer gives 2 logits, index 1 bona fide (:data:`fas_lib.LIVE`).

Options: ``aggregation=False`` (main path only), any subset of ``("rgb", "depth", "nir")``,
``fusion="early"`` (channel fusion: one trunk on the stacked channels, the baseline), widths,
blocks per stage and input size. Presets (:data:`MMFAS_PRESETS`): ``"paper"`` = the authors'
ResNet34-caffe sizes (widths 32/64/128/256/512, blocks 1/2/5/3, 112 x 112 input) and ``"cpu"``
(widths 8/16/24/32/64, one block per stage, 64 x 64 input) that trains in minutes on 2 cores.

The authors fed depth and IR as 3-channel images (CASIA-SURF's JPEGs); here each modality has
its own channel count, by default 3 (RGB), 1 (depth), 1 (NIR): only the stems' first
convolutions change (``2 * 9 * w0`` fewer parameters per 1-channel modality).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from fas_lib.models.mmfas.blocks import ModalityInput, as_modalities, caffe_stage, describe_presets
from fas_lib.models.pretrained.face_recognition import (
    TRUNK_WIDTHS,
    DlibResNet,
    DlibTrunk,
    dlib_stage,
    dlib_trunk_sides,
    load_face_recognition_net,
)

__all__ = [
    "DEFAULT_CHANNELS", "MMFAS", "MMFAS_PRESETS", "AggregationBlock", "CaffeTrunk",
    "MMFASConfig", "build_mmfas", "describe_mmfas", "dlib_trunk_config",
    "init_from_face_recognition", "mmfas_dummy_input",
]

#: Input channels of each modality the crop cache stores.
DEFAULT_CHANNELS: dict[str, int] = {"rgb": 3, "depth": 1, "nir": 1}


@dataclass(frozen=True)
class MMFASConfig:
    """Sizes and options of :class:`MMFAS`.

    Attributes:
        modalities: the modalities used, in order (a subset of :data:`DEFAULT_CHANNELS`'s keys).
        channels: input channels per modality (default :data:`DEFAULT_CHANNELS`; left out
            of the config's hash, so that a config can key a dict).
        widths: ``(w0, w1, w2, w3, w4)``: stem and stages 1-4.
        blocks: residual blocks in stages 1-4.
        input_size: side ``S`` of the square inputs; the trunk needs ``S >= 48``.
        aggregation: with the aggregation path (levels 1-3); ``False`` keeps the main path.
        fusion: ``"late"`` (per-modality trunks, the paper) or ``"early"`` (the modalities'
            channels stacked into one trunk; no aggregation path).
        head: ``"sum"`` (authors) or ``"concat"`` of the pooled main and aggregation vectors.
        n_classes: logits (2: index 1 bona fide).
        trunk: ``"caffe"`` (the authors' trunk) or ``"dlib"``: dlib's face-recognition ResNet
            from its stem to its stage 3
            (:class:`~fas_lib.models.pretrained.face_recognition.DlibTrunk`; widths fixed to
            :data:`~fas_lib.models.pretrained.face_recognition.TRUNK_WIDTHS`, 3/4/3 blocks), so that
            :func:`init_from_face_recognition` can load its weights; the aggregation path's stage
            copies and the fourth stage are then dlib-style stages
            (:func:`~fas_lib.models.pretrained.face_recognition.dlib_stage`, ``blocks`` of them).
    """

    modalities: tuple[str, ...] = ("rgb", "depth", "nir")
    channels: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CHANNELS),
                                        hash=False)
    widths: tuple[int, int, int, int, int] = (32, 64, 128, 256, 512)
    blocks: tuple[int, int, int, int] = (1, 2, 5, 3)
    input_size: int = 112
    aggregation: bool = True
    fusion: str = "late"
    head: str = "sum"
    n_classes: int = 2
    trunk: str = "caffe"

    def __post_init__(self) -> None:
        if self.fusion not in ("late", "early"):
            raise ValueError(f"fusion must be 'late' or 'early', got {self.fusion!r}")
        if self.head not in ("sum", "concat"):
            raise ValueError(f"head must be 'sum' or 'concat', got {self.head!r}")
        missing = [m for m in self.modalities if m not in self.channels]
        if not self.modalities or missing:
            raise ValueError(f"no channel count for modalities {missing or '(none given)'}")
        if len(self.widths) != 5 or len(self.blocks) != 4:
            raise ValueError("widths needs 5 entries (stem, stages 1-4), blocks 4")
        if self.trunk not in ("caffe", "dlib"):
            raise ValueError(f"trunk must be 'caffe' or 'dlib', got {self.trunk!r}")
        if self.trunk == "dlib":
            self._check_dlib()
        elif self.input_size < 48:
            raise ValueError(f"input_size {self.input_size} < 48: the trunk's unpadded "
                             "convolutions and pools leave no pixel")

    def _check_dlib(self) -> None:
        if tuple(self.widths[:4]) != TRUNK_WIDTHS:
            raise ValueError(f"trunk='dlib' needs widths starting {TRUNK_WIDTHS} (dlib's), got "
                             f"{tuple(self.widths)}; see dlib_trunk_config")
        if dlib_trunk_sides(self.input_size)[2] < 3:
            raise ValueError(f"input_size {self.input_size} is too small for the dlib trunk "
                             "(its level-3 maps must be at least 3 x 3: input_size >= 56)")

    @property
    def n_channels(self) -> list[int]:
        """Input channels of the used modalities, in order."""
        return [int(self.channels[m]) for m in self.modalities]

    @property
    def uses_aggregation(self) -> bool:
        """Whether the aggregation path is built (late fusion with ``aggregation=True``)."""
        return self.aggregation and self.fusion == "late"


#: The two presets: the authors' sizes and one for 2 CPU cores.
MMFAS_PRESETS: dict[str, MMFASConfig] = {
    "paper": MMFASConfig(),
    "cpu": MMFASConfig(widths=(8, 16, 24, 32, 64), blocks=(1, 1, 1, 1), input_size=64),
}


class CaffeTrunk(nn.Module):
    """Stem and stages 1-3 of the "ResNet caffe" trunk; returns the three levels' maps.

    Side ``S`` becomes ``S - 2`` (stem), then ``(s - 2) // 2`` per stage.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], blocks: Sequence[int]) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths[:4]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w0, 3, padding=0, bias=False),
                                  nn.BatchNorm2d(w0), nn.PReLU(w0))
        self.stage1 = caffe_stage(w0, w1, blocks[0])
        self.stage2 = caffe_stage(w1, w2, blocks[1])
        self.stage3 = caffe_stage(w2, w3, blocks[2])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        l1 = self.stage1(self.stem(x))
        l2 = self.stage2(l1)
        return l1, l2, self.stage3(l2)


class AggregationBlock(nn.Module):
    """One level of the aggregation path: ``stage(ReLU(conv1x1(cat(feats))) [+ prev])``.

    Args:
        n_modalities: ``M``, how many maps are concatenated.
        width: ``w_k``, one modality's width at this level (the 1x1 conv maps ``M*w_k -> w_k``).
        stage: the copy of the next stage (``w_k -> w_{k+1}``); its own weights.
    """

    def __init__(self, n_modalities: int, width: int, stage: nn.Module) -> None:
        super().__init__()
        self.merge = nn.Conv2d(n_modalities * width, width, 1, bias=True)
        self.stage = stage

    def fuse(self, feats: Sequence[Tensor], prev: Tensor | None = None) -> Tensor:
        """The block before its stage: ``ReLU(conv1x1(cat(feats)))``, plus ``prev`` if given."""
        x = torch.relu(self.merge(torch.cat(list(feats), dim=1)))
        return x if prev is None else x + prev

    def forward(self, feats: Sequence[Tensor], prev: Tensor | None = None) -> Tensor:
        return self.stage(self.fuse(feats, prev))


def _stage(cfg: MMFASConfig, c_in: int, c_out: int, n_blocks: int) -> nn.Sequential:
    """A stage after the trunks (fourth stage, aggregation copies) in the trunk's style.

    dlib's shortcut zero-fills missing channels and so cannot drop any: a dlib-style stage that
    narrows (the fourth stage's ``M * 128 -> w4``) starts with a 1x1 convolution to ``c_out``.
    """
    if cfg.trunk == "caffe":
        return caffe_stage(c_in, c_out, n_blocks)
    stage = dlib_stage(min(c_in, c_out), c_out, n_blocks, downsample=True)
    if c_in <= c_out:
        return stage
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), *stage)


def _trunk(cfg: MMFASConfig, in_channels: int) -> nn.Module:
    if cfg.trunk == "dlib":
        return DlibTrunk(in_channels)
    return CaffeTrunk(in_channels, cfg.widths, cfg.blocks)


class MMFAS(nn.Module):
    """Parkin & Grinchuk's multi-modal network (see the module docstring).

    ``forward(x)`` takes ``{modality: (B, C_m, S, S)}`` (or the channels stacked in
    ``config.modalities`` order) and returns ``(B, n_classes)`` logits; :meth:`embed` the fused
    vector before the classifier.
    """

    def __init__(self, config: MMFASConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or MMFASConfig()
        w, b = cfg.widths, cfg.blocks
        if cfg.fusion == "early":
            self.trunks = nn.ModuleDict({"early": _trunk(cfg, sum(cfg.n_channels))})
        else:
            self.trunks = nn.ModuleDict({m: _trunk(cfg, c)
                                         for m, c in zip(cfg.modalities, cfg.n_channels)})
        n = len(self.trunks)
        self.main_stage = _stage(cfg, n * w[3], w[4], b[3])
        self.agg = nn.ModuleList()
        if cfg.uses_aggregation:
            self.agg = nn.ModuleList(
                [AggregationBlock(n, w[k], _stage(cfg, w[k], w[k + 1], b[k])) for k in (1, 2, 3)]
            )
        self.pool = nn.AdaptiveAvgPool2d(1)
        both = cfg.uses_aggregation and cfg.head == "concat"
        self.classifier = nn.Linear(w[4] * (2 if both else 1), cfg.n_classes)

    def levels(self, x: ModalityInput) -> list[tuple[Tensor, Tensor, Tensor]]:
        """Each trunk's level-1, 2, 3 maps (one trunk for early fusion)."""
        cfg = self.config
        inputs = as_modalities(x, cfg.modalities, cfg.n_channels)
        if cfg.fusion == "early":
            return [self.trunks["early"](torch.cat([inputs[m] for m in cfg.modalities], 1))]
        return [self.trunks[m](inputs[m]) for m in cfg.modalities]

    def embed(self, x: ModalityInput) -> Tensor:
        """The fused vector the classifier sees: ``(B, w4)`` (``(B, 2*w4)`` for ``concat``)."""
        levels = self.levels(x)
        main = self.pool(self.main_stage(torch.cat([lv[2] for lv in levels], 1))).flatten(1)
        if not self.agg:
            return main
        agg: Tensor | None = None
        for k, block in enumerate(self.agg):
            agg = block([lv[k] for lv in levels], agg)
        pooled = self.pool(agg).flatten(1)
        return main + pooled if self.config.head == "sum" else torch.cat([main, pooled], 1)

    def forward(self, x: ModalityInput) -> Tensor:
        return self.classifier(self.embed(x))


def build_mmfas(preset: str | MMFASConfig = "cpu", **overrides: Any) -> MMFAS:
    """An :class:`MMFAS` from a preset name (:data:`MMFAS_PRESETS`) or a config.

    ``overrides`` replace config fields, e.g. ``build_mmfas("cpu", aggregation=False,
    modalities=("depth",))``.
    """
    cfg = MMFAS_PRESETS[preset] if isinstance(preset, str) else preset
    return MMFAS(replace(cfg, **overrides))


def mmfas_dummy_input(config: MMFASConfig, batch_size: int = 1) -> dict[str, Tensor]:
    """Zeros of the right shape for every modality of ``config``."""
    s = config.input_size
    return {m: torch.zeros(batch_size, c, s, s)
            for m, c in zip(config.modalities, config.n_channels, strict=True)}


def describe_mmfas(presets: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Parameters and FLOPs of one forward pass (batch 1) per preset.

    Returns:
        ``{preset: {"params", "flops", "macs", "input_size", "widths", "blocks"}}``; FLOPs at
        2 per multiply-accumulate (:func:`~fas_lib.models.profile.count_flops`).
    """
    return describe_presets(MMFAS_PRESETS, MMFAS, mmfas_dummy_input, presets)


def dlib_trunk_config(preset: str | MMFASConfig = "cpu", **overrides: Any) -> MMFASConfig:
    """A preset with dlib's face-recognition trunk (``trunk="dlib"``, widths
    :data:`~fas_lib.models.pretrained.face_recognition.TRUNK_WIDTHS` + the preset's ``w4``), for
    :func:`init_from_face_recognition` and its random-init control; ``overrides`` as in
    :func:`build_mmfas` (``input_size`` at least 56)."""
    cfg = MMFAS_PRESETS[preset] if isinstance(preset, str) else preset
    fields: dict[str, Any] = {"trunk": "dlib", "widths": (*TRUNK_WIDTHS, cfg.widths[4])}
    return replace(cfg, **{**fields, **overrides})


@torch.no_grad()
def init_from_face_recognition(model: MMFAS, net: DlibResNet | None = None,
                               inflate: str = "mean") -> dict[str, str]:
    """Load dlib's face-recognition weights into every trunk of a ``trunk="dlib"`` MM-FAS.

    The RGB trunk receives dlib's stem and stages 1-3 as they are (its level maps then equal
    :func:`~fas_lib.models.pretrained.face_recognition.embed_with_features`' ``stage1-3`` on the
    same face); a trunk with another channel count (depth, NIR: 1) receives them **inflated**: the
    first convolution's weights averaged over the three RGB input channels and repeated, and
    the input mean averaged the same way. A grey image ``(v, v, v)`` so gives the RGB stem a
    response three times the inflated stem's on ``v`` (``inflate="sum"`` keeps it equal). The
    aggregation path, the fourth stage and the classifier keep their random initialisation.

    Args:
        model: an :class:`MMFAS` with ``trunk="dlib"`` and late fusion.
        net: the ported network (default
            :func:`~fas_lib.models.pretrained.face_recognition.load_face_recognition_net`).
        inflate: ``"mean"`` (the weights averaged over RGB) or ``"sum"``.

    Returns:
        ``{modality: "copied" | "inflated"}``.

    Raises:
        ValueError: the model has the caffe trunk or early fusion, or ``inflate`` is unknown.
    """
    cfg = model.config
    if inflate not in ("mean", "sum"):
        raise ValueError(f"inflate must be 'mean' or 'sum', got {inflate!r}")
    if cfg.trunk != "dlib" or cfg.fusion != "late":
        raise ValueError("init_from_face_recognition needs trunk='dlib' and fusion='late' "
                         f"(got trunk={cfg.trunk!r}, fusion={cfg.fusion!r})")
    source = (net or load_face_recognition_net()).state_dict()
    done = {}
    for name, trunk in model.trunks.items():
        own = trunk.state_dict()
        state = {k: source[k].clone() for k in own}
        c = own["conv.weight"].shape[1]
        if c != 3:
            w = state["conv.weight"]
            w = w.mean(1, keepdim=True) if inflate == "mean" else w.sum(1, keepdim=True)
            state["conv.weight"] = w.repeat(1, c, 1, 1)
            state["mean"] = state["mean"].mean(1, keepdim=True).repeat(1, c, 1, 1)
        trunk.load_state_dict(state)
        done[name] = "copied" if c == 3 else "inflated"
    return done
