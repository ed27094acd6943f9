"""Unit tests of MS-FANS over time (fas_lib.models.msfans.temporal.TemporalMultiScaleNet).

Tiny random clips ``(B, T, n, 3, 112, 112)``; the file runs in seconds on one thread.
"""

from __future__ import annotations

import pytest
import torch

from fas_lib.models import (
    MultiScaleNet,
    TemporalMultiScaleNet,
    TemporalMultiScaleOutput,
    temporal_msfans_loss,
)

pytestmark = pytest.mark.usefixtures("one_thread")

S = 112


def clips(b: int, t: int, n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, t, n, 3, S, S, generator=g)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("temporal", ["lstm", "mean"])
@pytest.mark.parametrize("t", [1, 3])
def test_output_shapes(temporal, t):
    model = TemporalMultiScaleNet(temporal=temporal, n_scales=3).eval()
    with torch.no_grad():
        out = model(clips(2, t))
    assert isinstance(out, TemporalMultiScaleOutput)
    assert out.logits.shape == (2, 2)
    assert out.frame_logits.shape == (2, t, 2)
    assert out.per_scale_logits.shape == (2, t, 3, 2)
    assert out.weights.shape == (2, t, 3)
    assert out.fused.shape == (2, t, 1024)
    assert out.features.shape == (2, t, 3, 1024)
    if temporal == "mean":
        assert torch.allclose(out.logits, out.frame_logits.mean(dim=1))


def test_parameter_counts():
    frame = n_params(MultiScaleNet())  # CNN_S, MS-FANS head, three aux classifiers
    assert frame == 3_583_024 + (4 * (1024 + 1) + 2 * 4) + 2050 + 3 * 2050  # 3_595_332
    lstm = 4 * 128 * (1024 + 128) + 2 * 4 * 128 + 258
    assert n_params(TemporalMultiScaleNet()) == frame + lstm == 4_186_438
    assert n_params(TemporalMultiScaleNet(temporal="mean")) == frame
    assert n_params(TemporalMultiScaleNet(hidden_size=64, fusion="concat")) == (
        3_583_024 + (3 * 1024 * 2 + 2) + 3 * 2050 + 4 * 64 * (3 * 1024 + 64) + 2 * 4 * 64 + 130
    )


def test_one_frame_without_the_lstm_is_multiscalenet():
    """``temporal="mean"`` with ``T = 1`` reproduces MultiScaleNet on that frame exactly."""
    torch.manual_seed(0)
    single = MultiScaleNet(fusion="msfans", n_scales=3).eval()
    model = TemporalMultiScaleNet(frame_model=single, temporal="mean").eval()
    x = clips(2, 1)
    with torch.no_grad():
        ref = single(x[:, 0])
        out = model(x)
    assert torch.equal(out.logits, ref.logits)
    assert torch.equal(out.frame_logits[:, 0], ref.logits)
    assert torch.equal(out.weights[:, 0], ref.weights)
    assert torch.equal(out.fused[:, 0], ref.fused)
    assert torch.equal(out.per_scale_logits[:, 0], ref.per_scale_logits)


def test_frames_are_scored_by_multiscalenet_under_the_lstm():
    torch.manual_seed(0)
    single = MultiScaleNet(fusion="msfans", n_scales=2, weight_norm="softmax").eval()
    model = TemporalMultiScaleNet(frame_model=single, temporal="lstm", hidden_size=8).eval()
    x = clips(2, 3, n=2)
    with torch.no_grad():
        out = model(x)
        for t in range(3):
            ref = single(x[:, t])
            assert torch.allclose(out.frame_logits[:, t], ref.logits, atol=1e-5)
            assert torch.allclose(out.weights[:, t], ref.weights, atol=1e-6)
    assert torch.allclose(out.weights.sum(dim=-1), torch.ones(2, 3))  # softmax scale weights


def test_bad_arguments():
    with pytest.raises(ValueError, match="temporal"):
        TemporalMultiScaleNet(temporal="gru")
    with pytest.raises(ValueError, match="not both"):
        TemporalMultiScaleNet(frame_model=MultiScaleNet(), n_scales=3)
    with pytest.raises(ValueError, match=r"\(B, T, 3, 3, H, W\)"):
        TemporalMultiScaleNet()(torch.zeros(1, 2, 3, S, S))


def test_loss_terms():
    model = TemporalMultiScaleNet(n_scales=2, hidden_size=8).eval()
    y = torch.tensor([1, 0])
    with torch.no_grad():
        out = model(clips(2, 2, n=2))
        clip_only = temporal_msfans_loss(out, y, iteration=10, max_iter=10)
        with_aux = temporal_msfans_loss(out, y, iteration=0, max_iter=10)
        with_frames = temporal_msfans_loss(out, y, 10, 10, frame_weight=1.0)
    assert clip_only == pytest.approx(float(torch.nn.functional.cross_entropy(out.logits, y)))
    assert with_aux > clip_only and with_frames > clip_only


@pytest.mark.parametrize("temporal", ["lstm", "mean"])
def test_a_training_step_reduces_the_loss(temporal):
    torch.manual_seed(0)
    model = TemporalMultiScaleNet(temporal=temporal, n_scales=2, hidden_size=16, dropout=0.0)
    x, y = clips(4, 2, n=2, seed=5), torch.tensor([0, 1, 0, 1])

    def batch_loss() -> float:  # train mode: BatchNorm on the batch's statistics, no dropout
        with torch.no_grad():
            return float(temporal_msfans_loss(model(x), y, 0, 10))

    model.train()
    before = batch_loss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    for i in range(3):
        loss = temporal_msfans_loss(model(x), y, i, 10)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert batch_loss() < before
