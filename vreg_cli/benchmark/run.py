"""The benchmark run: cases x methods, in-process or in worker processes, appended to cases.csv as they finish.

Outputs in ``out_dir``: cases.csv (one row per method x case), run.json (the settings), summary.csv, summary.md and
success_vs_rotation.png (written by ``report``). Every final file is written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import re
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from vreg_cli.benchmark.caselog import case_log, load_frame, read_rows, write_rows
from vreg_cli.benchmark.cases import CaseSpec
from vreg_cli.benchmark.config import BenchmarkSettings
from vreg_cli.benchmark.evaluate import EvalContext, MethodEntry, evaluate_case
from vreg_cli.benchmark.metrics import summarize
from vreg_cli.errors import VregError
from vreg_cli.io import check_same_settings, read_json, write_json
from vreg_cli.parallel import process_pool
from vreg_cli.ui import progress

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext

__all__ = ["METHODS_FILE", "parse_methods", "run_benchmark"]


_LABEL = re.compile(r"^[A-Za-z0-9_.+\-]+$")


def _auto_label(spec: str) -> str:
    """'classic' -> 'classic'; 'loftr:checkpoint=runs/x/best.ckpt' -> 'loftr:x/best' (paths shortened)."""
    name, _, params = spec.partition(":")
    if not params:
        return name
    parts = []
    for item in params.split(","):
        key, _, value = item.partition("=")
        if "/" in value or "." in value:
            p = Path(value)
            value = f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem
        parts.append(value if key in ("weights", "checkpoint") else f"{key}={value}")
    return f"{name}:{','.join(parts)}"


def parse_methods(values: list[str]) -> list[MethodEntry]:
    """``--method`` values: 'spec' or 'label=spec' (a '=' before any ':' separates the label)."""
    if not values:
        raise VregError("give at least one --method (e.g. --method classic --method sift)")
    entries = []
    for v in values:
        head, sep, rest = v.partition("=")
        if sep and ":" not in head and rest:
            if not _LABEL.match(head):
                raise VregError(f"--method {v!r}: a label may use letters, digits and _ . + - only")
            entries.append(MethodEntry(head, rest))
        else:
            entries.append(MethodEntry(_auto_label(v), v))
    labels = [e.label for e in entries]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise VregError(f"--method: two methods share the label {dupes[0]!r}; name them with label=spec")
    return entries


def _run_config(source: Any, settings: BenchmarkSettings) -> dict[str, Any]:
    reg: RegistrationContext | None = settings.registration
    reg_dict = dataclasses.asdict(reg) if dataclasses.is_dataclass(reg) else {}
    return json.loads(
        json.dumps(
            {
                "source": source.describe(),
                "seed": settings.cases.seed,
                "bins": list(settings.cases.bins),
                "scale_range": list(settings.cases.scale_range),
                "shift_frac": settings.cases.shift_frac,
                # only non-standard protocols add keys, so runs from before protocols existed still resume
                **(settings.cases.describe() if settings.cases.protocol != "standard" else {}),
                "error_scale": settings.error_scale,
                "thresholds": settings.thresholds.as_dict(),
                "register": reg_dict,
            },
            default=str,
        )
    )


def _prepare_log(
    out_dir: Path, source: Any, entries: list[MethodEntry], settings: BenchmarkSettings
) -> set[tuple[str, str]]:
    """Check/clean cases.csv and run.json; returns the (method, case_id) pairs already done."""
    cases_path, config_path = out_dir / "cases.csv", out_dir / "run.json"
    config = _run_config(source, settings)
    if cases_path.exists() and not settings.resume and not settings.force:
        raise VregError(f"{cases_path} exists; use --resume to continue that run or --force to start again")
    check_same_settings(config_path, config, settings.resume, "use a new --out or --force")
    rows = read_rows(cases_path) if settings.resume else []
    specs = {e.label: e.spec for e in entries}
    for r in rows:  # a label must keep meaning the same method, or resumed numbers would mix two methods
        if r["method"] in specs and r["method_spec"] != specs[r["method"]]:
            raise VregError(
                f"--resume: label {r['method']!r} was {r['method_spec']!r} in {cases_path}, now "
                f"{specs[r['method']]!r}; use another label, a new --out or --force"
            )
    write_rows(cases_path, rows)  # drops a torn last line before appending
    write_json(config_path, config)
    return {(r["method"], r["case_id"]) for r in rows}


METHODS_FILE = "methods.json"


def _record_methods(path: Path, ctx: EvalContext, entries: list[MethodEntry]) -> None:
    """methods.json: what each label ran (spec, the built method's description, why ``auto`` chose it) and the vreg
    version, for the reports; labels of earlier runs in the same folder are kept."""
    from vreg_cli import __version__

    old = read_json(path).get("methods", {}) if path.is_file() else {}
    for e in entries:
        registrar = ctx.registrar(e.label)
        m = registrar.method
        loaded = m.describe() if hasattr(m, "describe") else str(m)  # any object may stand in for a Method
        old[e.label] = {"spec": e.spec, "loaded": loaded, "chosen_because": registrar.why}
    write_json(path, {"vreg_version": __version__, "methods": old})


def run_benchmark(
    source: Any, entries: list[MethodEntry], settings: BenchmarkSettings, out_dir: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every method on every case not yet in cases.csv; returns (cases of this run, summary per method x bin)."""
    out_dir = Path(out_dir)
    if settings.registration is None:
        from vreg_cli.context import RegistrationContext

        settings.registration = RegistrationContext()
    specs: list[CaseSpec] = source.case_specs(settings.cases)
    ctx = EvalContext(source, entries, settings.registration, settings.error_scale, settings.thresholds)
    for e in entries:  # build every method now: a bad spec or missing weights fails before any case runs
        ctx.registrar(e.label)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = _prepare_log(out_dir, source, entries, settings)
    _record_methods(out_dir / METHODS_FILE, ctx, entries)
    tasks = [(s, [e.label for e in entries if (e.label, s.case_id) not in done]) for s in specs]
    tasks = [(s, labels) for s, labels in tasks if labels]
    total = sum(len(labels) for _, labels in tasks)
    with case_log(out_dir / "cases.csv") as log, progress() as bar:
        task_id = bar.add_task("benchmark", total=total)
        if settings.workers <= 1:
            for spec, labels in tasks:
                log.write(evaluate_case(ctx, spec, labels))
                bar.advance(task_id, len(labels))
        else:
            with process_pool(settings.workers) as pool:
                pending = {pool.submit(evaluate_case, ctx, s, labels) for s, labels in tasks}
                try:
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            rows = fut.result()
                            log.write(rows)
                            bar.advance(task_id, len(rows))
                except BaseException:
                    # Rows already appended stay; queued cases are dropped so --resume redoes only those.
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    return _finish(out_dir, entries, specs, settings)


def _finish(
    out_dir: Path, entries: list[MethodEntry], specs: list[CaseSpec], settings: BenchmarkSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort cases.csv (atomically) and summarise the cases of this run's methods and case list."""
    rows = read_rows(out_dir / "cases.csv")
    order = {e.label: i for i, e in enumerate(entries)}
    case_order = {s.case_id: i for i, s in enumerate(specs)}
    rows.sort(key=lambda r: (order.get(r["method"], len(order)), case_order.get(r["case_id"], 1 << 30), r["case_id"]))
    write_rows(out_dir / "cases.csv", rows)
    frame = load_frame(rows)
    frame = frame[frame["method"].isin(order) & frame["case_id"].isin(case_order)].reset_index(drop=True)
    summary = summarize(frame, settings.thresholds, [e.label for e in entries])
    return frame, summary
