"""The ``loftr`` method's options (``LoFTROptions``), with the measurements behind the tuned defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from vreg_cli.limits import MAX_LOFTR_SIDE, Range, check_fields

__all__ = ["Device", "LoFTROptions", "PREALIGN_MODES"]


Prealign = Literal["auto", "classic", "search", "none"]
PREALIGN_MODES: tuple[str, ...] = get_args(Prealign)
Device = Literal["cpu", "cuda", "mps", "auto"]


@dataclass(frozen=True)
class LoFTROptions:
    """The loftr method's options (``loftr:weights=A.ckpt,prealign=none``).

    Options:
        weights: MINIMA / LoFTR / vreg weights file (default: the bundled vessel-input model)
        checkpoint: a `vreg train` checkpoint (best.ckpt / last.ckpt)
        size: long side LoFTR matches at inside the working frame (default: the model's train_size, else the frame)
        prealign: how rotation is handled: classic's registration (else its global estimate) first, then a
            rotation search (auto), only classic's (classic), a rotation search (search) or none
        step: rotation-search step (deg) when pre-alignment fails
        starts: classic's ranked global hypotheses (best first, one per distinct rotation and scale) added to the
            rotation search as starts: MOVING turned and scaled as the hypothesis says, centred on the whole fixed
            frame, so LoFTR finds the translation (0 = the rotation grid alone)
        passes: LoFTR passes on a pre-aligned pair; each later pass warps MOVING with the affine of the previous
            pass's matches (LoFTR matches more accurately the closer the pre-alignment); 1 = the fastest
        refine_factor: the later passes match at this many times the first pass's long side (never beyond the
            working frame): a pre-aligned pair matched larger gives more and finer matches
        rough_min_inliers: least inlier matches of a result that did not start from classic's trusted registration
            (its global estimate, or the rotation search): matches from a wrong start agree by chance more easily
        rough_min_verified: and the least share of classic's vessel patches that must confirm such a result
            (classic's verification pass at its affine; 0 = not checked)
        join: add classic's agreeing vessel-patch matches to LoFTR's when classic's trusted registration was the
            start, so the one final fit sees both (false = LoFTR's matches alone)
        device: torch device: auto (CUDA when present, else MPS, else the CPU) | cuda | mps | cpu
    """

    weights: str | None = None
    checkpoint: str | None = None
    size: Annotated[int | None, Range(64, MAX_LOFTR_SIDE)] = None
    prealign: Prealign = "auto"
    step: Annotated[float, Range(1, 180)] = 90.0
    starts: Annotated[int, Range(0, 12)] = 0
    # Chosen on the tuning pairs (out/tune, 180 cases at 45/90/180 deg): median mean error 1.34 -> 1.15 px with the
    # same successes, +0.19 s per case; a third pass: 1.17 px, SR_ME 97.8 -> 98.3 %, +0.18 s more, not worth it.
    passes: Annotated[int, Range(1, 8)] = 2
    # Chosen on the same tuning cases: later passes at 1.5x (384 px for the bundled 256 px model) gave a median mean
    # error of 0.94 against 1.13 px (1.25x: 0.99, 1.75x: 0.93) for about 35 % more time per case.
    refine_factor: Annotated[float, Range(1, 4)] = 1.5
    # Chosen on the real late-FA windows (experiments/pseudo_truth_set.py, smallfov): every result accepted from a rough
    # start there was wrong by 70-440 px with 12-14 inlier matches; the successes (from classic's registration) had 21+.
    rough_min_inliers: Annotated[int, Range(0, 100_000)] = 24
    # Chosen on the same windows and the DRIVE-based tuning pairs with every start forced rough
    # (benchmarks/bench_rough_starts.py): with the stage-2 model the correct results' shares were 12-100 %, those wrong
    # by 50+ px 0-9.5 %, the real negatives' at most 5.6 % (0.1). Re-chosen for the stage-3 model (`just
    # bench-rough-starts`, 100 late-FA windows): correct 10.3-45.3 %, wrong by more than 15 px up to 16.3 %; at 0.2 it
    # keeps 25 of 31 correct results and accepts none wrong by more than 15 px (0.1: 30 of 31, and one 23 px miss).
    rough_min_verified: Annotated[float, Range(0, 1)] = 0.2
    # Chosen on the tuning pairs (out/tune, 180 cases at 45/90/180 deg): median mean error 0.65 -> 0.57 px, MIR 0.85 ->
    # 0.88, the same successes and time per case.
    join: bool = True
    device: Device = "auto"

    def __post_init__(self) -> None:
        if self.weights and self.checkpoint:
            raise ValueError("give weights= or checkpoint=, not both")
        check_fields(self)  # the Range of each field (vreg_cli.limits)
