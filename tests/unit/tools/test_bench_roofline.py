"""Unit tests of benchmarks/bench_roofline.py: the CPU peak from /proc/cpuinfo text and the
FLOPs of a training step (forward + backward) against the forward pass's."""

from __future__ import annotations

import pytest
import torch
from conftest import load_script

from fas_lib.models import MultiScaleNet, count_flops

pytestmark = pytest.mark.usefixtures("one_thread")

bench = load_script("benchmarks/bench_roofline.py")

CPUINFO = """processor\t: 0
model name\t: Test CPU
cpu MHz\t\t: 2000.000
flags\t\t: fpu sse sse2 avx fma avx2
processor\t: 1
model name\t: Test CPU
cpu MHz\t\t: 2500.000
flags\t\t: fpu sse sse2 avx fma avx2
"""


def test_peak_from_cpuinfo():
    peak = bench.cpu_peak(2, CPUINFO)
    # AVX2 + FMA: 8 lanes x 2 FLOPs x 2 FMA units = 32 per cycle; the highest clock, 2.5 GHz
    assert peak["flops_per_cycle_per_core"] == 32 and peak["clock_ghz"] == 2.5
    assert peak["peak_gflops"] == pytest.approx(2 * 2.5 * 32)
    assert peak["cpu"] == "Test CPU"
    wide = bench.cpu_peak(1, CPUINFO.replace("avx2", "avx2 avx512f"), max_khz=3_000_000)
    assert wide["fp32_lanes"] == 16 and wide["clock_ghz"] == 3.0
    assert wide["peak_gflops"] == pytest.approx(3.0 * 64)
    old = bench.cpu_peak(1, CPUINFO.replace(" fma avx2", ""))
    assert old["flops_per_cycle_per_core"] == 4 * 1 * 2 and not old["fma"]


def test_a_training_step_costs_about_three_forward_passes():
    torch.manual_seed(0)
    model = MultiScaleNet("cnn_s", "single", n_scales=1).train()
    x, y = torch.randn(4, 1, 3, 112, 112), torch.tensor([0, 1, 0, 1])
    step = bench.step_flops(model, x, y)
    forward = count_flops(model, n_scales=1, batch_size=4)["flops"]
    # backward = the gradients of the inputs and of the weights (2 x forward), less the input
    # gradient of the first convolution, which nothing needs
    assert 2.5 * forward < step < 3.0 * forward
