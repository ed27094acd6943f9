"""Unit tests of tools/epoch_study.py: the schedule argument, the per-schedule summary, the
selection rule (on dev, fixed before the runs), and one smoke run end to end."""

from __future__ import annotations

import argparse
import json

import pytest
from conftest import load_script

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")

study = load_script("tools/epoch_study.py")


def _rows(finals: dict[str, list[float]]) -> list[dict]:
    """Rows as main() writes them: ``{"10:7": [dev EER per model], ...}``."""
    return [{"schedule": name, "epochs": int(name.split(":")[0]), "model": f"m{i}",
             "final_dev_eer": e, "train_seconds": float(int(name.split(":")[0]))}
            for name, eers in finals.items() for i, e in enumerate(eers)]


def test_schedule_argument():
    assert study._schedule("6:4") == (6, (4,))
    for bad in ("6", "6:6", "4:6", "0:0", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError):
            study._schedule(bad)


def test_summary_means_per_schedule_in_order():
    summary = study.summarise(_rows({"4:3": [0.20, 0.10], "10:7": [0.10, 0.08]}))
    assert [s["schedule"] for s in summary] == ["4:3", "10:7"]
    assert summary[0]["mean_final_dev_eer"] == pytest.approx(0.15)
    assert summary[1]["train_seconds"] == 20.0 and summary[1]["n_models"] == 2


def test_rule_picks_the_shortest_schedule_within_tolerance():
    summary = study.summarise(_rows({"4:3": [0.150], "6:4": [0.134], "8:6": [0.131],
                                     "10:7": [0.130]}))
    longest, chosen = study.choose(summary, tolerance=0.5)
    assert longest["schedule"] == "10:7" and chosen["schedule"] == "6:4"  # 0.4 points: inside
    assert study.choose(summary, tolerance=0.05)[1]["schedule"] == "10:7"  # none but itself
    assert study.choose(summary, tolerance=2.5)[1]["schedule"] == "4:3"
    # a shorter schedule better than the longest is kept too
    better = study.summarise(_rows({"4:3": [0.12], "10:7": [0.13]}))
    assert study.choose(better, tolerance=0.0)[1]["schedule"] == "4:3"


def test_rule_refuses_schedules_run_on_different_models():
    summary = study.summarise(_rows({"4:3": [0.1], "10:7": [0.1, 0.1]}))
    with pytest.raises(ValueError, match="same models"):
        study.choose(summary, tolerance=0.5)


def test_smoke_run_writes_curves_and_choice(tmp_path):
    out = tmp_path / "epoch_study.json"
    assert study.main(["--smoke", "--schedules", "2:1", "3:2", "--runs-dir",
                       str(tmp_path / "runs"), "--out", str(out), "--fig-dir",
                       str(tmp_path / "fig")]) == 0
    res = json.loads(out.read_text())
    assert res["smoke"] and res["chosen"] in ("2:1", "3:2")
    assert [len(r["dev_eer_curve"]) for r in res["runs"]] == [2, 3]  # dev after every epoch
    assert all(0 <= e <= 1 for r in res["runs"] for e in r["dev_eer_curve"])
    assert (tmp_path / "fig" / "epoch_study.png").is_file()


def test_rechoose_applies_the_rule_to_recorded_runs_without_training(tmp_path):
    out = tmp_path / "epoch_study.json"
    rows = _rows({"4:3": [0.150, 0.132], "8:6": [0.150, 0.140], "10:7": [0.135, 0.130]})
    out.write_text(json.dumps({"chosen": "10:7", "runs": rows, "seed": 0}))
    assert study.main(["--rechoose", "--tolerance", "0.5", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["chosen"] == "10:7" and res["tolerance"] == 0.5 and res["runs"] == rows
    # 4:3 is 0.85 points above 10:7: outside 0.5, inside 1.0 (the default)
    assert study.main(["--rechoose", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["chosen"] == "4:3" and "within 1 points of the longest (10:7)" in res["rule"]
    assert [s["schedule"] for s in res["summary"]] == ["4:3", "8:6", "10:7"]


def test_rechoose_without_a_recorded_study_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no recorded epoch study"):
        study.main(["--rechoose", "--out", str(tmp_path / "none.json")])
