"""Unit tests of fas_lib.studies.realism (identity diversity) and fas_lib.studies.cues
(hand-crafted cue strength per crop scale, training-frame errors of a run).

Fixtures are tiny on purpose: two synthetic subjects (one per source portrait), a fake crop
cache written here (smooth random "faces", 128 x 128, two scales, a few dozen frames per
split) and, for the run helper, the session's tiny SynthSpoof cache with a one-epoch run.
About 10 s on one thread (most of it the dlib models and the tiny run).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fas_lib.cache.reader import open_cache
from fas_lib.studies import cues, realism

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")


# ----------------------------------------------------------------------------- identity


@pytest.fixture(scope="module")
def dlib_models():
    from fas_lib.models.pretrained.face_recognition import load_face_recognition_net
    from fas_lib.preprocess.align import load_shape_predictor

    return load_shape_predictor("5"), load_face_recognition_net()


@pytest.fixture(scope="module")
def two_subjects():
    from fas_lib.synthspoof import make_subjects

    subs = make_subjects(2, seed=0)
    assert subs[0].source != subs[1].source  # subject i comes from source i % 2
    return subs


def _jittered(subject) -> tuple[np.ndarray, np.ndarray]:
    """The subject's sprite on grey, rotated 6 degrees, scaled 0.9, shifted and mirrored, and
    its landmarks moved the same way."""
    rgb = realism.composite_on_grey(subject.sprites["open"])
    lm = np.asarray(subject.landmarks["open"], np.float64)
    h, w = rgb.shape[:2]
    c = lm.mean(0)
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), 6.0, 0.9)
    m[:, 2] += (15, -10)
    out = cv2.warpAffine(rgb, m, (w, h), borderValue=(128, 128, 128))[:, ::-1]
    pts = lm @ m[:, :2].T + m[:, 2]
    pts[:, 0] = w - 1 - pts[:, 0]
    return np.ascontiguousarray(out), pts


def test_own_rendering_is_close_and_the_other_source_far(dlib_models, two_subjects):
    pred, net = dlib_models
    chips, meta = realism.sprite_chips(two_subjects, pred)
    assert chips.shape == (2, 150, 150, 3) and chips.dtype == np.uint8
    assert meta["source"].nunique() == 2
    img, pts = _jittered(two_subjects[0])
    jitter = realism.face_chip(img, (*pts.min(0), *pts.max(0)), pred)
    d = realism.descriptors(np.concatenate([chips, jitter[None]]), net)
    own = np.linalg.norm(d[0] - d[2])
    other = np.linalg.norm(d[0] - d[1])
    assert own < 0.3, f"the same sprite, moved and mirrored, is {own:.2f} away"
    assert other >= realism.DLIB_SAME_PERSON and other > own + 0.3, (own, other)


def test_chip_from_points_equals_the_predicted_chip(dlib_models, two_subjects):
    """Cutting with given 5 points (the crop-cache path) gives dlib's chip for those points."""
    import dlib

    pred, _ = dlib_models
    s = two_subjects[0]
    rgb = realism.composite_on_grey(s.sprites["open"])
    lm = s.landmarks["open"]
    shape = pred(rgb, dlib.rectangle(*(int(v) for v in (*lm.min(0), *lm.max(0)))))
    pts = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
    np.testing.assert_array_equal(realism.chip_from_points(rgb, pts),
                                  dlib.get_face_chip(rgb, shape, size=150, padding=0.25))


def test_identity_stats_counts_pairs_twins_and_same_subject_distances():
    """Four subjects on a line 0, 0.3, 1.0, 2.0 (two descriptors each, 0.1 apart): one pair
    below 0.6 (a twin pair), five distinct; same-subject pairs all 0.1."""
    base = [0.0, 0.3, 1.0, 2.0]
    desc = np.zeros((8, 128))
    rows = []
    for i, x in enumerate(base):
        for k, sess in enumerate(("s1", "s2")):
            desc[2 * i + k, 0] = x
            desc[2 * i + k, 1] = 0.1 * k
            rows.append({"subject": f"p{i}", "session": sess, "source": "a" if i < 2 else "b"})
    st = realism.identity_stats(desc, pd.DataFrame(rows))
    assert st["n_subjects"] == 4 and st["n_descriptors"] == 8
    diff = st["different"]
    assert diff["n_pairs"] == 6 and diff["n_distinct"] == 5
    assert diff["share_distinct"] == pytest.approx(5 / 6)
    assert diff["n_subjects_with_twin"] == 2
    assert st["same"]["n_pairs"] == 4 and st["same"]["q50"] == pytest.approx(0.1)
    assert st["same_cross_session"]["n_pairs"] == 4
    assert st["same"]["share_not_same_person"] == 0.0
    assert st["verification_eer"] == 0.0
    assert st["by_source"]["same_source"]["n_pairs"] == 2
    assert st["by_source"]["same_source"]["share_distinct"] == 0.5
    assert st["by_source"]["cross_source"]["share_distinct"] == 1.0


def test_one_descriptor_per_subject_has_no_same_subject_statistics():
    desc = np.eye(3, 128)
    st = realism.identity_stats(desc, pd.DataFrame({"subject": ["a", "b", "c"]}))
    assert "same" not in st and "verification_eer" not in st and "by_source" not in st
    assert st["different"]["share_distinct"] == 1.0  # sqrt(2) apart


def test_plot_identity_draws_both_distributions():
    fig = realism.plot_identity({"different": np.array([0.5, 0.7]), "same": np.array([0.2])})
    ax = fig.axes[0]
    assert len(ax.patches) > 0 and any(line.get_xdata()[0] == 0.6 for line in ax.lines)


def test_references_are_marked_as_quoted():
    for key, ref in realism.REFERENCES.items():
        assert {"cite", "dataset", "cue", "reported", "checked"} <= set(ref), key
        if ref["reported"] is not None:
            assert all(0 <= v <= 1 for v in ref["reported"].values()), key


# ----------------------------------------------------------------------------- cues

SCALES = (1.0, 1.5)


def _smooth_faces(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` smooth random colour images, 128 x 128 uint8 (blurred noise + a colour cast)."""
    noise = rng.normal(0, 1, (n, 32, 32, 3)).astype(np.float32)
    out = np.empty((n, 128, 128, 3), np.uint8)
    for i in range(n):
        up = cv2.resize(noise[i], (128, 128), interpolation=cv2.INTER_CUBIC)
        img = 128 + 25 * up + rng.uniform(-30, 30, 3)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _pattern(where: str) -> np.ndarray:
    """A +-12 grey-level checkerboard of 2-pixel period, over the whole crop (``"all"``) or only
    on the 8-pixel band outside its centre 112 x 112 (``"border"``)."""
    yy, xx = np.mgrid[:128, :128]
    p = np.where((yy + xx) % 2 == 0, 12.0, -12.0)
    if where == "border":
        p[8:120, 8:120] = 0.0
    return p[..., None]


def write_fake_cache(root: Path, n_per_split: int = 48, shuffle_labels: bool = False,
                     seed: int = 0) -> Path:
    """A crop cache folder the reader opens: splits train / test, half live, half attacks
    (types ``print_x`` / ``replay_y``, cameras ``c1`` / ``c2``), one frame per video. Attacks
    carry the checkerboard only on the border at scale 1.0 and everywhere at 1.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("train", "test"):
        n = n_per_split
        base = _smooth_faces(rng, n).astype(np.float64)
        label = np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]
        crops = np.stack([base, base], 1)
        attack = label == 0
        crops[attack, 0] += _pattern("border")
        crops[attack, 1] += _pattern("all")
        np.save(root / f"crops_{split}.npy", np.clip(crops, 0, 255).astype(np.uint8))
        shown = rng.permutation(label) if shuffle_labels else label
        for i in range(n):
            kind = "live" if shown[i] else ("print_x" if i % 2 else "replay_y")
            rows.append({"path": f"{split}/{i}.avi", "subject": f"{split}{i % 6}",
                         "label": int(shown[i]), "attack_type": kind, "split": split,
                         "video_id": f"{split}_{i}", "session": "s1",
                         "camera": "c1" if i % 3 else "c2",
                         "instrument": "" if shown[i] else ("p1" if i % 2 else "d1"),
                         "frame_idx": 0, "index": i})
    pd.DataFrame(rows).to_csv(root / "table.csv", index=False)
    (root / "manifest.json").write_text(json.dumps({
        "complete": True, "dataset": "fake", "protocol": "fake",
        "params": {"scales": list(SCALES)}}))
    return root


@pytest.fixture(scope="module")
def fake_cues(tmp_path_factory):
    root = write_fake_cache(tmp_path_factory.mktemp("fake_cache"))
    return cues.cue_set(open_cache(root), frames_per_video=1)


def test_crop_statistics_of_flat_and_white_crops():
    flat = np.full((1, 112, 112, 3), 100, np.uint8)
    white = np.full((1, 112, 112, 3), 255, np.uint8)
    f = cues.crop_statistics(np.concatenate([flat, white]))
    names = list(cues.STATISTICS)
    assert f.shape == (2, len(names)) and np.isfinite(f).all()
    assert f[0, names.index("dct_high")] == pytest.approx(0.0, abs=1e-12)
    assert f[0, names.index("colour_diversity")] == pytest.approx(1 / 112**2)
    assert f[0, names.index("specular")] == 0.0 and f[1, names.index("specular")] == 1.0
    assert f[0, names.index("v_mean")] == pytest.approx(100 / 255, abs=1e-6)
    with pytest.raises(ValueError, match="uint8 RGB"):
        cues.crop_statistics(flat[0])


def test_straight_edge_sees_a_border_not_a_face():
    disc = np.full((112, 112), 90, np.uint8)
    cv2.circle(disc, (56, 56), 40, 200, -1)  # a round "face": curved edges only
    border = disc.copy()
    border[:, 100:] = 255  # a paper border from top to bottom
    assert cues.straight_edge(disc) < 0.4
    assert cues.straight_edge(border) > 0.9
    assert cues.straight_edge(np.full((112, 112), 7, np.uint8)) == 0.0


def test_injected_high_frequency_makes_attacks_separable(fake_cues):
    r = cues.separability(fake_cues, 1.5)
    assert r["classifier_eer"] <= 0.02, r["classifier_eer"]
    assert r["group_eer"]["texture"] <= 0.02, r["group_eer"]
    assert r["best_statistic"]["eer"] <= 0.02
    assert r["best_statistic"]["name"] in ("lap_energy", "dct_high", "moire_peak")
    assert r["n_train"] == r["n_test"] == 48
    assert set(r["by"]) == {"attack_type", "instrument", "camera", "session"}
    assert set(r["by"]["attack_type"]) == {"print_x", "replay_y"}
    assert set(r["by"]["instrument"]) == {"p1", "d1"}
    assert all(v <= 0.05 for v in r["by"]["camera"].values())


def test_only_the_centre_window_the_cnn_sees_counts(fake_cues):
    """At scale 1.0 the attacks' pattern lies outside the centre 112 x 112: no cue there."""
    r = cues.separability(fake_cues, 1.0)
    assert r["classifier_eer"] >= 0.25, r["classifier_eer"]


def test_shuffled_labels_give_chance(tmp_path):
    root = write_fake_cache(tmp_path, n_per_split=96, shuffle_labels=True, seed=1)
    strength = cues.cue_strength(cues.cue_set(open_cache(root)))
    assert list(strength) == list(SCALES)
    assert 0.3 <= strength[1.5]["classifier_eer"] <= 0.7, strength[1.5]["classifier_eer"]


def test_cue_set_checks_scales_and_samples_frames(tmp_path):
    cache = open_cache(write_fake_cache(tmp_path, n_per_split=12))
    with pytest.raises(ValueError, match="not \\[2.0\\]"):
        cues.cue_set(cache, scales=(2.0,))
    cs = cues.cue_set(cache, scales=(1.5,), splits=("test",))
    assert list(cs.features) == [1.5] and cs.features[1.5].shape == (12, len(cues.STATISTICS))
    assert (cs.frames["split"] == "test").all()
    with pytest.raises(ValueError, match="live and attack"):
        cues.separability(cs, 1.5)


def test_strength_table_and_figure(fake_cues):
    strength = cues.cue_strength(fake_cues)
    table = cues.strength_table(strength)
    assert list(table.columns) == ["1", "1.5"]
    assert table.loc["all attacks", "1.5"] <= 2.0  # percent
    by = cues.strength_table(strength, "attack_type")
    assert set(by.index) == {"print_x", "replay_y"}
    fig = cues.plot_strength(strength)
    left, right = fig.axes
    assert len(left.lines) == 2 + len(cues.GROUPS)  # all statistics, 50 % line, each group
    assert len(right.lines) == 2 + 2  # all statistics, 50 % line, the two attack types


# ----------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def single_scale_run(reference, tmp_path_factory):
    from fas_lib.training.config import ExperimentConfig
    from fas_lib.training.frames import run_experiment

    out = tmp_path_factory.mktemp("single_run") / "run"
    cfg = ExperimentConfig(fusion="single", scales=(1.1,), epochs=1, batch_size=4, lr=1e-3,
                           milestones=(1,), seed=0, device="cpu")
    run_experiment(cfg, out, cache=reference, progress=False)
    return out


def test_train_errors_counts_wrong_training_frames(single_scale_run, reference):
    r = realism.train_errors(single_scale_run, cache=reference)
    n = len(reference.frames("train"))
    assert r["scales"] == [1.1] and r["n_train"] == n
    assert 0 <= r["n_wrong"] <= n
    assert r["n_wrong"] == r["n_wrong_live"] + r["n_wrong_attack"]
    assert r["share_wrong"] == pytest.approx(r["n_wrong"] / n)
    results = json.loads((single_scale_run / "results.json").read_text())
    assert r["threshold"] == pytest.approx(results["metrics"]["frame"]["dev_threshold"])
    assert list(realism.train_errors_by_scale([single_scale_run], cache=reference)) == [1.1]


def test_train_errors_needs_a_finished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished run"):
        realism.train_errors(tmp_path)
