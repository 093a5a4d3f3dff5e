"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a test module: tiny images run faster so, and a small shared CI machine is not
    oversubscribed by OpenMP (use with ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory) -> Path:
    """Two synthetic 128 px triplets packed into a vreg HDF5, all in the test split."""
    from vreg_cli.data.pack import pack
    from vreg_cli.data.synth import write_synth_dataset

    root = tmp_path_factory.mktemp("h5")
    write_synth_dataset(root / "src", 2, size=128, seed=0)
    pack(root / "src", root / "d.h5", size=128, split=(0.0, 0.0, 1.0))
    return root / "d.h5"
