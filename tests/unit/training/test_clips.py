"""Tests of clip training (fas_lib.training.clip_inputs, fas_lib.training.clips) on a fabricated
clip cache.

The cache (tests/clip_fakes.py) has 2 frames per video and 6 clips per split (64 px model input
from 72 px crops); every run is one or two epochs on one thread, a second or two each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # repository root, for tests.*
from fas_lib.cache.clips import clip_set  # noqa: E402
from fas_lib.cache.reader import open_cache  # noqa: E402
from fas_lib.models import STASN, TemporalMultiScaleNet  # noqa: E402
from fas_lib.training.clip_inputs import (  # noqa: E402
    ClipConfig,
    ClipSource,
    build_clip_model,
    clip_input,
    frame_positions,
    subset_clips,
)
from fas_lib.training.clips import (  # noqa: E402
    clip_data_key,
    clip_run_dir,
    run_clip_experiment,
    run_clip_many,
)
from tests.clip_fakes import write_clip_cache  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return open_cache(write_clip_cache(tmp_path_factory.mktemp("clips") / "cache", t=2))


@pytest.fixture(scope="module")
def data(cache):
    return {s: [ClipSource(cache, clip_set(cache, s, 2))] for s in ("train", "dev", "test")}


def small(**kw) -> ClipConfig:
    base = dict(name="tiny", scales=(1.4,), t=2, input_size=64, window=64, epochs=2,
                batch_size=3, milestones=(1,), lr=1e-3, eval_batch_size=4, dropout=0.0)
    return ClipConfig(**{**base, **kw})


# ---------------------------------------------------------------- inputs


def test_frame_positions():
    assert frame_positions(8, 1).tolist() == [4]
    assert frame_positions(8, 4).tolist() == [1, 3, 5, 7]
    assert frame_positions(8, 8).tolist() == list(range(8))
    assert frame_positions(2, 1).tolist() == [1]
    with pytest.raises(ValueError, match="t=3"):
        frame_positions(2, 3)


def test_config_round_trip_and_checks():
    cfg = small(model="msfans_time", scales=(1.0, 1.4), milestones=[1])
    assert ClipConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.milestones == (1,) and cfg.region_out == 32  # 64 px * 0.25 * zoom 2
    with pytest.raises(ValueError, match="exactly one scale"):
        small(scales=(1.0, 1.4))
    with pytest.raises(ValueError, match="model must be one of"):
        small(model="lstm")
    with pytest.raises(ValueError, match="t must be >= 1"):
        small(t=0)
    with pytest.raises(ValueError, match="unknown ClipConfig"):
        ClipConfig.from_dict({"colour": 1})


def test_models_of_the_configs():
    assert isinstance(build_clip_model(small()), STASN)
    time_net = build_clip_model(small(model="msfans_time", scales=(1.0, 1.4)))
    frame_net = build_clip_model(small(model="msfans_frame", scales=(1.0, 1.4)))
    assert isinstance(time_net, TemporalMultiScaleNet) and time_net.temporal == "lstm"
    assert frame_net.temporal == "mean" and frame_net.n_scales == 2


def test_clip_input_shapes_window_and_sources(cache, data):
    src = data["train"][0]
    x, y = clip_input([src], [0, 1], small())
    assert x.shape == (2, 2, 3, 64, 64) and y.tolist() == src.clips.labels[:2].tolist()
    # centre window of the 72 px crop, no resize when window == input_size
    crops = cache.crops("train")[src.clips.rows[0]][:, 1, 4:68, 4:68]  # scale 1.4 = index 1
    want = torch.from_numpy(crops.astype(np.float32)).permute(0, 3, 1, 2) / 127.5 - 1
    assert torch.allclose(x[0], want, atol=1e-6)
    # offsets: fraction 0 -> top-left window, 0.999 -> bottom-right
    tl, _ = clip_input([src], [0], small(), offsets=np.array([[0.0, 0.0]]))
    br, _ = clip_input([src], [0], small(), offsets=np.array([[0.999, 0.999]]))
    top_left = cache.crops("train")[src.clips.rows[0, 0], 1, 0, 0]
    bottom_right = cache.crops("train")[src.clips.rows[0, 0], 1, -1, -1]
    assert torch.allclose(tl[0, 0, :, 0, 0], torch.from_numpy(top_left / 127.5 - 1).float())
    assert torch.allclose(br[0, 0, :, -1, -1], torch.from_numpy(bottom_right / 127.5 - 1).float())
    # resized multi-scale input; two sources concatenated in order
    xm, _ = clip_input([src], [0], small(model="msfans_time", scales=(1.0, 1.4), input_size=32,
                                         window=64))
    assert xm.shape == (1, 2, 2, 3, 32, 32)
    live = ClipSource(cache, subset_clips(src.clips, src.clips.labels == 1))
    _, y2 = clip_input([live, src], np.arange(len(live) + len(src)), small())
    assert y2.tolist() == [1] * len(live) + src.clips.labels.tolist()
    with pytest.raises(IndexError):
        clip_input([src], [len(src)], small())


def test_subset_clips(data):
    clips = data["test"][0].clips
    attacks = subset_clips(clips, clips.labels == 0)
    assert len(attacks.rows) == (clips.labels == 0).sum() == 4
    assert (attacks.videos["label"] == 0).all() and attacks.videos.index.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="mask has shape"):
        subset_clips(clips, [True])


# ---------------------------------------------------------------- runs


def test_resume_gives_identical_scores(data, tmp_path):
    cfg = small()
    full = run_clip_experiment(cfg, data, tmp_path / "full", progress=False)
    part = run_clip_experiment(cfg, data, tmp_path / "part", progress=False, stop_after_epoch=1)
    assert part == {"complete": False, "epochs_done": 1, "config": cfg.to_dict()}
    resumed = run_clip_experiment(cfg, data, tmp_path / "part", progress=False)
    a = pd.read_csv(tmp_path / "full" / "scores.csv")
    b = pd.read_csv(tmp_path / "part" / "scores.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert resumed["metrics"] == full["metrics"]
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    # one row per clip of dev and test; video-level metrics present
    assert len(a) == 12 and set(a["split"]) == {"dev", "test"}
    assert full["metrics"]["video"]["n_test_videos"] == 6
    with pytest.raises(ValueError, match="another config"):
        run_clip_experiment(small(lr=2e-3), data, tmp_path / "part", progress=False)


def test_a_run_learns_the_easy_fake(data, tmp_path):
    """Green live clips against red attacks: after 4 epochs every test clip is ranked right."""
    res = run_clip_experiment(small(epochs=4, milestones=(3,), branches="temporal"), data,
                              tmp_path / "run", progress=False)
    assert res["history"][-1]["loss"] < res["history"][0]["loss"]
    assert res["metrics"]["video"]["test_eer"] == 0.0


def test_single_frame_msfans_scores_one_frame_too(data, tmp_path):
    cfg = small(model="msfans_frame", scales=(1.0, 1.4), epochs=1)
    res = run_clip_experiment(cfg, data, tmp_path / "frame", progress=False)
    scores = pd.read_csv(tmp_path / "frame" / "scores.csv")
    assert {"score", "score_one_frame"} <= set(scores.columns)
    assert not np.allclose(scores["score"], scores["score_one_frame"])
    assert "video" in res["metrics_one_frame"]


def test_run_folders_and_read_back(data, tmp_path):
    cfg = small(epochs=1, name="again")
    d = clip_run_dir(cfg, data, tmp_path)
    assert d.parent == tmp_path and d.name.startswith("again-")
    assert clip_run_dir(small(epochs=2, name="again"), data, tmp_path) != d
    fewer = {**data, "train": [ClipSource(data["train"][0].cache, subset_clips(
        data["train"][0].clips, np.arange(6) < 4))]}
    assert clip_data_key(fewer) != clip_data_key(data)
    first = run_clip_many([cfg], data, tmp_path, progress=False)[0]
    stamp = (d / "checkpoint.pt").stat().st_mtime_ns
    again = run_clip_many([cfg], data, tmp_path, progress=False)[0]
    assert first["run_dir"] == again["run_dir"] == str(d)
    assert (d / "checkpoint.pt").stat().st_mtime_ns == stamp  # read back, not retrained
    assert again["metrics"] == first["metrics"]


def test_missing_split_is_one_clear_error(data, tmp_path):
    with pytest.raises(ValueError, match=r"no clips in \['train'\]"):
        run_clip_experiment(small(), {"test": data["test"]}, tmp_path / "x", progress=False)
