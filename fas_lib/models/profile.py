"""Cost of the networks: FLOPs and MACs (Table IV), parameters and forward latency.

* :func:`count_flops`: FLOPs / MACs / parameters of one forward pass (``FlopCounterMode``);
* :func:`compare_with_paper`: the measurement next to Table IV's published FLOPs
  (:data:`PAPER_TABLE_IV_FLOPS`);
* :func:`measure_latency`: wall-clock forward latency in eval mode.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from fas_lib.models.multiscale import MultiScaleNet

__all__ = ["PAPER_TABLE_IV_FLOPS", "compare_with_paper", "count_flops", "measure_latency"]

#: The paper's **published** FLOPs (Table IV, "the sum FLOPS of three scales", i.e. the CNN run
#: on three 112 x 112 crops). Not measured here; compare with :func:`compare_with_paper`.
PAPER_TABLE_IV_FLOPS: dict[str, float] = {"cnn_s": 0.075e9, "cnn_d": 0.768e9}


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
