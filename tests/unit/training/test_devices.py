"""Unit tests of fas_lib.training.devices: mixed precision, and DDP training in 2 CPU processes
(gloo).

Fixtures are tiny: :class:`test_train.TinyCache` (in memory) and the ``reference`` crop cache of
tests/conftest.py (6 training frames of a tiny SynthSpoof), on which 2 processes started with
``torch.multiprocessing`` train 3 epochs of CNN_S MS-FANS (about 15 s) with a global batch of 5:
every epoch is a batch of 5 (shares of 2 and 3) and a batch of 1 (one rank gets a stand-in).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

import fas_lib.training.frames
from fas_lib.cache.reader import open_cache
from fas_lib.models import MultiScaleNet
from fas_lib.training import devices
from fas_lib.training.config import ExperimentConfig, scale_indices
from fas_lib.training.frames import run_experiment
from fas_lib.training.runs import run_dir
from tests.frame_fakes import TinyCache

pytestmark = pytest.mark.usefixtures("one_thread")


def cfg(**kw) -> ExperimentConfig:
    base = dict(scales=(1.1, 1.2, 1.3), epochs=3, batch_size=5, lr=1e-3, milestones=(2,),
                seed=0, device="cpu")
    return ExperimentConfig(**{**base, **kw})


# ---------------------------------------------------------------- mixed precision


def test_amp_is_opt_in_and_off_changes_nothing(tmp_path):
    assert run_dir(ExperimentConfig(amp=False), "r") == run_dir(ExperimentConfig(), "r")
    assert "amp" not in ExperimentConfig().to_dict()
    assert ExperimentConfig(amp=True).to_dict()["amp"] is True
    off = devices.Precision("cpu", False)
    assert not off.scaler.is_enabled() and isinstance(off.autocast(), type(
        devices.Precision("cpu").autocast()))
    on = devices.Precision("cpu", True)
    assert on.dtype == torch.bfloat16 and not on.scaler.is_enabled()  # no scaler for bf16
    with on.autocast():
        assert torch.nn.Linear(4, 2)(torch.ones(1, 4)).dtype == torch.bfloat16


def test_amp_run_trains_and_scores(tmp_path):
    cache = TinyCache()
    res = run_experiment(cfg(amp=True, epochs=1, batch_size=8), tmp_path, cache=cache,
                         progress=False)
    assert res["complete"] and res["config"]["amp"] is True
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert np.isfinite(scores["score"]).all() and scores["score"].std() > 0


# ---------------------------------------------------------------- the sampler


def test_global_batches_are_the_single_process_batches():
    cache = TinyCache()
    c = cfg(batch_size=8)
    idx = scale_indices(cache, c.scales)
    for epoch in (0, 1):
        rows = [r.tolist() for _, _, r in fas_lib.training.frames._epoch_loader(cache, idx, c, epoch)]
        seed = fas_lib.training.config.epoch_seed(c.seed, epoch)
        assert devices.global_batches(20, 8, seed) == rows


def test_shares_split_every_global_batch():
    ds = list(range(11))
    shares = []
    for rank in (0, 1):
        ctx = devices.DistContext(rank, 2, rank)
        s = devices.GlobalBatchSampler(ds, 4, seed=5, ctx=ctx)
        shares.append((list(s), s.scales))
    batches = devices.global_batches(11, 4, 5)
    assert [a + b for a, b in zip(shares[0][0], shares[1][0], strict=True)] == batches
    assert [len(b) for b in batches] == [4, 4, 3]
    assert shares[0][1] == [1.0, 1.0, 2 / 3] and shares[1][1] == [1.0, 1.0, 4 / 3]
    # a last batch of 1 for 2 processes: rank 0 gets no share, a stand-in with weight 0
    last = [devices.GlobalBatchSampler(list(range(9)), 4, 0, devices.DistContext(r, 2, r))
            for r in (0, 1)]
    batch = devices.global_batches(9, 4, 0)[-1]
    assert list(last[1])[-1] == batch and last[1].scales[-1] == 2.0
    assert list(last[0])[-1] == batch and last[0].scales[-1] == 0.0


def test_one_process_context_is_inert(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    ctx, device = devices.init("cpu")
    assert ctx == devices.DistContext() and not ctx.active and ctx.is_main and device == "cpu"
    model = nn.Linear(2, 2)
    assert devices.wrap(model, ctx, "cpu", lambda *a, **k: None) is model
    assert devices.reduce_sums(ctx, {"a": 1.0}, 3) == ({"a": 1.0}, 3)


# ---------------------------------------------------------------- 2 processes vs 1


def batch_free_model(config: ExperimentConfig) -> MultiScaleNet:
    """The run's model with GroupNorm for BatchNorm and no dropout: on CPUs each DDP process
    normalises over its own share of the batch and draws its own dropout masks (SyncBatchNorm
    is GPU-only), so only such a model can equal one process exactly."""
    model = MultiScaleNet(config.backbone, config.fusion, n_scales=len(config.scales),
                          weight_norm=config.weight_norm, dropout=0.0)
    feats = model.backbone.features
    for name, m in list(feats.named_children()):
        if isinstance(m, nn.BatchNorm2d):
            setattr(feats, name, nn.GroupNorm(1, m.num_features))
    return model


def ddp_worker(rank: int, world: int, port: int, cache_path: str, out: str) -> None:
    """One of the training processes (what torchrun would start): stops after epoch 1,
    resumes from rank 0's checkpoint, finishes; writes what it returned."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    fas_lib.training.frames.build_model = batch_free_model
    cache = open_cache(cache_path)
    try:
        first = run_experiment(cfg(), out, cache=cache, progress=False, stop_after_epoch=1)
        res = run_experiment(cfg(), out, cache=cache, progress=False)
    finally:
        devices.shutdown()
    Path(out, f"rank{rank}.json").write_text(json.dumps(
        {"first": first["complete"], "metrics": res["metrics"], "history": res["history"]}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(reference, tmp_path, monkeypatch):
    monkeypatch.setattr(fas_lib.training.frames, "build_model", batch_free_model)
    one = run_experiment(cfg(), tmp_path / "one", cache=reference, progress=False)
    two = tmp_path / "two"
    mp.spawn(ddp_worker, args=(2, free_port(), str(reference.path), str(two)), nprocs=2)
    r0, r1 = (json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["first"] is False and r0["metrics"] == r1["metrics"]  # both read rank 0's results
    assert sorted(p.name for p in two.iterdir()) == [
        "checkpoint.pt", "rank0.json", "rank1.json", "results.json", "scores.csv"]
    a = pd.read_csv(tmp_path / "one" / "scores.csv")
    b = pd.read_csv(two / "scores.csv")
    assert a[["split", "video_id", "frame_idx"]].equals(b[["split", "video_id", "frame_idx"]])
    diff = float((a["score"] - b["score"]).abs().max())
    print(f"2 gloo processes vs 1 process: max |score diff| = {diff:.2e}")
    assert diff < 1e-5 and a["score"].std() > 1e-3
    for h1, h2 in zip(one["history"], r0["history"], strict=True):
        for key in ("loss", "fused", "aux", "accuracy"):
            assert h1[key] == pytest.approx(h2[key], abs=1e-5), (h1["epoch"], key)
    w1 = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["model"]
    w2 = torch.load(two / "checkpoint.pt", weights_only=True)["model"]
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) < 1e-5
