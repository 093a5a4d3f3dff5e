"""Usage errors that Typer finds (unknown options and commands, values outside an option's range, unparsable
numbers) read like the package's own: one ``error:`` line naming the option, exit 2, no usage box (#46)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["register", "a.png", "b.png", "--working-size", "63"], "error: Invalid value for '--working-size'"),
        (["register", "a.png", "b.png", "--max-rotation", "nan"], "error: Invalid value for '--max-rotation'"),
        (["benchmark", "--seed", "1e3"], "error: Invalid value for '--seed'"),
        (["register", "--bogus"], "error: No such option: --bogus"),
        (["registr"], "error: No such command 'registr'. Did you mean 'register'?"),
    ],
)
def test_a_usage_error_is_one_line(args: list[str], start: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(start) and lines[0].endswith("--help)"), result.output
    assert "╭" not in result.output and "Usage:" not in result.output


def test_help_version_and_success_keep_their_exit_codes() -> None:
    assert runner.invoke(app, ["--version"]).exit_code == 0
    assert runner.invoke(app, ["register", "--help"]).exit_code == 0
    assert runner.invoke(app, ["methods"]).exit_code == 0
    bare = runner.invoke(app, [])
    assert "Usage: vreg" in bare.output and "error:" not in bare.output  # `vreg` alone shows the help
