"""The ``loftr`` method: LoFTR matches after classic's pre-alignment.

``options`` (LoFTROptions, the spec's options), ``method`` (LoFTRMethod: pre-alignment, starts, the final match),
``prealign`` (classic's rough start for LoFTR), ``rough_start`` (the rules a start that classic did not trust must
pass), ``matcher`` (the network on a pair of images, loaded once). torch is imported only when a model is built.
"""

from vreg_cli.methods.loftr.method import LoFTRMethod
from vreg_cli.methods.loftr.options import LoFTROptions

__all__ = ["LoFTRMethod", "LoFTROptions"]
