"""Smaller hostile-input classes (#46): special files given as inputs, the home folder left alone, quiet workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.paths import SAMPLE_DIR

runner = CliRunner()


def _special(kind: str, tmp_path: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo")
        return tmp_path / "fifo"
    if kind == "device":
        return Path("/dev/zero")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev/zero and symlink loops are POSIX")
@pytest.mark.parametrize(
    ("kind", "words"),
    [("fifo", "is a pipe (FIFO)"), ("device", "is a device"), ("loop", "a loop of symbolic links")],
)
def test_special_files_say_what_they_are(tmp_path: Path, kind: str, words: str) -> None:
    path = _special(kind, tmp_path)
    for args in (
        ["register", str(SAMPLE_DIR / "fixed.png"), str(path), "-o", str(tmp_path / "o.png")],
        ["register", str(SAMPLE_DIR / "fixed.png"), str(SAMPLE_DIR / "moving.png"), "--weights", str(path)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and f"{path}: {words}" in result.output, result.output


def test_pictures_write_nothing_in_the_home_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"} | {"HOME": str(tmp_path)}
    code = "from vreg_cli.viz import pyplot; plt = pyplot(); plt.figure(); import os; print(os.environ['MPLCONFIGDIR'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "vreg-matplotlib" in done.stdout and not (tmp_path / ".config").exists()


def test_workers_leave_ctrl_c_to_the_parent() -> None:
    code = (
        "import signal; from vreg_cli.parallel import share_cores; share_cores(2); "
        "print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_a_float_image_with_nan_is_refused_where_images_are_read(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    image[3, 3] = np.nan
    assert cv2.imwrite(str(tmp_path / "nan.tif"), image)
    result = runner.invoke(app, ["register", str(SAMPLE_DIR / "fixed.png"), str(tmp_path / "nan.tif"), "-o",
                                 str(tmp_path / "o.png")])  # fmt: skip
    assert result.exit_code == 2 and "nan.tif: the image holds NaN or infinite values" in result.output
