"""`vreg prepare`: validated triplet samples from a source tree -> one vreg HDF5 file (schema in h5.py).

The file is written beside the target under a temporary name and renamed only when complete, so a failed or
interrupted run never leaves a partial target.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vreg_cli import __version__
from vreg_cli.data import h5 as schema
from vreg_cli.data.config import PackConfig
from vreg_cli.data.h5_writer import create_datasets, encode_sample, ordered_map, write_sample
from vreg_cli.data.layouts import load_layout
from vreg_cli.data.samples import BadSample, LoadedSample, check_present, image_hw, load_sample
from vreg_cli.data.splits import assign_splits, parse_fractions, read_split_file
from vreg_cli.errors import VregError
from vreg_cli.paths import atomic_output, check_output_path
from vreg_cli.ui import progress as progress_bar
from vreg_cli.ui import warn

__all__ = ["pack"]


@dataclass
class PackResult:
    """What `pack` wrote: sample count per split, stored modalities, (H, W), skipped (file/reason lines)."""

    out: Path
    n: int
    split_counts: dict[str, int]
    modalities: list[str]
    size: tuple[int, int]
    skipped: list[str] = field(default_factory=list)


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=h5py.string_dtype())


def pack(
    src: str | os.PathLike,
    out: str | os.PathLike,
    layout: str = "fives-generated",
    size: int | None = PackConfig.size,
    split: tuple[float, float, float] | str = PackConfig.split,
    seed: int = PackConfig.seed,
    split_file: str | os.PathLike | None = None,
    skip_bad: bool = PackConfig.skip_bad,
    force: bool = PackConfig.force,
    progress: bool = False,
    workers: int | None = None,
) -> PackResult:
    """Pack every sample of ``src`` (found with the triplet ``layout``) into the HDF5 file ``out``.

    size: output N x N (None keeps the common size and fails when samples differ). split: train/val/test
    fractions, permuted with ``seed``; or ``split_file`` (CSV id,split). The first bad sample raises
    BadSample (exit 2) unless ``skip_bad``, which skips and reports them in ``PackResult.skipped``.
    workers: decoding/compression threads (default: min(4, CPUs)); the output does not depend on it.
    """
    src, out = Path(src), Path(out)
    if out.exists() and not force:
        raise VregError(f"{out} exists; use --force to replace it")
    check_output_path(out)  # a directory or an unwritable folder fails now, not after packing
    fractions = parse_fractions(split)
    assigned = read_split_file(split_file) if split_file is not None else None
    spec = load_layout(layout)
    samples = spec.find_samples(src)
    skipped: list[str] = []

    def bad(exc: BadSample) -> None:
        if not skip_bad:
            raise exc
        skipped.append(str(exc))

    good, sizes = [], {}
    for sample in samples:  # cheap pass: required files present, sizes from headers
        try:
            check_present(sample, spec, src)
            if size is None:
                sizes[sample.id] = image_hw(sample.files["cf"])
            good.append(sample)
        except BadSample as exc:
            bad(exc)
    if not good:
        raise VregError(f"{src}: no valid samples to pack ({len(skipped)} skipped)")
    out_hw = _output_size(size, sizes, src)
    modalities = _stored_modalities(good)
    ids: list[str] = []
    provenance: dict[str, list[str]] = {name: [] for name in [*modalities, *schema.MASKS]}
    source_hw: list[tuple[int, int]] = []

    def work(sample) -> tuple[LoadedSample, dict]:
        loaded = load_sample(sample, modalities, out_hw if size is not None else None, src)
        if loaded.images["cf"].shape[:2] != out_hw:
            raise BadSample(f"{sample.files['cf']}: decoded size differs from its header")
        return loaded, encode_sample(loaded)

    threads = workers or min(4, os.cpu_count() or 1)
    with atomic_output(out, force=force) as tmp:
        with h5py.File(tmp, "w") as f, progress_bar() as bar:
            create_datasets(f, len(good), out_hw, modalities)
            task = bar.add_task("packing", total=len(good), visible=progress)
            for _, future in ordered_map(work, good, threads):
                try:
                    loaded, chunks = future.result()
                except BadSample as exc:
                    bad(exc)
                    bar.advance(task)
                    continue
                write_sample(f, len(ids), chunks)
                ids.append(loaded.id)
                source_hw.append(loaded.source_hw)
                for name in provenance:
                    provenance[name].append(loaded.provenance[name])
                bar.advance(task)
            if not ids:
                raise VregError(f"{src}: no valid samples to pack ({len(skipped)} skipped)")
            for name in [*(f"images/{m}" for m in modalities), *(f"masks/{m}" for m in schema.MASKS)]:
                f[name].resize(len(ids), axis=0)
            splits = assign_splits(ids, fractions, seed, assigned)
            f.create_dataset("ids", data=_strings(ids))
            f.create_dataset("split", data=_strings(splits))
            f.create_dataset("source_size", data=np.array(source_hw, np.int32))
            for name, values in provenance.items():
                f.create_dataset(f"provenance/{name}", data=_strings(values))
            f.attrs.update(_root_attributes(spec, src, out_hw, seed, fractions, split_file, modalities, len(skipped)))
    counts = {s: int(sum(x == s for x in splits)) for s in schema.SPLITS}
    return PackResult(out, len(ids), counts, modalities, out_hw, skipped)


def _output_size(size: int | None, sizes: dict[str, tuple[int, int]], src: Path) -> tuple[int, int]:
    """(H, W) of the packed images: ``size`` x ``size``, else the samples' common size (VregError when they differ)."""
    if size is not None:
        if size < 8:
            raise VregError(f"--size must be at least 8 (got {size})")
        return (size, size)
    distinct = sorted(set(sizes.values()))
    if len(distinct) > 1:
        example = ", ".join(f"{w}x{h}" for h, w in distinct[:3])
        raise VregError(f"{src}: samples have different sizes ({example}); pass --size N to resize them")
    return distinct[0] if distinct else (0, 0)


def _stored_modalities(good: list) -> list[str]:
    """The required modalities, and each optional one that every sample has (a warning for one only some have)."""
    modalities = list(schema.REQUIRED_MODALITIES)
    for name in schema.OPTIONAL_MODALITIES:
        have = sum(name in s.files for s in good)
        if have == len(good) and good:
            modalities.append(name)
        elif have:
            warn(f"{name} found for {have} of {len(good)} samples; not stored (a modality needs every sample)")
    return modalities


def _root_attributes(
    spec: Any, src: Path, out_hw: tuple[int, int], seed: int, fractions: tuple[float, ...],
    split_file: str | os.PathLike | None, modalities: list[str], skipped: int,
) -> dict[str, Any]:  # fmt: skip
    """The HDF5 file's root attributes (``data_specs/hdf5_schema.md``)."""
    return {
        "format": schema.FORMAT,
        "schema_version": schema.SCHEMA_VERSION,
        "layout": spec.name,
        "layout_spec": str(spec.path),
        "source": str(src.resolve()),
        "size": np.array(out_hw, np.int64),
        "seed": seed,
        "split_fractions": np.array(fractions, np.float64),
        "split_file": str(split_file) if split_file is not None else "",
        "modalities": _strings(modalities),
        "skipped": skipped,
        "vreg_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
