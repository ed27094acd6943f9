"""Building blocks shared by the multi-modal networks (:mod:`~fas_lib.models.mmfas.model`,
:mod:`~fas_lib.models.adsn.model`).

* :func:`caffe_stage`: one stage of the "ResNet caffe" trunk of Parkin & Grinchuk's public code
  (3x3 convolution without padding, BatchNorm, PReLU, 2x2 max-pool, then residual blocks);
* :class:`CaffeBlock`: that trunk's residual block (conv-BN-PReLU twice, identity shortcut);
* :func:`resnet_stage` / :class:`ResNetBlock`: the ResNet18 basic block and stage (He et al.),
  used by ADSN's streams;
* :func:`as_modalities`: a ``{name: (B, C, H, W)}`` mapping from a mapping or from one tensor
  whose channels are the modalities stacked in order;
* :func:`describe_presets`: parameters and FLOPs of each preset of a network
  (:func:`~fas_lib.models.profile.count_flops` on the preset's dummy input).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from fas_lib.models.profile import count_flops

__all__ = [
    "CaffeBlock", "ModalityInput", "ResNetBlock", "as_modalities", "caffe_stage",
    "describe_presets", "resnet_stage",
]

#: What the multi-modal networks accept: ``{modality: (B, C_m, H, W)}`` or one ``(B, sum C_m,
#: H, W)`` tensor holding the modalities' channels in the network's modality order.
ModalityInput = Mapping[str, Tensor] | Tensor


class CaffeBlock(nn.Module):
    """Residual block of the "ResNet caffe" trunk: ``x + PReLU(BN(conv(PReLU(BN(conv(x))))))``.

    Both convolutions are 3x3 with padding 1 and no bias; the shortcut is the identity (the
    width does not change inside a stage) and no activation follows the addition, as in the
    authors' code.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.PReLU(width),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def caffe_stage(c_in: int, c_out: int, n_blocks: int) -> nn.Sequential:
    """One stage of the "ResNet caffe" trunk: spatial side ``s -> (s - 2) // 2``.

    A 3x3 convolution without padding (``c_in -> c_out``, no bias), BatchNorm, PReLU, a 2x2
    max-pool of stride 2, then ``n_blocks`` :class:`CaffeBlock`.
    """
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, padding=0, bias=False), nn.BatchNorm2d(c_out),
        nn.PReLU(c_out), nn.MaxPool2d(2, 2),
    ]
    layers += [CaffeBlock(c_out) for _ in range(n_blocks)]
    return nn.Sequential(*layers)


class ResNetBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3x3 conv-BN, a projection shortcut when the
    width or stride changes (1x1 conv + BN), ReLU after the addition."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet_stage(c_in: int, c_out: int, n_blocks: int, stride: int) -> nn.Sequential:
    """``n_blocks`` :class:`ResNetBlock`, the first with ``stride`` and the width change."""
    return nn.Sequential(*[ResNetBlock(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1)
                           for i in range(n_blocks)])


def as_modalities(
    x: ModalityInput, modalities: Sequence[str], channels: Sequence[int]
) -> dict[str, Tensor]:
    """The per-modality tensors a network needs, from a mapping or one stacked tensor.

    Args:
        x: ``{name: (B, C_m, H, W)}`` (extra keys are ignored) or ``(B, sum(channels), H, W)``
            with the modalities' channels stacked in the order of ``modalities``.
        modalities: the names the network uses, in order.
        channels: ``C_m`` of each modality.

    Raises:
        KeyError: a modality is missing from the mapping.
        ValueError: a tensor has the wrong number of channels.
    """
    if isinstance(x, Tensor):
        if x.shape[1] != sum(channels):
            raise ValueError(f"expected {sum(channels)} stacked channels for {tuple(modalities)}"
                             f" ({tuple(channels)}), got {x.shape[1]}")
        return dict(zip(modalities, torch.split(x, list(channels), dim=1), strict=True))
    out = {}
    for name, c in zip(modalities, channels, strict=True):
        if name not in x:
            raise KeyError(f"modality {name!r} missing from the input (has {sorted(x)})")
        if x[name].shape[1] != c:
            raise ValueError(f"modality {name!r}: expected {c} channels, got {x[name].shape[1]}")
        out[name] = x[name]
    return out


def describe_presets(table: Mapping[str, Any], build: Callable[[Any], nn.Module],
                     dummy: Callable[[Any], Mapping[str, Tensor]],
                     presets: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Parameters and FLOPs (:func:`~fas_lib.models.profile.count_flops`) of one forward pass
    per preset of ``table``
    (a preset name -> config dataclass with ``input_size``, ``widths`` and ``blocks``), with
    those three fields; ``build(config)`` makes the model, ``dummy(config)`` its input."""
    out = {}
    for name in presets or list(table):
        cfg = table[name]
        row: dict[str, Any] = count_flops(build(cfg), inputs=dummy(cfg))
        row.update({k: asdict(cfg)[k] for k in ("input_size", "widths", "blocks")})
        out[name] = row
    return out
