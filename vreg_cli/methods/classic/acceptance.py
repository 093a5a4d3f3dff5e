"""Classic's acceptance rules: when a refined hypothesis is trusted, weak, or settles the search.

The measurements behind each threshold are next to its field in :mod:`vreg_cli.methods.classic.options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vreg_cli.context import RegistrationContext
    from vreg_cli.methods.classic.options import ClassicOptions
    from vreg_cli.methods.classic.refine import Refined

__all__ = ["doubts", "few_patches", "weak"]


def few_patches(c: ClassicOptions) -> str:
    """The doubt of a result with too few inlier patches (see :func:`doubts`)."""
    return f"under {c.min_inliers} inlier patches"


def doubts(context: RegistrationContext, c: ClassicOptions, r: Refined) -> list[str]:
    """Why R is not trusted (empty: trusted), one short phrase per failed test.

    Trusted: a real vessel correlation, a scale inside the context's range, enough support (inlier patches,
    their share of the searched ones, verified patches and their share; lower shares for a result with broad
    support, see :func:`broad`). A weak result (fewer than ``weak_inliers`` inlier patches) must also be close to a
    similarity (``geometry.stretch``): few patches over a small area leave an affine fit the freedom to absorb
    chance.
    """
    n_in = len(r.ncc)
    lo, hi = context.scale_range
    found = []
    if r.candidate.score < c.min_score:
        found.append(f"vessel correlation under {c.min_score:g}")
    if not lo <= r.scale <= hi:
        found.append(f"scale {r.scale:.3f} outside {lo:g}-{hi:g}")
    if n_in < c.min_inliers:
        found.append(few_patches(c))
    wide = broad(c, r)
    min_ratio = min(c.min_inlier_ratio, c.broad_min_ratio) if wide else c.min_inlier_ratio
    min_verified_ratio = min(c.min_verified_ratio, c.broad_min_ratio) if wide else c.min_verified_ratio
    if n_in < min_ratio * r.attempted:
        found.append(f"inlier share under {min_ratio:.0%}")
    if r.verified < c.min_verified or r.verified_ratio < min_verified_ratio:
        found.append(f"under {c.min_verified} or {min_verified_ratio:.0%} verified")
    if weak(c, r) and r.stretch > c.weak_max_stretch:
        found.append(f"a weak result stretched {r.stretch:.2f}x")
    return found


def broad(c: ClassicOptions, r: Refined) -> bool:
    """R has broad support: at least ``broad_inliers`` inlier patches, close to a similarity, and most of its
    inlier patches verified again at ``verify_radius`` (chance inliers of the narrow last pass are not)."""
    n_in = len(r.ncc)
    return n_in >= c.broad_inliers and r.stretch <= c.broad_max_stretch and r.verified >= c.broad_min_kept * n_in


def weak(c: ClassicOptions, r: Refined) -> bool:
    """R has fewer than ``weak_inliers`` inlier patches (see :func:`doubts`; a weak trusted result does not settle
    the search, since a wrong hypothesis near the truth can refine into one)."""
    return len(r.ncc) < c.weak_inliers
