"""Unit tests of fas_lib.studies.tables (Table II / III drivers, LBP baseline) on a tiny cache.

Uses :class:`test_train.TinyCache` (3 cached scales, 44 random 128 x 128 frames) and 1-epoch
CNN_S runs on one CPU thread.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import fas_lib.studies.tables as ex
from fas_lib.training.config import ExperimentConfig
from fas_lib.training.runs import run_dir
from tests.frame_fakes import TinyCache

FAST = dict(epochs=1, batch_size=8, lr=0.01, milestones=(), device="cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> TinyCache:
    return TinyCache()


def test_scale_groups_are_the_papers():
    assert ex.SCALE_GROUPS == ((0.9, 1.0, 1.1), (1.0, 1.1, 1.2), (1.1, 1.2, 1.3),
                               (1.2, 1.3, 1.4), (1.3, 1.4, 1.5))


def test_table_ii_one_row_per_scale_and_resumable(cache, tmp_path, monkeypatch):
    t2 = ex.table_ii(cache, scales=(1.1, 1.3), out_root=tmp_path, progress=False, **FAST)
    assert list(t2["scale"]) == [1.1, 1.3]
    assert t2["test_eer"].between(0, 1).all() and t2["video_test_hter"].between(0, 1).all()
    for d in t2["run_dir"]:
        res = json.loads((tmp_path / d.split("/")[-1] / "results.json").read_text())
        assert res["config"]["fusion"] == "single" and res["config"]["aux_weight"] == 0.0

    def boom(*_a, **_k):
        raise AssertionError("finished runs must be read back, not retrained")

    monkeypatch.setattr(ex, "run_experiment", boom)
    again = ex.table_ii(cache, scales=(1.1, 1.3), out_root=tmp_path, progress=False, **FAST)
    pd.testing.assert_frame_equal(t2, again)


def test_table_iii_best_single_from_table_ii(cache, tmp_path):
    t2 = ex.table_ii(cache, scales=(1.1, 1.2, 1.3), out_root=tmp_path, progress=False, **FAST)
    t3 = ex.table_iii(cache, groups=[(1.1, 1.2, 1.3)], out_root=tmp_path, table2=t2,
                      progress=False, **FAST)
    assert list(t3["fusion"]) == ["best_single", "average", "concat", "msfans"]
    best = t3[t3.fusion == "best_single"].iloc[0]
    assert best["test_eer"] == t2["test_eer"].min()
    assert best["best_scale"] == t2.loc[t2["test_eer"].idxmin(), "scale"]
    ms = t3[t3.fusion == "msfans"].iloc[0]
    assert set(ms["learned_weights"]) == {"1.1", "1.2", "1.3"}
    p = ex.pivot(t3)
    assert list(p.index) == ["best_single", "average", "concat", "msfans"]
    assert list(p.columns) == ["[1.1,1.2,1.3]"]
    assert p.loc["msfans", "[1.1,1.2,1.3]"] == pytest.approx(100 * ms["test_eer"])
    w = ex.msfans_wins(t3)
    assert w["groups"] == 1 and w["wins"] == int(ms["test_eer"] < best["test_eer"])


def test_table_iii_trains_missing_single_scales(cache, tmp_path):
    t3 = ex.table_iii(cache, groups=[(1.1, 1.2, 1.3)], fusions=("best_single", "average"),
                      out_root=tmp_path, progress=False, **FAST)
    assert list(t3["fusion"]) == ["best_single", "average"]
    singles = [p for p in tmp_path.iterdir() if "-single-" in p.name]
    assert len(singles) == 3


def test_bad_inputs_fail_before_training(cache, tmp_path):
    with pytest.raises(ValueError, match="unknown Table III fusion"):
        ex.table_iii(cache, groups=[(1.1, 1.2, 1.3)], fusions=("median",), out_root=tmp_path)
    with pytest.raises(ValueError, match="not in the crop cache"):
        ex.table_iii(cache, groups=[(1.3, 1.4, 1.5)], out_root=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown backbone"):
        ex.table_ii(cache, backbone="vgg", scales=(1.1,), out_root=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_finished_runs_are_reused_only_for_their_data(cache, tmp_path, monkeypatch):
    ex.table_ii(cache, scales=(1.1,), out_root=tmp_path, progress=False, **FAST)
    other = TinyCache(seed=1)
    assert run_dir(ExperimentConfig(fusion="single", scales=(1.1,), **FAST), tmp_path, other) \
        != run_dir(ExperimentConfig(fusion="single", scales=(1.1,), **FAST), tmp_path, cache)
    trained = []
    real = ex.run_experiment
    monkeypatch.setattr(ex, "run_experiment",
                        lambda cfg, d, **kw: trained.append(d) or real(cfg, d, **kw))
    ex.table_ii(cache, scales=(1.1,), out_root=tmp_path, progress=False, **FAST)
    assert trained == []                                         # same data: read back
    ex.table_ii(other, scales=(1.1,), out_root=tmp_path, progress=False, **FAST)
    assert len(trained) == 1 and len(list(tmp_path.iterdir())) == 2  # new data: a new run


def test_lbp_baseline_rows_and_files(cache, tmp_path):
    t = ex.lbp_baseline(cache, scales=(1.1, 1.3), color_space="gray", out_root=tmp_path,
                        progress=False)
    assert list(t["scale"]) == ["1.1", "1.3", "[1.1,1.3]"]
    assert t["test_auc"].between(0, 1).all()
    # bona fide crops are brighter: LBP (texture only) need not see it, but the files are there
    for d in t["run_dir"]:
        scores = pd.read_csv(f"{d}/scores.csv")
        assert set(scores["split"]) == {"dev", "test"} and len(scores) == 24
    again = ex.lbp_baseline(cache, scales=(1.1, 1.3), color_space="gray", out_root=tmp_path,
                            progress=False)
    pd.testing.assert_frame_equal(t, again)


def test_tables_train_the_runs_their_experiment_files_list(cache, tmp_path, monkeypatch):
    # table_ii / table_iii build their runs from configs/table_ii.yaml / table_iii.yaml; an
    # edited file (here: a copy with another backbone and preset) changes what they train.
    from fas_lib.training.config import load_experiment

    seen = []

    class Stop(Exception):
        pass

    def record(configs, *_a, **_k):
        seen.extend(configs)
        raise Stop  # what would be trained is known; train nothing

    monkeypatch.setattr(ex, "run_many", record)
    with pytest.raises(Stop):
        ex.table_ii(cache, scales=(1.1, 1.3), out_root=tmp_path, progress=False)
    assert seen == load_experiment("table_ii").configs(grid={"scales": [(1.1,), (1.3,)]}, seed=0)
    seen.clear()
    edited = tmp_path / "t3.yaml"
    edited.write_text("base: {backbone: cnn_d, preset: paper}\n"
                      "grid: {scales: [[1.1, 1.2, 1.3]], fusion: [average, msfans]}\n")
    with pytest.raises(Stop):
        ex.table_iii(cache, fusions=("average", "msfans"), out_root=tmp_path, progress=False,
                     experiment=edited)
    assert [(c.backbone, c.preset, c.fusion, c.scales) for c in seen] == [
        ("cnn_d", "paper", "average", (1.1, 1.2, 1.3)),
        ("cnn_d", "paper", "msfans", (1.1, 1.2, 1.3))]
