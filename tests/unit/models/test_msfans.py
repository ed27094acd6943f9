"""Unit tests of fas_lib.models (Table I CNNs, fusions, Eq. 6, FLOPs, latency).

Fixtures are tiny: random tensors, batches of 2-8 crops of 112 x 112; the whole file runs in a
few seconds on one CPU thread.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fas_lib import LIVE
from fas_lib.core.utils import set_seed
from fas_lib.models import (
    FUSIONS,
    PAPER_TABLE_IV_FLOPS,
    MultiScaleNet,
    MultiScaleOutput,
    build_backbone,
    compare_with_paper,
    count_flops,
    describe,
    measure_latency,
    msfans_loss,
    scores_from_logits,
)

S = 112  # Table I input side


pytestmark = pytest.mark.usefixtures("one_thread")


def crops(b: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 3, S, S, generator=g)


# ---------------------------------------------------------------- Table I backbones


@pytest.mark.parametrize(
    ("name", "shapes"),
    [
        # padding 0: 112 -conv(3,2)-> 55 -pool(3,2)-> 27 -conv(3,2)-> 13 -pool-> 6
        ("cnn_s", [(3, 112, 112), (48, 55, 55), (48, 27, 27), (96, 13, 13), (96, 6, 6), (1024,)]),
        # 112 -> 110 -> 54 -> 52 -> 25 -> 23 -> 11 -> 9 -> 4
        ("cnn_d", [(3, 112, 112), (32, 110, 110), (32, 54, 54), (64, 52, 52), (64, 25, 25),
                   (128, 23, 23), (128, 11, 11), (256, 9, 9), (256, 4, 4), (2048,), (1024,)]),
    ],
)
def test_backbone_describe_matches_table_i(name, shapes):
    net = build_backbone(name)
    rows = describe(net)
    assert [r["output_shape"] for r in rows] == shapes
    assert net.feature_dim == 1024
    assert net(torch.zeros(2, 3, S, S)).shape == (2, 1024)
    if name == "cnn_s":
        assert [(r["layer"], r["kernel"], r["stride"], r["filters"]) for r in rows[1:]] == [
            ("Conv-1", 3, 2, 48), ("Pooling-1", 3, 2, None), ("Conv-2", 3, 2, 96),
            ("Pooling-2", 3, 2, None), ("FC-1", None, None, 1024)]
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in net.parameters())


def test_conv_padding_one_sizes():
    rows = describe(build_backbone("cnn_s", conv_padding=1))
    assert [r["output_shape"][1:] for r in rows[1:5]] == [(56, 56), (27, 27), (14, 14), (6, 6)]


def test_cnn_s_parameter_count_by_hand():
    # conv1 3*3*3*48 = 1296 (no bias: BatchNorm follows)  + bn1 2*48 = 96
    # conv2 3*3*48*96 = 41472                              + bn2 2*96 = 192
    # fc1   (96*6*6)*1024 + 1024 = 3456*1024 + 1024 = 3539968
    backbone = 1296 + 96 + 41472 + 192 + 3539968  # = 3583024
    assert sum(p.numel() for p in build_backbone("cnn_s").parameters()) == backbone == 3583024
    # MS-FANS head, D = 1024, n = 3:
    # LSTM(1024, 1): weight_ih 4*1024 + weight_hh 4*1 + bias_ih 4 + bias_hh 4 = 4108
    # classifier Linear(1024, 2) = 2050; aux: 3 * Linear(1024, 2) = 6150
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3)
    assert sum(p.numel() for p in model.parameters()) == backbone + 4108 + 2050 + 6150
    assert sum(p.numel() for p in model.fusion.lstm.parameters()) == 4108
    shared = MultiScaleNet("cnn_s", "msfans", n_scales=3, aux_shared=True)
    assert sum(p.numel() for p in shared.aux.parameters()) == 2050
    concat = MultiScaleNet("cnn_s", "concat", n_scales=3)
    assert sum(p.numel() for p in concat.fusion.parameters()) == 3 * 1024 * 2 + 2


def test_cnn_d_parameter_count_by_hand():
    convs = 3 * 9 * 32 + 32 * 9 * 64 + 64 * 9 * 128 + 128 * 9 * 256  # 387936, no biases
    bns = 2 * (32 + 64 + 128 + 256)  # 960
    fcs = (256 * 4 * 4 * 2048 + 2048) + (2048 * 1024 + 1024)  # 8390656 + 2098176
    assert sum(p.numel() for p in build_backbone("cnn_d").parameters()) == convs + bns + fcs


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="backbone"):
        build_backbone("resnet")
    with pytest.raises(ValueError, match="fusion"):
        MultiScaleNet("cnn_s", "max")
    with pytest.raises(ValueError, match="weight_norm"):
        MultiScaleNet("cnn_s", "msfans", weight_norm="l1")
    with pytest.raises(ValueError, match="shape"):
        MultiScaleNet("cnn_s", n_scales=3)(crops(1, 2))


# ---------------------------------------------------------------- multi-scale model


@pytest.mark.parametrize("backbone", ["cnn_s", "cnn_d"])
@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("n", [1, 3])
def test_output_shapes(backbone, fusion, n):
    model = MultiScaleNet(backbone, fusion, n_scales=n, scale_index=n - 1).eval()
    with torch.no_grad():
        out = model(crops(2, n))
    assert isinstance(out, MultiScaleOutput)
    assert out.logits.shape == (2, 2)
    assert out.per_scale_logits.shape == (2, n, 2)
    assert out.weights.shape == (2, n)
    assert out.features.shape == (2, n, 1024)
    assert out.fused.shape == (2, n * 1024 if fusion == "concat" else 1024)


def test_one_cnn_shared_by_all_scales():
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3).eval()
    x = crops(2, 3)
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        f = model.extract_features(x)
        f_perm = model.extract_features(x[:, perm])
        f_alone = model.backbone(x[:, 1])
    torch.testing.assert_close(f_perm, f[:, perm])
    torch.testing.assert_close(f[:, 1], f_alone)
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    assert n_backbone == sum(p.numel() for p in build_backbone("cnn_s").parameters())  # one copy


def test_lstm_has_one_hidden_unit_and_gives_raw_weights():
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3, weight_norm="none").eval()
    lstm = model.fusion.lstm
    assert isinstance(lstm, torch.nn.LSTM)
    assert (lstm.hidden_size, lstm.input_size, lstm.num_layers) == (1, 1024, 1)
    assert lstm.batch_first and not lstm.bidirectional
    with torch.no_grad():
        out = model(crops(4, 3))
        h, _ = lstm(out.features)
    assert out.weights.shape == (4, 3)
    torch.testing.assert_close(out.weights, h.squeeze(-1))  # alpha_i = LSTM output (Eq. 2)
    assert out.weights.abs().max() < 1
    torch.testing.assert_close(out.fused, (out.weights[..., None] * out.features).sum(1))


def test_softmax_weights_sum_to_one():
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3, weight_norm="softmax").eval()
    with torch.no_grad():
        w = model(crops(4, 3)).weights
    assert w.shape == (4, 3)
    assert (w > 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(4))


@pytest.mark.parametrize("fusion", FUSIONS)
def test_classify_features_equals_forward(fusion):
    model = MultiScaleNet("cnn_s", fusion, n_scales=3, scale_index=1).eval()
    with torch.no_grad():
        out = model(crops(3, 3))
        logits = model.classify_features(out.features)
        again = model.classify_features(out.features, weights=out.weights)
    torch.testing.assert_close(logits, out.logits)
    torch.testing.assert_close(again, out.logits)


def test_hand_set_weights_are_used_as_given():
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3).eval()
    with torch.no_grad():
        feats = model.extract_features(crops(3, 3))
        only_second = model.classify_features(feats, weights=[0.0, 1.0, 0.0])
        mixed = model.classify_features(feats, weights=torch.tensor([0.2, 0.3, 0.5]))
        per_row = model.classify_features(feats, weights=torch.full((3, 3), 0.5))
    clf = model.fusion.classifier
    torch.testing.assert_close(only_second, clf(feats[:, 1]))
    expected = clf(0.2 * feats[:, 0] + 0.3 * feats[:, 1] + 0.5 * feats[:, 2])
    torch.testing.assert_close(mixed, expected)
    torch.testing.assert_close(per_row, clf(0.5 * feats.sum(1)))
    with pytest.raises(ValueError, match="weights"):
        model.classify_features(feats, weights=[1.0, 0.0])


def test_single_and_average_weights():
    single = MultiScaleNet("cnn_s", "single", n_scales=3, scale_index=2).eval()
    average = MultiScaleNet("cnn_s", "average", n_scales=3).eval()
    x = crops(2, 3)
    with torch.no_grad():
        out_s, out_a = single(x), average(x)
    assert out_s.weights.tolist() == [[0.0, 0.0, 1.0]] * 2
    torch.testing.assert_close(out_s.logits, single.fusion.classifier(out_s.features[:, 2]))
    torch.testing.assert_close(out_a.fused, out_a.features.mean(1))


# ---------------------------------------------------------------- loss and scores


def _fake_output(b: int = 6, n: int = 3, seed: int = 0) -> MultiScaleOutput:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, 2, generator=g, requires_grad=True)
    aux = torch.randn(b, n, 2, generator=g, requires_grad=True)
    return MultiScaleOutput(logits, aux, torch.ones(b, n), torch.zeros(b, 4), torch.zeros(b, n, 4))


def test_eq6_loss_switches_at_half_of_max_iter():
    out = _fake_output()
    y = torch.tensor([1, 0, 1, 1, 0, 0])
    ce_f = F.cross_entropy(out.logits, y)
    ce_aux = sum(F.cross_entropy(out.per_scale_logits[:, i], y) for i in range(3))
    first = msfans_loss(out, y, iteration=49, max_iter=100)
    torch.testing.assert_close(first, ce_f + 0.5 * ce_aux)
    for it in (50, 51, 99):  # second half: the auxiliary losses must be gone
        second = msfans_loss(out, y, iteration=it, max_iter=100)
        torch.testing.assert_close(second, ce_f)
    second.backward()
    assert out.per_scale_logits.grad is None or not out.per_scale_logits.grad.any()
    loss, parts = msfans_loss(out, y, 0, 100, aux_weight=0.0, return_parts=True)
    torch.testing.assert_close(loss, ce_f)
    assert parts["aux_active"] == 0.0


def test_scores_are_bona_fide_probability():
    logits = torch.tensor([[0.0, 5.0], [5.0, 0.0]])
    s = scores_from_logits(logits)
    assert s[0] > 0.99 and s[1] < 0.01  # row 0 says class LIVE (index 1)
    assert LIVE == 1
    assert scores_from_logits(torch.zeros(2, 3, 2)).shape == (2, 3)


# ---------------------------------------------------------------- FLOPs, determinism, learning


def test_flops_and_macs():
    backbone = build_backbone("cnn_s")
    counted = count_flops(backbone, n_scales=3)
    hand_macs = 3 * (55 * 55 * 48 * 27 + 13 * 13 * 96 * 432 + 3456 * 1024)  # Conv-1, Conv-2, FC-1
    assert counted["flops"] > 0
    assert counted["macs"] == counted["flops"] / 2 == hand_macs
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3)
    full = count_flops(model, n_scales=3)
    lstm = 2 * 3 * 4 * (1024 + 1)
    heads = 2 * 4 * 1024 * 2  # classifier + 3 aux classifiers
    assert full["flops"] == counted["flops"] + lstm + heads
    assert full["params"] == sum(p.numel() for p in model.parameters())
    assert model.training  # count_flops restores the mode
    cmp = compare_with_paper("cnn_s")
    assert cmp["paper_flops"] == PAPER_TABLE_IV_FLOPS["cnn_s"] == 0.075e9
    assert 0.5 < cmp["flops_over_paper"] < 2.0


def test_measure_latency_with_built_and_given_inputs():
    model = MultiScaleNet("cnn_s", "msfans", n_scales=2)
    seen = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    lat = measure_latency(model, n_scales=2, input_size=112, repeats=2, warmup=1)
    assert lat["median_ms"] > 0 and seen[-1] == (1, 2, 3, 112, 112)
    given = torch.zeros(3, 2, 3, 112, 112)
    measure_latency(model, repeats=1, warmup=0, inputs=given)
    assert seen[-1] == (3, 2, 3, 112, 112) and model.training  # the mode is restored


def test_paper_convention_reproduces_table_iv_within_two_percent():
    # Table IV: 3 scales, 112 x 112, padding 0. Convolutions at 2 FLOPs per multiply-add, FC at 1:
    # CNN_S 3 * (2 * (55*55*48*27 + 13*13*96*432) + 3456*1024) = 0.0762 G (paper 0.075 G)
    from fas_lib import models
    hand_s = 3 * (2 * (55 * 55 * 48 * 27 + 13 * 13 * 96 * 432) + 3456 * 1024)
    assert models.paper_convention_flops("cnn_s", 3) == hand_s
    for backbone, paper in PAPER_TABLE_IV_FLOPS.items():
        ours = models.paper_convention_flops(backbone, n_scales=3)
        assert abs(ours / paper - 1) < 0.02, (backbone, ours, paper)
    assert models.paper_convention_flops("cnn_d", 3) == pytest.approx(0.7706e9, rel=1e-3)
    assert models.paper_convention_flops("cnn_s", 1) * 3 == hand_s
    cmp = compare_with_paper("cnn_d")
    assert cmp["paper_convention_flops"] == models.paper_convention_flops("cnn_d", 3)
    assert abs(cmp["paper_convention_over_paper"] - 1) < 0.02


def test_deterministic_for_a_seed():
    outs = []
    for _ in range(2):
        set_seed(123)
        model = MultiScaleNet("cnn_s", "msfans", n_scales=3)
        x = torch.rand(2, 3, 3, S, S)
        outs.append(model(x))  # train mode: dropout draws from the seeded generator too
    torch.testing.assert_close(outs[0].logits, outs[1].logits)
    torch.testing.assert_close(outs[0].weights, outs[1].weights)


@pytest.mark.parametrize("weight_norm", ["none", "softmax"])
def test_a_few_steps_fit_eight_samples(weight_norm):
    # 8 random crops; the bona fide ones are brightened (x/2 + 1/2) so that a few steps can fit
    # them. (Memorising pure-noise labels with weight_norm="none" can instead drive every alpha
    # to 0 -- see MSFANSFusion's docstring.)
    set_seed(0)
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3, weight_norm=weight_norm)
    y = torch.tensor([1, 0] * 4)
    x = torch.rand(8, 3, 3, S, S)
    x[y == 1] = x[y == 1] / 2 + 0.5
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    fused = []
    for it in range(6):
        out = model(x)
        loss, parts = msfans_loss(out, y, iteration=it, max_iter=12, return_parts=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        fused.append(parts["fused"])
    assert fused[-1] < 0.5 * fused[0]
    assert fused[-1] < 0.1
