"""Where the package's bundled files live and how outputs are written atomically.

The bundled files (layout specs, the HDF5 schema, DRIVE masks, the sample pair, the bundled LoFTR) sit in the
repository's top-level ``data_specs/`` folder, which installs as the subpackage ``vreg_cli.data_specs``: a wheel
carries it inside the package, a checkout has it beside the package (:func:`_data_specs_dir` says which is used).

Temporary files are named ``.<target name>.vreg-<pid>@<host>-<random>.tmp<suffix>`` beside their target (``<host>``:
a tag of this machine's name). A process killed before it could remove its own (SIGKILL, power loss) leaves one
behind; the next :func:`atomic_output` in the same folder, on the same machine, removes every such file whose pid is
no longer running (:func:`remove_stale_temporaries`). Files of other machines (Dask workers writing to one shared
folder) are left alone: their pids mean nothing here.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import socket
import stat
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from importlib.resources import as_file, files
from pathlib import Path

__all__ = [
    "BUNDLED_LOFTR",
    "DATA_SPECS",
    "HOST_TAG",
    "SAMPLE_DIR",
    "atomic_output",
    "check_input_file",
    "check_output_path",
    "check_output_paths",
    "failure_errno",
    "output_group",
    "remove_stale_temporaries",
    "write_failure",
]


def _data_specs_dir() -> Path:
    """The bundled ``data_specs`` folder of the ``vreg_cli`` that is running, as a real directory.

    A wheel installs it inside the package (``vreg_cli/data_specs/``); a checkout (an editable install, or the
    repository on ``sys.path``) has it beside the package. Both are looked for next to this file first, so that two
    installs on one machine never mix; otherwise (a zip import) :mod:`importlib.resources` finds the subpackage
    ``vreg_cli.data_specs`` and :func:`importlib.resources.as_file` extracts it once into a temporary folder that
    lives until the interpreter exits.
    """
    package = Path(__file__).resolve().parent
    for candidate in (package / "data_specs", package.parent / "data_specs"):
        if (candidate / "__init__.py").is_file():
            return candidate
    traversable = files("vreg_cli.data_specs")
    if isinstance(traversable, Path):
        return traversable
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    return Path(stack.enter_context(as_file(traversable)))


#: the bundled files: layout specs (*.toml), the HDF5 schema and layout pages (*.md), drive/ (DRIVE masks), sample/
#: (a CF-FA pair), weights/ (the LoFTR)
DATA_SPECS = _data_specs_dir()
SAMPLE_DIR = DATA_SPECS / "sample"
#: the LoFTR that vreg trained itself (small preset, vessel-map input; provenance in data_specs/weights/README.md)
BUNDLED_LOFTR = DATA_SPECS / "weights" / "loftr_small_vessels.ckpt"

#: ``.<name>.vreg-<pid>[@<host>]-<random>.tmp<suffix>``: group 1 is the pid of the process that created it, group 2
#: the tag of its machine (absent in files of older versions: taken as this machine's)
_TEMP_RE = re.compile(r"^\..+\.vreg-(\d+)(?:@([0-9a-f]{8}))?-[A-Za-z0-9_]+\.tmp(\.[^.]*)?$")
#: this machine's tag in temporary file names (crc32 of the host name, 8 hex digits)
HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_group = threading.local()


def _pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (or may exist: another user's process)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the vreg temporary files in ``folder`` whose process is gone; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match and match.group(2) in (None, HOST_TAG) and not _pid_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def output_group() -> Iterator[None]:
    """All or none: every :func:`atomic_output` inside the block is renamed onto its target only when the whole block
    succeeds; an exception anywhere removes all of the block's temporary files and leaves every target untouched.
    """
    if getattr(_group, "pending", None) is not None:  # nested: the outer group commits
        yield
        return
    _group.pending = []
    try:
        yield
        pending, _group.pending = _group.pending, None
        for tmp, target in pending:
            _replace(tmp, target)
    finally:
        leftover, _group.pending = _group.pending or [], None
        for tmp, _ in leftover:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _replace(tmp: Path, target: Path) -> None:
    from vreg_cli.errors import OutputError

    try:
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})", exc.errno) from None


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike, *, force: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    A crash or exception inside the block removes the temporary file, so a half-written output never
    appears under the target's name. With ``force=False`` an existing target is an error. Inside
    :func:`output_group` the rename waits for the group. An OSError (read-only file system, full disk, the target is
    a directory) becomes one OutputError line naming the target, with the failure's errno when it carried one.
    """
    from vreg_cli.errors import OutputError, VregError

    target = Path(target)
    if target.exists() and not force:
        raise VregError(f"{target} exists; use --force to replace it")
    check_output_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target.parent)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.vreg-{os.getpid()}@{HOST_TAG}-", suffix=".tmp" + target.suffix, dir=target.parent
        )
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})", exc.errno) from None
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; outputs should get the permissions any new file would (umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    pending = getattr(_group, "pending", None)
    try:
        try:
            yield tmp_path
        except (OSError, RuntimeError) as exc:
            reason = write_failure(exc)
            if reason is None:
                raise
            raise OutputError(f"{target}: cannot write ({reason})", failure_errno(exc)) from None
        if pending is not None:
            pending.append((tmp_path, target))
        else:
            _replace(tmp_path, target)
    finally:
        if (pending is None or (tmp_path, target) not in pending) and tmp_path.exists():
            tmp_path.unlink()


def write_failure(exc: BaseException) -> str | None:
    """Why a write failed, in a few words (``No space left on device``), for an OSError or an HDF5 library error
    that carries an errno (h5py raises RuntimeError when closing a file on a full disk); None for anything else.
    """
    from vreg_cli.errors import first_line

    for err in (exc, exc.__context__):
        if not isinstance(err, (OSError, RuntimeError)):
            continue
        text = str(err)
        found = re.search(r"error message = '([^']+)'", text) or re.search(r"errno = (\d+)", text)
        if found:
            value = found.group(1)
            return os.strerror(int(value)) if value.isdigit() else value
        if isinstance(err, OSError):
            if err.errno is not None:
                return os.strerror(err.errno)
            if "requested and" in text:  # numpy's tofile on a short write
                return f"{text}; is the disk full?"
            return first_line(err)
    return None


def failure_errno(exc: BaseException) -> int | None:
    """The OS error number of a write failure: an OSError's ``errno``; None when it carries none.

    Text is read only from the two failures that carry no errno attribute: an HDF5 library error (h5py's
    RuntimeError) reports ``errno = N`` in its message, and numpy's ``tofile`` on a short write raises an OSError
    without errno whose message says "requested and ... written": a full disk or quota, taken as ENOSPC."""
    for err in (exc, exc.__context__):
        if isinstance(err, OSError) and err.errno is not None:
            return err.errno
        if isinstance(err, (OSError, RuntimeError)):
            found = re.search(r"errno = (\d+)", str(err))
            if found:
                return int(found.group(1))
            if isinstance(err, OSError) and "requested and" in str(err):
                return errno.ENOSPC
    return None


#: the longest file name and path most file systems take (Linux NAME_MAX and PATH_MAX): longer ones end in an
#: OSError when the output is written, after the work
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 4096


def check_input_file(path: Path, what: str) -> None:
    """VregError (one line naming ``path``) unless it is a regular file that can be opened: a folder, a device
    (``/dev/zero``), a pipe (a FIFO: reading it would wait forever), a symbolic-link loop and a missing file each
    say what they are."""
    from vreg_cli.errors import VregError

    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VregError(f"{path}: a loop of symbolic links, not {what}") from None
        if exc.errno == errno.ENOENT:
            raise VregError(f"{path}: no such file") from None
        raise VregError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise VregError(f"{path}: is a directory, not {what}")
    if not stat.S_ISREG(mode):
        kind = (
            "a pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else ("a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        )
        raise VregError(f"{path}: is {kind}, not {what}")


def check_output_path(target: str | os.PathLike, *, image: bool = False) -> Path:
    """Fail early (one VregError line) when ``target`` cannot be written: it is a directory, its folder cannot be
    created or written, or (``image=True``) OpenCV has no writer for its extension.
    """
    from vreg_cli.errors import VregError

    target = Path(target)
    longest = max((len(os.fsencode(part)) for part in target.parts), default=0)
    total = len(os.fsencode(str(target)))
    if longest > MAX_NAME_BYTES or total > MAX_PATH_BYTES:
        raise VregError(
            f"{str(target)[:60]}...: a file name is at most {MAX_NAME_BYTES} bytes and a path {MAX_PATH_BYTES} "
            f"(this one: {longest} and {total})"
        )
    if target.is_dir():
        raise VregError(f"{target}: is a directory; give a file name")
    if target.exists() and not target.is_file():
        raise VregError(f"{target}: exists and is not a regular file (a device or pipe); give a file name")
    if image:
        import cv2

        if not target.suffix or not cv2.haveImageWriter(str(target)):
            raise VregError(f"{target}: unknown image extension {target.suffix or '(none)'!r}; use .png, .jpg or .tif")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise VregError(f"{target}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VregError(f"{target}: cannot write into {folder} (read-only or no permission)")
    return target


def check_output_paths(
    images: Iterable[str | os.PathLike | None] = (), others: Iterable[str | os.PathLike | None] = ()
) -> None:
    """:func:`check_output_path` for every requested output (None = not requested) before any work starts.

    ``images`` also need an extension OpenCV can write. The same path given for two outputs is an error too (one
    would silently replace the other).
    """
    from vreg_cli.errors import VregError

    seen: set[Path] = set()
    for target, image in [(t, True) for t in images if t is not None] + [(t, False) for t in others if t is not None]:
        key = Path(target).resolve()
        if key in seen:
            raise VregError(f"{target}: given for two outputs")
        seen.add(key)
        check_output_path(target, image=image)
