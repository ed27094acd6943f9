"""dlib's ResNet face-recognition network in PyTorch, read from dlib's own ``.dat`` file.

MM-FAS (Parkin & Grinchuk, CVPRW 2019) initialises its trunks from a face-recognition network.
The course ships one: dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (in the
``face-recognition-models`` package), the network of dlib's ``dnn_face_recognition_ex.cpp``::

    loss_metric<fc_no_bias<128, avg_pool_everything<
        level0<level1<level2<level3<level4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>>

Every residual block is ``relu(add_prev(block(x), shortcut(x)))`` with
``block = affine(con3x3(relu(affine(con3x3_stride(x)))))``; the first block of a down-sampling
stage uses stride 2 **without padding** (dlib pads a strided convolution with 0) and a 2x2
average-pooled shortcut. dlib's ``add_prev`` adds tensors of different sizes by zero-filling
the smaller one (extra channels, and the last row / column when a strided convolution gives
3 x 3 against the shortcut's 4 x 4). ``affine`` is dlib's frozen batch norm, ``x * gamma + beta``
per channel. The input is ``(rgb - mean) / 256`` with the mean stored in the file.

:func:`~fas_lib.models.pretrained.dlib_dat.read_dlib_net` parses dlib's binary file;
:func:`load_face_recognition_net` builds :class:`DlibResNet` and copies the weights in, checking
every layer's kind and geometry against the file. :func:`embed_with_features` returns the 128-d
descriptor and the trunk's feature maps (to initialise an RGB trunk). Input chips are dlib's
``get_face_chip(img, shape, size=150, padding=0.25)``; the descriptors are dlib's, unnormalised
(norm about 1.4; dlib calls two faces the same person below a distance of 0.6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fas_lib.models.pretrained.dlib_dat import DlibLayer, DlibModelError, read_dlib_net

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
DESCRIPTOR_DIM = 128
INPUT_SCALE = 256.0
#: Trunk stages from the input side: (channels, residual blocks, first block down-samples).
#: dlib's ``alevel4`` ... ``alevel0``.
STAGES: tuple[tuple[int, int, bool], ...] = (
    (32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
#: Names of the feature maps :func:`embed_with_features` returns, input side first.
FEATURE_NAMES = ("stem", "stage1", "stage2", "stage3", "stage4", "stage5")


class Affine(nn.Module):
    """dlib's ``affine`` layer (a frozen batch norm): ``x * gamma + beta`` per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def add_prev(a: Tensor, b: Tensor) -> Tensor:
    """dlib's ``add_prev``: the sum over the larger of each size, the smaller tensor zero-filled
    (extra channels at the end, extra rows / columns at the bottom / right)."""
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def grow(t: Tensor) -> Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, size[2] - w, 0, size[1] - h, 0, size[0] - c))

    return grow(a) + grow(b)


class ResidualBlock(nn.Module):
    """``relu(add_prev(affine(con(relu(affine(con_s(x)))))), shortcut(x)))``: dlib's ``ares``,
    or ``ares_down`` (stride-2 unpadded first convolution, 2x2 average-pooled shortcut)."""

    def __init__(self, in_channels: int, channels: int, downsample: bool) -> None:
        super().__init__()
        stride, pad = (2, 0) if downsample else (1, 1)
        self.downsample = downsample
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, pad)
        self.affine1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.affine2 = Affine(channels)

    def forward(self, x: Tensor) -> Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(add_prev(y, shortcut))


def dlib_stage(c_in: int, c_out: int, n_blocks: int, downsample: bool = True) -> nn.Sequential:
    """One stage of dlib's ResNet: ``n_blocks`` :class:`ResidualBlock`, the first one
    ``c_in -> c_out`` and down-sampling (side ``s -> max((s - 3) // 2 + 1, s // 2)``) when
    ``downsample``."""
    return nn.Sequential(*[ResidualBlock(c_in if i == 0 else c_out, c_out, downsample and i == 0)
                           for i in range(n_blocks)])


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet (29 convolutions, 128-d output, 150 x 150 RGB input).

    ``forward`` takes ``(N, 3, 150, 150)`` tensors already normalised by :meth:`preprocess`.
    ``stages`` (``nn.ModuleList`` of ``nn.Sequential``) give feature maps of 32 x 35 x 35,
    64 x 17 x 17, 128 x 8 x 8, 256 x 4 x 4 and 256 x 2 x 2 after the stem's 32 x 35 x 35.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine = Affine(32)
        self.register_buffer("mean", torch.tensor([122.782, 117.001, 104.298]).view(1, 3, 1, 1))
        stages, width = [], 32
        for channels, blocks, down in STAGES:
            stages.append(dlib_stage(width, channels, blocks, down))
            width = channels
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(width, DESCRIPTOR_DIM, bias=False)

    def preprocess(self, chips: np.ndarray | Tensor) -> Tensor:
        """uint8 RGB chips ``(N, 150, 150, 3)`` (or one ``(150, 150, 3)``) -> the network's input
        ``(rgb - mean) / 256``, ``(N, 3, 150, 150)``, in this model's dtype and device."""
        x = torch.as_tensor(np.asarray(chips))
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"expected RGB chips (N, H, W, 3), got shape {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2).to(self.mean)
        return (x - self.mean) / INPUT_SCALE

    def stem(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)

    def forward_features(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The 128-d descriptors and the feature maps named in :data:`FEATURE_NAMES`."""
        features = {FEATURE_NAMES[0]: self.stem(x)}
        y = features[FEATURE_NAMES[0]]
        for name, stage in zip(FEATURE_NAMES[1:], self.stages):
            y = features[name] = stage(y)
        return self.fc(y.mean(dim=(2, 3))), features

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[0]


#: Widths of dlib's stem and of its stages 1-3, the levels 1-3 of an MM-FAS trunk.
TRUNK_WIDTHS: tuple[int, int, int, int] = (32, 32, 64, 128)


def dlib_trunk_sides(size: int) -> tuple[int, int, int]:
    """Sides of the level-1, 2, 3 maps of :class:`DlibTrunk` for a ``size`` x ``size`` input."""
    side = ((size - 7) // 2 + 1 - 3) // 2 + 1  # 7x7/2 convolution, 3x3/2 max-pool
    l1 = side
    l2 = max((l1 - 3) // 2 + 1, l1 // 2)  # add_prev keeps the larger of conv and shortcut
    return l1, l2, max((l2 - 3) // 2 + 1, l2 // 2)


class DlibTrunk(nn.Module):
    """dlib's stem and stages 1-3 as an MM-FAS trunk: ``forward`` returns the level-1, 2, 3
    maps (dlib's ``stage1``, ``stage2``, ``stage3``: 32, 64 and 128 channels).

    The input follows the course's convention (:func:`fas_lib.cache.loader.to_float`: ``u8 / 127.5 -
    1``, any number of channels) and is turned into dlib's ``(u8 - mean) / 256`` first, with
    the buffer ``mean`` (per channel; dlib's RGB mean once loaded, see
    :func:`~fas_lib.models.mmfas.model.init_from_face_recognition`), so that loaded weights see what
    they were trained on. Parameter names match :class:`DlibResNet`'s (``conv``, ``affine``,
    ``stages.0-2``).

    Args:
        in_channels: input channels (3: RGB; 1: depth or NIR).
    """

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, TRUNK_WIDTHS[0], 7, 2, 0)
        self.affine = Affine(TRUNK_WIDTHS[0])
        self.register_buffer("mean", torch.full((1, in_channels, 1, 1), 127.5))
        width, stages = TRUNK_WIDTHS[0], []
        for channels, blocks, down in STAGES[:3]:
            stages.append(dlib_stage(width, channels, blocks, down))
            width = channels
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        z = ((x + 1.0) * 127.5 - self.mean) / INPUT_SCALE
        y = F.max_pool2d(F.relu(self.affine(self.conv(z))), 3, 2)
        l1 = self.stages[0](y)
        l2 = self.stages[1](l1)
        return l1, l2, self.stages[2](l2)


def _expected_layers(model: DlibResNet) -> list[tuple[str, nn.Module | None, dict[str, int]]]:
    """The network as dlib's layer sequence (input side first): kind, module, pooling config."""
    pool2 = {"nr": 2, "nc": 2, "stride_y": 2, "stride_x": 2, "pad_y": 0, "pad_x": 0}
    seq: list[tuple[str, nn.Module | None, dict[str, int]]] = [
        ("con", model.conv, {}), ("affine", model.affine, {}), ("relu", None, {}),
        ("max_pool", None, {**pool2, "nr": 3, "nc": 3})]
    for stage in model.stages:
        for block in stage:
            seq += [("con", block.conv1, {}), ("affine", block.affine1, {}), ("relu", None, {}),
                    ("con", block.conv2, {}), ("affine", block.affine2, {})]
            seq += [("avg_pool", None, pool2)] if block.downsample else []
            seq += [("add_prev", None, {}), ("relu", None, {})]
    everything = {"nr": 0, "nc": 0, "stride_y": 1, "stride_x": 1, "pad_y": 0, "pad_x": 0}
    return seq + [("avg_pool", None, everything), ("fc", model.fc, {})]


def _copy_conv(conv: nn.Conv2d, layer: DlibLayer) -> None:
    c = layer.config
    geometry = (c["filters"], c["nr"], c["nc"], c["stride_y"], c["stride_x"], c["pad_y"],
                c["pad_x"])
    expected = (conv.out_channels, *conv.kernel_size, *conv.stride, *conv.padding)
    if geometry != expected:
        raise DlibModelError(f"convolution {geometry} in the file, {expected} expected")
    n = conv.weight.numel()
    _copy(conv.weight, layer.params[:n])
    _copy(conv.bias, layer.params[n:])


def _copy(target: Tensor, values: np.ndarray) -> None:
    if values.size != target.numel():
        raise DlibModelError(f"{values.size} parameters in the file, {target.numel()} expected")
    with torch.no_grad():
        target.copy_(torch.from_numpy(values.reshape(target.shape)))


def _copy_layer(kind: str, module: nn.Module | None, config: dict[str, int],
                layer: DlibLayer) -> None:
    if layer.kind != kind:
        raise DlibModelError(f"layer {layer.kind!r} in the file where {kind!r} is expected")
    if config and any(layer.config.get(k) != v for k, v in config.items()):
        raise DlibModelError(f"{kind} {layer.config} in the file, {config} expected")
    if isinstance(module, nn.Conv2d):
        _copy_conv(module, layer)
    elif isinstance(module, Affine):
        half = layer.params.size // 2
        _copy(module.gamma, layer.params[:half])
        _copy(module.beta, layer.params[half:])
    elif isinstance(module, nn.Linear):  # dlib stores (inputs, outputs): x @ W
        if layer.config.get("bias_mode") != 1:
            raise DlibModelError("expected dlib's fc_no_bias")
        w = layer.params.reshape(module.in_features, module.out_features)
        _copy(module.weight, np.ascontiguousarray(w.T))


def default_model_path() -> Path:
    """``dlib_face_recognition_resnet_model_v1.dat`` in the ``face-recognition-models`` package."""
    from fas_lib.preprocess.align import models_dir

    return models_dir() / MODEL_FILE


def load_face_recognition_net(path: str | Path | None = None) -> DlibResNet:
    """dlib's face-recognition network as a :class:`DlibResNet` in eval mode (float32, CPU).

    Args:
        path: the ``.dat`` file; default :func:`default_model_path`.

    Raises:
        ModelFilesNotFound: (a ``FileNotFoundError``) no such file.
        DlibModelError: the file is corrupt or holds another network.
    """
    net_file = read_dlib_net(default_model_path() if path is None else path)
    if net_file.input_size != (CHIP_SIZE, CHIP_SIZE):
        raise DlibModelError(f"input {net_file.input_size}, expected {CHIP_SIZE} x {CHIP_SIZE}")
    model = DlibResNet()
    expected = _expected_layers(model)
    if len(expected) != len(net_file.layers):
        raise DlibModelError(f"{len(net_file.layers)} layers in the file, {len(expected)} "
                             "expected")
    for (kind, module, config), layer in zip(expected, net_file.layers):
        _copy_layer(kind, module, config, layer)
    model.mean.copy_(torch.tensor(net_file.input_mean).view(1, 3, 1, 1))
    return model.eval()


@torch.no_grad()
def embed_with_features(model: DlibResNet,
                        chips: np.ndarray | Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """128-d descriptors ``(N, 128)`` of uint8 RGB chips cut like dlib's
    ``get_face_chip(img, shape, size=150, padding=0.25)``, and the trunk's feature maps
    (:data:`FEATURE_NAMES`: stem, then the five stages), all without gradients."""
    return model.forward_features(model.preprocess(chips))


def face_descriptors(model: DlibResNet, chips: np.ndarray | Tensor) -> np.ndarray:
    """dlib's ``compute_face_descriptor`` for aligned chips: ``(N, 128)`` float64."""
    return embed_with_features(model, chips)[0].double().cpu().numpy()
