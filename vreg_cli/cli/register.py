"""`vreg register` (one pair or a batch) and `vreg match`: thin Typer layer over the API (``vreg_cli.api``) / batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vreg_cli.cli import app, field_default, parse_range, shown_default, user_errors
from vreg_cli.context import MODELS, REFERENCE_SIDE, RegistrationContext
from vreg_cli.data.config import DEFAULT_LAYOUT
from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.limits import MIN_WORKING_SIZE, field_range
from vreg_cli.methods.registry import METHODS, spec_with_option
from vreg_cli.read_options import OCT_IMAGES, ReadOptions
from vreg_cli.ui import warn

__all__ = ["SizeOpt"]


MethodOpt = Annotated[
    str,
    typer.Option(
        "--method",
        help=f"{' | '.join(METHODS)}, or a spec with options such as classic:angle_step=6 or "
        "loftr:prealign=none (`vreg methods` lists every option).",
    ),
]
WeightsOpt = Annotated[Path | None, typer.Option("--weights", help="LoFTR weights (MINIMA/LoFTR release file).")]
CheckpointOpt = Annotated[Path | None, typer.Option("--checkpoint", help="LoFTR weights from `vreg train`.")]
# The registration options' defaults and limits are the RegistrationContext's (the options that default to None
# leave the context's default in place and show it); tests/test_cli_defaults.py checks each against its field.
_ROTATION = field_range(RegistrationContext, "max_rotation")
SizeOpt = Annotated[
    int, typer.Option("--working-size", min=MIN_WORKING_SIZE, help="Long side (px) both images are matched at.")
]
RotOpt = Annotated[
    float | None,
    typer.Option(
        "--max-rotation",
        min=_ROTATION.lo,
        max=_ROTATION.hi,
        help="Largest expected |rotation| in degrees.",
        show_default=shown_default(RegistrationContext, "max_rotation"),
    ),
]
ScaleOpt = Annotated[
    str | None,
    typer.Option(
        "--scale-range",
        help="Allowed field-of-view scale, LOW,HIGH.",
        show_default=shown_default(RegistrationContext, "scale_range"),
    ),
]
ModelOpt = Annotated[str, typer.Option("--model", help=f"{' | '.join(MODELS)}.")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help=f"MAGSAC++ threshold, px at {REFERENCE_SIDE} px.",
        show_default=shown_default(RegistrationContext, "threshold_px"),
    ),
]
_WORKING_SIZE = field_default(RegistrationContext, "working_size")
# how multi-picture files are read: the defaults, the range and the choices are ReadOptions' (docs/oct-and-dicom.md)
_FRAME = field_range(ReadOptions, "frame")
FrameOpt = Annotated[
    int | None,
    typer.Option(
        "--frame", min=_FRAME.lo, max=_FRAME.hi, show_default=False,
        help="The frame (0-based) of a multi-frame DICOM image (default: a single-frame file's only frame).",
    ),
]  # fmt: skip
OctImageOpt = Annotated[
    str,
    typer.Option(
        "--oct-image",
        help=f"The picture of an OCT volume (.vol, .e2e, .fda, .xml, .eye) registered: {' | '.join(OCT_IMAGES)}.",
    ),
]
_OCT_IMAGE = field_default(ReadOptions, "oct_image")


def read_options(frame: int | None, oct_image: str) -> ReadOptions:
    """``--frame`` and ``--oct-image`` as ReadOptions (VregError naming the option for a bad value)."""
    if oct_image not in OCT_IMAGES:
        raise VregError(f"--oct-image {oct_image!r}: choose from {', '.join(OCT_IMAGES)}")
    return ReadOptions(frame=frame, oct_image=oct_image)  # type: ignore[arg-type]


def method_spec(method: str, weights: Path | None, checkpoint: Path | None) -> str:
    """Combine --method with --weights / --checkpoint into one method spec (the registry says which methods take
    them)."""
    if weights and checkpoint:
        raise VregError("give --weights or --checkpoint, not both")
    if not (weights or checkpoint):
        return method
    key, path = ("weights", weights) if weights else ("checkpoint", checkpoint)
    return spec_with_option(method, key, str(path), flag=f"--{key}")


def _table(rows: dict[str, str]) -> None:
    from rich.table import Table

    from vreg_cli.ui import stdout

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # long paths (weights, outputs) wrap at 80 columns instead of being cut
    for key, value in rows.items():
        table.add_row(f"[bold]{key}[/]", value)
    stdout.print(table)


def _summary_rows(reg: Any, why: str, landmarks: dict[str, float] | None) -> dict[str, str]:
    j = reg.to_dict()
    rows = {
        "method": f"{j['method']} ({why})",
        "matches": str(j["matches"]),
        "inliers": str(j["inliers"]),
        "inlier ratio": f"{j['inlier_ratio']:.1%}",
        "rotation": f"{j['rotation_deg']:.1f} deg",
        "scale": f"{j['scale']:.3f}",
        "seconds": f"{j['seconds']:.2f}",
    }
    if reg.decision:
        rows["decision"] = reg.decision
    if reg.info.strategy:
        rows["strategy"] = reg.info.strategy
    if landmarks:
        lm = landmarks
        rows["landmark error"] = (
            f"mean {lm['lm_mean']:.2f} px, median {lm['lm_median']:.2f} px, max {lm['lm_max']:.2f} px"
        )
    return rows


@app.command()
@user_errors
def register(
    fixed: Annotated[Path | None, typer.Argument(help="Fixed image (colour fundus).", show_default=False)] = None,
    moving: Annotated[Path | None, typer.Argument(help="Moving image (FA / OCT en-face).", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="MOVING warped into the fixed frame.")] = None,
    method: MethodOpt = "auto",
    weights: WeightsOpt = None,
    checkpoint: CheckpointOpt = None,
    model: ModelOpt = field_default(RegistrationContext, "model"),
    working_size: SizeOpt = _WORKING_SIZE,
    threshold: ThresholdOpt = None,
    transform_out: Annotated[Path | None, typer.Option("--transform-out", help="Transform JSON.")] = None,
    checkerboard: Annotated[
        Path | None, typer.Option("--checkerboard", help="Fixed/warped tiles PNG (one pair; batch: --pictures).")
    ] = None,
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="Fixed magenta, warped green PNG (one pair; batch: --pictures).")
    ] = None,
    matches: Annotated[
        Path | None,
        typer.Option("--matches", help="Inlier (green) / outlier (red) matches PNG (one pair; batch: --pictures)."),
    ] = None,
    pictures: Annotated[
        str | None,
        typer.Option(
            "--pictures",
            help="Batch: pictures for every pair, any of checkerboard, overlay, matches, comma-separated; each "
            "in OUT_DIR as <stem>_<picture>.png.",
            show_default=False,
        ),
    ] = None,
    landmarks: Annotated[
        Path | None,
        typer.Option(
            "--landmarks", help="CSV of landmarks, columns x_fixed, y_fixed, x_moving, y_moving: prints the errors."
        ),
    ] = None,
    force_output: Annotated[bool, typer.Option("--force-output", help="Write outputs even when untrusted.")] = False,
    max_rotation: RotOpt = None,
    scale_range: ScaleOpt = None,
    allow_mirror: Annotated[bool, typer.Option("--allow-mirror", help="Accept mirrored transforms.")] = False,
    pairs: Annotated[Path | None, typer.Option("--pairs", help="Batch: CSV with fixed,moving[,name].")] = None,
    pairs_dir: Annotated[Path | None, typer.Option("--pairs-dir", help="Batch: a folder of pairs.")] = None,
    pairs_layout: Annotated[str, typer.Option("--pairs-layout", help="Layout of --pairs-dir.")] = DEFAULT_LAYOUT,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Batch output folder.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Batch: parallel processes.")] = 1,
    resume: Annotated[
        bool, typer.Option("--resume", help="Batch: keep the ok/failed rows of --out-dir's summary.csv, do the rest.")
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Batch on a Dask cluster: address of its running scheduler (tcp://HOST:8786); needs "
            "pip install 'vreg-cli\\[dask]' (docs/cohorts.md).",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            min=1,
            help="Batch: pairs per task (default: about 4 tasks per worker, 1 to 8 pairs each).",
            show_default=False,
        ),
    ] = None,
    no_qa_page: Annotated[
        bool, typer.Option("--no-qa-page", help="Batch: skip the QA page (OUT_DIR/index.html and its pictures).")
    ] = False,
    frame: FrameOpt = None,
    oct_image: OctImageOpt = _OCT_IMAGE,
    bscans: Annotated[
        Path | None,
        typer.Option(
            "--bscans",
            help="MOVING is an OCT volume: a picture of FIXED with each B-scan's line (first green, centre cyan, "
            "last red); the transform JSON lists their end points in FIXED pixels.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Register MOVING onto FIXED and write MOVING warped into the fixed frame (exit 3 when the result is untrusted)."""
    from vreg_cli.context import RegistrationContext

    context = RegistrationContext.from_options(
        model=model, working_size=working_size, threshold_px=threshold, allow_mirror=allow_mirror,
        max_rotation=max_rotation, scale_range=parse_range(scale_range, "--scale-range"),
    )  # fmt: skip
    spec = method_spec(method, weights, checkpoint)
    read = read_options(frame, oct_image)
    if bscans is not None and (pairs is not None or pairs_dir is not None):
        raise VregError("--bscans applies to one pair (FIXED and an OCT volume as MOVING)")
    if pairs is not None or pairs_dir is not None:
        from vreg_cli.cli.register_batch import batch_register

        if fixed is not None or moving is not None:
            raise VregError("give FIXED MOVING or --pairs/--pairs-dir, not both")
        batch_register(pairs, pairs_dir, pairs_layout, out_dir, spec, context,
                       _batch_pictures(pictures, checkerboard=checkerboard, overlay=overlay, matches=matches),
                       force_output, workers, resume, scheduler, chunk_size, qa_page=not no_qa_page,
                       read=read)  # fmt: skip
        return
    if pictures is not None:
        raise VregError("--pictures applies to batch mode; for one pair give --checkerboard/--overlay/--matches PATH")
    if resume or scheduler is not None:
        option = "--resume" if resume else "--scheduler"
        raise VregError(f"{option} applies to batch mode (--pairs/--pairs-dir with --out-dir)")
    if fixed is None or moving is None:
        raise VregError("give FIXED and MOVING images (or --pairs CSV / --pairs-dir DIR with --out-dir)")
    from vreg_cli.outputs import OutputPaths

    paths = OutputPaths(output, transform_out, checkerboard, overlay, matches, bscans)
    _register_one(fixed, moving, spec, context, read, paths, landmarks, force_output)


def _batch_pictures(pictures: str | None, **paths: Path | None) -> tuple[str, ...]:
    """The pictures of a batch: ``--pictures`` names them; a picture's path option (``--overlay x``, the way
    before ``--pictures``) still asks for it, with a warning that the path itself is not used."""
    names = [p.strip() for p in (pictures or "").split(",") if p.strip()]
    for name, path in paths.items():
        if path is not None:
            warn(f"batch mode ignores the path of --{name}: each pair's goes to OUT_DIR/<stem>_{name}.png "
                 f"(ask with --pictures {name})")  # fmt: skip
            names.append(name)
    return tuple(dict.fromkeys(names))


def _register_one(
    fixed_path: Path, moving_path: Path, spec: str, context: Any, read: ReadOptions, paths: Any,
    landmarks: Path | None, force_output: bool,
) -> None:  # fmt: skip
    from vreg_cli.api import Registrar
    from vreg_cli.io import read_landmarks, read_registrable, registrable_problem, to_uint8
    from vreg_cli.octvolume import is_volume, read_volume
    from vreg_cli.outputs import landmark_errors, save_outputs

    if paths.bscans is not None and not is_volume(moving_path):
        raise VregError(f"--bscans needs an OCT volume as MOVING (.vol, .e2e, .fda, .xml, .eye), not {moving_path}")
    paths.check()  # before any work: a bad output path must not fail after the registration
    fixed = read_registrable(fixed_path, read)
    volume = read_volume(moving_path, read.oct_image) if is_volume(moving_path) else None
    moving = read_registrable(moving_path, read) if volume is None else to_uint8(volume.image)
    if volume is not None and registrable_problem(moving):
        raise VregError(f"{moving_path}: its {volume.which} picture: {registrable_problem(moving)}")
    points = read_landmarks(landmarks) if landmarks else None
    registrar = Registrar(spec, context=context)
    reg = registrar.register(fixed, moving)
    if reg.matrix is not None:
        _table(_summary_rows(reg, registrar.why, landmark_errors(reg, *points) if points else None))
    if not reg.ok:
        if reg.matrix is not None and force_output:
            save_outputs(reg, fixed, moving, paths, volume)
            warn("--force-output: wrote the untrusted result anyway")
        raise RegistrationFailed(reg.reason)
    save_outputs(reg, fixed, moving, paths, volume)


@app.command()
@user_errors
def match(
    fixed: Annotated[Path, typer.Argument(help="Fixed image (colour fundus).", show_default=False)],
    moving: Annotated[Path, typer.Argument(help="Moving image (FA / OCT en-face).", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="matches.csv or matches.json.")],
    plot: Annotated[Path | None, typer.Option("--plot", help="Picture of the matches (inliers green).")] = None,
    method: MethodOpt = "auto",
    weights: WeightsOpt = None,
    checkpoint: CheckpointOpt = None,
    working_size: SizeOpt = _WORKING_SIZE,
    threshold: ThresholdOpt = None,
    max_rotation: RotOpt = None,
    scale_range: ScaleOpt = None,
    frame: FrameOpt = None,
    oct_image: OctImageOpt = _OCT_IMAGE,
) -> None:
    """Write correspondences in original-image pixels with confidence (and an inlier flag from an affine fit)."""
    import numpy as np

    from vreg_cli.api import Registrar
    from vreg_cli.context import RegistrationContext
    from vreg_cli.io import read_registrable, write_image
    from vreg_cli.outputs import write_matches
    from vreg_cli.paths import check_output_paths, output_group
    from vreg_cli.ui import stdout
    from vreg_cli.viz import draw_matches

    if output.suffix.lower() not in (".csv", ".json"):
        raise VregError(f"{output}: the matches file must end in .csv or .json")
    context = RegistrationContext.from_options(
        working_size=working_size, threshold_px=threshold, max_rotation=max_rotation,
        scale_range=parse_range(scale_range, "--scale-range"),
    )  # fmt: skip
    check_output_paths(images=(plot,), others=(output,))
    read = read_options(frame, oct_image)
    fixed_img, moving_img = read_registrable(fixed, read), read_registrable(moving, read)
    registrar = Registrar(method_spec(method, weights, checkpoint), context=context)
    found = registrar.match(fixed_img, moving_img)
    inliers = found.inliers if found.inliers is not None else np.zeros(len(found), bool)
    if found.info.problem:
        warn(f"no affine agrees with the matches ({found.info.problem}); every inlier flag is 0")
    with output_group():
        write_matches(output, found, inliers, registrar.describe())
        if plot is not None:
            write_image(plot, draw_matches(fixed_img, moving_img, found, inliers))
    stdout.print(
        f"{registrar.describe()} ({registrar.why}): {len(found)} matches, {int(inliers.sum())} affine inliers "
        f"-> {output}"
    )
    if found.info.decision:
        stdout.print(found.info.decision)
