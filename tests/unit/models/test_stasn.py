"""Unit tests of STASN (fas_lib.models.stasn.model), its region attention and crop (regions),
encoders.

Tiny fixtures (random clips of 1-3 frames, 112 x 112); the file runs in seconds on one thread,
the ResNet-50 preset is only built (parameter counts), never run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fas_lib.models import (
    STASN,
    STASNOutput,
    build_frame_encoder,
    crop_regions,
    region_boxes_px,
    region_overlap,
    stasn_loss,
)
from fas_lib.models.msfans.cnn import CNN_S

pytestmark = pytest.mark.usefixtures("one_thread")

S = 112  # CPU preset frame side


def clips(b: int, t: int, side: int = S, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, t, 3, side, side, generator=g)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("t", [1, 3])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_output_shapes(t, k):
    model = STASN.from_preset("cpu", n_regions=k).eval()
    x = clips(2, t)
    with torch.no_grad():
        out = model(x)
        boxes = model.region_boxes(x)
        crops, centres = model.regions(x)
    assert isinstance(out, STASNOutput)
    assert out.logits.shape == out.temporal_logits.shape == out.spatial_logits.shape == (2, 2)
    assert out.frame_spatial_logits.shape == (2, t, 2)
    assert out.centres.shape == centres.shape == (2, t, k, 2)
    assert crops.shape == (2, t, k, 3, 56, 56)
    assert boxes.shape == (2, t, k, 4)
    # every box has the region side (0.25 * 112 = 28 px) and lies inside the frame
    assert torch.allclose(boxes[..., 2] - boxes[..., 0], torch.full((2, t, k), 28.0))
    assert boxes.min() >= -1e-4 and boxes.max() <= S + 1e-4
    # fusion: weighted mean of the two modules' logits
    assert torch.allclose(out.logits, 0.5 * out.temporal_logits + 0.5 * out.spatial_logits)
    assert torch.allclose(out.spatial_logits, out.frame_spatial_logits.mean(dim=1))


@pytest.mark.parametrize("branches", ["temporal", "spatial"])
def test_single_branch_outputs(branches):
    model = STASN.from_preset("cpu", branches=branches).eval()
    with torch.no_grad():
        out = model(clips(2, 2))
    if branches == "temporal":
        assert out.spatial_logits is None and out.centres is None
        assert torch.equal(out.logits, out.temporal_logits)
        assert not hasattr(model, "ram")
        with pytest.raises(ValueError, match="no region attention"):
            model.region_boxes(clips(1, 1))
    else:
        assert out.temporal_logits is None and not hasattr(model, "lstm")
        assert torch.equal(out.logits, out.spatial_logits)


def test_regress_locator_and_resnet_frames():
    model = STASN(backbone="resnet18", input_size=64, region_out=32, n_regions=2,
                  locator="regress", hidden_size=16).eval()
    with torch.no_grad():
        out = model(clips(1, 2, side=64))
    assert out.logits.shape == (1, 2)
    # the regressor starts at the centre: every box is the central square
    assert torch.allclose(out.centres, torch.zeros(1, 2, 2, 2))


def test_bad_arguments():
    with pytest.raises(ValueError, match="branches"):
        STASN(branches="regions")
    with pytest.raises(ValueError, match="preset"):
        STASN.from_preset("gpu")
    with pytest.raises(ValueError, match="locator"):
        STASN(locator="argmax")
    with pytest.raises(ValueError, match="encoder"):
        build_frame_encoder("vgg16")
    with pytest.raises(ValueError, match=r"\(B, T, 3, H, W\)"):
        STASN()(torch.zeros(2, 3, S, S))


# ---------------------------------------------------------------- parameter counts

# CNN_S at 112 px: conv1 1296 + bn1 96 + conv2 41_472 + bn2 192 + FC 3456 * 1024 + 1024
CNN_S_112 = 3_583_024
CNN_S_56 = 1296 + 96 + 41_472 + 192 + 384 * 1024 + 1024  # FC reads 96 x 2 x 2
LSTM_1024_128 = 4 * 128 * (1024 + 128) + 2 * 4 * 128
RAM_96_K4 = 96 * 4 + 4  # 1 x 1 heat-map convolution
SASM_HEAD = 4 * 1024 * 2 + 2


@pytest.mark.parametrize(
    ("preset", "branches", "expected"),
    [
        ("cpu", "temporal", CNN_S_112 + LSTM_1024_128 + 258),  # 4_174_130
        ("cpu", "spatial", CNN_S_112 + RAM_96_K4 + CNN_S_56 + SASM_HEAD),  # 4_028_902
        ("cpu", "both", 4_620_008),
        # ResNet-50 body 23_508_032 (torchvision's 25_557_032 less its 1000-way FC)
        ("paper", "temporal", 23_508_032 + 4 * 256 * (2048 + 256) + 2 * 4 * 256 + 514),
        ("paper", "spatial", 47_040_646),
        ("paper", "both", 49_402_504),
    ],
)
def test_parameter_counts(preset, branches, expected):
    model = STASN.from_preset(preset, branches=branches)
    assert n_params(model) == expected
    assert n_params(model.encoder) == (CNN_S_112 if preset == "cpu" else 23_508_032)
    if preset == "cpu":  # the config rebuilds the model (checkpoints)
        assert n_params(STASN(**model.config)) == expected


def test_table_encoder_equals_cnn_s():
    torch.manual_seed(0)
    net = CNN_S().eval()
    enc = build_frame_encoder("cnn_s")
    enc.net.load_state_dict(net.state_dict())
    enc.eval()
    x = torch.rand(2, 3, S, S)
    with torch.no_grad():
        assert torch.allclose(enc(x), net(x), atol=1e-6)
        assert enc.feature_map(x).shape == (2, 96, 6, 6)


# ---------------------------------------------------------------- the spatial transformer


def test_crop_of_grid_aligned_box_equals_slicing():
    img = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    # 16 x 16 boxes: columns 8:24, rows 40:56 and columns 32:48, rows 0:16 -> size 16/64
    boxes = [(8, 40), (32, 0)]
    centres = torch.tensor([[[(x + 8) / 32 - 1, (y + 8) / 32 - 1] for x, y in boxes]] * 2)
    crops = crop_regions(img, centres, size=0.25, out_size=16)
    assert crops.shape == (2, 2, 3, 16, 16)
    for k, (x, y) in enumerate(boxes):
        assert torch.allclose(crops[:, k], img[:, :, y:y + 16, x:x + 16], atol=1e-5)
        px = region_boxes_px(centres[0, k], 0.25, 64, 64)
        assert torch.allclose(px, torch.tensor([x, y, x + 16, y + 16], dtype=torch.float32))
    # half resolution samples between pixels: bilinear = the 2 x 2 average
    half = crop_regions(img, centres, size=0.25, out_size=8)
    x, y = boxes[0]
    assert torch.allclose(half[:, 0], F.avg_pool2d(img[:, :, y:y + 16, x:x + 16], 2), atol=1e-5)


def test_crop_equals_a_hand_made_affine_warp():
    """Off the pixel grid and zoomed: the crop equals OpenCV's warp with the pixel matrix
    worked out by hand from ``x_in = size * x_out + cx`` (normalised, align_corners=False):
    output pixel ``j`` reads input pixel ``u = (W size / n) j + (W / 2)(size / n - size + cx + 1)
    - 1/2``, and the same for rows."""
    cv2 = pytest.importorskip("cv2")
    h, w, n, size = 48, 64, 20, 0.3
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    img = torch.stack([torch.sin(xx / 7) + yy / 40, torch.cos(yy / 5) * xx / 64, xx * yy / 3000])
    cx, cy = 0.137, -0.291
    crop = crop_regions(img[None], torch.tensor([[[cx, cy]]]), size=size, out_size=n)[0, 0]
    m = np.array([[w * size / n, 0, w / 2 * (size / n - size + cx + 1) - 0.5],
                  [0, h * size / n, h / 2 * (size / n - size + cy + 1) - 0.5]])
    hand = cv2.warpAffine(img.permute(1, 2, 0).numpy(), m, (n, n),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    assert np.abs(crop.permute(1, 2, 0).numpy() - hand).max() < 0.01


def test_crop_is_differentiable_in_the_centre():
    img = torch.zeros(1, 1, 32, 32)
    img[..., :, 21:] = 1.0  # bright right part; a sample (x = 20.5) straddles its edge
    centre = torch.zeros(1, 1, 2, requires_grad=True)
    crop_regions(img, centre, size=0.5, out_size=8).mean().backward()
    assert centre.grad[0, 0, 0] > 0  # moving right brightens the crop
    assert centre.grad[0, 0, 1].abs() < 1e-6


def test_region_attention_finds_a_bright_square():
    """Trained to maximise its crop's brightness, the RAM's box moves onto a bright square."""
    torch.manual_seed(0)
    model = STASN.from_preset("cpu", branches="spatial", n_regions=1, dropout=0.0).eval()
    x = torch.zeros(1, 1, 3, S, S)
    x[..., 60:76, 66:82] = 1.0  # 16 px square, right of and below the centre

    def contains(box: torch.Tensor) -> bool:
        return bool(box[0] <= 66 and box[1] <= 60 and box[2] >= 82 and box[3] >= 76)

    first = model.region_boxes(x)[0, 0, 0].detach()
    assert not contains(first)  # the 28 px box starts near the centre, over a corner only
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    losses = []
    for _ in range(8):
        crops, _ = model.regions(x)
        loss = -crops.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    last = model.region_boxes(x)[0, 0, 0].detach()
    assert contains(last), (first, last)
    assert losses[-1] < 0.5 * losses[0] < 0  # the crop got (much) brighter
    assert losses[-1] == pytest.approx(-(16 * 16) / (28 * 28), abs=0.01)


def test_region_overlap():
    s = 0.25  # boxes of side 0.5 in normalised units
    same = torch.zeros(2, 2)
    apart = torch.tensor([[-0.5, -0.5], [0.5, 0.5]])
    half = torch.tensor([[0.0, 0.0], [s, 0.0]])  # shifted by half a side: IoU 1/3
    assert region_overlap(same, s).item() == pytest.approx(1.0)
    assert region_overlap(apart, s).item() == 0.0
    assert region_overlap(half, s).item() == pytest.approx(1 / 3)
    assert region_overlap(torch.zeros(3, 1, 2), s).shape == (3,)  # K = 1: no overlap
    centres = torch.tensor([[0.0, 0.0], [0.1, 0.05]], requires_grad=True)
    region_overlap(centres, s).backward()
    assert centres.grad[1, 0] < 0 < centres.grad[0, 0]  # descent pushes the boxes apart


def test_overlap_penalty_in_the_loss():
    model = STASN.from_preset("cpu", n_regions=2).eval()
    y = torch.tensor([1])
    with torch.no_grad():
        out = model(clips(1, 2))
        plain = stasn_loss(out, y)
        loss, parts = stasn_loss(out, y, overlap_weight=2.0, return_parts=True)
    overlap = region_overlap(out.centres, 0.25).mean()
    assert parts["overlap"] == pytest.approx(float(overlap))
    assert float(loss) == pytest.approx(float(plain) + 2.0 * float(overlap), rel=1e-5)


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("branches", ["both", "temporal", "spatial"])
def test_a_training_step_reduces_the_loss(branches):
    torch.manual_seed(0)
    model = STASN.from_preset("cpu", branches=branches, dropout=0.0)
    x, y = clips(4, 2, seed=3), torch.tensor([0, 1, 0, 1])

    def batch_loss() -> float:  # train mode: BatchNorm on the batch's statistics, no dropout
        with torch.no_grad():
            return float(stasn_loss(model(x), y))

    model.train()
    before = batch_loss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)  # 1e-3 oscillates on 4 clips
    for _ in range(3):
        loss, parts = stasn_loss(model(x), y, return_parts=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ("temporal" in parts) == (branches == "both")
    assert batch_loss() < before


def test_flops_of_a_clip_grow_by_one_frame_per_frame():
    """count_flops with a clip as input: each frame adds the same cost, its LSTM step included
    (the LSTM is counted by hand: 2 * 4H(D + H) per step, D = 1024, H = 128)."""
    from fas_lib.models import count_flops

    model = STASN.from_preset("cpu", branches="temporal")
    flops = [count_flops(model, inputs=clips(1, t))["flops"] for t in (1, 2, 3)]
    per_frame = flops[1] - flops[0]
    assert flops[2] - flops[1] == pytest.approx(per_frame)
    assert per_frame > 2 * 4 * 128 * (1024 + 128)


def test_every_preset_field_says_where_it_comes_from():
    from fas_lib.models.stasn.model import STASN_PRESETS, STASN_SOURCES

    for preset in STASN_PRESETS.values():
        assert set(preset) == set(STASN_SOURCES)
    assert all(v.startswith(("paper", "ours")) for v in STASN_SOURCES.values())
