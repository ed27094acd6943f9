"""fas_lib.studies.recipes: the ablation of the ``robust`` recipe (runs, per-recipe summary,
effects).

The data are ``three_session_cache`` (``tests/conftest.py``: a 3-subject, 3-session SynthSpoof
shared with ``test_generalise.py``); runs are smoke runs at scale 1.0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import load_script

from fas_lib.preprocess.augment import AUGMENTS, CAPTURE, PHOTOMETRIC
from fas_lib.studies import recipes
from fas_lib.training.config import ExperimentConfig

pytestmark = pytest.mark.usefixtures("private_data_dir", "one_thread")


@pytest.fixture(scope="module")
def cache(three_session_cache):
    return three_session_cache


def test_every_recipe_is_cpu_or_robust_with_named_parts():
    assert recipes.RECIPES["cpu"] == ("cpu", {}) and recipes.RECIPES["robust"] == ("robust", {})
    assert set(PHOTOMETRIC) | set(CAPTURE) == set(AUGMENTS)
    groups = {"capture": set(CAPTURE), "photometric": set(PHOTOMETRIC)}
    for name, (preset, fields) in recipes.RECIPES.items():
        assert preset in ("cpu", "robust"), name
        if name.startswith("former robust"):  # every augmentation, dev selection, one part out
            removed = name.removeprefix("former robust").removeprefix(" - ")
            gone = groups.get(removed, {removed}) if removed and "," not in removed else set()
            assert set(fields["augment"]) == set(AUGMENTS) - gone and fields["select_on_dev"]
        if name.startswith("cpu + ") and "augment" in fields and "augment_params" not in fields:
            added = name.removeprefix("cpu + ")  # cpu with one part added
            assert set(fields["augment"]) == groups.get(added, {added})
    # today's robust is the former one without the photometric part
    robust = ExperimentConfig(preset="robust").resolve()
    assert set(robust.augment) == set(CAPTURE) and robust.select_on_dev


def test_ablation_trains_each_recipe_as_named_and_reads_runs_back(cache, tmp_path):
    names = ("cpu", "cpu + capture", "former robust - color_jitter")
    pf = [("standard", None), ("p1", None)]
    df = recipes.recipe_ablation(cache, pf, scale=1.0, recipes=names, seeds=(0, 1),
                                 out_root=tmp_path, smoke=True, progress=False)
    assert len(df) == 2 * 2 * 3 and df.run_dir.nunique() == 12
    for _, row in df.iterrows():
        cfg = json.loads((Path(row.run_dir) / "results.json").read_text())["config"]
        fields = recipes.RECIPES[row.recipe][1]
        assert set(cfg.get("augment") or ()) == set(fields.get("augment", ()))
        assert bool(cfg.get("select_on_dev")) == fields.get("select_on_dev", False)
        assert cfg["seed"] == row.seed and cfg["protocol"] == (None if row.protocol ==
                                                               "standard" else row.protocol)
        # the chosen epoch is recorded exactly when dev selection is on
        assert (row.selected_epoch is not None and not pd.isna(row.selected_epoch)) == \
            fields.get("select_on_dev", False)
    assert df[["dev_eer", "test_eer", "test_hter"]].apply(lambda c: c.between(0, 1)).all().all()
    again = recipes.recipe_ablation(cache, pf, scale=1.0, recipes=names, seeds=(0, 1),
                                    out_root=tmp_path, smoke=True, progress=False)
    pd.testing.assert_frame_equal(df, again)
    with pytest.raises(ValueError, match="unknown recipe"):
        recipes.recipe_ablation(cache, pf, recipes=("cpu", "heavy"), out_root=tmp_path)


def _rows(protocol, recipe, eers, fold=None):
    return [{"protocol": protocol, "fold": fold, "recipe": recipe, "seed": s, "dev_eer": 0.1,
             "test_eer": e, "test_hter": e, "apcer_print": 0.0, "apcer_replay": 0.0,
             "train_loss": 0.3} for s, e in enumerate(eers)]


def test_summary_averages_folds_then_seeds_and_effects_pair_seeds():
    df = pd.DataFrame(_rows("p1", "cpu", [0.20, 0.30]) + _rows("p1", "robust", [0.30, 0.50])
                      + _rows("p3", "cpu", [0.10, 0.10], fold="c1")
                      + _rows("p3", "cpu", [0.30, 0.10], fold="c2")
                      + _rows("p3", "robust", [0.20, 0.00], fold="c1")
                      + _rows("p3", "robust", [0.20, 0.00], fold="c2"))
    s = recipes.recipe_summary(df).set_index(["protocol", "recipe"])
    assert s.loc[("p1", "robust"), "test_eer"] == pytest.approx(0.40)
    assert s.loc[("p1", "robust"), "test_eer_sd"] == pytest.approx(np.std([0.3, 0.5], ddof=1))
    # p3: folds first (cpu seed 0: 0.2, seed 1: 0.1), then seeds
    assert s.loc[("p3", "cpu"), "test_eer"] == pytest.approx(0.15)
    assert int(s.loc[("p3", "cpu"), "n_seeds"]) == 2
    e = recipes.recipe_effects(df).set_index(["protocol", "recipe"])
    assert e.loc[("p1", "robust"), "delta_test_eer"] == pytest.approx(0.15)
    assert e.loc[("p1", "robust"), "worse_seeds"] == 2
    # p3 robust - cpu per seed: 0.2 - 0.2 = 0, 0.0 - 0.1 = -0.1
    assert e.loc[("p3", "robust"), "delta_test_eer"] == pytest.approx(-0.05)
    assert e.loc[("p3", "robust"), "worse_seeds"] == 0
    with pytest.raises(ValueError, match="no 'cpu' rows"):
        recipes.recipe_effects(df[df.recipe != "cpu"])



def test_tool_writes_rows_summary_effects_and_figure(tmp_path, capsys):
    tool = load_script("tools/recipe_ablation.py")
    out = ["--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "res"),
           "--figures-dir", str(tmp_path / "fig")]
    assert tool.main(["--smoke", "--seeds", "0", "1", "--protocols", "standard",
                      "--recipes", "cpu", "robust", *out]) == 0
    written = json.loads((tmp_path / "res" / "recipe_ablation_smoke.json").read_text())
    assert len(written["runs"]) == 4 and len(written["summary"]) == 2
    assert [e["recipe"] for e in written["effects"]] == ["robust"]
    assert written["recipes"]["robust"] == {"preset": "robust"}
    assert (tmp_path / "fig" / "07_recipe_ablation_smoke.png").stat().st_size > 0
    assert tool.main(["--smoke", "--recipes", "cpu", "heavy", *out]) == 2
    assert "unknown recipe" in capsys.readouterr().err
