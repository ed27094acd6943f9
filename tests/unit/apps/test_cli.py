"""Tests of the ``fas`` command line (fas_lib.apps.cli) on miniatures and a tiny SynthSpoof.

Most calls go through ``fas_lib.apps.cli.main`` in this process; one runs ``python -m
fas_lib.apps.cli`` to check the module entry point and that a user error prints no traceback. ``fas
prepare`` on SynthSpoof generates a tiny SynthSpoof (9 videos) under a temporary $FAS_DATA_DIR.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fas_lib.apps import cli
from fas_lib.cache import prepare as prepare_mod
from fas_lib.cache import reader as cache_mod
from fas_lib.synthspoof import SynthConfig

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

TINY = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1,
                   attack_types=("print_flat",))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_wrong_root_is_one_message_and_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "prepare", "--dataset", "casia_fasd", "--root",
                       str(tmp_path / "nowhere"), "--no-progress")
    assert code == 2
    assert "CASIA-FASD root" in err and "train_release" in err and "does not exist" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_module_entry_point_without_traceback(tmp_path):
    (tmp_path / "NUAA").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "fas_lib.apps.cli", "prepare", "--dataset", "nuaa", "--root",
         str(tmp_path / "NUAA")], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "ClientRaw" in proc.stderr and "Traceback" not in proc.stderr


def test_user_errors_exit_2(capsys, tmp_path):
    fake = fakes.build_nuaa(tmp_path / "NUAA", n_subjects=2, images=1)
    code, _, err = run(capsys, "prepare", "--dataset", "nuaa", "--root", str(fake.root),
                       "--protocol", "grandtest")
    assert code == 2 and "has no protocol 'grandtest'" in err
    code, _, err = run(capsys, "prepare", "--dataset", "msu", "--root", str(fake.root))
    assert code == 2 and "unknown dataset 'msu'" in err
    code, _, err = run(capsys, "prepare", "--dataset", "replay_attack")
    assert code == 2 and "needs its root folder" in err
    code, _, err = run(capsys, "info", str(tmp_path / "nothing"))
    assert code == 2 and "no cache folder" in err
    code, _, err = run(capsys, "info", str(fake.root))
    assert code == 2 and "not a finished crop cache" in err
    with pytest.raises(SystemExit):  # argparse: --every and --n-frames exclude each other
        cli.main(["prepare", "--dataset", "nuaa", "--every", "2", "--n-frames", "2"])


def test_prepare_and_info_on_a_miniature(capsys, tmp_path):
    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=2, n_test=1)
    out_dir = tmp_path / "cache"
    code, out, err = run(capsys, "prepare", "--dataset", "casia_fasd", "--root", str(fake.root),
                         "--out", str(out_dir), "--every", "1", "--workers", "1")
    assert code == 0, err
    # the disk estimate, before the build: 35 readable videos of 2 frames (the corrupt one: 0)
    estimate = "crop cache: at most 70 frames of 36 videos x 7 scales of 128 x 128 px RGB"
    assert estimate in out and out.index(estimate) < out.index("CASIA-FASD: 1 unreadable")
    assert "CASIA-FASD: 1 unreadable or corrupt files (e.g. test_release/1/HR_4.avi)" in out
    assert "frames with no detected face" in out
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["params"]["every"] == 1 and manifest["params"]["n_frames"] is None
    code, out, _ = run(capsys, "info", str(out_dir))
    assert code == 0
    for text in ("CASIA-FASD (casia_fasd), protocol standard_nodev", "1 frame in 1", "on disk",
                 "frames per split and attack type", "live", "unreadable or corrupt"):
        assert text in out, text


def test_prepare_wide_scales_and_info_shows_the_padding(capsys, tmp_path):
    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=1, n_test=1, corrupt=False)
    out_dir = tmp_path / "cache"
    code, out, err = run(capsys, "prepare", "--dataset", "casia_fasd", "--root", str(fake.root),
                         "--out", str(out_dir), "--n-frames", "1", "--workers", "1",
                         "--scales", "1.0", "2.0", "2.7", "4.0", "--no-progress")
    assert code == 0, err
    assert "scales 1, 2, 2.7, 4; 128 px crops" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("padding"))
    percents = [int(v) for v in re.findall(r"(\d+) %", line)]
    assert line.startswith("padding   outside the frame, mean per scale: 1 ")
    assert len(percents) == 4 and percents == sorted(percents) and percents[-1] > 50
    code, _, err = run(capsys, "prepare", "--dataset", "casia_fasd", "--root", str(fake.root),
                       "--out", str(tmp_path / "c2"), "--scales", "1.0", "2.7", "1.0")
    assert code == 2 and "scales must be distinct" in err


def test_prepare_synthspoof_generates_and_caches(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(prepare_mod, "smoke_synth_config", lambda: TINY)
    code, out, err = run(capsys, "prepare", "--dataset", "synthspoof", "--smoke",
                         "--workers", "1", "--no-progress")
    assert code == 0, err
    caches = list((tmp_path / "data" / "caches").iterdir())
    assert len(caches) == 1 and caches[0].name.startswith("synthspoof-standard-")
    c = cache_mod.open_cache(caches[0])
    # 3 subjects (one per split) x (live, print_flat) x 2 frames
    assert c.manifest["counts"]["videos"] == {"train": 2, "dev": 2, "test": 2}
    assert len(c.table) + c.manifest["skips"]["media"].get("no_face", 0) == 12
    assert "SynthSpoof (synthspoof), protocol standard" in out
    # the Python entry point returns the same cache without rebuilding it
    again = prepare_mod.get_cache("synthspoof", smoke=True, workers=1, progress=False)
    assert again.path == c.path and again.manifest["created"] == c.manifest["created"]


def test_train_and_evaluate_call_fas_lib_train(capsys, tmp_path, monkeypatch):
    from fas_lib.training import frames as train
    from fas_lib.training import runs
    from fas_lib.training.config import ExperimentConfig

    calls = {}

    def fake_run(config, out_dir, resume=True, progress=True):
        calls["run"] = (config, Path(out_dir), resume, progress)
        return {"metrics": {"test": {"eer": 0.25}}}

    def fake_eval(out_dir):
        calls["eval"] = Path(out_dir)
        return {"metrics": {"test": {"hter": 0.5}}}

    monkeypatch.setattr(train, "run_experiment", fake_run)
    monkeypatch.setattr(runs, "evaluate_run", fake_eval)
    config = tmp_path / "exp.json"
    config.write_text(json.dumps({"backbone": "cnn_s", "fusion": "average", "epochs": 1,
                                  "scales": [1.0, 1.2]}))
    code, out, _ = run(capsys, "train", "--config", str(config), "--out", str(tmp_path / "run"),
                       "--no-resume", "--no-progress")
    assert code == 0 and '"eer": 0.25' in out
    cfg, out_dir, resume, progress = calls["run"]
    assert isinstance(cfg, ExperimentConfig) and cfg.fusion == "average"
    assert cfg.scales == (1.0, 1.2) and out_dir == tmp_path / "run" and not resume
    assert progress is False
    (tmp_path / "run").mkdir()
    code, out, _ = run(capsys, "evaluate", "--run", str(tmp_path / "run"))
    assert code == 0 and '"hter": 0.5' in out and calls["eval"] == tmp_path / "run"
    code, _, err = run(capsys, "train", "--config", str(tmp_path / "missing.yaml"))
    assert code == 2 and "config file not found" in err
    code, _, err = run(capsys, "evaluate", "--run", str(tmp_path / "none"))
    assert code == 2 and "no run folder" in err


def test_train_runs_every_run_of_an_experiment_file(capsys, tmp_path, monkeypatch):
    from fas_lib.training import frames as train
    from fas_lib.training.config import CONFIG_DIR

    table_ii = str(CONFIG_DIR / "table_ii.yaml")
    calls = []

    def fake_run(config, out_dir, resume=True, progress=True):
        calls.append((config, Path(out_dir)))
        return {"metrics": {"frame": {"test_eer": 0.1, "test_hter": 0.2}}}

    monkeypatch.setattr(train, "run_experiment", fake_run)
    code, out, _ = run(capsys, "train", "--config", table_ii, "--set", "epochs=1",
                       "--set", "dataset=casia_fasd", "--out", str(tmp_path), "--no-progress")
    assert code == 0 and "7 runs" in out and "test EER 10.00 %" in out
    assert [c.scales for c, _ in calls] == [(s,) for s in (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)]
    assert {(c.epochs, c.dataset, c.fusion) for c, _ in calls} == {(1, "casia_fasd", "single")}
    assert [d for _, d in calls] == [tmp_path / c.name for c, _ in calls]  # a folder per run
    calls.clear()
    code, _, _ = run(capsys, "train", "--config", table_ii, "--set", "scales=[[1.2]]", "--out", str(tmp_path / "one"), "--no-progress")
    assert code == 0 and [(c.scales, d) for c, d in calls] == [((1.2,), tmp_path / "one")]
    for bad, message in [("epochs", "FIELD=VALUE"), ("learning_rate=1", "unknown config keys")]:
        code, _, err = run(capsys, "train", "--config", table_ii, "--set", bad)
        assert code == 2 and message in err
