"""Tests of fas_lib.core.parallel: results with their job index, the same with 1 or 2 workers, and a
broken pool finished in this process after one warning."""

from __future__ import annotations

import contextlib
import math
import os

import pytest

from fas_lib.core.parallel import THREAD_ENV_VARS, pool_map, single_threaded_children


def test_results_come_back_with_their_index_for_any_number_of_workers():
    jobs = list(range(7))
    for workers in (1, 2):
        with contextlib.closing(pool_map(math.factorial, jobs, workers)) as finished:
            got = dict(finished)
        assert got == {i: math.factorial(i) for i in jobs}


def test_in_process_runner_is_entered_once_and_only_when_needed():
    entered = []

    @contextlib.contextmanager
    def here():
        entered.append(1)
        yield abs

    assert dict(pool_map(abs, [-1, -2], 1, in_process=here)) == {0: 1, 1: 2}
    assert entered == [1]
    assert dict(pool_map(abs, [], 1, in_process=here)) == {} and entered == [1]


def test_broken_pool_warns_once_and_finishes_in_this_process():
    # os._exit kills each pool worker: the pool breaks; this process then runs abs instead
    with pytest.warns(RuntimeWarning) as record:
        got = dict(pool_map(os._exit, [3, 4, 5], 2, what="test work", entry="main",
                            in_process=lambda: contextlib.nullcontext(abs)))
    assert got == {0: 3, 1: 4, 2: 5}
    messages = [str(w.message) for w in record if "process pool" in str(w.message)]
    assert len(messages) == 1
    assert messages[0].startswith("test work: the process pool failed")
    assert "3 of 3 jobs not yet done in this process" in messages[0]
    assert "call main() under `if __name__ == '__main__':`" in messages[0]


def test_single_threaded_children_restores_the_environment(monkeypatch):
    monkeypatch.setenv(THREAD_ENV_VARS[0], "4")
    monkeypatch.delenv(THREAD_ENV_VARS[1], raising=False)
    with single_threaded_children():
        assert all(os.environ[k] == "1" for k in THREAD_ENV_VARS)
    assert os.environ[THREAD_ENV_VARS[0]] == "4" and THREAD_ENV_VARS[1] not in os.environ
