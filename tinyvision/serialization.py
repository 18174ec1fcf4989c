"""``save`` / ``load``: state dicts and checkpoints as ``.npz``, with no pickle anywhere.

Two promises: a save never leaves a half-written file (it writes a temporary file beside the
target and renames it over, an atomic step on POSIX and Windows), and a load never unpickles
(``allow_pickle=False``), so a checkpoint from a stranger cannot run code.

What goes where in the file:

- Dicts of arrays (model state dicts), nested at any depth under string keys, are flattened
  with '/' in the keys (``{"model": {"fc.weight": w}}`` -> entry ``"model/fc.weight"``), one
  array entry each. A number, string or bool at the top level (``"epoch": 7``) is an array
  entry too. All of these load back as ndarrays (0-d for scalars), as they always have.
- Anything else, such as an optimizer's ``{"state": {0: {...}}, "param_groups": [...]}`` (int
  keys, lists, tuples, None, Counters, Python numbers), is written as JSON text, with each array
  inside it replaced by a reference to an entry of its own (named by its path, e.g.
  ``"optimizer/state/0/exp_avg"``). All these JSON values sit in one entry, ``"__json__"``, a
  string array mapping each path to its JSON. They load back as they were: lists stay lists,
  tuples tuples, int keys ints, Counters Counters, Python numbers Python numbers, arrays
  ndarrays (so ``scheduler.load_state_dict(tv.load(path)["scheduler"])`` just works).

A nested dict is flattened only when all its leaves are arrays; otherwise the whole dict is one
JSON value. JSON is data, not code: the loader builds only dicts, lists, tuples, Counters,
numbers, strings, None and arrays, and rejects any tag it does not know.
"""
import json
import os
import zipfile
from collections import Counter

import numpy as np

from ._files import atomic_writer
from .tensor import Tensor

_SEP = "/"
_JSON_KEY = "__json__"   # the entry holding the JSON-encoded values (reserved)


# ---- save -------------------------------------------------------------------------------------
def _as_numpy(value):
    """An ndarray for a Tensor, a CuPy array (copied to the host) or an ndarray."""
    if isinstance(value, Tensor):
        value = value.data
    if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
        value = value.get()
    return value


def _is_array(value):
    """An ndarray, Tensor or NumPy scalar of numbers, bools or strings (not objects)."""
    value = _as_numpy(value)
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype != object


def _array_leaf(value):
    """The ndarray a top-level ``value`` is stored as, or None when it is no array, number or
    string."""
    value = _as_numpy(value)
    if isinstance(value, (np.ndarray, np.generic, bool, int, float, str)):
        arr = np.asarray(value)   # a Python int beyond int64 gives an object array
        return None if arr.dtype == object else arr
    return None


def _is_plain(obj):
    """True for a non-empty dict of string keys whose leaves are all arrays (a state dict)."""
    return (isinstance(obj, dict) and len(obj) > 0
            and all(isinstance(k, str) for k in obj)
            and all(_is_plain(v) if isinstance(v, dict) else _is_array(v)
                    for v in obj.values()))


def _check_key(key, where):
    if not isinstance(key, str) or _SEP in key:
        raise ValueError(f"save: keys must be strings without '{_SEP}', got {key!r}{where}")


def _flatten(obj, prefix, arrays, json_values):
    """Fill ``arrays`` (entry name -> ndarray) and ``json_values`` (path -> JSON tree)."""
    for key, value in obj.items():
        _check_key(key, f" in {prefix[:-1]!r}" if prefix else "")
        name = prefix + key
        if _is_plain(value):
            _flatten(value, name + _SEP, arrays, json_values)
            continue
        arr = _array_leaf(value)
        if arr is not None:
            arrays[name] = arr
        else:
            json_values[name] = _encode(value, name, arrays)
    return arrays


def _unique(name, arrays):
    """``name``, or ``name~1``, ``name~2``, ... if an entry already has it ({0: a, "0": b})."""
    candidate, n = name, 0
    while candidate in arrays or candidate == _JSON_KEY:
        n += 1
        candidate = f"{name}~{n}"
    return candidate


def _encode(value, path, arrays):
    """A JSON-ready tree for ``value``; its arrays go to ``arrays`` under names from ``path``.

    Every JSON object in the tree is a tag, so nothing is ambiguous:
    ``{"ndarray": name}``, ``{"scalar": name}`` (a NumPy scalar, stored 0-d to keep its
    dtype), ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``, ``{"counter": [...]}``.
    """
    value = _as_numpy(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype == object:
            raise TypeError(f"save: {path!r} holds an object array; only arrays of numbers, "
                            "bools and strings can be saved")
        name = _unique(path, arrays)
        arrays[name] = np.asarray(value)
        return {"ndarray" if isinstance(value, np.ndarray) else "scalar": name}
    if isinstance(value, list):
        return [_encode(v, f"{path}{_SEP}{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, f"{path}{_SEP}{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, dict):   # also OrderedDict, defaultdict (loaded as dict) and Counter
        pairs = [[_encode(k, f"{path}{_SEP}key", arrays), _encode(v, f"{path}{_SEP}{k}", arrays)]
                 for k, v in value.items()]
        return {"counter" if isinstance(value, Counter) else "dict": pairs}
    raise TypeError(f"save: {path!r} holds a {type(value).__name__}; only arrays, numbers, "
                    "strings, None, and lists, tuples and dicts of them can be saved")


def save(obj, path):
    """Write a dict (state dicts, numbers, nested dicts and lists of them) to ``path`` atomically.

    The file is complete or absent: written to a temporary file beside ``path``, then renamed.
    A value that cannot be stored raises before anything is written.
    """
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. model.state_dict()), got {type(obj).__name__}")
    if _JSON_KEY in obj:
        raise ValueError(f"save: the key {_JSON_KEY!r} is reserved for the file's JSON values")
    json_values = {}
    arrays = _flatten(obj, "", {}, json_values)
    if json_values:
        arrays[_JSON_KEY] = np.asarray(json.dumps(json_values))
    with atomic_writer(path, "save") as f:
        np.savez(f, **arrays)


# ---- load -------------------------------------------------------------------------------------
def _decode(tree, arrays, used):
    """Rebuild what ``_encode`` wrote; the names of the arrays it reads are added to ``used``."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [_decode(v, arrays, used) for v in tree]
    if isinstance(tree, dict) and len(tree) == 1:
        (tag, body), = tree.items()
        if tag in ("ndarray", "scalar") and isinstance(body, str) and body in arrays:
            used.add(body)
            return arrays[body] if tag == "ndarray" else arrays[body][()]
        if tag == "tuple" and isinstance(body, list):
            return tuple(_decode(v, arrays, used) for v in body)
        if tag in ("dict", "counter") and isinstance(body, list):
            pairs = [_decode_pair(p, arrays, used) for p in body]
            return Counter(dict(pairs)) if tag == "counter" else dict(pairs)
    raise ValueError(f"an unknown or malformed JSON value {json.dumps(tree)[:80]}")


def _decode_pair(pair, arrays, used):
    if not (isinstance(pair, list) and len(pair) == 2):
        raise ValueError(f"a dict item must be a [key, value] pair, got {json.dumps(pair)[:80]}")
    key = _decode(pair[0], arrays, used)
    try:
        hash(key)
    except TypeError:
        raise ValueError(f"a dict key must be hashable, got {json.dumps(pair[0])[:80]}") from None
    return key, _decode(pair[1], arrays, used)


def _nest(flat, path):
    """``{"a/b": x}`` -> ``{"a": {"b": x}}``."""
    out = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(_SEP)
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"load: {path} is not a valid tinyvision checkpoint (.npz): "
                                 f"entry {key!r} lies under a value, not a dict")
        if leaf in node:
            raise ValueError(f"load: {path} is not a valid tinyvision checkpoint (.npz): "
                             f"entry {key!r} appears twice")
        node[leaf] = value
    return out


def load(path):
    """Read what ``save`` wrote: nested dicts of ndarrays, and the JSON values as they were saved.

    Raises FileNotFoundError for a missing file and ValueError naming the file for a corrupt
    one; the file is never changed and nothing in it is unpickled.
    """
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            flat = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"load: {path} is not a valid tinyvision checkpoint (.npz): {e}") from None
    manifest = flat.pop(_JSON_KEY, None)
    if manifest is not None:
        used = set()
        try:
            if manifest.dtype.kind != "U" or manifest.ndim != 0:
                raise ValueError(f"{_JSON_KEY!r} must be a string, got {manifest.dtype} "
                                 f"of shape {manifest.shape}")
            trees = json.loads(str(manifest))
            if not isinstance(trees, dict):
                raise ValueError(f"{_JSON_KEY!r} must map paths to values")
            decoded = {name: _decode(tree, flat, used) for name, tree in trees.items()}
        except (ValueError, RecursionError) as e:   # json.JSONDecodeError is a ValueError
            raise ValueError(f"load: {path} is not a valid tinyvision checkpoint (.npz): "
                             f"bad JSON values: {e}") from None
        flat = {k: v for k, v in flat.items() if k not in used}
        clash = sorted(set(flat) & set(decoded))
        if clash:
            raise ValueError(f"load: {path} is not a valid tinyvision checkpoint (.npz): "
                             f"entry {clash[0]!r} appears twice")
        flat.update(decoded)
    return _nest(flat, path)
