"""Unit tests of fas_lib.training.frames: outputs, determinism, resume, Eq. 6 schedule, bad configs.

Fixture: a tiny in-memory crop cache (:class:`TinyCache`, 3 scales, 20 train / 12 dev / 12 test
frames of random 128 x 128 crops, bona fide frames brighter) with the interface of
:class:`fas_lib.cache.reader.CropCache`; training runs 1-2 epochs of CNN_S on one CPU thread.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import fas_lib.training.frames
from fas_lib.models import msfans_loss
from fas_lib.training.config import scale_indices
from fas_lib.training.frames import run_experiment
from fas_lib.training.runs import CHECKPOINT, load_run, selected_epoch
from fas_lib.training.scoring import score_split
from tests.frame_fakes import SCALES3, TinyCache, cfg, scores_of

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> TinyCache:
    return TinyCache()


# ---------------------------------------------------------------- outputs and wiring


def test_run_writes_results_scores_and_checkpoint(cache, tmp_path):
    res = run_experiment(cfg(), tmp_path, cache=cache, progress=False)
    assert res["complete"] and (tmp_path / "results.json").is_file()
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["metrics"] == json.loads(json.dumps(res["metrics"]))
    s = scores_of(tmp_path)
    assert list(s.columns[:6]) == ["split", "video_id", "frame_idx", "label", "attack_type",
                                   "score"]
    assert {"w_1.1", "w_1.2", "w_1.3", "aux_1.1"} <= set(s.columns)  # learned weights, aux
    assert sorted(s["split"].unique()) == ["dev", "test"] and len(s) == 24
    assert s["score"].between(0, 1).all()
    ck = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert ck["epoch"] == 2 and {"model", "optimizer", "scheduler", "rng"} <= set(ck)
    # history: two epochs, lr decayed x0.1 after milestone 1, samples/s measured
    h = res["history"]
    assert [r["epoch"] for r in h] == [1, 2]
    assert h[0]["lr"] == pytest.approx(0.01) and h[1]["lr"] == pytest.approx(0.001)
    assert res["timing"]["train_samples_per_s"] > 0


def test_learns_the_tiny_task(cache, tmp_path):
    res = run_experiment(cfg(fusion="average", epochs=2), tmp_path, cache=cache, progress=False)
    assert res["metrics"]["frame"]["test_auc"] > 0.9


# ---------------------------------------------------------------- determinism and resume


def test_same_seed_same_scores(cache, tmp_path):
    run_experiment(cfg(), tmp_path / "a", cache=cache, progress=False)
    run_experiment(cfg(), tmp_path / "b", cache=cache, progress=False)
    pd.testing.assert_frame_equal(scores_of(tmp_path / "a"), scores_of(tmp_path / "b"))
    run_experiment(cfg(seed=4), tmp_path / "c", cache=cache, progress=False)
    assert not np.allclose(scores_of(tmp_path / "a").score, scores_of(tmp_path / "c").score)


def test_resume_after_stop_equals_uninterrupted(cache, tmp_path):
    full = run_experiment(cfg(), tmp_path / "full", cache=cache, progress=False)
    part = run_experiment(cfg(), tmp_path / "res", cache=cache, progress=False,
                          stop_after_epoch=1)
    assert part["complete"] is False and part["epochs_done"] == 1
    assert not (tmp_path / "res" / "results.json").exists()
    resumed = run_experiment(cfg(), tmp_path / "res", cache=cache, progress=False)
    pd.testing.assert_frame_equal(scores_of(tmp_path / "full"), scores_of(tmp_path / "res"))
    assert resumed["metrics"] == full["metrics"]
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]


def test_resume_after_crash_mid_training(cache, tmp_path):
    full = run_experiment(cfg(epochs=3, milestones=(2,)), tmp_path / "full", cache=cache,
                          progress=False)

    def crash(epoch, _record):
        if epoch == 2:
            raise KeyboardInterrupt("simulated interruption")

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg(epochs=3, milestones=(2,)), tmp_path / "res", cache=cache,
                       progress=False, on_epoch_end=crash)
    assert torch.load(tmp_path / "res" / CHECKPOINT, weights_only=True)["epoch"] == 2
    # other global RNG activity between the crash and the resume must not matter
    torch.rand(100), np.random.rand(10)
    run_experiment(cfg(epochs=3, milestones=(2,)), tmp_path / "res", cache=cache, progress=False)
    pd.testing.assert_frame_equal(scores_of(tmp_path / "full"), scores_of(tmp_path / "res"))
    assert full["metrics"] == json.loads((tmp_path / "res" / "results.json").read_text())["metrics"]


def test_resume_refuses_a_different_config(cache, tmp_path):
    run_experiment(cfg(epochs=1), tmp_path, cache=cache, progress=False, stop_after_epoch=1)
    with pytest.raises(ValueError, match="different config"):
        run_experiment(cfg(epochs=1, lr=0.5), tmp_path, cache=cache, progress=False)
    # resume=False starts afresh in the same folder
    res = run_experiment(cfg(epochs=1, lr=0.5), tmp_path, cache=cache, progress=False,
                         resume=False)
    assert res["config"]["lr"] == 0.5


# ---------------------------------------------------------------- Eq. 6 schedule


def test_eq6_aux_weight_first_half_only(cache, tmp_path, monkeypatch):
    seen = []
    real = msfans_loss

    def spy(output, targets, iteration, max_iter, aux_weight=0.5, return_parts=False):
        loss, parts = real(output, targets, iteration, max_iter, aux_weight, True)
        seen.append((iteration, max_iter, aux_weight, parts["aux_active"]))
        return (loss, parts) if return_parts else loss

    monkeypatch.setattr(fas_lib.training.frames, "msfans_loss", spy)
    # 20 train frames, batch 8 -> 3 iterations per epoch, 2 epochs -> MAXITER = 6
    run_experiment(cfg(epochs=2), tmp_path, cache=cache, progress=False)
    assert [s[0] for s in seen] == list(range(6)) and {s[1] for s in seen} == {6}
    assert {s[2] for s in seen} == {0.5}
    assert [s[3] for s in seen] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    res = json.loads((tmp_path / "results.json").read_text())
    assert [h["aux_active"] for h in res["history"]] == [1.0, 0.0]


# ---------------------------------------------------------------- presets and bad configs


@pytest.mark.parametrize(("kw", "msg"), [
    (dict(backbone="resnet50"), "unknown backbone"),
    (dict(fusion="attention"), "unknown fusion"),
    (dict(weight_norm="l2"), "unknown weight_norm"),
    (dict(preset="gpu-farm"), "unknown preset"),
    (dict(fusion="single", scales=(1.1, 1.2)), "exactly one scale"),
    (dict(scales=()), "scales must be positive"),
    (dict(scales=(1.1, 1.1, 1.2)), "distinct"),
    (dict(epochs=0), "epochs must be"),
    (dict(lr=-1.0), "lr must be"),
])
def test_bad_config_fails_fast(cache, tmp_path, kw, msg):
    with pytest.raises(ValueError, match=msg):
        run_experiment(cfg(**kw), tmp_path, cache=cache, progress=False)
    assert not (tmp_path / CHECKPOINT).exists()


def test_scale_not_in_cache_is_a_clear_error(cache, tmp_path):
    with pytest.raises(ValueError, match=r"scale 1.5 is not in the crop cache"):
        run_experiment(cfg(scales=(1.1, 1.5, 1.3)), tmp_path, cache=cache, progress=False)
    assert scale_indices(cache, (1.3, 1.1)) == [2, 0]


def test_corrupt_checkpoint_is_a_clear_error(cache, tmp_path):
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        run_experiment(cfg(), tmp_path, cache=cache, progress=False)


# ---------------------------------------------------------------- opt-in: augment, select, init

ALL_AUGMENTS = ("hflip", "color_jitter", "gamma", "blur", "noise", "jpeg")


def test_augment_off_gives_the_scores_of_a_plain_run(cache, tmp_path):
    plain = run_experiment(cfg(), tmp_path / "plain", cache=cache, progress=False)
    off = run_experiment(cfg(augment=(), select_on_dev=False), tmp_path / "off", cache=cache,
                         progress=False)
    pd.testing.assert_frame_equal(scores_of(tmp_path / "plain"), scores_of(tmp_path / "off"))
    assert (tmp_path / "plain" / "scores.csv").read_bytes() == \
        (tmp_path / "off" / "scores.csv").read_bytes()
    assert off["config"] == plain["config"] and "augment" not in off["config"]
    assert [h["loss"] for h in off["history"]] == [h["loss"] for h in plain["history"]]
    assert not (tmp_path / "off" / "best.pt").exists()


def test_augmented_run_is_deterministic_and_resumable(cache, tmp_path):
    c = cfg(augment=ALL_AUGMENTS)
    full = run_experiment(c, tmp_path / "a", cache=cache, progress=False)
    assert full["config"]["augment"] == list(ALL_AUGMENTS)
    run_experiment(c, tmp_path / "b", cache=cache, progress=False, stop_after_epoch=1)
    run_experiment(c, tmp_path / "b", cache=cache, progress=False)
    pd.testing.assert_frame_equal(scores_of(tmp_path / "a"), scores_of(tmp_path / "b"))
    run_experiment(cfg(), tmp_path / "plain", cache=cache, progress=False)
    assert not np.allclose(scores_of(tmp_path / "a").score, scores_of(tmp_path / "plain").score)


def test_select_on_dev_keeps_the_epoch_of_lowest_dev_eer(cache, tmp_path):
    c = cfg(epochs=3, milestones=(2,), select_on_dev=True)
    res = run_experiment(c, tmp_path / "sel", cache=cache, progress=False)
    plain = run_experiment(cfg(epochs=3, milestones=(2,)), tmp_path / "plain", cache=cache,
                           progress=False)
    # scoring dev between epochs does not change training
    assert [h["loss"] for h in res["history"]] == [h["loss"] for h in plain["history"]]
    dev_eers = [h["dev_eer"] for h in res["history"]]
    sel = res["selection"]
    assert sel["dev_eer"] == dev_eers and sel["epoch"] == selected_epoch(res["history"])
    best = min(dev_eers)
    assert sel["epoch"] == max(i + 1 for i, e in enumerate(dev_eers) if e == best)
    ck = torch.load(tmp_path / "sel" / "best.pt", weights_only=True)
    assert ck["epoch"] == sel["epoch"] and ck["dev_eer"] == best
    # test was scored with the selected weights: load_run gives them, and they rescore the same
    model, _ = load_run(tmp_path / "sel")
    rescored = score_split(model, cache, "test", [0, 1, 2], SCALES3, progress=False)
    np.testing.assert_allclose(rescored["score"],
                               scores_of(tmp_path / "sel").query("split == 'test'")["score"])
    if sel["epoch"] == 3:  # the last epoch: the run's scores are the plain run's
        pd.testing.assert_frame_equal(scores_of(tmp_path / "sel"), scores_of(tmp_path / "plain"))


def test_select_on_dev_resumes_like_an_uninterrupted_run(cache, tmp_path):
    c = cfg(epochs=3, milestones=(2,), select_on_dev=True)
    full = run_experiment(c, tmp_path / "full", cache=cache, progress=False)
    run_experiment(c, tmp_path / "res", cache=cache, progress=False, stop_after_epoch=2)
    resumed = run_experiment(c, tmp_path / "res", cache=cache, progress=False)
    assert resumed["selection"] == full["selection"]
    pd.testing.assert_frame_equal(scores_of(tmp_path / "full"), scores_of(tmp_path / "res"))


def test_select_on_dev_warns_when_dev_is_perfect_at_several_epochs(cache, tmp_path,
                                                                     monkeypatch):
    import fas_lib.training.frames as train_mod

    # a dev split that separates perfectly after every epoch (as one from the training
    # sessions often does): the choice is the tie rule's, and the run says so
    monkeypatch.setattr(train_mod, "eer", lambda labels, scores: (0.0, 0.5))
    c = cfg(epochs=3, milestones=(2,), select_on_dev=True)
    with pytest.warns(UserWarning, match=r"dev EER is 0 at epochs \[1, 2, 3\]"):
        res = run_experiment(c, tmp_path / "blind", cache=cache, progress=False)
    assert res["selection"]["blind"] and res["selection"]["epoch"] == 3


def test_select_on_dev_needs_a_dev_split(tmp_path):
    no_dev = TinyCache({"train": 12, "test": 6})
    with pytest.raises(ValueError, match="select_on_dev needs a dev split"):
        run_experiment(cfg(select_on_dev=True), tmp_path, cache=no_dev, progress=False)


def test_init_from_starts_from_the_source_weights(cache, tmp_path, monkeypatch):
    run_experiment(cfg(epochs=1, milestones=()), tmp_path / "src", cache=cache, progress=False)
    source, _ = load_run(tmp_path / "src")
    first: dict[str, torch.Tensor] = {}
    real = fas_lib.training.frames.train_step

    def spy(model, *args, **kwargs):
        if not first:
            first.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(fas_lib.training.frames, "train_step", spy)
    c = cfg(seed=11, preset="finetune", epochs=None, lr=None, milestones=None,
            init_from=str(tmp_path / "src"))
    res = run_experiment(c, tmp_path / "ft", cache=cache, progress=False)
    assert first.keys() == source.state_dict().keys()
    for k, v in source.state_dict().items():
        assert torch.equal(first[k], v), k
    assert res["config"]["init_from"] == str(tmp_path / "src")
    assert (res["config"]["lr"], res["config"]["epochs"]) == (1e-3, 4)
    first.clear()
    run_experiment(cfg(seed=11), tmp_path / "fresh", cache=cache, progress=False)
    assert not all(torch.equal(first[k], v) for k, v in source.state_dict().items())


def test_init_from_refuses_another_model_or_an_unfinished_run(cache, tmp_path):
    run_experiment(cfg(epochs=1, milestones=()), tmp_path / "src", cache=cache, progress=False)
    with pytest.raises(ValueError, match="fusion 'msfans' there, 'average' here"):
        run_experiment(cfg(fusion="average", init_from=str(tmp_path / "src")), tmp_path / "a",
                       cache=cache, progress=False)
    run_experiment(cfg(), tmp_path / "half", cache=cache, progress=False, stop_after_epoch=1)
    with pytest.raises(ValueError, match="not a finished run folder"):
        run_experiment(cfg(init_from=str(tmp_path / "half")), tmp_path / "b", cache=cache,
                       progress=False)
