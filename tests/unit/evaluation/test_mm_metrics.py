"""Unit tests of fas_lib.evaluation.mm_metrics against hand-computed values on small score tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fas_lib.evaluation.mm_metrics import (
    eer_per_attack_type,
    mm_report,
    paired_differences,
    tpr_at_fpr,
    unseen_attack_report,
)


def test_tpr_at_fpr_by_hand():
    # 4 bona fide (0.9, 0.8, 0.6, 0.3), 5 attacks (0.7, 0.5, 0.4, 0.2, 0.1)
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.4, 0.2, 0.1]
    assert tpr_at_fpr(y, s, 0.0) == 0.5       # threshold above 0.7: 0.9, 0.8 accepted
    assert tpr_at_fpr(y, s, 0.2) == 0.75      # one attack (0.7) accepted: 0.6 joins
    assert tpr_at_fpr(y, s, 0.19) == 0.5
    assert tpr_at_fpr(y, s, 0.6) == 1.0       # 3 attacks (0.7, 0.5, 0.4) accepted at 0.3
    with pytest.raises(ValueError, match="fpr"):
        tpr_at_fpr(y, s, 1.5)
    with pytest.raises(ValueError, match="one class"):
        tpr_at_fpr([1, 1], [0.1, 0.2], 0.1)


def test_eer_per_attack_type():
    y = [1, 1, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.1, 0.2, 0.85, 0.95]
    types = ["live", "live", "print", "print", "mask", "mask"]
    out = eer_per_attack_type(y, s, types)
    assert out["print"] == 0.0
    assert out["mask"] == pytest.approx(0.5)  # the masks sit at and above the bona fide
    assert list(out) == ["mask", "print"]


def table() -> pd.DataFrame:
    dev = [(1, "live", 0.9), (1, "live", 0.7), (0, "print", 0.2), (0, "print", 0.3),
           (0, "mask", 0.8), (0, "mask", 0.6)]
    test = [(1, "live", 0.9), (1, "live", 0.65), (1, "live", 0.4), (0, "print", 0.1),
            (0, "print", 0.5), (0, "mask", 0.95), (0, "mask", 0.2)]
    rows = [("dev", *r) for r in dev] + [("test", *r) for r in test]
    return pd.DataFrame(rows, columns=["split", "label", "attack_type", "score"])


def test_mm_report_by_hand():
    r = mm_report(table())
    # dev: bona fide 0.9, 0.7 vs attacks 0.8, 0.6, 0.3, 0.2: EER 1/4 at a threshold in (0.7, 0.8]
    assert r["dev_eer"] == pytest.approx(0.25) and 0.7 < r["threshold"] <= 0.8
    # test at that threshold: bona fide 0.9 accepted only -> BPCER 2/3; mask 0.95 accepted
    assert r["bpcer"] == pytest.approx(2 / 3)
    assert r["apcer_per_type"] == {"mask": 0.5, "print": 0.0}
    assert r["apcer"] == 0.5 and r["worst_type"] == "mask"
    assert r["acer"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert r["tpr_at_fpr_1e-02"] == 0.0  # the top score is an attack
    assert r["n_test_attacks"] == 4 and r["n_test_bona_fide"] == 3
    assert r["eer_per_type"]["print"] == pytest.approx(1 / 3)


def test_unseen_attack_report_uses_dev_without_the_type():
    r = unseen_attack_report(table(), "mask")
    # dev without masks: 0.9, 0.7 vs 0.3, 0.2 -> EER 0, threshold between 0.3 and 0.7
    assert r["dev_eer"] == 0.0 and 0.3 < r["threshold"] < 0.7
    assert r["apcer_per_type"] == {"mask": 0.5} and r["bpcer"] == pytest.approx(1 / 3)
    assert r["n_test_attacks"] == 2
    with pytest.raises(ValueError, match="no test attack"):
        unseen_attack_report(table(), "replay")
    with pytest.raises(ValueError, match="no 'dev' rows"):
        mm_report(table()[table()["split"] == "test"])


def _scores(separation: float, seed: int, n_subjects: int = 12) -> pd.DataFrame:
    """A scores table of ``n_subjects`` test (and dev) subjects, each with 4 bona fide and 8
    attack frames; bona fide scores ``separation`` higher on average (unit noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("dev", "test"):
        for s in range(n_subjects):
            for i in range(12):
                label = int(i < 4)
                rows.append({"split": split, "video_id": f"{split}{s:02d}_{i // 2}",
                             "frame_idx": i % 2, "label": label,
                             "attack_type": "live" if label else ("print", "mask")[i % 2],
                             "score": separation * label + rng.normal()})
    return pd.DataFrame(rows)


def test_paired_differences_known_answers():
    good, weak = _scores(4.0, 0), _scores(0.5, 1)
    subjects = {v: v[:-2] for v in good["video_id"]}  # "test03_1" -> "test03"
    rows = paired_differences({"good": good, "weak": weak, "same": good.copy()},
                              [("f", "good", "weak"), ("f", "good", "same"),
                               ("f", "good", "absent")], subjects, n_boot=300, seed=0)
    assert [(r["a"], r["b"]) for r in rows] == [("good", "weak"), ("good", "same")]
    better, same = rows
    # one model clearly better: the interval lies below 0
    assert better["unit"] == "subject" and better["n_clusters"] == 12
    assert better["diff"] < -0.1 and better["ci_high"] < 0 and better["excludes_zero"]
    assert better["ci_low"] <= better["diff"] <= better["ci_high"]
    assert better["p_a_better"] > 0.95 and better["n_frames"] == 12 * 12
    assert better["acer_diff"] == pytest.approx(better["acer_a"] - better["acer_b"])
    assert better["acer_a"] == pytest.approx(mm_report(good)["acer"])
    # identical scores: a difference of exactly 0, an interval that contains it
    assert same["diff"] == 0 and same["ci_low"] <= 0 <= same["ci_high"]
    assert not same["excludes_zero"] and same["p_tie"] == 1.0


def test_paired_differences_units_and_checks():
    a, b = _scores(2.0, 0, n_subjects=3), _scores(1.0, 1, n_subjects=3)
    one = {v: "only" for v in a["video_id"]}  # a single test subject: videos are the unit
    row = paired_differences({"a": a, "b": b}, [("f", "a", "b")], one, n_boot=50)[0]
    assert row["unit"] == "video" and row["n_clusters"] == 3 * 6
    row = paired_differences({"a": a, "b": b}, [("f", "a", "b")], None, n_boot=50)[0]
    assert row["unit"] == "video"
    with pytest.raises(ValueError, match="different test frames"):
        paired_differences({"a": a, "b": b.iloc[:-1]}, [("f", "a", "b")], None, n_boot=10)
