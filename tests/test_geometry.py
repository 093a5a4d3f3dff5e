import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vreg_cli.geometry import (
    affine_matrix,
    decompose_affine,
    grid_points,
    pixel_scale_matrix,
    point_errors,
    resize_image,
    resize_matrix,
    rotation_matrix,
    to_3x3,
    warp_image,
    warp_points,
)


def test_warp_points_matches_opencv_transform():
    m = affine_matrix(33.0, 1.3, (4.0, -7.0), shear_deg=5.0, center=(20.0, 10.0))
    pts = np.array([[0.0, 0.0], [10.0, 5.0], [-3.0, 8.5]])
    ref = cv2.transform(pts[None].astype(np.float64), m[:2])[0]
    np.testing.assert_allclose(warp_points(m, pts), ref, atol=1e-9)


def test_warp_points_perspective_divide():
    h = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.001, 0, 1.0]])
    out = warp_points(h, np.array([[100.0, 50.0]]))
    np.testing.assert_allclose(out, [[100 / 1.1, 50 / 1.1]])


def test_rotation_is_counter_clockwise_on_screen():
    # +90 deg about the origin: the point to the right (1, 0) goes up on screen, i.e. to (0, -1) with y down.
    np.testing.assert_allclose(warp_points(rotation_matrix(90, (0, 0)), [[1.0, 0.0]]), [[0.0, -1.0]], atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    angle=st.floats(-179, 179),
    scale=st.floats(0.5, 2.0),
    shear=st.floats(-10, 10),
    flip=st.booleans(),
)
def test_decompose_recovers_parts(angle, scale, shear, flip):
    m = affine_matrix(angle, scale, (3.0, 4.0), shear_deg=shear, flip=flip, center=(50.0, 60.0))
    parts = decompose_affine(m)
    assert parts.mirrored == flip
    assert parts.scale == pytest.approx(scale * math.sqrt(1.0), rel=1e-9)
    assert parts.shear == pytest.approx(math.tan(math.radians(shear)), abs=1e-9)
    if not flip:
        diff = (parts.rotation_deg - angle + 180) % 360 - 180
        assert abs(diff) < 1e-6


def test_resize_matrix_matches_cv2_resize_on_a_dot():
    img = np.zeros((40, 60), np.float32)
    img[13, 37] = 1.0
    out = cv2.resize(img, (150, 100), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.mgrid[0:100, 0:150]
    cx, cy = (out * xs).sum() / out.sum(), (out * ys).sum() / out.sum()
    np.testing.assert_allclose(warp_points(resize_matrix((40, 60), (100, 150)), [[37, 13]]), [[cx, cy]], atol=0.05)


def test_resize_image_returns_the_exact_map_and_the_interpolation_of_its_size():
    ys, xs = np.indices((40, 60))
    img = np.exp(-((xs - 37.3) ** 2 + (ys - 13.6) ** 2) / 18.0).astype(np.float32)  # a dot, sigma 3 px
    for out_hw, default in (((100, 90), cv2.INTER_LINEAR), ((17, 29), cv2.INTER_AREA)):
        out, s = resize_image(img, out_hw)
        np.testing.assert_array_equal(out, cv2.resize(img, out_hw[::-1], interpolation=default))
        ys, xs = np.indices(out_hw)
        centre = [(out * xs).sum() / out.sum(), (out * ys).sum() / out.sum()]
        np.testing.assert_allclose(warp_points(s, [[37.3, 13.6]])[0], centre, atol=0.05)
    img = np.zeros((40, 60), np.float32)
    img[13, 37] = 1.0
    near, _ = resize_image(img, (80, 120), interpolation=cv2.INTER_NEAREST_EXACT)
    assert near.max() == 1.0 and (near == 1.0).sum() == 4  # a 2x2 block: nearest, not a blurred dot
    same, eye = resize_image(img, (40, 60))
    assert same is img and np.array_equal(eye, np.eye(3))
    np.testing.assert_allclose(pixel_scale_matrix(0.5), resize_matrix((40, 60), (20, 30)))


def test_warp_image_moves_a_dot_where_warp_points_says():
    img = np.zeros((64, 64), np.uint8)
    img[20, 30] = 255
    m = affine_matrix(90, 1.0, center=(32, 32))
    out = warp_image(img, m, (64, 64), nearest=True)
    (y, x) = np.argwhere(out == 255)[0]
    np.testing.assert_allclose(warp_points(m, [[30, 20]])[0], [x, y], atol=1e-6)


def test_point_errors_and_grid():
    m = affine_matrix(0, 1.0, (3.0, 4.0))
    pts = grid_points((32, 32), 8)
    assert pts.shape == (16, 2)
    np.testing.assert_allclose(point_errors(m, pts, pts), 5.0)
    # a per-axis scale applies to the error vector (3, 4) before its length: (6, 2)
    np.testing.assert_allclose(point_errors(m, pts, pts, scale=(2.0, 0.5)), math.sqrt(40.0))
    mask = np.zeros((32, 32), bool)
    mask[:16] = True
    assert len(grid_points((32, 32), 8, mask)) == 8


def test_to_3x3_rejects_bad_shape():
    with pytest.raises(ValueError):
        to_3x3(np.eye(2))
