"""Render one :class:`VesselScene` as colour fundus, fluorescein angiogram, OCT en-face and OCTA images.

All renderers work in float32 in [0, 1] on the scene's canvas and draw every random parameter from the
generator they are given, in a fixed order, so a seed reproduces the images exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from vreg_cli.data.synth_vessels import VesselScene

__all__ = ["render_cf", "render_fa", "render_oct", "render_octa"]


def _smooth_noise(rng: np.random.Generator, size: int, scale_px: float) -> np.ndarray:
    """(S, S) float32 zero-mean unit-std noise with features of about ``scale_px`` pixels (cheap: upsampled)."""
    n = max(2, int(round(size / max(scale_px, 1.0))))
    low = rng.standard_normal((n, n)).astype(np.float32)
    up = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    return (up - up.mean()) / (up.std() + 1e-6)


def _capillary_net(rng: np.random.Generator, size: int, scale_px: float) -> np.ndarray:
    """(S, S) float32 in [0, 1]: a fine mesh of thin lines (zero crossings of band-pass noise), like capillaries."""
    white = rng.standard_normal((size, size)).astype(np.float32)
    band = cv2.GaussianBlur(white, (0, 0), scale_px) - cv2.GaussianBlur(white, (0, 0), 2.0 * scale_px)
    band /= band.std() + 1e-6
    return np.exp(-((band / 0.18) ** 2))


def _step(x: np.ndarray, sharpness: float) -> np.ndarray:
    """Smooth step from 1 (x << 0) to 0 (x >> 0); a logistic written with tanh so it never overflows."""
    return 0.5 - 0.5 * np.tanh(0.5 * sharpness * x)


def _maps(scene: VesselScene) -> dict[str, np.ndarray]:
    """Radial position in the FOV, the disc (soft, slightly tall), its cup and the foveal depression.

    Computed once per scene (the renderers of one triplet share them)."""
    if "maps" in scene.cache:
        return scene.cache["maps"]
    size = scene.vessel.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r = np.sqrt((xx - c) ** 2 + (yy - c) ** 2) / (0.47 * size)
    dx, dy = xx - scene.disc[0], (yy - scene.disc[1]) / 1.1
    d = np.sqrt(dx**2 + dy**2) / scene.disc_radius
    disc = _step(d - 1.0, 10.0)
    cup = np.exp(-((d / 0.45) ** 2))
    fd = np.sqrt((xx - scene.fovea[0]) ** 2 + (yy - scene.fovea[1]) ** 2) / size
    fovea = np.exp(-((fd / 0.06) ** 2))
    faz = _step(fd - 0.025, 400.0)  # foveal avascular zone, ~0.05 S across
    soft_fov = cv2.GaussianBlur(scene.fov.astype(np.float32), (0, 0), max(0.6, size / 400.0))
    maps = {"r": r, "disc": disc, "disc_d": d, "cup": cup, "fovea": fovea, "faz": faz, "fov": soft_fov}
    scene.cache["maps"] = maps
    return maps


def _spots(rng: np.random.Generator, scene: VesselScene, count: int) -> np.ndarray:
    """(S, S) float32: ``count`` small Gaussian blobs at random places inside the FOV (peak 1)."""
    size = scene.vessel.shape[0]
    out = np.zeros((size, size), np.float32)
    inside = np.argwhere(scene.fov)
    for _ in range(count):
        y, x = inside[int(rng.integers(len(inside)))]
        sigma = rng.uniform(0.004, 0.012) * size
        blob: np.ndarray = np.zeros_like(out)
        blob[y, x] = 1.0
        blob = cv2.GaussianBlur(blob, (0, 0), sigma)
        out = np.maximum(out, blob / blob.max())
    return out


def _finish(img: np.ndarray, fov: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Add sensor noise, apply the soft FOV and convert [0, 1] float to uint8."""
    img = img + noise * rng.standard_normal(img.shape, dtype=np.float32)
    if img.ndim == 3:
        fov = fov[..., None]
    return np.clip(img * fov * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_cf(scene: VesselScene, rng: np.random.Generator) -> np.ndarray:
    """(S, S, 3) uint8 RGB colour fundus: orange-red, dark vessels, bright disc, darker fovea, vignetting."""
    m, size = _maps(scene), scene.vessel.shape[0]
    base = np.array([rng.uniform(0.74, 0.9), rng.uniform(0.33, 0.45), rng.uniform(0.2, 0.32)], np.float32)
    illum = (1.0 - 0.5 * np.clip(m["r"], 0, 1.2) ** 2.5) * (1.0 + 0.07 * _smooth_noise(rng, size, size / 4))
    texture = 1.0 + 0.035 * _smooth_noise(rng, size, size / 60) + 0.02 * _smooth_noise(rng, size, size / 150)
    img = base[None, None, :] * (illum * texture)[..., None]
    disc_col = np.array([0.98, 0.82, 0.58], np.float32)
    img = img * (1 - 0.85 * m["disc"][..., None]) + disc_col * 0.85 * m["disc"][..., None]
    img = img + 0.12 * (m["cup"] * m["disc"])[..., None]
    img = img * (1.0 - rng.uniform(0.2, 0.35) * m["fovea"])[..., None]
    # Veins absorb more (darker, purple-red) than arteries; green and blue drop more than red.
    vein = np.array([0.22, 0.38, 0.3], np.float32) * rng.uniform(0.8, 1.1)
    artery = np.array([0.1, 0.25, 0.2], np.float32) * rng.uniform(0.8, 1.1)
    img = img * (1.0 - scene.vein[..., None] * vein) * (1.0 - scene.artery[..., None] * artery)
    return _finish(img, m["fov"], rng, 0.008)


def render_fa(scene: VesselScene, rng: np.random.Generator) -> np.ndarray:
    """(S, S) uint8 fluorescein angiogram: bright vessels on a dark mottled background, bright disc, spots."""
    m, size = _maps(scene), scene.vessel.shape[0]
    level = rng.uniform(0.22, 0.32)
    bg = level * (1.0 + 0.1 * _smooth_noise(rng, size, size / 40) + 0.08 * _smooth_noise(rng, size, size / 8))
    bg = bg + 0.05 * _capillary_net(rng, size, size / 300) * (1.0 - m["faz"])
    bg = bg * (1.0 - 0.55 * m["fovea"])
    gain = rng.uniform(0.3, 0.45)
    vessels = gain * (1.1 * scene.artery + scene.vein).clip(0, 1)
    img = bg + vessels + rng.uniform(0.3, 0.45) * m["disc"]
    hyper = _spots(rng, scene, int(rng.integers(1, 5)))
    hypo = _spots(rng, scene, int(rng.integers(1, 4)))
    img = img + 0.35 * hyper - 0.6 * level * hypo
    illum = 1.0 - 0.45 * np.clip(m["r"], 0, 1.2) ** 3
    return _finish(img * illum, m["fov"], rng, 0.015)


def render_oct(scene: VesselScene, rng: np.random.Generator) -> np.ndarray:
    """(S, S) uint8 OCT en-face: grey, speckle, vessels as dark shadows, dark cup with a bright disc rim."""
    m, size = _maps(scene), scene.vessel.shape[0]
    base = rng.uniform(0.45, 0.6) * (1.0 + 0.08 * _smooth_noise(rng, size, size / 6))
    shadow = cv2.GaussianBlur(scene.profile, (0, 0), 0.6)
    img = base * (1.0 - rng.uniform(0.45, 0.6) * shadow) * (1.0 - 0.25 * m["fovea"])
    rim = np.exp(-(((m["disc_d"] - 1.0) / 0.18) ** 2))
    img = img * (1.0 - 0.5 * m["disc"] * (1.0 - rim)) + 0.3 * rim
    looks = 4.0  # speckle: multiplicative gamma noise, slightly correlated like real OCT grain
    speckle: np.ndarray = rng.gamma(looks, 1.0 / looks, (size, size)).astype(np.float32)
    speckle = cv2.GaussianBlur(speckle, (0, 0), 0.7)
    img = img * (0.55 + 0.45 * speckle / speckle.mean())
    illum = 1.0 - 0.2 * np.clip(m["r"], 0, 1.2) ** 2
    return _finish(img * illum, m["fov"], rng, 0.01)


def render_octa(scene: VesselScene, rng: np.random.Generator) -> np.ndarray:
    """(S, S) uint8 OCTA: bright vessels and a dense capillary mesh on black, dark foveal avascular zone."""
    m, size = _maps(scene), scene.vessel.shape[0]
    cap = _capillary_net(rng, size, max(0.8, size / 250)) * (1.0 + 0.3 * _smooth_noise(rng, size, size / 20))
    img = 0.05 + 0.45 * cap * (1.0 - m["faz"]) * (1.0 - 0.6 * m["disc"])
    img = np.maximum(img, rng.uniform(0.8, 0.95) * scene.profile)
    grain = rng.gamma(6.0, 1.0 / 6.0, (size, size)).astype(np.float32)
    return _finish(img * grain, m["fov"], rng, 0.01)
