"""Headless Chromium for the tests of HTML pages (and benchmarks/bench_qa_page.py): find it, dump a page's DOM after
its scripts ran, take a screenshot. Tests that need it skip when :func:`find_chromium` returns None."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: executable names tried in order (after $VREG_CHROMIUM)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SKIP_REASON = "headless Chromium not found (install chromium, or set VREG_CHROMIUM to its executable)"


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: $VREG_CHROMIUM when set, else the first of CHROMIUM_NAMES on PATH."""
    env = os.environ.get("VREG_CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    exe = find_chromium()
    if exe is None:
        raise RuntimeError(SKIP_REASON)
    with tempfile.TemporaryDirectory(prefix="vreg-chromium-") as profile:  # a fresh profile: runs never share state
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(url: str, budget_ms: int = 5000, timeout: float = 90.0) -> str:
    """The page's DOM (``--dump-dom``) once its scripts ran for up to ``budget_ms`` of virtual time."""
    proc = _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium --dump-dom {url} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def screenshot(url: str, path: Path, size: tuple[int, int] = (1400, 900), budget_ms: int = 3000) -> Path:
    """A PNG screenshot of ``url`` at ``size`` (width, height) CSS pixels."""
    args = [f"--virtual-time-budget={budget_ms}", "--hide-scrollbars", f"--window-size={size[0]},{size[1]}"]
    proc = _run([*args, f"--screenshot={Path(path).resolve()}", url], 90.0)
    if proc.returncode != 0 or not Path(path).is_file():
        raise RuntimeError(f"chromium --screenshot {url} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return Path(path)
