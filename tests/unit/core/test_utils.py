"""Unit tests of fas_lib.core.utils: the environment report, data folder, seeds and results files."""

from __future__ import annotations

import json
import os
import platform

import numpy as np
import pytest
import torch

import fas_lib
from fas_lib.core import utils


def test_environment_reports_installed_versions_and_machine():
    env = utils.environment()
    assert env["python"] == platform.python_version()
    assert env["torch"] == torch.__version__ and env["numpy"] == np.__version__
    assert env["fas_lib"] == fas_lib.__version__
    assert env["cpu_cores"] == os.cpu_count() and env["torch_threads"] == torch.get_num_threads()
    assert env["device"] in ("cpu", "cuda")
    assert "missing" not in env.values()          # every dependency of the project imports


def test_environment_marks_a_missing_package(monkeypatch):
    monkeypatch.setitem(utils._PACKAGES, "no_such_module_xyz", "xyz")
    assert utils.environment()["xyz"] == "missing"


def test_environment_line_names_the_keys_in_order():
    line = utils.environment_line(("python", "cpu_cores", "torch_threads"))
    assert line == (f"python {platform.python_version()} | cores {os.cpu_count()} | "
                    f"threads {torch.get_num_threads()}")


def test_data_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("FAS_DATA_DIR", str(tmp_path))
    assert utils.data_dir() == tmp_path
    monkeypatch.delenv("FAS_DATA_DIR")
    assert utils.data_dir() == utils.Path.home() / ".cache" / "fas_lib"


def test_set_seed_makes_numpy_and_torch_repeat():
    utils.set_seed(7)
    a = (np.random.rand(3), torch.rand(3))
    utils.set_seed(7)
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_save_and_load_results_round_trip(tmp_path):
    path = utils.save_results({"eer": np.float32(0.25), "scales": (0.9, 1.0),
                               "arr": np.arange(3)}, "07_x", tmp_path)
    assert path == tmp_path / "07_x.json"
    data = json.loads(path.read_text())
    assert data["eer"] == pytest.approx(0.25) and data["scales"] == [0.9, 1.0]
    assert data["arr"] == [0, 1, 2]
    assert utils.load_results("07_x", tmp_path)["scales"] == [0.9, 1.0]


def test_save_results_writes_strict_json(tmp_path):
    path = utils.save_results({"a": float("nan"), "b": [np.float64("inf"), 1.5],
                               "c": np.float32("nan")}, "07_nan", tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": None}


def test_environment_can_report_only_some_packages():
    env = utils.environment(packages=("numpy", "opencv"))
    assert env["numpy"] == np.__version__ and "opencv" in env
    assert not {"torch", "device", "torch_threads"} & set(env)   # nothing that imports torch


_TUNE = ("from fas_lib.core.utils import tune_malloc; "
         "first = tune_malloc(); print(first, tune_malloc() == first)")


def _tune_in_child(flag: str | None) -> str:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "FAS_MALLOC_TUNING"}
    if flag is not None:
        env["FAS_MALLOC_TUNING"] = flag
    out = subprocess.run([sys.executable, "-c", _TUNE], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_tune_malloc_applies_once_on_glibc_and_can_be_switched_off():
    assert _tune_in_child(None) == "True True"  # every mallopt call accepted, idempotent
    assert _tune_in_child("1") == "True True"
    assert _tune_in_child("0") == "False True"


def test_run_experiment_tunes_the_allocator(monkeypatch, tmp_path):
    from fas_lib.training import frames as train
    calls = []
    monkeypatch.setattr(train, "tune_malloc", lambda: calls.append(1) or True)
    with pytest.raises(ValueError, match="unknown fusion"):  # fails after resolve, before data
        train.run_experiment(dict(fusion="nope"), tmp_path)
    assert calls == []  # a bad config is refused before anything else happens
    monkeypatch.setattr(train, "open_experiment_cache",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop here")))
    with pytest.raises(RuntimeError, match="stop here"):
        train.run_experiment(dict(fusion="single", scales=(1.2,)), tmp_path)
    assert calls == [1]


def test_atomic_path_renames_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    with utils.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and not tmp.exists()
        tmp.write_text("one")
    assert target.read_text() == "one"
    with pytest.raises(RuntimeError, match="boom"):
        with utils.atomic_path(target) as tmp:
            tmp.write_text("two")
            raise RuntimeError("boom")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]  # no temporary left behind


def test_smoke_runs_never_write_into_the_committed_outputs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(utils.REPO_ROOT / "notebooks")  # where a notebook runs
    moved = utils.smoke_output_dirs(True, "../figures", "../results", tmp_path / "mine")
    assert moved == (str(utils.REPO_ROOT / "build" / "smoke" / "figures"),
                     str(utils.REPO_ROOT / "build" / "smoke" / "results"), str(tmp_path / "mine"))
    assert "SMOKE: writing figures to" in capsys.readouterr().out
    assert utils.smoke_output_dirs(False, "../figures", "../results") == ("../figures",
                                                                         "../results")


def test_cpu_facts_from_cpuinfo_text():
    facts = utils.cpu_facts("processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 2000.000\n"
                      "flags\t\t: fpu avx fma avx2\nprocessor\t: 1\nmodel name\t: Test CPU\n"
                      "cpu MHz\t\t: 2500.000\nflags\t\t: fpu avx fma avx2\n")
    assert facts["cpu"] == "Test CPU" and facts["mhz"] == [2000.0, 2500.0]
    assert facts["flags"] == frozenset({"fpu", "avx", "fma", "avx2"})
    assert utils.cpu_facts("") == {"cpu": None, "flags": frozenset(), "mhz": []}  # not Linux
    here = utils.cpu_facts()  # this machine's file (or none): always the three keys
    assert set(here) == {"cpu", "flags", "mhz"}
