"""What a LoFTR network sees: the grey image (MINIMA) or the polarity-free vessel map of ``classic``.

The "vessels" input is ``classic``'s vessel map with the default vessel settings (``vessels.DEFAULT_VESSELS``, which
are ``classic``'s defaults too), scaled to the image: they are stated for a whole fundus at a 640 px long side and
shrink in proportion on smaller images, so a 256 px training image and a 640 px working image get the same map up to
resampling. Vessels are dark in CF and OCT
and bright in FA; the map is the same for both polarities, which narrows the gap between synthetic and real images.

Training (``data/dataset.py``) and inference (``methods/loftr/method.py``) both call ``model_input``.
"""

from __future__ import annotations

import numpy as np

from vreg_cli.vessels import DEFAULT_VESSELS

__all__ = ["model_input", "vessel_input"]


def vessel_input(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 vessel strength x 255 of IMAGE ((H, W) or (H, W, 3), uint8 or float in 0..255)."""
    settings = DEFAULT_VESSELS.at_side(max(image.shape[:2]))
    vm = settings.vessel_map(np.asarray(image, dtype=np.float32))
    return np.round(vm.strength * 255.0).astype(np.uint8)


def model_input(gray: np.ndarray, mode: str) -> np.ndarray:
    """The network's (H, W) uint8 input for a grey (H, W) uint8 image: itself ("gray") or its vessel map."""
    if mode == "gray":
        return gray
    if mode == "vessels":
        return vessel_input(gray)
    raise ValueError(f"unknown LoFTR input {mode!r}")
