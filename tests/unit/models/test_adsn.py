"""Unit tests of fas_lib.models.adsn.model (ADSN, Deng et al.) and fas_lib.models.adsn.losses.

Surface normals on a plane (exact) and a sphere (analytic normals); parameter counts recomputed
from the layer sizes; the attention branches' maps normalise over the two modalities; center
and cosine losses against values worked out by hand; a few seeded steps reduce the loss. Only
the CPU preset runs forward passes; the file runs in a few seconds on one thread.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from fas_lib.core.utils import set_seed
from fas_lib.models import (
    ADSN,
    ADSN_PRESETS,
    ADSNConfig,
    ADSNLoss,
    GlobalCrossModal,
    LocalParts,
    adsn_dummy_input,
    attention_maps,
    build_adsn,
    center_loss,
    cosine_loss,
    describe_adsn,
    overlap_loss,
    part_center_loss,
    surface_normals,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------- surface normals


def grid(n: int, h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x (columns) and y (rows) coordinates of an n x n grid of pitch h centred on 0."""
    c = (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) * h
    y, x = torch.meshgrid(c, c, indexing="ij")
    return x, y


def test_normals_of_a_plane_are_exact_everywhere():
    h = 0.01
    x, y = grid(32, h)
    depth = (0.3 * x - 0.2 * y + 5.0)[None, None]
    n = surface_normals(depth, pixel_size=h)
    expected = torch.tensor([0.3, -0.2, 1.0], dtype=torch.float64) / math.sqrt(1.13)
    assert n.shape == (1, 3, 32, 32)
    assert n.dtype == torch.float64
    assert torch.allclose(n[0].permute(1, 2, 0), expected.expand(32, 32, 3), atol=1e-12)
    # float32 depth far from the camera loses digits to cancellation, not to the method
    n32 = surface_normals(depth.float(), pixel_size=h)
    assert torch.allclose(n32[0].permute(1, 2, 0), expected.float().expand(32, 32, 3), atol=1e-3)


def test_normals_of_a_sphere_point_out_of_it():
    h, radius = 0.02, 1.0
    x, y = grid(121, h)
    r2 = x**2 + y**2
    front = torch.sqrt((radius**2 - r2).clamp(min=0))
    depth = torch.where(r2 < radius**2, 3.0 - front, torch.full_like(x, 3.0))
    n = surface_normals(depth, pixel_size=h)  # (3, H, W) for a 2-D input
    inside = r2 < (0.8 * radius) ** 2
    expected = torch.stack([x, y, front]) / radius  # outward normal, z towards the camera
    err = (n.double() - expected).abs()[:, inside]
    assert err.max() < 1e-3  # central differences: O(h^2) error, 5e-4 measured
    assert torch.allclose(n.norm(dim=0), torch.ones(121, 121, dtype=torch.float64))


def test_a_ramp_faces_the_side_that_is_farther_whatever_the_depth_convention():
    # a floor-to-wall ramp: 0.5 depth units farther per unit to the right
    h = 0.1
    x, _ = grid(16, h)
    distance = 4.0 + 0.5 * x
    expected = torch.tensor([0.5, 0.0, 1.0], dtype=torch.float64) / math.sqrt(1.25)
    n = surface_normals(distance, pixel_size=h)
    assert torch.allclose(n.permute(1, 2, 0), expected.expand(16, 16, 3), atol=1e-12)
    # the same surface stored as nearness (255 = nearest, as SynthSpoof's depth): same normal
    nearness = 255.0 - 10.0 * distance  # 10 grey levels per depth unit
    n_near = surface_normals(nearness / 10.0, pixel_size=h, nearness=True)
    assert torch.allclose(n_near, n, atol=1e-12)
    # read as a distance, nearness would face the other way: the x sign flips
    flipped = surface_normals(nearness / 10.0, pixel_size=h)
    assert torch.allclose(flipped[0], -n[0], atol=1e-12) and flipped[0].min() < 0


def test_adsn_reads_the_cached_depth_as_nearness():
    from fas_lib.models.adsn.model import ADSN, ADSNConfig

    cfg = ADSNConfig(widths=(4, 4, 4, 4, 4), blocks=(1, 1, 1, 1), input_size=32)
    assert cfg.depth_nearness  # the crop cache's depth: 255 (1.0 after to_float) = nearest
    model = ADSN(cfg)
    ramp = torch.linspace(-0.5, 0.5, 32).expand(1, 1, 32, 32)  # nearer to the right
    n = model.depth_input(ramp)
    assert (n[0, 0] < 0).all()  # the right is nearer: the surface faces left
    far = ADSN(dataclasses.replace(cfg, depth_nearness=False)).depth_input(ramp)
    assert (far[0, 0] > 0).all()


def test_normals_of_holes_are_zero():
    depth = torch.full((1, 1, 5, 5), 2.0)
    depth[0, 0, 2, 3] = 0.0
    n = surface_normals(depth)
    assert torch.equal(n[0, :, 2, 3], torch.zeros(3))
    assert torch.equal(n[0, :, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="depth"):
        surface_normals(torch.zeros(1, 3, 5, 5))


def test_the_depth_stream_sees_no_normal_at_a_cached_depth_hole():
    # the crop cache stores a hole as uint8 0, which the loader's to_float makes -1.0; with a
    # hole value of 0.0 the holes used to reach the stream as cliffs instead of zero normals
    from fas_lib.cache.loader import to_float

    depth_u8 = torch.full((1, 1, 1, 32, 32), 140, dtype=torch.uint8)
    depth_u8[..., 10:14, 20:25] = 0
    depth = to_float(depth_u8.numpy(), channels_last=False)[:, 0]
    assert float(depth.min()) == -1.0
    model = ADSN(ADSNConfig(widths=(4, 4, 4, 4, 4), blocks=(1, 1, 1, 1), input_size=32)).eval()
    seen = []
    model.depth_stream.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        model({"depth": depth, "nir": torch.zeros(1, 1, 32, 32)})
    normals = seen[0][0]
    assert torch.equal(normals[:, 10:14, 20:25], torch.zeros(3, 4, 5))
    assert torch.equal(normals[:, 0, 0], torch.tensor([0.0, 0.0, 1.0]))


def test_default_pixel_size_makes_the_crop_span_the_depth_range():
    # a depth ramp rising from -1 to 1 across the crop (as the cached uint8 depth after
    # to_float) has slope 1 in the default units; the cache's depth is nearness (the right is
    # nearer), so the surface faces left: normal (-1, 0, 1) / sqrt(2) everywhere
    w = 32
    ramp = ((2 * torch.arange(w) + 1) / w - 1).expand(1, 1, w, w).clone()
    default = ADSN(ADSNConfig(widths=(4, 4, 4, 4, 4), blocks=(1, 1, 1, 1), input_size=w))
    n = default.depth_input(ramp)[0]
    expected = torch.tensor([-1.0, 0.0, 1.0]) / 2 ** 0.5
    assert torch.allclose(n.permute(1, 2, 0), expected.expand(w, w, 3), atol=1e-5)
    # pixel_size 1.0 (the old default): the same ramp is nearly flat, z within 0.002 of 1
    flat = ADSN(ADSNConfig(widths=(4, 4, 4, 4, 4), blocks=(1, 1, 1, 1), input_size=w,
                           pixel_size=1.0)).depth_input(ramp)[0]
    assert float(flat[2].min()) > 0.998
    raw = ADSN(ADSNConfig(widths=(4, 4, 4, 4, 4), blocks=(1, 1, 1, 1), input_size=w,
                          normals=False)).depth_input(ramp)
    assert torch.equal(raw, ramp)


# ---------------------------------------------------------------- sizes per preset


def block_params(ci: int, co: int, stride: int) -> int:
    shortcut = ci * co + 2 * co if (ci != co or stride != 1) else 0
    return 9 * ci * co + 2 * co + 9 * co * co + 2 * co + shortcut


def trunk_params(cin: int, w: tuple[int, ...], b: tuple[int, ...]) -> int:
    total = 49 * cin * w[0] + 2 * w[0]
    for i in range(4):
        total += sum(block_params(w[i] if j == 0 else w[i + 1], w[i + 1],
                                  (1 if i == 0 else 2) if j == 0 else 1) for j in range(b[i]))
    return total


def adsn_params(cfg: ADSNConfig) -> int:
    c = cfg.widths[-1]
    total = trunk_params(3 if cfg.normals else 1, cfg.widths, cfg.blocks)
    total += trunk_params(cfg.nir_channels, cfg.widths, cfg.blocks)
    if cfg.fusion == "attention":
        hidden = 2 * c // cfg.reduction
        total += (2 * c * hidden + hidden) + (hidden * 2 * c + 2 * c)  # global MLP
        total += 2 * (c * cfg.parts + cfg.parts)  # a 1x1 part conv per stream
        total += 2 * cfg.parts * c * c + c  # parts -> C
    else:
        total += 2 * c * c + 2 * c  # 1x1 conv + BN
    return total + c + 1


def test_paper_preset_is_two_resnet18s():
    cfg = ADSN_PRESETS["paper"]
    assert cfg.widths == (64, 64, 128, 256, 512) and cfg.blocks == (2, 2, 2, 2)
    model = ADSN(cfg)
    # torchvision's ResNet18 trunk (no fc) has 11,176,512 parameters with a 3-channel stem
    assert trunk_params(3, cfg.widths, cfg.blocks) == 11_176_512
    assert sum(p.numel() for p in model.depth_stream.parameters()) == 11_176_512
    assert sum(p.numel() for p in model.parameters()) == adsn_params(cfg) == 24_974_601


@pytest.mark.parametrize("overrides", [{}, {"fusion": "concat"}, {"normals": False},
                                       {"nir_channels": 3}])
def test_cpu_preset_shapes_and_counts(overrides):
    model = build_adsn("cpu", **overrides)
    cfg = model.config
    assert sum(p.numel() for p in model.parameters()) == adsn_params(cfg)
    out = model(adsn_dummy_input(cfg, batch_size=2))
    assert out.logits.shape == (2,) and out.embedding.shape == (2, 128)
    if cfg.fusion == "attention":
        # output stride 8: 14 x 14 maps at 112 px; K = 4 parts per stream
        assert out.part_maps.shape == (2, 2, 4, 14, 14)
        assert out.part_features.shape == (2, 8, 128)
        assert out.channel_weights.shape == (2, 2, 128)
    else:
        assert out.part_maps is None and out.channel_weights is None
        assert out.part_features is None


def test_describe_cpu_preset():
    row = describe_adsn(["cpu"])["cpu"]
    assert row["params"] == adsn_params(ADSN_PRESETS["cpu"]) == 1_568_073
    # output stride 8 (last two stages at 14 x 14): 4.4 times the 133,718,272 of stride 32
    # (the parts' attention pooling, an einsum, counted: 2 streams x 4 x 128 x 196 MACs)
    assert row["flops"] == 589_193_472 and row["input_size"] == 112


# ---------------------------------------------------------------- attention fusion


def test_global_weights_sum_to_one_over_the_modalities():
    set_seed(0)
    a, b = torch.randn(3, 8, 5, 6), torch.randn(3, 8, 5, 6)
    pooled, w = GlobalCrossModal(8, reduction=4)(a, b)
    assert pooled.shape == (3, 8) and w.shape == (3, 2, 8)
    assert torch.allclose(w.sum(dim=1), torch.ones(3, 8))
    expected = w[:, 0] * a.mean(dim=(2, 3)) + w[:, 1] * b.mean(dim=(2, 3))
    assert torch.allclose(pooled, expected)


def test_part_maps_are_distributions_and_pool_the_features():
    set_seed(0)
    f = torch.randn(3, 8, 5, 6)
    feats, maps = LocalParts(8, parts=4)(f)
    assert maps.shape == (3, 4, 5, 6) and feats.shape == (3, 4, 8)
    assert torch.allclose(maps.sum(dim=(2, 3)), torch.ones(3, 4))
    # part 2 of sample 1 by hand: its map's weighted average of the features
    by_hand = (maps[1, 2][None] * f[1]).sum(dim=(1, 2))
    assert torch.allclose(feats[1, 2], by_hand, atol=1e-6)


def test_zero_part_logits_average_the_whole_map():
    f = torch.arange(2 * 2 * 3, dtype=torch.float32).view(1, 2, 2, 3)
    local = LocalParts(2, parts=3)
    torch.nn.init.zeros_(local.conv.weight)
    torch.nn.init.zeros_(local.conv.bias)
    feats, maps = local(f)
    assert torch.allclose(maps, torch.full((1, 3, 2, 3), 1 / 6))
    assert torch.allclose(feats[0], f.mean(dim=(2, 3)).expand(3, 2))


def test_attention_maps_for_plotting():
    set_seed(0)
    model = build_adsn("cpu")
    x = {k: torch.rand_like(v) for k, v in adsn_dummy_input(model.config, 2).items()}
    maps = attention_maps(model, x)
    assert maps["depth"].shape == maps["nir"].shape == (2, 4, 112, 112)
    assert torch.allclose(maps["depth"].amax(dim=(2, 3)), torch.ones(2, 4))
    # nearest upsampling: each 14 x 14 cell is an 8 x 8 block of one value
    block = maps["nir"][0, 0, :8, :8]
    assert torch.equal(block, block[0, 0].expand(8, 8))
    assert torch.allclose(maps["depth_channels"] + maps["nir_channels"], torch.ones(2, 128))
    assert model.training  # restored
    with pytest.raises(ValueError, match="attention"):
        attention_maps(build_adsn("cpu", fusion="concat"), x)


# ---------------------------------------------------------------- losses by hand


def test_center_loss_by_hand():
    feats = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]])
    centers = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    # differences (0, 1), (1, 0), (-1, 0): squared norms 1, 1, 1 -> 0.5 * mean = 0.5
    assert center_loss(feats, torch.tensor([0, 1, 0]), centers).item() == pytest.approx(0.5)


def test_cosine_loss_by_hand():
    feats = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    centers = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    # samples 1 and 2 sit on their own center (pull 0) orthogonal to the other (push 0);
    # sample 3 is at 45 degrees to both: pull 1 - 1/sqrt(2), push 1/sqrt(2) - margin
    assert cosine_loss(feats, labels, centers).item() == pytest.approx(1 / 3)
    assert cosine_loss(feats, labels, centers, margin=0.5).item() == pytest.approx(1 / 6)
    assert cosine_loss(feats, labels, centers, margin=0.9).item() == pytest.approx(
        (1 - 1 / math.sqrt(2)) / 3)


def test_adsn_loss_total_by_hand():
    loss = ADSNLoss(dim=2, lambda_center=0.1, lambda_cosine=0.5)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    logits = torch.tensor([0.0, math.log(3.0)])
    emb = torch.tensor([[0.0, 3.0], [1.0, 0.0]])  # bona fide, then attack
    out = loss((logits, emb), torch.tensor([1, 0]))
    # BCE: (-log sigmoid(0) - log(1 - sigmoid(log 3))) / 2 = (log 2 + log 4) / 2 = 1.5 log 2
    assert out["bce"].item() == pytest.approx(1.5 * math.log(2))
    # center: ||(0, 3) - (0, 1)||^2 = 4 and 0 -> 0.5 * mean = 1
    assert out["center"].item() == pytest.approx(1.0)
    # cosine: both on their own center's direction, orthogonal to the other -> 0
    assert out["cosine"].item() == pytest.approx(0.0, abs=1e-7)
    assert out["total"].item() == pytest.approx(1.5 * math.log(2) + 0.1 * 1.0)
    assert out["overlap"].item() == out["parts"].item() == 0.0  # no parts in this output


def test_overlap_loss_by_hand():
    disjoint = torch.zeros(1, 1, 2, 2, 2)
    disjoint[0, 0, 0, 0, 0] = disjoint[0, 0, 1, 1, 1] = 1.0
    assert overlap_loss(disjoint).item() == 0.0
    same = torch.full((2, 2, 3, 2, 2), 0.25)  # every part looks everywhere alike
    assert overlap_loss(same).item() == pytest.approx(1.0)
    half = torch.tensor([[1.0, 1.0], [0.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # one shared position of two: cosine 1 / (sqrt 2 sqrt 2) = 0.5
    assert overlap_loss(torch.stack(half)[None, None]).item() == pytest.approx(0.5)
    assert overlap_loss(torch.ones(1, 2, 1, 3, 3)).item() == 0.0  # one part: nothing to overlap


def test_part_center_loss_by_hand():
    parts = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [0.0, 0.0]]])  # (B=2, P=2, 2)
    centers = torch.zeros(2, 2, 2)
    centers[1, 0] = torch.tensor([1.0, 0.0])
    # sample 0 (class 1): parts at distance 0 and 2 -> 0, 4; sample 1 (class 0): 9, 0
    assert part_center_loss(parts, torch.tensor([1, 0]), centers).item() == pytest.approx(
        0.5 * (0 + 4 + 9 + 0) / 4)


def test_adsn_loss_with_parts_adds_the_local_terms():
    set_seed(0)
    model = build_adsn("cpu", input_size=64)
    loss = ADSNLoss.for_model(model.config, lambda_overlap=0.5, lambda_parts=0.2)
    assert loss.part_centers.shape == (2, 8, 128)
    out = model(adsn_dummy_input(model.config, 2))
    y = torch.tensor([1, 0])
    terms = loss(out, y)
    expected = (terms["bce"] + 0.01 * terms["center"] + 0.1 * terms["cosine"]
                + 0.5 * overlap_loss(out.part_maps)
                + 0.2 * part_center_loss(out.part_features, y, loss.part_centers))
    assert torch.allclose(terms["total"], expected)
    assert terms["overlap"] > 0  # zero inputs: every part map near uniform, overlapping
    with pytest.raises(ValueError, match="part centers"):
        ADSNLoss(128)(out, y)
    assert ADSNLoss.for_model(build_adsn("cpu", fusion="concat").config).part_centers is None


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("fusion", ["attention", "concat"])
def test_a_few_steps_reduce_the_loss(fusion):
    set_seed(0)
    model = build_adsn("cpu", fusion=fusion, input_size=64)
    criterion = ADSNLoss.for_model(model.config)
    x = {k: torch.rand_like(v) for k, v in adsn_dummy_input(model.config, 8).items()}
    y = torch.tensor([0, 1] * 4)
    opt = torch.optim.Adam(list(model.parameters()) + list(criterion.parameters()), lr=1e-3)
    losses = []
    for _ in range(6):
        loss = criterion(model(x), y)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_output_stride_keeps_the_attention_map_large_enough():
    from fas_lib.models.adsn.model import ADSN_PRESETS, ResNet18Trunk

    x = torch.zeros(1, 3, 64, 64)
    sides = {s: ResNet18Trunk(3, (4, 4, 4, 4, 4), (1, 1, 1, 1), s)(x).shape[-1]
             for s in (32, 16, 8)}
    assert sides == {32: 2, 16: 4, 8: 8}
    # the CPU preset at the notebook's 64 px: an 8 x 8 attention map (the paper's 224 px: 7 x 7)
    cpu = dataclasses.replace(ADSN_PRESETS["cpu"], input_size=64)
    model = ADSN(cpu).eval()
    with torch.no_grad():
        out = model({"depth": torch.zeros(2, 1, 64, 64), "nir": torch.zeros(2, 1, 64, 64)})
    assert out.part_maps.shape[-2:] == (8, 8)
    assert ADSN_PRESETS["paper"].output_stride == 32
    with pytest.raises(ValueError, match="output_stride"):
        ADSNConfig(output_stride=4)


def test_class_rows_equal_indexing_with_a_backward_that_is_the_same_every_time():
    """Indexing's backward adds the samples' gradients into each center in the order two
    threads finish (ADSN runs differed); the one-hot product's does not."""
    from fas_lib.models.adsn.losses import class_rows

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(0)
        c0 = torch.randn(2, 3, 8, generator=g)  # part centers: (classes, parts, dim)
        y = torch.randint(0, 2, (4096,), generator=g)
        f = torch.randn(4096, 3, 8, generator=g)
        torch.testing.assert_close(class_rows(c0, y), c0[y], rtol=0, atol=0)

        def grad() -> torch.Tensor:
            c = c0.clone().requires_grad_(True)
            ((f - class_rows(c, y)) ** 2).sum().backward()
            return c.grad

        first = grad()
        assert all(torch.equal(first, grad()) for _ in range(4))
    finally:
        torch.set_num_threads(threads)
