"""File helpers for the readers and writers: atomic writes, safe XML, images via Pillow.

Atomic write: tinyvision/_files.py (a temporary file beside the target, renamed over it: the
old file or the new one, never half).

Safe XML: VOC annotations are parsed with expat directly, refusing any DOCTYPE (and with it
every ENTITY declaration), so a file from a stranger cannot expand entities (the
"billion laughs" attack) or make the parser fetch an external resource.

Pillow reads and writes PNG/JPEG. It is imported only when a picture is read or written.
"""
import io
import os
import xml.etree.ElementTree as ET
from xml.parsers import expat

import numpy as np

from .._files import atomic_writer


def atomic_write(path, data, where="write"):
    """Write ``data`` (bytes or str) to ``path`` so that it is never half-written."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_writer(path, where) as f:
        f.write(data)


def iterate_samples(samples):
    """The (image, target) items of a data set (by index) or of any iterable."""
    if hasattr(samples, "__getitem__") and hasattr(samples, "__len__"):
        return (samples[i] for i in range(len(samples)))
    return iter(samples)


def _pillow(where):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{where}: reading and writing PNG/JPEG needs Pillow: "
                          "pip install pillow") from None
    return Image


def read_image(path, where="read_image"):
    """An RGB picture file -> (3, H, W) float32 in [0, 1]."""
    Image = _pillow(where)
    try:
        with Image.open(path) as pic:
            array = np.asarray(pic.convert("RGB"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: image file not found: {path}") from None
    except OSError as e:
        raise ValueError(f"{where}: cannot read image {path}: {e}") from None
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)


def encode_png(image, where="write"):
    """(3, H, W) or (1, H, W) float in [0, 1] (ndarray or Tensor) -> PNG bytes, 8 bits."""
    Image = _pillow(where)
    array = np.asarray(getattr(image, "data", image))
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(f"{where}: image must be (C, H, W) with C = 1 or 3, got {array.shape}")
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    hwc = array.transpose(1, 2, 0)
    pic = Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else np.ascontiguousarray(hwc))
    buffer = io.BytesIO()
    pic.save(buffer, format="PNG")
    return buffer.getvalue()


def parse_xml(path):
    """The root Element of an XML file, refusing DOCTYPE/ENTITY declarations."""
    def refuse(*_):
        raise ValueError(f"{path}: XML with a DOCTYPE or ENTITY declaration is refused "
                         "(entity expansion and external fetches are unsafe)")

    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        with open(path, "rb") as f:
            parser.ParseFile(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"annotation file not found: {path}") from None
    except expat.ExpatError as e:
        raise ValueError(f"{path}: not well-formed XML: {expat.ErrorString(e.code)} at line "
                         f"{e.lineno}, column {e.offset}") from None
    return builder.close()
