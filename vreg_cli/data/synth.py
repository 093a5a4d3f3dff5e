"""Synthetic CF / FA / OCT / OCTA triplets sharing one vessel mask, and data sets of them in a triplet layout.

``make_triplet`` is the single entry point for tests and demos; ``write_synth_dataset`` writes a data set
that ``vreg prepare`` reads back with the same layout spec (file names come from the spec, so the two
stay in sync).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from vreg_cli.data.config import SynthConfig
from vreg_cli.data.synth_render import render_cf, render_fa, render_oct, render_octa
from vreg_cli.data.synth_vessels import drive_scene, procedural_scene
from vreg_cli.errors import VregError

__all__ = ["make_triplet", "write_synth_dataset"]


_VESSEL_SOURCES = ("procedural", "drive")


def make_triplet(
    seed: int | np.random.Generator, size: int = 256, vessels: str = "procedural"
) -> dict[str, np.ndarray]:
    """One synthetic eye, all images pixel-aligned.

    Returns {"cf": (S, S, 3) uint8 RGB, "fa", "oct", "octa": (S, S) uint8, "vessel": (S, S) bool,
    "fov": (S, S) bool}. ``vessels`` = "procedural" (generated vessel tree), "drive" (a bundled real
    DRIVE manual annotation) or a folder in DRIVE's layout (``vessels/<id>.png``, ``fov/<id>.png``). The same int
    seed always gives the same arrays.
    """
    source = Path(vessels) if vessels not in _VESSEL_SOURCES else None
    if source is not None and not source.is_dir():
        raise VregError(
            f"unknown vessel source {vessels!r}; expected one of {', '.join(_VESSEL_SOURCES)} or a DRIVE-layout folder"
        )
    if size < 32:
        raise VregError(f"synthetic images need size >= 32 (got {size})")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    scene = procedural_scene(rng, size) if vessels == "procedural" else drive_scene(rng, size, source)
    # Each modality gets its own child generator so their noise is independent yet reproducible.
    children = rng.spawn(4)
    return {
        "cf": render_cf(scene, children[0]),
        "fa": render_fa(scene, children[1]),
        "oct": render_oct(scene, children[2]),
        "octa": render_octa(scene, children[3]),
        "vessel": scene.vessel.copy(),
        "fov": scene.fov.copy(),
    }


def write_synth_dataset(
    out_dir: str | os.PathLike,
    n: int = SynthConfig.n,
    layout: str = SynthConfig.layout,
    size: int = SynthConfig.size,
    seed: int = SynthConfig.seed,
    vessels: str = SynthConfig.vessels,
    progress: bool = False,
    workers: int | None = None,
) -> list[str]:
    """Write ``n`` synthetic samples under ``out_dir`` in a triplet layout; returns the sample ids.

    File names are the first candidate of each entry in the layout spec (name or path of a TOML spec);
    sample ids come from the spec's ``synth_id`` template. Sample ``k`` uses seed ``(seed, k)``, so a data
    set of n samples is a prefix of one with more.
    """
    from vreg_cli.data.h5_writer import ordered_map
    from vreg_cli.data.layouts import load_layout
    from vreg_cli.io import write_image
    from vreg_cli.ui import progress as progress_bar

    if n < 1:
        raise VregError(f"--n must be at least 1 (got {n})")
    spec = load_layout(layout)
    out = Path(out_dir)
    ids = [spec.synth_sample_id(k) for k in range(n)]

    def one(k: int) -> None:
        triplet = make_triplet(np.random.default_rng([seed, k]), size=size, vessels=vessels)
        for name, rel in spec.output_paths(ids[k], size).items():
            img = triplet[name]
            write_image(out / rel, img.astype(np.uint8) * 255 if img.dtype == bool else img)
            written.append(out / rel)

    # Threads: OpenCV and most numpy loops release the GIL; every sample has its own seed, so the
    # result does not depend on the thread count.
    written: list[Path] = []
    folders = {out} | {(out / rel).parent for k in range(n) for rel in spec.output_paths(ids[k], size).values()}
    new_folders = [f for f in folders if not f.exists()]
    try:
        # closing(): on a failure the pool finishes its running samples before the cleanup below
        results = ordered_map(one, range(n), workers or min(4, os.cpu_count() or 1))
        with progress_bar(transient=True) as bar, contextlib.closing(results):
            task = bar.add_task("synth", total=n, visible=progress)
            for _, future in results:
                future.result()
                bar.advance(task)
    except BaseException:
        _remove_partial(written, new_folders)
        raise
    return ids


def _remove_partial(files: list[Path], folders: list[Path]) -> None:
    """After a failed ``write_synth_dataset`` (a full disk, Ctrl-C): remove the files it wrote and the folders it
    created (deepest first, only when empty), so no partial data set is left behind."""
    for path in files:
        with contextlib.suppress(OSError):
            path.unlink()
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
