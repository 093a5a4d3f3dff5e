"""register_many and `vreg register --scheduler`: the same rows here, in a process pool and on a Dask cluster;
exactly one row per pair; hostile pair names never write outside the output folder.

The pairs are the bundled CF-FA sample at 192 px, its moving image turned by a few angles (classic registers 0-30
degrees and refuses 90 at this size), plus one unreadable file. The Dask tests share one LocalCluster of two worker
processes, one thread each.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import vreg_cli
import vreg_cli.batch.run as batch_run
from vreg_cli.batch import as_records, work
from vreg_cli.cli import app
from vreg_cli.data.pairs import PairRecord
from vreg_cli.errors import InputError, VregError
from vreg_cli.geometry import affine_matrix, warp_image
from vreg_cli.paths import HOST_TAG, SAMPLE_DIR, remove_stale_temporaries

SIZE = 192
ANGLES = {"r00": 0.0, "r10": 10.0, "r30": -30.0, "r90": 90.0}
#: columns that differ between two runs of the same pairs (time) or name the output folder (compared as file names)
VARYING = ["seconds", "output", "transform"]
# (a name with a control character, "line\nbreak", is refused before the batch: tests/test_hostile_batch.py)
HOSTILE = ["../escape", "a/../../b", "/abs/olute", "..", ".hidden", "sub/dir/x", "back\\slash", 'x,y "q"']


@pytest.fixture(autouse=True)
def _no_configured_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`auto` must resolve to classic here, whatever the developer's environment says."""
    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    """(fixed, moving, name): the sample at 192 px turned by ANGLES, and one pair whose moving file is garbage."""
    root = tmp_path_factory.mktemp("pairs")
    scale = SIZE / 640
    fixed, moving = (
        cv2.resize(cv2.imread(str(SAMPLE_DIR / f"{k}.png")), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for k in ("fixed", "moving")
    )
    cv2.imwrite(str(root / "fixed.png"), fixed)
    h, w = moving.shape[:2]
    out = []
    for name, angle in ANGLES.items():
        turn = affine_matrix(angle_deg=angle, scale=1.0, translation=(3.0, -2.0), center=((w - 1) / 2, (h - 1) / 2))
        cv2.imwrite(str(root / f"{name}.png"), warp_image(moving, turn, (h, w)))
        out.append((str(root / "fixed.png"), str(root / f"{name}.png"), name))
    (root / "garbage.png").write_bytes(b"not an image")
    out.append((str(root / "fixed.png"), str(root / "garbage.png"), "garbage"))
    return out


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """A Dask client of a local cluster: two worker processes, one thread each."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env={"OMP_NUM_THREADS": "1"}
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    files = {c: frame[c].map(lambda p: Path(p).name if isinstance(p, str) else p) for c in ("output", "transform")}
    return frame.drop(columns=VARYING).assign(**{f"{c}_file": v for c, v in files.items()})


@pytest.mark.slow
def test_dask_and_a_process_pool_give_the_serial_rows(pairs: list, client: object, tmp_path: Path) -> None:
    serial = vreg_cli.register_many(pairs, "classic", out_dir=tmp_path / "serial")
    assert dict(zip(serial["name"], serial["status"], strict=True)) == {
        "r00": "ok", "r10": "ok", "r30": "ok", "r90": "failed", "garbage": "error",
    }  # fmt: skip
    assert "garbage.png" in serial.set_index("name").loc["garbage", "reason"]
    pool = vreg_cli.register_many(pairs, "classic", out_dir=tmp_path / "pool", workers=2, chunk_size=2)
    on_dask = vreg_cli.register_many(pairs, "classic", out_dir=tmp_path / "dask", client=client, chunk_size=2)
    # 3 tasks on 2 workers: each worker process loaded the method once, however many chunks it ran
    assert set(client.run(lambda: work._WORKER.get("builds")).values()) == {1}
    for other, folder in ((pool, "pool"), (on_dask, "dask")):
        pd.testing.assert_frame_equal(_comparable(other), _comparable(serial))
        assert pd.read_csv(tmp_path / folder / "summary.csv", dtype=str).shape == (len(pairs), serial.shape[1])
        for name in ("r00", "r10", "r30"):  # the same outputs, in the folder given, under the same file names
            row = other.set_index("name").loc[name]
            assert Path(row["output"]).parent == tmp_path / folder
            assert np.array_equal(cv2.imread(row["output"]), cv2.imread(str(tmp_path / "serial" / f"{name}.png")))
    # --resume on the cluster: only the errored pair runs again (same row); batch.json guards the settings
    before = (tmp_path / "dask" / "summary.csv").read_text()
    again = vreg_cli.register_many(pairs, "classic", out_dir=tmp_path / "dask", client=client, resume=True)
    assert len(again) == len(pairs) and (tmp_path / "dask" / "summary.csv").read_text() == before
    with pytest.raises(VregError, match="different settings"):
        vreg_cli.register_many(pairs, "sift", out_dir=tmp_path / "dask", client=client, resume=True)


def _files_outside(root: Path, out_dir: Path) -> set[Path]:
    return {p for p in root.rglob("*") if out_dir not in p.parents and p != out_dir}


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "dask"])
def test_hostile_names_never_write_outside_the_output_folder(
    engine: str, pairs: list, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fixed, moving, _ = pairs[0]
    out_dir = tmp_path / "deep" / "out"
    out_dir.mkdir(parents=True)
    before = _files_outside(tmp_path, out_dir)
    options = {"client": request.getfixturevalue("client")} if engine == "dask" else {}
    frame = vreg_cli.register_many(
        [(fixed, moving, name) for name in HOSTILE], "classic", out_dir=out_dir, pictures=["overlay"], **options
    )
    assert _files_outside(tmp_path, out_dir) == before
    qa = out_dir / "qa"  # the QA page's pictures: one folder, nothing deeper
    assert all(p == qa or (p.parent in (out_dir, qa) and p.is_file()) for p in out_dir.rglob("*"))
    assert len(list(qa.glob("*_cb.jpg"))) == len(HOSTILE)
    assert sorted(frame["name"]) == sorted(HOSTILE) and set(frame["status"]) == {"ok"}
    for column in ("output", "transform"):
        assert all(Path(p).parent == out_dir and Path(p).is_file() for p in frame[column])
    assert len(set(frame["output"])) == len(HOSTILE)  # one set of files per pair
    with (out_dir / "summary.csv").open(newline="") as fh:  # a comma and quotes in a name survive the CSV round trip
        assert sorted(row["name"] for row in csv.DictReader(fh)) == sorted(HOSTILE)


def test_a_chunk_delivered_twice_gives_one_row(
    pairs: list, client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunked = batch_run.chunked

    def twice(*args: object) -> list:
        chunks = chunked(*args)
        return chunks + chunks[:1]  # the first chunk's task is submitted (and its rows delivered) twice

    monkeypatch.setattr(batch_run, "chunked", twice)
    frame = vreg_cli.register_many(pairs[:2], "classic", out_dir=tmp_path, client=client, chunk_size=1)
    assert sorted(frame["name"]) == ["r00", "r10"]
    assert sorted(pd.read_csv(tmp_path / "summary.csv")["name"]) == ["r00", "r10"]


def test_cli_scheduler_runs_the_batch_on_the_cluster(pairs: list, client: object, tmp_path: Path) -> None:
    csv_path = tmp_path / "pairs.csv"
    pd.DataFrame(pairs[:2], columns=["fixed", "moving", "name"]).to_csv(csv_path, index=False)
    address = client.scheduler_info()["address"]  # type: ignore[attr-defined]
    args = ["register", "--pairs", str(csv_path), "--out-dir", str(tmp_path / "out"), "--method", "classic"]
    result = CliRunner().invoke(app, [*args, "--scheduler", address, "--chunk-size", "1"])
    assert result.exit_code == 0, result.output
    assert "2 workers" in result.output and "2 pairs: 2 ok" in result.output
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["name"]) == ["r00", "r10"] and all(Path(p).is_file() for p in summary["output"])
    both = CliRunner().invoke(app, [*args, "--scheduler", address, "--workers", "2"])
    assert both.exit_code == 2 and "not both" in both.output


def test_scheduler_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    from vreg_cli.batch.dask_engine import connect

    with pytest.raises(VregError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        connect("tcp://127.0.0.1:9", timeout_s=0.5)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("fixed,moving\na.png,b.png\n")
    args = ["register", "--pairs", str(csv_path), "--out-dir", str(tmp_path / "out"), "--scheduler", "tcp://x:1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "pip install 'vreg-cli[dask]'" in result.output
    assert result.output.strip().count("\n") == 0


def test_pairs_are_normalised_and_bad_ones_refused(tmp_path: Path) -> None:
    records = as_records([("f.png", "d/m.png"), ("f.png", "e/m.png"), ("f.png", "x.png", "mine")])
    assert [r.name for r in records] == ["m", "m_0001", "mine"]
    assert records[0].moving == Path("d/m.png")
    for bad in ([("f.png",)], [("f.png", 3)], [("f.png", "m.png", 7)], 42):
        with pytest.raises(InputError):
            as_records(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="a folder"):
        as_records(tmp_path)
    with pytest.raises(InputError, match="no pairs"):
        vreg_cli.register_many([], out_dir=tmp_path)
    with pytest.raises(InputError, match="not both"):
        vreg_cli.register_many([("f.png", "m.png")], out_dir=tmp_path, client=object(), workers=2)


def test_temporaries_of_another_machine_are_left_alone(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    other_host = f"{(int(HOST_TAG, 16) + 1) % 2**32:08x}"
    ours = tmp_path / f".x.png.vreg-{pid}@{HOST_TAG}-abc.tmp.png"
    theirs = tmp_path / f".y.png.vreg-{pid}@{other_host}-abc.tmp.png"
    for path in (ours, theirs):
        path.write_text("x")
    assert remove_stale_temporaries(tmp_path) == [ours]
    assert theirs.exists()


NO_DASK = """
import sys
sys.modules["dask"] = sys.modules["distributed"] = None  # as if `pip install vreg-cli` without the dask extra
import vreg_cli
frame = vreg_cli.register_many([(sys.argv[1], sys.argv[2], "p")], "classic", out_dir=sys.argv[3])
assert list(frame["status"]) == ["ok"], frame
"""


@pytest.mark.slow
def test_without_dask_a_batch_still_runs_here(pairs: list, tmp_path: Path) -> None:
    fixed, moving, _ = pairs[0]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", NO_DASK, fixed, moving, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p.png").is_file()


class _KillsItsWorker(PairRecord):
    """A pair whose task kills the worker process that unpacks it (as an out-of-memory kill would); unpacked in this
    process (the local cluster's scheduler looks at the task) it stays a pair."""

    def __reduce__(self) -> tuple:
        home = os.getpid()

        def unpack(*fields: Any) -> PairRecord:
            if os.getpid() != home:
                os._exit(1)
            return _KillsItsWorker(*fields)

        return unpack, (self.name, self.fixed, self.moving)


@pytest.mark.slow
def test_a_task_whose_workers_all_die_is_recorded_as_errors(pairs: list, client: Any, tmp_path: Path) -> None:
    """Dask gives up on a task after its allowed worker deaths (KilledWorker): its pairs become error rows, the other
    pairs finish, and summary.csv still has every pair once. (Runs last: its killed worker is replaced meanwhile.)"""
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0  # one death is enough here
    try:
        fixed, moving, _ = pairs[0]
        records = [PairRecord("good", Path(fixed), Path(moving)), _KillsItsWorker("doomed", Path(fixed), Path(moving))]
        frame = vreg_cli.register_many(records, "classic", out_dir=tmp_path, client=client, chunk_size=1)
    finally:
        scheduler.allowed_failures = allowed
    status = dict(zip(frame["name"], frame["status"], strict=True))
    assert status == {"good": "ok", "doomed": "error"}
    assert "KilledWorker" in frame.set_index("name").loc["doomed", "reason"]
    assert sorted(pd.read_csv(tmp_path / "summary.csv")["name"]) == ["doomed", "good"]
    client.wait_for_workers(2, timeout=60)


@pytest.mark.slow
def test_the_workers_draw_the_qa_pictures_and_the_batch_ends_with_its_page(
    pairs: list, client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vreg_cli.qa.page as qa_page

    drawn_here: list = []
    real = qa_page.render_stale
    monkeypatch.setattr(qa_page, "render_stale", lambda jobs, *a, **k: (drawn_here.extend(jobs), real(jobs, *a, **k)))
    frame = vreg_cli.register_many(pairs, "classic", out_dir=tmp_path / "dask", client=client, chunk_size=2)
    page = (tmp_path / "dask" / "index.html").read_text()
    # every readable pair's pictures were drawn on a worker, beside its registration, and found fresh here (the
    # garbage file's moving thumbnail can never be drawn, so the page tries it again)
    assert [job.key.split("-")[0] for job in drawn_here] == ["garbage"]
    assert all(f'"n": "{name}"' in page for name in frame["name"])
    ok_pictures = sorted(p.name.rsplit("_", 1)[1] for p in (tmp_path / "dask" / "qa").glob("r00-*.jpg"))
    assert ok_pictures == ["cb.jpg", "f.jpg", "ov.jpg", "w.jpg"]
    skipped = vreg_cli.register_many(pairs[:1], "classic", out_dir=tmp_path / "none", qa_page=False)
    assert len(skipped) == 1 and not (tmp_path / "none" / "index.html").exists()
    assert not (tmp_path / "none" / "qa").exists()


def test_dask_workers_are_set_up_for_registration(
    pairs: list, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vreg_cli.batch.dask_plugin import undo_dask_malloc_trim

    vreg_cli.register_many(pairs[:1], "classic", out_dir=tmp_path, client=client, qa_page=False)
    assert set(client.run(cv2.getNumThreads).values()) == {1}  # one core per task, not one thread per core each
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert undo_dask_malloc_trim() is False  # only where Dask's nanny pinned the thresholds
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    import platform

    assert undo_dask_malloc_trim() is (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")
