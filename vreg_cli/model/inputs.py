"""What a LoFTR network sees: the grey image (MINIMA) or the polarity-free vessel map of ``classic``.

The "vessels" input is ``methods.vessels.vessel_map`` with ``classic``'s parameters, scaled to the image: they are
set for a whole fundus at a 640 px long side and shrink in proportion on smaller images, so a 256 px training image
and a 640 px working image get the same map up to resampling. Vessels are dark in CF and OCT and bright in FA;
the map is the same for both polarities, which narrows the gap between synthetic and real images.

Training (``data/dataset.py``) and inference (``methods/loftr.py``) both call ``model_input``.
"""

from __future__ import annotations

import numpy as np

from vreg_cli.methods.vessels import vessel_map

#: classic's vessel-map parameters at a 640 px long side (methods/classic.py: sigmas, fov_erode 0.03 x 640, 24)
REFERENCE_SIDE = 640
SIGMAS = (2.0, 3.0, 4.5)
ERODE_PX = 0.03 * REFERENCE_SIDE
NORM_SIGMA = 24.0


def vessel_input(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 vessel strength x 255 of IMAGE ((H, W) or (H, W, 3), uint8 or float in 0..255)."""
    f = max(image.shape[:2]) / REFERENCE_SIDE
    vm = vessel_map(
        np.asarray(image, dtype=np.float32),
        sigmas=tuple(max(0.5, s * f) for s in SIGMAS),
        erode_px=max(2, round(ERODE_PX * f)),
        norm_sigma=max(2.0, NORM_SIGMA * f),
    )
    return np.round(vm.strength * 255.0).astype(np.uint8)


def model_input(gray: np.ndarray, mode: str) -> np.ndarray:
    """The network's (H, W) uint8 input for a grey (H, W) uint8 image: itself ("gray") or its vessel map."""
    if mode == "gray":
        return gray
    if mode == "vessels":
        return vessel_input(gray)
    raise ValueError(f"unknown LoFTR input {mode!r}")
