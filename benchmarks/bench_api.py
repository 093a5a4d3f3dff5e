"""Per-call overhead of the command line against the Python API, and start-up cost (`just bench-api`).

On the bundled CF-FA pair with its moving image rotated by 0, 45, ..., 315 deg (8 cases):

- ``Registrar("classic")`` in one process: seconds per pair, reading both files, registering and writing the warped
  image (what ``vreg register -o`` does), against ``vreg register --method classic`` run once per case (wall time
  of the whole process);
- ``python -X importtime``: the time all imports take in ``python -c "import vreg_cli"`` and in ``vreg register
  --method classic`` (site's own imports included), and which heavy modules each has loaded;
- ``vreg register --method classic`` wall time on the bundled pair (median of ``--repeat`` runs).

``--before DIR`` measures an earlier version too (an export of it: ``git archive <commit> | tar -x -C DIR``), its
runs interleaved with this checkout's so that both see the same machine load. Results: a table and ``--out`` JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "kornia", "matplotlib", "pandas")
ANGLES = (0, 45, 90, 135, 180, 225, 270, 315)


def sample_dir(root: Path) -> Path:
    """The bundled pair of a checkout."""
    return root / "data_specs" / "sample"


def run(root: Path, args: list[str]) -> tuple[float, str]:
    """(wall seconds, stdout) of ``python3 args`` with ``root`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds, done.stdout


def vreg_register(root: Path, fixed: Path, moving: Path, out: Path) -> float:
    """Wall seconds of one ``vreg register --method classic`` process (``python -m vreg_cli`` = the command)."""
    return run(root, ["-m", "vreg_cli", "register", str(fixed), str(moving), "-o", str(out), "--method", "classic"])[0]


def import_ms(root: Path, args: list[str]) -> float:
    """Import time (ms) of ``python3 -X importtime args``: the sum of its top-level imports' cumulative times."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    found = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| \S", done.stderr, flags=re.MULTILINE)
    return sum(int(us) for us in found) / 1000.0


HEAVY_CODE = """
import sys
sys.argv = ["vreg", *sys.argv[1:]]
import vreg_cli
print("import:" + ",".join(m for m in {heavy!r} if m in sys.modules))
from vreg_cli.cli import main
try:
    main()
except SystemExit:
    pass
print("register:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def heavy_modules(root: Path, fixed: Path, moving: Path, out: Path) -> dict[str, list[str]]:
    """Which of HEAVY ``import vreg_cli`` and then ``vreg register --method classic`` have loaded."""
    code = HEAVY_CODE.format(heavy=HEAVY)
    _, stdout = run(root, ["-c", code, "register", str(fixed), str(moving), "-o", str(out), "--method", "classic"])
    lines = dict(line.split(":", 1) for line in stdout.splitlines() if line.startswith(("import:", "register:")))
    return {k: [m for m in v.split(",") if m] for k, v in lines.items()}


def rotated_cases(root: Path, folder: Path) -> list[tuple[Path, Path]]:
    """(fixed, moving rotated by each of ANGLES about its centre) as PNG files in ``folder``."""
    sample = sample_dir(root)
    moving = cv2.imread(str(sample / "moving.png"), cv2.IMREAD_UNCHANGED)
    h, w = moving.shape[:2]
    cases = []
    for angle in ANGLES:
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
        path = folder / f"moving_{angle:03d}.png"
        cv2.imwrite(str(path), cv2.warpAffine(moving, m, (w, h)))
        cases.append((sample / "fixed.png", path))
    return cases


def registrar_seconds(cases: list[tuple[Path, Path]], out: Path) -> tuple[list[float], int]:
    """Seconds per case of one in-process Registrar("classic") (read, register, write the warped image) and how
    many results were trusted. The Registrar is built before the clock starts: that is the point of it."""
    sys.path.insert(0, str(ROOT))
    import vreg_cli
    from vreg_cli.io import write_image

    registrar = vreg_cli.Registrar("classic")
    seconds, trusted = [], 0
    for fixed, moving in cases:
        start = time.perf_counter()
        reg = registrar.register(fixed, moving)
        if reg.ok:
            write_image(out, reg.warp())
        seconds.append(time.perf_counter() - start)
        trusted += reg.ok
    return seconds, trusted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, help="an export of an earlier version to measure as well")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each wall-time measurement (median)")
    ap.add_argument("--out", type=Path, default=Path("bench/api.json"), help="results JSON")
    args = ap.parse_args()
    roots = {"now": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    result: dict[str, dict] = {name: {"cli_wall_s": [], "import_ms": [], "cli_import_ms": []} for name in roots}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = folder / "warped.png"
        for _ in range(args.repeat):  # interleaved: both versions see the same load
            for name, root in roots.items():
                sample = sample_dir(root)
                result[name]["cli_wall_s"].append(vreg_register(root, sample / "fixed.png", sample / "moving.png", out))
                result[name]["import_ms"].append(import_ms(root, ["-c", "import vreg_cli"]))
                cli = ["-m", "vreg_cli", "register", str(sample / "fixed.png"), str(sample / "moving.png")]
                result[name]["cli_import_ms"].append(import_ms(root, [*cli, "-o", str(out), "--method", "classic"]))
        for name, root in roots.items():
            sample = sample_dir(root)
            result[name]["heavy"] = heavy_modules(root, sample / "fixed.png", sample / "moving.png", out)
        cases = rotated_cases(ROOT, folder)
        per_call = [vreg_register(ROOT, f, m, out) for f, m in cases]
        in_process, trusted = registrar_seconds(cases, out)
    summary = {
        name: {
            "vreg register (classic, sample) median wall s": round(statistics.median(r["cli_wall_s"]), 3),
            "python -X importtime -c 'import vreg_cli', all imports, median ms": round(
                statistics.median(r["import_ms"]), 1
            ),
            "vreg register --method classic, all imports, median ms": round(statistics.median(r["cli_import_ms"]), 1),
            "heavy modules after import": r["heavy"].get("import", []),
            "heavy modules after vreg register --method classic": r["heavy"].get("register", []),
        }
        for name, r in result.items()
    }
    summary["per pair (8 rotated copies of the sample)"] = {
        "vreg register per call, mean wall s": round(statistics.mean(per_call), 3),
        "Registrar('classic') in one process, mean s": round(statistics.mean(in_process), 3),
        "ratio": round(statistics.mean(in_process) / statistics.mean(per_call), 3),
        "trusted": f"{trusted}/{len(cases)}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "raw": result, "per_call": per_call,
                                    "in_process": in_process}, indent=2))  # fmt: skip
    for section, values in summary.items():
        print(f"{section}:")
        for key, value in values.items():
            print(f"  {key}: {value}")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
