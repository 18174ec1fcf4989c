"""Atomic file writes, shared by checkpoints, data files and pictures.

The bytes go to a temporary file beside the target, are flushed to disk, and the temporary
file is renamed over the target (``os.replace``, atomic on POSIX and Windows). A crash or an
error at any point leaves either the old file or the new one, never half of one. The new
file gets the permissions a plain ``open(path, "w")`` would give (0666 less the umask), not
the private 0600 of the temporary file.
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_writer(path, where):
    """``with atomic_writer(path, "save") as f: f.write(...)``: f is a binary file; ``path``
    appears, complete, when the block ends without an error. ``where`` names the caller
    in the error raised when the folder is missing."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{where}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask():
    """The process's file-creation mask (Python can only read it by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
