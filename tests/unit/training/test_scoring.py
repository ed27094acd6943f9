"""Unit tests of fas_lib.training.scoring: the scores table, metric wiring, notebook 05's features.

Uses :class:`test_train.TinyCache` and 1-2 epoch CNN_S runs on one CPU thread.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fas_lib.evaluation import metrics
from fas_lib.evaluation.scores import (
    evaluate_scores,
    read_scores,
    scores_table,
    write_scores,
)
from fas_lib.training.frames import run_experiment
from fas_lib.training.runs import evaluate_run, extract_run_features, load_run
from fas_lib.training.scoring import extract_scale_features, rescore
from tests.frame_fakes import SCALES3, TinyCache, cfg, scores_of

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> TinyCache:
    return TinyCache()


def test_scores_table_columns_and_round_trip(cache, tmp_path):
    fr = cache.frames("test")
    t = scores_table("test", fr, np.linspace(0, 1, len(fr)))
    assert list(t.columns) == ["split", "video_id", "frame_idx", "label", "attack_type", "score"]
    write_scores(t, tmp_path / "scores.csv")
    pd.testing.assert_frame_equal(read_scores(tmp_path / "scores.csv"), t)
    assert evaluate_scores(t)["threshold_split"] == "test"  # no dev rows


def test_metrics_match_fas_lib_metrics_on_written_scores(cache, tmp_path):
    res = run_experiment(cfg(epochs=1, milestones=()), tmp_path, cache=cache, progress=False)
    s = scores_of(tmp_path)
    dev, test = s[s.split == "dev"], s[s.split == "test"]
    # frame level: the dev-EER threshold applied to test
    e, thr = metrics.eer(dev.label, dev.score)
    far, frr = metrics.far_frr(test.label, test.score, thr)
    f = res["metrics"]["frame"]
    assert f["dev_eer"] == pytest.approx(e) and f["test_hter"] == pytest.approx((far + frr) / 2)
    assert f["test_eer"] == pytest.approx(metrics.eer(test.label, test.score)[0])
    assert set(f["test_apcer_per_type"]) == {"print_flat", "replay_phone"}
    assert f["test_apcer"] == max(f["test_apcer_per_type"].values())
    # video level: mean of frame scores per video
    tv = test.groupby("video_id", sort=False).agg(score=("score", "mean"), label=("label", "first"))
    v = res["metrics"]["video"]
    assert v["test_eer"] == pytest.approx(metrics.eer(tv.label, tv.score)[0])
    assert v["n_test_videos"] == 6
    # evaluate_run recomputes the same numbers from the files
    again = evaluate_run(tmp_path)
    assert again["metrics"]["frame"]["test_hter"] == pytest.approx(f["test_hter"])


def test_features_once_then_hand_set_weights(cache, tmp_path):
    run_experiment(cfg(), tmp_path, cache=cache, progress=False)
    model, c = load_run(tmp_path)
    feats = extract_scale_features((model, c), "test", cache=cache, progress=False)
    assert tuple(feats.features.shape[:2]) == (12, 3) and feats.scales == SCALES3
    # the run-folder variant lives in fas_lib.training.runs (runs imports scoring, not the reverse)
    again = extract_run_features(tmp_path, "test", cache=cache, progress=False)
    np.testing.assert_array_equal(again.features.numpy(), feats.features.numpy())
    with pytest.raises(TypeError, match="extract_run_features"):
        extract_scale_features(tmp_path, "test", cache=cache, progress=False)
    # the model's own weights reproduce the written scores exactly
    s = scores_of(tmp_path)
    np.testing.assert_allclose(rescore(model, feats), s[s.split == "test"].score, atol=1e-6)
    np.testing.assert_allclose(feats.weights.numpy(),
                               s[s.split == "test"][["w_1.1", "w_1.2", "w_1.3"]], atol=1e-6)
    # hand-set weights change the scores; a one-hot weight uses one scale only
    one_hot = rescore(model, feats, [0.0, 1.0, 0.0])
    assert not np.allclose(one_hot, rescore(model, feats))
    f2 = feats.features.clone()
    f2[:, 0] = 0.0
    f2[:, 2] = 0.0
    np.testing.assert_allclose(one_hot, rescore(model, f2, [0.0, 1.0, 0.0]), atol=1e-6)
    assert list(feats.labels) == list(s[s.split == "test"].label)


def test_no_dev_split_fixes_the_threshold_on_test_and_reports_no_dev_metrics(tmp_path):
    # CASIA-FASD's default protocol (standard_nodev, the paper's) has no dev split. The paper
    # reports EER on test only; HTER / APCER / BPCER then use the test-EER threshold (recorded
    # as threshold_split "test") and the dev_* metrics are NaN, not the test set's under a dev
    # name (which made notebook 06 "pick the best scale on dev" on test).
    import math

    from fas_lib.data.datasets import load_protocol
    from fas_lib.evaluation.scores import evaluate_scores
    from fas_lib.studies.tables import summarise
    from tests import fakes

    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=2, n_test=2, faces=False)
    table = load_protocol("casia_fasd", fake.root).table
    assert set(table.split) == {"train", "test"}
    test = table[table.split == "test"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    scores = test[["split", "video_id", "label", "attack_type"]].assign(
        score=np.clip(0.5 * test.label + rng.uniform(0, 0.6, len(test)), 0, 1))
    out = evaluate_scores(scores)
    assert out["threshold_split"] == "test" and out["n_frames"] == {"dev": 0, "test": 24}
    f = out["frame"]
    e, thr = metrics.eer(scores.label, scores.score)
    assert f["test_eer"] == pytest.approx(e)
    assert f["test_hter"] == pytest.approx(metrics.hter(scores.label, scores.score, thr))
    for key in ("dev_eer", "dev_threshold", "dev_auc"):
        assert math.isnan(f[key]), key
    assert math.isnan(summarise({"metrics": out})["dev_eer"])
    # read back from a results file, where NaN was written as null
    assert math.isnan(summarise({"metrics": {"frame": dict(f, dev_eer=None)}})["dev_eer"])
