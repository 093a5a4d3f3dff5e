"""LoFTR ground truth from a known affine instead of depth and pose.

Direction (the one convention of this module): image0 = FIXED (CF), image1 = MOVING (FA / OCT), and the batch
carries ``moving_to_fixed`` (B, 3, 3), which maps moving pixels to fixed pixels (``p0 = M p1``). Its inverse
plays the role of LoFTR's ``T_0to1``.

Coarse cell (x, y) of either image sits on pixel (8x, 8y), LoFTR's convention (the model's ``mkpts*_c`` use the
same), so the coarse feature of that cell "sees" pixels 8x-4 .. 8x+3 (the ResNet's stride-2 convolutions are
centred). The coarse vessel mask is pooled over exactly that window.

Semantics follow LoFTR's ``spvs_coarse`` / ``spvs_fine``: grid points of each image are warped into the other,
rounded to the nearest coarse cell, and (i, j) is a ground-truth match when the two roundings are mutual. Unlike
LoFTR we drop out-of-image cells and cells outside either field of view explicitly instead of sending them to
cell 0 (which LoFTR then ignores wholesale, losing a real cell).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.geometry.linalg import transform_points

__all__ = ["coarse_vessel", "spvs_coarse", "spvs_fine"]


_COARSE_STRIDE = 8
_FINE_STRIDE = 2
_FINE_WINDOW = 5


def _coarse_grid(h_c: int, w_c: int, stride: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Pixel positions (x, y) of the coarse cells in row-major order: (h_c * w_c, 2) float32, cell k at stride*k."""
    ys, xs = torch.meshgrid(torch.arange(h_c, device=device), torch.arange(w_c, device=device), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float() * stride


def coarse_vessel(vessel: torch.Tensor, stride: int = _COARSE_STRIDE) -> torch.Tensor:
    """(B, H, W) bool/float vessel mask -> (B, H/stride * W/stride) float in {0, 1}.

    A cell is vessel when ANY vessel pixel falls inside its window (max-pool); plain subsampling would miss
    vessels thinner than the stride. The window of cell x is pixels stride*x - stride/2 .. stride*x + stride/2 - 1.
    """
    b, h, w = vessel.shape
    half = stride // 2
    v = F.pad(vessel.float()[:, None], (half, half, half, half))
    pooled = F.max_pool2d(v, kernel_size=stride, stride=stride)[:, 0, : h // stride, : w // stride]
    return pooled.reshape(b, -1)


def _sample_mask(mask: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """mask (B, H, W) bool at integer-valued pixel positions pts (B, N, 2) inside the image -> (B, N) bool."""
    b, h, w = mask.shape
    x = pts[..., 0].long().clamp(0, w - 1)
    y = pts[..., 1].long().clamp(0, h - 1)
    return mask.reshape(b, -1).gather(1, y * w + x)


def _nearest_cell(pts: torch.Tensor, h_c: int, w_c: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel points (B, N, 2) -> (flat index of the nearest coarse cell (B, N) long, inside-grid (B, N) bool)."""
    c = (pts / stride).round().long()
    inside = (c[..., 0] >= 0) & (c[..., 0] < w_c) & (c[..., 1] >= 0) & (c[..., 1] < h_c)
    idx = c[..., 0].clamp(0, w_c - 1) + c[..., 1].clamp(0, h_c - 1) * w_c
    return idx, inside


@torch.no_grad()
def spvs_coarse(data: dict, stride: int = _COARSE_STRIDE) -> None:
    """Fill the coarse ground truth in place.

    Reads: "image0" (B, 1, H0, W0) fixed, "image1" (B, 1, H1, W1) moving, "moving_to_fixed" (B, 3, 3), optional
    "fov0" (B, H0, W0) / "fov1" (B, H1, W1) bool (the moving one already warped), optional "vessel0" / "vessel1".
    Writes: "conf_matrix_gt" (B, L0, L1) float, "spv_b_ids" / "spv_i_ids" / "spv_j_ids" (M,), "spv_w_pt0_i"
    (B, L0, 2) = fixed grid warped into the moving image, "spv_pt1_i" (B, L1, 2) = moving grid, both in input
    pixels, "spv_valid0" (B, L0) bool (cells that may be matched), "spv_empty" (bool: no match in the whole batch,
    the ids then hold one dummy match as in LoFTR), and "vessel0_c" / "vessel1_c" (B, L0) / (B, L1) float when
    vessel masks are given.
    """
    img0, img1 = data["image0"], data["image1"]
    device = img0.device
    b, _, h0, w0 = img0.shape
    _, _, h1, w1 = img1.shape
    h0c, w0c, h1c, w1c = h0 // stride, w0 // stride, h1 // stride, w1 // stride
    # float64 where the device has it: the rounding to the nearest cell must not depend on float32 noise
    dtype = torch.float32 if device.type == "mps" else torch.float64
    m10 = data["moving_to_fixed"].to(device=device, dtype=dtype)  # moving -> fixed
    m01 = torch.linalg.inv(m10)  # fixed -> moving

    pt0 = _coarse_grid(h0c, w0c, stride, device).to(dtype)[None].expand(b, -1, -1)  # (B, L0, 2)
    pt1 = _coarse_grid(h1c, w1c, stride, device).to(dtype)[None].expand(b, -1, -1)
    w_pt0 = transform_points(m01, pt0)  # fixed cells in moving pixels
    w_pt1 = transform_points(m10, pt1)  # moving cells in fixed pixels

    j_of_i, in0 = _nearest_cell(w_pt0, h1c, w1c, stride)  # (B, L0)
    i_of_j, in1 = _nearest_cell(w_pt1, h0c, w0c, stride)  # (B, L1)
    valid0 = torch.ones(b, h0c * w0c, dtype=torch.bool, device=device)
    valid1 = torch.ones(b, h1c * w1c, dtype=torch.bool, device=device)
    if data.get("fov0") is not None:
        valid0 &= _sample_mask(data["fov0"].to(device).bool(), pt0)
    if data.get("fov1") is not None:
        valid1 &= _sample_mask(data["fov1"].to(device).bool(), pt1)
    if data.get("mask0") is not None:  # LoFTR's padding masks (valid pixels), already on the coarse grid
        valid0 &= data["mask0"].reshape(b, -1).bool()
        valid1 &= data["mask1"].reshape(b, -1).bool()

    loop_back = i_of_j.gather(1, j_of_i)  # i -> j -> i'
    ok = (
        in0
        & in1.gather(1, j_of_i)
        & valid0
        & valid1.gather(1, j_of_i)
        & (loop_back == torch.arange(h0c * w0c, device=device)[None])
    )
    conf_gt = torch.zeros(b, h0c * w0c, h1c * w1c, device=device)
    b_ids, i_ids = torch.where(ok)
    j_ids = j_of_i[b_ids, i_ids]
    conf_gt[b_ids, i_ids, j_ids] = 1.0
    empty = len(b_ids) == 0
    if empty:  # LoFTR's dummy keeps the fine-level padding well-defined; losses skip it via spv_empty
        b_ids = i_ids = j_ids = torch.zeros(1, dtype=torch.long, device=device)
    data.update(
        {
            "conf_matrix_gt": conf_gt,
            "spv_b_ids": b_ids,
            "spv_i_ids": i_ids,
            "spv_j_ids": j_ids,
            "spv_w_pt0_i": w_pt0.float(),
            "spv_pt1_i": pt1.float().contiguous(),
            "spv_valid0": valid0,
            "spv_empty": empty,
        }
    )
    if data.get("vessel0") is not None:
        data["vessel0_c"] = coarse_vessel(data["vessel0"].to(device), stride)
        data["vessel1_c"] = coarse_vessel(data["vessel1"].to(device), stride)


@torch.no_grad()
def spvs_fine(data: dict, fine_stride: int = _FINE_STRIDE, window: int = _FINE_WINDOW) -> None:
    """After the forward: "expec_f_gt" (M, 2) for the model's (b_ids, i_ids, j_ids).

    The target is where fixed cell i truly lands in the moving image, relative to the centre of the fine window
    around moving cell j, in units of the window radius (fine_stride * window // 2 pixels), like LoFTR. Values
    beyond +-1 lie outside the window; the loss ignores them.
    """
    b_ids, i_ids, j_ids = data["b_ids"], data["i_ids"], data["j_ids"]
    radius = window // 2
    w_pt0, pt1 = data["spv_w_pt0_i"], data["spv_pt1_i"]
    data["expec_f_gt"] = (w_pt0[b_ids, i_ids] - pt1[b_ids, j_ids]) / fine_stride / radius
