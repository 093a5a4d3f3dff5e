"""The one interface every registration method implements: (fixed, moving) -> correspondences.

A method only finds corresponding points. Robust estimation (MAGSAC++), plausibility checks and warping live in
``vreg_cli.registration`` so that every method is judged the same way. Each method holds the registration context it
was built with (``vreg_cli.context``): the working size the caller resizes to, the search limits (rotation, scale)
and the one MAGSAC++ fit a method uses when it scores its own candidates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vreg_cli.context import RegistrationContext
from vreg_cli.matches import Matches

__all__ = ["Matches", "Method", "NoOptions"]


@dataclass(frozen=True)
class NoOptions:
    """The options of a method that takes none."""


class Method(ABC):
    """A registration method. Subclasses set ``name`` and ``Options`` and implement ``match``.

    Every method is built the same way, ``Method(options, context)``: ``options`` is an instance of the method's
    ``Options`` dataclass (None: its defaults), the options a spec such as ``classic:angle_step=6`` sets.

    ``match`` receives the fixed image (CF: (H, W, 3) RGB or (H, W) grey uint8) and the moving image (FA / OCT:
    (H', W') or (H', W', 3) uint8) at the working size and returns correspondences in those images' pixel
    coordinates. It raises ``vreg_cli.errors.RegistrationFailed`` when it finds nothing it trusts. Methods are built
    by the registry (``vreg_cli.methods.build_method``) with a context; a method matches at the size it is given.
    """

    name: ClassVar[str]
    #: the options dataclass: each field is a spec option, its help line in the docstring's ``Options:`` section
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None, context: RegistrationContext | None = None) -> None:
        self.options = options if options is not None else self.Options()
        self.context = context if context is not None else RegistrationContext()

    @abstractmethod
    def match(self, fixed: np.ndarray, moving: np.ndarray) -> Matches: ...

    def describe(self) -> str:
        """One line for logs and reports (e.g. which weights)."""
        return self.name
