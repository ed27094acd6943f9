"""Unit tests of fas_lib.studies.significance (significance, seed spread, scale agreement) on a tiny
cache.

Uses :class:`test_train.TinyCache` and 1-epoch CNN_S runs on one CPU thread.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fas_lib.studies.tables as ex
from fas_lib.studies.significance import (
    mirror_sensitivity,
    scale_agreement,
    seed_spread,
    significance,
)
from tests.frame_fakes import TinyCache

FAST = dict(epochs=1, batch_size=8, lr=0.01, milestones=(), device="cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> TinyCache:
    return TinyCache()


def test_seed_spread_one_table_iii_per_seed(cache, tmp_path):
    out = seed_spread(cache, group=(1.1, 1.2, 1.3), seeds=(0, 1), out_root=tmp_path,
                         progress=False, **FAST)
    assert out["seeds"] == [0, 1] and out["group"] == [1.1, 1.2, 1.3]
    assert set(out["test_eer"]) == set(ex.FUSIONS_III)
    for f, by_seed in out["test_eer"].items():
        v = [by_seed["0"], by_seed["1"]]
        assert all(0 <= x <= 1 for x in v)
        st = out["stats"][f]
        assert st["mean"] == pytest.approx(sum(v) / 2)
        assert st["std"] == pytest.approx(abs(v[0] - v[1]) / 2 ** 0.5)   # sample sd of two
        assert st["min"] == min(v) and st["max"] == max(v)
    for s in ("0", "1"):
        assert out["best_scale"][s] in (1.1, 1.2, 1.3)
        assert out["msfans_beats_best_single"][s] == \
            (out["test_eer"]["msfans"][s] < out["test_eer"]["best_single"][s])
    # 3 single-scale + 3 fused runs per seed, seed 0's read back by a second call
    assert len(list(tmp_path.iterdir())) == 12
    again = seed_spread(cache, group=(1.1, 1.2, 1.3), seeds=(1, 0), out_root=tmp_path,
                           progress=False, **FAST)
    assert again["test_eer"]["msfans"]["0"] == out["test_eer"]["msfans"]["0"]
    assert len(list(tmp_path.iterdir())) == 12
    with pytest.raises(ValueError, match="at least two distinct seeds"):
        seed_spread(cache, seeds=(0,), out_root=tmp_path, progress=False)


def test_significance_pairs_the_runs_of_each_group(cache, tmp_path):
    t3 = ex.table_iii(cache, groups=[(1.1, 1.2, 1.3)], fusions=("best_single", "msfans"),
                      out_root=tmp_path, progress=False, **FAST)
    sig = significance(t3, cache, n_boot=50)
    assert list(sig["group"]) == ["[1.1,1.2,1.3]"]
    row = sig.iloc[0]
    p = ex.pivot(t3, percent=False)
    assert row["diff"] == pytest.approx(p.loc["msfans"].iloc[0] - p.loc["best_single"].iloc[0])
    assert row["ci_low"] <= row["ci_high"] and 0 <= row["p_a_better"] <= 1
    assert row["n_clusters"] == cache.frames("test")["subject"].nunique()
    # a run against itself: no difference in any replicate
    same = significance(t3, cache, a="msfans", b="msfans", n_boot=20).iloc[0]
    assert same["diff"] == 0 and same["p_tie"] == 1.0
    with pytest.raises(ValueError, match="no 'concat' rows"):
        significance(t3, cache, a="concat")


def _fake_single_run(folder, labels, scores):
    folder.mkdir()
    pd.DataFrame({"split": "test", "video_id": [f"v{i}" for i in range(len(labels))],
                  "frame_idx": 0, "label": labels, "attack_type": "x",
                  "score": scores}).to_csv(folder / "scores.csv", index=False)
    return str(folder)


def test_scale_agreement_counts_shared_and_disjoint_mistakes(cache, tmp_path):
    # 10 bona fide (scores 0.8-0.9) and 10 attacks (0.1-0.2); a scale "flips" a bona fide frame
    # to 0 and an attack frame to 1: FAR = FRR = 1/10 for every threshold between the clusters,
    # so its EER is 0.1 and its mistakes are exactly the two flipped frames.
    labels = [1] * 10 + [0] * 10
    base = np.r_[np.linspace(0.8, 0.9, 10), np.linspace(0.1, 0.2, 10)]

    def flipped(live, attack):
        s = base.copy()
        s[live], s[attack] = 0.0, 1.0
        return s

    t2 = pd.DataFrame({"scale": [1.1, 1.2, 1.3], "run_dir": [
        _fake_single_run(tmp_path / "a", labels, flipped(0, 10)),
        _fake_single_run(tmp_path / "b", labels, flipped(0, 11)),  # shares the bona fide one
        _fake_single_run(tmp_path / "c", labels, flipped(0, 12)),
    ]})
    out = scale_agreement(t2, cache, groups=[(1.1, 1.2, 1.3), (1.1, 1.2)], splits=("test",))
    first, second = out.iloc[0], out.iloc[1]
    assert first["group"] == "[1.1,1.2,1.3]" and first["split"] == "test"
    assert first["n_frames"] == 20
    assert first["eer"] == pytest.approx([0.1, 0.1, 0.1])
    assert first["errors"] == [2, 2, 2]
    assert (first["any_wrong"], first["all_wrong"], first["disagree"]) == (4, 1, 3)
    assert (second["any_wrong"], second["all_wrong"], second["disagree"]) == (3, 1, 2)
    with pytest.raises(ValueError, match=r"no single-scale run for scale\(s\) \[1.4\]"):
        scale_agreement(t2, cache, groups=[(1.2, 1.3, 1.4)], splits=("test",))
    with pytest.raises(ValueError, match="unknown split"):
        scale_agreement(t2, cache, splits=("validation",))


def test_scale_agreement_rescores_the_training_split(cache, tmp_path):
    t2 = ex.table_ii(cache, scales=(1.1, 1.3), out_root=tmp_path, progress=False, **FAST)
    out = scale_agreement(t2, cache, groups=[(1.1, 1.3)], progress=False)
    assert list(out["split"]) == ["train", "test"]
    n_train = len(cache.frames("train"))
    train, test = out.iloc[0], out.iloc[1]
    assert train["n_frames"] == n_train and test["n_frames"] == len(cache.frames("test"))
    for row in (train, test):
        assert all(0 <= e <= 1 for e in row["eer"])
        assert row["all_wrong"] <= min(row["errors"]) <= max(row["errors"]) <= row["any_wrong"]
    # the test rows agree with the runs' own test EER
    assert test["eer"] == pytest.approx(list(t2["test_eer"]))


class _MirrorSymmetric(TinyCache):
    """TinyCache whose crops equal their own left-right mirror."""

    def __init__(self) -> None:
        super().__init__()
        for split, c in self._crops.items():
            half = c.astype(np.uint16) + c[..., ::-1, :]
            self._crops[split] = (half // 2).astype(np.uint8)


def test_mirror_sensitivity_scores_test_as_is_and_mirrored(cache, tmp_path):
    t2 = ex.table_ii(cache, scales=(1.2,), out_root=tmp_path, progress=False, **FAST)
    run = t2.run_dir.iloc[0]
    m = mirror_sensitivity(run, cache)
    assert m["scales"] == [1.2] and m["n_frames"] == 12
    assert m["eer"] == pytest.approx(t2.test_eer.iloc[0])  # as is: the run's own test EER
    assert m["mean_abs_change"] > 0  # random crops are not symmetric: some score moves
    sym = _MirrorSymmetric()
    t2s = ex.table_ii(sym, scales=(1.2,), out_root=tmp_path / "sym", progress=False, **FAST)
    ms = mirror_sensitivity(t2s.run_dir.iloc[0], sym)
    assert ms["mean_abs_change"] == 0 and ms["eer_mirrored"] == ms["eer"]


def test_border_use_splits_the_attacks_by_what_their_crop_shows(tmp_path):
    from fas_lib.studies.significance import border_use

    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text('{"config": {"scales": [1.2]}}')
    # dev: bona fide at 0.9, attacks at 0.1 -> the threshold sits between them
    dev = pd.DataFrame({"split": "dev", "video_id": ["d0", "d1"], "frame_idx": 0,
                        "label": [1, 0], "attack_type": ["live", "x"], "score": [0.9, 0.1]})
    # test: four attack frames of video "a" (frames 0-3) and a bona fide frame
    test = pd.DataFrame({"split": "test", "video_id": ["a"] * 4 + ["b"],
                         "frame_idx": [0, 1, 2, 3, 0], "label": [0, 0, 0, 0, 1],
                         "attack_type": ["x"] * 4 + ["live"],
                         "score": [0.95, 0.05, 0.96, 0.97, 0.9]})
    pd.concat([dev, test]).to_csv(run / "scores.csv", index=False)
    # face box 100 px wide at (100, 100); the medium's inner area is 400 px wide in frames 0
    # and 1 (no border in a 1.2 crop) and 110 px wide in frames 2 and 3 (border shown)
    box = np.array([[100.0, 100.0, 200.0, 200.0]] * 4)

    def square(half):
        c = 150.0
        return np.array([[c - half, c - half], [c + half, c - half], [c + half, c + half],
                         [c - half, c + half]])

    inner = np.stack([square(200), square(200), square(55), square(55)])
    calls = []

    def load_gt(video_id):
        calls.append(video_id)
        return {"face_box": box, "medium_inner": inner}

    out = border_use(str(run), load_gt, box="face")
    assert calls == ["a"]  # each attack video read once; bona fide ones never
    assert (out["n_border"], out["n_no_border"]) == (2, 2)
    assert out["apcer_border"] == 1.0  # frames 2 and 3: accepted (0.96, 0.97)
    assert out["apcer_no_border"] == 0.5  # frame 0 accepted, frame 1 rejected
    # seen through a window half the crop's side, the 1.2 crop no longer reaches the border
    assert border_use(str(run), load_gt, window=0.5, box="face")["n_border"] == 0
    (run / "results.json").write_text('{"config": {"scales": [1.0, 1.2]}}')
    with pytest.raises(ValueError, match="single-scale"):
        border_use(str(run), load_gt, box="face")
