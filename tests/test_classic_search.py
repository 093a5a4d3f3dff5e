"""classic's fast paths against their plain definitions: the batched global search, the patch grid from integral
images, the vessel filter's eigenvalue shortcut and the partial-sort percentile."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vreg_cli.geometry import rotation_matrix, translation_matrix
from vreg_cli.methods.classic.global_search import _Correlator, _prepare
from vreg_cli.methods.classic.patch_match import _searchable
from vreg_cli.vessels import VesselMap, line_strength, percentile


def _maps(seed: int, hw: tuple[int, int] = (40, 48)) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random zero-mean map and a valid disc, as ``_prepare`` leaves them."""
    rng = np.random.default_rng(seed)
    strength = cv2.GaussianBlur(rng.random(hw).astype(np.float32), (0, 0), 1.5)
    valid = np.zeros(hw, np.uint8)
    cv2.circle(valid, (hw[1] // 2, hw[0] // 2), min(hw) // 2 - 2, 1, -1)
    (s, v), _ = _prepare(strength, valid.astype(bool), 1.0, 0.0)
    return s, v


def _plain_best(corr: _Correlator, angle: float, scale: float) -> tuple[np.ndarray, float]:
    """One hypothesis by the definition: full-canvas warps, the fixed energy under the footprint by np.roll."""
    p = corr.p
    c = (p - 1) / 2.0
    to_canvas = translation_matrix(c - corr.c_m[0], c - corr.c_m[1]) @ rotation_matrix(angle, corr.c_m, scale)
    warped = cv2.warpAffine(corr.moving, to_canvas[:2], (p, p), flags=cv2.INTER_LINEAR)
    foot = cv2.warpAffine(corr.m_valid, to_canvas[:2], (p, p), flags=cv2.INTER_LINEAR)
    spectrum = cv2.mulSpectrums(corr.f_hat, cv2.dft(warped), 0, conjB=True)
    score = cv2.idft(spectrum, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    _, peak, _, (tx, ty) = cv2.minMaxLoc(score)
    f2 = corr.f2_tiled[:p, :p]
    f_under = max(float((np.roll(f2, (-ty, -tx), axis=(0, 1)) * foot).sum()), 1e-3 * corr.f_energy)
    norm = math.sqrt(math.sqrt(f_under * corr.f_energy) * float((warped**2).sum()))
    sx, sy = (tx + p / 2) % p - p / 2, (ty + p / 2) % p - p / 2
    return translation_matrix(sx - corr.off[0], sy - corr.off[1]) @ to_canvas, peak / norm


def test_batched_search_equals_one_hypothesis_at_a_time() -> None:
    fixed, moving = _maps(0), _maps(1, (36, 44))
    corr = _Correlator(fixed, moving)
    angles = np.array([-172.0, -40.0, 0.0, 33.0, 90.0, 171.0])
    scales = np.array([0.6, 1.0, 1.3, 0.8, 2.2, 1.0])
    mats, scores = corr.best(angles, scales)
    assert mats.shape == (6, 3, 3) and scores.shape == (6,)
    for k, (a, s) in enumerate(zip(angles, scales, strict=True)):
        mat, score = _plain_best(corr, a, s)
        assert scores[k] == pytest.approx(score, rel=1e-4, abs=1e-6)
        # the batched matrix adds the sub-pixel peak, at most half a pixel in x and y
        assert np.allclose(mats[k][:2, :2], mat[:2, :2], atol=1e-9)
        assert np.abs(mats[k][:2, 2] - mat[:2, 2]).max() <= 0.5 + 1e-6


def test_batched_search_finds_a_known_rotation_scale_and_shift() -> None:
    big, valid = _maps(3, (120, 120))
    truth = translation_matrix(6.0, -4.0) @ rotation_matrix(30.0, (59.5, 59.5), 1.25)
    inv = np.linalg.inv(truth)
    moving = cv2.warpAffine(big, inv[:2], (120, 120), flags=cv2.INTER_LINEAR)
    m_valid = cv2.warpAffine(valid, inv[:2], (120, 120), flags=cv2.INTER_NEAREST)
    corr = _Correlator((big, valid), (moving * m_valid, m_valid))
    mats, scores = corr.best(np.array([0.0, 30.0, 60.0]), np.array([1.25, 1.25, 1.25]))
    assert int(np.argmax(scores)) == 1
    assert np.abs(mats[1][:2, 2] - truth[:2, 2]).max() < 1.0


def test_patch_grid_from_integral_images_equals_the_box_filter_definition() -> None:
    rng = np.random.default_rng(2)
    strength = cv2.GaussianBlur(rng.random((160, 180)).astype(np.float32), (0, 0), 2.0)
    strength = (strength - strength.min()) / (strength.max() - strength.min())
    valid = np.zeros((160, 180), np.uint8)
    cv2.circle(valid, (90, 80), 75, 1, -1)
    vm = VesselMap(strength, valid.astype(bool))
    m = rotation_matrix(12.0, (90.0, 80.0), 1.05)
    for patch, step, radius, content in ((24, 12, 5, 0.06), (17, 9, 10, 0.2), (31, 7, 3, 0.0)):
        warped, grid = _searchable(vm, vm, m, patch=patch, step=step, radius=radius, min_content=content)
        wvalid = cv2.warpAffine(valid, m[:2], (180, 160), flags=cv2.INTER_NEAREST) > 0
        both = (wvalid & vm.valid).astype(np.float32)
        cover = cv2.boxFilter(both, -1, (patch, patch), normalize=True, borderType=cv2.BORDER_CONSTANT)
        vessel = cv2.boxFilter((warped > 0.5).astype(np.float32), -1, (patch, patch), borderType=cv2.BORDER_CONSTANT)
        lo = patch // 2 + radius
        want = [
            (x, y)
            for y in range(lo, 160 - lo, step)
            for x in range(lo, 180 - lo, step)
            if cover[y, x] >= 0.98 and vessel[y, x] >= content
        ]
        assert grid == want and grid


def _plain_line_strength(gray: np.ndarray, sigmas: tuple[float, ...], edge_weight: float) -> np.ndarray:
    """The vessel filter as written in its docstring: eigenvalues of the Hessian, then the magnitude difference."""
    out = np.zeros(gray.shape, np.float32)
    for s in sigmas:
        g = cv2.GaussianBlur(gray, (0, 0), s)
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
        hxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3, scale=1 / 4)
        hyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3, scale=1 / 4)
        hxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3, scale=1 / 4)
        disc = np.sqrt(0.25 * (hxx - hyy) ** 2 + hxy**2)
        l_a, l_b = 0.5 * (hxx + hyy) + disc, 0.5 * (hxx + hyy) - disc
        resp = s * s * np.abs(np.abs(l_a) - np.abs(l_b)) - edge_weight * s * np.sqrt(gx * gx + gy * gy)
        out = np.maximum(out, resp)
    return out


def test_line_strength_equals_the_eigenvalue_definition() -> None:
    rng = np.random.default_rng(4)
    gray = cv2.GaussianBlur((rng.random((96, 128)) * 255).astype(np.float32), (0, 0), 1.0)
    cv2.line(gray, (5, 10), (120, 80), 20.0, 3)  # a dark vessel
    cv2.line(gray, (10, 90), (110, 5), 250.0, 2)  # a bright one
    got = line_strength(gray, (2.0, 3.0), 0.5)
    want = _plain_line_strength(gray, (2.0, 3.0), 0.5)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-3 * float(np.abs(want).max()))


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 40_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_percentile_equals_numpys(n: int, dtype: type) -> None:
    values = (np.random.default_rng(n).random(n) * 255).astype(dtype)
    for q in (0.0, 10.0, 50.0, 90.0, 99.9, 100.0):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-6)
