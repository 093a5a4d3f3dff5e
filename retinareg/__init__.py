"""vreg: register colour fundus photos (fixed) with FA / OCT en-face images (moving)."""

__version__ = "0.1.0"
