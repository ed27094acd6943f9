"""Tests of fas_lib.training.engine, the one training loop, and of what it gives every method:
resume equal to an uninterrupted run, dev selection, warm starts (``init_from``) and mixed
precision for STASN / MS-FANS on clips and for MM-FAS / ADSN (the frame engine's own are in
test_train.py). Tiny models and the suites' fake caches; about 20 s on one thread."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # repository root, for tests.*
from fas_lib.cache.clips import clip_set  # noqa: E402
from fas_lib.cache.reader import open_cache  # noqa: E402
from fas_lib.training import (
    devices,  # noqa: E402
    engine,
)
from fas_lib.training.clip_inputs import ClipConfig, ClipSource  # noqa: E402
from fas_lib.training.clips import load_clip_run, run_clip_experiment, score_clips  # noqa: E402
from fas_lib.training.multimodal import MMRunConfig, load_mm_run, load_splits, score_mm, train_mm  # noqa: E402
from fas_lib.training.runs import BEST, CHECKPOINT  # noqa: E402
from tests.clip_fakes import write_clip_cache  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- the loop


def _toy(seed: int = 0, dev=(0.3, 0.1, 0.2, 0.1)):
    """A linear model trained on fixed data; ``score_dev`` returns ``dev`` epoch by epoch."""
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    calls = []

    def train_epoch(epoch, bar):
        torch.manual_seed(epoch)
        order = torch.randperm(16)
        for b in order.split(4):
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        calls.append(epoch)
        return {"epoch": epoch + 1, "loss": loss.item(), "seconds": 0.01}

    def score_dev():
        return dev[len(calls) - 1]

    return engine.Trainer("toy", {"lr": 0.1}, 4, 4, {"model": model, "optimizer": opt},
                          train_epoch, score_dev), model


def test_fit_resumes_exactly(tmp_path):
    trainer, model = _toy()
    full = engine.fit(trainer, tmp_path / "full", progress=False)
    assert full.complete and [h["epoch"] for h in full.history] == [1, 2, 3, 4]
    part_trainer, _ = _toy()
    part = engine.fit(part_trainer, tmp_path / "part", progress=False, stop_after_epoch=2)
    assert not part.complete and len(part.history) == 2
    again, again_model = _toy()
    seen = []
    rest = engine.fit(again, tmp_path / "part", progress=False,
                      on_epoch_end=lambda e, r: seen.append(e))
    assert seen == [3, 4] and rest.history == full.history
    for a, b in zip(model.parameters(), again_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other, _ = _toy()
    other.config = {"lr": 0.2}
    with pytest.raises(ValueError, match="another config"):
        engine.fit(other, tmp_path / "part", progress=False)


def test_fit_selects_on_dev_and_keeps_the_selected_weights(tmp_path):
    trainer, model = _toy(dev=(0.3, 0.1, 0.2, 0.1))
    weights = {}
    fitted = engine.fit(trainer, tmp_path, progress=False, select_on_dev=True,
                        on_epoch_end=lambda e, r: weights.update(
                            {e: {k: v.clone() for k, v in model.state_dict().items()}}))
    assert [h["dev_eer"] for h in fitted.history] == [0.3, 0.1, 0.2, 0.1]
    fresh = nn.Linear(4, 2)
    assert engine.load_best({"model": fresh}, tmp_path) == 4  # ties: the later epoch
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, weights[4][k], rtol=0, atol=0)
    no_dev, _ = _toy()
    no_dev.score_dev = None
    with pytest.raises(ValueError, match="dev split"):
        engine.fit(no_dev, tmp_path / "x", progress=False, select_on_dev=True)


def test_copy_weights_refuses_another_model():
    a, b = nn.Linear(4, 2), nn.Linear(4, 2)
    engine.copy_weights({"model": a}, {"model": b}, "src")
    torch.testing.assert_close(a.weight, b.weight, rtol=0, atol=0)
    with pytest.raises(ValueError, match="another model"):
        engine.copy_weights({"model": nn.Linear(4, 3)}, {"model": b}, "src")
    with pytest.raises(ValueError, match="no 'loss'"):
        engine.copy_weights({"model": a}, {"model": b, "loss": nn.Linear(1, 1)}, "src")


def test_shares_split_a_batch_over_processes():
    one = devices.DistContext()
    assert devices.share([5, 6, 7], one) == ([5, 6, 7], 1.0)
    r0, r1 = devices.DistContext(0, 2), devices.DistContext(1, 2)
    (a, wa), (b, wb) = devices.share([5, 6, 7], r0), devices.share([5, 6, 7], r1)
    assert a + b == [5, 6, 7] and (wa, wb) == (len(a) * 2 / 3, len(b) * 2 / 3)
    assert devices.share([5], r0) == ([5], 0.0)  # no share: a stand-in at weight 0
    assert devices.share([5], r1) == ([5], 2.0)


def test_opt_in_options_stay_out_of_old_configs():
    assert not set(engine.ENGINE_OPT_IN) & set(ClipConfig().to_dict())
    assert not set(engine.ENGINE_OPT_IN) & set(MMRunConfig().to_dict())
    on = ClipConfig(select_on_dev=True, amp=True).to_dict()
    assert on["select_on_dev"] is True and on["amp"] is True and "init_from" not in on
    assert ClipConfig.from_dict(on) == ClipConfig(select_on_dev=True, amp=True)


# ----------------------------------------------------------------------------- clips


def _same_parameters(a: nn.Module, b: nn.Module) -> None:
    """Equal learned parameters: a warm start trained at learning rate 0 keeps its source's
    (BatchNorm's running statistics still move in training mode, so scores may not)."""
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert pa.keys() == pb.keys() and pa
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=0, atol=0, msg=k)


@pytest.fixture(scope="module")
def clip_data(tmp_path_factory):
    cache = open_cache(write_clip_cache(tmp_path_factory.mktemp("clips") / "cache", t=2))
    return {s: [ClipSource(cache, clip_set(cache, s, 2))] for s in ("train", "dev", "test")}


def _clip(**kw) -> ClipConfig:
    base = dict(name="tiny", scales=(1.4,), t=2, input_size=64, window=64, epochs=3,
                batch_size=3, milestones=(2,), lr=1e-3, eval_batch_size=4, dropout=0.0)
    return ClipConfig(**{**base, **kw})


def _scripted_dev(monkeypatch, module: str, eers=(0.2, 0.1, 0.3)) -> None:
    """Dev EERs per epoch as given (the fake caches' dev splits separate at every epoch, so
    selection would keep the last one and say nothing about the weights it restores)."""
    it = iter(eers)
    monkeypatch.setattr(f"fas_lib.{module}._dev_eer", lambda *a: next(it))


def test_clip_run_selects_on_dev(clip_data, tmp_path, monkeypatch):
    _scripted_dev(monkeypatch, "training.clips")
    res = run_clip_experiment(_clip(select_on_dev=True), clip_data, tmp_path, progress=False)
    assert [h["dev_eer"] for h in res["history"]] == [0.2, 0.1, 0.3]
    assert res["selection"]["epoch"] == 2
    model, cfg = load_clip_run(tmp_path)  # the selected epoch's weights, as test was scored
    again = score_clips(model, cfg, clip_data["test"])
    scores = pd.read_csv(tmp_path / "scores.csv")
    np.testing.assert_allclose(again["score"], scores[scores.split == "test"]["score"],
                               atol=1e-6)
    last = torch.load(tmp_path / CHECKPOINT, weights_only=True)["model"]
    best = torch.load(tmp_path / BEST, weights_only=True)["model"]
    assert any(not torch.equal(last[k], best[k]) for k in best)  # epoch 2 is not the last
    with pytest.raises(ValueError, match="dev"):
        run_clip_experiment(_clip(select_on_dev=True), {k: v for k, v in clip_data.items()
                                                        if k != "dev"}, tmp_path / "x")


def test_clip_run_starts_from_a_finished_run(clip_data, tmp_path):
    src = tmp_path / "src"
    run_clip_experiment(_clip(), clip_data, src, progress=False)
    still = run_clip_experiment(_clip(lr=0.0, init_from=str(src), epochs=1, milestones=()),
                                clip_data, tmp_path / "warm", progress=False)
    assert still["config"]["init_from"] == str(src)
    _same_parameters(load_clip_run(src)[0], load_clip_run(tmp_path / "warm")[0])
    run_clip_experiment(_clip(model="msfans_time", scales=(1.0, 1.4), epochs=1, milestones=()),
                        clip_data, tmp_path / "mt", progress=False)
    with pytest.raises(ValueError, match="msfans_time run"):
        run_clip_experiment(_clip(init_from=str(tmp_path / "mt")), clip_data,
                            tmp_path / "bad", progress=False)
    with pytest.raises(ValueError, match="not a finished run"):
        run_clip_experiment(_clip(init_from=str(tmp_path / "nothing")), clip_data,
                            tmp_path / "bad2", progress=False)


def test_clip_run_in_mixed_precision(clip_data, tmp_path):
    res = run_clip_experiment(_clip(amp=True, epochs=1, milestones=()), clip_data, tmp_path,
                              progress=False)
    s = pd.read_csv(tmp_path / "scores.csv")["score"]
    assert res["complete"] and res["config"]["amp"] is True and np.isfinite(s).all()
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["epoch"] == 1


# ----------------------------------------------------------------------------- multi-modal


@pytest.fixture(scope="module")
def mm_data(modality_cache):
    return load_splits(modality_cache, 1.0, 48)


def _mm(**kw) -> MMRunConfig:
    return MMRunConfig(**{**dict(options={"input_size": 48}, epochs=3, batch_size=8, lr=3e-3,
                                 name="m"), **kw})


@pytest.mark.parametrize("model", ["mmfas", "adsn"])
def test_mm_run_selects_on_dev(modality_cache, mm_data, tmp_path, model, monkeypatch):
    _scripted_dev(monkeypatch, "training.multimodal")
    cfg = _mm(model=model, select_on_dev=True)
    res = train_mm(cfg, modality_cache, tmp_path, progress=False, data=mm_data)
    assert res["selection"]["epoch"] == 2
    last = torch.load(tmp_path / CHECKPOINT, weights_only=True)["model"]
    best = torch.load(tmp_path / BEST, weights_only=True)
    assert any(not torch.equal(last[k], best["model"][k]) for k in best["model"])
    assert ("loss" in best) == (model == "adsn")  # ADSN's centers are kept with its weights
    net, loss_mod, back = load_mm_run(tmp_path)
    assert back == cfg
    s = score_mm(net, loss_mod, mm_data["test"], cfg.modalities)
    scores = pd.read_csv(tmp_path / "scores.csv")
    np.testing.assert_allclose(s, scores[scores.split == "test"]["score"], atol=1e-6)


def test_mm_run_starts_from_a_finished_run(modality_cache, mm_data, tmp_path):
    src = tmp_path / "src"
    train_mm(_mm(model="adsn"), modality_cache, src, progress=False, data=mm_data)
    warm = _mm(model="adsn", lr=0.0, epochs=1, init_from=str(src))
    train_mm(warm, modality_cache, tmp_path / "warm", progress=False, data=mm_data)
    (m_a, l_a, _), (m_b, l_b, _) = load_mm_run(src), load_mm_run(tmp_path / "warm")
    _same_parameters(m_a, m_b)
    _same_parameters(l_a, l_b)  # ADSN's class centers too
    with pytest.raises(ValueError, match="adsn run"):
        train_mm(_mm(init_from=str(src)), modality_cache, tmp_path / "bad", progress=False,
                 data=mm_data)


def test_mm_run_in_mixed_precision(modality_cache, mm_data, tmp_path):
    res = train_mm(_mm(amp=True, epochs=1), modality_cache, tmp_path, progress=False,
                   data=mm_data)
    assert res["complete"] and res["config"]["amp"] is True
    assert np.isfinite(pd.read_csv(tmp_path / "scores.csv")["score"]).all()


# ----------------------------------------------------------------------------- 2 processes


def _batch_free(model: nn.Module) -> nn.Module:
    """``model`` with GroupNorm for every BatchNorm: on CPUs each DDP process normalises over
    its own share of a batch (SyncBatchNorm is GPU-only), so only a model without batch
    statistics (and without dropout) can equal one process exactly."""
    for name, m in list(model.named_children()):
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            setattr(model, name, nn.GroupNorm(1, m.num_features))
        else:
            _batch_free(m)
    return model


def _patch_batch_free() -> None:
    import fas_lib.training.clips as ct
    import fas_lib.training.multimodal as mt

    build_clip, build_mm = ct.build_clip_model, mt.build_mm
    ct.build_clip_model = lambda cfg: _batch_free(build_clip(cfg))
    mt.build_mm = lambda cfg: (lambda m, loss: (_batch_free(m), loss))(*build_mm(cfg))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _method_worker(rank: int, world: int, port: int, method: str, root: str, out: str) -> None:
    """One of the training processes (what torchrun would start) of a clip or multi-modal
    run: stops after epoch 1, resumes from rank 0's checkpoint, finishes."""
    import json
    import os

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    _patch_batch_free()
    try:
        first, res = _run_method(method, Path(root), Path(out))
    finally:
        devices.shutdown()
    Path(out, f"rank{rank}.json").write_text(json.dumps(
        {"first": first["complete"], "history": res["history"]}))


def _run_method(method: str, root: Path, out: Path) -> tuple[dict, dict]:
    """A clip run (STASN) or a multi-modal run (ADSN: its centers are parameters too) on the
    fake caches under ``root``: stopped after one epoch, then finished."""
    if method == "clip":
        cache = open_cache(root / "clips")
        data = {s: [ClipSource(cache, clip_set(cache, s, 2))] for s in ("train", "dev", "test")}
        cfg = _clip(epochs=2, milestones=(1,))
        return (run_clip_experiment(cfg, data, out, progress=False, stop_after_epoch=1),
                run_clip_experiment(cfg, data, out, progress=False))
    cache = open_cache(root / "mm")
    data = load_splits(cache, 1.0, 48)
    cfg = _mm(model="adsn", epochs=2)
    return (train_mm(cfg, cache, out, progress=False, data=data, stop_after_epoch=1),
            train_mm(cfg, cache, out, progress=False, data=data))


@pytest.fixture(scope="module")
def two_caches(tmp_path_factory, modality_cache):
    root = tmp_path_factory.mktemp("two")
    write_clip_cache(root / "clips", t=2)
    (root / "mm").symlink_to(modality_cache.path, target_is_directory=True)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("method", ["clip", "mm"])
def test_two_gloo_processes_equal_one_process(two_caches, tmp_path, monkeypatch, method):
    import json

    import torch.multiprocessing as mp

    import fas_lib.training.clips as ct
    import fas_lib.training.multimodal as mt

    monkeypatch.setattr(ct, "build_clip_model", ct.build_clip_model)  # restored afterwards
    monkeypatch.setattr(mt, "build_mm", mt.build_mm)
    _patch_batch_free()
    _, one = _run_method(method, two_caches, tmp_path / "one")
    two = tmp_path / "two"
    mp.spawn(_method_worker, args=(2, _free_port(), method, str(two_caches), str(two)),
             nprocs=2)
    r0, r1 = (json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["first"] is False and r0["history"] == r1["history"]
    a, b = (pd.read_csv(p / "scores.csv") for p in (tmp_path / "one", two))
    assert a.drop(columns="score").equals(b.drop(columns="score"))
    diff = float((a["score"] - b["score"]).abs().max())
    assert diff < 1e-5 and a["score"].std() > 1e-4, diff
    for h1, h2 in zip(one["history"], r0["history"], strict=True):
        assert h1["loss"] == pytest.approx(h2["loss"], abs=1e-5)
    w1 = torch.load(tmp_path / "one" / CHECKPOINT, weights_only=True)
    w2 = torch.load(two / CHECKPOINT, weights_only=True)
    # Adam (multi-modal) divides by the gradients' root mean square: float-level differences
    # of near-zero gradients move a weight by up to ~5e-5 (the scores still agree to 1e-5)
    tol = 1e-4 if method == "mm" else 1e-5
    for part in ("model", "loss") if method == "mm" else ("model",):
        assert max((w1[part][k] - w2[part][k]).abs().max().item() for k in w1[part]) < tol
