"""Tests of fas_lib.training.methods: STASN, MM-FAS and ADSN experiment files (configs/stasn.yaml,
mmfas.yaml, adsn.yaml) and `fas train --config` on them. The shipped files are checked
against the notebooks' own configs; two tiny files train end to end through the CLI on the
smoke-sized data (about 30 s on one thread)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fas_lib.apps import cli
from fas_lib.studies.multimodal import StudyPlan, study_runs
from fas_lib.studies.video import stasn_grid
from fas_lib.training import methods
from fas_lib.training.clip_inputs import ClipConfig
from fas_lib.training.config import CONFIG_DIR

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")


def test_shipped_files_are_the_notebooks_runs():
    stasn = methods.load_method_experiment(CONFIG_DIR / "stasn.yaml")
    base = ClipConfig(name="stasn", model="stasn", scales=(1.4,), t=8, input_size=64, epochs=6,
                      batch_size=8, lr=3e-3, milestones=(4,), seed=0, n_regions=4,
                      branches="both")  # notebook 09's BASE at its default parameters
    cells = [c for study, _, c in stasn_grid(base) if study == "branches"]
    got = stasn.configs()
    assert [c.name for c in got] == ["stasn-temporal", "stasn-spatial", "stasn-both"]
    assert [c.to_dict() | {"name": ""} for c in got] == [c.to_dict() | {"name": ""}
                                                          for c in cells]
    plan = StudyPlan(scale=1.0, input_size=64, epochs=5, adsn_epochs=5, batch_size=32, lr=1e-3,
                     seed=0)  # notebook 08's PLAN at its default parameters
    runs = study_runs(plan)
    for name in ("mmfas", "adsn"):
        exp = methods.load_method_experiment(CONFIG_DIR / f"{name}.yaml")
        for cfg in exp.configs():
            assert cfg.to_dict() == runs[cfg.name].to_dict(), cfg.name  # same run folder


def test_overrides_and_grid_values():
    exp = methods.load_method_experiment(CONFIG_DIR / "stasn.yaml")
    cfgs = exp.configs(epochs=1, branches=["both"], select_on_dev=True)
    assert [(c.name, c.epochs, c.select_on_dev) for c in cfgs] == [("stasn-both", 1, True)]
    with pytest.raises(ValueError, match="as a list"):
        exp.configs(branches="both")
    mm = methods.load_method_experiment(CONFIG_DIR / "mmfas.yaml")
    assert {c.epochs for c in mm.configs(epochs=2)} == {2}


@pytest.mark.parametrize("text, message", [
    ("method: clip\nbase: {model: stasn}\ncolour: red\n", "unknown keys"),
    ("method: svm\nbase: {}\n", "method must be one of"),
    ("method: mm\nbase: {}\ngrid: {lr: 0.1}\n", "non-empty lists"),
    ("method: mm\nbase: {}\ngrid: {lr: [0.1]}\nruns: {a: {}}\n", "either grid or runs"),
    ("method: mm\nbase: {}\nruns: [a, b]\n", "name to its fields"),
    ("method: mm\nbase: {learning_rate: 0.1}\n", "learning_rate"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_files_are_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        methods.load_method_experiment(path)
    with pytest.raises(FileNotFoundError):
        methods.load_method_experiment(tmp_path / "missing.yaml")


def test_only_method_files_take_the_methods_path(tmp_path):
    assert methods.is_method_file(CONFIG_DIR / "adsn.yaml")
    assert not methods.is_method_file(CONFIG_DIR / "table_ii.yaml")
    assert not methods.is_method_file(tmp_path / "missing.yaml")


TINY_CLIP = """
method: clip
data: {smoke: true, t: 2, scales: [1.4], use_gt_boxes: true}
base: {name: tiny, model: stasn, scales: [1.4], t: 2, input_size: 64, window: 64, epochs: 1,
       batch_size: 2, milestones: [], n_regions: 2, dropout: 0.0}
grid: {branches: [temporal, both]}
"""
TINY_MM = """
method: mm
data:
  synth: {n_subjects: 3, frames_per_video: 2, sessions: [s1], live_per_session: 1,
          attack_types: [print_flat, replay_phone], modalities: [depth, nir]}
  scale: 1.0
  crop_size: 48
base: {model: mmfas, options: {input_size: 48}, epochs: 1, batch_size: 4, scale: 1.0}
runs:
  rgb: {options: {input_size: 48, modalities: [rgb], aggregation: false}}
  adsn: {model: adsn}
"""


@pytest.mark.slow
@pytest.mark.parametrize("text, names", [(TINY_CLIP, ["tiny-temporal", "tiny-both"]),
                                         (TINY_MM, ["rgb", "adsn"])])
def test_fas_train_trains_a_methods_file(tmp_path, capsys, text, names):
    path = tmp_path / "method.yaml"
    path.write_text(text)
    out = tmp_path / "runs"
    code = cli.main(["train", "--config", str(path), "--out", str(out), "--no-progress",
                     "--workers", "1", "--set", "seed=1"])
    printed = capsys.readouterr().out
    assert code == 0 and f"2 run(s) under {out}" in printed
    for name in names:
        res = json.loads((out / name / "results.json").read_text())
        assert res["complete"] and res["config"]["seed"] == 1 and f"  {name}: test EER" in printed
    before = {p: p.stat().st_mtime for p in Path(out).glob("*/results.json")}
    assert cli.main(["train", "--config", str(path), "--out", str(out), "--no-progress",
                     "--workers", "1", "--set", "seed=1"]) == 0
    assert before == {p: p.stat().st_mtime for p in Path(out).glob("*/results.json")}
