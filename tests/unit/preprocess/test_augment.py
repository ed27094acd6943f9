"""Unit tests of fas_lib.preprocess.augment: one draw per sample for all its scales, determinism per
seed, each transform changes the image within shape / dtype / range, and "off" is a no-op.

Fixture: :class:`test_train.TinyCache` (3 scales of random 128 x 128 crops) read through
:class:`fas_lib.cache.loader.CropDataset`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fas_lib.cache.loader import CropDataset
from fas_lib.preprocess.augment import AUGMENTS, CAPTURE, PHOTOMETRIC, Augment, AugmentSettings
from fas_lib.training.config import PRESETS, ExperimentConfig, train_dataset
from tests.frame_fakes import TinyCache, cfg

ALWAYS = {"p": 1.0}  # every enabled transform on every sample


@pytest.fixture(scope="module")
def cache() -> TinyCache:
    return TinyCache()


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """Eight samples of three different random ``(3, 32, 32)`` uint8 scales."""
    return np.random.default_rng(0).integers(0, 256, (8, 3, 3, 32, 32), dtype=np.uint8)


@pytest.mark.parametrize("names", [(n,) for n in AUGMENTS] + [AUGMENTS])
def test_one_draw_per_sample_applied_to_every_scale(batch, names):
    aug = Augment(names, ALWAYS)
    u, seeds = aug.draw(len(batch), seed=1, epoch=0)
    out = aug.apply_batch(batch, u, seeds)
    for i in range(len(batch)):  # each scale alone, with the sample's draws: the same result
        for j in range(batch.shape[1]):
            alone = aug.apply(torch.from_numpy(batch[i, j:j + 1].copy()), u[i], int(seeds[i]))
            np.testing.assert_array_equal(out[i, j], alone[0].numpy())
    same = np.repeat(batch[:, :1], 3, axis=1)  # identical scales stay identical
    out = aug.apply_batch(same, u, seeds)
    assert (out[:, 0] == out[:, 1]).all() and (out[:, 0] == out[:, 2]).all()


@pytest.mark.parametrize("name", AUGMENTS)
def test_each_transform_changes_the_image_and_keeps_shape_dtype_range(cache, name):
    plain = CropDataset(cache, "train", [0, 1, 2], train=True, seed=5)
    aug = CropDataset(cache, "train", [0, 1, 2], train=True, seed=5,
                      augment=Augment([name], ALWAYS))
    rows = list(range(8))
    x0, y0, r0 = plain.batch(rows)
    x1, y1, r1 = aug.batch(rows)
    assert x1.shape == x0.shape == (8, 3, 3, 112, 112) and x1.dtype == torch.float32
    assert float(x1.min()) >= -1.0 and float(x1.max()) <= 1.0
    assert torch.equal(y0, y1) and torch.equal(r0, r1)
    changed = (x1 != x0).flatten(1).any(1)
    assert changed.all(), f"{name} left samples {torch.where(~changed)[0].tolist()} unchanged"


def test_draws_are_deterministic_per_seed_and_epoch(cache):
    aug = Augment(AUGMENTS)
    u, s = aug.draw(20, seed=3, epoch=2)
    u2, s2 = aug.draw(20, seed=3, epoch=2)
    assert np.array_equal(u, u2) and np.array_equal(s, s2)
    assert not np.array_equal(u, aug.draw(20, seed=4, epoch=2)[0])
    assert not np.array_equal(u, aug.draw(20, seed=3, epoch=3)[0])
    # a sample's augmentation depends neither on its batch nor on the batch order
    ds = CropDataset(cache, "train", [0, 1, 2], train=True, seed=7, augment=aug)
    whole = ds.batch([0, 1, 2, 3])[0]
    assert torch.equal(ds.batch([3, 1])[0], whole[[3, 1]])
    again = CropDataset(cache, "train", [0, 1, 2], train=True, seed=7, augment=aug)
    assert torch.equal(again.batch([0, 1, 2, 3])[0], whole)
    ds.set_epoch(1)  # a new epoch draws new augmentations
    assert not torch.equal(ds.batch([0, 1, 2, 3])[0], whole)


def test_off_is_a_no_op_byte_for_byte(cache):
    before = (torch.get_rng_state(), np.random.get_state()[1].copy())
    plain = CropDataset(cache, "train", [0, 1, 2], train=True, seed=5)
    for off in (None, Augment(())):
        ds = CropDataset(cache, "train", [0, 1, 2], train=True, seed=5, augment=off)
        assert ds.augment is None
        assert torch.equal(ds.batch(range(20))[0], plain.batch(range(20))[0])
    on = CropDataset(cache, "train", [0, 1, 2], train=True, seed=5, augment=Augment(AUGMENTS))
    on.batch(range(20))  # augmenting (noise included) leaves the global RNGs alone
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
    test = CropDataset(cache, "test", [0], train=False, augment=Augment(AUGMENTS))
    assert test.augment is None  # never at test time
    assert train_dataset(cache, [0, 1, 2], cfg().resolve(), 0).augment is None
    assert train_dataset(cache, [0, 1, 2], cfg(augment=()).resolve(), 0).augment is None


def test_config_fields_and_robust_preset():
    assert ExperimentConfig().resolve().augment == ()
    assert ExperimentConfig(preset="paper").resolve().augment == ()
    robust = ExperimentConfig(preset="robust").resolve()
    # the capture augmentations only (issue 21's recipe ablation: the photometric ones hurt)
    assert robust.augment == CAPTURE and robust.select_on_dev is True
    cpu = ExperimentConfig(preset="cpu").resolve()
    assert (robust.epochs, robust.batch_size, robust.lr, robust.milestones) == (
        cpu.epochs, cpu.batch_size, cpu.lr, cpu.milestones)
    off = ExperimentConfig(preset="robust", augment=(), select_on_dev=False).resolve()
    assert off.augment == () and off.select_on_dev is False
    assert ExperimentConfig.from_dict(off.to_dict()).resolve() == off  # "off" is written down
    assert ExperimentConfig.from_dict(robust.to_dict()).resolve() == robust
    assert "augment" not in cpu.to_dict() and "select_on_dev" not in cpu.to_dict()
    one = ExperimentConfig(augment=["jpeg"], augment_params={"jpeg_quality": [50, 90]}).resolve()
    assert one.to_dict()["augment"] == ["jpeg"]
    assert one.to_dict()["augment_params"] == {"jpeg_quality": [50, 90]}
    assert PRESETS["robust"]["augment"] == CAPTURE
    assert set(CAPTURE) | set(PHOTOMETRIC) == set(AUGMENTS) and not set(CAPTURE) & set(PHOTOMETRIC)


@pytest.mark.parametrize(("kw", "msg"), [
    (dict(augment=("cutout",)), "unknown augment"),
    (dict(augment=("jpeg",), augment_params={"quality": 5}), "unknown augment_params"),
    (dict(augment=("jpeg",), augment_params={"jpeg_quality": [50, 120]}), "jpeg_quality"),
    (dict(augment=("blur",), augment_params={"blur_kernel": 4}), "blur_kernel"),
    (dict(augment=("gamma",), augment_params={"gamma": [2.0, 1.0]}), "gamma"),
    (dict(augment=("hflip",), augment_params={"p": 1.5}), "p must be"),
])
def test_bad_augment_settings_fail_in_resolve(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ExperimentConfig(**kw).resolve()


def test_settings_defaults_are_valid():
    AugmentSettings().check()
    assert Augment(["jpeg", "hflip"]).names == ("hflip", "jpeg")  # applied in AUGMENTS order
