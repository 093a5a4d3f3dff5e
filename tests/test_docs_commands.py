"""The documentation shows only commands and options that exist, and stays a front page plus docs/ pages.

Every `vreg <command> --option` in a fenced code block or an inline code span of README.md and docs/*.md is checked
against the Typer app (the command group behind `vreg`): the command must exist and take every option shown.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from script_modules import load_script

from vreg_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(vreg [^`]+)`")


def shown_commands(text: str) -> list[str]:
    """Every shell segment of ``text`` (fenced blocks, line continuations joined; inline `vreg ...` spans) that
    runs vreg."""
    segments = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            segments += re.split(r"&&|\|\||;|\|", line.split(" #")[0])
    for span in INLINE.findall(FENCE.sub("", text)):
        segments += re.split(r"&&|;|\|", span)
    return [s.strip() for s in segments if re.search(r"(^|\s)vreg\s+[a-z]", s)]


def unknown_parts(segment: str, group: Any) -> list[str]:
    """What ``segment`` shows that `vreg` does not have: an unknown command or an option its command lacks."""
    try:
        tokens = shlex.split(segment)
    except ValueError:
        tokens = segment.split()
    args = tokens[tokens.index("vreg") + 1 :]
    if not args or args[0].startswith("-"):
        return []
    command = group.commands.get(args[0])
    if command is None:
        return [f"command {args[0]!r}"]
    options = {opt for param in command.params for opt in (*param.opts, *getattr(param, "secondary_opts", []))}
    options |= {"--help"}
    flags = {arg.split("=")[0] for arg in args[1:] if re.fullmatch(r"--?[a-zA-Z][\w-]*(=.*)?", arg)}
    return [f"{args[0]} {flag}" for flag in sorted(flags - options)]


def test_every_vreg_command_and_option_shown_in_the_docs_exists() -> None:
    group = typer.main.get_command(app)
    assert hasattr(group, "commands"), group  # the command group behind `vreg`
    seen, problems = 0, []
    for page in PAGES:
        for segment in shown_commands(page.read_text(encoding="utf-8")):
            seen += 1
            problems += [f"{page.relative_to(ROOT)}: {bad} in `{segment}`" for bad in unknown_parts(segment, group)]
    assert seen > 40, f"only {seen} vreg commands found: the parser lost them"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("vreg register a.png b.png -o out.png --checkerboard cb.png", []),
        ("vreg register a.png b.png --no-such-flag", ["register --no-such-flag"]),
        ("vreg registr a.png b.png", ["command 'registr'"]),
        ("vreg benchmark --pairs-dir $DEV --method=classic --bins 0,15", []),
    ],
)
def test_the_checker_tells_a_wrong_option_or_command(segment: str, expected: list[str]) -> None:
    assert unknown_parts(segment, typer.main.get_command(app)) == expected


def test_a_command_in_a_code_block_is_found_through_continuations_and_chains() -> None:
    text = "text\n```bash\npip install -e . && vreg synth out --n 2 \\\n    --size 64  # comment --fake\n```\n"
    assert shown_commands(text) == ["vreg synth out --n 2      --size 64"]


def test_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move detail into docs/"


def test_no_page_points_at_the_development_data() -> None:
    """A user's clone has no ../shared: the docs name the data sets instead."""
    bad = [p.name for p in PAGES if "../shared" in p.read_text(encoding="utf-8")]
    assert not bad, f"{bad} mention ../shared"


def _docs_hooks() -> Any:
    return load_script("docs/hooks.py")


def test_every_object_of_the_api_reference_has_a_docstring() -> None:
    """What `just docs` fails on, checked in the test suite too (griffe reads the sources; nothing is imported)."""
    pytest.importorskip("griffe")
    assert _docs_hooks().missing_docstrings(ROOT / "docs" / "api.md", ROOT) == []


def test_the_docstring_check_finds_an_undocumented_method(tmp_path: Path) -> None:
    pytest.importorskip("griffe")
    (tmp_path / "toypkg").mkdir()
    (tmp_path / "toypkg" / "__init__.py").write_text(
        '"""Toy."""\n\n\ndef documented() -> None:\n    """Yes."""\n\n\nclass Thing:\n    """A thing."""\n\n'
        "    def bare(self) -> None:\n        pass\n\n    def _private(self) -> None:\n        pass\n\n\n"
        "def naked() -> None:\n    pass\n"
    )
    page = tmp_path / "api.md"
    page.write_text("::: toypkg.documented\n\n::: toypkg.Thing\n\n::: toypkg.naked\n")
    assert _docs_hooks().missing_docstrings(page, tmp_path) == ["toypkg.Thing.bare", "toypkg.naked"]


def test_the_method_table_lists_the_registry() -> None:
    """docs/choosing-a-method.md's table has one row per registered method (the registry is the only list)."""
    from vreg_cli.methods.registry import METHODS

    page = (ROOT / "docs" / "choosing-a-method.md").read_text(encoding="utf-8")
    table = page.split("| method | what it is |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)`", table, flags=re.M)
    assert sorted(rows) == sorted(METHODS), rows


@pytest.mark.parametrize("command", ["register", "match", "benchmark", "train", "synth", "prepare", "qa", "sample"])
def test_help_is_readable_at_80_columns(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Help wraps at 80 columns: no option text or default is cut with an ellipsis."""
    from typer.testing import CliRunner

    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "…" not in result.output, [line for line in result.output.splitlines() if "…" in line]
