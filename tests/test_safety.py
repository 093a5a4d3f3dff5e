"""Untrusted inputs: checkpoints never run code, every user error is one line with exit 2/3, outputs all-or-none,
stale temporaries are cleaned, batch register resumes, and a small fuzz run over register and prepare."""

from __future__ import annotations

import argparse
import collections
import errno
import os
import random
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from train_helpers import write_synth_h5
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.errors import VregError
from vreg_cli.model.checkpoint import checkpoint_payload
from vreg_cli.model.loftr import LoFTRModel, load_model
from vreg_cli.model.safe_load import read_checkpoint
from vreg_cli.paths import SAMPLE_DIR, atomic_output, output_group, remove_stale_temporaries
from vreg_cli.training.checkpoint import load_trainer_state

N_TENSORS = 211
FIXED, MOVING = SAMPLE_DIR / "fixed.png", SAMPLE_DIR / "moving.png"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_configured_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VREG_WEIGHTS", raising=False)
    monkeypatch.setenv("VREG_CONFIG", str(tmp_path / "no-config.toml"))


def invoke(*args: object, env: dict[str, str] | None = None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    return result


def one_error_line(result) -> str:
    """The single 'error:' line of a failed command, or 'refused:' line of a refusal (exit 3); exactly one."""
    lines = [line for line in result.output.splitlines() if line.startswith(("error:", "refused:"))]
    assert len(lines) == 1, result.output
    return lines[0]


# --- payloads ------------------------------------------------------------------------------------------------------


class _System:
    """Unpickling this calls os.system (posix.system in the pickle)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


class _Subprocess:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.marker)],))


class _Getattr:
    """A gadget through builtins.getattr (the first step to reach a method of an allowed class)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (getattr, (collections.OrderedDict, "fromkeys"))


PAYLOADS = {"os.system": _System, "exec": _Exec, "subprocess": _Subprocess, "getattr": _Getattr}


def _tiny_state() -> dict[str, torch.Tensor]:
    return {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(3)}


@pytest.fixture(scope="module")
def loftr_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return LoFTRModel().state_dict()


@pytest.fixture(scope="module")
def evil_lightning(tmp_path_factory: pytest.TempPathFactory, loftr_state) -> tuple[Path, Path]:
    """(a MINIMA-format file with all 211 tensors and an os.system payload in hyper_parameters, its marker)."""
    root = tmp_path_factory.mktemp("evil")
    marker = root / "MARKER"
    path = root / "minima_evil.ckpt"
    state = {f"matcher.{k}": v for k, v in loftr_state.items()}
    torch.save({"epoch": 1, "state_dict": state, "hyper_parameters": {"cfg": _System(marker)}}, path)
    assert not marker.exists()
    return path, marker


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_payloads_are_refused_and_never_run(tmp_path: Path, kind: str, legacy: bool) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.ckpt"
    payload = {"state_dict": _tiny_state(), "callbacks": [PAYLOADS[kind](marker)]}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(VregError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert ("refused" in message) if not legacy else ("old (pre-1.6" in message)
    assert not marker.exists()


def test_a_module_that_would_run_code_on_import_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pickle an instance of vreg_evil_mod.Config, then make `import vreg_evil_mod` create the marker.
    marker = tmp_path / "IMPORTED"
    module = types.ModuleType("vreg_evil_mod")

    class Config:
        def __init__(self) -> None:
            self.lr = 1e-3

        def __setstate__(self, state: dict) -> None:  # would run if the real class were used
            marker.touch()

    Config.__module__, Config.__qualname__ = "vreg_evil_mod", "Config"
    module.Config = Config
    monkeypatch.setitem(sys.modules, "vreg_evil_mod", module)
    path = tmp_path / "custom.ckpt"
    torch.save({"state_dict": _tiny_state(), "config": Config()}, path)
    monkeypatch.delitem(sys.modules, "vreg_evil_mod")
    (tmp_path / "vreg_evil_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    obj = read_checkpoint(path)
    assert torch.equal(obj["state_dict"]["w"], _tiny_state()["w"])
    assert type(obj["config"]).vreg_global == "vreg_evil_mod.Config" and not hasattr(obj["config"], "lr")
    assert not marker.exists() and "vreg_evil_mod" not in sys.modules


def test_lightning_file_with_foreign_objects_loads_all_211_tensors(tmp_path: Path, loftr_state) -> None:
    gone = types.ModuleType("training_code_that_no_longer_exists")

    class ExperimentConfig:
        def __init__(self) -> None:
            self.trainer = {"max_epochs": 30}
            self.scales = [1, 2]

    class CfgNode(dict):  # a yacs-like dict subclass with attribute state
        pass

    for cls in (ExperimentConfig, CfgNode):
        cls.__module__, cls.__qualname__ = gone.__name__, cls.__name__
        setattr(gone, cls.__name__, cls)
    sys.modules[gone.__name__] = gone
    node = CfgNode(LOFTR={"RESOLUTION": (8, 2)})
    node.frozen = True
    path = tmp_path / "lightning.ckpt"
    try:
        torch.save(
            {
                "epoch": 29,
                "global_step": 123456,
                "state_dict": {f"matcher.{k}": v for k, v in loftr_state.items()},
                "hyper_parameters": {"args": argparse.Namespace(lr=1e-3), "exp": ExperimentConfig(), "cfg": node},
                "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.5)}},
            },
            path,
        )
    finally:
        del sys.modules[gone.__name__]
    with pytest.raises(pickle_error()):  # the weights-only loader alone refuses this file
        torch.load(path, weights_only=True)
    obj = read_checkpoint(path)
    assert {type(v).vreg_global for v in obj["hyper_parameters"].values()} == {
        "argparse.Namespace",
        f"{gone.__name__}.ExperimentConfig",
        f"{gone.__name__}.CfgNode",
    }
    model = load_model(path)
    assert len(model.state_dict()) == N_TENSORS
    for key, value in model.state_dict().items():
        assert torch.equal(value, loftr_state[key]), key


def pickle_error() -> type[BaseException]:
    import pickle

    return pickle.UnpicklingError


# --- every load path of the CLI ------------------------------------------------------------------------------------


def test_register_weights_checkpoint_and_env_refuse_the_payload(tmp_path: Path, evil_lightning) -> None:
    path, marker = evil_lightning
    out = tmp_path / "out.png"
    for extra, env in (
        (["--weights", path], None),
        (["--checkpoint", path], None),
        (["--method", "loftr", "--weights", path], None),
        ([], {"VREG_WEIGHTS": str(path)}),  # the default method `auto` picks the weights up
    ):
        result = invoke("register", FIXED, MOVING, "-o", out, *extra, env=env)
        assert result.exit_code == 2, result.output
        assert "refused" in one_error_line(result) and path.name in result.output
        assert not marker.exists() and not out.exists()


def test_train_weights_and_resume_refuse_the_payload(tmp_path: Path, evil_lightning, loftr_state) -> None:
    path, marker = evil_lightning
    data = write_synth_h5(tmp_path / "d.h5", n=2, size=64, n_val=0)
    result = invoke("train", "--data", data, "--weights", path, "--out", tmp_path / "run", "--max-steps", "1")
    assert result.exit_code == 2, result.output
    assert "refused" in one_error_line(result) and not marker.exists()
    assert not (tmp_path / "run" / "last.ckpt").exists()
    # A vreg training checkpoint with one extra malicious entry.
    run = tmp_path / "resumed"
    run.mkdir()
    model = LoFTRModel()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    payload = checkpoint_payload(model)
    payload.update(
        optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), step=1, epoch=0, batch_in_epoch=1,
        rng=[{"torch": torch.get_rng_state()}], train_config={"data": str(data), "out": str(run)}, metrics={},
        extra=_System(marker),
    )  # fmt: skip
    torch.save(payload, run / "last.ckpt")
    result = invoke("train", "--resume", run, "--max-steps", "2")
    assert result.exit_code == 2, result.output
    assert "refused" in one_error_line(result) and not marker.exists()


def test_benchmark_loftr_spec_refuses_the_payload(tmp_path: Path, evil_lightning) -> None:
    path, marker = evil_lightning
    pairs = tmp_path / "pairs" / "p1"
    pairs.mkdir(parents=True)
    for name in ("fixed.png", "moving.png", "landmarks.csv"):
        (pairs / name).write_bytes((SAMPLE_DIR / name).read_bytes())
    result = invoke(
        "benchmark", "--pairs-dir", tmp_path / "pairs", "--method", f"evil=loftr:weights={path}",
        "--bins", "0", "--out", tmp_path / "bench",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "refused" in one_error_line(result) and not marker.exists()


def test_bad_checkpoint_files_are_one_line_exit_2(tmp_path: Path, loftr_state) -> None:
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": _tiny_state()}, good)
    blob = good.read_bytes()
    run = tmp_path / "run"
    run.mkdir()
    cases = {
        "random.ckpt": (os.urandom(4096), "not a PyTorch checkpoint"),
        "empty.ckpt": (b"", "empty file"),
        "last.ckpt": (blob[: len(blob) // 2], "best.ckpt"),
        "cut.ckpt": (blob[: len(blob) // 2], "truncated"),
    }
    for name, (content, expected) in cases.items():
        path = (run if name == "last.ckpt" else tmp_path) / name
        path.write_bytes(content)
        result = invoke("register", FIXED, MOVING, "--checkpoint", path)
        assert result.exit_code == 2, result.output
        line = one_error_line(result)
        assert expected in line and str(path) in line, line
    result = invoke("register", FIXED, MOVING, "--weights", tmp_path)
    assert result.exit_code == 2 and "is a directory" in one_error_line(result)
    # A vreg checkpoint without its model_config: one line, not a KeyError.
    payload = checkpoint_payload(LoFTRModel())
    del payload["model_config"]
    payload.update(optimizer={}, scheduler={}, step=1, train_config={})
    no_config = tmp_path / "no_config.ckpt"
    torch.save(payload, no_config)
    result = invoke("register", FIXED, MOVING, "--checkpoint", no_config)
    assert result.exit_code == 2 and "model_config" in one_error_line(result)
    with pytest.raises(VregError, match="model_config"):
        load_trainer_state(no_config)


# --- outputs: checked before work, all or none, stale temporaries ---------------------------------------------------


def test_output_paths_are_checked_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vreg_cli.api

    def never(*args, **kwargs):
        raise AssertionError("registration ran although an output path is bad")

    monkeypatch.setattr(vreg_cli.api, "register_images", never)
    (tmp_path / "adir").mkdir()
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    cases = [
        (["-o", tmp_path / "adir"], "is a directory"),
        (["-o", tmp_path / "out.xyz"], "unknown image extension"),
        (["-o", tmp_path / "out.png", "--checkerboard", tmp_path / "adir"], "is a directory"),
        (["-o", tmp_path / "same.png", "--overlay", tmp_path / "same.png"], "two outputs"),
    ]
    if not os.access(readonly, os.W_OK):  # root ignores permission bits
        cases.append((["-o", readonly / "sub" / "out.png"], "cannot write"))
    for args, expected in cases:
        result = invoke("register", FIXED, MOVING, "--method", "classic", *args)
        assert result.exit_code == 2, result.output
        assert expected in one_error_line(result)
    assert not (tmp_path / "out.png").exists()


def test_outputs_are_all_or_none(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(RuntimeError), output_group():
        with atomic_output(first) as tmp:
            tmp.write_text("a")
        with atomic_output(second) as tmp:
            raise RuntimeError("disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    with output_group():
        for path in (first, second):
            with atomic_output(path) as tmp:
                tmp.write_text(path.stem)
    assert first.read_text() == "a" and second.read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    # A full disk while writing: one line naming the target, the old file kept, no temporary left.
    with pytest.raises(VregError, match=r"a\.txt: cannot write \(No space left on device\)"):
        with atomic_output(first) as tmp:
            tmp.write_text("partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert first.read_text() == "a" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    with pytest.raises(VregError, match="not a regular file"):
        with atomic_output(Path(os.devnull)):
            pass


def test_damaged_hdf5_files_are_one_line_exit_2(tmp_path: Path) -> None:
    import h5py

    for name, damage, expected in (
        ("no_ids.h5", lambda f: f.__delitem__("ids"), "no /ids"),
        ("short_fa.h5", lambda f: _shorten(f, "images/fa"), "/images/fa has shape"),
        ("no_fov.h5", lambda f: f.__delitem__("masks/fov"), "no /masks/fov"),
    ):
        path = write_synth_h5(tmp_path / name, n=3, size=64, n_val=1)
        with h5py.File(path, "a") as f:
            damage(f)
        result = invoke("info", path)
        assert result.exit_code == 2 and expected in one_error_line(result), result.output
        result = invoke("train", "--data", path, "--out", tmp_path / f"run_{name}", "--max-steps", "1")
        assert result.exit_code == 2 and expected in one_error_line(result), result.output


def _shorten(f, name: str) -> None:
    data = f[name][:-1]
    del f[name]
    f.create_dataset(name, data=data)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".x.h5.vreg-{pid}-abc123.tmp.h5"
    mine = tmp_path / f".y.png.vreg-{os.getpid()}-abc123.tmp.png"
    other = tmp_path / ".notes.txt"
    for path in (stale, mine, other):
        path.write_text("x")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and mine.exists() and other.exists()


def _synth_folder(root: Path, n: int, size: int) -> Path:
    result = invoke("synth", root, "--n", n, "--size", size, "--seed", 0)
    assert result.exit_code == 0, result.output
    return root


def test_prepare_killed_leaves_no_stale_temporary_after_the_next_run(tmp_path: Path) -> None:
    src = _synth_folder(tmp_path / "synth", 12, 256)
    out = tmp_path / "out" / "data.h5"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "vreg_cli", "prepare", str(src), "-o", str(out), "--layout", "fives-generated"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while not list(out.parent.glob(".data.h5.vreg-*")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "prepare finished before it could be killed"
    assert list(out.parent.glob(".data.h5.vreg-*")) and not out.exists()  # what a killed run leaves
    result = invoke("prepare", src, "-o", out, "--layout", "fives-generated")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.parent.iterdir()] == ["data.h5"]


# --- batch register: append, interrupt, resume, exit code -----------------------------------------------------------


@pytest.mark.slow
def test_batch_register_sigint_then_resume(tmp_path: Path) -> None:
    n = 12  # enough that the batch cannot finish before the signal arrives (classic takes ~0.15 s a pair here)
    names = [f"p{k:02d}" for k in range(n)]
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"fixed": [str(FIXED)] * n, "moving": [str(MOVING)] * n, "name": names}).to_csv(pairs, index=False)
    out_dir = tmp_path / "out"
    args = ["register", "--pairs", str(pairs), "--out-dir", str(out_dir), "--method", "classic"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VREG_CONFIG": str(tmp_path / "none.toml")}
    env.pop("VREG_WEIGHTS", None)
    # SIGINT as a terminal would deliver it, even when this test runs where SIGINT is ignored (a background job's
    # children inherit SIG_IGN, and Python then never raises KeyboardInterrupt)
    proc = subprocess.Popen([sys.executable, "-m", "vreg_cli", *args, "--working-size", "320"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    summary = out_dir / "summary.csv"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if summary.is_file() and len(summary.read_text().splitlines()) >= 3:  # header + 2 finished pairs
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 130, "the batch finished before it could be interrupted"
    rows = pd.read_csv(summary)
    finished = {p.stem for p in out_dir.glob("p*.json")}
    assert 2 <= len(rows) < n and set(rows["name"]) == finished and set(rows["status"]) == {"ok"}
    before = {name: (out_dir / f"{name}.json").stat().st_mtime_ns for name in finished}
    result = invoke(*args, "--working-size", "320", "--resume")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(summary)
    assert rows["name"].tolist() == names and set(rows["status"]) == {"ok"}
    assert all((out_dir / f"{name}.json").stat().st_mtime_ns == t for name, t in before.items())  # not redone


def test_batch_bad_pair_names_and_nan_landmarks(tmp_path: Path) -> None:
    good = tmp_path / "data" / "good"
    nan = tmp_path / "data" / "has_nan"
    for folder in (good, nan):
        folder.mkdir(parents=True)
        for name in ("fixed.png", "moving.png", "landmarks.csv"):
            (folder / name).write_bytes((SAMPLE_DIR / name).read_bytes())
    lines = (nan / "landmarks.csv").read_text().splitlines()
    lines[3] = "NaN," + lines[3].split(",", 1)[1]
    (nan / "landmarks.csv").write_text("\n".join(lines) + "\n")
    out_dir = tmp_path / "out"
    result = invoke("register", "--pairs-dir", tmp_path / "data", "--out-dir", out_dir, "--method", "classic")
    assert result.exit_code == 2, result.output  # some pair errored
    rows = pd.read_csv(out_dir / "summary.csv").set_index("name")
    assert rows.loc["good", "status"] == "ok" and rows.loc["has_nan", "status"] == "error"
    assert "landmarks.csv:4" in rows.loc["has_nan", "reason"] and "finite" in rows.loc["has_nan", "reason"]


# --- fuzz: register and prepare never end in a traceback ------------------------------------------------------------


def _noise_image(rng: np.random.Generator, size: int, channels: int) -> np.ndarray:
    shape = (size, size, channels) if channels > 1 else (size, size)
    return cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (5, 5), 0)


def _fuzzed_files(folder: Path, seed: int) -> list[Path]:
    """Random bytes, bit-flipped PNG and TIFF files, blank and 1x1 images (8 of each kind, seeded)."""
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(8):
        base = _noise_image(rng, 96, 3 if k % 2 else 1)
        (folder / f"random_{k}.png").write_bytes(os.urandom(pyrng.randint(0, 4000)))
        for ext in (".png", ".tif"):
            ok, buf = cv2.imencode(ext, base)
            data = bytearray(buf.tobytes())
            for _ in range(1 + k):
                pos = pyrng.randrange(len(data))
                data[pos] ^= 1 << pyrng.randrange(8)
            (folder / f"flipped_{k}{ext}").write_bytes(bytes(data))
        cv2.imwrite(str(folder / f"blank_{k}.png"), np.full((64, 64), 17 * k, np.uint8))
        cv2.imwrite(str(folder / f"tiny_{k}.png"), rng.integers(0, 256, (1, 1), dtype=np.uint8))
    files = sorted(folder.iterdir())
    return files


@pytest.mark.slow
def test_fuzz_register_and_prepare_exit_2_or_3(tmp_path: Path) -> None:
    start = time.monotonic()
    files = _fuzzed_files(tmp_path / "fuzz", seed=0)
    other = tmp_path / "other.png"
    cv2.imwrite(str(other), _noise_image(np.random.default_rng(99), 96, 1))
    codes: dict[int, int] = {}
    for k, path in enumerate(files):
        # fuzzed file as fixed or moving, against an unrelated noise image: nothing may register
        pair = (path, other) if k % 2 else (other, path)
        result = invoke("register", *pair, "-o", tmp_path / "out.png", "--method", "classic", "--working-size", 128)
        assert result.exit_code in (2, 3), (path.name, result.output)
        one_error_line(result)
        codes[result.exit_code] = codes.get(result.exit_code, 0) + 1
    assert codes.get(2, 0) > 0 and codes.get(3, 0) > 0
    assert not (tmp_path / "out.png").exists()
    # prepare: one fuzzed file replaces one modality (or the mask) of a valid synthetic sample
    src = _synth_folder(tmp_path / "synth", 1, 64)
    sample = next(p for p in src.iterdir() if p.is_dir())
    targets = sorted(p for p in sample.iterdir() if p.suffix == ".png")
    originals = {p: p.read_bytes() for p in targets}
    for k, path in enumerate(files[::3]):
        target = targets[k % len(targets)]
        target.write_bytes(path.read_bytes())
        result = invoke("prepare", src, "-o", tmp_path / f"p{k}.h5", "--layout", "fives-generated")
        target.write_bytes(originals[target])
        assert result.exit_code == 2, (path.name, target.name, result.output)
        assert target.name in one_error_line(result)
    assert time.monotonic() - start < 60  # about 15 s on an idle 2-core machine


def test_no_unrestricted_unpickling_in_the_package() -> None:
    package = Path(__file__).resolve().parent.parent / "vreg_cli"
    for path in package.rglob("*.py"):
        text = path.read_text()
        for needle in ("weights_only=False", "pickle.load(", "pickle.loads(", "torch.jit.load", "dill"):
            assert needle not in text, f"{path}: {needle}"
