"""fas_lib.studies.generalise: runs under shift protocols, fold means, the targets, SynthSpoof ->
real, the generator-variant study.

The data are ``three_session_cache`` (``tests/conftest.py``: a 3-subject, 3-session SynthSpoof
cut at scales 1.0 and 1.5, shared with ``test_recipes.py``); runs are smoke runs (one epoch). The
variant study generates two one-session variants of its own (320 x 240).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fas_lib.cache import views
from fas_lib.studies import generalise
from fas_lib.synthspoof import SynthConfig

pytestmark = pytest.mark.usefixtures("private_data_dir", "one_thread")


@pytest.fixture(scope="module")
def cache(three_session_cache):
    return three_session_cache


def test_protocol_folds_trims_folds_never_protocols(cache):
    pf = generalise.protocol_folds(cache, ["standard", "p1", "loao"], max_folds=1)
    assert pf == [("standard", None), ("p1", None), ("loao", "print_flat")]
    every = generalise.protocol_folds(cache, ["loao"])
    assert every == [("loao", "print_flat"), ("loao", "replay_phone")]


def test_cnn_and_lbp_runs_under_protocols(cache, tmp_path):
    pf = [("standard", None), ("p1", None)]
    runs = generalise.cnn_runs(cache, pf, scales=(1.0,), groups=[(1.0, 1.5)],
                               recipes=("cpu", "robust"), out_root=tmp_path, smoke=True,
                               progress=False)
    assert len(runs) == 2 * 2 * 2 and runs.run_dir.nunique() == 8
    assert set(runs.model) == {"CNN_S 1", "MS-FANS [1,1.5]"}
    assert runs[list(generalise.METRICS)].apply(lambda c: c.between(0, 1)).all().all()
    p1 = runs[(runs.protocol == "p1") & (runs.model == "CNN_S 1") & (runs.recipe == "robust")]
    cfg = json.loads((Path(p1.run_dir.iloc[0]) / "results.json").read_text())["config"]
    assert cfg["protocol"] == "p1" and cfg["select_on_dev"] and cfg["augment"]
    std = runs[runs.protocol == "standard"].iloc[0]
    std_cfg = json.loads((Path(std.run_dir) / "results.json").read_text())["config"]
    assert std_cfg["protocol"] is None  # notebooks 03-06's configs: their runs are read back
    again = generalise.cnn_runs(cache, pf, scales=(1.0,), groups=[(1.0, 1.5)],
                                recipes=("cpu", "robust"), out_root=tmp_path, smoke=True,
                                progress=False)
    pd.testing.assert_frame_equal(runs, again)
    lbp = generalise.lbp_runs(cache, pf, recipes=("grid_gray",), scales=(1.0,),
                              out_root=tmp_path, progress=False)
    assert list(lbp.model) == ["LBP grid_gray 1", "LBP grid_gray 1"]
    assert list(lbp.family) == ["lbp", "lbp"] and lbp.run_dir.nunique() == 2


def _row(protocol, fold, model, family, dev, test, recipe="robust"):
    return {"protocol": protocol, "fold": fold, "recipe": recipe, "family": family,
            "model": model, "dev_eer": dev, "test_eer": test, "test_hter": test}


def test_fold_means_and_targets():
    df = pd.DataFrame([
        _row("p3", "c1", "CNN_S 1", "single", 0.10, 0.20),
        _row("p3", "c2", "CNN_S 1", "single", 0.20, 0.30),
        _row("p3", "c1", "LBP a 1", "lbp", 0.05, 0.40, "a"),
        _row("p3", "c2", "LBP a 1", "lbp", 0.05, 0.40, "a"),
        _row("p3", "c1", "LBP b 1", "lbp", 0.30, 0.10, "b"),
        _row("p3", "c2", "LBP b 1", "lbp", 0.30, 0.10, "b"),
    ])
    means = generalise.fold_means(df)
    cnn = means[means.model == "CNN_S 1"].iloc[0]
    assert cnn.n_folds == 2 and np.isclose(cnn.dev_eer, 0.15) and np.isclose(cnn.test_eer, 0.25)
    assert generalise.best_lbp(means, "p3")["model"] == "LBP a 1"  # lowest dev EER
    t = generalise.targets(means, ["p3", "p1"], ["CNN_S 1"]).iloc[0]
    assert t.protocol == "p3" and t.lbp_by_dev == "LBP a 1"
    assert t.beats_lbp and not t.beats_every_lbp        # 0.25 < 0.40, but not < 0.10
    assert t.test_within_2x_dev                          # 0.25 <= 2 x 0.15
    with pytest.raises(ValueError, match="no LBP rows"):
        generalise.best_lbp(means, "p1")


def test_transfer_study_three_ways(cache, tmp_path):
    real = views.protocol_view(cache, "p1")  # a stand-in for a real dataset's cache
    df = generalise.transfer_study(cache, real, 1.0, (1.0, 1.5), recipe="robust",
                                   lbp_recipes=("grid_gray",), lbp_scales=(1.0,),
                                   out_root=tmp_path, smoke=True)
    assert len(df) == 2 * 3 + 1
    assert set(df.training) == {"SynthSpoof only -> synthspoof", "synthspoof only",
                                "SynthSpoof, fine-tuned on synthspoof"}
    assert df[list(generalise.METRICS)].apply(lambda c: c.between(0, 1)).all().all()
    for model in ("CNN_S 1", "MS-FANS [1,1.5]"):
        sub = df[df.model == model].set_index("training")
        cross = json.loads((Path(sub.loc["SynthSpoof only -> synthspoof", "run_dir"])
                            / "results.json").read_text())
        tuned = json.loads((Path(sub.loc["SynthSpoof, fine-tuned on synthspoof", "run_dir"])
                            / "results.json").read_text())["config"]
        assert tuned["init_from"] == cross["train_run"] and tuned["preset"] == "finetune"
        assert tuned["select_on_dev"] and tuned["augment"]


def test_default_variants_fix_one_factor_each_then_all():
    base = SynthConfig(n_subjects=3, fixed_factors=("camera",))
    v = generalise.default_variants(base)
    assert list(v) == ["default", "fixed session", "fixed camera", "fixed instrument",
                       "fixed margins", "1.x-like"]
    assert v["default"].fixed_factors == () and v["default"].n_subjects == 3
    assert v["fixed margins"].fixed_factors == ("margins",)
    assert v["1.x-like"].fixed_factors == ("session", "camera", "instrument", "margins")
    assert generalise.default_variants()["default"] == SynthConfig()
    with pytest.raises(ValueError, match="share a name with a variant"):  # before any work
        generalise.variant_study(v, 1.0, (1.0, 1.5), others={"default": None})


def test_variant_study_scores_every_model_on_every_variant(tmp_path):
    # two tiny variants (3 subjects, one session, a live video, a print and a replay, 2 frames,
    # 320 x 240); about 12 s on a busy 2-core machine
    tiny = SynthConfig(n_subjects=3, frames_per_video=2, width=320, height=240,
                       sessions=("s1",), live_per_session=1,
                       attack_types=("print_flat", "replay_phone"))
    variants = {"default": tiny,
                "fixed camera": dataclasses.replace(tiny, fixed_factors=("camera",))}
    caches = generalise.variant_caches(variants, smoke=True, workers=1, use_gt_boxes=True)
    opts = dict(recipe="cpu", out_root=tmp_path, smoke=True, use_gt_boxes=True, workers=1,
                others={"stand-in": caches["fixed camera"]})  # a real dataset's place
    df = generalise.variant_study(variants, 1.0, (1.0, 1.5), **opts)
    assert len(df) == 2 * 2 * 3
    assert set(df.model) == {"CNN_S 1", "MS-FANS [1,1.5]"}
    assert set(zip(df.trained_on, df.scored_on)) == {
        (a, b) for a in variants for b in (*variants, "stand-in")}
    assert df[list(generalise.METRICS)].apply(lambda c: c.between(0, 1)).all().all()
    assert df.run_dir.nunique() == 8 and df.train_run.nunique() == 4
    by = df.set_index(["model", "trained_on", "scored_on"])
    assert by.xs("stand-in", level=2)[list(generalise.METRICS)].equals(
        by.xs("fixed camera", level=2)[list(generalise.METRICS)])
    for _, r in df[df.trained_on == df.scored_on].iterrows():  # the diagonal: within variant
        res = json.loads((Path(r.run_dir) / "results.json").read_text())
        assert np.isclose(res["within_dataset"]["frame"]["test_eer"], r.test_eer)
    # the threshold's side: the training variant's dev split, whatever is scored
    assert (df.groupby(["model", "trained_on"]).dev_eer.nunique() == 1).all()
    m = generalise.variant_matrix(df, "CNN_S 1", "test_eer")
    assert list(m.index) == list(variants) and list(m.columns) == [*variants, "stand-in"]
    assert np.isclose(m.loc["default", "fixed camera"] / 100, df[
        (df.model == "CNN_S 1") & (df.trained_on == "default")
        & (df.scored_on == "fixed camera")].test_eer.iloc[0])
    again = generalise.variant_study(variants, 1.0, (1.0, 1.5), **opts)
    pd.testing.assert_frame_equal(df, again)  # read back
    with pytest.raises(ValueError, match="no rows for model"):
        generalise.variant_matrix(df, "CNN_D 1")
