"""Unit tests of fas_lib.studies.multimodal on the fabricated modality cache of ``tests/fakes.py``:
the study's runs, the ensemble's averaged scores, the unseen-attack rows, the tables, the summary
and ADSN's attention samples (every run one epoch at 48 x 48; the face-recognition rows at
56 x 56 in their own test). About 15 s on one thread."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fas_lib.studies.multimodal import (
    DIFFERENCES,
    GROUPS,
    StudyPlan,
    attention_samples,
    ensemble_scores,
    fold_runs,
    run_study,
    study_runs,
)
from fas_lib.training.multimodal import load_splits
from tests import fakes

pytestmark = pytest.mark.usefixtures("one_thread")

FR = ("fr_random", "fr_init")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return fakes.build_modality_cache(tmp_path_factory.mktemp("mm") / "cache", size=56)


@pytest.fixture(scope="module")
def study(cache, tmp_path_factory):
    plan = StudyPlan(input_size=48, epochs=1, adsn_epochs=1, batch_size=8, skip=FR)
    return run_study(cache, plan, tmp_path_factory.mktemp("runs"), progress=False)


def test_runs_of_the_plan():
    plan = StudyPlan(input_size=64)
    runs = study_runs(plan)
    assert set(runs) == {r for rows in GROUPS.values() for r in rows} - {"ensemble"}
    assert runs["depth"].modalities == ("depth",)
    assert runs["early"].model_config().fusion == "early"
    assert runs["mmfas_main"].model_config().aggregation is False
    assert runs["fr_init"].init == "face_recognition"
    assert runs["fr_init"].model_config().trunk == "dlib"
    assert runs["fr_random"].options == runs["fr_init"].options
    assert runs["adsn_no_bce"].loss == {"lambda_bce": 0.0}
    assert runs["adsn_no_local"].loss == {"lambda_overlap": 0.0, "lambda_parts": 0.0}
    assert runs["adsn_concat"].model_config().fusion == "concat"
    folds = fold_runs(plan, ["mask", "print_flat"])
    assert folds["fold_mask"].exclude_attacks == ("mask",)
    assert folds["fold_mask"].options == runs["mmfas"].options
    assert "fr_init" not in study_runs(StudyPlan(skip=FR))


def test_ensemble_scores_average_and_check_frames():
    a = pd.DataFrame({"split": ["dev", "test"], "video_id": ["v", "w"], "frame_idx": [0, 1],
                      "label": [1, 0], "attack_type": ["live", "mask"], "score": [0.2, 0.4]})
    b = a.assign(score=[0.6, 1.0])
    out = ensemble_scores([a, b])
    np.testing.assert_allclose(out["score"], [0.4, 0.7])
    assert list(out.columns) == list(a.columns)
    with pytest.raises(ValueError, match="same frames"):
        ensemble_scores([a, b.iloc[::-1].reset_index(drop=True)])
    with pytest.raises(ValueError, match="no scores"):
        ensemble_scores([])


def test_study_rows(study):
    assert len(study.unseen) == 3
    assert {u["attack_type"] for u in study.unseen} == {"print_flat", "replay_phone", "mask"}
    for u in study.unseen:
        assert u["run"] == f"fold_{u['attack_type']}"
        assert set(u["apcer_per_type"]) == {u["attack_type"]}
    folds = [study.scores[f"fold_{t}"]["score"] for t in ("mask", "print_flat", "replay_phone")]
    np.testing.assert_allclose(study.scores["ensemble"]["score"], np.mean(folds, axis=0))
    table = study.table("mmfas")
    assert list(table.index) == ["rgb", "depth", "nir", "early", "mmfas_main", "mmfas",
                                 "ensemble"]
    assert ((table["acer"] >= 0) & (table["acer"] <= 1)).all()
    assert list(study.table("adsn").index) == list(GROUPS["adsn"])
    eers = study.sensor_eer()
    assert list(eers.index) == ["rgb", "depth", "nir", "mmfas", "ensemble", "adsn"]
    assert set(eers.columns) == {"print_flat", "replay_phone", "mask"}
    summary = json.loads(json.dumps(study.summary(n_boot=50)))  # JSON-friendly
    assert summary["skipped"] == list(FR) and "fr_init" not in summary["groups"]["mmfas"]
    assert summary["timing"]["fold_mask"]["n_train_frames"] == 18


def test_differences(study):
    d = study.differences(n_boot=50, seed=1)
    assert study.differences(n_boot=50, seed=1).equals(d)  # the rows computed once, cached
    assert set(study.subjects.values()) == {"test0", "test1", "test2"}
    best = study.best_single()
    assert best in GROUPS["sensors"]
    # chosen on dev, not on the test split it is compared on
    assert all(study.reports[best]["dev_eer"] <= study.reports[n]["dev_eer"]
               for n in GROUPS["sensors"])
    fam = d.groupby("family", sort=False)
    mm = fam.get_group("mmfas")
    assert (mm["a"] == "mmfas").all()  # fr_random / fr_init were skipped: no rows
    assert list(mm["b"]) == ["early", "mmfas_main", "ensemble"]
    ad = fam.get_group("adsn")
    assert (ad["a"] == "adsn").all() and list(ad["b"]) == list(DIFFERENCES["adsn"][1])
    single = fam.get_group("best_single")
    assert (single["b"] == best).all()
    assert list(single["a"]) == ["early", "mmfas_main", "mmfas", "ensemble", *GROUPS["adsn"]]
    assert (d["unit"] == "subject").all() and (d["n_clusters"] == 3).all()
    assert ((d["ci_low"] <= d["diff"] + 1e-12) & (d["diff"] <= d["ci_high"] + 1e-12)).all()
    row = d[(d["a"] == "mmfas") & (d["b"] == "early")].iloc[0]
    assert row["eer_a"] == pytest.approx(study.reports["mmfas"]["test_eer"])
    assert row["acer_b"] == pytest.approx(study.reports["early"]["acer"])
    assert row["diff"] == pytest.approx(row["eer_a"] - row["eer_b"])
    assert row["excludes_zero"] == (row["ci_low"] > 0 or row["ci_high"] < 0)
    summary = study.summary(n_boot=50, seed=1)
    assert summary["differences"] == d.to_dict(orient="records")


def test_rerun_reads_back(study, cache):
    again = run_study(cache, study.plan, study.folders["rgb"].parent, progress=False)
    assert again.reports == study.reports


def test_fold_type_must_exist(cache, tmp_path):
    with pytest.raises(ValueError, match="fold types"):
        run_study(cache, StudyPlan(input_size=48, fold_types=("glasses",)), tmp_path,
                  progress=False)


def test_fold_type_without_test_attacks_fails_before_training(tmp_path):
    # a type the training split has but the test split lacks (a cross-type protocol) used to
    # train every run, then fail in its unseen-attack row
    cache = fakes.build_modality_cache(tmp_path / "cache", n_videos=2, size=48)
    t = cache.table
    t.loc[(t["split"] == "test") & (t["attack_type"] == "mask"), "attack_type"] = "print_flat"
    plan = StudyPlan(input_size=48, epochs=1, batch_size=8, fold_types=("mask",),
                     skip=tuple(study_runs(StudyPlan())))
    with pytest.raises(ValueError, match=r"\['mask'\] have no test attack"):
        run_study(cache, plan, tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()


def test_attention_samples(study, cache):
    data = load_splits(cache, 1.0, 48, splits=("test",))["test"]
    out = attention_samples(study.folders["adsn"], data, ["live", "mask", "replay_screen"])
    assert out["missing"] == ["replay_screen"]
    for t in ("live", "mask"):
        s = out[t]
        k = 4  # the CPU preset's parts per stream
        assert s["depth"].shape == (48, 48)
        assert s["parts_depth"].shape == s["parts_nir"].shape == (k, 48, 48)
        # each part map scaled to a maximum of 1, non-negative
        np.testing.assert_allclose(s["parts_depth"].max(axis=(1, 2)), 1, atol=1e-6)
        assert s["parts_nir"].min() >= 0
    assert data.frames["attack_type"][out["mask"]["row"]] == "mask"
    with pytest.raises(ValueError, match="attention maps need ADSN"):
        attention_samples(study.folders["mmfas"], data, ["live"])


def test_face_recognition_rows_train(cache, tmp_path):
    plan = StudyPlan(input_size=56, epochs=1, batch_size=8, fold_types=())
    runs = study_runs(plan)
    from fas_lib.training.multimodal import train_mm

    for name in FR:
        res = train_mm(runs[name], cache, tmp_path / name, progress=False)
        assert res["complete"] and res["config"]["options"]["trunk"] == "dlib"


def test_missing_sensor_keeps_the_deployed_threshold(study, cache):
    from fas_lib.studies.multimodal import missing_sensor
    from fas_lib.training.multimodal import SplitData

    run = study.folders["mmfas"]
    cfg = study.results["mmfas"]["config"]
    data = load_splits(cache, cfg["scale"], 48, splits=("test",))
    full = study.results["mmfas"]["metrics"]
    no_nir = missing_sensor(run, cache, "nir", data=data)
    assert no_nir["dropped"] == "nir"
    assert no_nir["threshold"] == pytest.approx(full["threshold"])  # dev scored with every sensor
    assert no_nir["dev_eer"] == pytest.approx(full["dev_eer"])
    # what the dropped sensor recorded does not matter (it is replaced): the same report when
    # its input is zeros instead of the recording
    test = data["test"]
    flat = {"test": SplitData({**test.x, "nir": test.x["nir"] * 0.0}, test.y, test.frames)}
    again = missing_sensor(run, cache, "nir", data=flat)
    assert again == no_nir
    same = missing_sensor(run, cache, "nir", fill=0.25, data=flat)
    assert same["apcer_per_type"] != no_nir["apcer_per_type"] or \
        same["test_eer"] != no_nir["test_eer"] or same["bpcer"] != no_nir["bpcer"]
    with pytest.raises(ValueError, match="not a modality"):
        missing_sensor(study.folders["rgb"], cache, "nir", data=data)
