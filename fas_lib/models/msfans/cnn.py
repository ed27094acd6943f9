"""Table I's CNNs of MS-FANS (Luo et al., ICPR 2018): :class:`CNN_S` and :class:`CNN_D`.

* :class:`TableICNN`: a CNN built from a Table I column; :class:`CNN_S` / :class:`CNN_D` are the
  shallow and deep networks (:func:`build_backbone`).
* :func:`describe`: Table I rebuilt from a model, shapes measured by a forward pass.

The multi-scale model is :class:`fas_lib.models.msfans.multiscale.MultiScaleNet`, its fusion heads
live in :mod:`fas_lib.models.msfans.fusion` and the FLOP / latency measurements in
:mod:`fas_lib.models.profile`.

Choices Table I leaves open (all documented on :class:`TableICNN`): convolutions and poolings
are unpadded ("valid", ``padding=0``, ``ceil_mode=False``); every FC layer, the last one included,
is followed by ReLU and dropout (``p=0.5``); convolutions have no bias (BatchNorm's shift
replaces it); the feature is the last FC layer's output (``D = 1024`` for both CNNs).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "BACKBONES", "CNN_D", "CNN_D_SPEC", "CNN_S", "CNN_S_SPEC", "TableICNN", "build_backbone",
    "describe",
]

#: Table I, shallow network: rows ``(name, kind, kernel w, stride s, filters/neurons N)``.
CNN_S_SPEC: tuple[tuple[str, str, int | None, int | None, int | None], ...] = (
    ("Conv-1", "conv", 3, 2, 48),
    ("Pooling-1", "pool", 3, 2, None),
    ("Conv-2", "conv", 3, 2, 96),
    ("Pooling-2", "pool", 3, 2, None),
    ("FC-1", "fc", None, None, 1024),
)

#: Table I, deep network.
CNN_D_SPEC: tuple[tuple[str, str, int | None, int | None, int | None], ...] = (
    ("Conv-1", "conv", 3, 1, 32),
    ("Pooling-1", "pool", 3, 2, None),
    ("Conv-2", "conv", 3, 1, 64),
    ("Pooling-2", "pool", 3, 2, None),
    ("Conv-3", "conv", 3, 1, 128),
    ("Pooling-3", "pool", 3, 2, None),
    ("Conv-4", "conv", 3, 1, 256),
    ("Pooling-4", "pool", 3, 2, None),
    ("FC-1", "fc", None, None, 2048),
    ("FC-2", "fc", None, None, 1024),
)


class TableICNN(nn.Module):
    """A CNN built from a Table I column: ``conv -> BN -> ReLU`` blocks with max-pooling, then FCs.

    Choices the paper leaves open, and ours:

    * **Convolution padding 0** ("valid"; PyTorch's default). With padding 0 the spatial sizes on
      a 112 x 112 input are CNN_S ``112 -conv-> 55 -pool-> 27 -conv-> 13 -pool-> 6`` (FC-1 reads
      ``96*6*6 = 3456``) and CNN_D ``112 -> 110 -> 54 -> 52 -> 25 -> 23 -> 11 -> 9 -> 4``
      (FC-1 reads ``256*4*4 = 4096``). Padding 1 gives CNN_S ``56, 27, 14, 6`` and CNN_D
      ``112, 55, 55, 27, 27, 13, 13, 6`` (FC-1 reads ``9216``). Padding 0 is preferred because it
      is the closest of the Table-I-compatible choices to Table IV's FLOPs (:func:`count_flops`):
      3-scale FLOPs 0.087 G (CNN_S) and 0.802 G (CNN_D) against the paper's 0.075 G and 0.768 G,
      whereas padding 1 gives 0.094 G and 1.147 G. With padding 0, one counting convention
      reproduces both published numbers within 2 %: convolutions at 2 FLOPs per multiply-add
      and fully connected layers at 1 (:func:`paper_convention_flops`: 0.0762 G and 0.7706 G).
    * **Max-pooling** ``3 x 3``, stride 2, padding 0, ``ceil_mode=False`` (floor).
    * **Convolutions without bias**: each is followed by BatchNorm (Table I caption), whose
      learned shift makes a bias redundant.
    * **FC layers**: each FC, the last one included, is followed by ReLU then dropout
      (``p = 0.5``); the feature ``f`` fed to the fusion is the last FC's output after ReLU and
      dropout, so ``feature_dim`` is 1024 for both networks. The 2-way classifier lives in the
      fusion head, not here.
    * **Initialisation**: PyTorch defaults.

    Args:
        spec: rows ``(name, kind, kernel, stride, N)`` such as :data:`CNN_S_SPEC`.
        input_size: side of the square input (Table I: 112).
        in_channels: 3 for RGB.
        conv_padding: padding of every convolution (0 or 1 are the sensible choices).
        dropout: dropout probability after each FC layer.
        name: a short name, e.g. ``"cnn_s"``.
    """

    #: Run the convolutions on a channels-last copy of the input (see :meth:`forward`).
    channels_last: bool = True

    def __init__(
        self,
        spec: Sequence[tuple[str, str, int | None, int | None, int | None]],
        input_size: int = 112,
        in_channels: int = 3,
        conv_padding: int = 0,
        dropout: float = 0.5,
        name: str = "cnn",
    ) -> None:
        super().__init__()
        self.spec = tuple(spec)
        self.name = name
        self.input_size = input_size
        self.in_channels = in_channels
        self.conv_padding = conv_padding
        self.dropout = dropout
        #: ``(Table I row name, submodule name)``: what :func:`describe` reports.
        self.table_rows: list[tuple[str, str]] = []
        conv: OrderedDict[str, nn.Module] = OrderedDict()
        fc: OrderedDict[str, nn.Module] = OrderedDict()
        c, side, n_conv, n_pool, n_fc, width = in_channels, input_size, 0, 0, 0, 0
        for row, kind, k, s, n in self.spec:
            if kind == "conv":
                n_conv += 1
                conv[f"conv{n_conv}"] = nn.Conv2d(c, n, k, s, padding=conv_padding, bias=False)
                conv[f"bn{n_conv}"] = nn.BatchNorm2d(n)
                conv[f"relu{n_conv}"] = nn.ReLU(inplace=True)
                self.table_rows.append((row, f"features.conv{n_conv}"))
                c, side = n, (side + 2 * conv_padding - k) // s + 1
            elif kind == "pool":
                n_pool += 1
                conv[f"pool{n_pool}"] = nn.MaxPool2d(k, s, padding=0, ceil_mode=False)
                self.table_rows.append((row, f"features.pool{n_pool}"))
                side = (side - k) // s + 1
            elif kind == "fc":
                n_fc += 1
                in_features = c * side * side if n_fc == 1 else width
                fc[f"fc{n_fc}"] = nn.Linear(in_features, n)
                fc[f"relu_fc{n_fc}"] = nn.ReLU(inplace=True)
                fc[f"drop_fc{n_fc}"] = nn.Dropout(dropout)
                self.table_rows.append((row, f"head.fc{n_fc}"))
                width = n
            else:
                raise ValueError(f"unknown layer kind {kind!r} in spec row {row!r}")
            if side < 1:
                raise ValueError(f"input_size={input_size} is too small: {row} has no output")
        self.features = nn.Sequential(conv)
        self.head = nn.Sequential(fc)
        self.feature_dim: int = width

    def forward(self, x: Tensor) -> Tensor:
        """Images ``(N, 3, H, W)`` -> features ``(N, feature_dim)``.

        The convolutions run on a channels-last copy of ``x``: oneDNN's CPU kernels are about
        1.5x faster on it for these small channel counts (``benchmarks/bench_train.py``
        measures both layouts; set the attribute ``channels_last = False`` for the plain
        layout); the result is the same up to float rounding.
        """
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.head(torch.flatten(self.features(x), 1))


class CNN_S(TableICNN):  # noqa: N801 - the paper's name
    """The shallow network of Table I (conv(3,2,48), pool, conv(3,2,96), pool, fc(1024)).

    See :class:`TableICNN` for the choices and arguments.
    """

    def __init__(self, input_size: int = 112, conv_padding: int = 0, dropout: float = 0.5) -> None:
        super().__init__(CNN_S_SPEC, input_size, 3, conv_padding, dropout, name="cnn_s")


class CNN_D(TableICNN):  # noqa: N801 - the paper's name
    """The deep network of Table I (four conv(3,1,N) + pool blocks, fc(2048), fc(1024)).

    See :class:`TableICNN` for the choices and arguments.
    """

    def __init__(self, input_size: int = 112, conv_padding: int = 0, dropout: float = 0.5) -> None:
        super().__init__(CNN_D_SPEC, input_size, 3, conv_padding, dropout, name="cnn_d")


#: Backbone names accepted by :func:`build_backbone`.
BACKBONES: dict[str, type[TableICNN]] = {"cnn_s": CNN_S, "cnn_d": CNN_D}


def build_backbone(
    name: str, input_size: int = 112, conv_padding: int = 0, dropout: float = 0.5
) -> TableICNN:
    """Build ``"cnn_s"`` or ``"cnn_d"``; the result has ``.feature_dim`` (1024 for both).

    Raises:
        ValueError: on an unknown name.
    """
    key = name.lower()
    if key not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}")
    return BACKBONES[key](input_size=input_size, conv_padding=conv_padding, dropout=dropout)


def describe(model: nn.Module, input_size: int | None = None) -> list[dict[str, Any]]:
    """Table I rebuilt from a model: one row per layer, shapes measured by a forward pass.

    Args:
        model: a :class:`TableICNN` or a :class:`MultiScaleNet` (its backbone is described).
        input_size: input side; defaults to the model's own.

    Returns:
        Rows with keys ``layer``, ``kernel``, ``stride``, ``filters``, ``output_shape``
        (``(C, H, W)`` or ``(N,)``, batch left out), ``params`` (conv + its BatchNorm, or FC)
        and ``macs`` (multiply-accumulates of that layer for one image); ``pd.DataFrame(rows)``
        prints the table.
    """
    net = model if isinstance(model, TableICNN) else getattr(model, "backbone", model)
    if not isinstance(net, TableICNN):
        raise TypeError(
            f"describe() expects a TableICNN or MultiScaleNet, got {type(net).__name__}"
        )
    side = input_size or net.input_size
    modules = dict(net.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        modules[m].register_forward_hook(
            lambda _m, _i, out, key=m: shapes.__setitem__(key, tuple(out.shape[1:]))
        )
        for _, m in net.table_rows
    ]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, net.in_channels, side, side))
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    rows: list[dict[str, Any]] = [dict(layer="Input", kernel=None, stride=None,
                                       filters=net.in_channels,
                                       output_shape=(net.in_channels, side, side),
                                       params=0, macs=0)]
    for (row, key), (_, kind, k, s, n) in zip(net.table_rows, net.spec, strict=True):
        mod, shape = modules[key], shapes[key]
        params = sum(p.numel() for p in mod.parameters())
        if kind == "conv":
            params += sum(p.numel() for p in modules[key.replace("conv", "bn")].parameters())
            macs = shape[0] * shape[1] * shape[2] * mod.in_channels * k * k
        elif kind == "fc":
            macs = mod.in_features * mod.out_features
        else:
            macs = 0
        rows.append(dict(layer=row, kernel=k, stride=s, filters=n, output_shape=shape,
                         params=params, macs=macs))
    return rows
