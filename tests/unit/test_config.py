"""Unit tests of fas_lib.config: presets, defaults, config files."""

from __future__ import annotations

import json

import pytest
from test_train import cfg

from fas_lib.config import ExperimentConfig, load_config


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
