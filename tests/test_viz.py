"""The pictures: checkerboard tiles, two-colour overlay, matches drawn across the pair."""

from __future__ import annotations

import numpy as np
import pytest

from vreg_cli import viz
from vreg_cli.geometry import warp_points
from vreg_cli.methods.base import Matches


def test_checkerboard_alternates_fixed_and_warped_tiles() -> None:
    fixed = np.full((64, 96, 3), 200, np.uint8)
    warped = np.full((64, 96), 10, np.uint8)
    out = viz.checkerboard(fixed, warped, tiles=4)  # 96 / 4 = 24 px tiles
    assert out.shape == (64, 96, 3) and out.dtype == np.uint8
    assert (
        (out[0, 0] == 200).all()
        and (out[0, 24] == 10).all()
        and (out[24, 0] == 10).all()
        and (out[24, 24] == 200).all()
    )
    with pytest.raises(ValueError, match="same size"):
        viz.checkerboard(fixed, warped[:10])


def test_overlay_puts_fixed_in_magenta_and_warped_in_green() -> None:
    fixed = np.zeros((40, 40), np.uint8)
    fixed[:, :20] = 255
    warped = np.zeros((40, 40, 3), np.uint8)
    warped[20:] = 255
    out = viz.overlay(fixed, warped)
    assert out.shape == (40, 40, 3)
    r, g, b = (out[..., i].astype(int) for i in range(3))
    assert (r == b).all()
    assert r[30, 5] > 200 and g[30, 5] > 200  # both bright: white
    assert r[5, 30] < 50 and g[5, 30] < 50  # both dark: black
    assert r[5, 5] > 200 and g[5, 5] < 50  # fixed only: magenta
    assert r[30, 35] < 50 and g[30, 35] > 200  # warped only: green


def test_draw_matches_colours_inliers_green_and_outliers_red() -> None:
    fixed = np.zeros((100, 80, 3), np.uint8)
    moving = np.zeros((50, 60), np.uint8)
    m = Matches([[10, 10], [70, 90]], [[5, 5], [50, 40]], [1.0, 0.5])
    out = viz.draw_matches(fixed, moving, m, np.array([True, False]), height=100)
    assert out.shape == (100, 80 + 120, 3)
    pixels = out.reshape(-1, 3).astype(int)
    green = (pixels[:, 1] > 150) & (pixels[:, 0] < 100)
    red = (pixels[:, 0] > 150) & (pixels[:, 1] < 100)
    assert green.sum() > 20 and red.sum() > 20
    # the fixed end of the inlier sits at (10, 10), the moving end at 2x scale right of the fixed panel
    assert out[10, 10, 1] > 150 and out[round(5.5 * 2 - 0.5), 80 + round(5.5 * 2 - 0.5), 1] > 150
    assert viz.draw_matches(fixed, moving, Matches.empty(), None).shape[0] == 640


def test_the_match_picture_maps_points_with_the_exact_resize() -> None:
    # 33x50 to height 100 is 152 px wide: x scales by 152/50, y by 100/33 (one factor would be off by 0.5 px)
    panel, s = viz._fit_height(np.zeros((33, 50), np.uint8), 100)
    assert panel.shape == (100, 152, 3)
    edges = warp_points(s, [[-0.5, -0.5], [49.5, 32.5]])  # pixel-grid corners land on the panel's corners
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [151.5, 99.5]], atol=1e-9)
