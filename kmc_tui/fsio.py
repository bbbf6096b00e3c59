"""Writing files safely: never a partial file, never an existing file without being asked."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from .errors import OutputError, OutputExists

#: Linux's unnamed temporary files, linked into place through /proc once complete; None where
#: the platform has neither.
_O_TMPFILE = getattr(os, "O_TMPFILE", None) if os.path.isdir("/proc/self/fd") else None
#: What open(O_TMPFILE) says on a filesystem or kernel that cannot make unnamed files.
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _short_name(path: Path) -> str:
    """`path`'s name, or its start, for a temporary name beside it (a 255-byte name leaves
    no room for the temporary's own prefix and suffix)."""
    name = path.name
    while len(os.fsencode(name)) > 200:
        name = name[:-1]
    return name


def _exists_error(path: Path) -> OutputExists:
    return OutputExists(f"{path}: already exists (use --force to overwrite)")


def _open_unnamed(folder: Path) -> tuple[int, int] | None:
    """(the folder, an unnamed file in it) as descriptors, or None where that cannot be made.

    Until it is linked in the file has no name, so a process killed with SIGKILL leaves nothing.
    """
    if _O_TMPFILE is None:
        return None
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None  # a folder we may write but not read: the named way reports what is wrong
    try:
        fd = os.open(".", _O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666, dir_fd=folder_fd)
    except OSError as exc:
        os.close(folder_fd)
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    return folder_fd, fd


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb", closefd=False) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _link_unnamed(fd: int, folder_fd: int, path: Path, *, force: bool) -> None:
    # linkat(AT_SYMLINK_FOLLOW) on the /proc link names the open file; a dir_fd makes
    # os.link use linkat rather than link(), which would not follow it.
    source = f"/proc/self/fd/{fd}"

    def link(name: str) -> None:
        os.link(source, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=True)

    if not force:
        try:
            link(path.name)  # atomic "create only if absent"
        except FileExistsError:
            raise _exists_error(path) from None
        return
    # A name is needed for the rename that replaces atomically; it holds complete bytes only
    # for the two system calls between the link and the rename.
    while True:
        tmp = f".{_short_name(path)}.{os.urandom(4).hex()}.tmp"
        try:
            link(tmp)
            break
        except FileExistsError:
            continue
    try:
        os.replace(tmp, path.name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:
        os.unlink(tmp, dir_fd=folder_fd)
        raise


def _write_named(path: Path, folder: Path, data: bytes, *, force: bool) -> None:
    """The portable way: a hidden temporary file beside the target, then a link or rename."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{_short_name(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic "create only if absent"
            except FileExistsError:
                raise _exists_error(path) from None
            except OSError:
                if path.exists():  # filesystems without hard links
                    raise _exists_error(path) from None
                os.replace(tmp, path)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def write_atomic(
    path: str | os.PathLike,
    data: bytes,
    *,
    force: bool = False,
    protect: tuple[os.PathLike, ...] = (),
) -> Path:
    """Write `data` to `path` all at once: the file appears complete or not at all.

    On Linux the bytes go to an unnamed file in the target's folder (``O_TMPFILE``) that is
    linked into place once written and synced, so not even SIGKILL can leave a temporary file
    behind; elsewhere, a hidden temporary file and a rename. A failure at any point leaves no
    partial file and any existing file untouched.

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
        raise _exists_error(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{folder}: output folder does not exist")
    try:
        unnamed = _open_unnamed(folder)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here: {exc.strerror or exc}") from None
    try:
        if unnamed is None:
            _write_named(path, folder, data, force=force)
        else:
            folder_fd, fd = unnamed
            try:
                _write_all(fd, data)
                _link_unnamed(fd, folder_fd, path, force=force)
            finally:
                os.close(fd)
                os.close(folder_fd)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path
