"""Validation: coarse match precision / recall on vessel cells and registration success per benchmark rotation bin.

A predicted coarse match (i, j) is correct when the true position of fixed cell i in the moving image lies inside
the fine window around moving cell j (|offset| < 1 window radius, LoFTR's fine "correct" criterion): the fine stage
can then recover it. Precision counts predictions whose fixed cell is a vessel cell; recall counts ground-truth
matches between two vessel cells that got a correct prediction; top1 is the share of those fixed cells whose
confidence-row maximum is correct (threshold-free, defined even for a model that predicts nothing).

Registration is judged as the benchmark judges it: the MAGSAC++ affine of the fine matches is fitted by the
registration context (:meth:`vreg_cli.context.RegistrationContext.fit`; its threshold is stated at 640 px and scaled
to the training images, e.g. 3 px -> 1.2 px at 256 px); control-point errors on a grid of points in the moving field
of view are normalised as the benchmark's default (fixed long side = 640 px) and a pair succeeds by
:meth:`vreg_cli.benchmark.config.Thresholds.succeeded` (median <= 10 and max <= 30 by default). Success is also
reported per benchmark rotation bin (``CaseConfig.bins``): each pair counts in the bin nearest to its |rotation|
(:func:`rotation_bin`), e.g. ``val_success_rot15``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vreg_cli.benchmark.config import ERROR_SCALES, CaseConfig, Thresholds
from vreg_cli.benchmark.metrics import error_scale_diag, error_stats
from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed
from vreg_cli.geometry import grid_points, point_errors, warp_points
from vreg_cli.matches import Matches
from vreg_cli.model.loftr import LoFTRModel
from vreg_cli.model.supervision import spvs_coarse, spvs_fine

__all__ = ["rotation_bin", "to_device", "validate"]


#: the benchmark's rotation bins (degrees) and its default error normalisation ("long-side-640")
_BINS: tuple[int, ...] = CaseConfig().bins
_ERROR_SCALE = ERROR_SCALES[0]


def rotation_bin(angle_deg: float, bins: Sequence[int] = _BINS) -> int:
    """The bin nearest to |angle_deg| (ties go to the smaller bin); a benchmark case drawn at +-b lies in bin b."""
    angle = abs((float(angle_deg) + 180.0) % 360.0 - 180.0)
    return int(min(bins, key=lambda b: (abs(angle - b), b)))


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch with its tensors on ``device`` (non-blocking: pinned memory from the loader on CUDA)."""
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def _pair_errors(data: dict, b: int, context: RegistrationContext) -> np.ndarray | None:
    """Control-point errors (N,) of batch element ``b``'s fitted affine, in benchmark-normalised px; None = no fit.

    ``data``: the batch after the forward (``m_bids``, ``mkpts0_f`` / ``mkpts1_f`` (M, 2), ``mconf`` (M,)) with
    ``fov1`` (B, H, W) bool and ``moving_to_fixed`` (B, 3, 3); the points form a grid in the moving field of view.
    """
    sel = (data["m_bids"] == b).cpu().numpy()
    fixed = data["mkpts0_f"].detach().float().cpu().numpy()[sel]
    moving = data["mkpts1_f"].detach().float().cpu().numpy()[sel]
    conf = data["mconf"].detach().float().cpu().numpy()[sel]
    fixed_hw = tuple(data["image0"].shape[2:])
    long_side = max(*fixed_hw, *data["image1"].shape[2:])
    try:
        m_est, _ = context.fit(Matches(fixed, moving, conf), long_side)
    except RegistrationFailed:
        return None
    fov1 = data["fov1"][b].cpu().numpy()
    hw = fov1.shape
    pts = grid_points(hw, max(4, min(hw) // 8), fov1)
    if len(pts) == 0:
        pts = grid_points(hw, max(4, min(hw) // 8))
    m_true = data["moving_to_fixed"][b].double().cpu().numpy()
    return point_errors(m_est, pts, warp_points(m_true, pts), scale=error_scale_diag(_ERROR_SCALE, fixed_hw))


@torch.no_grad()
def validate(
    model: LoFTRModel,
    loader,
    device: torch.device,
    *,
    max_items: int | None,
    context: RegistrationContext | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, float]:
    """Run the model (eval mode) over the validation loader; returns the metrics dict (floats).

    ``context`` / ``thresholds``: how pairs are fitted and judged; default: the registration's and the benchmark's
    defaults. ``val_cp_error_median`` is the median over pairs of their mean error (benchmark-normalised px).
    """
    context = context if context is not None else RegistrationContext()
    thresholds = thresholds if thresholds is not None else Thresholds()
    window = model.config.fine_window_size
    tp = n_pred = n_gt = n_found = n_top1 = 0
    ok: list[bool] = []
    mean_errors: list[float] = []
    bins: list[int] = []
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
                errors = _pair_errors(data, k, context)
                ok.append(thresholds.succeeded(errors))
                mean_errors.append(error_stats(errors)[0])
                bins.append(rotation_bin(float(data["rotation_deg"][k])))
            seen += data["image0"].shape[0]
    success, in_bin = np.array(ok, bool), np.array(bins, int)
    metrics = {
        "val_precision": tp / n_pred if n_pred else 0.0,
        "val_recall": n_found / n_gt if n_gt else 0.0,
        "val_top1": n_top1 / n_gt if n_gt else 0.0,
        "val_matches": n_pred / max(seen, 1),
        "val_success": float(success.mean()) if len(success) else 0.0,
        "val_cp_error_median": float(np.median(mean_errors)) if mean_errors else float("inf"),
        "val_items": float(seen),
    }
    for b in _BINS:
        members = success[in_bin == b]
        metrics[f"val_success_rot{b}"] = float(members.mean()) if len(members) else float("nan")
    return metrics
