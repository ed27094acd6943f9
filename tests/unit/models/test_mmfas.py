"""Unit tests of fas_lib.models.mmfas.model (MM-FAS, Parkin & Grinchuk) and
fas_lib.models.mmfas.blocks.

Parameter counts and FLOPs are recomputed here from the architecture's layer sizes (closed
forms below) and compared with the modules; the aggregation block is checked on a hand-built
tensor with fixed 1x1 weights. Only the CPU preset runs forward passes (64 x 64, batches of
2-8); the paper preset is only built. The file runs in a few seconds on one thread.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fas_lib.core.utils import set_seed
from fas_lib.models import (
    MMFAS,
    MMFAS_PRESETS,
    AggregationBlock,
    MMFASConfig,
    as_modalities,
    build_mmfas,
    describe_mmfas,
    mmfas_dummy_input,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- closed forms of the sizes


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def stage_params(ci: int, co: int, n: int) -> int:
    """caffe_stage: 3x3 conv (no bias) + BN + PReLU, then n blocks of 2 x (conv + BN + PReLU)."""
    return 9 * ci * co + 3 * co + n * 2 * (9 * co * co + 3 * co)


def trunk_params(cin: int, w: tuple[int, ...], b: tuple[int, ...]) -> int:
    stem = 9 * cin * w[0] + 3 * w[0]
    return stem + sum(stage_params(w[k], w[k + 1], b[k]) for k in range(3))


def mmfas_params(cfg: MMFASConfig) -> int:
    w, b, chans = cfg.widths, cfg.blocks, cfg.n_channels
    if cfg.fusion == "early":
        return trunk_params(sum(chans), w, b) + stage_params(w[3], w[4], b[3]) + (w[4] + 1) * 2
    n = len(chans)
    total = sum(trunk_params(c, w, b) for c in chans) + stage_params(n * w[3], w[4], b[3])
    if cfg.aggregation:
        total += sum(n * w[k] * w[k] + w[k] + stage_params(w[k], w[k + 1], b[k]) for k in (1, 2, 3))
    width = w[4] * (2 if cfg.aggregation and cfg.head == "concat" else 1)
    return total + (width + 1) * cfg.n_classes


def sides(s: int) -> list[int]:
    """Spatial side after the stem and after stages 1-4."""
    out = [s - 2]
    for _ in range(4):
        out.append((out[-1] - 2) // 2)
    return out


def mmfas_flops(cfg: MMFASConfig) -> int:
    """2 x multiply-accumulates of every convolution and of the classifier (biases ignored)."""
    w, b, chans, s = cfg.widths, cfg.blocks, cfg.n_channels, sides(cfg.input_size)

    def stage(ci: int, co: int, n: int, k: int) -> int:  # stage k: side s[k-1] -> s[k]
        return (s[k - 1] - 2) ** 2 * 9 * ci * co + n * 2 * s[k] ** 2 * 9 * co * co

    def trunk(cin: int) -> int:
        return s[0] ** 2 * 9 * cin * w[0] + sum(stage(w[k], w[k + 1], b[k], k + 1)
                                                 for k in range(3))

    n = len(chans)
    macs = sum(trunk(c) for c in chans) + stage(n * w[3], w[4], b[3], 4)
    macs += sum(s[k] ** 2 * n * w[k] * w[k] + stage(w[k], w[k + 1], b[k], k + 1)
                for k in (1, 2, 3))
    return 2 * (macs + w[4] * cfg.n_classes)


# ---------------------------------------------------------------- presets: shapes, sizes, cost


def test_paper_preset_parameter_count():
    cfg = MMFAS_PRESETS["paper"]
    assert cfg.widths == (32, 64, 128, 256, 512) and cfg.blocks == (1, 2, 5, 3)
    assert n_params(MMFAS(cfg)) == mmfas_params(cfg) == 61_059_394


def test_cpu_preset_parameter_count_and_flops():
    cfg = MMFAS_PRESETS["cpu"]
    assert n_params(MMFAS(cfg)) == mmfas_params(cfg) == 404_938
    row = describe_mmfas(["cpu"])["cpu"]
    assert row["params"] == 404_938
    assert row["flops"] == mmfas_flops(cfg) == 109_558_336
    assert row["macs"] == row["flops"] / 2 and row["input_size"] == 64


def test_paper_preset_flops_by_closed_form():
    # measured once with describe_mmfas() (18.1 GFLOPs, too slow for a unit test's forward)
    assert mmfas_flops(MMFAS_PRESETS["paper"]) == 18_107_155_712


@pytest.mark.parametrize(
    "overrides",
    [{}, {"aggregation": False}, {"fusion": "early"}, {"head": "concat"},
     {"modalities": ("depth",)}, {"modalities": ("rgb", "nir")},
     {"channels": {"rgb": 3, "depth": 3, "nir": 3}}, {"input_size": 48}],
)
def test_options_shapes_and_counts(overrides):
    model = build_mmfas("cpu", **overrides)
    assert n_params(model) == mmfas_params(model.config)
    logits = model(mmfas_dummy_input(model.config, batch_size=2))
    assert logits.shape == (2, 2)


def test_levels_and_aggregation_shapes():
    model = build_mmfas("cpu").eval()
    s, w = sides(64), model.config.widths
    x = mmfas_dummy_input(model.config, batch_size=2)
    levels = model.levels(x)
    assert len(levels) == 3
    for k in range(3):
        assert levels[0][k].shape == (2, w[k + 1], s[k + 1], s[k + 1])
    agg = None
    for k, block in enumerate(model.agg):  # level k's output has level k+1's shape
        agg = block([lv[k] for lv in levels], agg)
        assert agg.shape == (2, w[k + 2], s[k + 2], s[k + 2])
    assert model.embed(x).shape == (2, w[4])
    assert build_mmfas("cpu", head="concat").embed(x).shape == (2, 2 * w[4])


def test_configs_are_hashable():
    assert len({MMFAS_PRESETS["cpu"], MMFAS_PRESETS["paper"], MMFAS_PRESETS["cpu"]}) == 2


def test_invalid_configs():
    with pytest.raises(ValueError, match="48"):
        MMFASConfig(input_size=47)
    with pytest.raises(ValueError, match="fusion"):
        MMFASConfig(fusion="middle")
    with pytest.raises(ValueError, match="channel count"):
        MMFASConfig(modalities=("thermal",))


# ---------------------------------------------------------------- the aggregation block by hand


def hand_block(stage: nn.Module) -> AggregationBlock:
    block = AggregationBlock(n_modalities=2, width=2, stage=stage)
    with torch.no_grad():
        block.merge.weight.copy_(torch.tensor([[1.0, 0.0, -1.0, 0.0],
                                               [0.5, 0.5, 0.0, 2.0]]).view(2, 4, 1, 1))
        block.merge.bias.copy_(torch.tensor([0.0, -1.0]))
    return block


# two modalities of width 2 on a 1 x 2 map: channels (a0, a1) and (b0, b1)
A = torch.tensor([[1.0, 2.0], [3.0, -1.0]]).view(1, 2, 1, 2)
B = torch.tensor([[0.0, 4.0], [1.0, 1.0]]).view(1, 2, 1, 2)
PREV = torch.tensor([[10.0, 20.0], [30.0, 40.0]]).view(1, 2, 1, 2)


def test_aggregation_block_on_a_hand_built_tensor():
    block = hand_block(nn.Identity())
    # channel 0: relu(a0 - b0) = relu([1, -2]) = [1, 0]
    # channel 1: relu(0.5 a0 + 0.5 a1 + 2 b1 - 1) = relu([0.5 + 1.5 + 2 - 1, 1 - 0.5 + 2 - 1])
    #          = [3, 1.5]
    expected_first = torch.tensor([[1.0, 0.0], [3.0, 1.5]]).view(1, 2, 1, 2)
    assert torch.equal(block([A, B]), expected_first)  # level 1: no previous aggregation
    expected = torch.tensor([[11.0, 20.0], [33.0, 41.5]]).view(1, 2, 1, 2)
    assert torch.equal(block([A, B], PREV), expected)


def test_aggregation_block_applies_its_stage_after_the_sum():
    stage = nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        stage.weight.fill_(1.0)
    out = hand_block(stage)([A, B], PREV)
    assert torch.equal(out, torch.tensor([[44.0, 61.5]]).view(1, 1, 1, 2))


# ---------------------------------------------------------------- inputs


def test_stacked_tensor_equals_mapping():
    set_seed(0)
    model = build_mmfas("cpu").eval()
    x = {k: torch.rand_like(v) for k, v in mmfas_dummy_input(model.config, 2).items()}
    stacked = torch.cat([x["rgb"], x["depth"], x["nir"]], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(x), model(stacked))


def test_as_modalities_errors():
    x = {"rgb": torch.zeros(1, 3, 4, 4), "depth": torch.zeros(1, 1, 4, 4)}
    with pytest.raises(KeyError, match="nir"):
        as_modalities(x, ("rgb", "nir"), (3, 1))
    with pytest.raises(ValueError, match="channels"):
        as_modalities(x, ("depth",), (3,))
    with pytest.raises(ValueError, match="stacked"):
        as_modalities(torch.zeros(1, 4, 4, 4), ("rgb", "depth", "nir"), (3, 1, 1))


# ---------------------------------------------------------------- training


def test_a_few_steps_reduce_the_loss():
    set_seed(0)
    model = build_mmfas("cpu")
    x = {k: torch.rand_like(v) for k, v in mmfas_dummy_input(model.config, 8).items()}
    y = torch.tensor([0, 1] * 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
