"""The small-field-of-view regime: the benchmark protocol's cases, and classic on zoomed-in, degraded moving images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vreg_cli.benchmark.cases import Degradation, degrade_image, draw_case, in_view, present_moving
from vreg_cli.benchmark.config import CaseConfig
from vreg_cli.benchmark.sources import PairsSource
from vreg_cli.data.pairs import find_pairs
from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.geometry import grid_points, point_errors, warp_points
from vreg_cli.methods.classic import ClassicMethod
from vreg_cli.paths import SAMPLE_DIR
from vreg_cli.registration import register_pair

SIZE = 256
SMALLFOV = CaseConfig(protocol="smallfov")


@pytest.fixture(scope="module")
def eye() -> dict[str, np.ndarray]:
    return make_triplet(5, SIZE)


@pytest.fixture(scope="module")
def method() -> ClassicMethod:
    return ClassicMethod()


@pytest.fixture(scope="module")
def sample() -> PairsSource:
    records, _ = find_pairs(SAMPLE_DIR, "landmarks-csv")
    return PairsSource(records, SAMPLE_DIR, "landmarks-csv")


def test_protocol_cases_are_reproducible_in_range_and_keep_six_landmarks(sample: PairsSource) -> None:
    specs = sample.case_specs(SMALLFOV)
    again = sample.case_specs(SMALLFOV)
    assert [s.case_id for s in specs] == [s.case_id for s in again] and len(specs) == len(SMALLFOV.bins)
    hw = sample.load(specs[0]).moving.shape[:2]
    for a, b in zip(specs, again, strict=True):
        assert a == b and np.array_equal(a.transform, b.transform)
        assert 1.4 <= a.scale <= 2.2 and abs(a.angle) == a.bin
        d = a.degrade
        assert d is not None and 0.6 <= d.gamma <= 1.6 and 0 <= d.blur <= 1.5 and 0 <= d.noise <= 6
        # the window centre (original pixels) lies in the central 40 % of the image
        assert abs(a.shift[0]) <= 0.2 * hw[1] and abs(a.shift[1]) <= 0.2 * hw[0]
        da, db = sample.load(a), sample.load(b)
        np.testing.assert_array_equal(da.moving, db.moving)  # noise included: seeded per case
        assert len(da.pts_fixed) >= 6 and len(da.pts_fixed) == len(da.pts_moving)
        assert in_view(da.pts_moving, da.moving.shape[:2]).all()
        assert len(da.pts_fixed) < 20 or a.scale < 1.5  # a zoomed window hides landmarks (20 in the pair)
    # Another seed gives other cases; the standard protocol is unchanged by the new fields.
    assert sample.case_specs(replace(SMALLFOV, seed=1))[3] != specs[3]
    assert sample.case_specs(CaseConfig())[3].degrade is None


def test_window_with_too_few_landmarks_is_redrawn_or_refused() -> None:
    hw = (200, 200)
    corner = np.array([[5.0, 5.0]] * 3 + [[100.0, 100.0]] * 6)  # only the centre cluster can stay in view
    spec = draw_case(SMALLFOV, "p", "pair", 0, 45, hw, corner)
    assert in_view(warp_points(spec.transform, corner), hw).sum() >= 6
    with pytest.raises(VregError, match="keeps 6 error points"):
        draw_case(SMALLFOV, "p", "pair", 0, 45, hw, corner[:5])


def test_degradation_is_seeded_and_keeps_the_dtype() -> None:
    img = np.full((32, 32, 3), 100, np.uint8)
    d = Degradation(gamma=1.5, blur=1.0, noise=4.0, noise_seed=7)
    a, b = degrade_image(img, d), degrade_image(img, d)
    assert a.dtype == np.uint8 and np.array_equal(a, b)
    assert (a[..., 0] == a[..., 1]).all()  # one noise field for every channel: a grey image stays grey
    assert abs(float(a.mean()) - 255 * (100 / 255) ** 1.5) < 1.0 and 2.0 < float(a[..., 0].std()) < 6.0


def _window(img: np.ndarray, bin_deg: int, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """A smallfov window of a (pixel-aligned) image at a fixed zoom; returns it and the true moving -> fixed map."""
    config = replace(SMALLFOV, zoom_range=(zoom, zoom), center_range=(0.45, 0.55))
    spec = draw_case(config, "synthetic", "cf-oct", 0, bin_deg, img.shape[:2])
    return present_moving(img, spec), np.linalg.inv(spec.transform)


@pytest.mark.parametrize("bin_deg", [45, 180])
def test_synthetic_cf_oct_zoom_2_2_recovered_within_2px(
    eye: dict[str, np.ndarray], method: ClassicMethod, bin_deg: int
) -> None:
    moving, truth = _window(eye["oct"], bin_deg, 2.2)
    result = register_pair(eye["cf"], moving, method)
    pm = grid_points(moving.shape[:2], 8)
    pf = warp_points(truth, pm)
    inside = eye["fov"][
        np.round(pf[:, 1]).astype(int).clip(0, SIZE - 1), np.round(pf[:, 0]).astype(int).clip(0, SIZE - 1)
    ]
    assert point_errors(result.matrix, pm[inside], pf[inside]).max() <= 2.0


def test_blurred_noisy_real_pair_within_10px(sample: PairsSource, method: ClassicMethod) -> None:
    spec = sample.case_specs(replace(CaseConfig(bins=(0,)), scale_range=(1.0, 1.0), shift_frac=0.0))[0]
    data = sample.load(spec)
    moving = degrade_image(data.moving, Degradation(gamma=1.4, blur=1.5, noise=6.0, noise_seed=0))
    result = register_pair(data.fixed, moving, method)
    err = point_errors(result.matrix, data.pts_moving, data.pts_fixed) * 640 / max(data.fixed.shape[:2])
    assert np.median(err) <= 10.0


def _negatives(eye: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    other = make_triplet(11, SIZE)
    rng = np.random.default_rng(0)
    return [
        ("another eye's OCT", eye["cf"], other["oct"]),
        ("another eye's FA window", eye["cf"], _window(other["fa"], 45, 1.8)[0]),
        ("another eye's OCT window", eye["cf"], _window(other["oct"], 90, 2.2)[0]),
        ("noise", eye["cf"], rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)),
        ("blank", eye["cf"], np.full((SIZE, SIZE), 128, np.uint8)),
    ]


@pytest.mark.slow
def test_negatives_are_refused(eye: dict[str, np.ndarray], method: ClassicMethod) -> None:
    accepted = []
    for name, fixed, moving in _negatives(eye):
        try:
            method.match(fixed, moving)
            accepted.append(name)
        except RegistrationFailed:
            pass
    assert not accepted


def test_cli_smallfov_protocol_in_hdf5_mode(tmp_path: Path) -> None:
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from vreg_cli.cli import app
    from vreg_cli.data.pack import pack
    from vreg_cli.data.synth import write_synth_dataset

    write_synth_dataset(tmp_path / "src", 1, size=128, seed=0)
    pack(tmp_path / "src", tmp_path / "d.h5", size=128, split=(0.0, 0.0, 1.0))
    out = tmp_path / "bench"
    args = ["benchmark", "--data", str(tmp_path / "d.h5"), "--modalities", "cf-fa,cf-oct", "--bins", "0,90"]
    result = CliRunner().invoke(app, [*args, "--protocol", "smallfov", "--method", "sift", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cases = pd.read_csv(out / "cases.csv")
    assert len(cases) == 4 and (cases["scale"].between(1.4, 2.2)).all() and (cases["n_points"] >= 6).all()
    assert json.loads((out / "run.json").read_text())["protocol"] == "smallfov"
    bad = CliRunner().invoke(app, [*args, "--protocol", "tiny", "--method", "sift", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown benchmark protocol" in bad.output


def test_cli_smallfov_window_options(tmp_path: Path) -> None:
    """--zoom/--gamma/--blur/--noise set the protocol's ranges (recorded in run.json); misuse is one line, exit 2."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from vreg_cli.cli import app

    out = tmp_path / "bench"
    args = ["benchmark", "--pairs-dir", str(SAMPLE_DIR), "--bins", "0,45", "--method", "sift"]
    window = ["--zoom", "1.6", "--blur", "0,2.5", "--noise", "3,9", "--gamma", "0.8,1.2"]
    result = CliRunner().invoke(app, [*args, "--protocol", "smallfov", *window, "--out", str(out)])
    assert result.exit_code == 0, result.output
    cases = pd.read_csv(out / "cases.csv")
    assert np.allclose(cases["scale"], 1.6)
    run = json.loads((out / "run.json").read_text())
    assert run["zoom_range"] == [1.6, 1.6] and run["noise_range"] == [3.0, 9.0]
    for extra, message in [
        (["--zoom", "1.6"], "apply only to --protocol smallfov"),  # standard protocol
        (["--protocol", "smallfov", "--zoom", "0.5,2"], "--zoom 0.5,2: need 1 <= low <= high"),
        (["--protocol", "smallfov", "--blur", "2,1"], "--blur 2,1"),
        (["--protocol", "smallfov", "--noise", "a"], "expected comma-separated numbers"),
    ]:
        bad = CliRunner().invoke(app, [*args, *extra, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and message in bad.output, bad.output
