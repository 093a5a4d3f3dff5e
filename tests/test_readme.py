"""The README's Quick start and Python example are what CI runs: two commands, and an example that works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_example() -> str:
    """The code block after the `ci: python-example` marker (the one .ci/wheel_check runs against the wheel)."""
    found = re.search(r"<!-- ci: python-example -->\s*```python\n(.*?)```", README, re.DOTALL)
    assert found, "README.md lost its <!-- ci: python-example --> block"
    return found.group(1)


@pytest.mark.slow
def test_the_python_example_is_short_and_runs(tmp_path: Path) -> None:
    """It registers the bundled pair (trusted), prints the matrix and builds the pictures, from outside the checkout."""
    code = python_example()
    lines = [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) <= 10, f"the README's Python example has {len(lines)} lines of code"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = proc.stdout.split()
    assert first[0] == "True" and "trusted" in proc.stdout, proc.stdout  # reg.ok of the bundled pair
    assert "  " not in proc.stdout.splitlines()[0], proc.stdout  # no empty field printed as a double space
    assert "deg" in proc.stdout and "[[" in proc.stdout  # the rotation and the (3, 3) matrix were printed


def test_the_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 2, "the Quick start has the CPU block (two commands) and the GPU variant of the first"
    commands = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(commands) == 2, commands
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    cpu_torch = "pip install torch --index-url https://download.pytorch.org/whl/cpu && "
    assert commands[0].startswith(venv + cpu_torch + 'pip install -e ".[dev]" && vreg register data_specs/sample/')
    assert commands[1] == "just test"
    gpu = [line for line in blocks[1].splitlines() if line.strip()]
    assert gpu == [commands[0].replace(cpu_torch, "")], "the GPU route is the first command without the CPU index"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^just test$", ci, re.MULTILINE), ".ci/run must run the README's test command"
