"""Cost of the networks: FLOPs and MACs (Table IV), parameters and forward latency.

* :func:`count_flops`: FLOPs / MACs / parameters of one forward pass (``FlopCounterMode``);
* :func:`paper_convention_flops`: the counting convention that reproduces Table IV (convolutions
  at 2 FLOPs per multiply-add, fully connected layers at 1);
* :func:`compare_with_paper`: the measurement next to Table IV's published FLOPs
  (:data:`PAPER_TABLE_IV_FLOPS`);
* :func:`measure_latency`: wall-clock forward latency in eval mode.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from fas_lib.models.msfans.cnn import build_backbone
from fas_lib.models.msfans.multiscale import MultiScaleNet

__all__ = [
    "PAPER_TABLE_IV_FLOPS", "compare_with_paper", "count_flops", "measure_latency",
    "paper_convention_flops",
]

#: The paper's **published** FLOPs (Table IV, "the sum FLOPS of three scales", i.e. the CNN run
#: on three 112 x 112 crops). Not measured here; compare with :func:`compare_with_paper`.
PAPER_TABLE_IV_FLOPS: dict[str, float] = {"cnn_s": 0.075e9, "cnn_d": 0.768e9}


def _dummy_input(model: nn.Module, n_scales: int, input_size: int, batch_size: int) -> Tensor:
    if isinstance(model, MultiScaleNet):
        return torch.zeros(batch_size, n_scales, 3, input_size, input_size)
    return torch.zeros(batch_size * n_scales, 3, input_size, input_size)


def count_flops(
    model: nn.Module, n_scales: int = 3, input_size: int = 112, batch_size: int = 1,
    inputs: Tensor | Mapping[str, Tensor] | None = None,
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
    Counting fully connected layers at 1 FLOP per multiply-add instead
    (:func:`paper_convention_flops`) reproduces both within 2 %.

    Args:
        model: a :class:`MultiScaleNet` (input ``(B, n, 3, S, S)``) or a backbone (the ``n``
            crops are run as a batch of ``B*n``).
        n_scales: number of scales (Table IV: 3).
        input_size: crop side ``S``.
        batch_size: ``B``; FLOPs scale linearly with it.
        inputs: the input to use instead of the one built from the three numbers above (e.g. a
            clip batch ``(B, T, 3, S, S)`` of STASN, or the ``{modality: tensor}`` mapping of a
            multi-modal network); LSTMs are counted over all their steps.

    Returns:
        ``{"flops", "macs", "params"}`` (``params`` counts all trainable parameters of ``model``).
    """
    was_training = model.training
    x = _dummy_input(model, n_scales, input_size, batch_size) if inputs is None else inputs
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


def paper_convention_flops(
    backbone: str | nn.Module, n_scales: int = 3, input_size: int = 112, conv_padding: int = 0
) -> float:
    """FLOPs of the backbone over ``n_scales`` crops in the convention that reproduces Table IV.

    Convolutions count **2 FLOPs per multiply-add** and fully connected layers **1**; BatchNorm,
    ReLU, pooling, biases and the fusion head are not counted. The multiply-adds are taken from
    the layer shapes of the actual modules (a forward hook on every ``nn.Conv2d`` and
    ``nn.Linear`` of one ``input_size`` crop), so a change of the architecture changes the count.
    With Table I, 112 x 112 crops, padding 0 and 3 scales this gives 0.0762 G (CNN_S) and
    0.7706 G (CNN_D) against the paper's 0.075 G and 0.768 G (within 2 %); the uniform
    2-per-multiply-add count of :func:`count_flops` gives 0.087 G and 0.802 G. That the paper
    used this mixed convention is our inference from the numbers, not something it states.

    Args:
        backbone: ``"cnn_s"`` / ``"cnn_d"`` (built with ``input_size`` and ``conv_padding``) or a
            backbone module taking ``(N, 3, S, S)`` crops.
        n_scales: number of crops (Table IV: "the sum FLOPS of three scales").
        input_size: crop side ``S``.
        conv_padding: padding of the convolutions when ``backbone`` is a name.

    Returns:
        The FLOPs as a float (an integer value).
    """
    net = (build_backbone(backbone, input_size=input_size, conv_padding=conv_padding)
           if isinstance(backbone, str) else backbone)
    total = [0]

    def _hook(mod: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
        if isinstance(mod, nn.Conv2d):
            per_output = (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += 2 * out[0].numel() * per_output  # one sample: out[0] is (C, H, W)
        else:
            total[0] += mod.in_features * mod.out_features

    hooks = [m.register_forward_hook(_hook) for m in net.modules()
             if isinstance(m, nn.Conv2d | nn.Linear)]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 3, input_size, input_size))
    finally:
        net.train(was_training)
        for hook in hooks:
            hook.remove()
    return float(n_scales * total[0])


def compare_with_paper(
    backbone: str, n_scales: int = 3, fusion: str = "msfans", conv_padding: int = 0
) -> dict[str, float]:
    """Measured FLOPs/MACs of MS-FANS with ``backbone`` next to Table IV's published value.

    Returns:
        ``count_flops`` keys plus ``paper_flops`` (:data:`PAPER_TABLE_IV_FLOPS`),
        ``flops_over_paper`` and ``macs_over_paper`` (measured / published), and
        ``paper_convention_flops`` (:func:`paper_convention_flops`: convolutions at 2 FLOPs per
        multiply-add, FC layers at 1, the backbone over ``n_scales`` crops) with
        ``paper_convention_over_paper``.
    """
    model = MultiScaleNet(backbone, fusion, n_scales=n_scales, conv_padding=conv_padding)
    out = count_flops(model, n_scales)
    paper = PAPER_TABLE_IV_FLOPS[backbone.lower()]
    convention = paper_convention_flops(backbone, n_scales, conv_padding=conv_padding)
    out.update(paper_flops=paper, flops_over_paper=out["flops"] / paper,
               macs_over_paper=out["macs"] / paper, paper_convention_flops=convention,
               paper_convention_over_paper=convention / paper)
    return out


def measure_latency(
    model: nn.Module,
    n_scales: int = 3,
    input_size: int = 112,
    batch_size: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    device: str = "cpu",
    inputs: Tensor | None = None,
) -> dict[str, float]:
    """Wall-clock forward latency in eval mode under ``torch.no_grad`` (milliseconds).

    ``inputs`` replaces the input built from ``n_scales``, ``input_size`` and ``batch_size``
    (as in :func:`count_flops`).

    Returns:
        ``{"median_ms", "min_ms", "mean_ms", "threads"}``; the number depends on the machine and
        on ``torch.get_num_threads()``, which is reported.
    """
    was_training = model.training
    model.eval().to(device)
    x = (_dummy_input(model, n_scales, input_size, batch_size) if inputs is None
         else inputs).to(device)
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
