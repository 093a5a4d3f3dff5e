"""Benchmark core: deterministic, method-independent cases; metrics on hand-made cases; AUC; failures; resume."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import vreg_cli.api
from vreg_cli.benchmark.cases import CaseData, draw_case
from vreg_cli.benchmark.config import BenchmarkSettings, CaseConfig, Thresholds
from vreg_cli.benchmark.evaluate import EvalContext, MethodEntry, evaluate_case
from vreg_cli.benchmark.metrics import auc, case_metrics, error_scale_diag, summarize
from vreg_cli.benchmark.run import parse_methods, run_benchmark
from vreg_cli.benchmark.sources import PairsSource, vessel_bifurcations
from vreg_cli.context import RegistrationContext
from vreg_cli.data.pairs import find_pairs
from vreg_cli.errors import VregError
from vreg_cli.geometry import translation_matrix, warp_points
from vreg_cli.io import read_image
from vreg_cli.methods import BuiltMethod
from vreg_cli.methods.base import Matches
from vreg_cli.paths import SAMPLE_DIR

FIXED_HW = (320, 1280)  # long side 1280: long-side-640 halves native errors; resize-512 scales x by 0.4, y by 1.6


class FakeSource:
    """Two pairs with exact ground truth on a 320 x 1280 canvas (no image content is needed)."""

    kind = "fake"

    def describe(self) -> str:
        return "fake source"

    def case_specs(self, config: CaseConfig) -> list:
        return [draw_case(config, f"p{i}", "pair", i, b, FIXED_HW) for i in range(2) for b in config.bins]

    def load(self, spec) -> CaseData:
        pts = np.array([[100.0, 50.0], [600.0, 160.0], [1200.0, 300.0]])
        img = np.zeros(FIXED_HW, np.uint8)
        return CaseData(img, img, pts, warp_points(spec.transform, pts), np.linalg.inv(spec.transform))


def fake_register(behaviour: dict[str, str | np.ndarray]):
    """register_images stand-in: per method label an offset (2,) added to the true map, "fail" or "crash"."""

    def register_images(fixed, moving, method):
        what = behaviour[method]
        if isinstance(what, str) and what == "fail":
            return SimpleNamespace(
                ok=False, reason="too few inliers", matrix=None, n_matches=5, inliers=1, produced_by="none", decision=""
            )
        if isinstance(what, str):
            raise ValueError("method crashed")
        # The true moving -> fixed map is the inverse of the case transform; the fake knows it from the context.
        gt = register_images.gt
        matches = Matches(np.zeros((10, 2)), np.zeros((10, 2)), np.ones(10), inliers=np.arange(10) < 7)
        matrix = translation_matrix(*what) @ gt
        return SimpleNamespace(
            ok=True, reason="", matrix=matrix, matches=matches, n_matches=10, inliers=7, produced_by="fake", decision=""
        )

    return register_images


@pytest.fixture
def fake_world(monkeypatch):
    """Methods are their labels (build_method is replaced); register_images follows ``behaviour``."""
    behaviour: dict = {}
    reg = fake_register(behaviour)
    source = FakeSource()
    original_load = source.load

    def load(spec):
        data = original_load(spec)
        reg.gt = data.gt
        return data

    source.load = load
    monkeypatch.setattr(vreg_cli.api, "register_images", reg)
    monkeypatch.setattr("vreg_cli.methods.build_method", lambda spec, context: BuiltMethod(spec, "test"))
    return source, behaviour


def _ctx(source, labels: list[str], scale: str = "native") -> EvalContext:
    entries = [MethodEntry(label, label) for label in labels]
    return EvalContext(source, entries, None, scale, Thresholds())


@pytest.mark.parametrize(("scale", "expected"), [("native", 10.0), ("long-side-640", 5.0), ("resize-512", None)])
def test_known_matrix_gives_known_errors(fake_world, scale: str, expected: float | None) -> None:
    source, behaviour = fake_world
    behaviour["off"] = np.array([6.0, 8.0])  # a 6, 8 px shift of the true map: 10 px everywhere (native)
    spec = source.case_specs(CaseConfig(bins=(30,)))[0]
    (row,) = evaluate_case(_ctx(source, ["off"], scale), spec, ["off"])
    if expected is None:  # per axis: 6 * 512 / 1280 = 2.4, 8 * 512 / 320 = 12.8
        expected = float(np.hypot(2.4, 12.8))
    assert row["status"] == "ok" and row["n_points"] == 3
    for key in ("mean_err", "median_err", "max_err"):
        assert row[key] == pytest.approx(expected)
    assert (row["matches"], row["inliers"], row["mir"]) == (10, 7, pytest.approx(0.7))
    assert row["m02"] != 0 and row["m22"] == pytest.approx(1.0)


def test_failures_have_infinite_error_and_count(fake_world) -> None:
    source, behaviour = fake_world
    behaviour.update(good=np.array([0.3, 0.4]), fail="fail", crash="crash")
    labels = ["good", "fail", "crash"]
    spec = source.case_specs(CaseConfig(bins=(0,)))[0]
    rows = {r["method"]: r for r in evaluate_case(_ctx(source, labels), spec, labels)}
    assert rows["good"]["mean_err"] == pytest.approx(0.5) and rows["good"]["success"]
    assert rows["fail"]["status"] == "failed" and "too few inliers" in rows["fail"]["error"]
    assert rows["fail"]["mir"] == pytest.approx(0.2)
    assert rows["crash"]["status"] == "error" and "ValueError: method crashed" in rows["crash"]["error"]
    for label in ("fail", "crash"):
        r = rows[label]
        assert r["mean_err"] == r["max_err"] == float("inf")
        assert not (r["sr_me"] or r["sr_mae"] or r["acceptable"] or r["success"])
    # In a summary a failure stays in the denominator.
    frame = pd.DataFrame([rows["good"], rows["fail"], {**rows["good"], "case_id": "x"}]).assign(method="m")
    s = summarize(frame, Thresholds())
    row = s[s["bin"] == "all"].iloc[0]
    assert (row["cases"], row["failed"]) == (3, 1)
    assert row["success"] == pytest.approx(2 / 3) and row["auc"] == pytest.approx(2 * (1 - 0.5 / 25) / 3)


def test_case_metrics_thresholds() -> None:
    t = Thresholds()
    m = case_metrics(np.array([1.0, 2.0, 9.0]), t)
    assert (m["mean_err"], m["median_err"], m["max_err"]) == (4.0, 2.0, 9.0)
    assert m["sr_me"] and m["sr_mae"] and m["acceptable"] and m["success"]
    m = case_metrics(np.array([12.0, 12.0, 31.0]), t)
    assert not (m["sr_me"] or m["sr_mae"] or m["success"]) and m["acceptable"]
    m = case_metrics(np.array([1.0, 1.0, 40.0]), replace(t, success_max=40.0))
    assert m["success"] and not m["sr_mae"]
    assert case_metrics(None, t)["mean_err"] == float("inf")


def test_auc_matches_a_hand_computation() -> None:
    errors = np.array([0.0, 5.0, 12.5, 30.0, np.inf])
    # Each case adds (25 - min(e, 25)) / 25: 1 + 0.8 + 0.5 + 0 + 0, over 5 cases.
    assert auc(errors, 25.0) == pytest.approx(2.3 / 5)
    # The same as integrating the success-vs-threshold step curve numerically.
    t = np.linspace(0, 25, 250001)
    curve = (errors[None, :] <= t[:, None]).mean(axis=1)
    assert auc(errors, 25.0) == pytest.approx(np.trapezoid(curve, t) / 25, abs=1e-4)
    assert auc(np.array([10.0]), 20.0) == pytest.approx(0.5)
    assert np.isnan(auc(np.array([]), 25.0))


def test_error_scales() -> None:
    np.testing.assert_allclose(error_scale_diag("long-side-640", (530, 1280)), [0.5, 0.5])
    np.testing.assert_allclose(error_scale_diag("resize-512", (256, 1024)), [0.5, 2.0])
    with pytest.raises(VregError, match="unknown error scale"):
        error_scale_diag("bogus", (10, 10))


def test_cases_are_deterministic_and_independent_of_other_bins() -> None:
    config = CaseConfig(bins=(0, 45, 180), seed=3)
    a = [draw_case(config, "p", "cf-fa", 0, b, (100, 200)) for b in config.bins]
    b = [draw_case(replace(config, bins=(45,)), "p", "cf-fa", 0, 45, (100, 200))]
    assert a[1] == b[0] and np.array_equal(a[1].transform, b[0].transform)
    assert [abs(c.angle) for c in a] == [0, 45, 180] and all(0.9 <= c.scale <= 1.1 for c in a)
    assert all(abs(c.shift[0]) <= 16 and abs(c.shift[1]) <= 8 for c in a)
    other_seed = draw_case(replace(config, seed=4), "p", "cf-fa", 0, 45, (100, 200))
    assert other_seed != a[1]
    signs = {np.sign(draw_case(config, f"p{i}", "x", 0, 30, (10, 10)).angle) for i in range(20)}
    assert signs == {-1.0, 1.0}


def test_pairs_source_rotates_the_moving_image_and_carries_landmarks(tmp_path: Path) -> None:
    records, _ = find_pairs(SAMPLE_DIR, "landmarks-csv")
    source = PairsSource(records, SAMPLE_DIR, "landmarks-csv")
    config = CaseConfig(bins=(0, 90), scale_range=(1.0, 1.0), shift_frac=0.0)
    still, turned = source.case_specs(config)
    data0, data90 = source.load(still), source.load(turned)
    np.testing.assert_array_equal(data0.moving, read_image(records[0].moving))  # bin 0, no jitter: identity
    assert data90.moving.shape == data0.moving.shape  # a canvas of the moving image's own size
    np.testing.assert_allclose(data0.pts_moving, records[0].moving_points)  # bin 0, no jitter: untouched
    h, w = data0.moving.shape[:2]
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    r0, r90 = data0.pts_moving - centre, data90.pts_moving - centre
    np.testing.assert_allclose(np.linalg.norm(r0, axis=1), np.linalg.norm(r90, axis=1), atol=1e-9)
    cos = np.sum(r0 * r90, axis=1) / np.linalg.norm(r0, axis=1) ** 2
    np.testing.assert_allclose(cos, 0.0, atol=1e-9)  # turned by 90 degrees about the centre


def test_vessel_bifurcations_of_a_cross() -> None:
    mask = np.zeros((41, 41), bool)
    mask[20, 5:36] = True
    mask[5:36, 20] = True
    pts = vessel_bifurcations(mask)
    assert len(pts) == 1 and np.allclose(pts[0], [20, 20], atol=1.0)


def test_parse_methods_labels() -> None:
    entries = parse_methods(["classic", "mine=loftr:checkpoint=runs/x/best.ckpt", "loftr:weights=w/minima.ckpt"])
    assert [(e.label, e.spec) for e in entries] == [
        ("classic", "classic"),
        ("mine", "loftr:checkpoint=runs/x/best.ckpt"),
        ("loftr:w/minima", "loftr:weights=w/minima.ckpt"),
    ]
    with pytest.raises(VregError, match="share the label"):
        parse_methods(["sift", "sift"])


def test_run_is_method_independent_resumable_and_counts_failures(fake_world, tmp_path: Path, monkeypatch) -> None:
    source, behaviour = fake_world
    seen: dict[str, list] = {"a": [], "b": []}
    original = vreg_cli.api.register_images

    def recording(fixed, moving, method):
        seen[method].append((fixed.copy(), moving.copy(), original.gt.copy()))
        return original(fixed, moving, method)

    monkeypatch.setattr(vreg_cli.api, "register_images", recording)
    behaviour.update(a=np.array([1.0, 0.0]), b="fail")
    settings = BenchmarkSettings(
        cases=CaseConfig(bins=(0, 60)), error_scale="native", registration=RegistrationContext()
    )
    entries = [MethodEntry("a", "a"), MethodEntry("b", "b")]
    cases, summary = run_benchmark(source, entries, settings, tmp_path)
    assert len(cases) == 8 and set(cases["status"]) == {"ok", "failed"}
    for (fa, ma, ga), (fb, mb, gb) in zip(seen["a"], seen["b"], strict=True):
        assert np.array_equal(fa, fb) and np.array_equal(ma, mb) and np.array_equal(ga, gb)
    by_method = summary[summary["bin"] == "all"].set_index("method")
    assert by_method.loc["a", "success"] == 1.0 and by_method.loc["b", "cases"] == 4
    assert by_method.loc["b", "success"] == 0.0 and by_method.loc["b", "failed"] == 4
    first = (tmp_path / "cases.csv").read_text()
    # An existing run is never overwritten by accident.
    with pytest.raises(VregError, match="--resume"):
        run_benchmark(source, entries, settings, tmp_path)
    # Interrupted run: drop two rows and tear the last line; resume redoes exactly the missing cases.
    lines = first.splitlines()
    (tmp_path / "cases.csv").write_text("\n".join(lines[:-2]) + "\n" + lines[-1][:20])
    seen["a"].clear(), seen["b"].clear()
    cases2, _ = run_benchmark(source, entries, replace(settings, resume=True), tmp_path)
    assert len(seen["a"]) + len(seen["b"]) == 2
    assert len(cases2) == 8
    again = pd.read_csv(tmp_path / "cases.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(again, pd.read_csv(io.StringIO(first)).drop(columns="seconds"))
    # Resume refuses a label that now names another method, and other case settings.
    with pytest.raises(VregError, match="label 'a' was 'a'"):
        run_benchmark(source, [MethodEntry("a", "b")], replace(settings, resume=True), tmp_path)
    # (case settings)
    with pytest.raises(VregError, match="seed"):
        run_benchmark(source, entries, replace(settings, resume=True, cases=CaseConfig(bins=(0, 60), seed=9)), tmp_path)
    # (changed bins: the old bins' rows would stay in cases.csv next to the new ones)
    with pytest.raises(VregError, match="bins"):
        run_benchmark(source, entries, replace(settings, resume=True, cases=CaseConfig(bins=(0, 90))), tmp_path)
