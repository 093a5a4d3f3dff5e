"""Hostile inputs (issue 37): run `vreg` on each kind of bomb and bad value, report exit code, traceback, time and peak
memory per case, and whether a batch silently overwrote one pair's outputs with another's.

    python3 benchmarks/bench_hostile.py [--work DIR] [--timeout 120]

Every hostile file is built in the work folder (a temporary one by default) from the bundled sample pair; nothing is
downloaded. Each case runs as its own `python -m vreg_cli` process; its peak resident memory comes from
``os.wait4`` (the kernel's ru_maxrss of that process). Targets: no traceback, exit 2 (or 0 for the accepted cases),
under 60 s and 2 GB each, 0 silent overwrites. The table is printed as Markdown (docs/hostile_inputs.md).
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data_specs" / "sample"
FIXED, MOVING = SAMPLE / "fixed.png", SAMPLE / "moving.png"


def run_case(args: list[str], timeout: float) -> tuple[int, bool, float, float, str]:
    """(exit code, traceback shown, seconds, peak MB, last output line) of ``python -m vreg_cli ARGS``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vreg_cli", *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO
        )
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    lines = [line for line in text.splitlines() if line.strip()]
    return code, "Traceback" in text, seconds, usage.ru_maxrss / 1024, (lines[-1] if lines else "")[:110]


def _png(path: Path, width: int, height: int, rows: bool = False) -> Path:
    """A PNG claiming width x height RGB; ``rows``: with its real (zero, one bright pixel) rows, else 64 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    if rows:
        comp, parts, row = zlib.compressobj(9), [], b"\x00" + bytes(3 * width)
        for y in range(height):
            parts.append(comp.compress(row if y != height // 2 else b"\x00\xff\xff\xff" + bytes(3 * width - 3)))
        data = b"".join(parts) + comp.flush()
    else:
        data = zlib.compress(bytes(64))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def _zip_bomb(path: Path, member: str, n_bytes: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(member, "w", force_zip64=True) as out:
            for _ in range(n_bytes >> 20):
                out.write(bytes(1 << 20))
        zf.writestr("archive/version", "3\n")
    return path


def _vreg_checkpoint(path: Path, **config: object) -> Path:
    import torch

    from vreg_cli.model.checkpoint import checkpoint_payload
    from vreg_cli.model.loftr import LoFTRModel

    payload = checkpoint_payload(LoFTRModel())
    payload["model_config"] = {**payload["model_config"], **config}
    torch.save(payload, path)
    return path


def _weights_changed(path: Path, change: str) -> Path:
    """The bundled model's checkpoint with its first weight made complex or given a NaN."""
    import torch

    from vreg_cli.model.safe_load import read_checkpoint
    from vreg_cli.paths import BUNDLED_LOFTR

    payload = read_checkpoint(BUNDLED_LOFTR)
    name = next(k for k, v in payload["model"].items() if v.is_floating_point() and v.numel() > 1)
    value = payload["model"][name].clone()
    if change == "complex":
        value = value.to(torch.complex64)
    else:
        value.view(-1)[0] = float("nan")
    payload["model"][name] = value
    torch.save(payload, path)
    return path


def _deep_key(path: Path, depth: int = 300_000) -> Path:
    """A torch zip checkpoint whose pickle is {((...((),)...),): None}, the key nested ``depth`` deep (written opcode
    by opcode): torch's weights-only reader crashed the interpreter on it (SIGSEGV) before vreg's walk refused it."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"state_dict": {}}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    deep = b"\x80\x02}" + b")" + b"\x85" * depth + b"Ns."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            out.writestr(info.filename, deep if info.filename.endswith("data.pkl") else source.read(info))
    return path


def _laughs(depth: int, width: int) -> list:
    node: list = ["lol"]
    for _ in range(depth):
        node = [node] * width
    return node


def build_cases(work: Path) -> list[tuple[str, list[str], int]]:
    """(label, vreg arguments, expected exit code); the checkpoints are written by a child process (torch), so that
    this process stays small: a child forked from it starts with its resident pages, which ru_maxrss would count."""
    subprocess.run([sys.executable, __file__, "--write-checkpoints", str(work)], check=True)
    out = str(work / "out.png")
    reg = ["register", str(FIXED), str(MOVING), "-o", out]
    pairs = work / "pairs"
    (pairs / "p1").mkdir(parents=True, exist_ok=True)
    for name in ("fixed.png", "moving.png", "landmarks.csv"):
        (pairs / "p1" / name).write_bytes((SAMPLE / name).read_bytes())
    latin1 = work / "latin1.toml"
    latin1.write_bytes('kind = "pairs"\ndescription = "caf\xe9"\n'.encode("latin-1"))
    evil = work / "evil.toml"
    evil.write_text(
        (REPO / "data_specs" / "landmarks-csv.toml")
        .read_text()
        .replace('moving = "{dir}/moving.png"', 'moving = "{dir.__class__.__init__}"')
    )
    src = work / "src"
    cases: list[tuple[str, list[str], int]] = [
        ("checkpoint: 300 MB data.pkl in a small zip", ["register", str(FIXED), str(MOVING), "-o", out, "--weights",
         str(_zip_bomb(work / "bomb.ckpt", "archive/data.pkl", 300 << 20))], 2),
        ("checkpoint: billion-laughs model_config (50^6)", [*reg, "--checkpoint", str(work / "laughs.ckpt")], 2),
        ("checkpoint: model_config initial_dim=1e9", [*reg, "--checkpoint", str(work / "dims.ckpt")], 2),
        ("checkpoint: state-dict key nested 300,000 deep", [*reg, "--weights", str(work / "deep.ckpt")], 2),
        ("checkpoint: model_config attention=full", [*reg, "--checkpoint", str(work / "full.ckpt")], 2),
        ("checkpoint: every model_config size at its maximum", [*reg, "--checkpoint", str(work / "maxed.ckpt")], 2),
        ("checkpoint: complex weights", [*reg, "--checkpoint", str(work / "complex.ckpt")], 2),
        ("checkpoint: a NaN weight", [*reg, "--checkpoint", str(work / "nan.ckpt")], 2),
        ("image: PNG header claims 100000x100000", ["register", str(FIXED),
         str(_png(work / "huge.png", 100_000, 100_000)), "-o", out], 2),
        ("image: 2.6 MB PNG of 30000x30000 RGB", ["register", str(FIXED),
         str(_png(work / "big.png", 30_000, 30_000, rows=True)), "-o", out], 2),
        ("classic:sigmas=1e9", [*reg, "--method", "classic:sigmas=1e9"], 2),
        ("sift --working-size 20000", [*reg, "--method", "sift", "--working-size", "20000"], 2),
        ("sift --working-size 2048 (the limit)", [*reg, "--method", "sift", "--working-size", "2048"], 3),
        *((f"classic:angle_step={v}", [*reg, "--method", f"classic:angle_step={v}"], 2)
          for v in ("nan", "inf", "1e400", "1e-9")),
        ("classic:level_overlap=0", [*reg, "--method", "classic:level_overlap=0"], 2),
        ("--scale-range inf,inf", [*reg, "--scale-range", "inf,inf"], 2),
        ("loftr:device=cuda (no CUDA here)", [*reg, "--method", "loftr:device=cuda"], 2),
        ("loftr:device=bogus", [*reg, "--method", "loftr:device=bogus"], 2),
        ("loftr:size=20000", [*reg, "--method", "loftr:size=20000"], 2),
        ("synth --seed -1", ["synth", str(src), "--seed", "-1"], 2),
        ("benchmark --seed -1", ["benchmark", "--pairs-dir", str(pairs), "--out", str(work / "b"), "--seed", "-1"], 2),
        ("prepare --split nan,0,0", ["prepare", str(pairs), "--out", str(work / "d.h5"), "--layout", "flat",
         "--split", "nan,0,0"], 2),
        ("layout spec not UTF-8", ["register", "--pairs-dir", str(pairs), "--pairs-layout", str(latin1),
         "--out-dir", str(work / "o1")], 2),
        ("layout template {dir.__class__.__init__}", ["register", "--pairs-dir", str(pairs), "--pairs-layout",
         str(evil), "--out-dir", str(work / "o2")], 2),
        *_more_cases(work, pairs, reg),
    ]  # fmt: skip
    return cases


def _h5(path: Path, damage: str) -> Path:
    """A small vreg HDF5 file (3 synthetic 64 px samples) with one hostile change."""
    import h5py
    import numpy as np

    from vreg_cli.data.synth import make_triplet

    samples = [make_triplet(k, 64) for k in range(3)]
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "vreg", "schema_version": 1, "layout": "test", "size": [64, 64]})
        f.create_dataset("ids", data=np.array(["a", "b", "c"], dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("split", data=np.array(["train"] * 3, dtype=object), dtype=h5py.string_dtype())
        for mod in ("cf", "fa", "oct"):
            f.create_dataset(f"images/{mod}", data=np.stack([s[mod] for s in samples]))
        for mask in ("vessel", "fov"):
            f.create_dataset(f"masks/{mask}", data=np.stack([s[mask] for s in samples]).astype(np.uint8))
        if damage == "external":
            f["images/extra"] = h5py.ExternalLink("/etc/passwd", "/x")
        elif damage == "loop":
            f["masks/loop"] = h5py.SoftLink("/masks/loop")
        elif damage == "size":
            f.attrs["size"] = [20_000, 20_000]
        elif damage == "ids":
            del f["ids"]
            f.create_dataset("ids", shape=(10**9,), dtype=h5py.string_dtype(), chunks=(1024,))
    return path


def _more_cases(work: Path, pairs: Path, reg: list[str]) -> list[tuple[str, list[str], int]]:
    """The classes of issue 46's probe: HDF5 files, specs, options, names and special files."""
    deep = work / "deep.toml"
    deep.write_text('kind = "pairs"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    absolute = work / "abs.toml"
    absolute.write_text(
        re.sub(r"^fixed = .*$", 'fixed = ["/**/fixed.png"]', (REPO / "data_specs" / "landmarks-csv.toml").read_text(),
               flags=re.M)
    )  # fmt: skip
    split = work / "split.csv"
    split.write_bytes("id,split\ncaf\xe9,train\n".encode("latin-1"))
    cr = work / "cr.csv"
    cr.write_text(f'fixed,moving,name\n{FIXED},{MOVING},"a\rb"\n')
    os.mkfifo(work / "fifo")
    out = str(work / "out.png")
    return [
        *((f"hdf5: {what}", ["info", str(_h5(work / f"{what}.h5", what))], 2)
          for what in ("external", "loop", "size", "ids")),
        ("spec: TOML nested 100,000 deep", ["register", "--pairs-dir", str(pairs), "--pairs-layout", str(deep),
         "--out-dir", str(work / "o3")], 2),
        ("spec: absolute glob /**/fixed.png", ["register", "--pairs-dir", str(pairs), "--pairs-layout", str(absolute),
         "--out-dir", str(work / "o4")], 2),
        ("prepare --split-file not UTF-8", ["prepare", str(pairs), "--out", str(work / "s.h5"), "--layout", "flat",
         "--split-file", str(split)], 2),
        ("benchmark smallfov --blur 1e9", ["benchmark", "--pairs-dir", str(pairs), "--out", str(work / "b2"),
         "--method", "sift", "--protocol", "smallfov", "--blur", "1e9"], 2),
        ("-o with a 300-character name", [*reg[:3], "-o", str(work / ("a" * 300 + ".png"))], 2),
        ("--working-size 63 (a Typer range)", [*reg, "--working-size", "63"], 2),
        ("batch: a pair name with a carriage return", ["register", "--pairs", str(cr), "--out-dir", str(work / "o5")],
         2),
        ("image: a FIFO", ["register", str(FIXED), str(work / "fifo"), "-o", out], 2),
        ("image: /dev/zero", ["register", str(FIXED), "/dev/zero", "-o", out], 2),
    ]  # fmt: skip


def batch_overwrites(work: Path, timeout: float) -> tuple[int, int, str]:
    """(silent overwrites, exit code of --resume, note) for pairs named a/b, a_b, A_B, batch, summary, a temp name."""
    names = ["a/b", "a_b", "A_B", "batch", "summary", ".x.vreg-999999999-abc.tmp"]
    csv = work / "pairs.csv"
    csv.write_text("fixed,moving,name\n" + "".join(f"{FIXED},{MOVING},{n}\n" for n in names))
    out = work / "batch"
    args = ["register", "--pairs", str(csv), "--out-dir", str(out), "--method", "classic"]
    code, tb, *_ = run_case(args, timeout)
    import pandas as pd

    rows = pd.read_csv(out / "summary.csv")
    files = [p for p in list(rows["output"]) + list(rows["transform"]) if isinstance(p, str)]
    missing = sum(not Path(p).is_file() for p in files)
    overwrites = (len(files) - len(set(files))) + missing + int(len(rows) != len(names))
    resume, tb2, *_ = run_case([*args, "--resume"], timeout)
    return overwrites, resume, f"first run exit {code}, {len(set(files))} distinct files for {len(names)} pairs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="folder for the hostile files (default: a temp one)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a case counts as a hang")
    parser.add_argument("--write-checkpoints", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_checkpoints is not None:
        sys.path.insert(0, str(REPO))
        _vreg_checkpoint(args.write_checkpoints / "laughs.ckpt", coarse_layer_names=_laughs(6, 50))
        _vreg_checkpoint(args.write_checkpoints / "dims.ckpt", initial_dim=10**9)
        _deep_key(args.write_checkpoints / "deep.ckpt")
        _vreg_checkpoint(args.write_checkpoints / "full.ckpt", attention="full")
        _vreg_checkpoint(args.write_checkpoints / "maxed.ckpt", initial_dim=1024, block_dims=(1024, 1024, 1024),
                         coarse_d_model=1024, coarse_d_ffn=4096, fine_d_model=1024, fine_d_ffn=4096,
                         coarse_layer_names=("self", "cross") * 16)  # fmt: skip
        _weights_changed(args.write_checkpoints / "complex.ckpt", "complex")
        _weights_changed(args.write_checkpoints / "nan.ckpt", "nan")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print("| case | exit (expected) | traceback | seconds | peak MB | last line |")
        print("|---|---|---|---|---|---|")
        bad = 0
        for label, vreg_args, expected in build_cases(work):
            code, tb, seconds, peak, last = run_case(vreg_args, args.timeout)
            bad += code != expected or tb or seconds > 60 or peak > 2048
            print(f"| {label} | {code} ({expected}) | {'yes' if tb else 'no'} | {seconds:.1f} | {peak:.0f} | "
                  f"{last.replace('|', '/')} |")  # fmt: skip
        overwrites, resume, note = batch_overwrites(work, args.timeout)
        bad += overwrites > 0 or resume != 0
        print(f"\nbatch names: {overwrites} silent overwrites, --resume exit {resume} ({note})")
        print(f"cases off target: {bad}")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
