"""Tests of fas_lib.cache.clips (the clip index, batches, motion energy),
fas_lib.cache.prepare.get_clips and ``fas prepare --clips``.

A hand-made cache (a table and crops in memory) checks the slots, the filling and the drops
exactly; the CASIA-FASD miniature of tests/fakes.py checks that a real build records which
frames had no face; the smoke SynthSpoof (generated into a private ``FAS_DATA_DIR``) checks
the command, reopening without a rebuild, and a protocol view.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fas_lib.apps.cli import main
from fas_lib.cache.build import build_cache
from fas_lib.cache.clips import (
    ClipSet,
    clip_batch,
    clip_report,
    clip_set,
    fill_slots,
    motion_energy,
    motion_separability,
    slot_times,
)
from fas_lib.cache.loader import centre_input
from fas_lib.cache.prepare import get_clips
from fas_lib.cache.reader import CacheError
from fas_lib.cache.shards import BuildInterrupted
from fas_lib.cache.views import ProtocolView
from fas_lib.viz.clips import plot_motion_energy

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_data_dir", "one_thread")


class HandCache:
    """A crop cache in memory: videos -> found frames (train split), crops of side 8."""

    def __init__(self, found: dict[str, list[int]], no_face: dict[str, list[int] | None],
                 n_frames: int, no_frame_videos: int = 0) -> None:
        rows = []
        for v, frames in found.items():
            for f in frames:
                rows.append({"path": f"{v}.avi", "video_id": v, "subject": "1",
                             "label": int(v.startswith("live")), "split": "train",
                             "attack_type": "live" if v.startswith("live") else "print",
                             "frame_idx": f, "index": len(rows)})
        self.table = pd.DataFrame(rows)
        self.path = Path("hand")
        skipped = [{"path": f"{v}.avi", "reason": "no_face", "count": 1, "stage": "media",
                    **({} if f is None else {"frames": f})} for v, f in no_face.items()]
        n_v = len(found) + no_frame_videos
        self.manifest = {"params": {"n_frames": n_frames}, "skipped": skipped,
                         "counts": {"videos": {"train": n_v},
                                    "videos_with_frames": {"train": len(found)}}}
        self._crops = np.random.default_rng(0).integers(0, 256, (len(rows), 3, 8, 8, 3),
                                                         dtype=np.uint8)

    def frames(self, split: str) -> pd.DataFrame:
        return self.table[self.table["split"] == split].reset_index(drop=True)

    def crops(self, split: str) -> np.ndarray:
        return self._crops


def hand_cache(**kw) -> HandCache:
    # live_a: all 4 sampled frames; print_b: frame 3 had no face; print_c: only frame 9 left;
    # live_d: a video of 2 frames (shorter than the 4 asked for)
    return HandCache({"live_a": [0, 3, 6, 9], "print_b": [0, 6, 9], "print_c": [9],
                      "live_d": [0, 1]},
                     {"print_b": [3], "print_c": [0, 3, 6]}, n_frames=4, **kw)


# ----------------------------------------------------------------------------- the index
def test_slot_times_and_nearest_fill_hand_computed():
    np.testing.assert_array_equal(slot_times(np.array([0, 3, 6, 9]), 4), [0, 3, 6, 9])
    np.testing.assert_array_equal(slot_times(np.array([0, 3, 6, 9]), 2), [0, 9])
    np.testing.assert_allclose(slot_times(np.array([0, 1]), 4), [0, 1 / 3, 2 / 3, 1])
    pick, own = fill_slots(np.array([0, 6, 9]), np.array([0.0, 3, 6, 9]))
    assert pick.tolist() == [0, 0, 1, 2] and own == 3  # slot 3: 0 and 6 tie -> the earlier


def test_clip_set_fills_drops_and_counts():
    cache = hand_cache(no_frame_videos=2)
    clips = clip_set(cache, "train", t=4)  # min_frames = 2
    assert clips.videos["video_id"].tolist() == ["live_a", "print_b", "live_d"]
    assert clips.rows.tolist() == [[0, 1, 2, 3], [4, 4, 5, 6], [8, 8, 9, 9]]
    assert clips.rows.dtype == np.int64 and clips.t == 4 and len(clips) == 3
    assert clips.videos["n_found"].tolist() == [4, 3, 2]
    assert clips.videos["n_sampled"].tolist() == [4, 4, 2]
    assert clips.labels.tolist() == [1, 0, 1]
    assert clips.dropped == {"too_few_frames": 1, "no_frames": 2}
    assert clip_report(clips) == (
        "clips: T=4 frames; kept train 3\n"
        "clips (train): 2 kept clips with missing frames filled by the nearest frame in time\n"
        "clips (train): 1 videos with fewer than 2 of 4 frames with a face\n"
        "clips (train): 2 videos with no cached frame (skipped by the crop cache)")
    # a stricter minimum drops print_b (3 of 4) too; a lenient one keeps print_c
    assert clip_set(cache, "train", 4, min_frames=4).dropped["too_few_frames"] == 3
    loose = clip_set(cache, "train", 4, min_frames=1)
    assert loose.rows[2].tolist() == [7, 7, 7, 7] and not loose.dropped.get("too_few_frames")
    # T = 2 of a 4-frame cache: the first and last sampled frames (print_c keeps 1 of 2)
    assert clip_set(cache, "train", 2).rows.tolist() == [[0, 3], [4, 6], [7, 7], [8, 9]]


def test_clip_set_refuses_bad_input():
    cache = hand_cache()
    with pytest.raises(ValueError, match="fewer than t=8"):
        clip_set(cache, "train", 8)
    with pytest.raises(ValueError, match="split"):
        clip_set(cache, "val", 4)
    with pytest.raises(ValueError, match="min_frames"):
        clip_set(cache, "train", 4, min_frames=5)
    with pytest.raises(ValueError, match="positive integer"):
        clip_set(cache, "train", 0)
    old = HandCache({"v": [0]}, {"v": None}, n_frames=2)  # no frame list: an older cache
    with pytest.raises(CacheError, match="force=True"):
        clip_set(old, "train", 2)


def test_clip_batch_equals_the_crops_read_directly():
    cache = hand_cache()
    clips = clip_set(cache, "train", t=4)
    x, y = clip_batch(cache, clips, [2, 0], [2, 0], size=6)
    assert x.shape == (2, 4, 2, 3, 6, 6) and x.dtype == torch.float32
    assert y.tolist() == [1, 1] and y.dtype == torch.int64
    for b, c in enumerate([2, 0]):
        direct = centre_input(cache.crops("train")[clips.rows[c]][:, [2, 0]], 6)
        assert torch.equal(x[b], direct)
    assert clip_batch(cache, clips, [1], [0])[0].shape == (1, 4, 1, 3, 8, 8)  # side 8 < 112
    with pytest.raises(IndexError):
        clip_batch(cache, clips, [3], [0])
    with pytest.raises(ValueError, match="scale_indices"):
        clip_batch(cache, clips, [0], [3])
    with pytest.raises(ValueError, match="size"):
        clip_batch(cache, clips, [0], [0], size=9)


def test_motion_energy_hand_computed():
    cache = hand_cache()
    crops = cache.crops("train")
    crops[:] = 0
    crops[1, :, 2:6, 2:6] = 100  # live_a: frame 3 differs from frames 0 and 6 in the window
    clips = clip_set(cache, "train", t=4, min_frames=1)
    e = motion_energy(cache, clips, scale_index=0, size=4)
    # live_a: pairs (0,3) and (3,6) differ by 100 everywhere, (6,9) by 0 -> 200 / 3
    assert e.loc[0, "motion"] == pytest.approx(200 / 3, abs=1e-3) and e.loc[0, "n_pairs"] == 3
    assert e.loc[1, "n_pairs"] == 2 and e.loc[1, "motion"] == 0  # the repeat is no pair
    assert np.isnan(e.loc[2, "motion"]) and e.loc[2, "n_pairs"] == 0  # one distinct frame
    sep = motion_separability(pd.DataFrame({"label": [1, 1, 0, 0], "motion": [5.0, 4, 1, 2],
                                            "attack_type": ["live", "live", "p", "r"]}))
    assert sep["eer"] == 0 and sep["per_attack"] == {"p": 0.0, "r": 0.0} and sep["n_clips"] == 4
    assert sep["eer_either"] == 0 and sep["per_attack_either"] == {"p": 0.0, "r": 0.0}
    # attacks that move more: the fixed sign fails completely, either sign separates them
    rev = motion_separability(pd.DataFrame({"label": [1, 1, 0, 0], "motion": [1.0, 2, 5, 4],
                                            "attack_type": ["live", "live", "p", "p"]}))
    assert rev["eer"] == 1.0 and rev["eer_either"] == 0.0 and rev["per_attack_either"] == {"p": 0.0}


# ----------------------------------------------------------------------------- real builds
def test_build_records_no_face_frames_and_clips_use_them(tmp_path):
    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=2, n_test=1)
    c = build_cache("casia_fasd", fake.root, out=tmp_path / "cache", n_frames=2, workers=1,
                    progress=False)
    frames = {s["path"]: s["frames"] for s in c.manifest["skipped"] if s["reason"] == "no_face"}
    # the face file of train_release/1/1.avi gives frame 0 a box and marks frame 1 "no face";
    # dlib finds no face in the other 32 x 24 clips (both frames)
    assert frames["train_release/1/1.avi"] == [1] and frames["train_release/1/2.avi"] == [0, 1]
    clips = clip_set(c, "train", t=2)
    assert clips.rows.tolist() == [[0, 0]] and clips.videos["n_found"].tolist() == [1]
    assert clips.videos["path"].tolist() == ["train_release/1/1.avi"]
    # the standard protocol's train split: folders 1 and 16, 24 videos, one with a frame
    assert clips.dropped == {"no_frames": 23}


def test_resumed_build_gives_the_same_clips(reference, synth, tmp_path):
    with pytest.raises(BuildInterrupted):
        build_cache("synthspoof", synth, out=tmp_path / "c", n_frames=2, workers=1,
                    progress=False, _stop_after=4)
    resumed = build_cache("synthspoof", synth, out=tmp_path / "c", n_frames=2, workers=1,
                          progress=False)
    for split in ("train", "dev", "test"):
        a, b = clip_set(reference, split, 2), clip_set(resumed, split, 2)
        assert np.array_equal(a.rows, b.rows) and a.videos.equals(b.videos)


@pytest.fixture(scope="module")
def smoke_clips():
    return get_clips("synthspoof", smoke=True, workers=1, progress=False)


def test_prepare_clips_command_then_reopens(capsys, smoke_clips):
    cache, clips = smoke_clips
    assert main(["prepare", "--dataset", "synthspoof", "--smoke", "--clips", "2",
                 "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    kept = ", ".join(f"{s} {len(clips[s])}" for s in ("train", "dev", "test"))
    assert f"clips: T=2 frames; kept {kept}" in out and str(cache.path) in out
    stamp = (cache.path / "crops_train.npy").stat().st_mtime_ns
    again, clips2 = get_clips("synthspoof", smoke=True, workers=1, progress=False)
    assert again.path == cache.path and again.manifest["created"] == cache.manifest["created"]
    assert (cache.path / "crops_train.npy").stat().st_mtime_ns == stamp  # opened, not rebuilt
    assert np.array_equal(clips2["test"].rows, clips["test"].rows)


def test_smoke_clips_shapes_and_time_order(smoke_clips):
    cache, clips = smoke_clips
    assert cache.manifest["params"]["n_frames"] == 2
    for split, cs in clips.items():
        assert isinstance(cs, ClipSet) and cs.split == split and cs.rows.shape == (len(cs), 2)
        f = cache.frames(split)
        idx = f["frame_idx"].to_numpy()[cs.rows]
        assert (np.diff(idx, axis=1) >= 0).all()  # time order
        assert (f["path"].to_numpy()[cs.rows] == cs.videos["path"].to_numpy()[:, None]).all()
        assert len(cs) + sum(cs.dropped.values()) == cache.manifest["counts"]["videos"][split]
    x, y = clip_batch(cache, clips["train"], np.arange(3), [2, 3, 4])
    assert x.shape == (3, 2, 3, 3, 112, 112) and y.shape == (3,)
    assert -1 <= float(x.min()) and float(x.max()) <= 1


def test_protocol_view_clips_read_the_base_crops(smoke_clips):
    base, _ = smoke_clips
    view, clips = get_clips("synthspoof", protocol="p1", smoke=True, workers=1, progress=False)
    assert isinstance(view, ProtocolView) and view.base.path == base.path
    cs = clips["test"]
    assert set(cs.videos["session"]) == {"s3"} and len(cs) > 0
    x, _ = clip_batch(view, cs, [0], [1], size=128)
    bf = base.frames("test").set_index(["path", "frame_idx"])["index"]
    vf = view.frames("test")
    for k, row in enumerate(cs.rows[0]):
        r = bf[(vf.loc[row, "path"], vf.loc[row, "frame_idx"])]
        assert torch.equal(x[0, k], centre_input(base.crops("test")[[r]][:, [1]], 128)[0])


def test_motion_figure_on_smoke(smoke_clips):
    cache, clips = smoke_clips
    e = motion_energy(cache, clips["test"], scale_index=3)
    assert len(e) == len(clips["test"]) and (e["motion"].dropna() > 0).all()
    ax = plot_motion_energy(e)
    assert "EER of motion alone" in ax.get_title()
    assert ax.get_xticklabels()[0].get_text() == "live"
