"""Writing the per-sample datasets of a vreg HDF5 file quickly: chunks compressed in worker threads.

Every image/mask dataset has one chunk per sample. zlib (the HDF5 gzip filter's format) releases the GIL,
so samples are decoded, resized and compressed in a thread pool and the main thread only hands the finished
chunks to HDF5 (``write_direct_chunk``), in sample order. Without gzip the writer falls back to plain writes.
"""

from __future__ import annotations

import itertools
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import h5py
import numpy as np

from vreg_cli.data import h5 as schema
from vreg_cli.data.samples import LoadedSample

__all__ = ["create_datasets", "encode_sample", "ordered_map", "write_sample"]


T = TypeVar("T")
R = TypeVar("R")


def create_datasets(f: h5py.File, n: int, hw: tuple[int, int], modalities: list[str]) -> None:
    """Pre-allocate image and mask datasets for n samples, one chunk per sample (cheap random access)."""
    for name in modalities:
        shape = (n, *hw, 3) if name == "cf" else (n, *hw)
        f.create_dataset(
            f"images/{name}", shape=shape, maxshape=(None, *shape[1:]), dtype=np.uint8,
            chunks=(1, *shape[1:]), **schema.COMPRESSION,
        )  # fmt: skip
    for name in schema.MASKS:
        f.create_dataset(
            f"masks/{name}", shape=(n, *hw), maxshape=(None, *hw), dtype=np.uint8,
            chunks=(1, *hw), **schema.COMPRESSION,
        )  # fmt: skip


def encode_sample(sample: LoadedSample) -> dict[str, np.ndarray | bytes]:
    """{dataset path: chunk} for one sample: zlib bytes when the schema compresses with gzip, else arrays."""
    arrays: dict[str, np.ndarray] = {f"images/{k}": v for k, v in sample.images.items()}
    arrays.update({f"masks/{k}": sample.masks[k].astype(np.uint8) for k in schema.MASKS})
    settings = schema.COMPRESSION
    if settings.get("compression") != "gzip":
        return dict(arrays)
    level = int(settings.get("compression_opts", 4))
    return {k: zlib.compress(np.ascontiguousarray(v).tobytes(), level) for k, v in arrays.items()}


def write_sample(f: h5py.File, k: int, chunks: dict[str, np.ndarray | bytes]) -> None:
    """Store one encoded sample as row k of every dataset."""
    for name, chunk in chunks.items():
        dset = f[name]
        if isinstance(chunk, bytes):
            dset.id.write_direct_chunk((k,) + (0,) * (dset.ndim - 1), chunk)
        else:
            dset[k] = chunk


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Generator[tuple[T, Future], None, None]:
    """Run fn over items in a thread pool, yielding (item, future) in input order.

    At most 2 * workers items are in flight, so memory stays bounded when the consumer is slower. Closing
    the iterator early (an error in the consumer) cancels what has not started.
    """
    it = iter(items)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[tuple[T, Future]] = deque(
            (item, pool.submit(fn, item)) for item in itertools.islice(it, 2 * max(1, workers))
        )
        try:
            while pending:
                item, future = pending.popleft()
                for nxt in itertools.islice(it, 1):
                    pending.append((nxt, pool.submit(fn, nxt)))
                yield item, future
        finally:
            for _, future in pending:
                future.cancel()
