"""Unit tests of fas_lib.studies.transfer (cross-dataset evaluation) on two tiny caches.

Train side: :class:`test_train.TinyCache`; test side: another TinyCache (other data) or the
tiny SynthSpoof crop cache ``reference`` of tests/conftest.py. 1-epoch CNN_S runs, one thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fas_lib.studies.tables
import fas_lib.studies.transfer
from fas_lib.evaluation.metrics import eer, hter
from fas_lib.studies.transfer import cross_dataset
from fas_lib.training.config import ExperimentConfig
from tests.frame_fakes import SCALES3, TinyCache

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = ExperimentConfig(backbone="cnn_s", fusion="msfans", scales=SCALES3, epochs=1,
                        batch_size=8, lr=0.01, milestones=(), device="cpu", seed=2)


@pytest.fixture(scope="module")
def train_cache() -> TinyCache:
    return TinyCache()


def test_cross_dataset_thresholds_on_the_training_side(train_cache, tmp_path, monkeypatch):
    other = TinyCache({"train": 4, "dev": 4, "test": 10}, seed=9)
    res = cross_dataset(FAST, train_cache, other, tmp_path, progress=False)
    d = Path(res["run_dir"])
    assert d.parent == tmp_path and d.name.startswith("cross-cnn_s-msfans")
    scores = pd.read_csv(d / "scores.csv")
    train_scores = pd.read_csv(Path(res["train_run"]) / "scores.csv")
    dev, test = scores[scores.split == "dev"], scores[scores.split == "test"]
    # dev rows: the training run's dev scores; test rows: the other cache's test frames
    np.testing.assert_array_equal(dev["score"], train_scores.query("split == 'dev'")["score"])
    assert len(test) == 10 and set(test["video_id"]) == set(other.frames("test")["video_id"])
    thr = eer(dev["label"], dev["score"])[1]
    frame = res["metrics"]["frame"]
    assert frame["dev_threshold"] == pytest.approx(thr)
    assert frame["test_hter"] == pytest.approx(hter(test["label"], test["score"], thr))
    assert res["threshold_from"] == "train cache, dev" and res["metrics"]["threshold_split"] == "dev"
    assert res["train"]["data_key"] != res["test"]["data_key"]
    assert res["within_dataset"] == json.loads(
        (Path(res["train_run"]) / "results.json").read_text())["metrics"]
    on_disk = json.loads((d / "results.json").read_text())
    assert on_disk["metrics"] == json.loads(json.dumps(res["metrics"]))

    def boom(*_a, **_k):
        raise AssertionError("a finished cross-dataset run must be read back")

    monkeypatch.setattr(fas_lib.studies.tables, "run_experiment", boom)
    monkeypatch.setattr(fas_lib.studies.transfer, "score_split", boom)
    assert cross_dataset(FAST, train_cache, other, tmp_path, progress=False) == res


def test_cross_dataset_onto_synthspoof(train_cache, reference, tmp_path):
    res = cross_dataset(FAST, train_cache, reference, tmp_path, progress=False)
    assert res["test"]["dataset"] == "synthspoof" and res["train"]["dataset"] == "tiny"
    test = pd.read_csv(Path(res["run_dir"]) / "scores.csv").query("split == 'test'")
    assert len(test) == len(reference.frames("test"))
    assert 0 <= res["metrics"]["frame"]["test_hter"] <= 1


def test_cross_dataset_fails_before_training(train_cache, tmp_path):
    other = TinyCache({"train": 4, "dev": 4, "test": 4}, scales=(1.0, 1.1, 1.2), seed=9)
    with pytest.raises(ValueError, match="scale 1.3 is not in the crop cache"):
        cross_dataset(FAST, train_cache, other, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())
