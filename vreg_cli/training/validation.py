"""Validation: coarse match precision / recall on vessel cells and registration success per rotation bin.

A predicted coarse match (i, j) is correct when the true position of fixed cell i in the moving image lies inside
the fine window around moving cell j (|offset| < 1 window radius, LoFTR's fine "correct" criterion): the fine stage
can then recover it. Precision counts predictions whose fixed cell is a vessel cell; recall counts ground-truth
matches between two vessel cells that got a correct prediction; top1 is the share of those fixed cells whose
confidence-row maximum is correct (threshold-free, defined even for a model that predicts nothing).
Registration: MAGSAC++ affine on the fine matches (``vreg_cli.register.estimate_transform``); control-point
error = mean distance between the estimated and the true mapping of a grid of points in the moving field of view;
a pair succeeds when that error < success_px.
"""

from __future__ import annotations

import numpy as np
import torch

from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import grid_points, point_errors, warp_points
from vreg_cli.methods.base import Matches
from vreg_cli.model.loftr import LoFTRModel
from vreg_cli.model.supervision import spvs_coarse, spvs_fine
from vreg_cli.register import estimate_transform

ROTATION_BINS = (0, 45, 90, 135, 180)


def _bin_name(lo: int, hi: int) -> str:
    return f"success_rot{lo}-{hi}"


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch with its tensors on ``device`` (non-blocking: pinned memory from the loader on CUDA)."""
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def _registration(data: dict, b: int, ransac_px: float) -> float:
    """Mean control-point error (px) of the MAGSAC++ affine for batch element b; inf when refused."""
    sel = (data["m_bids"] == b).cpu().numpy()
    fixed = data["mkpts0_f"].detach().float().cpu().numpy()[sel]
    moving = data["mkpts1_f"].detach().float().cpu().numpy()[sel]
    conf = data["mconf"].detach().float().cpu().numpy()[sel]
    try:
        m_est, _ = estimate_transform(Matches(fixed, moving, conf), model="affine", threshold_px=ransac_px)
    except RegistrationFailed:
        return float("inf")
    fov1 = data["fov1"][b].cpu().numpy()
    hw = fov1.shape
    pts = grid_points(hw, max(4, min(hw) // 8), fov1)
    if len(pts) == 0:
        pts = grid_points(hw, max(4, min(hw) // 8))
    m_true = data["moving_to_fixed"][b].double().cpu().numpy()
    return float(point_errors(m_est, pts, warp_points(m_true, pts)).mean())


@torch.no_grad()
def validate(
    model: LoFTRModel, loader, device: torch.device, *, success_px: float, ransac_px: float, max_items: int | None
) -> dict[str, float]:
    """Run the model (eval mode) over the validation loader; returns the metrics dict (floats)."""
    window = model.config.fine_window_size
    tp = n_pred = n_gt = n_found = n_top1 = 0
    errors: list[float] = []
    rotations: list[float] = []
    seen = 0
    with model.inference():  # eval mode, no autograd graph; the previous mode comes back after
        for batch in loader:
            if max_items is not None and seen >= max_items:
                break
            data = to_device(batch, device)
            spvs_coarse(data, model.config.stride_c)
            model.forward_train(data)
            spvs_fine(data, model.config.stride_f, window)
            b, i = data["b_ids"], data["i_ids"]
            correct = torch.linalg.norm(data["expec_f_gt"].float(), ord=float("inf"), dim=1) < 1.0
            on_vessel = data["vessel0_c"][b, i] > 0
            tp += int((correct & on_vessel).sum())
            n_pred += int(on_vessel.sum())
            # recall: ground-truth vessel-vessel matches whose fixed cell got a correct prediction
            gt = data["conf_matrix_gt"] * data["vessel0_c"][:, :, None] * data["vessel1_c"][:, None, :]
            gt_b, gt_i = torch.where(gt.sum(2) > 0)
            found = torch.zeros_like(data["vessel0_c"], dtype=torch.bool)
            found[b[correct], i[correct]] = True
            n_gt += len(gt_b)
            n_found += int(found[gt_b, gt_i].sum())
            # threshold-free: is the row maximum of each such fixed cell a correct match?
            j_best = data["conf_matrix"][gt_b, gt_i].argmax(1)
            offset = data["spv_w_pt0_i"][gt_b, gt_i] - data["spv_pt1_i"][gt_b, j_best]
            n_top1 += int((offset.abs().amax(1) < model.config.stride_f * (window // 2)).sum())
            for k in range(data["image0"].shape[0]):
                errors.append(_registration(data, k, ransac_px))
                rotations.append(float(data["rotation_deg"][k]))
            seen += data["image0"].shape[0]
    err = np.array(errors)
    rot = np.abs(np.array(rotations))
    ok = err < success_px
    metrics = {
        "val_precision": tp / n_pred if n_pred else 0.0,
        "val_recall": n_found / n_gt if n_gt else 0.0,
        "val_top1": n_top1 / n_gt if n_gt else 0.0,
        "val_matches": n_pred / max(seen, 1),
        "val_success": float(ok.mean()) if len(ok) else 0.0,
        "val_cp_error_median": float(np.median(err)) if len(err) else float("inf"),
        "val_items": float(seen),
    }
    for lo, hi in zip(ROTATION_BINS[:-1], ROTATION_BINS[1:], strict=True):
        in_bin = (rot >= lo) & ((rot < hi) if hi < 180 else (rot <= hi))
        metrics["val_" + _bin_name(lo, hi)] = float(ok[in_bin].mean()) if in_bin.any() else float("nan")
    return metrics
