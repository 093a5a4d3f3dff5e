"""`vreg synth`, `vreg prepare`, `vreg info`: make, pack and inspect data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vreg_cli.cli import app, field_default, shown_default, user_errors
from vreg_cli.data.config import PackConfig, SynthConfig
from vreg_cli.errors import VregError
from vreg_cli.limits import check_value, field_range
from vreg_cli.ui import console, stdout

__all__: list[str] = []


@app.command()
@user_errors
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the data set into.")],
    n: Annotated[int, typer.Option("--n", help="Number of samples.")] = field_default(SynthConfig, "n"),
    layout: Annotated[
        str, typer.Option(help="Triplet layout: fives-generated | flat | path to a .toml spec.")
    ] = field_default(SynthConfig, "layout"),
    size: Annotated[int, typer.Option(help="Image size in pixels (square).")] = field_default(SynthConfig, "size"),
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same images.")] = field_default(
        SynthConfig, "seed"
    ),
    vessels: Annotated[
        str,
        typer.Option(
            help="Vessel geometry: procedural | drive (6 bundled real masks) | a folder in DRIVE's layout "
            "(vessels/<id>.png, fov/<id>.png)."
        ),
    ] = field_default(SynthConfig, "vessels"),
) -> None:
    """Write a synthetic CF/FA/OCT/OCTA data set with vessel masks, in a chosen layout."""
    from vreg_cli.data.synth import write_synth_dataset

    for option, name, value in (("--seed", "seed", seed), ("--n", "n", n), ("--size", "size", size)):
        check_value(option, value, field_range(SynthConfig, name))
    ids = write_synth_dataset(out_dir, n, layout=layout, size=size, seed=seed, vessels=vessels, progress=True)
    console.print(
        f"wrote {len(ids)} samples ({layout} layout, {size} px, {vessels} vessels) to {out_dir}", soft_wrap=True
    )


@app.command()
@user_errors
def prepare(
    src: Annotated[Path, typer.Argument(help="Source folder of aligned triplets.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HDF5 file to write.")],
    layout: Annotated[str, typer.Option(help="Triplet layout: fives-generated | flat | path to a .toml spec.")],
    size: Annotated[
        int | None, typer.Option(help="Resize everything to N x N (default: keep the size).")
    ] = field_default(PackConfig, "size"),
    split: Annotated[
        str | None,
        typer.Option(help="train,val,test fractions.", show_default=shown_default(PackConfig, "split")),
    ] = None,  # None: not given (--split-file may be)
    split_file: Annotated[Path | None, typer.Option(help="CSV with header id,split instead of --split.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split assignment.")] = field_default(PackConfig, "seed"),
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip bad samples and list them at the end.")
    ] = field_default(PackConfig, "skip_bad"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = field_default(
        PackConfig, "force"
    ),
) -> None:
    """Validate aligned triplets and pack them into one HDF5 file."""
    from vreg_cli.data.pack import pack

    if split is not None and split_file is not None:
        raise VregError("use --split or --split-file, not both")
    check_value("--seed", seed, field_range(PackConfig, "seed"))
    check_value("--size", size, field_range(PackConfig, "size"))
    fractions = split or field_default(PackConfig, "split")
    result = pack(
        src, out, layout=layout, size=size, split=fractions, seed=seed, split_file=split_file, skip_bad=skip_bad,
        force=force, progress=True,
    )  # fmt: skip
    table = Table(title=out.name, show_header=True)
    table.add_column("split")
    table.add_column("samples", justify="right")
    for name, count in result.split_counts.items():
        table.add_row(name, str(count))
    table.add_row("[bold]total", f"[bold]{result.n}")
    table.add_row("skipped", str(len(result.skipped)))
    stdout.print(table)
    stdout.print(
        f"wrote {out}: size {result.size[1]}x{result.size[0]}, modalities {', '.join(result.modalities)}, "
        "masks vessel, fov",
        soft_wrap=True,
    )
    for line in result.skipped:
        console.print(f"[yellow]skipped:[/] {line}", soft_wrap=True)


@app.command()
@user_errors
def info(path: Annotated[Path, typer.Argument(help="A vreg HDF5 file.")]) -> None:
    """Show what a vreg HDF5 file holds: samples, splits, size, modalities, attributes."""
    from vreg_cli.data.info import describe_h5

    d = describe_h5(path)
    stdout.print(f"{d['path']} ({d['file_mb']:.1f} MB)", soft_wrap=True)
    table = Table(show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("samples", str(d["samples"]))
    table.add_row("splits", ", ".join(f"{k} {v}" for k, v in d["splits"].items()))
    table.add_row("size (H x W)", f"{d['size'][0]} x {d['size'][1]}")
    table.add_row("modalities", ", ".join(d["modalities"]))
    table.add_row("masks", ", ".join(d["masks"]))
    table.add_row("storage", f"chunks {d['chunks']}, {d['compression']}")
    table.add_row("ids", ", ".join(d["example_ids"]) + (" ..." if d["samples"] > 5 else ""))
    for key in sorted(d["attrs"]):
        if key not in ("size", "modalities"):
            table.add_row(f"attr {key}", str(d["attrs"][key]))
    stdout.print(table)


@app.command()
@user_errors
def sample(
    out_dir: Annotated[Path, typer.Argument(help="Folder to copy the pair into (created if needed).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the files if they are there.")] = False,
) -> None:
    """Copy the bundled real CF-FA pair (fixed.png, moving.png, landmarks.csv with 20 hand-marked points) into a folder.

    The folder is then a one-pair `--pairs-dir` for `vreg benchmark` and `vreg register`, in the default layout.
    """
    from vreg_cli.paths import SAMPLE_DIR, atomic_output, output_group

    names = ("fixed.png", "moving.png", "landmarks.csv")
    with output_group():
        for name in names:
            with atomic_output(out_dir / name, force=force) as tmp:
                tmp.write_bytes((SAMPLE_DIR / name).read_bytes())
    stdout.print(f"copied the bundled CF-FA pair to {out_dir}: {', '.join(names)}", soft_wrap=True)
    stdout.print(
        f"next: vreg register {out_dir / 'fixed.png'} {out_dir / 'moving.png'} -o registered.png", soft_wrap=True
    )
