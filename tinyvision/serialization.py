"""``save`` / ``load``: state dicts (and nested dicts of arrays and numbers) as ``.npz``.

Two promises: a save never leaves a half-written file (it writes a temporary file beside the
target and renames it over, an atomic step on POSIX and Windows), and a load never unpickles
(``allow_pickle=False``), so a checkpoint from a stranger cannot run code.

Nested dicts are flattened with '/' in the keys (``{"optim": {"lr": 0.1}}`` -> ``"optim/lr"``).
"""
import os
import tempfile
import zipfile

import numpy as np

from .tensor import Tensor

_SEP = "/"


def _flatten(obj, prefix, out):
    for key, value in obj.items():
        if not isinstance(key, str) or _SEP in key:
            raise ValueError(f"save: keys must be strings without '{_SEP}', got {key!r}")
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, name + _SEP, out)
            continue
        if isinstance(value, Tensor):
            value = value.data
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"save: {name!r} holds a {type(value).__name__}; only arrays, "
                            "numbers, strings and dicts of them can be saved")
        out[name] = arr
    return out


def save(obj, path):
    """Write a dict of arrays (Tensors, numbers, nested dicts) to ``path`` atomically."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. model.state_dict()), got {type(obj).__name__}")
    arrays = _flatten(obj, "", {})
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read what ``save`` wrote: a dict of ndarrays (nested dicts restored)."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            flat = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"load: {path} is not a valid tinyvision checkpoint (.npz): {e}") from None
    out = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(_SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
