"""Unit tests of fas_lib.training.pool: runs trained side by side in spawned workers.

The pooled runs are checked against the same runs trained alone with the workers' thread
count (bit-identical scores), and ``run_many`` against a pool that finishes out of order.
"""

from __future__ import annotations

import json
import operator
import pickle

import pandas as pd
import pytest
import torch

import fas_lib.studies.tables as tables
from fas_lib.cache.reader import CropCache
from fas_lib.cache.views import ProtocolView, protocol_view
from fas_lib.core.parallel import uses_pool
from fas_lib.training import pool
from fas_lib.training.config import ExperimentConfig
from fas_lib.training.runs import run_dir

FAST = dict(epochs=1, batch_size=4, lr=1e-3, milestones=(), device="cpu")


def test_run_workers_default_env_and_device(monkeypatch):
    monkeypatch.delenv(pool.RUN_WORKERS_ENV, raising=False)
    assert pool.run_workers("cpu") == 1
    monkeypatch.setenv(pool.RUN_WORKERS_ENV, "3")
    assert pool.run_workers("cpu") == 3 and pool.run_workers(None) == 3
    assert pool.run_workers("cuda") == 1
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv(pool.RUN_WORKERS_ENV, bad)
        with pytest.raises(ValueError, match="FAS_RUN_WORKERS"):
            pool.run_workers()


def test_worker_threads_share_the_cores(monkeypatch):
    monkeypatch.setattr(pool.os, "cpu_count", lambda: 8)
    assert [pool.worker_threads(w) for w in (1, 2, 3, 16)] == [8, 4, 2, 1]
    assert uses_pool(2, 2) and not uses_pool(2, 1) and not uses_pool(1, 5)


def test_train_runs_returns_every_job_in_and_out_of_a_pool():
    jobs = [3, -1, 7]
    for workers in (1, 2):
        got = dict(pool.train_runs(operator.neg, jobs, workers, progress=False))
        assert got == {0: -3, 1: 1, 2: -7}


def test_caches_pickle_as_their_folder_and_protocol(three_session_cache):
    cache = CropCache(three_session_cache.path)
    cache.crops("train")  # an opened memory map is not what travels
    blob = pickle.dumps(cache)
    assert len(blob) < 1000
    back = pickle.loads(blob)
    assert back.path == cache.path and back.scales == cache.scales
    view = protocol_view(cache, "p1")
    again = pickle.loads(pickle.dumps(view))
    assert isinstance(again, ProtocolView)
    pd.testing.assert_frame_equal(again.table, view.table)
    assert again.manifest == view.manifest
    assert (again.crops("test") == view.crops("test")).all()

    class Other(CropCache):
        pass

    odd = Other(cache.path)
    with pytest.raises(TypeError, match="Other cannot be sent"):
        pickle.dumps(odd)


def _configs() -> list[ExperimentConfig]:
    return [ExperimentConfig(scales=(s,), fusion="single", seed=1, **FAST) for s in (1.0, 1.5)]


def test_run_many_in_a_pool_equals_each_run_alone(three_session_cache, tmp_path):
    cache = CropCache(three_session_cache.path)
    configs = _configs()
    pooled = tables.run_many(configs, tmp_path / "pool", cache, progress=False, workers=2)
    threads = pool.worker_threads(2)
    assert [r["timing"]["threads"] for r in pooled] == [threads, threads]
    assert [r["run_dir"] for r in pooled] == [
        str(run_dir(c, tmp_path / "pool", cache)) for c in configs]
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        alone = tables.run_many(configs, tmp_path / "alone", cache, progress=False, workers=1)
    finally:
        torch.set_num_threads(old)
    for p, a in zip(pooled, alone, strict=True):
        sp = pd.read_csv(f"{p['run_dir']}/scores.csv")
        sa = pd.read_csv(f"{a['run_dir']}/scores.csv")
        pd.testing.assert_frame_equal(sp, sa)  # bit-identical scores
        assert p["metrics"] == a["metrics"]
    # finished runs are read back, not trained again (a pool would retrain them)
    before = {r["run_dir"]: json.loads(open(f"{r['run_dir']}/results.json").read())
              for r in pooled}
    again = tables.run_many(configs, tmp_path / "pool", cache, progress=False, workers=2)
    assert [{k: v for k, v in r.items() if k != "run_dir"} for r in again] == list(
        before.values())


def test_run_many_trains_a_shared_folder_once(three_session_cache, tmp_path, monkeypatch):
    cache = CropCache(three_session_cache.path)
    (one, _) = _configs()
    seen = []

    def fake(job):
        seen.append(job[1])
        return {"complete": True, "metrics": {}, "name": job[0].name}

    monkeypatch.setattr(tables, "_train_job", fake)
    out = tables.run_many([one, one], tmp_path, cache, progress=False, workers=1)
    assert len(seen) == 1 and out[0] == out[1]
