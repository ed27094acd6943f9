"""fas_lib.studies.reproduce and ``fas reproduce``: the paper's tables on a dataset, one report.

The end-to-end test runs the command on the Replay-Attack frame-folder fake of tests/fakes.py
(12 folders of 3 face frames, read through the ``csv`` adapter), 2 frames per video, three
scales and one epoch on one thread: about 10 s, most of it the 7 CNN runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fas_lib.apps.cli import main
from fas_lib.evaluation import paper
from fas_lib.studies import tables as experiments
from fas_lib.studies.reproduce import DEFAULT_TABLES, plan_tables

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")

SCALES = ("1.3", "1.4", "1.5")  # Table III's last group, Table V's group


def test_plan_of_the_default_tables():
    plan = plan_tables()
    assert plan.tables == DEFAULT_TABLES == ("II", "III", "V")
    assert plan.scales == (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
    assert plan.groups == paper.TABLE_III_GROUPS and plan.comparisons == {"V": (1.3, 1.4, 1.5)}
    assert plan.n_runs() == 7 + 15 + 1  # Table V's CNN_S run is Table III's MS-FANS run
    small = plan_tables(["iii", "4"], [1.0, 1.1, 1.2, 1.3])
    assert small.tables == ("III", "IV") and small.single_scales() == [1.0, 1.1, 1.2, 1.3]
    assert small.groups == ((1.0, 1.1, 1.2), (1.1, 1.2, 1.3))


@pytest.mark.parametrize("tables, scales, message", [
    (["VI"], None, "unknown table"),
    (["II", "V"], [1.0, 1.1], r"Table V runs MS-FANS on \[1.3, 1.4, 1.5\]"),
    (["III"], [0.9, 1.1, 1.3], "Table III needs three adjacent scales"),
    (["II"], [1.0, 1.0], "distinct positive"),
    (["II"], [-1.0], "distinct positive"),
])
def test_plan_refuses_what_it_cannot_run(tables, scales, message):
    with pytest.raises(ValueError, match=message):
        plan_tables(tables, scales)


def test_command_line_errors_are_one_message(tmp_path, capsys):
    args = ["reproduce", "--dataset", "csv", "--root", str(tmp_path / "none")]
    assert main(args) == 2
    assert "fas reproduce: error:" in capsys.readouterr().err
    assert main([*args[:-1], str(tmp_path), "--tables", "VI"]) == 2
    assert "unknown table" in capsys.readouterr().err
    assert main([*args, "--preset", "fast"]) == 2
    assert "unknown preset 'fast'" in capsys.readouterr().err


def reproduce_args(root: Path, out: Path) -> list[str]:
    return ["reproduce", "--dataset", "csv", "--root", str(root), "--out", str(out),
            "--epochs", "1", "--scales", *SCALES, "--n-frames", "2", "--workers", "1"]


def test_reproduce_end_to_end_resumes_and_reports_every_table(tmp_path, monkeypatch, capsys):
    fake = fakes.build_replay_attack_frames(tmp_path / "replay_frames")
    out = tmp_path / "report"
    trained = []
    real_run = experiments.run_experiment

    def interrupted(cfg, *args, **kwargs):  # the third training is interrupted (Ctrl-C)
        if len(trained) == 2:
            raise KeyboardInterrupt
        trained.append(cfg.name)
        return real_run(cfg, *args, **kwargs)

    monkeypatch.setattr(experiments, "run_experiment", interrupted)
    assert main(reproduce_args(fake.root, out)) == 130
    printed = capsys.readouterr()
    assert "crop cache: at most 24 frames of 12 videos x 3 scales" in printed.out
    assert "run the same command again to resume" in printed.err
    monkeypatch.setattr(experiments, "run_experiment",
                        lambda cfg, *a, **k: trained.append(cfg.name) or real_run(cfg, *a, **k))
    assert main(reproduce_args(fake.root, out)) == 0
    assert len(trained) == len(set(trained)) == 7  # none of the first two trained again
    report = json.loads((out / "report.json").read_text())
    check_report(report, (out / "report.md").read_text())

    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(experiments, "run_experiment", fail)
    monkeypatch.setattr(experiments, "lbp_run", fail)
    assert main(reproduce_args(fake.root, out) + ["--no-progress"]) == 0  # all read back
    again = json.loads((out / "report.json").read_text())
    assert {k: again[k] for k in ("table_ii", "table_iii", "table_v")} == {
        k: report[k] for k in ("table_ii", "table_iii", "table_v")}


def check_report(report: dict, md: str) -> None:
    """Every table's rows, ours measured, the paper's numbers only under 'paper'."""
    assert report["tables"] == ["II", "III", "V"] and report["dataset"] == "csv"
    assert report["hter_threshold_split"] == "dev" and report["n_test_videos"] == 4
    rows = report["table_ii"]["rows"]
    assert [r["scale"] for r in rows] == [1.3, 1.4, 1.5]
    assert [r["paper_eer_percent"] for r in rows] == [paper.TABLE_II_EER[s] for s in (1.3, 1.4,
                                                                                       1.5)]
    for r in rows:
        assert 0 <= r["eer_percent"] <= 100 and r["video_eer_percent"] is not None
    t3 = report["table_iii"]
    assert t3["groups"] == ["[1.3,1.4,1.5]"]
    assert {r["fusion"]: r["paper_eer_percent"] for r in t3["rows"]} == {
        f: v[-1] for f, v in paper.TABLE_III_EER.items()}
    assert all(r["eer_percent"] is not None for r in t3["rows"])
    t5 = report["table_v"]["rows"]
    assert [r["method"] for r in t5] == [r.method for r in paper.TABLE_V_ROWS]
    assert [r["paper_eer_percent"] for r in t5] == [r.eer for r in paper.TABLE_V_ROWS]
    ran = {r["method"]: r for r in t5 if r["ours"]}
    assert len(ran) == 3 and all(r["eer_percent"] is not None for r in ran.values())
    assert report["cache"]["skips"]["media"] == {}
    for heading in ("## Table II", "## Table III", "## Table V"):
        assert heading in md
    assert "EER (%), paper (Table II, CASIA-FASD)" in md and "MS-FANS, paper (CASIA-FASD)" in md
    assert "EER (%), paper (Table V, REPLAY-ATTACK)" in md
