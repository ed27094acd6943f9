"""Hand-computed checks of fas_lib.evaluation.metrics (labels 1 = bona fide; accept when score >= t)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fas_lib.evaluation import metrics as m


def test_roc_far_frr_by_hand() -> None:
    # attacks 0.1, 0.2; bona fide 0.8, 0.9. Thresholds inf, 0.9, 0.8, 0.2, 0.1:
    # FAR = attacks >= t: 0, 0, 0, 1/2, 1 ; FRR = bona fide < t: 1, 1/2, 0, 0, 0
    far, frr, thr = m.roc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    np.testing.assert_allclose(thr[1:], [0.9, 0.8, 0.2, 0.1])
    np.testing.assert_allclose(far, [0, 0, 0, 0.5, 1])
    np.testing.assert_allclose(frr, [1, 0.5, 0, 0, 0])


def test_perfect_separation_eer_zero() -> None:
    # d = FAR - FRR is exactly 0 at t = 0.8; thresholds (0.2, 0.8] all give 0 errors -> midpoint 0.5
    e, t = m.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert e == 0.0
    assert t == pytest.approx(0.5)
    assert m.hter([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], t) == 0.0


def test_eer_interpolated_by_hand() -> None:
    # bona fide 0.9, 0.5, 0.2 (3); attacks 0.5, 0.1 (2)
    # t=0.9: FAR 0,   FRR 2/3 -> d = -2/3
    # t=0.5: FAR 1/2, FRR 1/3 -> d = +1/6    (crossing between these two ROC points)
    # w = (2/3) / (2/3 + 1/6) = 4/5
    # EER = 0 + 4/5 * 1/2 = 2/5  (check on FRR: 2/3 + 4/5 * (1/3 - 2/3) = 2/5)
    # threshold = 0.9 + 4/5 * (0.5 - 0.9) = 0.58
    e, t = m.eer([1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.5, 0.1])
    assert e == pytest.approx(0.4)
    assert t == pytest.approx(0.58)


def test_eer_interpolated_second_example() -> None:
    # bona fide 0.9, 0.5; attacks 0.8, 0.3, 0.2, 0.1
    # t=0.8: FAR 1/4, FRR 1/2 -> d = -1/4 ; t=0.5: FAR 1/4, FRR 0 -> d = +1/4
    # w = 1/2 -> EER = 1/4 (FRR: 1/2 - 1/2 * 1/2 = 1/4), threshold = 0.8 - 0.15 = 0.65
    e, t = m.eer([1, 1, 0, 0, 0, 0], [0.9, 0.5, 0.8, 0.3, 0.2, 0.1])
    assert e == pytest.approx(0.25)
    assert t == pytest.approx(0.65)


def test_eer_exact_crossing_survives_float_rounding() -> None:
    # attacks 0.1, 0.4, 0.6; bona fide 0.5, 0.7, 0.9
    # t=0.7: FAR 0,   FRR 1/3 ; t=0.6: FAR 1/3, FRR 1/3 -> the ROC point lies ON the crossing
    # (1 - tpr = 1 - 2/3 is not exactly 1/3 in floats, FAR - FRR ~ -5e-17), so the midpoint
    # rule applies: every t in (0.5, 0.6] gives FAR = FRR = 1/3 -> threshold 0.55
    y, s = [0, 0, 0, 1, 1, 1], [0.1, 0.4, 0.6, 0.5, 0.7, 0.9]
    e, t = m.eer(y, s)
    assert e == pytest.approx(1 / 3)
    assert t == pytest.approx(0.55)
    assert m.far_frr(y, s, t) == pytest.approx((1 / 3, 1 / 3))


def test_eer_accept_nothing_point_lies_above_the_top_score() -> None:
    # attack 0.5 and bona fide 0.5 tie at the top: the crossing lies between "accept nothing"
    # (FAR 0, FRR 1) and t = 0.5 (FAR 1, FRR 0). The threshold returned lies in
    # [0.5, nextafter(0.5)], and just above the top score everything is rejected.
    y, s = [0, 1], [0.5, 0.5]
    e, t = m.eer(y, s)
    assert e == pytest.approx(0.5)
    assert 0.5 <= t <= np.nextafter(0.5, np.inf)
    above = np.nextafter(0.5, np.inf)
    assert m.far_frr(y, s, above) == (0.0, 1.0)
    assert m.hter(y, s, above) == 0.5


def test_score_direction_matters() -> None:
    # Negated scores: bona fide now score LOWER than every attack -> everything is wrong.
    # t=-0.2: FAR 1 (both attacks >= -0.2), FRR 1 -> EER = 1, AUC = 0
    y, s = [0, 0, 1, 1], np.array([0.1, 0.2, 0.8, 0.9])
    assert m.eer(y, -s)[0] == pytest.approx(1.0)
    assert m.auc(y, s) == 1.0 and m.auc(y, -s) == 0.0
    # interpolated example (EER 0.4) negated: bona fide -0.9, -0.5, -0.2; attacks -0.5, -0.1
    # t=-0.2: FAR 1/2, FRR 2/3 -> d = -1/6 ; t=-0.5: FAR 1, FRR 1/3 -> d = +2/3
    # w = (1/6) / (5/6) = 1/5 -> EER = 1/2 + 1/5 * 1/2 = 0.6 ; t = -0.2 + 1/5 * (-0.3) = -0.26
    y2, s2 = [1, 1, 1, 0, 0], np.array([0.9, 0.5, 0.2, 0.5, 0.1])
    assert m.eer(y2, -s2) == pytest.approx((0.6, -0.26))


def test_auc_by_hand() -> None:
    # bona fide 0.9, 0.5, 0.2 vs attacks 0.5, 0.1, pairs won (tie = 1/2):
    # 0.9: 1 + 1 ; 0.5: 0.5 + 1 ; 0.2: 0 + 1 -> 4.5 of 6 = 0.75
    assert m.auc([1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.5, 0.1]) == pytest.approx(0.75)


def test_hter_and_threshold_inclusive() -> None:
    # t = 0.5: attacks 0.5 (accepted: >= is inclusive), 0.1 -> FAR 1/2
    #         bona fide 0.9, 0.5 accepted, 0.2 rejected -> FRR 1/3
    y, s = [1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.5, 0.1]
    assert m.far_frr(y, s, 0.5) == pytest.approx((0.5, 1 / 3))
    assert m.hter(y, s, 0.5) == pytest.approx((0.5 + 1 / 3) / 2)
    # the same mistakes, frame by frame: bona fide 0.2 rejected, attack 0.5 accepted
    assert m.errors_at(y, s, 0.5).tolist() == [False, False, True, True, False]


def test_hter_at_dev_eer_by_hand() -> None:
    # dev = interpolated example: EER 0.4 at threshold 0.58
    # test: bona fide 0.6, 0.55, 0.9, 0.3 -> rejected 0.55, 0.3 -> FRR 2/4
    #       attacks 0.7, 0.1, 0.2          -> accepted 0.7      -> FAR 1/3
    # HTER = (1/3 + 1/2) / 2 = 5/12
    out = m.hter_at_dev_eer([1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.5, 0.1],
                            [1, 1, 1, 1, 0, 0, 0], [0.6, 0.55, 0.9, 0.3, 0.7, 0.1, 0.2])
    assert out["threshold"] == pytest.approx(0.58)
    assert out["dev_eer"] == pytest.approx(0.4)
    assert out["test_far"] == pytest.approx(1 / 3)
    assert out["test_frr"] == pytest.approx(0.5)
    assert out["test_hter"] == pytest.approx(5 / 12)


def test_apcer_is_max_over_types_not_pooled() -> None:
    # t = 0.5. print attacks 0.1, 0.2, 0.3 -> 0/3 accepted; replay attack 0.7 -> 1/1 accepted
    # APCER = max(0, 1) = 1 ; pooled would be 1/4. Bona fide 0.9, 0.8 -> BPCER 0 -> ACER 1/2
    y = [0, 0, 0, 0, 1, 1]
    s = [0.1, 0.2, 0.3, 0.7, 0.9, 0.8]
    types = ["print", "print", "print", "replay", "live", "live"]
    out = m.apcer_bpcer_acer(y, s, types, 0.5)
    assert out["apcer_per_type"] == {"print": 0.0, "replay": 1.0}
    assert out["apcer"] == 1.0
    assert out["worst_type"] == "replay"
    assert out["apcer_pooled"] == pytest.approx(0.25)
    assert out["bpcer"] == 0.0
    assert out["acer"] == pytest.approx(0.5)


def test_oulu_apcer_is_max_over_attack_kinds_not_instruments() -> None:
    # OULU-NPU (Boulkenafet et al., FG 2017; IJCB 2017 competition): APCER is the max over the
    # two PAI species print and replay (display), each pooling its two instruments.
    # t = 0.5. print1 0.6, 0.1 -> 1/2 ; print2 0.2, 0.3 -> 0/2   => print  1/4
    #          replay1 0.7, 0.8, 0.9 -> 3/3 ; replay2 0.1 -> 0/1 => replay 3/4
    # per instrument the max would be 1 (replay1); per kind it is 3/4. BPCER: 0.4 of 4 -> 1/4.
    y = [0] * 8 + [1] * 4
    s = [0.6, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.1, 0.9, 0.8, 0.7, 0.4]
    types = ["print1", "print1", "print2", "print2", "replay1", "replay1", "replay1", "replay2"]
    types += ["live"] * 4
    out = m.apcer_bpcer_acer(y, s, types, 0.5)
    assert out["apcer_per_type"] == {"print": 0.25, "replay": 0.75}
    assert out["apcer"] == pytest.approx(0.75)
    assert out["worst_type"] == "replay"
    assert out["apcer_per_instrument"] == {"print1": 0.5, "print2": 0.0, "replay1": 1.0,
                                           "replay2": 0.0}
    assert out["apcer_pooled"] == pytest.approx(4 / 8)
    assert out["bpcer"] == pytest.approx(0.25)
    assert out["acer"] == pytest.approx((0.75 + 0.25) / 2)
    # a second split where the two rules also disagree on the worst kind:
    # print1 1/1 accepted, print2 0/3 -> print 1/4 ; replay1 1/2, replay2 1/2 -> replay 2/4
    y2 = [0] * 8 + [1, 1]
    s2 = [0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.9]
    t2 = ["print1", "print2", "print2", "print2", "replay1", "replay1", "replay2", "replay2",
          "live", "live"]
    out2 = m.apcer_bpcer_acer(y2, s2, t2, 0.5)
    assert out2["apcer"] == pytest.approx(0.5) and out2["worst_type"] == "replay"
    assert out2["apcer_per_instrument"]["print1"] == 1.0  # the instrument rule would say 1


def test_oulu_adapter_attack_types_map_to_two_kinds() -> None:
    from fas_lib.data.datasets import oulu_npu

    attacks = [t for t in oulu_npu.ATTACK_TYPES.values() if t != "live"]
    assert {m.PAI_SPECIES[t] for t in attacks} == {"print", "replay"}


def test_apcer_bpcer_not_swapped() -> None:
    # t = 0.5. attacks 0.6 (accepted), 0.4 -> APCER 1/2
    # bona fide 0.9, 0.8, 0.7, 0.3 (rejected) -> BPCER 1/4 ; ACER = 3/8
    out = m.apcer_bpcer_acer([0, 0, 1, 1, 1, 1], [0.6, 0.4, 0.9, 0.8, 0.7, 0.3],
                             ["print"] * 6, 0.5)
    assert out["apcer"] == pytest.approx(0.5)
    assert out["bpcer"] == pytest.approx(0.25)
    assert out["acer"] == pytest.approx(0.375)


def test_det_curve_matches_rates() -> None:
    y, s = [1, 1, 1, 0, 0], [0.9, 0.5, 0.2, 0.5, 0.1]
    apcer, bpcer, thr = m.det_curve(y, s)
    assert np.all(np.diff(thr) > 0)
    for a, b, t in zip(apcer, bpcer, thr):
        assert (a, b) == pytest.approx(m.far_frr(y, s, t))


def test_video_scores_mean_and_labels() -> None:
    # video a: (0.2 + 0.4) / 2 = 0.3 ; video b: (0.9 + 0.7 + 0.8) / 3 = 0.8 ; video c: 0.1
    vs = m.video_scores([0.2, 0.9, 0.4, 0.7, 0.8, 0.1], ["a", "b", "a", "b", "b", "c"],
                        labels=[0, 1, 0, 1, 1, 0],
                        attack_types=["print", "live", "print", "live", "live", "replay"])
    assert list(vs["video_id"]) == ["a", "b", "c"]
    np.testing.assert_allclose(vs["score"], [0.3, 0.8, 0.1])
    assert list(vs["n_frames"]) == [2, 3, 1]
    assert list(vs["label"]) == [0, 1, 0]
    assert list(vs["attack_type"]) == ["print", "live", "replay"]


def test_video_scores_label_disagreement() -> None:
    with pytest.raises(ValueError, match="disagree on label"):
        m.video_scores([0.1, 0.2], ["a", "a"], labels=[0, 1])


def test_evaluate_frame_and_video_json() -> None:
    dev_y = [0, 0, 0, 0, 1, 1, 1, 1]
    dev_s = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]  # perfect: threshold (0.4 + 0.6) / 2 = 0.5
    dev_v = ["d1", "d1", "d2", "d2", "d3", "d3", "d4", "d4"]
    test_y = [0, 0, 0, 0, 1, 1, 1, 1]
    test_s = [0.1, 0.2, 0.55, 0.65, 0.9, 0.8, 0.45, 0.7]
    test_t = ["print", "print", "replay", "replay", "live", "live", "live", "live"]
    test_v = ["t1", "t1", "t2", "t2", "t3", "t3", "t4", "t4"]
    out = m.evaluate(dev_y, dev_s, test_y, test_s, test_t, dev_v, test_v)
    json.dumps(out)  # plain types only
    f = out["frame"]
    assert f["dev_threshold"] == pytest.approx(0.5)
    # frames at 0.5: print 0/2, replay 2/2 accepted; bona fide 0.45 rejected -> BPCER 1/4
    assert f["test_apcer_per_type"] == {"print": 0.0, "replay": 1.0}
    assert f["test_apcer"] == 1.0 and f["test_apcer_pooled"] == 0.5
    assert f["test_bpcer"] == pytest.approx(0.25)
    assert f["test_hter"] == pytest.approx((0.5 + 0.25) / 2)
    # videos: t1 0.15, t2 0.6 (replay), t3 0.85, t4 0.575
    # dev videos 0.15, 0.35 (attacks), 0.65, 0.85 (bona fide) -> t = (0.35 + 0.65) / 2 = 0.5
    v = out["video"]
    assert v["dev_threshold"] == pytest.approx(0.5)
    assert v["test_apcer"] == 1.0 and v["test_bpcer"] == 0.0
    assert v["test_acer"] == pytest.approx(0.5)
    assert v["n_test_videos"] == 4


@pytest.mark.parametrize(
    "labels, scores, match",
    [
        ([0, 1, 1], [0.1, 0.2], "length"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "one class"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "labels must be"),
        ([-1, 1, 1], [0.1, 0.2, 0.3], "labels must be"),
    ],
)
def test_errors(labels: list, scores: list, match: str) -> None:
    for fn in (m.eer, m.auc, m.roc):
        with pytest.raises(ValueError, match=match):
            fn(labels, scores)
    with pytest.raises(ValueError, match=match):
        m.hter(labels, scores, 0.5)


def test_attack_types_length_error() -> None:
    with pytest.raises(ValueError, match="attack_types"):
        m.apcer_bpcer_acer([0, 1], [0.1, 0.9], ["print"], 0.5)


def _two_systems(n_subjects: int = 8, per: int = 6, seed: int = 0):
    """Per subject: ``per`` bona fide and ``per`` attack rows; A separates perfectly, B does not."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.r_[np.ones(per), np.zeros(per)], n_subjects).astype(int)
    subjects = np.repeat([f"s{i}" for i in range(n_subjects)], 2 * per)
    a = labels + rng.uniform(0, 0.5, labels.size)          # classes never overlap
    b = labels * 0.2 + rng.uniform(0, 1.0, labels.size)    # heavy overlap
    return labels, a, b, subjects


def test_paired_bootstrap_clear_winner() -> None:
    y, a, b, g = _two_systems()
    r = m.paired_bootstrap_eer(y, a, b, g, n_boot=300, seed=1)
    assert r["eer_a"] == 0.0 and r["eer_b"] > 0.2
    assert r["diff"] == pytest.approx(r["eer_a"] - r["eer_b"])
    assert r["ci_high"] < 0 and r["p_a_better"] == 1.0           # A better in every replicate
    assert r["n_clusters"] == 8 and r["n_boot"] == 300 and r["n_redrawn"] == 0
    swapped = m.paired_bootstrap_eer(y, b, a, g, n_boot=300, seed=1)
    assert swapped["ci_low"] == pytest.approx(-r["ci_high"]) and swapped["p_a_better"] == 0.0


def test_paired_bootstrap_same_system_is_a_tie_and_seeded() -> None:
    y, a, _, g = _two_systems()
    r = m.paired_bootstrap_eer(y, a, a.copy(), g, n_boot=50)
    assert r["diff"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0 and r["p_tie"] == 1.0
    _, _, b, _ = _two_systems()
    one = m.paired_bootstrap_eer(y, b, b[::-1].copy(), g, n_boot=100, seed=3)
    two = m.paired_bootstrap_eer(y, b, b[::-1].copy(), g, n_boot=100, seed=3)
    assert one == two


def test_paired_bootstrap_resamples_clusters_not_rows() -> None:
    # Two subjects, each with one class only: every replicate that draws one subject twice
    # holds one class and is redrawn; a row-level bootstrap would never need to.
    y = np.array([1, 1, 1, 0, 0, 0])
    g = np.array(["s0", "s0", "s0", "s1", "s1", "s1"])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3])
    r = m.paired_bootstrap_eer(y, s, s[::-1].copy(), g, n_boot=40, seed=0)
    assert r["n_clusters"] == 2 and r["n_redrawn"] > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(clusters=["s0"] * 24), "at least two clusters"),
    (dict(clusters=["s0"] * 5), "clusters has length"),
    (dict(n_boot=0), "n_boot"),
    (dict(level=1.0), "level"),
])
def test_paired_bootstrap_errors(kwargs: dict, match: str) -> None:
    y, a, b, g = _two_systems(n_subjects=2)
    args = dict(labels=y, scores_a=a, scores_b=b, clusters=g, n_boot=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        m.paired_bootstrap_eer(**args)


def test_bootstrap_eers_draws_one_resample_for_every_column():
    """Every column is scored on the same resamples, whatever the other columns: a column's
    replicate EERs are the same alone or beside others, and two columns give
    paired_bootstrap_eer's difference draw for draw."""
    from fas_lib.evaluation.metrics import bootstrap_eers, eer, paired_bootstrap_eer

    rng = np.random.default_rng(3)
    labels = np.array([1, 0, 0] * 12)
    subjects = [f"s{i // 6}" for i in range(36)]
    a, b, c = (labels + rng.normal(0, w, 36) for w in (0.5, 0.9, 1.3))
    full, reps, redrawn = bootstrap_eers(labels, np.stack([a, b, c], 1), subjects, 300, 4)
    alone_full, alone, _ = bootstrap_eers(labels, c, subjects, 300, 4)
    assert reps.shape == (300, 3) and alone.shape == (300, 1)
    np.testing.assert_array_equal(reps[:, 2], alone[:, 0])
    assert full[2] == alone_full[0] == eer(labels, c)[0]
    ref = paired_bootstrap_eer(labels, a, b, subjects, n_boot=300, seed=4)
    d = reps[:, 0] - reps[:, 1]
    assert redrawn == ref["n_redrawn"] and full[0] - full[1] == pytest.approx(ref["diff"])
    assert np.quantile(d, 0.025) == pytest.approx(ref["ci_low"])
    assert np.mean(d < 0) == pytest.approx(ref["p_a_better"])
    with pytest.raises(ValueError, match="two clusters"):
        bootstrap_eers(labels, np.stack([a, b], 1), ["s0"] * 36)


def _bootstrap_by_rows(labels, scores, clusters, n_boot, seed):
    """The bootstrap as defined: each replicate concatenates the rows of the drawn clusters
    and scores them with :func:`eer` (the reference the weighted implementation must equal)."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=float)
    _, inverse = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    n = int(inverse.max()) + 1
    members = [np.flatnonzero(inverse == c) for c in range(n)]
    rng = np.random.default_rng(seed)
    reps, redrawn = [], 0
    while len(reps) < n_boot:
        rows = np.concatenate([members[c] for c in rng.integers(0, n, n)])
        if y[rows].min() == y[rows].max():
            redrawn += 1
            continue
        reps.append([m.eer(y[rows], s[rows, k])[0] for k in range(s.shape[1])])
    return np.asarray(reps), redrawn


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_eers_equals_the_row_concatenation_bit_for_bit(seed: int) -> None:
    """The replicates are computed with row weights (each column sorted once); every replicate
    EER equals, as a float, the EER of the concatenated rows, ties and one-class subjects
    (redrawn replicates) included."""
    rng = np.random.default_rng(seed)
    n = 240
    subjects = rng.integers(0, 9, n).astype(str)
    labels = (rng.uniform(size=n) < 0.35).astype(int)
    labels[subjects == "0"] = 0                     # a subject with attacks only
    coarse = np.round(labels + rng.normal(0, 0.8, n), 1)   # many tied scores
    fine = labels * 0.3 + rng.uniform(0, 1, n)
    flat = np.where(rng.uniform(size=n) < 0.5, 0.25, 0.75)  # two distinct values only
    scores = np.stack([coarse, fine, flat], axis=1)
    _, reps, redrawn = m.bootstrap_eers(labels, scores, subjects, 200, seed)
    ref, ref_redrawn = _bootstrap_by_rows(labels, scores, subjects, 200, seed)
    assert redrawn == ref_redrawn
    np.testing.assert_array_equal(reps, ref)
