"""A checkpoint whose pickle nests too deep is refused before torch reads it (it crashed the interpreter: SIGSEGV)."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from vreg_cli.errors import VregError
from vreg_cli.limits import MAX_PICKLE_DEPTH
from vreg_cli.model.pickle_depth import PickleTooDeep, pickle_depth
from vreg_cli.model.safe_load import read_checkpoint
from vreg_cli.paths import BUNDLED_LOFTR, SAMPLE_DIR

#: {((...((),)...),): None}: a dict whose key is a tuple nested DEPTH deep, written opcode by opcode
DEEP = 300_000


def _deep_pickle(depth: int) -> bytes:
    return b"\x80\x02}" + b")" + b"\x85" * depth + b"Ns."


def _zip_checkpoint(path: Path, pickle_bytes: bytes) -> Path:
    """A torch zip file (the real layout of torch.save) whose data.pkl is replaced by ``pickle_bytes``."""
    buffer = io.BytesIO()
    torch.save({"state_dict": {"a": torch.zeros(2)}}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            out.writestr(info.filename, pickle_bytes if info.filename.endswith("data.pkl") else source.read(info))
    return path


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ([1, 2, 3], 1), ({"a": {"b": (1, 2)}}, 3), ([[[[]]]], 4), ({"x": list(range(1000))}, 2)],
)
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_depth_of_plain_values(value: object, depth: int, protocol: int) -> None:
    assert pickle_depth(pickle.dumps(value, protocol=protocol), 100) == depth


def test_a_shared_or_appended_container_is_not_counted_twice() -> None:
    shared = [1]
    assert pickle_depth(pickle.dumps([shared, shared, shared]), 100) == 2
    assert pickle_depth(pickle.dumps([[i] for i in range(5000)]), 100) == 2  # APPENDS on one list: not 5000


def test_the_limit_and_malformed_pickles() -> None:
    with pytest.raises(PickleTooDeep):
        pickle_depth(_deep_pickle(MAX_PICKLE_DEPTH + 1), MAX_PICKLE_DEPTH)
    # the empty tuple is level 1, each TUPLE1 one more, the dict holding it one more: depth + 2
    assert pickle_depth(_deep_pickle(MAX_PICKLE_DEPTH - 2), MAX_PICKLE_DEPTH) == MAX_PICKLE_DEPTH
    with pytest.raises(ValueError, match="underflow"):
        pickle_depth(b"\x80\x02\x85.", 10)  # TUPLE1 with nothing on the stack
    with pytest.raises(ValueError):
        pickle_depth(b"\x80\x02]", 10)  # no STOP


def test_real_checkpoints_are_well_inside_the_limit(tmp_path: Path) -> None:
    with zipfile.ZipFile(BUNDLED_LOFTR) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("data.pkl")]
        assert pickle_depth(archive.read(name), MAX_PICKLE_DEPTH) <= 8
    assert read_checkpoint(BUNDLED_LOFTR)["model"]


def test_a_deep_zip_checkpoint_is_one_line(tmp_path: Path) -> None:
    path = _zip_checkpoint(tmp_path / "deep.ckpt", _deep_pickle(MAX_PICKLE_DEPTH + 5))
    with pytest.raises(VregError, match="nests objects more than 64 deep") as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)
    broken = _zip_checkpoint(tmp_path / "broken.ckpt", b"\x80\x02\x85.")
    with pytest.raises(VregError, match="corrupt checkpoint"):
        read_checkpoint(broken)


@pytest.mark.parametrize("kind", ["zip", "legacy"])
def test_the_crashing_checkpoint_ends_in_one_line_exit_2(tmp_path: Path, kind: str) -> None:
    """The 300,000-deep file that killed the interpreter (exit 139) under --weights: in its own process, so that a
    regression fails this test instead of crashing the suite."""
    path = tmp_path / f"deep.{kind}"
    if kind == "zip":
        _zip_checkpoint(path, _deep_pickle(DEEP))
    else:  # the pre-1.6 layout: magic number, protocol, system info, then the object's pickle
        header = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}]
        path.write_bytes(b"".join(pickle.dumps(v, protocol=2) for v in header) + _deep_pickle(DEEP))
    cmd = [sys.executable, "-m", "vreg_cli", "register", str(SAMPLE_DIR / "fixed.png"), str(SAMPLE_DIR / "moving.png")]
    cmd += ["-o", str(tmp_path / "out.png"), "--weights", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "nests objects more than 64 deep" in lines[0], lines
