"""Unit tests of fas_lib.training.multimodal on a fabricated crop cache with depth and NIR crops
(``tests/fakes.py``: ``build_modality_cache``; 24 frames per split): configs, loading, a few
epochs of MM-FAS and ADSN, resume giving identical scores, the fold's excluded attack types,
the "without BCE" scores, reading a run back. About 10 s on one thread."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from fas_lib.training.multimodal import (
    MMRunConfig,
    build_mm,
    load_mm_run,
    load_splits,
    mm_run_dir,
    score_mm,
    train_mm,
)
from fas_lib.training.runs import CHECKPOINT

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"input_size": 48}


@pytest.fixture(scope="module")
def cache(modality_cache):
    return modality_cache


@pytest.fixture(scope="module")
def data(cache):
    return load_splits(cache, 1.0, 48)


def test_load_splits(cache, data):
    assert set(data) == {"train", "dev", "test"}
    train = data["train"]
    assert {k: tuple(v.shape) for k, v in train.x.items()} == {
        "rgb": (24, 3, 48, 48), "depth": (24, 1, 48, 48), "nir": (24, 1, 48, 48)}
    assert train.y.tolist() == cache.frames("train")["label"].tolist()
    assert float(train.x["depth"].min()) >= -1 and float(train.x["depth"].max()) <= 1
    # scale 1.4 is the second cached scale
    other = load_splits(cache, 1.4, 48, splits=("dev",))
    expected = cache.array("depth", "dev")[:, 1].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(other["dev"].x["depth"][:, 0].numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="not in the cache"):
        load_splits(cache, 2.0)


def test_config_checks_and_round_trip():
    cfg = MMRunConfig("mmfas", options={"modalities": ["depth", "nir"], "aggregation": False},
                      exclude_attacks=["mask"])
    assert cfg.modalities == ("depth", "nir") and cfg.exclude_attacks == ("mask",)
    assert MMRunConfig.from_dict(cfg.to_dict()) == cfg
    assert MMRunConfig("adsn").modalities == ("depth", "nir")
    with pytest.raises(ValueError, match="model must be"):
        MMRunConfig("vgg")
    with pytest.raises(ValueError, match="bad mmfas option"):
        MMRunConfig("mmfas", options={"colour": 3})
    with pytest.raises(ValueError, match="ADSN's"):
        MMRunConfig("mmfas", loss={"lambda_bce": 0})
    with pytest.raises(ValueError, match="input_size"):
        MMRunConfig("mmfas", options={"input_size": 32})
    with pytest.raises(ValueError, match="face-recognition"):
        build_mm(MMRunConfig("adsn", init="face_recognition"))


def test_run_dir_is_keyed_by_config_and_data(cache, tmp_path):
    a = MMRunConfig(options=SMALL, name="x")
    assert mm_run_dir(a, tmp_path, cache) == mm_run_dir(MMRunConfig(options=SMALL, name="x"),
                                                         tmp_path, cache)
    assert mm_run_dir(a, tmp_path, cache) != mm_run_dir(MMRunConfig(options=SMALL, name="x",
                                                                    seed=1), tmp_path, cache)
    assert mm_run_dir(a, tmp_path, cache) != mm_run_dir(a, tmp_path)
    assert mm_run_dir(a, tmp_path).name.startswith("x-")


def test_run_dir_follows_the_models_resolved_config(monkeypatch, tmp_path):
    # a changed preset default (as ADSN's depth convention once was) makes a new run folder,
    # although the run's own fields are unchanged
    import dataclasses

    import fas_lib.training.mm_config as mt

    a = MMRunConfig("adsn", options={"input_size": 64}, name="adsn")
    before = mm_run_dir(a, tmp_path)
    old = {k: dataclasses.replace(v, depth_nearness=False) for k, v in mt.ADSN_PRESETS.items()}
    monkeypatch.setattr(mt, "ADSN_PRESETS", old)
    assert a.to_dict() == MMRunConfig("adsn", options={"input_size": 64}, name="adsn").to_dict()
    assert mm_run_dir(a, tmp_path) != before


def test_mmfas_trains_and_resumes_exactly(cache, data, tmp_path):
    cfg = MMRunConfig(options=SMALL, epochs=3, batch_size=8, lr=3e-3, name="m")
    full = train_mm(cfg, cache, tmp_path / "full", progress=False, data=data)
    assert full["complete"] and len(full["history"]) == 3
    assert full["history"][-1]["loss"] < full["history"][0]["loss"]
    m = full["metrics"]
    assert set(m["eer_per_type"]) == {"print_flat", "replay_phone", "mask"}
    assert 0 <= m["acer"] <= 1 and m["apcer"] == max(m["apcer_per_type"].values())
    part = train_mm(cfg, cache, tmp_path / "part", progress=False, data=data, stop_after_epoch=1)
    assert part == {"complete": False, "epochs_done": 1, "config": cfg.to_dict()}
    assert torch.load(tmp_path / "part" / CHECKPOINT, weights_only=True)["epoch"] == 1
    resumed = train_mm(cfg, cache, tmp_path / "part", progress=False, data=data)
    a = pd.read_csv(tmp_path / "full" / "scores.csv")
    b = pd.read_csv(tmp_path / "part" / "scores.csv")
    pd.testing.assert_frame_equal(a, b)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert len(a) == 48 and set(a["split"]) == {"dev", "test"}
    # a finished folder is read back, not retrained
    assert train_mm(cfg, cache, tmp_path / "full", progress=False, data=data) == full
    with pytest.raises(ValueError, match="another config"):
        train_mm(MMRunConfig(options=SMALL, epochs=4, batch_size=8, name="m"), cache,
                 tmp_path / "part", progress=False, data=data, stop_after_epoch=1)
    model, loss_mod, back = load_mm_run(tmp_path / "full")
    assert back == cfg and loss_mod is None
    scores = score_mm(model, None, data["test"], cfg.modalities)
    np.testing.assert_allclose(scores, a[a["split"] == "test"]["score"].to_numpy(), atol=1e-6)


def test_flip_changes_training(cache, data, tmp_path):
    base = dict(options={**SMALL, "modalities": ("depth",)}, epochs=1, batch_size=8)
    on = train_mm(MMRunConfig(**base), cache, tmp_path / "on", progress=False, data=data)
    off = train_mm(MMRunConfig(**base, flip=False), cache, tmp_path / "off", progress=False,
                   data=data)
    assert on["history"][0]["loss"] != off["history"][0]["loss"]


def test_excluded_attacks_leave_training(cache, data, tmp_path):
    cfg = MMRunConfig(options={**SMALL, "modalities": ("nir",)}, epochs=1, batch_size=8,
                      exclude_attacks=("mask", "replay_phone"))
    res = train_mm(cfg, cache, tmp_path / "fold", progress=False, data=data)
    assert res["data"]["n_train_frames"] == 12  # 6 live + 6 print_flat frames
    scores = pd.read_csv(tmp_path / "fold" / "scores.csv")
    assert "mask" in set(scores["attack_type"])  # dev and test are scored whole
    with pytest.raises(ValueError, match="one class"):
        train_mm(MMRunConfig(options=SMALL, exclude_attacks=("mask", "replay_phone",
                                                             "print_flat")),
                 cache, tmp_path / "none", progress=False, data=data)


@pytest.mark.parametrize("exclude", [("Mask",), "mask"])
def test_an_exclusion_that_matches_no_training_attack_is_an_error(cache, data, tmp_path,
                                                                   exclude):
    # a misspelt type, or a bare string (split into letters), used to exclude nothing and train
    # on every attack while results.json claimed the type was left out
    cfg = MMRunConfig(options={**SMALL, "modalities": ("nir",)}, epochs=1, batch_size=8,
                      exclude_attacks=exclude)
    with pytest.raises(ValueError, match="no attack types"):
        train_mm(cfg, cache, tmp_path / "typo", progress=False, data=data)
    assert not (tmp_path / "typo" / "results.json").exists()


def test_adsn_with_and_without_bce(cache, data, tmp_path):
    base = dict(model="adsn", options={"input_size": 48}, epochs=2, batch_size=8)
    res = train_mm(MMRunConfig(**base), cache, tmp_path / "bce", progress=False, data=data)
    s = pd.read_csv(tmp_path / "bce" / "scores.csv")["score"]
    assert s.between(0, 1).all() and res["config"]["loss"] == {}
    no_bce = MMRunConfig(**base, loss={"lambda_bce": 0.0})
    train_mm(no_bce, cache, tmp_path / "nobce", progress=False, data=data)
    model, loss_mod, _ = load_mm_run(tmp_path / "nobce")
    assert loss_mod is not None and loss_mod.lambda_bce == 0
    with torch.no_grad():
        emb = model({k: data["test"].x[k] for k in ("depth", "nir")}).embedding
        c = torch.nn.functional.normalize(loss_mod.centers, dim=1)
        e = torch.nn.functional.normalize(emb, dim=1)
        expected = (e @ c[1] - e @ c[0]).double().numpy()
    got = pd.read_csv(tmp_path / "nobce" / "scores.csv")
    np.testing.assert_allclose(got[got["split"] == "test"]["score"], expected, atol=1e-6)
    assert json.loads((tmp_path / "nobce" / "results.json").read_text())["config"]["loss"] == {
        "lambda_bce": 0.0}
