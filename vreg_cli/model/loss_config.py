"""LossConfig: the weights of the training loss (vreg_cli/model/loss.py), torch-free for `vreg train --help`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from vreg_cli.limits import Range

__all__ = ["LossConfig"]


@dataclass
class LossConfig:
    """Weights of the loss; LoFTR's defaults except the vessel weighting."""

    focal_alpha: Annotated[float, Range(0, 1)] = 0.25
    focal_gamma: Annotated[float, Range(0, 100)] = 2.0
    pos_weight: Annotated[float, Range(0, 1e6)] = 1.0
    neg_weight: Annotated[float, Range(0, 1e6)] = 1.0
    coarse_weight: Annotated[float, Range(0, 1e6)] = 1.0
    fine_weight: Annotated[float, Range(0, 1e6)] = 1.0
    #: |expec_f_gt|_inf below this: the target lies inside the fine window
    fine_correct_thr: Annotated[float, Range(0, 1e3, open_lo=True)] = 1.0
    #: weight of a background pair relative to a vessel pair (0.1 = soft guidance)
    vessel_eps: Annotated[float, Range(0, 1e6)] = 1e-4
