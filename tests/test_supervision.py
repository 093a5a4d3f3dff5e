"""Ground truth from a known affine, checked against brute-force warping of single points (numpy, one by one)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vreg_cli.geometry import affine_matrix, warp_points
from vreg_cli.model.supervision import coarse_vessel, spvs_coarse, spvs_fine


def _batch(m10: np.ndarray, hw0=(64, 80), hw1=(72, 64), fov0=None, fov1=None) -> dict:
    data = {
        "image0": torch.zeros(1, 1, *hw0),
        "image1": torch.zeros(1, 1, *hw1),
        "moving_to_fixed": torch.as_tensor(m10, dtype=torch.float32)[None],
    }
    if fov0 is not None:
        data["fov0"], data["fov1"] = torch.as_tensor(fov0)[None], torch.as_tensor(fov1)[None]
    return data


def _tie(c: np.ndarray) -> bool:
    """A coordinate within float noise of a rounding boundary: either neighbour is a correct answer."""
    return bool(np.any(np.abs(np.abs(c - np.floor(c)) - 0.5) < 1e-6))


def _brute_force(m10: np.ndarray, hw0, hw1, fov0=None, fov1=None) -> tuple[set[tuple[int, int]], set[int]]:
    """Every (i, j): fixed cell i warped to moving cell j and back to i, both in image and field of view.

    Also returns the fixed cells whose answer hinges on an exact rounding tie (excluded from comparisons).
    """
    h0c, w0c, h1c, w1c = hw0[0] // 8, hw0[1] // 8, hw1[0] // 8, hw1[1] // 8
    m01 = np.linalg.inv(m10)
    out, ties = set(), set()
    for i in range(h0c * w0c):
        p0 = np.array([(i % w0c) * 8, (i // w0c) * 8], float)
        if fov0 is not None and not fov0[int(p0[1]), int(p0[0])]:
            continue
        c = warp_points(m01, p0[None])[0] / 8
        if _tie(c):
            ties.add(i)
            continue
        cx, cy = np.round(c).astype(int)
        if not (0 <= cx < w1c and 0 <= cy < h1c):
            continue
        j = cx + cy * w1c
        p1 = np.array([cx * 8, cy * 8], float)
        if fov1 is not None and not fov1[int(p1[1]), int(p1[0])]:
            continue
        c = warp_points(m10, p1[None])[0] / 8
        if _tie(c):
            ties.add(i)
            continue
        bx, by = np.round(c).astype(int)
        if 0 <= bx < w0c and 0 <= by < h0c and bx + by * w0c == i:
            out.add((i, j))
    return out, ties


def _gt_pairs(data: dict, skip: set[int] = frozenset()) -> set[tuple[int, int]]:
    _, i, j = torch.where(data["conf_matrix_gt"] > 0)
    return {(a, b) for a, b in zip(i.tolist(), j.tolist(), strict=True) if a not in skip}


@settings(max_examples=60, deadline=None)
@given(
    angle=st.floats(-180, 180),
    scale=st.floats(0.7, 1.4),
    tx=st.floats(-20, 20),
    ty=st.floats(-20, 20),
    shear=st.floats(-15, 15),
    flip=st.booleans(),
)
def test_coarse_matches_equal_brute_force(angle, scale, tx, ty, shear, flip):
    hw0, hw1 = (64, 80), (72, 64)
    m10 = affine_matrix(angle, scale, (tx, ty), shear, flip, center=(36.0, 32.0))
    data = _batch(m10, hw0, hw1)
    spvs_coarse(data)
    expected, ties = _brute_force(m10, hw0, hw1)
    assert _gt_pairs(data, ties) == expected
    # ids list exactly the ones of conf_matrix_gt (LoFTR's dummy only when there are none)
    ids = set(zip(data["spv_i_ids"].tolist(), data["spv_j_ids"].tolist(), strict=True))
    assert ids == _gt_pairs(data) or (not _gt_pairs(data) and data["spv_empty"])
    # each fixed and each moving cell is used at most once (mutual nearest)
    assert data["conf_matrix_gt"].sum(2).max() <= 1 and data["conf_matrix_gt"].sum(1).max() <= 1
    # spv_w_pt0_i: the fixed grid warped into the moving image, point by point
    h0c, w0c = hw0[0] // 8, hw0[1] // 8
    grid = np.array([[(k % w0c) * 8, (k // w0c) * 8] for k in range(h0c * w0c)], float)
    np.testing.assert_allclose(
        data["spv_w_pt0_i"][0].numpy(), warp_points(np.linalg.inv(m10), grid), atol=2e-3, rtol=1e-5
    )


@settings(max_examples=25, deadline=None)
@given(angle=st.floats(-180, 180), tx=st.floats(-10, 10), seed=st.integers(0, 1000))
def test_fov_drops_cells(angle, tx, seed):
    rng = np.random.default_rng(seed)
    hw = (64, 64)
    fov0 = rng.random(hw) > 0.3
    fov1 = rng.random(hw) > 0.3
    m10 = affine_matrix(angle, 1.0, (tx, 0.0), center=(32.0, 32.0))
    data = _batch(m10, hw, hw, fov0, fov1)
    spvs_coarse(data)
    expected, ties = _brute_force(m10, hw, hw, fov0, fov1)
    assert _gt_pairs(data, ties) == expected


def test_identity_matches_every_cell_to_itself():
    data = _batch(np.eye(3), (48, 64), (48, 64))
    spvs_coarse(data)
    assert torch.equal(data["conf_matrix_gt"][0], torch.eye(6 * 8))


def test_shift_by_one_cell():
    # moving -> fixed moves +8 px in x: fixed cell (x, y) is moving cell (x - 1, y); column 0 has no partner
    m10 = affine_matrix(translation=(8.0, 0.0))
    data = _batch(m10, (32, 32), (32, 32))
    spvs_coarse(data)
    assert _gt_pairs(data) == {(x + 4 * y, x - 1 + 4 * y) for y in range(4) for x in range(1, 4)}


@settings(max_examples=30, deadline=None)
@given(angle=st.floats(-180, 180), scale=st.floats(0.8, 1.25), tx=st.floats(-6, 6), ty=st.floats(-6, 6))
def test_fine_target_is_true_offset_in_window_units(angle, scale, tx, ty):
    hw = (64, 64)
    m10 = affine_matrix(angle, scale, (tx, ty), center=(30.0, 33.0))
    data = _batch(m10, hw, hw)
    spvs_coarse(data)
    # fine targets for every (i, j) pair, not just GT ones: the model's ids may be wrong matches
    ii, jj = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    data.update({"b_ids": torch.zeros(64 * 64, dtype=torch.long), "i_ids": ii.reshape(-1), "j_ids": jj.reshape(-1)})
    spvs_fine(data)
    i, j = ii.reshape(-1).numpy(), jj.reshape(-1).numpy()
    p0 = np.stack([(i % 8) * 8, (i // 8) * 8], 1).astype(float)
    p1 = np.stack([(j % 8) * 8, (j // 8) * 8], 1).astype(float)
    # fine window: 5 cells of the stride-2 map, radius 2 -> 4 pixels per unit
    expected = (warp_points(np.linalg.inv(m10), p0) - p1) / 4.0
    np.testing.assert_allclose(data["expec_f_gt"].numpy(), expected, atol=1e-3)
    # a GT match lands within one coarse cell: at most 8/2 px = 1 unit (per axis, rounding) away
    gt = data["conf_matrix_gt"][0].reshape(-1) > 0
    assert data["expec_f_gt"][gt].abs().max() <= 1.0 + 1e-4


def test_coarse_vessel_is_any_pixel_max_pool():
    v = torch.zeros(1, 32, 32, dtype=torch.bool)
    v[0, 11, 13] = True  # one pixel: cell window of x = 2 is pixels 12..19, of y = 1 is pixels 4..11
    c = coarse_vessel(v).reshape(4, 4)
    assert c.sum() == 1 and c[1, 2] == 1
    # a 1-pixel-wide vertical vessel at x = 21 (never on a multiple of 8) keeps a whole column of cells
    v = torch.zeros(1, 32, 32, dtype=torch.bool)
    v[0, :, 21] = True
    c = coarse_vessel(v).reshape(4, 4)
    assert torch.equal(c[:, 3], torch.ones(4)) and c[:, :3].sum() == 0
    assert v[0, ::8, ::8].sum() == 0  # plain subsampling would have lost it


def test_vessel_cells_written():
    data = _batch(np.eye(3), (32, 32), (32, 32))
    data["vessel0"] = torch.zeros(1, 32, 32, dtype=torch.bool)
    data["vessel1"] = torch.ones(1, 32, 32, dtype=torch.bool)
    spvs_coarse(data)
    assert data["vessel0_c"].shape == (1, 16) and data["vessel0_c"].sum() == 0 and data["vessel1_c"].sum() == 16
