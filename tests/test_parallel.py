"""Worker processes share the cores: torch and OpenCV in each of N workers get cpu_count // N threads.

Both tests hold on any number of cores: the share is checked with a faked core count in-process, and the pool's
workers start from a thread count planted in their environment that only ``share_cores`` can replace.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cv2
import pytest
import torch

from vreg_cli import parallel
from vreg_cli.parallel import process_pool, share_cores


def _worker_state(barrier: Any) -> tuple[int, int, int]:
    """(pid, OpenCV threads, torch threads) of the worker, once every worker is inside this call at once."""
    barrier.wait()
    return os.getpid(), cv2.getNumThreads(), torch.get_num_threads()


def test_share_cores_divides_the_cores_between_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 8)
    before = cv2.getNumThreads(), torch.get_num_threads()
    try:
        for workers, share in ((1, 8), (2, 4), (3, 2), (16, 1)):
            share_cores(workers)
            assert (cv2.getNumThreads(), torch.get_num_threads()) == (share, share), workers
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


@pytest.mark.slow
def test_each_worker_process_gets_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    workers = 2
    expected = max(1, (os.cpu_count() or 1) // workers)
    # A spawned process without share_cores starts with this many OpenCV (and, given the cores, torch) threads.
    decoy = str(expected + 3)
    monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", decoy)
    monkeypatch.setenv("OMP_NUM_THREADS", decoy)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as plain:  # the control: the decoy takes effect
        assert plain.submit(cv2.getNumThreads).result() == int(decoy)
    with spawn.Manager() as manager, process_pool(workers) as pool:
        barrier = manager.Barrier(workers, timeout=120)  # both tasks run at once: one in each worker
        states = [f.result() for f in [pool.submit(_worker_state, barrier) for _ in range(workers)]]
    pids = {pid for pid, _, _ in states}
    assert len(pids) == workers and os.getpid() not in pids
    assert {cv for _, cv, _ in states} == {expected}
    assert {th for _, _, th in states} == {expected}
