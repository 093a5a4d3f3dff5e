"""Where the repository's bundled files live and how outputs are written atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_SPECS = REPO_ROOT / "data_specs"
SAMPLE_DIR = DATA_SPECS / "sample"


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike, *, force: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    A crash or exception inside the block removes the temporary file, so a half-written output never
    appears under the target's name. With ``force=False`` an existing target is an error.
    """
    from vreg_cli.errors import VregError

    target = Path(target)
    if target.exists() and not force:
        raise VregError(f"{target} exists; use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; outputs should get the permissions any new file would (umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
