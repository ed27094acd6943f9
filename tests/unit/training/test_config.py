"""Unit tests of fas_lib.training.config: presets, defaults, config files."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fas_lib.training.config import ExperimentConfig, load_config
from fas_lib.training.methods import is_method_file
from tests.frame_fakes import cfg


def test_aux_weight_defaults():
    assert cfg().resolve().aux_weight == 0.5
    assert cfg(fusion="single", scales=(1.2,)).resolve().aux_weight == 0.0
    assert cfg(fusion="single", scales=(1.2,), aux_weight=0.5).resolve().aux_weight == 0.5


def test_presets_fill_open_values():
    p = ExperimentConfig(preset="paper").resolve()
    assert (p.lr, p.momentum, p.weight_decay, p.gamma) == (2e-4, 0.9, 5e-4, 0.1)
    c = ExperimentConfig().resolve()
    assert c.epochs >= 1 and c.batch_size >= 1 and c.lr > 0
    assert ExperimentConfig(smoke=True).resolve().epochs == 1


def test_unknown_config_key_and_config_files(tmp_path):
    with pytest.raises(ValueError, match="unknown config keys"):
        ExperimentConfig.from_dict({"backbone": "cnn_s", "learning_rate": 1})
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"fusion": "concat", "scales": [1.0, 1.1, 1.2], "epochs": 3}))
    c = load_config(p)
    assert c.fusion == "concat" and c.scales == (1.0, 1.1, 1.2) and c.epochs == 3
    y = tmp_path / "c.yaml"
    y.write_text("fusion: average\nscales: [1.2, 1.3, 1.4]\n")
    assert load_config(y).scales == (1.2, 1.3, 1.4)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.json")


# --- experiment files (configs/*.yaml) ------------------------------------------------------

from fas_lib import SCALES
from fas_lib.studies.tables import FUSIONS_III, SCALE_GROUPS
from fas_lib.training.config import CONFIG_DIR, Experiment, load_experiment

#: MS-FANS's experiment files (STASN, MM-FAS and ADSN's are fas_lib.training.methods', tested there)
SHIPPED = sorted(p for p in CONFIG_DIR.glob("*.yaml") if not is_method_file(p))


def test_the_papers_experiments_are_shipped_as_files():
    assert {p.stem for p in SHIPPED} >= {"table_ii", "table_iii", "msfans", "tables_iv_v",
                                         "robust"}
    for path in SHIPPED:
        exp = load_experiment(path)
        assert exp.title and "ICPR 2018" in exp.paper, f"{path.name}: title and paper to cite"
        for c in exp.configs():
            c.resolve()  # every run of every file is a valid config


def test_table_files_hold_the_papers_runs():
    t2 = load_experiment("table_ii").configs()
    assert [c.scales for c in t2] == [(s,) for s in SCALES]
    assert {(c.backbone, c.fusion, c.preset) for c in t2} == {("cnn_s", "single", "cpu")}
    t3 = load_experiment("table_iii").configs()
    trained = [f for f in FUSIONS_III if f != "best_single"]
    assert [(c.scales, c.fusion) for c in t3] == [(g, f) for g in SCALE_GROUPS for f in trained]
    (ms,) = load_experiment("msfans").configs()
    assert (ms.fusion, ms.scales, ms.weight_norm) == ("msfans", (1.1, 1.2, 1.3), "none")
    (robust,) = load_experiment("robust").configs()
    assert robust == dataclasses.replace(ms, preset="robust")  # msfans.yaml's run, robust recipe
    assert "issue" in load_experiment("robust").paper
    iv_v = load_experiment("tables_iv_v").configs()
    assert [(c.backbone, c.scales) for c in iv_v] == [("cnn_d", (1.1, 1.2, 1.3)),
                                                      ("cnn_d", (1.3, 1.4, 1.5))]


def test_experiment_grid_overrides_and_errors(tmp_path):
    exp = Experiment("t", "", "", {"backbone": "cnn_s", "epochs": 3},
                     {"scales": [[1.0, 1.1], [1.2, 1.3]], "fusion": ["average", "msfans"]})
    runs = exp.configs()
    assert [(c.scales, c.fusion) for c in runs] == [
        ((1.0, 1.1), "average"), ((1.0, 1.1), "msfans"),
        ((1.2, 1.3), "average"), ((1.2, 1.3), "msfans")]  # first grid field varies slowest
    assert {c.epochs for c in runs} == {3}
    # overrides win over base; None keeps the file's value (notebook parameters left at None)
    assert {c.epochs for c in exp.configs(epochs=1, preset=None)} == {1}
    assert {c.preset for c in exp.configs(preset=None)} == {"cpu"}
    one = exp.configs(grid={"scales": [(0.9, 1.0)]})
    assert [(c.scales, c.fusion) for c in one] == [((0.9, 1.0), "average"), ((0.9, 1.0), "msfans")]
    with pytest.raises(ValueError, match="vary over the experiment's grid"):
        exp.configs(scales=(1.0, 1.1))
    with pytest.raises(ValueError, match="not a grid field"):
        exp.configs(grid={"seed": [0, 1]})
    with pytest.raises(ValueError, match="unknown config keys"):
        exp.configs(learning_rate=1)


def test_experiment_files_read_and_fail_clearly(tmp_path):
    f = tmp_path / "grid.yaml"
    f.write_text("title: T\npaper: P\nbase: {backbone: cnn_s}\ngrid: {scales: [[1.0], [1.2]]}\n")
    exp = load_experiment(f)
    assert (exp.name, exp.title, exp.paper, len(exp.configs())) == ("grid", "T", "P", 2)
    with pytest.raises(ValueError, match="describes 2 runs"):
        load_config(f)
    single = tmp_path / "one.yaml"
    single.write_text("base: {fusion: average, scales: [1.0, 1.2]}\n")
    assert load_config(single).fusion == "average"
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"fusion": "concat"}))
    assert load_experiment(flat).configs()[0].fusion == "concat"  # a plain config: one run
    for text, match in [("base: {backbone: cnn_s}\nruns: 3\n", "unknown keys"),
                        ("grid: {scales: 1.0}\n", "non-empty lists"),
                        ("base: {learning_rate: 1}\n", "unknown config keys"),
                        ("- 1\n- 2\n", "expected a mapping")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_experiment(bad)
    with pytest.raises(FileNotFoundError, match="table_ii"):  # the message lists the shipped
        load_experiment("table_two")
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_experiment(tmp_path / "missing.yaml")
