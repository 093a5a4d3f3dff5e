"""vreg_cli (command ``vreg``): register colour fundus photos (fixed) with FA / OCT en-face images (moving).

The public API (:mod:`vreg_cli.api`)::

    import vreg_cli

    reg = vreg_cli.register("cf.png", "fa.png")  # paths (PNG, TIFF, DICOM, OCT volumes), numpy arrays, tensors
    reg.ok, reg.reason, reg.matrix  # trusted?, why not, (3, 3) float64 moving -> fixed pixels
    registrar = vreg_cli.Registrar("classic")  # many pairs: the method loads once; thread-safe
    table = vreg_cli.register_many("pairs.csv", out_dir="out")  # a cohort: here, or on a Dask cluster (client=)

Importing the package is cheap: the API's modules (numpy, OpenCV) load on first use, torch only for a LoFTR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vreg_cli.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vreg_cli.api import ImageLike, Registrar, as_image, available_methods, load_model, match, register
    from vreg_cli.batch.many import register_many
    from vreg_cli.errors import InputError, RegistrationFailed, VregError
    from vreg_cli.matches import Matches
    from vreg_cli.octvolume import OctVolume, read_volume
    from vreg_cli.provenance import MatchInfo, RefusalDetails
    from vreg_cli.read_options import ReadOptions
    from vreg_cli.registration import Registration

#: public name -> the module that defines it (loaded on first access, PEP 562)
_EXPORTS = {
    "register": "vreg_cli.api",
    "register_many": "vreg_cli.batch.many",
    "match": "vreg_cli.api",
    "Registrar": "vreg_cli.api",
    "load_model": "vreg_cli.api",
    "available_methods": "vreg_cli.api",
    "as_image": "vreg_cli.api",
    "ImageLike": "vreg_cli.api",
    "Registration": "vreg_cli.registration",
    "Matches": "vreg_cli.matches",
    "MatchInfo": "vreg_cli.provenance",
    "RefusalDetails": "vreg_cli.provenance",
    "InputError": "vreg_cli.errors",
    "VregError": "vreg_cli.errors",
    "RegistrationFailed": "vreg_cli.errors",
    "ReadOptions": "vreg_cli.read_options",
    "OctVolume": "vreg_cli.octvolume",
    "read_volume": "vreg_cli.octvolume",
}

__all__ = [
    "ImageLike", "InputError", "MatchInfo", "Matches", "OctVolume", "ReadOptions", "RefusalDetails", "Registrar",
    "Registration", "RegistrationFailed", "VregError", "__version__", "as_image", "available_methods", "load_model",
    "match", "read_volume", "register", "register_many",
]  # fmt: skip


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
