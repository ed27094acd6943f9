"""The networks of MS-FANS (Luo et al., ICPR 2018): Table I's CNNs and the multi-scale model.

* :class:`CNN_S` / :class:`CNN_D`: the shallow and deep CNNs of Table I (``build_backbone``).
* :class:`MultiScaleNet`: **one** CNN shared by all scales (Eq. 1), a fusion head
  (``single`` / ``average`` / ``concat`` / ``msfans``, see :mod:`fas_lib.fusion`) and the
  auxiliary per-scale classifiers (Eq. 5).
* :func:`count_flops` / :func:`compare_with_paper` (Table IV), :func:`measure_latency`;
  re-exported from :mod:`fas_lib.fusion`: :func:`msfans_loss` (Eq. 6), :func:`scores_from_logits`.

Label convention: logit index 1 is bona fide (:data:`fas_lib.LIVE`), so
``scores_from_logits(logits) = softmax(logits)[:, 1]`` is higher for more bona fide inputs.

Choices Table I leaves open (all documented on :class:`TableICNN`): convolutions and poolings
are unpadded ("valid", ``padding=0``, ``ceil_mode=False``); every FC layer, the last one included,
is followed by ReLU and dropout (``p=0.5``); convolutions have no bias (BatchNorm's shift
replaces it); the feature is the last FC layer's output (``D = 1024`` for both CNNs).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from fas_lib.models.fusion import (
    FUSIONS,
    WEIGHT_NORMS,
    AuxClassifiers,
    FusionHead,
    MultiScaleOutput,
    build_fusion,
    msfans_loss,
    scores_from_logits,
)

__all__ = [
    "BACKBONES", "CNN_D", "CNN_D_SPEC", "CNN_S", "CNN_S_SPEC", "FUSIONS", "PAPER_TABLE_IV_FLOPS",
    "WEIGHT_NORMS", "MultiScaleNet", "MultiScaleOutput", "TableICNN", "build_backbone",
    "compare_with_paper", "count_flops", "describe", "measure_latency", "msfans_loss",
    "scores_from_logits",
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

#: The paper's **published** FLOPs (Table IV, "the sum FLOPS of three scales", i.e. the CNN run
#: on three 112 x 112 crops). Not measured here; compare with :func:`compare_with_paper`.
PAPER_TABLE_IV_FLOPS: dict[str, float] = {"cnn_s": 0.075e9, "cnn_d": 0.768e9}


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
      whereas padding 1 gives 0.094 G and 1.147 G. No choice reproduces both numbers: we also
      tried pool padding 1, ``ceil_mode=True``, counting convolutions only (0.066 G / 0.739 G)
      and 128 x 128 inputs; none matches both within 10 % while staying consistent.
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
    net = model.backbone if isinstance(model, MultiScaleNet) else model
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


class MultiScaleNet(nn.Module):
    """MS-FANS and its baselines: a shared CNN over ``n`` scales, a fusion head, aux classifiers.

    Eq. 1 uses one CNN for every scale: the input ``(B, n, 3, H, W)`` is folded into a batch of
    ``B*n`` crops, so BatchNorm statistics in training mix all scales of the batch. The auxiliary
    classifiers exist for every fusion; :func:`msfans_loss` decides whether they are trained.

    Re-weighting scales by hand without re-running the CNN (notebook 05)::

        model.eval()
        with torch.no_grad():
            feats = model.extract_features(crops)                # (B, n, D), once
            scores = scores_from_logits(model.classify_features(feats, weights=[0.2, 0.5, 0.3]))

    Args:
        backbone: ``"cnn_s"``, ``"cnn_d"`` or a built module with ``.feature_dim``.
        fusion: ``"single"``, ``"average"``, ``"concat"`` or ``"msfans"``.
        n_scales: number of crops per sample, in input order.
        weight_norm: MS-FANS weights: ``"none"`` (paper, raw LSTM outputs) or ``"softmax"``.
        dropout: dropout after each FC of the backbone.
        scale_index: for ``fusion="single"``: the scale that is classified.
        aux_shared: one auxiliary classifier for all scales (``True``) or one per scale.
        input_size: crop side (paper: 112).
        conv_padding: backbone convolution padding (see :class:`TableICNN`).
    """

    def __init__(
        self,
        backbone: str | nn.Module = "cnn_s",
        fusion: str = "msfans",
        n_scales: int = 3,
        weight_norm: str = "none",
        dropout: float = 0.5,
        scale_index: int = 0,
        aux_shared: bool = False,
        input_size: int = 112,
        conv_padding: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(backbone, str):
            self.backbone: nn.Module = build_backbone(backbone, input_size, conv_padding, dropout)
        else:
            self.backbone = backbone
        self.feature_dim: int = int(self.backbone.feature_dim)
        self.n_scales = n_scales
        self.fusion_name = fusion
        #: Keyword arguments that rebuild this model (for checkpoints).
        self.config: dict[str, Any] = dict(
            backbone=backbone if isinstance(backbone, str) else type(backbone).__name__,
            fusion=fusion, n_scales=n_scales, weight_norm=weight_norm, dropout=dropout,
            scale_index=scale_index, aux_shared=aux_shared, input_size=input_size,
            conv_padding=conv_padding,
        )
        self.fusion: FusionHead = build_fusion(
            fusion, self.feature_dim, n_scales, weight_norm=weight_norm, scale_index=scale_index
        )
        self.aux = AuxClassifiers(self.feature_dim, n_scales, shared=aux_shared)

    def extract_features(self, x: Tensor) -> Tensor:
        """Eq. 1 with one shared CNN: crops ``(B, n, 3, H, W)`` -> features ``(B, n, D)``.

        A 4-D input ``(B, 3, H, W)`` is accepted when ``n_scales == 1``.
        """
        if x.dim() == 4 and self.n_scales == 1:
            x = x.unsqueeze(1)
        if x.dim() != 5 or x.shape[1] != self.n_scales:
            raise ValueError(
                f"expected crops of shape (B, {self.n_scales}, C, H, W); got {tuple(x.shape)}"
            )
        b, n = x.shape[:2]
        return self.backbone(x.flatten(0, 1)).view(b, n, -1)

    def fuse(
        self, feats: Tensor, weights: Tensor | Sequence[float] | None = None
    ) -> MultiScaleOutput:
        """Fuse precomputed features ``(B, n, D)`` and classify them (Eq. 2-5).

        Args:
            feats: per-scale features, e.g. from :meth:`extract_features` in eval mode.
            weights: ``None`` for the model's own weights, else ``(n,)`` or ``(B, n)`` weights
                used as given (not normalised), e.g. from notebook 05's sliders.
        """
        logits, w, fused = self.fusion(feats, weights)
        return MultiScaleOutput(logits, self.aux(feats), w, fused, feats)

    def classify_features(
        self, feats: Tensor, weights: Tensor | Sequence[float] | None = None
    ) -> Tensor:
        """Logits ``(B, 2)`` of the trained classifier on features fused with ``weights``.

        Runs no CNN: changing the weights and re-scoring is instant. With ``weights=None`` this
        equals ``forward(x).logits`` for the same features.
        """
        return self.fusion(feats, weights)[0]

    def scale_weights(self, feats: Tensor) -> Tensor:
        """The model's own scale weights ``(B, n)`` for features ``(B, n, D)``."""
        return self.fusion.default_weights(feats)

    def forward(self, x: Tensor) -> MultiScaleOutput:
        """Crops ``(B, n, 3, H, W)`` -> :class:`MultiScaleOutput`."""
        return self.fuse(self.extract_features(x))


def _dummy_input(model: nn.Module, n_scales: int, input_size: int, batch_size: int) -> Tensor:
    if isinstance(model, MultiScaleNet):
        return torch.zeros(batch_size, n_scales, 3, input_size, input_size)
    return torch.zeros(batch_size * n_scales, 3, input_size, input_size)


def count_flops(
    model: nn.Module, n_scales: int = 3, input_size: int = 112, batch_size: int = 1
) -> dict[str, float]:
    """FLOPs, MACs and parameters of one forward pass over ``n_scales`` crops (eval mode).

    Measured with :class:`torch.utils.flop_counter.FlopCounterMode`, which counts convolutions and
    matrix products at **2 FLOPs per multiply-accumulate** and ignores BatchNorm, ReLU, pooling
    and additions of biases. ``macs = flops / 2``. The counter does not see ``nn.LSTM`` (a fused
    kernel on CPU), so its matrix products are added by hand: ``2 * B * n * 4H(D + H)`` per layer
    and direction, about 25 kFLOPs for MS-FANS's one-unit LSTM over three scales.

    Table IV defines FLOPS as "the number of multiply and add", i.e. multiplications *plus*
    additions = 2 per multiply-accumulate: the paper's 0.075 G (CNN_S) and 0.768 G (CNN_D) for
    three scales are to be compared with ``flops``, not ``macs``. With Table I, 112 x 112 crops and
    padding 0 we measure about 0.087 G and 0.802 G FLOPs (ratios 1.16 and 1.04), whereas the MACs
    (0.043 G, 0.401 G) are about half the paper's values (see :func:`compare_with_paper`).

    Args:
        model: a :class:`MultiScaleNet` (input ``(B, n, 3, S, S)``) or a backbone (the ``n``
            crops are run as a batch of ``B*n``).
        n_scales: number of scales (Table IV: 3).
        input_size: crop side ``S``.
        batch_size: ``B``; FLOPs scale linearly with it.

    Returns:
        ``{"flops", "macs", "params"}`` (``params`` counts all trainable parameters of ``model``).
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    x = _dummy_input(model, n_scales, input_size, batch_size)
    lstm_flops = [0]

    def _lstm_hook(mod: nn.LSTM, inputs: tuple[Tensor, ...], _out: Any) -> None:
        seq = inputs[0]
        steps = seq.shape[0] * seq.shape[1] if seq.dim() == 3 else seq.shape[0]
        h, dirs = mod.hidden_size, 2 if mod.bidirectional else 1
        for layer in range(mod.num_layers):
            d_in = mod.input_size if layer == 0 else h * dirs
            lstm_flops[0] += 2 * steps * dirs * 4 * h * (d_in + h)

    hooks = [m.register_forward_hook(_lstm_hook) for m in model.modules() if isinstance(m, nn.LSTM)]
    try:
        model.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    flops = float(counter.get_total_flops() + lstm_flops[0])
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"flops": flops, "macs": flops / 2, "params": float(params)}


def compare_with_paper(
    backbone: str, n_scales: int = 3, fusion: str = "msfans", conv_padding: int = 0
) -> dict[str, float]:
    """Measured FLOPs/MACs of MS-FANS with ``backbone`` next to Table IV's published value.

    Returns:
        ``count_flops`` keys plus ``paper_flops`` (:data:`PAPER_TABLE_IV_FLOPS`),
        ``flops_over_paper`` and ``macs_over_paper`` (measured / published).
    """
    model = MultiScaleNet(backbone, fusion, n_scales=n_scales, conv_padding=conv_padding)
    out = count_flops(model, n_scales)
    paper = PAPER_TABLE_IV_FLOPS[backbone.lower()]
    out.update(paper_flops=paper, flops_over_paper=out["flops"] / paper,
               macs_over_paper=out["macs"] / paper)
    return out


def measure_latency(
    model: nn.Module,
    n_scales: int = 3,
    input_size: int = 112,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    device: str = "cpu",
) -> dict[str, float]:
    """Wall-clock forward latency in eval mode under ``torch.no_grad`` (milliseconds).

    Returns:
        ``{"median_ms", "min_ms", "mean_ms", "threads"}``; the number depends on the machine and
        on ``torch.get_num_threads()``, which is reported.
    """
    was_training = model.training
    model.eval().to(device)
    x = _dummy_input(model, n_scales, input_size, batch_size).to(device)
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(x)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
    finally:
        model.train(was_training)
    times.sort()
    return {"median_ms": times[len(times) // 2], "min_ms": times[0],
            "mean_ms": sum(times) / len(times), "threads": float(torch.get_num_threads())}
