"""COCO's mask encodings: run-length (RLE, plain and compressed) and polygons.

A COCO RLE lists the lengths of alternating runs of 0s and 1s (starting with 0s) over the
mask read column by column (Fortran order), e.g. a 2x2 mask [[0, 1], [0, 1]] reads 0 0 1 1,
so counts = [2, 2]. The compressed form (pycocotools' ``rleToString``) writes each count, from
the third on as the difference to the count two before, in 5-bit groups, least significant
first, each group as one character chr(48 + bits) with 0x20 set while more groups follow.

Polygons are lists [x1, y1, x2, y2, ...] in pixels; a pixel belongs to the object when its
centre lies inside (even-odd rule).

NOTE: pycocotools rasterises polygons differently (it walks the edges on a 5x finer grid), so
pixels right on an edge may differ by one from its masks; RLE round trips exactly.
"""
import numpy as np


def mask_to_counts(mask):
    """(H, W) mask -> list of run lengths, Fortran order, starting with a run of 0s."""
    flat = np.asarray(mask).astype(bool).ravel(order="F")
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    return [0] + counts if flat[0] else counts


def counts_to_string(counts):
    """Compressed COCO RLE string of a list of run lengths (pycocotools' rleToString)."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5                      # arithmetic shift: a negative x ends at −1
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(48 + (c | 0x20 if more else c)))
    return "".join(out)


def string_to_counts(s, where="rle"):
    """Run lengths from a compressed COCO RLE string (pycocotools' rleFrString)."""
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                raise ValueError(f"{where}: compressed RLE string ends inside a number")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"{where}: compressed RLE has an invalid character {s[p]!r}")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)       # sign-extend
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode(mask):
    """(H, W) mask -> {'size': [H, W], 'counts': compressed string}, as pycocotools."""
    h, w = np.shape(mask)
    return {"size": [int(h), int(w)], "counts": counts_to_string(mask_to_counts(mask))}


def decode(rle, where="rle"):
    """An RLE dict (compressed string or plain list of counts) -> (H, W) uint8 mask."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise ValueError(f"{where}: an RLE must be a dict with 'size' and 'counts', got {rle!r:.80}")
    size = rle["size"]
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and v >= 0 for v in size)):
        raise ValueError(f"{where}: RLE 'size' must be [height, width], got {size!r}")
    h, w = size
    counts = rle["counts"]
    if isinstance(counts, (bytes, str)):
        counts = string_to_counts(counts.decode("ascii") if isinstance(counts, bytes) else counts,
                                  where)
    elif not isinstance(counts, list) or not all(isinstance(c, int) for c in counts):
        raise ValueError(f"{where}: RLE 'counts' must be a string or a list of ints")
    if any(c < 0 for c in counts) or sum(counts) != h * w:
        raise ValueError(f"{where}: RLE counts must be non-negative and sum to "
                         f"height x width = {h * w}, got sum {sum(counts)}")
    values = np.arange(len(counts), dtype=np.uint8) % 2
    return np.repeat(values, counts).reshape(w, h).T.copy()


def polygons_to_mask(polygons, height, width, where="polygon"):
    """Rasterise COCO polygons (a list of [x1, y1, x2, y2, ...]) -> (H, W) uint8 mask."""
    mask = np.zeros((height, width), dtype=bool)
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5      # pixel centres
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5
    for poly in polygons:
        p = np.asarray(poly, dtype=np.float64)
        if p.ndim != 1 or len(p) < 6 or len(p) % 2 or not np.all(np.isfinite(p)):
            raise ValueError(f"{where}: a polygon must be a flat list of at least 3 (x, y) "
                             f"pairs, got {poly!r:.80}")
        x, y = p[0::2], p[1::2]
        inside = np.zeros((height, width), dtype=bool)
        for x0, y0, x1, y1 in zip(x, y, np.roll(x, -1), np.roll(y, -1)):
            if y0 == y1:
                continue
            # Does a ray from the pixel centre towards +x cross the edge (x0, y0)-(x1, y1)?
            crosses = ((y0 <= ys) != (y1 <= ys)) & (xs < x0 + (ys - y0) * (x1 - x0) / (y1 - y0))
            inside ^= crosses
        mask |= inside
    return mask.astype(np.uint8)
