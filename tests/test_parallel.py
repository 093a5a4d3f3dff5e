"""Worker processes share the cores: torch and OpenCV in each of N workers get cpu_count // N threads."""

from __future__ import annotations

import os

import cv2
import torch

from vreg_cli.parallel import process_pool


def test_each_worker_gets_its_share_of_the_cores() -> None:
    workers = 2
    with process_pool(workers) as pool:
        torch_threads = {pool.submit(torch.get_num_threads).result() for _ in range(workers)}
        cv2_threads = {pool.submit(cv2.getNumThreads).result() for _ in range(workers)}
    expected = max(1, (os.cpu_count() or 1) // workers)
    assert torch_threads == {expected}
    assert cv2_threads == {expected}
