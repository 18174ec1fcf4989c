"""COCO segmentations read into ``Runs``, and pycocotools.mask's functions on top of them.

``read_segmentations`` turns COCO's three encodings into ``Runs`` (the foreground intervals of
each mask, see ``runs.py``): compressed RLE strings (decoded all at once, vectorised),
uncompressed RLE (lists of counts) and polygons. Polygons are rasterised exactly as
pycocotools' ``rleFrPoly`` (vertices scaled 5x and rounded, edges walked point by point on
that finer grid, a boundary kept where the walk crosses a pixel centre's column), so mask
figures on COCO's polygon annotations equal pycocotools' to the pixel.
``tinyvision.data.rle.polygons_to_mask`` is the plain point-in-polygon test instead; the two
differ on edge pixels.

The public functions mirror ``pycocotools.mask``: ``area``, ``to_bbox``, ``iou``, ``merge``,
and ``to_rle`` (its ``frPyObjects`` + ``merge``, as ``COCO.annToRLE``: polygons, uncompressed
or compressed RLE -> one compressed RLE dict).

References: Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014; the COCO API
(github.com/cocodataset/cocoapi, common/maskApi.c).
"""
import numpy as np

from ..data import rle as rle_codec
from ..data.coco import _is_int
from .runs import Runs, _segment_sum, _union_intervals, intersection, iou_pairs


def strings_to_counts(strings, name=lambda k: f"rle[{k}]"):
    """Run lengths of many compressed RLE strings at once -> (counts, lengths per string).

    The vectorised twin of ``tinyvision.data.rle.string_to_counts``: characters are split
    into numbers at each one without the 0x20 "more" bit, each number is the sum of its
    5-bit groups (least significant first, sign-extended when the last group has 0x10), and
    count j > 2, written as count_j - count_{j-2}, is restored by a running sum over every
    other number. ``name(k)`` names string k in errors.
    """
    lens = np.array([len(s) for s in strings], np.int64)
    if lens.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(len(strings), np.int64)
    try:
        buf = np.frombuffer("".join(strings).encode("ascii"), np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        raise ValueError(f"{name(0)}: a compressed RLE string holds non-ASCII characters") from None
    ends = np.cumsum(lens)
    bad = np.flatnonzero((buf < 0) | (buf >= 64))
    if bad.size:
        k = int(np.searchsorted(ends, bad[0], side="right"))
        raise ValueError(f"{name(k)}: compressed RLE has an invalid character "
                         f"{chr(buf[bad[0]] + 48)!r}")
    last = (buf & 0x20) == 0                            # the last character of a number
    unfinished = np.flatnonzero((lens > 0) & ~last[np.maximum(ends - 1, 0)])
    if unfinished.size:
        raise ValueError(f"{name(int(unfinished[0]))}: compressed RLE ends inside a number")
    num_end = np.flatnonzero(last)
    num_len = np.diff(np.concatenate([[-1], num_end]))
    if num_len.size and num_len.max() > 12:
        k = int(np.searchsorted(ends, num_end[np.argmax(num_len)], side="right"))
        raise ValueError(f"{name(k)}: compressed RLE holds a number too large for a mask")
    num_start = num_end - num_len + 1
    group = np.arange(len(buf)) - np.repeat(num_start, num_len)
    x = np.add.reduceat((buf & 0x1F) << (5 * group), num_start) if buf.size else buf
    negative = (buf[num_end] & 0x10) != 0
    x = x - np.where(negative, np.left_shift(1, 5 * num_len), 0)      # sign extension
    # numbers per string, then undo the delta coding within each string
    lengths = np.diff(np.concatenate([[0], np.searchsorted(num_end, ends, side="left")]))
    first = np.cumsum(lengths) - lengths
    j = np.arange(len(x)) - np.repeat(first, lengths)
    even = j % 2 == 0
    z = np.where(j == 0, 0, x)
    run_e, run_o = np.cumsum(np.where(even, z, 0)), np.cumsum(np.where(even, 0, z))
    base_e = np.concatenate([[0], run_e])[first]
    base_o = np.concatenate([[0], run_o])[first]
    counts = np.where(even, run_e - np.repeat(base_e, lengths), run_o - np.repeat(base_o, lengths))
    counts = np.where(j == 0, x, counts)
    return counts, lengths


def _check_size(seg, height, width, where):
    size = seg.get("size")
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) for v in size)):
        raise ValueError(f"{where}: RLE 'size' must be [height, width], got {size!r:.60}")
    if height is not None and (size[0], size[1]) != (height, width):
        raise ValueError(f"{where}: RLE size {list(size)} differs from the image's "
                         f"[height, width] = {[height, width]}")
    return int(size[0]), int(size[1])


def _polygon_toggles(xy, h, w):
    """Pixel numbers where pycocotools' ``rleFrPoly`` switches between outside and inside.

    1. Scale the vertices 5x and round them (C's (int)(v + .5), which truncates toward 0).
    2. Walk each edge one fine-grid step at a time along its longer axis, the other
       coordinate rounded the same way: the points u (x) and v (y) of the boundary.
    3. Wherever u changes, the walk crossed a pixel column; if that column holds a pixel
       centre inside the image, the pixel below the crossing (rounded up) starts or ends a
       run of the mask there.
    A pixel number toggled an even number of times toggles nothing.
    """
    scale = 5.0
    x = np.trunc(scale * xy[0::2] + 0.5).astype(np.int64)
    y = np.trunc(scale * xy[1::2] + 0.5).astype(np.int64)
    xs, ys, xe, ye = x, y, np.roll(x, -1), np.roll(y, -1)      # edge j: vertex j -> j + 1
    dx, dy = np.abs(xe - xs), np.abs(ye - ys)
    steep = dx < dy                                            # walk along y
    flip = np.where(steep, ys > ye, xs > xe)                   # walk from the low end ...
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(steep, (xe - xs) / dy, (ye - ys) / dx)
    slope = np.where(np.isfinite(slope), slope, 0.0)           # a zero-length edge: one point
    n = np.maximum(dx, dy) + 1                                 # points on each edge
    e = np.repeat(np.arange(len(x)), n)
    d = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    t = np.where(flip[e], n[e] - 1 - d, d)                     # ... but list points in order
    along = t + np.where(steep[e], ys[e], xs[e])
    across = np.trunc(np.where(steep[e], xs[e], ys[e]) + slope[e] * t + 0.5).astype(np.int64)
    u, v = np.where(steep[e], across, along), np.where(steep[e], along, across)

    uj, up, vj, vp = u[1:], u[:-1], v[1:], v[:-1]
    xd = (np.where(uj < up, uj, uj - 1) + 0.5) / scale - 0.5   # pixel column crossed
    yd = (np.minimum(vj, vp) + 0.5) / scale - 0.5
    keep = (uj != up) & (np.floor(xd) == xd) & (xd >= 0) & (xd <= w - 1)
    yd = np.ceil(np.clip(yd[keep], 0, h))
    toggled = xd[keep].astype(np.int64) * h + yd.astype(np.int64)
    values, times = np.unique(toggled, return_counts=True)
    return values[(times % 2 == 1) & (values < h * w)]


def _toggles_to_intervals(t, h, w):
    if len(t) % 2:
        t = np.concatenate([t, [h * w]])
    return t[0::2], t[1::2]


def polygons_to_intervals(polygons, h, w, where="polygon"):
    """Foreground intervals of the union of COCO polygons, rasterised as pycocotools."""
    if not isinstance(polygons, (list, tuple)) or not polygons:
        raise ValueError(f"{where}: polygons must be a non-empty list of [x1, y1, x2, y2, ...]")
    parts = []
    for poly in polygons:
        try:
            p = np.asarray(poly, np.float64).reshape(-1)
        except (TypeError, ValueError):
            p = np.zeros(1)
        if len(p) < 4 or len(p) % 2 or not np.isfinite(p).all():
            raise ValueError(f"{where}: a polygon must be a flat list of (x, y) pairs "
                             f"[x1, y1, x2, y2, ...], got {poly!r:.80}")
        parts.append(_toggles_to_intervals(_polygon_toggles(p, h, w), h, w))
    return _union_intervals(np.concatenate([s for s, _ in parts]),
                            np.concatenate([e for _, e in parts]))


def read_segmentations(segs, heights, widths, where):
    """``Runs`` of COCO segmentations: compressed RLE, uncompressed RLE or polygons.

    heights, widths : the size of each item's image (polygons need it; an RLE's own 'size'
        must equal it). ``where(i)`` names item i in errors.
    """
    n = len(segs)
    heights, widths = np.asarray(heights, np.int64), np.asarray(widths, np.int64)
    fast = _all_compressed(segs, heights, widths)
    if fast is not None:                          # the usual case, checked in bulk
        flat, lengths = strings_to_counts(fast, where)
        _check_counts(flat, lengths, heights * widths, where)
        return Runs.from_counts(flat, lengths, heights, widths)
    strings, string_items, counts, intervals = [], [], {}, {}
    for i, seg in enumerate(segs):
        h, w = int(heights[i]), int(widths[i])
        if isinstance(seg, dict):
            _check_size(seg, h, w, where(i))
            c = seg.get("counts")
            if isinstance(c, (str, bytes)):
                strings.append(c.decode("ascii", "replace") if isinstance(c, bytes) else c)
                string_items.append(i)
            elif isinstance(c, (list, tuple)) and all(_is_int(v) for v in c):
                counts[i] = np.asarray(c, np.int64).reshape(-1)
            else:
                raise ValueError(f"{where(i)}: RLE 'counts' must be a string or a list of ints, "
                                 f"got {type(c).__name__}")
        elif isinstance(seg, (list, tuple)):
            intervals[i] = polygons_to_intervals(seg, h, w, where(i))
        else:
            raise ValueError(f"{where(i)}: 'segmentation' must be polygons or an RLE dict, got "
                             f"{type(seg).__name__}")
    if strings:
        flat, lengths = strings_to_counts(strings, lambda k: where(string_items[k]))
        for i, part in zip(string_items, np.split(flat, np.cumsum(lengths)[:-1])):
            counts[i] = part
    items = []
    for i in range(n):
        if i in counts:
            c = counts[i]
            _check_counts(c, [len(c)], heights[i] * widths[i], lambda _: where(i))
            one = Runs.from_counts(c, [len(c)], heights[i:i + 1], widths[i:i + 1])
            items.append((one.starts, one.ends))
        else:
            items.append(intervals[i])
    return Runs.from_intervals(items, heights, widths)


def _all_compressed(segs, heights, widths):
    """The counts strings when every item is a compressed RLE dict of its image's size, else
    None (then the item-by-item path reads them, or says what is wrong)."""
    try:
        sizes = np.array([seg["size"] for seg in segs]).reshape(len(segs), 2)
        strings = [seg["counts"] for seg in segs]
    except (TypeError, KeyError, ValueError, OverflowError):
        return None
    if sizes.dtype.kind not in "iu" or not ((sizes[:, 0] == heights).all()
                                            and (sizes[:, 1] == widths).all()):
        return None
    strings = [c.decode("ascii", "replace") if isinstance(c, bytes) else c for c in strings]
    return strings if all(isinstance(c, str) for c in strings) else None


def _check_counts(counts, lengths, pixels, name):
    """Counts must be >= 0 and sum, per mask, to its image's pixel count."""
    lengths = np.asarray(lengths, np.int64)
    negative = np.flatnonzero(counts < 0)
    if negative.size:
        k = int(np.searchsorted(np.cumsum(lengths), negative[0], "right"))
        raise ValueError(f"{name(k)}: RLE counts must be non-negative")
    sums = _segment_sum(counts, np.concatenate([[0], np.cumsum(lengths)]))
    pixels = np.broadcast_to(pixels, sums.shape)
    bad = np.flatnonzero(sums != pixels)
    if bad.size:
        raise ValueError(f"{name(int(bad[0]))}: RLE counts sum to {int(sums[bad[0]])}, not "
                         f"height x width = {int(pixels[bad[0]])}")


# ---- pycocotools.mask's functions ---------------------------------------------------------
def _runs(rles, fn):
    if isinstance(rles, dict):
        rles = [rles]
    for i, r in enumerate(rles):
        if not isinstance(r, dict):
            raise ValueError(f"{fn}: rles[{i}] must be an RLE dict with 'size' and 'counts', got "
                             f"{type(r).__name__}")
    sizes = [_check_size(r, None, None, f"{fn}: rles[{i}]") for i, r in enumerate(rles)]
    h, w = (np.array([s[k] for s in sizes], np.int64) for k in (0, 1))
    return read_segmentations(list(rles), h, w, lambda i: f"{fn}: rles[{i}]")


def area(rles):
    """Pixel count of each RLE (a dict or a list of dicts) -> (N,) int64."""
    return _runs(rles, "area").area()


def to_bbox(rles):
    """[x, y, width, height] of each RLE's foreground -> (N, 4) float64."""
    return _runs(rles, "to_bbox").bbox()


def iou(dt, gt, iscrowd):
    """(D, G) IoU between RLE lists ``dt`` and ``gt``; for gt j with iscrowd[j], the
    intersection over the detection's area (pycocotools.mask.iou, masks of one size)."""
    a, b = _runs(dt, "iou"), _runs(gt, "iou")
    crowd = np.asarray(iscrowd, bool).reshape(-1)
    if len(crowd) != len(b):
        raise ValueError(f"iou: iscrowd must have one flag per gt ({len(b)}), got {len(crowd)}")
    if len(a) and len(b) and ((a.heights[:, None] != b.heights[None]).any()
                              or (a.widths[:, None] != b.widths[None]).any()):
        raise ValueError("iou: every mask must have the same size")
    ia, ib = np.divmod(np.arange(len(a) * len(b)), len(b))
    return iou_pairs(a, ia, b, ib, crowd[ib]).reshape(len(a), len(b))


def merge(rles):
    """The union of RLEs of one size -> one compressed RLE dict."""
    r = _runs(rles, "merge")
    if len(r) == 0 or (r.heights != r.heights[0]).any() or (r.widths != r.widths[0]).any():
        raise ValueError("merge: needs at least one RLE, all of the same size")
    s, e = _union_intervals(r.starts, r.ends)
    return _to_dict(Runs(s, e, [0, len(s)], r.heights[:1], r.widths[:1]))


def to_rle(segmentation, height, width):
    """One COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed RLE dict
    of an image of ``height`` x ``width``, as pycocotools' ``COCO.annToRLE``."""
    if not (_is_int(height) and _is_int(width) and height > 0 and width > 0):
        raise ValueError(f"to_rle: height and width must be positive ints, got {height!r}, "
                         f"{width!r}")
    return _to_dict(read_segmentations([segmentation], [height], [width],
                                       lambda i: "to_rle: segmentation"))


def _to_dict(runs):
    return {"size": [int(runs.heights[0]), int(runs.widths[0])],
            "counts": rle_codec.counts_to_string(runs.counts(0))}


__all__ = ["Runs", "area", "to_bbox", "iou", "merge", "to_rle", "intersection", "iou_pairs",
           "read_segmentations", "strings_to_counts", "polygons_to_intervals"]
