"""Worker processes for ``register --workers`` and ``benchmark --workers``: spawned, sharing the cores fairly."""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool", "set_library_threads", "share_cores"]


def share_cores(workers: int) -> None:
    """A worker's start: give its OpenCV and torch ``cpu_count // workers`` threads each (at least 1), and leave
    Ctrl-C to the parent.

    Each process otherwise starts one thread per core in both libraries, and ``workers`` of them oversubscribe
    the machine. torch is imported here, inside the worker; it is skipped where it is not installed. Ctrl-C reaches
    every process of the terminal's group: the workers ignore it (no traceback from each), and the parent, which
    gets it too, cancels their tasks and prints one line.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_library_threads(max(1, (os.cpu_count() or 1) // workers))


def set_library_threads(threads: int) -> None:
    """Let OpenCV and torch (where installed) use ``threads`` threads each in this process."""
    import cv2

    cv2.setNumThreads(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, each running ``share_cores(workers)`` first."""
    # spawn, not fork: torch / OpenCV thread pools and CUDA do not survive a fork.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=share_cores,
        initargs=(workers,),
    )
