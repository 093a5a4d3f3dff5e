"""RUN_DIR/report.html of a training run (``vreg report RUN_DIR``): config, freeze table, curves, best and last
metrics, and the matches of a few validation pairs for the best checkpoint.

Built from the run directory (config.json, metrics.csv, best.ckpt or last.ckpt) and, for the match pictures, the
run's validation split of its HDF5 file; when that file is gone the page says so instead of showing matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vreg_cli.errors import VregError
from vreg_cli.io import read_json
from vreg_cli.report_html import (
    EmbeddedPicture,
    Row,
    data_uri,
    encode_image,
    figure_png,
    num,
    render,
    utc_now,
    write_page,
)
from vreg_cli.training.config import REPORT_EXAMPLES

__all__ = ["NOT_SET", "TrainingPage", "ValidationMatches", "write_report"]


REPORT = "report.html"
_CORRECT_PX = 5.0  # a match is drawn green when the true transform maps its moving point within this of its fixed one


@dataclass(frozen=True)
class ValidationMatches:
    """The match pictures of the report, or why there are none (data file gone, no validation split)."""

    data_file: str
    data_found: bool
    has_split: bool
    network_input: str  # grey or vessel map
    pictures: list[EmbeddedPicture]


@dataclass(frozen=True)
class TrainingPage:
    """Everything ``templates/training.html.j2`` lays out."""

    subtitle: str
    checkpoint: str  # best.ckpt or last.ckpt: the one whose metrics and matches are shown
    config: list[tuple[str, str]]
    freeze_rows: list[Row]  # module, status, parameters, share
    curves: str  # data URI
    metrics_header: list[str]
    metrics_rows: list[Row]  # empty: no validation ran
    last_train: list[tuple[str, str]]  # the last logged training step; empty when none
    validation: ValidationMatches


def _read_metrics(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "metrics.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["step", "kind"])


def _checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """(path, contents) of best.ckpt, else last.ckpt."""
    from vreg_cli.model.safe_load import read_checkpoint
    from vreg_cli.training.checkpoint import BEST, LAST

    for name in (BEST, LAST):
        if (run_dir / name).is_file():
            return run_dir / name, read_checkpoint(run_dir / name)
    raise VregError(f"{run_dir}: no {BEST} or {LAST}; is this a `vreg train` run directory?")


#: how the report writes a setting that is not set (None in config.json): the usual dash of a table, never "None"
NOT_SET = "—"


def _setting_text(value: Any) -> str:
    """A config value as the report writes it: nested settings as "key value, ...", lists comma-separated, a
    setting that is not set as ``NOT_SET``."""
    if value is None:
        return NOT_SET
    if isinstance(value, dict):
        return ", ".join(f"{k} {_setting_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting_text(v) for v in value) or NOT_SET
    return str(value)


def _config_items(config: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, _setting_text(value)) for key, value in config.items()]


def _freeze_rows(model: Any) -> list[Row]:
    """Rows of the freeze table: module, status, parameters, share; then the total."""
    from vreg_cli.model.freeze import parameter_counts

    counts = parameter_counts(model)
    total = sum(t + f for t, f in counts.values()) or 1
    rows: list[Row] = []
    for name, (trainable, frozen) in counts.items():
        n = trainable + frozen
        status = "no weights" if n == 0 else "trainable" if frozen == 0 else "frozen" if trainable == 0 else "mixed"
        rows.append([name, status, num(f"{n:,}"), num(f"{100 * n / total:.1f}%")])
    n_trainable = sum(t for t, _ in counts.values())
    rows.append(["total", f"{100 * n_trainable / total:.1f}% trainable", num(f"{total:,}"), num("100%")])
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _metrics(
    metrics: pd.DataFrame, best_ckpt: dict[str, Any], best_name: str
) -> tuple[list[str], list[Row], list[tuple[str, str]]]:
    """(header, rows) of the best-and-last validation table and the last logged training step's values."""
    val = metrics[metrics["kind"] == "val"] if "kind" in metrics else metrics.iloc[0:0]
    train = metrics[metrics["kind"] == "train"] if "kind" in metrics else metrics.iloc[0:0]
    best = {k: v for k, v in (best_ckpt.get("metrics") or {}).items() if k != "best_score"}
    last_val = val.iloc[-1].dropna().to_dict() if len(val) else {}
    keys = list(dict.fromkeys([*best, *(k for k in last_val if k not in ("step", "kind"))]))
    rows: list[Row] = [
        [k, num(_fmt(best.get(k, float("nan")))), num(_fmt(last_val.get(k, float("nan"))))] for k in keys
    ]
    header = ["validation metric", f"best ({best_name}, step {best_ckpt.get('step', '?')})",
              f"last validation (step {int(last_val['step']) if last_val else '-'})"]  # fmt: skip
    last_train: list[tuple[str, str]] = []
    if len(train):
        last = train.iloc[-1].dropna().to_dict()
        last_train = [(k, _fmt(v)) for k, v in last.items() if k not in ("kind",)]
    return header, rows, last_train


def _match_pictures(model: Any, config: dict[str, Any], n_pairs: int) -> ValidationMatches:
    """Matches of the first ``n_pairs`` validation items: green = correct under the true transform."""
    import torch

    from vreg_cli.geometry import warp_points
    from vreg_cli.matches import Matches
    from vreg_cli.training.build import make_datasets
    from vreg_cli.training.config import TrainConfig
    from vreg_cli.training.distributed import DistInfo
    from vreg_cli.ui import progress_after, warn
    from vreg_cli.viz import draw_matches

    data = Path(config.get("data", ""))
    if not data.is_file():
        warn(f"{data}: validation data not found; the report has no match pictures")
        return ValidationMatches(str(data), False, False, model.config.input, [])
    cfg = TrainConfig.from_dict(config)
    _, val_set = make_datasets(cfg, DistInfo(), model.config.input)
    if val_set is None:
        return ValidationMatches(str(data), True, False, model.config.input, [])
    pictures: list[EmbeddedPicture] = []
    count = min(n_pairs, len(val_set))
    with progress_after(count, "validation matches") as advance:
        for k in range(count):
            item = val_set[k]
            out = model.match(item["image0"], item["image1"])
            kp0 = out["keypoints0"].detach().float().cpu().numpy()
            kp1 = out["keypoints1"].detach().float().cpu().numpy()
            conf = out["confidence"].detach().float().cpu().numpy()
            m_true = item["moving_to_fixed"].double().numpy()
            err = np.linalg.norm(warp_points(m_true, kp1) - kp0, axis=1) if len(kp0) else np.zeros(0)
            correct = err < _CORRECT_PX
            to_u8 = lambda t: (t[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()  # noqa: E731
            picture = draw_matches(to_u8(item["image0"]), to_u8(item["image1"]), Matches(kp0, kp1, conf), correct,
                                   height=320)  # fmt: skip
            pair = cfg.pairs[int(item["pair"])]
            rotation = float(item["rotation_deg"])
            caption = (
                f"validation item {k} ({pair}, sample {int(item['sample'])}, rotation {rotation:.0f}°):"
                f" {len(kp0)} matches, {int(correct.sum())} correct (< {_CORRECT_PX:g} px under the true transform)"
            )
            pictures.append(EmbeddedPicture(data_uri(encode_image(picture)), caption))
            advance(1)
    return ValidationMatches(str(data), True, True, model.config.input, pictures)


def report_data(run_dir: Path, n_pairs: int = REPORT_EXAMPLES, device: str = "cpu") -> TrainingPage:
    """What the report of a training run directory shows (loads its checkpoint; renders the match pictures)."""
    from vreg_cli.model.loftr import load_model
    from vreg_cli.training.curves import curves_figure

    if not run_dir.is_dir():
        raise VregError(f"{run_dir}: no such run directory")
    ckpt_path, ckpt = _checkpoint(run_dir)
    config_path = run_dir / "config.json"
    config = read_json(config_path) if config_path.is_file() else dict(ckpt.get("train_config") or {})
    model = load_model(ckpt_path, device)
    metrics = _read_metrics(run_dir)
    curves = data_uri(figure_png(curves_figure(metrics)))
    metrics_header, metrics_rows, last_train = _metrics(metrics, ckpt, ckpt_path.name)
    steps = int(metrics["step"].max()) if len(metrics) else int(ckpt.get("step", 0))
    return TrainingPage(
        subtitle=f"{run_dir} · {steps} steps · {model.config.arch} LoFTR, input {model.config.input}",
        checkpoint=ckpt_path.name,
        config=_config_items(config),
        freeze_rows=_freeze_rows(model),
        curves=curves,
        metrics_header=metrics_header,
        metrics_rows=metrics_rows,
        last_train=last_train,
        validation=_match_pictures(model, config, n_pairs),
    )


def build_report(run_dir: Path, n_pairs: int = REPORT_EXAMPLES, device: str = "cpu", created: str | None = None) -> str:
    """The report.html document of a training run directory."""
    return render("training.html.j2", page=report_data(run_dir, n_pairs, device), created=created or utc_now())


def write_report(run_dir: str | Path, n_pairs: int = REPORT_EXAMPLES, device: str = "cpu") -> Path:
    """Write RUN_DIR/report.html."""
    run_dir = Path(run_dir)
    if n_pairs < 0:
        raise VregError(f"--examples must be >= 0 (got {n_pairs})")
    if device not in ("cpu", "cuda", "mps"):
        raise VregError(f"--device {device!r}: choose cpu, cuda or mps")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise VregError("--device cuda: no CUDA device is available")
    return write_page(run_dir / REPORT, build_report(run_dir, n_pairs, device))
