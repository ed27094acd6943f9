"""Unit tests of fas_lib.mm_metrics against hand-computed values on small score tables."""

from __future__ import annotations

import pandas as pd
import pytest

from fas_lib.mm_metrics import eer_per_attack_type, mm_report, tpr_at_fpr, unseen_attack_report


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
