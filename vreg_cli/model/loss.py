"""LoFTR's training loss with vessel weighting.

Coarse: LoFTR's dense focal loss on the dual-softmax confidence matrix (positive and negative terms, each averaged
over its elements), every element (i, j) weighted by W(i, j) = valid0(i) valid1(j) (M0(i) M1(j) + eps), where
M0 / M1 are the coarse vessel masks ("vessel0_c" / "vessel1_c") and valid = LoFTR's mask0 / mask1 (unpadded
pixels; all valid when absent). A mistake between two background cells therefore costs eps relative to the same
mistake between two vessel cells: the network is trained where retinal images carry structure.

Fine: LoFTR's l2-with-std (inverse predicted std as a detached weight), over matches whose target lies inside the
fine window and whose both cells are vessel cells.
"""

from __future__ import annotations

import torch

from vreg_cli.model.loss_config import LossConfig

__all__ = ["LossConfig", "coarse_weight", "fine_loss", "focal_coarse_loss", "loftr_loss"]


def coarse_weight(data: dict, eps: float) -> torch.Tensor:
    """W (B, L0, L1) = valid0(i) valid1(j) (M0(i) M1(j) + eps); without vessel masks W = valid only."""
    conf_gt = data["conf_matrix_gt"]
    b, l0, l1 = conf_gt.shape
    if data.get("vessel0_c") is not None:
        m0, m1 = data["vessel0_c"].float(), data["vessel1_c"].float()
        w = m0[:, :, None] * m1[:, None, :] + eps
    else:
        w = torch.ones(b, l0, l1, device=conf_gt.device)
    if data.get("mask0") is not None:
        valid = data["mask0"].reshape(b, -1).float()[:, :, None] * data["mask1"].reshape(b, -1).float()[:, None]
        w = w * valid
    return w


def focal_coarse_loss(conf: torch.Tensor, conf_gt: torch.Tensor, weight: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """LoFTR's dense focal loss. conf, conf_gt, weight: (B, L0, L1) -> scalar."""
    conf = conf.float().clamp(1e-6, 1 - 1e-6)
    pos, neg = conf_gt == 1, conf_gt == 0
    pos_w, neg_w = cfg.pos_weight, cfg.neg_weight
    weight = weight.clone()
    # As LoFTR: with no positive (or negative) element, supervise one element with weight 0 so the graph
    # and its shape stay the same on every rank (DDP).
    if not pos.any():
        pos = pos.clone()
        pos[0, 0, 0] = True
        weight[0, 0, 0] = 0.0
        pos_w = 0.0
    if not neg.any():
        neg = neg.clone()
        neg[0, 0, 0] = True
        weight[0, 0, 0] = 0.0
        neg_w = 0.0
    a, g = cfg.focal_alpha, cfg.focal_gamma
    p, n = conf[pos], conf[neg]
    loss_pos = -a * (1 - p).pow(g) * p.log() * weight[pos]
    loss_neg = -a * n.pow(g) * (1 - n).log() * weight[neg]
    return pos_w * loss_pos.mean() + neg_w * loss_neg.mean()


def fine_loss(data: dict, cfg: LossConfig) -> torch.Tensor:
    """LoFTR's l2-with-std over in-window matches on vessel cells. expec_f (M, 3), expec_f_gt (M, 2) -> scalar."""
    expec_f, gt = data["expec_f"].float(), data["expec_f_gt"].float()
    if expec_f.shape[0] == 0:
        return expec_f.sum() * 0.0
    keep = torch.linalg.norm(gt, ord=float("inf"), dim=1) < cfg.fine_correct_thr
    b, i, j = data["b_ids"], data["i_ids"], data["j_ids"]
    if data.get("spv_valid0") is not None:  # the fixed cell must lie in the field of view
        keep &= data["spv_valid0"][b, i]
    if data.get("vessel0_c") is not None:
        keep &= (data["vessel0_c"][b, i] * data["vessel1_c"][b, j]) > 0
    inverse_std = 1.0 / expec_f[:, 2].clamp(min=1e-10)
    weight = (inverse_std / inverse_std.mean()).detach()  # detached: the std must not be inflated to cut the loss
    if not keep.any():  # keep the graph identical on every rank (DDP); contributes exactly 0
        return (expec_f[:, :2] * 0.0).sum()
    offset = ((gt[keep] - expec_f[keep, :2]) ** 2).sum(-1)
    return (offset * weight[keep]).mean()


def loftr_loss(data: dict, cfg: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts ("loss_c", "loss_f", "loss") as floats for logging."""
    w = coarse_weight(data, cfg.vessel_eps)
    loss_c = focal_coarse_loss(data["conf_matrix"], data["conf_matrix_gt"], w, cfg)
    loss_f = fine_loss(data, cfg)
    loss = cfg.coarse_weight * loss_c + cfg.fine_weight * loss_f
    return loss, {"loss_c": float(loss_c.detach()), "loss_f": float(loss_f.detach()), "loss": float(loss.detach())}
