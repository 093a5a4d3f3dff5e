"""The one reader of weight files: ``torch.save`` output read on CPU without ever running code from the file.

**No code from a checkpoint ever runs.** :func:`read_checkpoint` is the only reader of weight files in vreg (the
weights loader :func:`vreg_cli.model.loftr.load_model`, ``train --resume``'s trainer state, ``vreg report``). It
first calls ``torch.load(weights_only=True)``. A zip-format file that this refuses because it holds other Python
objects (a Lightning ``hyper_parameters`` Namespace or yacs config, callback states, a class of the training code
that wrote it) is read again by :class:`_RestrictedUnpickler`: only the tensor/storage rebuild functions, dtypes and
plain containers resolve to real objects; every other global becomes an inert placeholder class that never imports
its module and swallows whatever arguments and state the file gives it. A global from a module that can only mean a
payload (``os.system``, ``subprocess``, ``builtins.exec`` ...) refuses the whole file. The zip directory is checked
(:func:`vreg_cli.limits.check_checkpoint_zip`) before torch reads any of it.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vreg_cli.errors import VregError
from vreg_cli.limits import MAX_PICKLE_BYTES, MAX_PICKLE_DEPTH, check_checkpoint_zip
from vreg_cli.model.pickle_depth import PickleTooDeep, pickle_depth
from vreg_cli.paths import check_input_file
from vreg_cli.ui import warn

__all__ = ["read_checkpoint"]


#: modules whose globals in a checkpoint can only be a code-execution payload: the file is refused
_PAYLOAD_MODULES = frozenset(
    "os posix nt sys subprocess shutil socket runpy importlib pickle _pickle marshal ctypes code codeop pty "
    "webbrowser multiprocessing pdb operator _operator builtins __builtin__ io _io types".split()
)
#: harmless builtins a pickle may name (type constructors of plain data)
_PLAIN_BUILTINS: dict[str, type] = {
    t.__name__: t for t in (set, frozenset, complex, slice, int, float, str, bool, dict, list, tuple, object)
}
#: legacy (pre-1.6, non-zip) torch.save files start with the pickled magic number 0x1950a86a20f9469cfc6c
_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """The object in a ``torch.save`` file, read on CPU without ever running code from the file.

    ``torch.load(weights_only=True)`` first; a zip-format file that it refuses because of other pickled Python
    objects is read by the restricted unpickler (those objects become inert placeholders, one warning names them).

    Raises:
        VregError: one line naming the file: missing, a directory, empty, truncated, not a PyTorch file, an old
            non-zip file holding Python objects, or a file whose pickle would call a payload (``os.system`` ...).
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise VregError(f"{path}: checkpoint not found")
    check_input_file(path, "a checkpoint file")  # a folder, a pipe, a device, a loop of links: say which
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise VregError(f"{path}: cannot read checkpoint ({exc.strerror or exc})") from None
    if size == 0:
        raise VregError(f"{path}: empty file, not a checkpoint")
    if zipfile.is_zipfile(path):
        # the zip directory says how much a reader would decompress: refused here, before torch reads any of it
        try:
            with zipfile.ZipFile(path) as archive:
                check_checkpoint_zip(path, archive)
                pickles = [archive.read(n) for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise VregError(f"{path}: corrupt checkpoint ({_short(exc)})") from None
        _check_nesting(path, pickles)
    else:
        _check_legacy_nesting(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001, S110 - every failure is diagnosed from the file itself below
        pass
    if zipfile.is_zipfile(path):
        obj, skipped = _read_zip_restricted(path)
        if skipped:
            names = sorted(skipped)
            more = f" (+{len(names) - 4} more)" if len(names) > 4 else ""
            warn(
                f"{path}: {len(names)} kind(s) of pickled Python object were not rebuilt (placeholders, no code run): "
                f"{', '.join(names[:4])}{more}"
            )
        return obj
    if head.startswith(b"PK\x03\x04"):
        hint = " or use the run's best.ckpt" if path.name == "last.ckpt" else ""
        raise VregError(f"{path}: truncated or corrupt checkpoint (incomplete zip archive); copy it again{hint}")
    if head.startswith(_LEGACY_MAGIC):
        raise VregError(
            f"{path}: old (pre-1.6, non-zip) PyTorch file that holds Python objects besides tensors (which vreg "
            "does not unpickle) or is corrupt; re-save its state_dict with a current torch in an environment you trust"
        )
    raise VregError(f"{path}: not a PyTorch checkpoint (unrecognised content)")


def _check_nesting(path: Path, pickles: list[bytes]) -> None:
    """Refuse a checkpoint whose pickle nests objects deeper than MAX_PICKLE_DEPTH, before torch unpickles it (a
    deeply nested key crashes the interpreter there: C recursion, SIGSEGV)."""
    for data in pickles:
        try:
            pickle_depth(data, MAX_PICKLE_DEPTH)
        except PickleTooDeep:
            raise _too_deep(path) from None
        except ValueError as exc:
            raise VregError(f"{path}: corrupt checkpoint (its pickle: {_short(exc)})") from None


def _too_deep(path: Path) -> VregError:
    return VregError(
        f"{path}: its pickle nests objects more than {MAX_PICKLE_DEPTH} deep (vreg_cli.limits.MAX_PICKLE_DEPTH; a "
        "checkpoint nests 6); refused before reading it"
    )


def _check_legacy_nesting(path: Path) -> None:
    """The nesting check for an old (pre-1.6, non-zip) torch file: a row of pickles (magic number, protocol, system
    info, the object, its storage keys) followed by raw storage bytes. Each pickle is walked up to its STOP; the walk
    ends at the first thing that is not a pickle (the raw bytes, or a file that is no torch file: diagnosed later)."""
    with path.open("rb") as f:
        for _ in range(5):
            try:
                pickle_depth(f, MAX_PICKLE_DEPTH)
            except PickleTooDeep:
                raise _too_deep(path) from None
            except (ValueError, OSError):
                return


class _Placeholder:
    """Stands in for a pickled global vreg does not rebuild; never imports, never runs, keeps nothing.

    Subclasses carry the global's dotted name in ``vreg_global``. Calling the class, ``__new__`` (pickle's NEWOBJ),
    ``__setstate__`` (BUILD) and the container hooks (APPENDS, SETITEMS, ADDITEMS) ignore their arguments.
    """

    vreg_global = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> _Placeholder:  # noqa: ARG004 - arguments are swallowed
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<not rebuilt: {self.vreg_global}>"


@dataclass(frozen=True)
class _StorageType:
    """What a pickled ``torch.FloatStorage`` (etc.) global resolves to: only its dtype is used."""

    dtype: torch.dtype


class _PayloadRefused(Exception):
    """A global that can only mean code execution (see ``_PAYLOAD_MODULES``)."""


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` without backward hooks or metadata from the file (checked arguments)."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise pickle.UnpicklingError("tensor without a storage")
    if not (isinstance(offset, int) and _int_tuple(size) and _int_tuple(stride) and len(size) == len(stride)):
        raise pickle.UnpicklingError("tensor with a malformed size or stride")
    return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = False, *_: Any) -> nn.Parameter:
    """``torch._utils._rebuild_parameter[_with_state]`` without hooks or attribute state from the file."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter without a tensor")
    return nn.Parameter(data, requires_grad=bool(requires_grad))


def _int_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, int) and v >= 0 for v in value)


def _allowed_globals() -> dict[str, Any]:
    """Dotted name -> the real object, for everything the restricted unpickler rebuilds."""
    allowed: dict[str, Any] = {
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "_codecs.encode": _latin1_bytes,
    }
    for dtype, storage_name in torch.storage._dtype_to_storage_type_map().items():
        allowed[str(dtype)] = dtype
        allowed[f"torch.{storage_name}"] = _StorageType(dtype)
    plain = {**_PLAIN_BUILTINS, "bytearray": _bytearray}
    allowed.update({f"builtins.{k}": v for k, v in plain.items()})
    allowed.update({f"__builtin__.{k}": v for k, v in plain.items()})
    return allowed


def _bytearray(data: Any = b"", *args: Any) -> bytearray:
    """``bytearray`` as pickles use it (from bytes or a latin-1 str), never ``bytearray(huge_int)``."""
    if isinstance(data, str):
        data = data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("unexpected bytearray call")
    return bytearray(data)


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes objects."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unexpected _codecs.encode call")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` of a torch zip file: allowed globals are real, every other one is a placeholder.

    ``persistent_load`` serves storages from the zip records (checked sizes). ``skipped`` collects the names that
    became placeholders.
    """

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, byteorder: str, file_bytes: int) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._archive = archive
        self._file_bytes = file_bytes
        self._prefix = prefix
        self._byteorder = byteorder
        self._allowed = _allowed_globals()
        self._storages: dict[str, torch.storage.TypedStorage] = {}
        self._placeholders: dict[str, type[_Placeholder]] = {}
        self.skipped: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names as protocol-2 pickles write them (``__builtin__.exec``, ``commands.call``), never imported
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        if full in self._allowed:
            return self._allowed[full]
        if module.split(".")[0] in _PAYLOAD_MODULES:
            raise _PayloadRefused(full)
        if full not in self._placeholders:
            self._placeholders[full] = type(
                name.rsplit(".", 1)[-1][:64] or "Global", (_Placeholder,), {"vreg_global": full}
            )
            self.skipped.add(full)
        return self._placeholders[full]

    def persistent_load(self, pid: Any) -> torch.storage.TypedStorage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unsupported persistent id")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not isinstance(numel, int):
            raise pickle.UnpicklingError("malformed storage record")
        if key not in self._storages:
            name = f"{self._prefix}/data/{key}"
            try:
                info = self._archive.getinfo(name)
            except KeyError:
                raise pickle.UnpicklingError(f"storage record {key!r} is missing") from None
            dtype = storage_type.dtype
            itemsize = torch.empty((), dtype=dtype).element_size()
            # torch stores records uncompressed: a record larger than the file itself is a decompression bomb
            if info.file_size != numel * itemsize or info.file_size > self._file_bytes:
                raise pickle.UnpicklingError(f"storage record {key!r} has the wrong size")
            raw = self._archive.read(name)
            untyped = (
                torch.frombuffer(bytearray(raw), dtype=torch.uint8).untyped_storage()
                if raw
                else torch.UntypedStorage(0)
            )
            if self._byteorder != "little" and itemsize > 1:
                untyped.byteswap(dtype)
            self._storages[key] = torch.storage.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)
        return self._storages[key]


def _read_zip_restricted(path: Path) -> tuple[Any, set[str]]:
    """(object, names of the globals that became placeholders) from a torch zip file; VregError when unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            prefix = names[0].split("/", 1)[0] if names else ""
            if f"{prefix}/constants.pkl" in names or any(n.startswith(f"{prefix}/code/") for n in names):
                raise VregError(f"{path}: a TorchScript archive, not a checkpoint (vreg does not run TorchScript)")
            pkl = f"{prefix}/data.pkl"
            if pkl not in names:
                raise VregError(f"{path}: a zip file but not a PyTorch checkpoint (no data.pkl)")
            file_bytes = path.stat().st_size
            if archive.getinfo(pkl).file_size > min(MAX_PICKLE_BYTES, 64 * file_bytes):
                raise VregError(f"{path}: its pickle is implausibly large; not a checkpoint")
            byteorder = "little"
            if f"{prefix}/byteorder" in names:
                byteorder = archive.read(f"{prefix}/byteorder").decode("ascii", "replace").strip()
            unpickler = _RestrictedUnpickler(archive.read(pkl), archive, prefix, byteorder, file_bytes)
            obj = unpickler.load()
            return obj, unpickler.skipped
    except VregError:
        raise
    except _PayloadRefused as exc:
        raise VregError(
            f"{path}: refused: loading it would call {exc} (code hidden in its pickle); nothing from it was run"
        ) from None
    except RecursionError:
        raise VregError(f"{path}: corrupt checkpoint (nested too deeply)") from None
    except Exception as exc:  # noqa: BLE001 - a malformed pickle or zip record is a bad file for the user
        raise VregError(f"{path}: corrupt checkpoint ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    """The first line of an exception message, whole (messages are never cut mid-sentence)."""
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".:") if text else type(exc).__name__
