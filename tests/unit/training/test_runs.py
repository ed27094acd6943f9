"""Unit tests of fas_lib.training.runs: run folder names, checkpoints, reading a run back."""

from __future__ import annotations

import pytest
import torch

from fas_lib.training.config import ExperimentConfig
from fas_lib.training.runs import (
    CHECKPOINT,
    data_key,
    load_checkpoint,
    load_run,
    read_results,
    run_dir,
    save_checkpoint,
    selected_epoch,
    selection_report,
)
from tests.frame_fakes import TinyCache


def test_run_dir_depends_on_config(tmp_path):
    a = run_dir(ExperimentConfig(epochs=2), tmp_path)
    b = run_dir(ExperimentConfig(epochs=3), tmp_path)
    c = run_dir(ExperimentConfig(epochs=2, device="cuda"), tmp_path)
    assert a != b and a == c and a.parent == tmp_path


def test_data_key_follows_the_data_not_its_folder():
    a, b = TinyCache(seed=0), TinyCache(seed=1)
    assert data_key(a) != data_key(b)                      # other data (root name)
    moved = TinyCache(seed=0)
    moved.manifest = {**moved.manifest, "root": "/elsewhere/tiny-0"}
    assert data_key(moved) == data_key(a)                  # same data, moved
    fewer = TinyCache(seed=0)
    fewer.manifest = {**fewer.manifest, "counts": {"frames": {"train": 19}}}
    assert data_key(fewer) != data_key(a)                  # a re-made cache


def test_checkpoint_round_trip_and_errors(tmp_path):
    save_checkpoint(tmp_path / CHECKPOINT, {"epoch": 3, "w": torch.arange(4)})
    ck = load_checkpoint(tmp_path / CHECKPOINT)
    assert ck["epoch"] == 3 and torch.equal(ck["w"], torch.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]   # no temporary file left
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_run(tmp_path / "empty")
    assert read_results(tmp_path) is None


def test_checkpoint_on_a_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    """torch.save on a full disk fails with 'unexpected pos'; the error says the disk is full,
    the previous checkpoint stays and no temporary file is left."""
    import shutil
    from collections import namedtuple

    from fas_lib.training import runs
    save_checkpoint(tmp_path / CHECKPOINT, {"epoch": 1})

    def full_disk_save(state, f):
        open(f, "wb").write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 2")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(runs.torch, "save", full_disk_save)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 * 2**30, 10 * 2**30, 2**20))
    with pytest.raises(OSError, match="the disk is full .1 MiB free.") as info:
        save_checkpoint(tmp_path / CHECKPOINT, {"epoch": 2})
    assert info.value.errno == 28
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 * 2**30, 0, 10 * 2**30))
    with pytest.raises(RuntimeError, match="unexpected pos"):   # space left: the error as is
        save_checkpoint(tmp_path / CHECKPOINT, {"epoch": 2})
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]
    assert load_checkpoint(tmp_path / CHECKPOINT)["epoch"] == 1


def test_selected_epoch_lowest_dev_eer_ties_to_the_later():
    h = [{"epoch": 1, "dev_eer": 0.2}, {"epoch": 2, "dev_eer": 0.1},
         {"epoch": 3, "dev_eer": 0.3}, {"epoch": 4, "dev_eer": 0.1}]
    assert selected_epoch(h) == 4
    assert selected_epoch(h[:3]) == 2
    nan_first = [{"epoch": 1, "dev_eer": float("nan")}, {"epoch": 2, "dev_eer": 0.5}]
    assert selected_epoch(nan_first) == 2  # an undefined dev EER never wins
    assert selected_epoch([{"epoch": 1, "loss": 0.3}]) is None


def test_opt_in_fields_leave_existing_run_folders_alone(tmp_path):
    # folder names of runs that do not use augment / select_on_dev / init_from: the names they
    # had before those fields existed (computed on the commit that added them, from its parent;
    # the cpu preset's name since its schedule became 4:3, issue 24: d03e8a94 at 10:7)
    assert run_dir(ExperimentConfig(), "r").name == "cnn_s-msfans-1.1_1.2_1.3-s0-dc93267b"
    single = ExperimentConfig(preset="paper", fusion="single", scales=(1.2,))
    assert run_dir(single, "r").name == "cnn_s-single-1.2-s0-c5ea7dc2"
    off = ExperimentConfig(augment=(), select_on_dev=False, init_from=None)
    assert run_dir(off, "r") == run_dir(ExperimentConfig(), "r")
    assert run_dir(ExperimentConfig(augment=("jpeg",)), "r") != run_dir(ExperimentConfig(), "r")
    assert run_dir(ExperimentConfig(preset="robust"), "r") != run_dir(ExperimentConfig(), "r")


def test_selection_report_says_when_dev_cannot_rank_the_epochs():
    h = [{"epoch": 1, "dev_eer": 0.2}, {"epoch": 2, "dev_eer": 0.1},
         {"epoch": 3, "dev_eer": 0.3}, {"epoch": 4, "dev_eer": 0.1}]
    rep = selection_report(h)
    assert rep["epoch"] == 4 and rep["tied"] == [2, 4] and not rep["blind"]
    assert rep["dev_eer"] == [0.2, 0.1, 0.3, 0.1]
    saturated = [{"epoch": 1, "dev_eer": 0.05}, {"epoch": 2, "dev_eer": 0.0},
                 {"epoch": 3, "dev_eer": float("nan")}, {"epoch": 4, "dev_eer": 0.0}]
    rep = selection_report(saturated)
    assert rep["epoch"] == 4 and rep["tied"] == [2, 4] and rep["blind"]
    # one perfect epoch is a choice dev made, not a tie
    assert not selection_report(saturated[:2])["blind"]
    assert selection_report([{"epoch": 1, "loss": 0.3}]) is None
    # a dev EER undefined at every epoch (one class in dev): no tie to report, nothing blind
    undefined = selection_report([{"epoch": 1, "dev_eer": float("nan")},
                                  {"epoch": 2, "dev_eer": float("nan")}])
    assert undefined["tied"] == [] and not undefined["blind"]
