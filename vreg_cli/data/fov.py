"""Field-of-view mask of a fundus photo: the bright (illuminated) region inside the dark camera border."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["fov_from_cf"]


def fov_from_cf(cf: np.ndarray) -> np.ndarray:
    """(H, W) bool field of view of a (H, W, 3) RGB or (H, W) grey fundus image.

    A robust threshold on the brightest channel (half of Otsu's level, clipped to [6, 40] because the border is
    near black while a dim fundus periphery may be only ~20), then the largest connected region, closed and with
    its holes filled (dark vessels, the fovea). An image without a dark border gives an all-true mask.
    """
    v = cv2.max(cv2.max(cf[..., 0], cf[..., 1]), cf[..., 2]) if cf.ndim == 3 else cf  # cv2: 10x numpy's max
    h, w = v.shape
    v = cv2.medianBlur(np.ascontiguousarray(v), 5)
    otsu, _ = cv2.threshold(v, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    level = float(np.clip(0.5 * otsu, 6, 40))
    mask: np.ndarray = (v > level).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return np.ones((h, w), bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = (labels == largest).astype(np.uint8)
    k = max(3, (min(h, w) // 64) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    # Fill holes: flood the background from outside (a 1-pixel zero border), what it cannot reach is inside.
    outside = np.pad(1 - mask, 1, constant_values=1)
    cv2.floodFill(outside, None, (0, 0), 2)
    mask = outside[1:-1, 1:-1] != 2
    if mask.mean() > 0.995:  # no real border: the whole frame is the field of view
        return np.ones((h, w), bool)
    return mask
