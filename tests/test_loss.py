"""Vessel-weighted LoFTR loss: hand-computed weights, and what a background-only mistake costs."""

from __future__ import annotations

import math

import pytest
import torch

from vreg_cli.model.loss import LossConfig, coarse_weight, fine_loss, focal_coarse_loss, loftr_loss


def _data(conf: torch.Tensor, eps_vessels=(1.0, 1.0, 0.0, 0.0)) -> dict:
    v = torch.tensor([eps_vessels])
    return {
        "conf_matrix": conf[None],
        "conf_matrix_gt": torch.eye(4)[None],
        "vessel0_c": v.clone(),
        "vessel1_c": v.clone(),
    }


def _perfect() -> torch.Tensor:
    return torch.full((4, 4), 0.01) + torch.eye(4) * 0.89


def test_weights_hand_case():
    data = _data(_perfect(), (1.0, 0.0, 1.0, 0.0))
    data["vessel1_c"] = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    w = coarse_weight(data, eps=0.5)[0]
    expected = torch.tensor([[0.5, 1.5, 1.5, 1.5], [0.5, 0.5, 0.5, 0.5], [0.5, 1.5, 1.5, 1.5], [0.5, 0.5, 0.5, 0.5]])
    assert torch.allclose(w, expected)
    # LoFTR's mask0 / mask1 (valid pixels) zero whole rows / columns on top of the vessel weight
    data["mask0"] = torch.tensor([[[True, True], [True, False]]])
    data["mask1"] = torch.tensor([[[False, True], [True, True]]])
    w = coarse_weight(data, eps=0.5)[0]
    expected[3, :] = 0
    expected[:, 0] = 0
    assert torch.allclose(w, expected)


def test_focal_loss_matches_formula():
    cfg = LossConfig(vessel_eps=0.0)
    conf = _perfect()
    data = _data(conf, (1.0, 1.0, 1.0, 1.0))
    got = focal_coarse_loss(conf[None], data["conf_matrix_gt"], coarse_weight(data, 0.0), cfg)
    pos = -0.25 * (1 - 0.9) ** 2 * math.log(0.9)
    neg = -0.25 * 0.01**2 * math.log(0.99)
    assert got.item() == pytest.approx(pos + neg, rel=1e-5)


@pytest.mark.parametrize("eps", [1e-4, 1e-2, 0.1])
def test_background_mistake_costs_eps(eps):
    cfg = LossConfig(vessel_eps=eps)
    base = loftr_loss_c(_perfect(), cfg)
    vessel_mistake = _perfect()
    vessel_mistake[0, 1] = 0.9  # a confident wrong match between two vessel cells
    background_mistake = _perfect()
    background_mistake[2, 3] = 0.9  # the same mistake between two background cells
    d_vessel = loftr_loss_c(vessel_mistake, cfg) - base
    d_background = loftr_loss_c(background_mistake, cfg) - base
    assert d_vessel > 0 and d_background > 0
    assert d_background / d_vessel == pytest.approx(eps / (1 + eps), rel=1e-3)


def loftr_loss_c(conf: torch.Tensor, cfg: LossConfig) -> float:
    data = _data(conf)
    return focal_coarse_loss(conf[None], data["conf_matrix_gt"], coarse_weight(data, cfg.vessel_eps), cfg).item()


def test_missed_background_positive_costs_eps():
    cfg = LossConfig(vessel_eps=1e-4)
    conf = _perfect()
    miss_v, miss_b = conf.clone(), conf.clone()
    miss_v[0, 0] = 0.1  # a true vessel match given low confidence
    miss_b[3, 3] = 0.1  # a true background match given low confidence
    base = loftr_loss_c(conf, cfg)
    ratio = (loftr_loss_c(miss_b, cfg) - base) / (loftr_loss_c(miss_v, cfg) - base)
    assert ratio == pytest.approx(1e-4 / (1 + 1e-4), rel=1e-3)


def _fine_data() -> dict:
    return {
        "expec_f": torch.tensor(
            [[0.1, 0.2, 1.0], [0.0, 0.0, 2.0], [0.5, 0.5, 1.0], [0.0, 0.0, 1.0]], requires_grad=True
        ),
        "expec_f_gt": torch.tensor([[0.3, 0.2], [0.5, 0.0], [1.5, 0.0], [0.4, 0.4]]),
        "b_ids": torch.tensor([0, 0, 0, 0]),
        "i_ids": torch.tensor([0, 1, 2, 3]),
        "j_ids": torch.tensor([0, 1, 2, 3]),
        "vessel0_c": torch.tensor([[1.0, 1.0, 1.0, 0.0]]),
        "vessel1_c": torch.tensor([[1.0, 1.0, 1.0, 1.0]]),
    }


def test_fine_loss_l2_with_std_over_vessel_cells():
    data = _fine_data()
    got = fine_loss(data, LossConfig())
    # match 2 is outside the window (|1.5| >= 1), match 3 is on a background fixed cell
    inv = torch.tensor([1.0, 0.5, 1.0, 1.0])
    w = inv / inv.mean()
    expected = (0.2**2 * w[0] + 0.5**2 * w[1]) / 2
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    got.backward()
    assert data["expec_f"].grad[:2, :2].abs().sum() > 0 and data["expec_f"].grad[2:].abs().sum() == 0


def test_fine_loss_without_supervised_match_is_zero_with_graph():
    data = _fine_data()
    data["vessel0_c"] = torch.zeros(1, 4)
    got = fine_loss(data, LossConfig())
    assert got.item() == 0.0 and got.requires_grad


def test_total_loss_backpropagates_to_confidence():
    conf = _perfect().requires_grad_()
    data = _data(conf)
    data.update(_fine_data())
    loss, parts = loftr_loss(data, LossConfig())
    loss.backward()
    assert conf.grad is not None and conf.grad.abs().sum() > 0
    assert parts["loss"] == pytest.approx(parts["loss_c"] + parts["loss_f"], rel=1e-6)


def test_no_positive_is_the_negative_term_alone_by_hand():
    # LoFTR's rule: without a positive, element (0, 0) is supervised as a positive with weight 0 (graph and shapes
    # stay the same on every DDP rank); the loss is then the negative focal term over all 16 elements, (0, 0) at 0
    eps = 1e-4
    conf = _perfect().requires_grad_()
    data = _data(conf.detach())
    data["conf_matrix_gt"] = torch.zeros(1, 4, 4)
    out = focal_coarse_loss(conf[None], data["conf_matrix_gt"], coarse_weight(data, eps), LossConfig())
    vessel = (1.0, 1.0, 0.0, 0.0)
    expected = 0.0
    for i in range(4):
        for j in range(4):
            n = 0.9 if i == j else 0.01
            w = 0.0 if (i, j) == (0, 0) else vessel[i] * vessel[j] + eps
            expected += -0.25 * n**2 * math.log(1 - n) * w / 16
    assert out.item() == pytest.approx(expected, rel=1e-5)
    out.backward()
    assert conf.grad[0, 0] == 0 and conf.grad[1, 1] > 0 and conf.grad[2, 2] > 0  # confident negatives are pushed down
