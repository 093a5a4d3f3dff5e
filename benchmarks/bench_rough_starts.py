r"""How ``loftr:rough_min_verified`` was chosen: every LoFTR start forced rough, every result kept and measured.

LoFTR normally starts from classic's trusted registration; only where classic refuses does it start "rough" (classic's
global estimate), and such a result must then pass ``RoughStartCheck.doubt`` (``methods/loftr/rough_start.py``):
``rough_min_inliers`` agreeing matches and a share of classic's vessel patches confirming its affine of at least
``rough_min_verified``. To see where
that share separates right from wrong results, this harness makes EVERY start rough: it injects a pre-aligner that
always returns classic's global estimate (``ClassicMethod.global_estimate``; a start whose correlation is under
classic's ``min_score`` is refused by ``ClassicPrealigner.rough_start``, as in the product), and builds the method
with both rough limits off (``rough_min_inliers=0``, ``rough_min_verified=0``, ``prealign=classic``: no rotation
search to fall back on), so that every LoFTR result is kept. Per case it records the inlier count of the context's
affine fit (the fit ``_rough_doubt`` makes), the verified share (classic's verification pass at that affine, the
method's own verifier), and the landmark errors of that affine against the case's truth, in the pixels and
normalisation ``vreg benchmark`` reports (the images are resized to the context's working size exactly as
``register_pair`` does).

Cases are the benchmark's own (``vreg benchmark --pairs-dir``: same seed, bins, protocol and window options give the
same cases). Writes OUT/rough_starts.csv (one row per case) and prints: results, correct ones (SR_ME and SR_MAE met),
the verified shares of the correct, wrong and catastrophic (mean error > ``--catastrophic`` px) results, and for each
candidate threshold with the inlier floor ``--min-inliers``: correct results kept, wrong ones accepted.

    python3 benchmarks/bench_rough_starts.py --pairs-dir out/tune_mf_fa --protocol smallfov --bins 0,45,90,135,180 \
        --out bench/rough_starts                                          # `just bench-rough-starts`
    python3 benchmarks/bench_rough_starts.py --pairs-dir out/tune --protocol smallfov --bins 45,90,180 --out x
    python3 benchmarks/bench_rough_starts.py --pairs-dir out/tune_realinv --protocol smallfov --zoom 1.6,2.4 \
        --blur 1,3 --noise 8,20 --gamma 0.5,2 --seed 2 --out x          # the inverted-contrast stress set
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vreg_cli.benchmark.cases import CaseSpec
from vreg_cli.benchmark.command import case_config, make_source
from vreg_cli.benchmark.config import ERROR_SCALES, PROTOCOLS, Thresholds
from vreg_cli.benchmark.metrics import case_metrics, error_scale_diag, error_stats
from vreg_cli.cli import parse_numbers
from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.geometry import point_errors
from vreg_cli.io import resize_long_side, write_csv
from vreg_cli.methods import parse_spec
from vreg_cli.methods.loftr import LoFTRMethod
from vreg_cli.methods.loftr.options import LoFTROptions
from vreg_cli.methods.loftr.prealign import ClassicPrealigner, Prealignment
from vreg_cli.methods.options import parse_options
from vreg_cli.provenance import RefusalDetails

COLUMNS = [
    "case_id", "pair", "bin", "angle", "scale", "status", "error", "start_score", "start_mean_err", "strategy",
    "matches", "inliers", "verified", "n_points", "mean_err", "median_err", "max_err", "sr_me", "sr_mae", "correct",
    "seconds",
]  # fmt: skip
CSV_NAME = "rough_starts.csv"


class RoughOnlyPrealigner:
    """A pre-aligner that never hands LoFTR a trusted start: classic's global estimate, always.

    Wraps :class:`ClassicPrealigner` (its classic method and settings) but skips classic's refinement: the start is
    the best global hypothesis (``ClassicMethod.global_estimate``, the same one ``ClassicPrealigner`` falls back on
    where classic refuses), refused by its ``rough_start`` when too weak. ``last`` is the start of the latest call
    (None before one, or when it was refused).
    """

    def __init__(self, context: RegistrationContext | None = None) -> None:
        self.inner = ClassicPrealigner(context)
        self.last: Prealignment | None = None

    def __call__(self, fixed: np.ndarray, moving: np.ndarray) -> Prealignment:
        """The rough start for (fixed, moving) as the LoFTR method gives them (working-size images)."""
        self.last = None
        matrix, score = self.inner.classic.global_estimate(fixed, moving)
        self.last = self.inner.rough_start(RefusalDetails(global_matrix=matrix, global_score=score))
        return self.last


def build_rough_method(spec: str, context: RegistrationContext) -> tuple[LoFTRMethod, RoughOnlyPrealigner]:
    """The LoFTR method of a ``loftr[:options]`` spec (the registry's parser, then ``LoFTRMethod``), built
    with the forced-rough pre-aligner, ``prealign=classic`` and both rough limits off (see the module docstring).
    Returns (method, its pre-aligner)."""
    name, raw = parse_spec(spec)
    if name != "loftr":
        raise VregError(f"--method {spec!r}: this harness measures the loftr method only")
    options = replace(
        parse_options(LoFTROptions, raw, name), prealign="classic", rough_min_inliers=0, rough_min_verified=0.0
    )
    prealigner = RoughOnlyPrealigner(context)
    method = LoFTRMethod(options, context, prealigner=prealigner)
    method.label += ", every start rough, nothing refused"
    return method, prealigner


@dataclass
class Harness:
    """Everything one case needs: the case source, the method and its pre-aligner, how errors are judged."""

    source: Any  # vreg_cli.benchmark.sources.PairsSource
    method: LoFTRMethod
    prealigner: RoughOnlyPrealigner
    error_scale: str
    thresholds: Thresholds

    def run_case(self, spec: CaseSpec) -> dict[str, Any]:
        """One row of the CSV: the forced-rough LoFTR result on one benchmark case and its figures."""
        data = self.source.load(spec)
        diag = error_scale_diag(self.error_scale, data.fixed.shape[:2])
        row: dict[str, Any] = {
            "case_id": spec.case_id, "pair": spec.pair, "bin": spec.bin, "angle": round(spec.angle, 6),
            "scale": round(spec.scale, 6), "n_points": len(data.pts_fixed), "error": "", "strategy": "",
            "start_score": math.nan, "start_mean_err": math.inf, "matches": 0, "inliers": 0, "verified": math.nan,
        }  # fmt: skip
        # as register_pair: both images at the working size; s_f, s_m map original -> working pixels
        size = self.method.context.working_size
        (fixed_w, s_f), (moving_w, s_m) = resize_long_side(data.fixed, size), resize_long_side(data.moving, size)
        errors = None
        start = time.perf_counter()
        try:
            found = self.method.match(fixed_w, moving_w)
            row.update(matches=len(found), strategy=found.info.strategy)
            try:  # the fit _rough_doubt makes: its inlier count, and the affine classic's patches check
                m_work, inliers = self.method.context.fit(found, size, model="affine", min_inliers=3)
            except RegistrationFailed as exc:
                row.update(status="no fit", error=str(exc))
            else:
                row["inliers"] = int(inliers.sum())
                row["verified"] = round(float(self.method.verifier(fixed_w, moving_w, m_work)), 4)
                errors = point_errors(_original(m_work, s_f, s_m), data.pts_moving, data.pts_fixed, scale=diag)
                row["status"] = "ok"
        except RegistrationFailed as exc:  # the start was refused (too weak a correlation, outside the search range)
            row.update(status="refused", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a crashing case is a row, as in the benchmark, never a dropped one
            row.update(status="error", error=f"{type(exc).__name__}: {exc}")
        row["seconds"] = round(time.perf_counter() - start, 4)
        pre = self.prealigner.last
        if pre is not None:  # how far off the start itself was
            start_errors = point_errors(_original(pre.matrix, s_f, s_m), data.pts_moving, data.pts_fixed, scale=diag)
            row["start_score"], row["start_mean_err"] = round(pre.score, 4), round(error_stats(start_errors)[0], 4)
        metrics = case_metrics(errors, self.thresholds)
        row.update({k: round(float(metrics[k]), 4) for k in ("mean_err", "median_err", "max_err")})
        row.update(sr_me=bool(metrics["sr_me"]), sr_mae=bool(metrics["sr_mae"]))
        row["correct"] = bool(metrics["sr_me"] and metrics["sr_mae"])
        return row


def _original(m_work: np.ndarray, s_f: np.ndarray, s_m: np.ndarray) -> np.ndarray:
    """A working-pixel matrix (moving -> fixed) in original pixels, normalised as ``register_pair`` does."""
    m = np.linalg.inv(s_f) @ m_work @ s_m
    return m / m[2, 2]


def summarize(frame: pd.DataFrame, thresholds: list[float], min_inliers: int, catastrophic: float) -> dict[str, Any]:
    """The figures the summary prints: counts, verified-share ranges, and per threshold correct kept / wrong accepted.

    A result is a case with an affine (status ok); wrong = a result that is not correct; catastrophic = a result with
    mean error above ``catastrophic``. Accepted at threshold t: at least ``min_inliers`` inliers and share >= t.
    """
    res = frame[frame["status"] == "ok"]
    correct = res[res["correct"].astype(bool)]
    wrong = res[~res["correct"].astype(bool)]
    cata = res[res["mean_err"].astype(float) > catastrophic]

    def top(sub: pd.DataFrame) -> float:
        return float(sub["verified"].max()) if len(sub) else math.nan

    rows = []
    for t in thresholds:
        ok = (res["inliers"] >= min_inliers) & (res["verified"] >= t)
        rows.append(
            {
                "threshold": t,
                "correct_kept": int((ok & res["correct"].astype(bool)).sum()),
                "wrong_accepted": int((ok & ~res["correct"].astype(bool)).sum()),
                "catastrophic_accepted": int((ok & (res["mean_err"].astype(float) > catastrophic)).sum()),
            }
        )
    return {
        "cases": len(frame),
        "results": len(res),
        "correct": len(correct),
        "wrong": len(wrong),
        "catastrophic": len(cata),
        "correct_range": (float(correct["verified"].min()), top(correct)) if len(correct) else (math.nan, math.nan),
        "wrong_max": top(wrong),
        "catastrophic_max": top(cata),
        "thresholds": rows,
    }


def print_summary(s: dict[str, Any], min_inliers: int, catastrophic: float, out_csv: Path) -> None:
    """The summary as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    from vreg_cli.ui import stdout

    # as `vreg benchmark`: piped output has no width, 120 columns keep the lines and the table unfolded in logs
    out = stdout if stdout.is_terminal else Console(width=120, highlight=False)

    def pct(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.1%}"

    lo, hi = s["correct_range"]
    out.print(
        f"{s['cases']} cases, {s['results']} results (an affine fit), {s['correct']} correct (SR_ME and SR_MAE), "
        f"{s['wrong']} wrong, {s['catastrophic']} catastrophic (mean > {catastrophic:g} px)"
    )
    out.print(
        f"verified share: correct {pct(lo)}-{pct(hi)}; wrong at most {pct(s['wrong_max'])}; catastrophic at most "
        f"{pct(s['catastrophic_max'])}"
    )
    table = Table(title=f"rough-start acceptance with at least {min_inliers} inliers")
    for col in ("rough_min_verified", "correct kept", "wrong accepted", "catastrophic accepted"):
        table.add_column(col, justify="right")
    for r in s["thresholds"]:
        mark = " (default)" if math.isclose(r["threshold"], LoFTROptions.rough_min_verified) else ""
        table.add_row(
            f"{r['threshold']:g}{mark}",
            f"{r['correct_kept']}/{s['correct']}",
            f"{r['wrong_accepted']}/{s['wrong']}",
            f"{r['catastrophic_accepted']}/{s['catastrophic']}",
        )
    out.print(table)
    out.print(f"wrote {out_csv}")


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs-dir", type=Path, required=True, help="folder of real annotated pairs")
    ap.add_argument("--pairs-layout", default="landmarks-csv", help="pair layout (as vreg benchmark)")
    ap.add_argument("--method", default="loftr", help="loftr spec, e.g. loftr:weights=A.ckpt (rough limits off)")
    ap.add_argument("--protocol", choices=PROTOCOLS, default="standard")
    ap.add_argument("--bins", default="0,15,30,45,60,90,135,180", help="rotation bins in degrees")
    ap.add_argument("--seed", type=int, default=0, help="seed of the cases (as vreg benchmark)")
    ap.add_argument("--scale-jitter", default="0.9,1.1", help="standard: random scale range 'low,high'")
    ap.add_argument("--shift-jitter", type=float, default=0.08, help="standard: random shift, fraction of W and H")
    for name in ("zoom", "gamma", "blur", "noise"):
        ap.add_argument(f"--{name}", help=f"smallfov: 'low,high' (or one value): the window's {name} range")
    ap.add_argument("--working-size", type=int, default=640, help="long side (px) both images are matched at")
    ap.add_argument("--error-scale", choices=ERROR_SCALES, default="long-side-640")
    ap.add_argument("--sr-me", type=float, default=Thresholds.sr_me, help="SR_ME: mean error threshold")
    ap.add_argument("--sr-mae", type=float, default=Thresholds.sr_mae, help="SR_MAE: max error threshold")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pairs (0 = all)")
    ap.add_argument("--min-inliers", type=int, default=LoFTROptions.rough_min_inliers, help="inlier floor")
    ap.add_argument("--thresholds", default="0,0.05,0.1,0.15,0.2,0.3", help="candidate rough_min_verified values")
    ap.add_argument("--catastrophic", type=float, default=50.0, help="a mean error above this (px) is catastrophic")
    ap.add_argument("--out", type=Path, required=True, help=f"output folder ({CSV_NAME})")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run every case, write the CSV, print the summary; a user error is one line and exit code 1."""
    from vreg_cli.ui import progress

    args = _parse_args(argv)
    try:
        bins = tuple(int(b) for b in args.bins.replace(" ", "").split(",") if b)
        scale = parse_numbers(args.scale_jitter, "--scale-jitter", (1, 2))
        thresholds = sorted({float(t) for t in args.thresholds.replace(" ", "").split(",") if t})
        if not thresholds or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise VregError(f"--thresholds {args.thresholds!r}: give shares between 0 and 1")
        given = {k: getattr(args, k) for k in ("zoom", "gamma", "blur", "noise") if getattr(args, k) is not None}
        window = {k: parse_numbers(v, f"--{k}", (1, 2)) for k, v in given.items()}
        cases = case_config(bins, (scale[0], scale[-1]), args.shift_jitter, args.seed, args.protocol, window)
        context = RegistrationContext.from_options(working_size=args.working_size)
        source = make_source(None, "test", (), args.pairs_dir, args.pairs_layout, False)
        method, prealigner = build_rough_method(args.method, context)
    except ValueError:
        sys.exit(f"error: --bins {args.bins!r} / --thresholds {args.thresholds!r}: expected comma-separated numbers")
    except VregError as exc:
        sys.exit(f"error: {exc}")
    # the first N pairs (cases are drawn per pair name, so a limit does not change the cases of the others)
    specs = [s for s in source.case_specs(cases) if not args.limit or s.index < args.limit]
    harness = Harness(source, method, prealigner, args.error_scale, Thresholds(sr_me=args.sr_me, sr_mae=args.sr_mae))
    rows = []
    with progress() as bar:
        task = bar.add_task("rough starts", total=len(specs))
        for spec in specs:
            rows.append(harness.run_case(spec))
            bar.advance(task)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    out_csv = write_csv(args.out / CSV_NAME, frame)
    print_summary(summarize(frame, thresholds, args.min_inliers, args.catastrophic), args.min_inliers,
                  args.catastrophic, out_csv)  # fmt: skip


if __name__ == "__main__":
    main()
