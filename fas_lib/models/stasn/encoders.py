"""Frame encoders for the temporal models: one image -> a feature map *and* a feature vector.

STASN (:mod:`fas_lib.models.stasn.model`) needs both outputs of its CNN: the feature map, on which
the region attention predicts where to look, and the pooled vector, which the temporal LSTM reads.
:class:`FrameEncoder` gives them as :meth:`FrameEncoder.feature_map` and
:meth:`FrameEncoder.pool`; ``forward`` chains the two.

========  =========================================================  ============  ===============
name      network                                                    map (112 px)  vector ``D``
========  =========================================================  ============  ===============
cnn_s     Table I's :class:`~fas_lib.models.msfans.cnn.CNN_S` (CPU)  96 x 6 x 6    1024 (its FC)
cnn_d     Table I's :class:`~fas_lib.models.msfans.cnn.CNN_D`        256 x 4 x 4   1024 (its FCs)
resnet18  torchvision's ResNet-18 architecture, random weights       512 x 4 x 4   512 (avg pool)
resnet50  torchvision's ResNet-50 architecture, random weights       2048 x 4 x 4  2048 (avg pool)
========  =========================================================  ============  ===============

The ResNets are built with ``weights=None``: nothing is downloaded; a caller who has a local
checkpoint loads it into ``encoder.net`` itself. The Table I CNNs end in fully connected layers,
so they accept one input side only (``input_size``); the ResNets pool adaptively and accept any.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision import models as tv_models

from fas_lib.models.msfans.cnn import TableICNN, build_backbone

__all__ = ["ENCODERS", "FrameEncoder", "ResNetEncoder", "TableEncoder", "build_frame_encoder"]

#: Names accepted by :func:`build_frame_encoder`.
ENCODERS: tuple[str, ...] = ("cnn_s", "cnn_d", "resnet18", "resnet50")


class FrameEncoder(nn.Module):
    """Base class: images ``(N, 3, H, W)`` -> map ``(N, C, h, w)`` -> vector ``(N, D)``.

    Attributes:
        map_channels: ``C``, channels of :meth:`feature_map`.
        feature_dim: ``D``, width of :meth:`pool`'s output.
    """

    map_channels: int
    feature_dim: int

    def feature_map(self, x: Tensor) -> Tensor:
        """The last convolutional feature map ``(N, C, h, w)``."""
        raise NotImplementedError

    def pool(self, fmap: Tensor) -> Tensor:
        """The feature vector ``(N, D)`` of a map from :meth:`feature_map`."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Images ``(N, 3, H, W)`` -> feature vectors ``(N, D)``."""
        return self.pool(self.feature_map(x))


class TableEncoder(FrameEncoder):
    """A Table I CNN split at its flatten: ``features`` gives the map, ``head`` the vector.

    Same computation as ``TableICNN.forward`` (channels-last convolutions included), so the
    vector equals ``net(x)``.

    Args:
        net: a built :class:`~fas_lib.models.msfans.cnn.TableICNN` (e.g. ``CNN_S``).
    """

    def __init__(self, net: TableICNN) -> None:
        super().__init__()
        self.net = net
        self.map_channels = int(
            next(n for _, kind, _, _, n in reversed(net.spec) if kind == "conv") or 0
        )
        self.feature_dim = int(net.feature_dim)

    def feature_map(self, x: Tensor) -> Tensor:
        """Conv / BN / ReLU / pool blocks of Table I."""
        if self.net.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net.features(x)

    def pool(self, fmap: Tensor) -> Tensor:
        """Flatten, then Table I's FC layers (ReLU and dropout after each)."""
        return self.net.head(torch.flatten(fmap, 1))


class ResNetEncoder(FrameEncoder):
    """A torchvision ResNet without its classifier: stem to ``layer4``, then average pooling.

    Args:
        net: a torchvision ``ResNet`` (its ``fc`` is not used and is dropped).
    """

    def __init__(self, net: tv_models.ResNet) -> None:
        super().__init__()
        self.body = nn.Sequential(
            net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
            net.layer4,
        )
        self.feature_dim = self.map_channels = int(net.fc.in_features)

    def feature_map(self, x: Tensor) -> Tensor:
        """``layer4``'s output, stride 32."""
        return self.body(x)

    def pool(self, fmap: Tensor) -> Tensor:
        """Global average pooling."""
        return fmap.mean(dim=(2, 3))


def build_frame_encoder(name: str, input_size: int = 112, dropout: float = 0.5) -> FrameEncoder:
    """Build a :class:`FrameEncoder` by name (one of :data:`ENCODERS`).

    Args:
        name: ``"cnn_s"``, ``"cnn_d"``, ``"resnet18"`` or ``"resnet50"``.
        input_size: image side; fixes the Table I CNNs' first FC, ignored by the ResNets.
        dropout: dropout after each FC of the Table I CNNs; ignored by the ResNets.

    Raises:
        ValueError: on an unknown name.
    """
    key = name.lower()
    if key in ("cnn_s", "cnn_d"):
        return TableEncoder(build_backbone(key, input_size, 0, dropout))
    if key == "resnet18":
        return ResNetEncoder(tv_models.resnet18(weights=None))
    if key == "resnet50":
        return ResNetEncoder(tv_models.resnet50(weights=None))
    raise ValueError(f"unknown frame encoder {name!r}; expected one of {ENCODERS}")
