"""``auto`` without weights: ``classic`` first, the bundled LoFTR only where ``classic`` refuses.

``classic`` is fast and at the landmark-noise limit wherever it trusts its result, and every one of its failures is a
refusal. Where it refuses, the bundled LoFTR starts from what ``classic`` already computed (its best global
hypothesis, the "rough start"; a rotation search when that is too weak) under the rough-start rules that keep LoFTR
from accepting negatives (``loftr``'s ``rough_min_inliers`` and ``rough_min_verified``). So a pair ``classic``
registers costs exactly ``classic``'s time, and the LoFTR model (and torch) is loaded on the first refusal only.

Every result says which method produced it and why (``info.produced_by``, ``info.decision``), e.g.
``auto: classic refused (acceptance: result not trusted (19 inlier patches, ...)); loftr pre-aligned by the classic
global estimate: 57 inliers, 31 % confirmed``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from vreg_cli.context import RegistrationContext
from vreg_cli.errors import RegistrationFailed
from vreg_cli.limits import Range, check_fields
from vreg_cli.matches import Matches
from vreg_cli.methods.base import Method
from vreg_cli.methods.classic import ClassicMethod
from vreg_cli.methods.loftr import LoFTRMethod
from vreg_cli.methods.loftr.options import Device, LoFTROptions
from vreg_cli.methods.loftr.prealign import ClassicPrealigner, Prealignment

__all__ = ["AutoMethod", "AutoOptions"]


@dataclass(frozen=True)
class AutoOptions:
    """The auto method's options (``auto:step=30``); with ``weights`` or ``checkpoint`` auto is loftr instead.

    Options:
        step: rotation-search step (deg) of the LoFTR fallback when classic's rough start is too weak or refused
        starts: classic's ranked global hypotheses the LoFTR fallback's search adds as starts (see loftr's starts)
        device: torch device of the LoFTR fallback: auto | cpu | cuda | mps
    """

    step: Annotated[float, Range(1, 180)] = LoFTROptions.step
    starts: Annotated[int, Range(0, 12)] = LoFTROptions.starts
    device: Device = LoFTROptions.device

    def __post_init__(self) -> None:
        check_fields(self)  # the Range of each field (vreg_cli.limits)


class AutoMethod(Method):
    """``classic``; where it refuses, the bundled LoFTR from ``classic``'s rough start (see the module docstring)."""

    name = "auto"
    Options = AutoOptions
    options: AutoOptions

    def __init__(self, options: AutoOptions | None = None, context: RegistrationContext | None = None) -> None:
        super().__init__(options, context)
        self.classic = ClassicMethod(context=self.context)
        self._starts = ClassicPrealigner(self.context)
        self._loftr: LoFTRMethod | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "auto (classic; the bundled loftr where classic refuses)"

    @property
    def loftr(self) -> LoFTRMethod:
        """The LoFTR fallback, loaded on first use (one for every thread: it keeps no per-call state)."""
        with self._lock:
            if self._loftr is None:
                options = LoFTROptions(step=self.options.step, starts=self.options.starts, device=self.options.device)
                self._loftr = LoFTRMethod(options, self.context)
            return self._loftr

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """Classic's matches when it trusts them, else LoFTR's from classic's rough start; RegistrationFailed when
        both refuse (the reason names both)."""
        try:
            found = self.classic.match(fixed, moving)
        except RegistrationFailed as exc:
            refused = exc
        else:
            found.info.produced_by, found.info.decision = "classic", "auto: classic trusted its result"
            return found
        details = refused.details
        why = f"classic refused ({str(refused).removeprefix('classic, ')})"

        def rough_start(_fixed: np.ndarray, _moving: np.ndarray) -> Prealignment:
            """Classic's best global hypothesis of this pair, without running classic again."""
            return self._starts.rough_start(details)

        try:
            found = self.loftr.match_from(fixed, moving, rough_start)
        except RegistrationFailed as exc:
            both = details.merged(exc.details)
            both.produced_by = "none"
            raise RegistrationFailed(
                f"auto: {why}; loftr refused too ({str(exc).removeprefix('loftr, ')})", both
            ) from None
        found.info.produced_by, found.info.decision = "loftr", f"auto: {why}; loftr {self._summary(found)}"
        return found

    @staticmethod
    def _summary(found: Matches) -> str:
        """The decision line's "<strategy>: N inliers, P% confirmed", from LoFTR's own rough-start check."""
        text = f"{found.info.strategy or 'matches'}: {found.info.rough_inliers or 0} inliers"
        if found.info.verified_ratio is not None:
            text += f", {found.info.verified_ratio:.0%} confirmed"
        return text
