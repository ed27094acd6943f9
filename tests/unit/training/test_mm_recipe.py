"""Unit tests of fas_lib.training.mm_recipe (MM-FAS's training recipe from the authors' code) and of
its use by fas_lib.training.multimodal and fas_lib.studies.multimodal: unchanged run folders of
existing configs, bad values, the cosine rate, the augmentation (modalities aligned, photometric
steps on RGB only, seeded per sample), flip TTA, the ``paper`` recipe trained and resumed at tiny
size, and the fold ensemble's seeds per fold. On the fabricated modality cache of ``tests/fakes.py``
(24 frames per split, 48 x 48). About 15 s on one thread."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from fas_lib.studies.multimodal import Study, StudyPlan, fold_runs, run_study, study_runs
from fas_lib.training.mm_recipe import (
    MM_RECIPES,
    UNHASHED_DEFAULTS,
    PaperAugment,
    augment_batch,
    draw_augment,
    epoch_lr,
    flip_tta,
)
from fas_lib.training.multimodal import (
    MMRunConfig,
    build_mm,
    load_mm_run,
    load_splits,
    mm_run_dir,
    score_mm,
    train_mm,
)
from fas_lib.training.runs import CHECKPOINT, config_hash

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"input_size": 48}
#: geometry switched off: no rotation, the whole frame, no cutout, no merge, no colour
STILL = PaperAugment(merge_p=0.0, degrees=0.0, cutout_p=0.0, crop_scale=(1.0, 1.0),
                     crop_ratio=(1.0, 1.0), jitter_p=0.0, grey_p=0.0)
#: every step on every sample (colour steps off: the modalities must stay comparable)
ALL_GEOMETRY = PaperAugment(merge_p=1.0, cutout_p=1.0, jitter_p=0.0, grey_p=0.0)


@pytest.fixture(scope="module")
def cache(modality_cache):
    return modality_cache


@pytest.fixture(scope="module")
def data(cache):
    return load_splits(cache, 1.0, 48)


def _same_content(n: int = 6, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """One random image per sample, identical in every channel of every modality."""
    img = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return {"rgb": img.repeat(1, 3, 1, 1), "depth": img.clone(), "nir": img.clone()}


# ------------------------------------------------------------------------------------------
# Run folders and config values
# ------------------------------------------------------------------------------------------


def test_existing_run_folders_keep_their_hash():
    # Committed runs are looked up by their folder name (mm_run_dir hashes cfg.to_dict()), so
    # the recipe fields must leave every existing config's hash alone. The values below were
    # computed with the code before the recipe fields existed (commit 8458dbb) and are pinned.
    assert mm_run_dir(MMRunConfig(), "r").name == "mm-7f1f5ba4"
    plan = StudyPlan()
    assert mm_run_dir(study_runs(plan)["mmfas"], "r").name == "mmfas-1246776f"
    assert mm_run_dir(fold_runs(plan, ["mask"])["fold_mask"], "r").name == "fold_mask-9bb8130c"
    # ADSN: the folder also hashes ADSN's resolved model config, which issue 23's ADSN rework
    # changes on purpose (adsn_no_bce-78cf7e5c at 8458dbb); the run's own fields, what the
    # recipe could have changed, are pinned through the hash of to_dict() at 8458dbb.
    adsn = MMRunConfig("adsn", options={"input_size": 64}, loss={"lambda_bce": 0.0}, epochs=6,
                       batch_size=32, name="adsn_no_bce")
    assert config_hash(adsn.to_dict()) == "886f37e2"
    assert config_hash(MMRunConfig().to_dict()) == "886eaec9"
    assert not set(UNHASHED_DEFAULTS) & set(MMRunConfig().to_dict())


def test_recipe_fields_are_hashed_and_round_trip():
    cfg = MMRunConfig(betas=[0.5, 0.999], schedule="cosine", augment="paper", tta_flip=True)
    d = cfg.to_dict()
    assert d["betas"] == [0.5, 0.999] and d["schedule"] == "cosine"
    assert d["augment"] == "paper" and d["tta_flip"] is True
    assert cfg.betas == (0.5, 0.999) and MMRunConfig.from_dict(d) == cfg
    assert mm_run_dir(cfg, "r") != mm_run_dir(MMRunConfig(), "r")
    # a single field away from its default makes a new run
    assert mm_run_dir(MMRunConfig(tta_flip=True), "r") != mm_run_dir(MMRunConfig(), "r")
    paper = MMRunConfig.recipe("paper")
    assert (paper.preset, paper.lr, paper.betas, paper.schedule, paper.epochs,
            paper.batch_size, paper.augment, paper.tta_flip, paper.weight_decay) == (
        "paper", 2e-5, (0.5, 0.999), "cosine", 50, 128, "paper", True, 0.0)
    assert paper.model_config().input_size == 112
    small = MMRunConfig.recipe("paper", preset="cpu", epochs=2)
    assert small.preset == "cpu" and small.epochs == 2 and small.schedule == "cosine"
    assert set(MM_RECIPES) == {"paper"}


@pytest.mark.parametrize(("fields", "match"), [
    ({"betas": (0.9,)}, "betas"),
    ({"betas": (1.0, 0.999)}, "betas"),
    ({"betas": ("a", 0.9)}, "betas"),
    ({"betas": 0.9}, "betas"),
    ({"schedule": "step"}, "schedule"),
    ({"augment": "heavy"}, "augment"),
    ({"augment": ""}, "augment"),
    ({"tta_flip": "yes"}, "tta_flip"),
])
def test_bad_recipe_values_raise(fields, match):
    with pytest.raises(ValueError, match=match):
        MMRunConfig(**fields)


def test_unknown_recipe_and_bad_fold_seeds_raise():
    with pytest.raises(ValueError, match="unknown recipe"):
        MMRunConfig.recipe("fast")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="fold_seeds"):
            StudyPlan(fold_seeds=bad)


# ------------------------------------------------------------------------------------------
# Learning rate
# ------------------------------------------------------------------------------------------


def test_cosine_rate_starts_at_lr_and_ends_near_zero():
    lr, n = 2e-5, 50
    rates = [epoch_lr(lr, "cosine", e, n) for e in range(n + 1)]
    assert rates[0] == lr and rates[n] == pytest.approx(0.0, abs=1e-20)
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[n - 1] < 1e-2 * lr  # the last epoch trains at ~0
    assert rates[n // 2] == pytest.approx(lr / 2)
    assert epoch_lr(lr, "constant", 7, n) == lr
    with pytest.raises(ValueError, match="schedule"):
        epoch_lr(lr, "linear", 0, n)


def test_training_follows_the_schedule(cache, data, tmp_path):
    cfg = MMRunConfig(options={**SMALL, "modalities": ("depth",)}, epochs=2, batch_size=8,
                      lr=4e-3, schedule="cosine", betas=(0.5, 0.999), name="cos")
    train_mm(cfg, cache, tmp_path / "cos", progress=False, data=data, stop_after_epoch=1)
    groups = torch.load(tmp_path / "cos" / CHECKPOINT, weights_only=True)["optimizer"][
        "param_groups"]
    assert groups[0]["lr"] == 4e-3 and tuple(groups[0]["betas"]) == (0.5, 0.999)  # epoch 0
    train_mm(cfg, cache, tmp_path / "cos", progress=False, data=data)
    groups = torch.load(tmp_path / "cos" / CHECKPOINT, weights_only=True)["optimizer"][
        "param_groups"]
    assert groups[0]["lr"] == pytest.approx(epoch_lr(4e-3, "cosine", 1, 2)) == 2e-3


# ------------------------------------------------------------------------------------------
# Augmentation
# ------------------------------------------------------------------------------------------


def test_without_the_paper_set_the_flip_is_the_old_one():
    x = _same_content()
    rows = torch.tensor([0, 2, 3])
    xb = {m: v[rows] for m, v in x.items()}
    flips = torch.tensor([True, False, False, True, True, False])
    out = augment_batch(xb, rows, flips, None, x)
    f = flips[rows].view(-1, 1, 1, 1)
    for m in x:
        assert torch.equal(out[m], torch.where(f, xb[m].flip(-1), xb[m]))
    assert all(torch.equal(augment_batch(xb, rows, None, None, x)[m], xb[m]) for m in x)


def test_geometry_without_change_is_the_identity_and_the_flip():
    x = _same_content()
    rows = torch.arange(6)
    draw = draw_augment(torch.ones(6, dtype=torch.long), rows, 5, STILL)
    out = augment_batch(x, rows, None, draw, x, STILL)
    flipped = augment_batch(x, rows, torch.ones(6, dtype=torch.bool), draw, x, STILL)
    for m in x:
        torch.testing.assert_close(out[m], x[m], atol=1e-5, rtol=0)
        torch.testing.assert_close(flipped[m], x[m].flip(-1), atol=1e-5, rtol=0)
    # a quarter turn is counter-clockwise on screen, as torchvision's rotate
    quarter = draw._replace(angle=torch.full((6,), math.pi / 2))
    turned = augment_batch(x, rows, None, quarter, x, STILL)
    torch.testing.assert_close(turned["depth"], torch.rot90(x["depth"], 1, (-2, -1)),
                               atol=1e-5, rtol=0)


def test_geometry_is_the_same_in_every_modality():
    x = _same_content(n=8)
    labels = torch.tensor([0, 1] * 4)
    rows = torch.arange(8)
    draw = draw_augment(labels, rows, 11, ALL_GEOMETRY)
    assert bool(draw.merge.all()) and bool((draw.hole[:, 2] > 0).all())
    flips = torch.tensor([True, False] * 4)
    out = augment_batch({m: v[rows] for m, v in x.items()}, rows, flips, draw, x, ALL_GEOMETRY)
    assert {m: tuple(v.shape) for m, v in out.items()} == {m: tuple(v.shape) for m, v in x.items()}
    for c in range(3):
        torch.testing.assert_close(out["rgb"][:, c:c + 1], out["depth"], atol=1e-6, rtol=0)
    torch.testing.assert_close(out["nir"], out["depth"], atol=0, rtol=0)
    assert (out["depth"] - x["depth"]).abs().max() > 0.5  # it did transform them
    assert (out["depth"] == -1).any()  # the cutout (and the rotation's corners) are black
    assert float(out["depth"].min()) >= -1 - 1e-6 and float(out["depth"].max()) <= 1 + 1e-6
    # the merge partner is another training frame of the same class
    assert bool((labels[draw.partner] == labels).all()) and bool((draw.partner != rows).all())


def test_the_default_draw_is_the_authors_set_on_real_batches(data):
    train = data["train"]
    rows = torch.arange(len(train.y))
    draw = draw_augment(train.y, rows, 3)
    assert float(draw.angle.abs().max()) <= math.radians(30) + 1e-6
    area = draw.box[:, 2] * draw.box[:, 3]
    assert bool(((area >= 0.5 - 1e-6) & (area <= 1 + 1e-6)).all())
    x = {m: train.x[m][:8] for m in ("rgb", "depth", "nir")}
    out = augment_batch(x, rows[:8], torch.zeros(len(rows), dtype=torch.bool), draw, train.x)
    assert all(out[m].shape == x[m].shape and out[m].dtype == torch.float32 for m in x)


def test_photometric_steps_touch_rgb_only():
    x = _same_content()
    x["rgb"] = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    rows = torch.arange(6)
    colour = PaperAugment(merge_p=0.0, degrees=0.0, cutout_p=0.0, crop_scale=(1.0, 1.0),
                          crop_ratio=(1.0, 1.0), jitter_p=1.0, grey_p=1.0)
    draw = draw_augment(torch.ones(6, dtype=torch.long), rows, 2, colour)
    out = augment_batch(x, rows, None, draw, x, colour)
    torch.testing.assert_close(out["depth"], x["depth"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out["nir"], x["nir"], atol=1e-5, rtol=0)
    assert (out["rgb"] - x["rgb"]).abs().max() > 0.05
    torch.testing.assert_close(out["rgb"][:, 0], out["rgb"][:, 2], atol=1e-6, rtol=0)  # grey
    assert float(out["rgb"].min()) >= -1 - 1e-6 and float(out["rgb"].max()) <= 1 + 1e-6
    # the authors' values: RGB only, jitter 0.25 / 0.25 / 0.25 / 0.125
    assert PaperAugment().photometric == ("rgb",)
    f = draw.factors
    assert bool(((f[:, :3] >= 0.75) & (f[:, :3] <= 1.25)).all())
    assert float(f[:, 3].abs().max()) <= 0.125


def test_draws_are_seeded_per_sample():
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    rows = torch.tensor([0, 1, 2, 3, 4])  # frame 5 is not a training frame
    a, b = draw_augment(labels, rows, 7), draw_augment(labels, rows, 7)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    c = draw_augment(labels, rows, 8)
    assert not torch.equal(a.angle, c.angle)
    assert set(a.partner[rows].tolist()) <= set(rows.tolist())


# ------------------------------------------------------------------------------------------
# Test-time augmentation
# ------------------------------------------------------------------------------------------


def test_flip_tta_is_the_mean_of_the_frame_and_its_mirror(data):
    cfg = MMRunConfig(options=SMALL)
    model, loss_mod = build_mm(cfg)
    test = data["test"]
    plain = score_mm(model, loss_mod, test, cfg.modalities)
    mirrored = test._replace(x={m: v.flip(-1) for m, v in test.x.items()})
    mirror = score_mm(model, loss_mod, mirrored, cfg.modalities)
    tta = score_mm(model, loss_mod, test, cfg.modalities, tta_flip=True)
    np.testing.assert_allclose(tta, (plain + mirror) / 2, atol=1e-6)
    assert not np.allclose(plain, mirror)  # the mirror does change the scores
    x = {"a": torch.arange(4.0).view(1, 1, 1, 4)}
    assert float(flip_tta(lambda v: v["a"][..., 0].sum(), x, True)) == 1.5
    assert float(flip_tta(lambda v: v["a"][..., 0].sum(), x, False)) == 0.0


# ------------------------------------------------------------------------------------------
# The recipe end to end
# ------------------------------------------------------------------------------------------


def test_paper_recipe_trains_and_resumes_exactly(cache, data, tmp_path):
    cfg = MMRunConfig.recipe("paper", preset="cpu", options=SMALL, epochs=2, batch_size=8,
                             lr=3e-3, name="paper")
    full = train_mm(cfg, cache, tmp_path / "full", progress=False, data=data)
    assert full["complete"] and len(full["history"]) == 2
    assert all(np.isfinite(h["loss"]) for h in full["history"])
    assert full["config"]["augment"] == "paper" and full["config"]["tta_flip"] is True
    part = train_mm(cfg, cache, tmp_path / "part", progress=False, data=data,
                    stop_after_epoch=1)
    assert part["epochs_done"] == 1
    resumed = train_mm(cfg, cache, tmp_path / "part", progress=False, data=data)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    a = pd.read_csv(tmp_path / "full" / "scores.csv")
    pd.testing.assert_frame_equal(a, pd.read_csv(tmp_path / "part" / "scores.csv"))
    # the written scores are the flip-TTA scores of the trained model
    model, loss_mod, back = load_mm_run(tmp_path / "full")
    assert back == cfg
    np.testing.assert_allclose(
        score_mm(model, loss_mod, data["test"], cfg.modalities, tta_flip=True),
        a[a["split"] == "test"]["score"].to_numpy(), atol=1e-6)
    # the augmentation is part of the training: without it the first epoch differs
    plain = train_mm(MMRunConfig.recipe("paper", preset="cpu", options=SMALL, epochs=1,
                                        batch_size=8, lr=3e-3, augment=None),
                     cache, tmp_path / "plain", progress=False, data=data)
    assert plain["history"][0]["loss"] != full["history"][0]["loss"]


# ------------------------------------------------------------------------------------------
# Seeds per fold
# ------------------------------------------------------------------------------------------


def test_fold_seeds_default_is_one_network_per_fold():
    plan = StudyPlan(input_size=64)
    assert list(fold_runs(plan, ["mask", "print_flat"])) == ["fold_mask", "fold_print_flat"]
    two = fold_runs(StudyPlan(input_size=64, seed=3, fold_seeds=2), ["mask", "print_flat"])
    assert list(two) == ["fold_mask", "fold_mask_seed4", "fold_print_flat",
                         "fold_print_flat_seed4"]
    assert [c.seed for c in two.values()] == [3, 4, 3, 4]
    assert two["fold_mask_seed4"].exclude_attacks == ("mask",)
    assert two["fold_mask_seed4"].name == "fold_mask_seed4"


def test_fold_ensemble_averages_every_seed(cache, tmp_path):
    plan = StudyPlan(input_size=48, epochs=1, batch_size=8, fold_types=("mask", "print_flat"),
                     skip=tuple(study_runs(StudyPlan())), fold_seeds=2)
    study = run_study(cache, plan, tmp_path, progress=False)
    members = ["fold_mask", "fold_mask_seed1", "fold_print_flat", "fold_print_flat_seed1"]
    assert sorted(study.results) == sorted(members)
    np.testing.assert_allclose(study.scores["ensemble"]["score"],
                               np.mean([study.scores[n]["score"] for n in members], axis=0))
    assert [u["run"] for u in study.unseen] == ["fold_mask", "fold_print_flat"]
    assert study.unseen[0]["members"] == ["fold_mask", "fold_mask_seed1"]
    assert study.summary()["plan"]["fold_seeds"] == 2
    # a one-seed study's summary is what it was before the field existed
    assert "fold_seeds" not in Study(StudyPlan(), {}, {}, {}, {}, []).summary()["plan"]
