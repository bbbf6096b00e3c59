"""Writing files safely: never a partial file, never an existing file without being asked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputError, OutputExists


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def write_atomic(
    path: str | os.PathLike,
    data: bytes,
    *,
    force: bool = False,
    protect: tuple[os.PathLike, ...] = (),
) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A failure at any point leaves no partial file and any existing file untouched.

    Parameters
    ----------
    path : path-like
    data : bytes
    force : bool, keyword-only
        Replace an existing file (or one of the `protect` paths). Without it, an existing
        target is an error.
    protect : tuple of path-like, keyword-only
        Files that must not be overwritten without `force` (the input).
    """
    path = Path(path)
    for other in protect:
        if path.exists() and _same_file(path, Path(other)) and not force:
            raise OutputExists(f"{path}: is the input file; refusing to overwrite it (use --force)")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder")
    if path.exists() and not force:
        raise OutputExists(f"{path}: already exists (use --force to overwrite)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{folder}: output folder does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic "create only if absent"
            except FileExistsError:
                raise OutputExists(f"{path}: already exists (use --force to overwrite)") from None
            except OSError:
                if path.exists():  # filesystems without hard links
                    raise OutputExists(
                        f"{path}: already exists (use --force to overwrite)"
                    ) from None
                os.replace(tmp, path)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
    return path
