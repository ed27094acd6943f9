"""Tests of notebook 09's study code: fas_lib.studies.video, video_attention and video_plots.

Fabricated clip caches (tests/clip_fakes.py), hand-made score tables and a tiny SynthSpoof for
the replay synthesis; about 10 s on one thread.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.patches import Rectangle

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # repository root, for tests.*
from fas_lib.cache.clips import clip_sets  # noqa: E402
from fas_lib.cache.reader import open_cache  # noqa: E402
from fas_lib.data.protocol import read_protocol  # noqa: E402
from fas_lib.evaluation.metrics import eer  # noqa: E402
from fas_lib.preprocess.align import FaceAligner  # noqa: E402
from fas_lib.preprocess.geometry import crop_matrix  # noqa: E402
from fas_lib.replay.synthesis import ATTACK_TYPE  # noqa: E402
from fas_lib.studies import video as vs  # noqa: E402
from fas_lib.studies.video_attention import (  # noqa: E402
    border_attention,
    box_points,
    covers_border,
    crop_to_frame,
    input_to_crop,
    random_boxes,
)
from fas_lib.training.clip_inputs import (  # noqa: E402
    ClipConfig,
    ClipSource,
    build_clip_model,
    subset_clips,
)
from fas_lib.viz.video import plot_attention, plot_differences, plot_metric_bars  # noqa: E402
from tests.clip_fakes import write_clip_cache  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")

BASE = ClipConfig(name="s", scales=(1.4,), t=2, input_size=64, window=64, epochs=1,
                  batch_size=3, milestones=(1,), dropout=0.0, eval_batch_size=4)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    cache = open_cache(write_clip_cache(tmp_path_factory.mktemp("real") / "c", t=2))
    return cache, clip_sets(cache, 2)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """A clip cache of synthesized replays only (the fake writer's live clips left out)."""
    cache = open_cache(write_clip_cache(tmp_path_factory.mktemp("synth") / "c", t=2,
                                        attacks=(ATTACK_TYPE,), seed=1))
    return cache, {s: subset_clips(c, c.labels == 0) for s, c in clip_sets(cache, 2).items()}


@pytest.fixture(scope="module")
def aligner():
    return FaceAligner(scales=(1.4,), crop_size=72)


# ---------------------------------------------------------------- grids and data


def test_stasn_grid_cells_and_shared_runs():
    cells = vs.stasn_grid(dataclasses.replace(BASE, t=8, n_regions=4))
    assert [(s, v) for s, v, _ in cells] == [
        ("branches", "temporal"), ("branches", "spatial"), ("branches", "both"),
        ("regions", "K=1"), ("regions", "K=2"), ("regions", "K=4"),
        ("frames", "t=1"), ("frames", "t=4"), ("frames", "t=8")]
    names = [c.name for _, _, c in cells]
    assert names[2] == names[5] == names[8] == "stasn-both-k4-t8"  # one run, three cells
    assert cells[2][2] == cells[5][2] == cells[8][2]
    assert names[0] == "stasn-temporal-t8" and len(set(names)) == 7
    assert cells[3][2].n_regions == 1 and cells[6][2].t == 1 and cells[6][2].branches == "both"
    with pytest.raises(ValueError, match="STASN config"):
        vs.stasn_grid(dataclasses.replace(BASE, model="msfans_time", scales=(1.0, 1.4)))
    with pytest.raises(ValueError, match="unknown branches"):
        vs.stasn_grid(BASE, branches=("lstm",))


def test_real_replays_by_name():
    yes = ["replay_phone", "replay_screen", "video_replay", "replay1", "mobile", "highdef"]
    no = ["live", "print_flat", "print1", ATTACK_TYPE, "mask"]
    assert all(vs.is_real_replay(a) for a in yes)
    assert not any(vs.is_real_replay(a) for a in no)


def _types(sources) -> list[str]:
    return sorted(a for s in sources for a in s.clips.videos["attack_type"])


def test_replay_data_cells(real, synthesized):
    cache, clips = real
    scache, sclips = synthesized
    live = ["live"] * 2
    for cell, extra in (("real", ["replay_phone"]), ("synth", [ATTACK_TYPE]),
                        ("both", [ATTACK_TYPE, "replay_phone"])):
        data = vs.replay_data(cache, clips, scache, sclips, cell)
        for split in ("train", "dev"):  # 2 subjects: 2 live clips, 2 of each replay kind
            assert _types(data[split]) == sorted(live + 2 * extra), (cell, split)
        assert _types(data["test"]) == sorted(live + ["replay_phone"] * 2)  # real ones only
    with pytest.raises(ValueError, match="train_on"):
        vs.replay_data(cache, clips, scache, sclips, "prints")
    no_replay = {s: subset_clips(c, c.videos["attack_type"] != "replay_phone")
                 for s, c in clips.items()}
    with pytest.raises(ValueError, match="needs live clips and replays"):
        vs.replay_data(cache, no_replay, scache, sclips, "real")


def test_synthesize_replays_of_train_and_dev_live_videos(synth, tmp_path):
    synth_root = Path(synth)
    table = read_protocol(synth_root / "protocol.csv")
    replays, skips = vs.synthesize_replays(table, synth_root, tmp_path / "rep", seed=0)
    live = table[(table.label == 1) & table.split.isin(["train", "dev"])]
    assert len(replays) == len(live) and not skips.counts
    assert set(replays["split"]) == {"train", "dev"} and (replays["label"] == 0).all()
    assert (replays["attack_type"] == ATTACK_TYPE).all()
    assert (tmp_path / "rep" / "protocol.csv").is_file()
    with pytest.raises(ValueError, match="no live video"):
        vs.synthesize_replays(table[table.label == 0], synth_root, tmp_path / "x")


# ---------------------------------------------------------------- rows and comparisons


def _scores_dir(folder: Path, scores: np.ndarray, subjects: list[str], labels: list[int]) -> Path:
    folder.mkdir(parents=True)
    n = len(scores)
    pd.DataFrame({"split": "test", "video_id": [f"v{i}" for i in range(n)],
                  "subject": subjects, "label": labels, "attack_type": "x",
                  "score": scores}).to_csv(folder / "scores.csv", index=False)
    return folder


def test_compare_runs_pairs_clips_by_video(tmp_path):
    rng = np.random.default_rng(0)
    labels = [1, 0] * 10
    subjects = [f"s{i // 4}" for i in range(20)]
    good = np.array(labels) + rng.normal(0, 0.3, 20)
    bad = np.array(labels) + rng.normal(0, 1.5, 20)
    a = _scores_dir(tmp_path / "a", good, subjects, labels)
    b = _scores_dir(tmp_path / "b", bad, subjects, labels)
    out = vs.compare_runs(a, b, n_boot=200)
    assert out["diff"] == pytest.approx(eer(labels, good)[0] - eer(labels, bad)[0])
    assert out["cluster"] == "subject" and out["n_clusters"] == 5 and out["n_clips"] == 20
    assert out["ci_low"] <= out["diff"] <= out["ci_high"]
    one = _scores_dir(tmp_path / "one", good, ["s0"] * 20, labels)
    assert vs.compare_runs(one, one, n_boot=20)["cluster"] == "video"
    fewer = _scores_dir(tmp_path / "fewer", good[:10], subjects[:10], labels[:10])
    with pytest.raises(ValueError, match="different test clips"):
        vs.compare_runs(a, fewer)
    with pytest.raises(ValueError, match="no column"):
        vs.compare_runs(a, b, score_a="score_one_frame")


def test_run_cells_rows(real, tmp_path):
    cache, clips = real
    rows = vs.run_cells([("branches", "temporal", dataclasses.replace(BASE, branches="temporal"))],
                        vs.split_data(cache, clips), tmp_path, progress=False)
    assert rows.loc[0, "study"] == "branches" and rows.loc[0, "value"] == "temporal"
    assert set(vs.METRICS) <= set(rows.columns) and Path(rows.loc[0, "run_dir"]).is_dir()
    assert all(0 <= rows.loc[0, m] <= 1 for m in vs.METRICS) and rows.loc[0, "n_test_clips"] == 6


# ---------------------------------------------------------------- the data ablation


def _ablation_runs(tmp_path: Path, scores: dict[tuple[str, int], np.ndarray],
                   subjects: list[str], labels: list[int]) -> pd.DataFrame:
    """Run rows as run_data_cells gives them, each with a scores.csv of its own."""
    rows = []
    for (cell, seed), sc in scores.items():
        d = _scores_dir(tmp_path / f"{cell}-{seed}", sc, subjects, labels)
        e = eer(labels, sc)[0]
        rows.append({"study": "data", "value": cell, "seed": seed, "name": f"data-{cell}",
                     **{m: e if m.endswith("eer") else 0.1 for m in vs.METRICS},
                     "worst_type": "replay_phone", "n_test_clips": len(sc),
                     "train_seconds": 1.0, "run_dir": str(d)})
    return pd.DataFrame(rows)


def test_data_ablation_table_pairs_cells_over_subjects(tmp_path):
    rng = np.random.default_rng(0)
    labels = [1, 0] * 20
    subjects = [f"s{i // 4}" for i in range(40)]
    noise = {"real": 1.2, "synth": 0.4, "both": 0.6}
    scores = {(c, k): np.array(labels) + rng.normal(0, w, 40)
              for c, w in noise.items() for k in (0, 1)}
    runs = _ablation_runs(tmp_path, scores, subjects, labels)
    cells, pairs = vs.data_ablation_table(runs, n_boot=200)
    assert cells["value"].tolist() == ["real", "synth", "both"]
    assert (cells["n_seeds"] == 2).all() and cells["seeds"].tolist() == [[0, 1]] * 3
    for _, row in cells.iterrows():
        per = [eer(labels, scores[(row["value"], k)])[0] for k in (0, 1)]
        assert row["test_eer"] == pytest.approx(np.mean(per))
        assert row["test_eer_sd"] == pytest.approx(np.std(per, ddof=1))
        assert row["test_eer_ci_low"] <= row["test_eer"] <= row["test_eer_ci_high"]
    assert pairs["label"].tolist() == ["synth - real", "both - real", "synth - both"]
    first = pairs.iloc[0]
    assert first["diff"] == pytest.approx(cells.test_eer[1] - cells.test_eer[0])
    assert first["ci_low"] <= first["diff"] <= first["ci_high"] and first["decided"]
    assert first["cluster"] == "subject" and first["n_clusters"] == 10
    assert len(first["diff_per_seed"]) == 2 and not vs.undecided(pairs.iloc[:1])
    one = runs[runs.seed == 0].reset_index(drop=True)  # one seed: compare_runs' numbers
    _, pairs1 = vs.data_ablation_table(one, n_boot=200, seed=5)
    ref = vs.compare_runs(one.run_dir[1], one.run_dir[0], n_boot=200, seed=5)
    for key in ("diff", "ci_low", "ci_high", "p_a_better", "n_clusters"):
        assert pairs1.iloc[0][key] == pytest.approx(ref[key]), key
    with pytest.raises(ValueError, match="no runs of the cells"):
        vs.data_ablation_table(runs[runs.value != "both"])
    other = _scores_dir(tmp_path / "other", scores[("real", 0)][:20], subjects[:20], labels[:20])
    with pytest.raises(ValueError, match="other test clips"):
        vs.data_ablation_table(pd.concat([runs, runs.iloc[:1].assign(run_dir=str(other))]))


def test_data_ablation_trains_every_cell_and_seed(real, synthesized, tmp_path):
    """Notebook 09's section 4 on fabricated caches: every cell with one seed, one more while
    the cells differ by less than their interval; a second call reads the runs back."""
    cache, clips = real
    scache, sclips = synthesized
    data = {c: vs.replay_data(cache, clips, scache, sclips, c) for c in vs.DATA_CELLS}
    base = dataclasses.replace(BASE, model="stasn", n_regions=2, branches="both")
    runs, cells, pairs = vs.data_ablation(base, data, tmp_path, seeds=(0,), max_seeds=2,
                                          n_boot=50, progress=False)
    n_seeds = 2 if vs.undecided(vs.data_ablation_table(runs[runs.seed == 0], n_boot=50)[1]) \
        else 1
    assert len(runs) == 3 * n_seeds and runs["run_dir"].nunique() == 3 * n_seeds
    assert set(runs["name"]) == {f"data-{c}-seed{k}" for c in vs.DATA_CELLS
                                 for k in range(n_seeds)}
    assert cells["value"].tolist() == list(vs.DATA_CELLS) and len(pairs) == 3
    for _, row in cells.iterrows():  # the bootstrap's EER is the runs' video-level test EER
        assert row["test_eer"] == pytest.approx(runs[runs.value == row["value"]].test_eer.mean())
        assert all(0 <= row[m] <= 1 for m in vs.METRICS)
    for _, p in pairs.iterrows():
        assert p["eer_a"] == pytest.approx(cells.set_index("value").test_eer[p["a"]])
        assert p["ci_low"] <= p["diff"] <= p["ci_high"] and p["cluster"] == "subject"
    again = vs.run_data_cells(base, data, tmp_path, seeds=range(n_seeds), progress=False)
    assert again["run_dir"].tolist() == runs["run_dir"].tolist()
    with pytest.raises(ValueError, match="one seed"):
        vs.run_data_cells(base, data, tmp_path, seeds=())


# ---------------------------------------------------------------- attention statistic


def test_box_points_and_border_test():
    pts = box_points(np.array([0.0, 0.0, 7.0, 14.0]), n=7)
    assert pts.shape == (49, 2)
    assert np.allclose(pts[:7, 0], np.arange(7) + 0.5)
    assert np.allclose(pts[::7, 1], 2 * np.arange(7) + 1)
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    assert covers_border(box_points(np.array([5.0, 5.0, 15.0, 15.0])), square)
    assert not covers_border(box_points(np.array([2.0, 2.0, 8.0, 8.0])), square)  # inside
    assert not covers_border(box_points(np.array([20.0, 20.0, 30.0, 30.0])), square)  # outside
    boxes = random_boxes(np.random.default_rng(0), 500, 0.25, 64)
    assert np.allclose(boxes[:, 2] - boxes[:, 0], 16) and np.allclose(boxes[:, 3] - boxes[:, 1], 16)
    assert boxes.min() >= 0 and boxes.max() <= 64


def test_crop_to_frame_inverts_the_cached_crop(aligner):
    """A crop cut as the cache cuts it: its pixel p shows the frame at crop_to_frame(p)."""
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    frame = np.dstack([xx / 2, yy, (xx + yy) / 3]).astype(np.float32)  # smooth ramps
    lm = np.array([[190, 104], [160, 103], [100, 100], [130, 100], [145, 140]], np.float32)
    m = crop_matrix(aligner.alignment_matrix(lm), 1.4, 1.0, 72)
    crop = cv2.warpAffine(frame, m, (72, 72), flags=cv2.INTER_LINEAR)
    to_frame = crop_to_frame(lm, 1.4, 72, aligner)
    for px, py in [(10, 20), (36, 36), (60, 5)]:
        fx, fy = to_frame @ np.array([px, py, 1.0])
        assert crop[py, px] == pytest.approx(frame[int(round(fy)), int(round(fx))], abs=2.0)
    cfg = dataclasses.replace(BASE, input_size=32, window=64)  # 64 px window of 72, resized
    assert np.allclose(input_to_crop(np.array([[0.0, 0.0], [32.0, 32.0]]), cfg, 72),
                       [[4, 4], [68, 68]])


def test_border_attention_against_a_half_plane(real, aligner):
    """The medium's outline is the vertical line through the face centre (input x = 32). A
    16 px region is seen to cross it when its 7 x 7 grid of cell centres (the outer ones
    16/14 px inside the region) lies on both sides: centre within 8 - 16/14 px of the line,
    probability 2 * 6.86 / 48 = 2/7 for centres uniform over 48 px. An untrained RAM puts its
    regions at the centre, on the line."""
    cache, clips = real
    torch.manual_seed(0)
    cfg = dataclasses.replace(BASE, n_regions=2)
    model = build_clip_model(cfg).eval()
    half = np.array([[-1000, -1000], [160, -1000], [160, 1000], [-1000, 1000]], dtype=float)
    gt = {"medium_inner": np.repeat(half[None], 2, axis=0)}
    out = border_attention(model, cfg, ClipSource(cache, clips["test"]), lambda vid: gt,
                           aligner, n_random=300, n_boot=200)
    assert out["n_clips"] == 4 and out["n_regions"] == 4 * 2 * 2  # attacks x frames x K
    assert out["attended"] == 1.0
    assert out["chance"] == pytest.approx(2 / 7, abs=0.03)
    assert set(out["per_attack_type"]) == {"print_flat", "replay_phone"}
    assert out["ci_low"] > 0.5
    temporal = build_clip_model(dataclasses.replace(cfg, branches="temporal"))
    with pytest.raises(ValueError, match="region attention"):
        border_attention(temporal, cfg, ClipSource(cache, clips["test"]), lambda v: gt, aligner)


# ---------------------------------------------------------------- figures


def test_figures():
    images = [np.zeros((3, 16, 16, 3), np.uint8)] * 2
    boxes = [np.tile([[2.0, 2.0, 6.0, 6.0], [8.0, 8.0, 12.0, 12.0]], (3, 1, 1))] * 2
    fig = plot_attention(images, boxes, ["live", "print"])
    rects = [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 2 * 3 * 2
    with pytest.raises(ValueError, match="as many"):
        plot_attention(images, boxes[:1], ["live", "print"])
    rows = pd.DataFrame({"label": ["a", "b"], "test_eer": [0.1, 0.2], "test_acer": [0.3, 0.4]})
    ax = plot_metric_bars(rows)
    assert sorted(round(b.get_height(), 6) for b in ax.patches) == [10, 20, 30, 40]
    ax = plot_differences([{"label": "x", "diff": -0.1, "ci_low": -0.2, "ci_high": 0.05}])
    assert ax.get_yticklabels()[0].get_text() == "x"


def test_section_4_on_a_tiny_synthspoof(synth, tmp_path):
    """Notebook 09's section 4 end to end on the session's tiny SynthSpoof: replays of the
    train / dev live videos by the synthesizer's own display and camera, their clip cache
    (dlib finds the faces), the three cells, the table with intervals."""
    from fas_lib.cache.prepare import get_clips
    from fas_lib.replay.synthesis import MODEL

    table = read_protocol(Path(synth) / "protocol.csv")
    out = tmp_path / f"replays-{MODEL}"
    replays, skips = vs.synthesize_replays(table, synth, out, seed=0)
    cache, clips = get_clips("synthspoof", synth, workers=1, progress=False, t=2,
                             scales=(1.4,), use_gt_boxes=True)
    scache, sclips = get_clips("csv", out, workers=1, progress=False, t=2, scales=(1.4,))
    assert not skips.counts and sum(len(c) for c in sclips.values()) == len(replays)
    data = {c: vs.replay_data(cache, clips, scache, sclips, c) for c in vs.DATA_CELLS}
    base = dataclasses.replace(BASE, n_regions=2, branches="both")
    runs, cells, pairs = vs.data_ablation(base, data, tmp_path / "runs", seeds=(0,),
                                          max_seeds=2, n_boot=50, progress=False)
    assert cells["value"].tolist() == ["real", "synth", "both"] and len(pairs) == 3
    assert set(runs["seed"]) <= {0, 1} and (cells["n_seeds"] == len(set(runs["seed"]))).all()
    assert all(0 <= x <= 1 for m in vs.METRICS for x in cells[m])
    assert (pairs["ci_low"] <= pairs["diff"]).all() and (pairs["diff"] <= pairs["ci_high"]).all()
