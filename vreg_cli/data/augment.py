"""The pair kinds and AugmentConfig of training, torch-free so that `vreg train --help` can show their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from vreg_cli.errors import VregError
from vreg_cli.limits import Range

__all__ = ["AugmentConfig", "parse_pairs"]


_PAIRS = ("cf-fa", "cf-oct", "cf-octa")


#: a (low, high) pair of positive factors (scale, gamma)
_FACTORS = Range(0.01, 100, open_lo=True, min_items=2, max_items=2)


@dataclass
class AugmentConfig:
    """Random affine applied to the moving image and its masks, and the optional photometric jitter."""

    max_rotation: Annotated[float, Range(0, 180)] = 180.0  # degrees, uniform in [-max, +max]
    scale_range: Annotated[tuple[float, float], _FACTORS] = (0.8, 1.25)  # isotropic, log-uniform
    max_translation: Annotated[float, Range(0, 1)] = 0.1  # fraction of the image side, uniform per axis
    max_shear: Annotated[float, Range(0, 80)] = 0.0  # degrees, uniform in [-max, +max]
    #: probability of a mirror (a real FA / OCT is never mirrored; for ablations)
    flip_prob: Annotated[float, Range(0, 1)] = 0.0
    photometric: bool = False  # gamma / contrast / noise on both images
    gamma_range: Annotated[tuple[float, float], _FACTORS] = (0.7, 1.4)
    contrast_range: Annotated[tuple[float, float], Range(0, 100, min_items=2, max_items=2)] = (0.8, 1.2)
    noise_std: Annotated[float, Range(0, 10)] = 0.02


def parse_pairs(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """ "cf-fa,cf-oct" -> ("cf-fa", "cf-oct"); unknown kinds are a VregError."""
    names = tuple(p.strip().lower() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip())
    bad = [p for p in names if p not in _PAIRS]
    if bad or not names:
        raise VregError(f"unknown pair kind(s) {', '.join(bad) or '(none)'}; choose from {', '.join(_PAIRS)}")
    return names
