"""Hostile inputs, part two (issue 37): every limit of ``vreg_cli.limits`` refuses in one line with exit 2, quickly,
before the work it protects; every option value is range-checked where it is parsed."""

from __future__ import annotations

import errno
import json
import os
import re
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from train_helpers import write_synth_h5
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.context import RegistrationContext
from vreg_cli.errors import VregError
from vreg_cli.imageheader import declared_size
from vreg_cli.io import read_image
from vreg_cli.limits import MAX_CONFIG_NODES, MAX_PICKLE_BYTES, Range, check_plain_data
from vreg_cli.methods import METHODS, build_method
from vreg_cli.methods.options import parse_options
from vreg_cli.model.checkpoint import checkpoint_payload
from vreg_cli.model.loftr import LoFTRModel
from vreg_cli.model.safe_load import read_checkpoint
from vreg_cli.outputs import batch_stems
from vreg_cli.paths import SAMPLE_DIR, atomic_output

FIXED, MOVING = SAMPLE_DIR / "fixed.png", SAMPLE_DIR / "moving.png"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_configured_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.delenv("VREG_MAX_IMAGE_PIXELS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "no-config.toml"))


def one_error(*args: object, code: int = 2) -> str:
    """Run vreg; assert exit ``code``, no traceback and exactly one 'error:' line; return that line."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# --- checkpoints -----------------------------------------------------------------------------------------------------


def _zip_with_zeros(path: Path, member: str, n_bytes: int) -> None:
    """A zip whose ``member`` is ``n_bytes`` zeros, deflated (a few hundred kB on disk)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(member, "w", force_zip64=True) as out:
            for _ in range(n_bytes // len(chunk)):
                out.write(chunk)
        zf.writestr("archive/version", "3\n")


def test_a_checkpoint_whose_pickle_declares_a_huge_size_is_refused_from_the_zip_directory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.ckpt"
    _zip_with_zeros(bomb, "archive/data.pkl", MAX_PICKLE_BYTES + (8 << 20))
    assert bomb.stat().st_size < 1 << 20
    start = time.perf_counter()
    line = one_error("register", FIXED, MOVING, "--weights", bomb)
    assert time.perf_counter() - start < 10
    assert "data.pkl" in line and "MAX_PICKLE_BYTES" in line and str(bomb) in line, line


def test_a_checkpoint_member_that_inflates_far_beyond_the_file_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.ckpt"
    _zip_with_zeros(bomb, "archive/data/0", 32 << 20)
    with zipfile.ZipFile(bomb, "a") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(VregError, match="decompression bomb"):
        read_checkpoint(bomb)


def _laughs(depth: int, width: int) -> list:
    node: list = ["lol"]
    for _ in range(depth):
        node = [node] * width  # width references to ONE list: tiny in the file, width**depth values when walked
    return node


def test_a_shared_reference_model_config_ends_quickly(tmp_path: Path) -> None:
    payload = checkpoint_payload(LoFTRModel())
    payload["model_config"] = {**payload["model_config"], "coarse_layer_names": _laughs(6, 50)}
    path = tmp_path / "laughs.ckpt"
    torch.save(payload, path)
    assert path.stat().st_size < 50 << 20
    start = time.perf_counter()
    line = one_error("register", FIXED, MOVING, "--checkpoint", path)
    assert time.perf_counter() - start < 30
    assert "model_config" in line and f"{MAX_CONFIG_NODES:,} values" in line, line


def test_plain_data_walk_counts_visits_and_depth() -> None:
    assert check_plain_data({"a": [1, 2.0, "x", None, True]}, "cfg")
    assert not check_plain_data({"a": object()}, "cfg")
    with pytest.raises(VregError, match="MAX_CONFIG_NODES"):
        check_plain_data(_laughs(4, 20), "cfg")  # 160 000 visits of 4 distinct lists
    deep: list = []
    for _ in range(20):
        deep = [deep]
    with pytest.raises(VregError, match="MAX_CONFIG_DEPTH"):
        check_plain_data(deep, "cfg")


# --- images ----------------------------------------------------------------------------------------------------------


def _png(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims ``width`` x ``height`` RGB and whose data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def test_an_image_header_claiming_a_huge_size_is_refused_before_decoding(tmp_path: Path) -> None:
    huge = _png(tmp_path / "huge.png", 100_000, 100_000)
    line = one_error("register", FIXED, huge, "-o", tmp_path / "out.png")
    assert "100000x100000 px" in line and "VREG_MAX_IMAGE_PIXELS" in line, line
    # 30000 x 30000 is under OpenCV's own limit (2**30 px): vreg's limit refuses it before the decoder allocates
    big = _png(tmp_path / "big.png", 30_000, 30_000)
    with pytest.raises(VregError, match="30000x30000 px is larger than the 64,000,000 pixel limit"):
        read_image(big)
    assert not (tmp_path / "out.png").exists()


def test_the_image_limit_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VREG_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(VregError, match="1,000 pixel limit"):
        read_image(FIXED)
    monkeypatch.setenv("VREG_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(VregError, match="VREG_MAX_IMAGE_PIXELS"):
        read_image(FIXED)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_declared_size_reads_each_header_opencv_writes(tmp_path: Path, ext: str) -> None:
    import cv2
    import numpy as np

    img = np.zeros((37, 53, 3), np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    assert declared_size(buf.tobytes()) == (53, 37)


# --- option values ---------------------------------------------------------------------------------------------------

BAD_METHOD_OPTIONS = [
    "classic:angle_step=nan",
    "classic:angle_step=inf",
    "classic:angle_step=1e400",
    "classic:angle_step=1e-9",
    "classic:level_overlap=0",
    "classic:sigmas=1e9",
    "classic:sigmas=-1",
    "classic:radii=24/10/5/5/5/5/5/5/5/5",
    "classic:coarse_size=100000",
    "sift:max_features=0",
    "sift:ratio=nan",
    "loftr:size=20000",
    "loftr:step=1e-9",
    "loftr:passes=1000",
    "loftr:device=bogus",
]


@pytest.mark.parametrize("spec", BAD_METHOD_OPTIONS)
def test_each_bad_method_option_is_one_line_exit_2(tmp_path: Path, spec: str) -> None:
    line = one_error("register", FIXED, MOVING, "-o", tmp_path / "out.png", "--method", spec)
    option = spec.split(":")[1].split("=")[0]
    assert option in line, line
    assert not (tmp_path / "out.png").exists()


def test_every_numeric_method_option_declares_a_range() -> None:
    for info in METHODS.values():
        for option in info.options:
            base = option.type_name.split(" ")[0]
            if base.startswith(("int", "float")):
                assert isinstance(option.range, Range), f"{info.name}:{option.name} has no Range"


@pytest.mark.parametrize(
    "args",
    [
        ("--working-size", "20000"),
        ("--scale-range", "inf,inf"),
        ("--scale-range", "nan,1"),
        ("--threshold", "nan"),
        ("--threshold", "0"),
    ],
)
def test_each_bad_register_option_is_one_line_exit_2(tmp_path: Path, args: tuple[str, str]) -> None:
    line = one_error("register", FIXED, MOVING, "-o", tmp_path / "out.png", *args)
    assert args[0].lstrip("-").split("-")[0] in line.replace("_", "-"), line


def test_batch_workers_are_bounded(tmp_path: Path) -> None:
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"fixed,moving\n{FIXED},{MOVING}\n")
    line = one_error("register", "--pairs", csv, "--out-dir", tmp_path / "o", "--workers", "100000")
    assert "--workers must lie in [1, 256]" in line, line


def test_typer_refuses_its_own_ranges_with_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["register", str(FIXED), str(MOVING), "--max-rotation", "nan"])
    assert result.exit_code == 2 and "Invalid value for '--max-rotation'" in result.output, result.output


def test_the_context_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(VregError, match=r"working_size must lie in \[64, 2048\], got 20000"):
        RegistrationContext.from_options(working_size=20000)
    with pytest.raises(ValueError, match="scale_range"):
        RegistrationContext(scale_range=(float("inf"), float("inf")))


@pytest.mark.parametrize(
    "args",
    [
        ("synth", "{tmp}/s", "--seed", "-1", "--n", "1"),
        ("synth", "{tmp}/s", "--n", "0"),
        ("synth", "{tmp}/s", "--size", "100000"),
        ("benchmark", "--data", "{tmp}/x.h5", "--out", "{tmp}/b", "--seed", "-1"),
        ("benchmark", "--data", "{tmp}/x.h5", "--out", "{tmp}/b", "--shift-jitter", "nan"),
        ("benchmark", "--data", "{tmp}/x.h5", "--out", "{tmp}/b", "--shift-jitter", "0.6"),
        ("prepare", "{tmp}", "--out", "{tmp}/d.h5", "--layout", "flat", "--split", "nan,0,0"),
        ("prepare", "{tmp}", "--out", "{tmp}/d.h5", "--layout", "flat", "--seed", "-1"),
    ],
)
def test_each_bad_data_option_is_one_line_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    line = one_error(*(a.format(tmp=tmp_path) for a in args))
    option = next(a for a in args if a.startswith("--") and a not in ("--data", "--out", "--layout"))
    assert option in line, line
    assert not (tmp_path / "s").exists() and not (tmp_path / "b").exists() and not (tmp_path / "d.h5").exists()


# --- devices ---------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_device_that_is_not_there_is_one_line_and_auto_picks_what_exists(tmp_path: Path) -> None:
    line = one_error("register", FIXED, MOVING, "-o", tmp_path / "out.png", "--method", "loftr:device=cuda")
    assert "loftr:device cuda: no CUDA GPU" in line, line
    method = build_method("loftr:device=auto").method
    assert str(next(method.matcher.model.parameters()).device) == "cpu"  # type: ignore[attr-defined]


# --- batch names -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_batch_outputs_are_one_per_pair_and_never_clobber_vregs_own_files(tmp_path: Path) -> None:
    names = ["a/b", "a_b", "A_B", "batch", "summary", ".x.vreg-999999999-abc.tmp", "p", "p_checkerboard"]
    csv = tmp_path / "pairs.csv"
    csv.write_text("fixed,moving,name\n" + "".join(f"{FIXED},{MOVING},{n}\n" for n in names))
    out = tmp_path / "out"
    args = ["register", "--pairs", csv, "--out-dir", out, "--method", "classic", "--pictures", "checkerboard"]
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "summary.csv").set_index("name")
    assert sorted(rows.index) == sorted(names) and set(rows["status"]) == {"ok"}
    outputs = list(rows["output"]) + list(rows["transform"])
    assert len(set(outputs)) == len(outputs)  # one set of files per pair
    assert all(Path(p).is_file() for p in outputs)
    assert not any(Path(p).name.startswith(".") for p in outputs)
    assert json.loads((out / "batch.json").read_text())["method"] == "classic"
    # --resume accepts its own batch.json, keeps every row and still finds every output (none deleted as a temporary)
    result = runner.invoke(app, [*(str(a) for a in args), "--resume"])
    assert result.exit_code == 0, result.output
    assert all(Path(p).is_file() for p in outputs)
    assert len(pd.read_csv(out / "summary.csv")) == len(names)


def test_batch_stems_are_stable_and_distinct() -> None:
    stems = batch_stems(["b", "a/b", "a_b", "batch", "..", ".hidden"], ("overlay",))
    assert stems == {"a/b": "a_b", "a_b": "a_b-2", "b": "b", "batch": "batch-2", "..": "_.", ".hidden": "_hidden"}
    assert batch_stems(["a_b", "a/b"]) == batch_stems(["a/b", "a_b"])  # the same for a resumed batch


# --- layout specs ----------------------------------------------------------------------------------------------------


def _pair_folder(root: Path) -> Path:
    (root / "p1").mkdir(parents=True)
    for name in ("fixed.png", "moving.png", "landmarks.csv"):
        (root / "p1" / name).write_bytes((SAMPLE_DIR / name).read_bytes())
    return root


def test_a_layout_spec_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('kind = "pairs"\ndescription = "caf\xe9"\n'.encode("latin-1"))
    line = one_error(
        "register", "--pairs-dir", _pair_folder(tmp_path / "d"), "--pairs-layout", bad, "--out-dir", tmp_path / "o"
    )
    assert "must be UTF-8" in line and str(bad) in line, line
    line = one_error("prepare", tmp_path / "d", "--out", tmp_path / "x.h5", "--layout", bad)
    assert "must be UTF-8" in line, line


@pytest.mark.parametrize("template", ["{dir.__class__.__init__}", "{dir[0]}", "{dir!r}", "{base:>999999999}"])
def test_a_layout_template_is_data_never_attribute_access(tmp_path: Path, template: str) -> None:
    bundled = (SAMPLE_DIR.parent / "landmarks-csv.toml").read_text()
    spec = re.sub(r"(?ms)^moving = \[.*?\]$", lambda _: f"moving = {template!r}", bundled)
    assert template in spec
    layout = tmp_path / "evil.toml"
    layout.write_text(spec)
    line = one_error(
        "register", "--pairs-dir", _pair_folder(tmp_path / "d"), "--pairs-layout", layout, "--out-dir", tmp_path / "o"
    )
    assert "template" in line and "__init__" not in line.split("template", 1)[0], line
    triplets = (SAMPLE_DIR.parent / "flat.toml").read_text()
    evil = tmp_path / "evil_triplets.toml"
    evil.write_text(triplets.replace("{id}", "{id.__class__}{id}", 1))
    line = one_error("prepare", tmp_path / "d", "--out", tmp_path / "x.h5", "--layout", evil)
    assert "only plain fields" in line or "may use only" in line, line


# --- full disks ------------------------------------------------------------------------------------------------------


def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_prepare_onto_a_full_disk_is_one_line_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    assert runner.invoke(app, ["synth", str(src), "--n", "3", "--size", "64", "--layout", "flat"]).exit_code == 0
    out.mkdir()
    monkeypatch.setattr("vreg_cli.data.pack.write_sample", _no_space)
    import h5py

    real_close = h5py.File.close

    def close_on_a_full_disk(self: h5py.File) -> None:  # what h5py raises when it cannot flush on close
        real_close(self)
        raise RuntimeError(
            "Disable slist on flush dest failure failed (file write failed: errno = 28, error message = 'No space "
            "left on device')"
        )

    monkeypatch.setattr(h5py.File, "close", close_on_a_full_disk)
    line = one_error("prepare", src, "--out", out / "d.h5", "--layout", "flat")
    assert "d.h5: cannot write (No space left on device)" in line, line
    assert list(out.iterdir()) == []  # neither the file nor its temporary


def test_hdf5_close_errors_on_a_full_disk_are_recognised() -> None:
    from vreg_cli.paths import write_failure

    closing = RuntimeError("Disable slist on flush dest failure failed (file write failed: time = x\n, errno = 28, "
                           "error message = 'No space left on device', buf = 0x1)")  # fmt: skip
    assert write_failure(closing) == "No space left on device"
    assert write_failure(RuntimeError("a bug")) is None  # stays a bug (exit 1), never hidden as a user error


def test_synth_onto_a_full_disk_leaves_no_sample_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vreg_cli.io

    real, calls = vreg_cli.io.write_image, []

    def fill_up(path: Path, img: object) -> Path:
        calls.append(path)
        if len(calls) > 5:  # the write into the temporary file fails, as numpy's tofile does on a full disk
            with atomic_output(path):
                _no_space()
        return real(path, img)  # type: ignore[arg-type]

    monkeypatch.setattr(vreg_cli.io, "write_image", fill_up)
    (tmp_path / "keep").write_text("x")
    line = one_error("synth", tmp_path / "s", "--n", "4", "--size", "64", "--layout", "flat")
    assert "No space left on device" in line, line
    assert len(calls) > 5 and not (tmp_path / "s").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


def test_vreg_methods_shows_each_range() -> None:
    result = runner.invoke(app, ["methods", "classic"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "float in [1, 90]" in result.output, result.output  # angle_step


def test_a_model_config_with_absurd_sizes_is_refused_before_building(tmp_path: Path) -> None:
    payload = checkpoint_payload(LoFTRModel())
    payload["model_config"] = {**payload["model_config"], "initial_dim": 10**9}
    path = tmp_path / "huge_dims.ckpt"
    torch.save(payload, path)
    line = one_error("register", FIXED, MOVING, "--checkpoint", path)
    assert "initial_dim must lie in [8, 1024]" in line and str(path) in line, line


HOSTILE_NUMBERS = st.one_of(
    st.sampled_from(["nan", "-nan", "inf", "-inf", "1e400", "-1e400", "1e-400", "0", "-0", "-1", "1e9", "1e-9", ""]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_value_of_any_method_option_is_accepted_in_range_or_refused_in_one_line(data: st.DataObject) -> None:
    info = data.draw(st.sampled_from(list(METHODS.values())))
    option = data.draw(st.sampled_from([o for o in info.options if o.name not in ("weights", "checkpoint")]))
    raw = data.draw(HOSTILE_NUMBERS)
    if "tuple" in str(option.type) and data.draw(st.booleans()):
        raw = "/".join([raw] * data.draw(st.integers(1, 20)))
    try:
        parsed = parse_options(info.options_class, {option.name: raw}, info.name)
    except VregError as exc:
        assert "\n" not in str(exc) and option.name in str(exc)
        return
    value = getattr(parsed, option.name)
    if option.range is not None and value is not None:
        assert option.range.problem(value) is None


@pytest.mark.parametrize(
    "args",
    [
        ("--lr", "nan"),
        ("--workers", "-1"),
        ("--seed", "-1"),
        ("--max-rotation", "nan"),
        ("--max-translation", "inf"),
        ("--vessel-eps", "nan"),
        ("--warmup-steps", "-5"),
        ("--epochs", "-1"),
    ],
)
def test_each_bad_train_option_is_one_line_exit_2(tmp_path: Path, args: tuple[str, str]) -> None:
    data = write_synth_h5(tmp_path / "d.h5", n=3, size=64, n_val=1)
    line = one_error("train", "--data", data, "--out", tmp_path / "run", "--max-steps", "1", *args)
    assert line.startswith(f"error: {args[0]} must"), line
    assert not (tmp_path / "run" / "last.ckpt").exists()
