"""Batch files that stay readable and batches that stop at a full disk (#46)."""

from __future__ import annotations

import csv
import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner

import vreg_cli.outputs
from vreg_cli.batch.records import MAX_PAIR_NAME_BYTES, as_records, read_pairs_csv
from vreg_cli.batch.run import _disk_full
from vreg_cli.batch.settings import BatchSettings
from vreg_cli.batch.work import ERRNO, register_record
from vreg_cli.cli import app
from vreg_cli.context import RegistrationContext
from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import InputError
from vreg_cli.paths import SAMPLE_DIR, failure_errno

FIXED, MOVING = SAMPLE_DIR / "fixed.png", SAMPLE_DIR / "moving.png"
runner = CliRunner()


def _csv(path: Path, names: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fixed", "moving", "name"])
        writer.writerows([FIXED, MOVING, n] for n in names)
    return path


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("a\rb", ("pairs.csv, row 2", "control character '\\r'")),
        ("a\nb", ("control character '\\n'",)),
        ("tab\there", ("control character '\\t'",)),
        ("x" * (MAX_PAIR_NAME_BYTES + 1), (f"over the limit of {MAX_PAIR_NAME_BYTES}",)),
        ("é" * 101, ("202 bytes long",)),
    ],
)
def test_names_that_would_break_the_summary_or_a_file_name_are_refused(
    tmp_path: Path, name: str, words: tuple[str, ...]
) -> None:
    path = _csv(tmp_path / "pairs.csv", ["ok", name])
    with pytest.raises(InputError) as info:
        read_pairs_csv(path)
    assert "\n" not in str(info.value) and all(w in str(info.value) for w in words), str(info.value)
    with pytest.raises(InputError, match="pairs\\[1\\]"):
        as_records([(FIXED, MOVING, "ok"), (FIXED, MOVING, name)])
    result = runner.invoke(app, ["register", "--pairs", str(path), "--out-dir", str(tmp_path / "o")])
    assert result.exit_code == 2 and not (tmp_path / "o" / "summary.csv").exists(), result.output


def test_a_large_pairs_csv_is_read_whole(tmp_path: Path) -> None:
    names = [f"p{i}" for i in range(20_000)] + ["p5"]  # and a repeated name
    records = read_pairs_csv(_csv(tmp_path / "pairs.csv", names))
    assert len(records) == 20_001 and records[0].fixed == FIXED and records[-1].name == "p5_20000"


def test_a_full_disk_stops_the_batch_and_says_how_to_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(tmp_path / "pairs.csv", ["a", "b", "c"])
    out = tmp_path / "o"

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vreg_cli.outputs, "write_image", full)
    args = ["register", "--pairs", str(path), "--out-dir", str(out), "--method", "classic", "--no-qa-page"]
    result = runner.invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "the disk is full (pair a:" in text and "with --resume" in text, result.output
    assert "Traceback" not in result.output
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["name"] for r in rows] == ["a"]  # the batch stopped at the first full-disk error
    monkeypatch.undo()
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code in (0, 3), again.output
    assert sorted(r["name"] for r in csv.DictReader((out / "summary.csv").open())) == ["a", "b", "c"]


def test_a_full_disk_is_told_by_its_errno_not_by_the_words_of_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's row keeps the OSError's errno (EDQUOT: a quota, under any message); a reason that merely holds
    the words (a folder named after the message) does not stop the batch."""

    def over_quota(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EDQUOT, "quota")

    monkeypatch.setattr(vreg_cli.outputs, "write_image", over_quota)
    settings = BatchSettings("classic", RegistrationContext(), tmp_path / "o", qa_page=False)
    row = register_record(PairRecord("a", FIXED, MOVING), settings)
    assert row["status"] == "error" and row[ERRNO] == errno.EDQUOT and _disk_full(row), row
    words = {"name": "b", "status": "error", "reason": "/data/No space left on device/b.png: no such file"}
    assert not _disk_full(words) and not _disk_full({**words, ERRNO: errno.ENOENT})
    # the two failures without an errno attribute: numpy's short write, h5py's error text
    assert failure_errno(OSError("80 requested and 0 written")) == errno.ENOSPC
    assert failure_errno(RuntimeError(f"Can't write data (file write failed: errno = {errno.EDQUOT})")) == errno.EDQUOT
    assert failure_errno(ValueError("No space left on device")) is None
