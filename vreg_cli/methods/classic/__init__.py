"""``classic``: weight-free multimodal retinal registration at any rotation and scale.

Pipeline (all on polarity-free vessel maps, see ``vessels.py``), one module per step:

1. global search over rotation x scale with FFT cross-correlation for the shift, on each moving level
   (:mod:`~vreg_cli.methods.classic.search`, over ``methods/classic/global_search.py``);
2. for the best few hypotheses, dense patch matching on the vessel maps with a shrinking search radius and a
   MAGSAC++ affine fit per pass, then a verification pass (:mod:`~vreg_cli.methods.classic.refine`);
3. the trusted hypothesis with the most inlier patches wins (:mod:`~vreg_cli.methods.classic.acceptance`: a weak
   trusted one, under ``weak_inliers`` patches, does not end the search: the next hypotheses are refined too); its
   inlier patch correspondences are the returned matches, so that a robust fit on them reproduces the affine. Too
   few inliers, too small a share of the searched patches, or too weak a correlation raise ``RegistrationFailed``
   instead of returning something untrusted (:mod:`~vreg_cli.methods.classic.method`).

Options and the measurements behind their defaults: :mod:`~vreg_cli.methods.classic.options`.

Quality score (``Matches.info.quality``, 0..1): global vessel correlation / 0.5, inlier count / 40 and inlier
share of the searched patches, multiplied (each capped at 1).
"""

from __future__ import annotations

from vreg_cli.methods.classic.method import ClassicMethod
from vreg_cli.methods.classic.options import ClassicOptions
from vreg_cli.methods.classic.refine import Refined, Verification
from vreg_cli.methods.classic.search import Prepared

__all__ = ["ClassicOptions", "ClassicMethod", "Prepared", "Refined", "Verification"]
