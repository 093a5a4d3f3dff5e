"""retinareg (command ``vreg``): register colour fundus photos (fixed) with FA / OCT en-face images (moving).

The public API (:mod:`retinareg.api`)::

    import retinareg

    reg = retinareg.register("cf.png", "fa.png")  # paths, numpy arrays or torch tensors
    reg.ok, reg.reason, reg.matrix  # trusted?, why not, (3, 3) float64 moving -> fixed pixels
    registrar = retinareg.Registrar("classic")  # many pairs: the method loads once; thread-safe
    table = retinareg.register_many("pairs.csv", out_dir="out")  # a cohort: here, or on a Dask cluster (client=)

Importing the package is cheap: the API's modules (numpy, OpenCV) load on first use, torch only for a LoFTR.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from retinareg.api import ImageLike, Registrar, as_image, available_methods, load_model, match, register
    from retinareg.batch.many import register_many
    from retinareg.errors import InputError, RegistrationFailed, VregError
    from retinareg.matches import Matches
    from retinareg.registration import Registration

#: public name -> the module that defines it (loaded on first access, PEP 562)
_EXPORTS = {
    "register": "retinareg.api",
    "register_many": "retinareg.batch.many",
    "match": "retinareg.api",
    "Registrar": "retinareg.api",
    "load_model": "retinareg.api",
    "available_methods": "retinareg.api",
    "as_image": "retinareg.api",
    "ImageLike": "retinareg.api",
    "Registration": "retinareg.registration",
    "Matches": "retinareg.matches",
    "InputError": "retinareg.errors",
    "VregError": "retinareg.errors",
    "RegistrationFailed": "retinareg.errors",
}

__all__ = [
    "ImageLike", "InputError", "Matches", "Registrar", "Registration", "RegistrationFailed", "VregError",
    "__version__", "as_image", "available_methods", "load_model", "match", "register",
    "register_many",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'retinareg' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
