"""Coarse matching with LoFTR's training-time padding by ground-truth matches.

kornia's ``CoarseMatching`` has LoFTR's training branch, but like the original it stops (an assertion / ValueError)
when ``train_pad_num_gt_min`` (200) is not below the match budget ``int(percent * max(L0, L1))``, which is the case
for every image under ~250 px (our tests and small-image training), and it fails on a batch without ground truth.
This subclass keeps kornia's inference path bit-for-bit and does the training padding itself:

- predictions (mutual nearest, above ``thr``, off the border) are kept, or ``budget - pad_min`` of them drawn with
  replacement when there are more (as LoFTR);
- ``max(budget - n_pred, pad_min)`` ground-truth matches drawn with replacement from ``spv_b/i/j_ids`` are appended
  AFTER the predictions (the fine stage relies on that order), with ``pad_min = min(train_pad_num_gt_min,
  budget // 2)``: LoFTR's value whenever LoFTR itself runs, half the budget on small images instead of an error;
- ``gt_mask`` marks the padded rows; ``mkpts*_c``, ``mconf`` and ``m_bids`` hold only the kept predictions.

Draws use the global torch RNG (seeded by the trainer, its state saved in checkpoints).
"""

from __future__ import annotations

from typing import Any

import torch
from kornia.feature.loftr.utils.coarse_matching import CoarseMatching, compute_max_candidates

__all__ = ["PaddedCoarseMatching"]


def _pad_with_ground_truth(
    pred: dict[str, torch.Tensor],
    conf_matrix: torch.Tensor,
    data: dict[str, Any],
    percent: float,
    pad_min: int,
) -> dict[str, torch.Tensor]:
    """Training coarse matches: sampled predictions followed by ground-truth pads.

    Args:
        pred: inference matches from kornia (``b_ids``, ``i_ids``, ``j_ids``, ``mconf``), each (M,).
        conf_matrix: (B, L0, L1) confidence, for its shape, device and dtype.
        data: LoFTR data dict with ``spv_b_ids``, ``spv_i_ids``, ``spv_j_ids`` (G,), ``hw0_c``, ``hw1_c``,
            ``stride_c`` and optional coarse ``mask0`` / ``mask1`` (B, H/8, W/8).
        percent: ``train_coarse_percent``.
        pad_min: ``train_pad_num_gt_min``.

    Returns:
        dict with ``b_ids``, ``i_ids``, ``j_ids``, ``gt_mask`` (M',) and ``m_bids``, ``mkpts0_c``, ``mkpts1_c`` (M, 2),
        ``mconf`` (M,) for the kept predictions.
    """
    missing = [k for k in ("spv_b_ids", "spv_i_ids", "spv_j_ids") if k not in data]
    if missing:
        raise KeyError(
            f"training forward needs the coarse supervision {', '.join(missing)} in the data dict "
            "(compute it before the forward, or call model.eval() for inference)"
        )
    device = conf_matrix.device
    if "mask0" in data and "mask1" in data:
        n_candidates = int(compute_max_candidates(data["mask0"], data["mask1"]))
    else:
        n_candidates = conf_matrix.size(0) * max(conf_matrix.size(1), conf_matrix.size(2))
    budget = int(n_candidates * percent)
    pad_min = min(pad_min, budget // 2)

    n_pred = len(pred["b_ids"])
    if n_pred <= budget - pad_min:
        pred_idx = torch.arange(n_pred, device=device)
    else:
        pred_idx = torch.randint(n_pred, (budget - pad_min,), device=device)
    n_gt = len(data["spv_b_ids"])
    n_pad = max(budget - n_pred, pad_min) if n_gt > 0 else 0
    gt_idx = torch.randint(max(n_gt, 1), (n_pad,), device=device)

    b_ids, i_ids, j_ids = (
        torch.cat([pred[k][pred_idx], data[f"spv_{k}"][gt_idx].to(device=device, dtype=pred[k].dtype)])
        for k in ("b_ids", "i_ids", "j_ids")
    )
    gt_mask = torch.zeros(len(pred_idx) + n_pad, dtype=torch.bool, device=device)
    gt_mask[len(pred_idx) :] = True

    # keypoints of the kept predictions, built as kornia builds them: coarse cell (x, y) sits on pixel 8 * (x, y)
    kb, ki, kj = pred["b_ids"][pred_idx], pred["i_ids"][pred_idx], pred["j_ids"][pred_idx]
    coord_dtype = torch.promote_types(conf_matrix.dtype, torch.float32)
    w0, w1, stride = data["hw0_c"][1], data["hw1_c"][1], data["stride_c"]
    mkpts0_c = torch.stack([ki % w0, ki // w0], dim=1).to(coord_dtype) * stride
    mkpts1_c = torch.stack([kj % w1, kj // w1], dim=1).to(coord_dtype) * stride
    return {
        "b_ids": b_ids,
        "i_ids": i_ids,
        "j_ids": j_ids,
        "gt_mask": gt_mask,
        "m_bids": kb,
        "mkpts0_c": mkpts0_c,
        "mkpts1_c": mkpts1_c,
        "mconf": pred["mconf"][pred_idx],
    }


class PaddedCoarseMatching(CoarseMatching):
    """kornia's ``CoarseMatching`` (no weights, same state dict) with robust ground-truth padding in training."""

    @torch.no_grad()
    def get_coarse_match(self, conf_matrix: torch.Tensor, data: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Coarse matches from the (B, L0, L1) ``conf_matrix``; padded with ground truth in training mode."""
        training = self.training
        # kornia's inference path (mutual nearest, threshold, border) is reused as is; its training branch is not
        self.training = False
        try:
            pred = super().get_coarse_match(conf_matrix, data)
        finally:
            self.training = training
        if not training:
            return pred
        return _pad_with_ground_truth(pred, conf_matrix, data, self.train_coarse_percent, self.train_pad_num_gt_min)
