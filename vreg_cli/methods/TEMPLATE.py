"""A template for a new registration method: a small, working one (translation by phase correlation).

Adding a method takes this one file and one registry entry:

1. Copy this file to ``vreg_cli/methods/<name>.py`` (or a ``<name>/`` package when it grows) and rename the classes.
2. Declare the options as a frozen dataclass: each field is a spec option (``<name>:key=value``), typed, with its
   range (``Range``) and a help line in the docstring's ``Options:`` section; ``vreg methods`` prints them.
3. Subclass :class:`~vreg_cli.methods.base.Method`: set ``name`` and ``Options``, implement ``match``. The registry
   builds every method as ``Method(options, context)``; override ``__init__`` only to load something once (a
   network's weights), calling ``super().__init__(options, context)`` first. A method only finds correspondences:
   the MAGSAC++ fit, the plausibility limits and the warp are the registration's (``vreg_cli.registration``), the
   same for every method. Raise :class:`~vreg_cli.errors.RegistrationFailed` when nothing found can be trusted.
4. Add one :class:`~vreg_cli.methods.registry.MethodInfo` line to ``METHODS`` in ``methods/registry.py`` (the only
   list of methods); `vreg register --method`, batches, `vreg benchmark`, ``vreg_cli.Registrar`` and the docs'
   method list then know it. Place the module in a layer of ``[tool.importlinter]`` in ``pyproject.toml``.
5. Test it on tiny images: ``tests/test_new_method.py`` registers this template and runs it through
   ``vreg_cli.register``, `vreg register`, a batch and `vreg benchmark`.

This method itself is deliberately simple: it finds one translation between the vessel maps of the two images
(OpenCV's phase correlation), so it registers pairs that differ by a shift only, and refuses the rest when the
correlation peak is weak. It is not in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import cv2
import numpy as np

from vreg_cli.errors import RegistrationFailed
from vreg_cli.io import to_gray
from vreg_cli.limits import Range, check_fields
from vreg_cli.methods.base import Matches, Method
from vreg_cli.provenance import RefusalDetails
from vreg_cli.vessels import DEFAULT_VESSELS

__all__ = ["TemplateMethod", "TemplateOptions"]


@dataclass(frozen=True)
class TemplateOptions:
    """The template method's options (``template:min_response=0.1,grid=8``).

    Options:
        min_response: least phase-correlation peak (0-1) that is trusted; a weaker peak is a refusal
        grid: matches per image side, laid on a regular grid over the overlap
    """

    min_response: Annotated[float, Range(0, 1)] = 0.05
    grid: Annotated[int, Range(2, 64)] = 8

    def __post_init__(self) -> None:
        check_fields(self)  # the Range of each field (vreg_cli.limits)


class TemplateMethod(Method):
    """A translation from the phase correlation of the two vessel maps, as a grid of matches."""

    name: ClassVar[str] = "template"
    Options = TemplateOptions
    options: TemplateOptions

    def describe(self) -> str:
        return f"template (phase correlation, min response {self.options.min_response:g})"

    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches:
        """Matches MOVING -> FIXED: moving grid points and the same points shifted by the correlation peak."""
        height = max(fixed.shape[0], moving.shape[0])
        width = max(fixed.shape[1], moving.shape[1])
        settings = DEFAULT_VESSELS.at_side(max(height, width))
        maps = []
        for image in (fixed, moving):
            strength = settings.vessel_map(to_gray(image)).strength
            canvas = np.zeros((height, width), np.float32)  # both maps on one canvas size, top-left aligned
            canvas[: strength.shape[0], : strength.shape[1]] = strength
            maps.append(canvas)
        window = cv2.createHanningWindow((width, height), cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(maps[1], maps[0], window)  # the shift that maps moving onto fixed
        if response < self.options.min_response:
            raise RegistrationFailed(
                f"template: weak phase-correlation peak ({response:.3f} < {self.options.min_response:g})",
                RefusalDetails(matches=0),
            )
        n = self.options.grid
        mh, mw = moving.shape[:2]
        xs, ys = np.meshgrid(np.linspace(0, mw - 1, n), np.linspace(0, mh - 1, n))
        pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
        shifted = pts + (dx, dy)
        inside = (shifted[:, 0] >= 0) & (shifted[:, 0] <= fixed.shape[1] - 1)
        inside &= (shifted[:, 1] >= 0) & (shifted[:, 1] <= fixed.shape[0] - 1)
        pts, shifted = pts[inside], shifted[inside]
        return Matches(shifted, pts, np.full(len(pts), min(1.0, response)))
