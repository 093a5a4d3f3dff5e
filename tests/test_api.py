"""The public Python API: every accepted input kind registers alike, bad input is one InputError line, a refusal is a
result, a Registrar serves several threads, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

import vreg_cli
from vreg_cli.geometry import point_errors, warp_points
from vreg_cli.io import read_image, read_landmarks, write_image
from vreg_cli.paths import SAMPLE_DIR

SIDE = 320  # the bundled pair (640 x 530) at half size: small, and still trusted by classic (at 256 px it is refused)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The bundled CF (RGB) / FA (grey) pair at 320 px, as arrays and as files, with its landmarks."""
    fixed, moving = read_image(SAMPLE_DIR / "fixed.png"), read_image(SAMPLE_DIR / "moving.png")
    f = SIDE / max(fixed.shape[:2])
    size = (round(fixed.shape[1] * f), round(fixed.shape[0] * f))
    fixed = cv2.resize(fixed, size, interpolation=cv2.INTER_AREA)
    moving = cv2.resize(moving, size, interpolation=cv2.INTER_AREA)
    pts_fixed, pts_moving = read_landmarks(SAMPLE_DIR / "landmarks.csv")
    folder = tmp_path_factory.mktemp("pair")
    write_image(folder / "fixed.png", fixed)
    write_image(folder / "moving.png", moving)
    return {
        "fixed": fixed, "moving": moving, "pts_fixed": pts_fixed * f, "pts_moving": pts_moving * f,
        "fixed_path": folder / "fixed.png", "moving_path": folder / "moving.png",
    }  # fmt: skip


@pytest.fixture(scope="module")
def registrar() -> vreg_cli.Registrar:
    return vreg_cli.Registrar("classic", working_size=SIDE)


def test_the_reference_registration_is_good(pair: dict, registrar: vreg_cli.Registrar) -> None:
    reg = registrar.register(pair["fixed"], pair["moving"])
    assert reg.ok and reg.reason == "" and reg.inliers >= 12 and reg.matrix.dtype == np.float64
    assert reg.matrix.shape == (3, 3) and len(reg.matches) == reg.n_matches
    assert int(reg.matches.inliers.sum()) == reg.inliers
    # the landmarks are 1-6 px noisy at 640 px (0.4-2.4 px here)
    assert float(np.median(point_errors(reg.matrix, pair["pts_moving"], pair["pts_fixed"]))) < 3.0
    assert abs(reg.rotation_deg) < 2 and abs(reg.scale - 1) < 0.03 and reg.seconds > 0


def _kinds(pair: dict) -> dict[str, tuple[object, object]]:
    import torch

    fixed, moving = pair["fixed"], pair["moving"]
    return {
        "paths": (str(pair["fixed_path"]), pair["moving_path"]),
        "uint16": (fixed.astype(np.uint16) * 257, moving.astype(np.uint16) * 257),
        "float32 in [0, 1]": (fixed.astype(np.float32) / 255, moving.astype(np.float64) / 255),
        "grey HxWx1 / RGB moving": (fixed, np.repeat(moving[:, :, None], 3, axis=2)),
        "moving HxWx1": (fixed, moving[:, :, None]),
        "torch 3xHxW uint8 / HxW float": (
            torch.from_numpy(fixed).permute(2, 0, 1).contiguous(),
            torch.from_numpy(moving).float() / 255,
        ),
        "torch 1xHxW": (torch.from_numpy(fixed).permute(2, 0, 1), torch.from_numpy(moving)[None]),
    }


@pytest.mark.slow
def test_every_input_kind_gives_the_same_matrix(pair: dict, registrar: vreg_cli.Registrar) -> None:
    reference = registrar.register(pair["fixed"], pair["moving"])
    for kind, (fixed, moving) in _kinds(pair).items():
        reg = registrar.register(fixed, moving)
        assert reg.ok, (kind, reg.reason)
        moved = np.abs(reg.map_points(pair["pts_moving"]) - reference.map_points(pair["pts_moving"]))
        assert moved.max() <= 0.5, kind


def test_the_one_call_form_equals_the_registrar(pair: dict, registrar: vreg_cli.Registrar) -> None:
    one = vreg_cli.register(pair["fixed_path"], pair["moving_path"], "classic", working_size=SIDE)
    assert np.allclose(one.matrix, registrar.register(pair["fixed"], pair["moving"]).matrix)
    assert one.to_dict()["matrix"] == [[float(v) for v in row] for row in one.matrix]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((64, 64), 1.5, np.float32), r"must lie in \[0, 1\]"),
        (np.full((64, 64), -0.1, np.float64), r"must lie in \[0, 1\]"),
        (np.where(np.eye(64) > 0, np.nan, 0.5), "NaN"),
        (np.zeros((1, 64, 64, 3), np.uint8), "shape"),
        (np.zeros((3, 64, 64), np.uint8), "channels last"),
        (np.zeros((64, 64, 4), np.uint8), "shape"),
        (np.zeros((64, 64), np.int64), "dtype int64"),
        (np.zeros((0, 64), np.uint8), "empty"),
        ([[0, 1], [1, 0]], "got list"),
        ("does/not/exist.png", "no such file"),
    ],
)
def test_bad_input_is_one_input_error_line(pair: dict, image: object, message: str) -> None:
    with pytest.raises(vreg_cli.InputError, match=message) as info:
        vreg_cli.register(pair["fixed"], image, "classic")
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


def test_bad_tensors_and_options_are_input_errors(pair: dict) -> None:
    import torch

    with pytest.raises(vreg_cli.InputError, match="1xHxW"):
        vreg_cli.as_image(torch.zeros(1, 1, 64, 64))
    with pytest.raises(vreg_cli.InputError, match="NaN"):
        vreg_cli.as_image(torch.full((64, 64), float("nan")))
    with pytest.raises(vreg_cli.InputError, match="max_rotatoin"):
        vreg_cli.Registrar("classic", max_rotatoin=30)
    with pytest.raises(vreg_cli.InputError, match="working_size"):
        vreg_cli.Registrar("classic", working_size=8)


def test_a_refusal_is_a_result_not_an_exception(pair: dict, registrar: vreg_cli.Registrar) -> None:
    noise = np.random.default_rng(0).integers(0, 256, pair["moving"].shape, dtype=np.uint8)
    reg = registrar.register(pair["fixed"], noise)
    assert not reg.ok and reg.reason
    data = reg.to_dict()
    assert data["inliers"] == reg.inliers and (data["matrix"] is None) == (reg.matrix is None)
    with pytest.raises(vreg_cli.RegistrationFailed, match=reg.reason[:20]):
        reg.raise_if_refused()


def test_result_pictures_and_points(pair: dict, registrar: vreg_cli.Registrar) -> None:
    reg = registrar.register(pair["fixed"], pair["moving"])
    h, w = pair["fixed"].shape[:2]
    assert reg.warp().shape == (h, w) and reg.warp(pair["fixed"]).shape == (h, w, 3)
    assert reg.checkerboard().shape == (h, w, 3) and reg.overlay().dtype == np.uint8
    assert np.allclose(reg.map_points(pair["pts_moving"]), warp_points(reg.matrix, pair["pts_moving"]))


def _rotated(pair: dict, angle: float) -> np.ndarray:
    h, w = pair["moving"].shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return cv2.warpAffine(pair["moving"], m, (w, h))


@pytest.mark.slow
def test_a_registrar_gives_the_same_results_from_four_threads(pair: dict, registrar: vreg_cli.Registrar) -> None:
    movings = [_rotated(pair, a) for a in (0, 20, 90, 180, -45, 135)]
    sequential = [registrar.register(pair["fixed"], m) for m in movings]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda m: registrar.register(pair["fixed"], m), movings))
    for one, two in zip(sequential, threaded, strict=True):
        assert one.ok == two.ok and one.reason == two.reason and one.inliers == two.inliers
        assert (one.matrix is None and two.matrix is None) or np.array_equal(one.matrix, two.matrix)
    assert sum(r.ok for r in sequential) >= 4


@pytest.mark.slow
def test_one_loftr_method_gives_the_same_matches_from_four_threads(pair: dict) -> None:
    """Frames of two sizes (288 px: matched at the model's 256 px; 128 px: at its own size) on one shared method: a
    per-call resize factor kept on the method would leak from one thread's frame into another's."""
    spec = "loftr:prealign=search,step=180,passes=1,rough_min_inliers=0,rough_min_verified=0"
    method = vreg_cli.Registrar(spec, device="cpu").method
    big, small = [
        (cv2.resize(pair["fixed"], size), cv2.resize(pair["moving"], size)) for size in ((288, 238), (128, 106))
    ]
    jobs = [big, small] * 2
    sequential = [method.match(f, m) for f, m in jobs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda job: method.match(*job), jobs))
    for one, two in zip(sequential, threaded, strict=True):
        assert len(one) > 0 and np.array_equal(one.fixed, two.fixed) and np.array_equal(one.moving, two.moving)


def test_match_load_model_and_available_methods(pair: dict) -> None:
    found = vreg_cli.match(pair["fixed"], pair["moving"], "sift", working_size=SIDE)
    assert found.fixed.shape == found.moving.shape == (len(found), 2) and found.inliers.dtype == bool
    assert vreg_cli.available_methods() == ("auto", "classic", "sift", "loftr")
    model = vreg_cli.load_model()  # the bundled one, on CUDA when present
    import torch

    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert next(model.parameters()).device.type == expected and not model.training


HEAVY_CHECK = """
import sys
sys.argv = ["vreg", *sys.argv[1:]]
import vreg_cli
vreg_cli.Registration, vreg_cli.Registrar, vreg_cli.InputError
heavy = [m for m in ("torch", "kornia", "matplotlib", "pandas", "jinja2", "dask", "distributed") if m in sys.modules]
assert not heavy, f"import vreg_cli loaded {heavy}"
import vreg_cli.api, vreg_cli.methods.base  # the core and the method interface load no method
methods = sorted(m for m in sys.modules if m.startswith("vreg_cli.methods."))
assert methods == ["vreg_cli.methods.base"], methods
from vreg_cli.cli import main
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = [m for m in ("torch", "kornia", "matplotlib", "pandas", "jinja2", "dask", "distributed") if m in sys.modules]
assert not heavy, f"vreg register --method classic loaded {heavy}"
"""


def test_public_names_and_light_imports(pair: dict, tmp_path: Path) -> None:
    """``import vreg_cli`` and ``vreg register --method classic`` (with every picture and the transform) load no
    torch, kornia, matplotlib, pandas or jinja2; the API's core and ``methods.base`` load no method."""
    assert sorted(vreg_cli.__all__) == sorted(["__version__", *vreg_cli._EXPORTS])
    for name in vreg_cli.__all__:
        assert getattr(vreg_cli, name) is not None
    outputs = ["-o", "w.png", "--checkerboard", "c.png", "--overlay", "o.png", "--matches", "m.png"]
    args = ["register", pair["fixed_path"], pair["moving_path"], "--method", "classic", "--working-size", SIDE]
    args += [*outputs, "--transform-out", "t.json"]
    done = subprocess.run(
        [sys.executable, "-c", HEAVY_CHECK, *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t.json").is_file() and (tmp_path / "m.png").is_file()


def test_the_command_line_starts_without_numpy_or_opencv() -> None:
    """Every command's defaults are read from light config modules: `vreg --help`, `vreg qa` or `vreg info` do not
    pay for numpy and OpenCV before they need them (that doubled the command line's import time once)."""
    heavy = "('numpy', 'cv2', 'torch', 'pandas')"
    code = f"import sys, vreg_cli.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
