"""Many binary masks as their foreground intervals, and the arithmetic COCO needs on them.

A mask of H x W pixels read column by column (Fortran order, see ``tinyvision.data.rle``) is
a list of alternating run lengths, 0s first; its foreground is then a short list of intervals
of pixel numbers: counts [3, 2, 4, 1, 2] over 12 pixels cover [3, 5) and [9, 10). Area,
bounding box, IoU and union need only these intervals (a few numbers per column of an object
instead of H x W pixels), which is why COCO evaluates masks this way (pycocotools' maskApi.c):

    area(A)    = sum of A's interval lengths
    |A ∩ B|    = sum over A's intervals [s, e) of cover_B(e) - cover_B(s), where
                 cover_B(x) = pixels of B numbered below x (one search in B's sorted intervals)
    IoU(A, B)  = |A ∩ B| / (area(A) + area(B) - |A ∩ B|), or / area(A) for a crowd B

``Runs`` holds the intervals of many masks in flat arrays, so each line above is a handful of
NumPy calls over all masks, or all (detection, ground truth) pairs, at once.
"""
import numpy as np


class Runs:
    """The foreground intervals of N masks.

    Mask i covers pixels [starts[j], ends[j]) for j in offsets[i]:offsets[i + 1] (sorted,
    disjoint, non-empty), pixels numbered column by column; it is heights[i] x widths[i].
    E.g. counts [3, 2, 4, 1, 2] of a 3 x 4 mask: starts [3, 9], ends [5, 10], offsets [0, 2].
    """

    def __init__(self, starts, ends, offsets, heights, widths):
        self.starts, self.ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
        self.offsets = np.asarray(offsets, np.int64)
        self.heights = np.asarray(heights, np.int64).reshape(-1)
        self.widths = np.asarray(widths, np.int64).reshape(-1)

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def n_intervals(self):
        return np.diff(self.offsets)

    @classmethod
    def from_counts(cls, counts, lengths, heights, widths):
        """Masks from their run lengths, all in one flat array (``lengths`` runs per mask)."""
        counts = np.asarray(counts, np.int64)
        lengths = np.asarray(lengths, np.int64)
        first = np.cumsum(lengths) - lengths                  # index of each mask's first run
        end = np.cumsum(counts)                               # run ends, over all masks
        base = np.concatenate([[0], end])[first]              # pixels of the masks before
        end = end - np.repeat(base, lengths)                  # run ends within each mask
        j = np.arange(len(counts)) - np.repeat(first, lengths)
        fg = (j % 2 == 1) & (counts > 0)                      # odd runs are foreground
        per_mask = np.bincount(np.repeat(np.arange(len(lengths)), lengths)[fg],
                               minlength=len(lengths))
        return cls(end[fg] - counts[fg], end[fg], np.concatenate([[0], np.cumsum(per_mask)]),
                   heights, widths)

    @classmethod
    def from_intervals(cls, intervals, heights, widths):
        """Masks from a list of (starts, ends) pairs, one per mask."""
        n = [len(s) for s, _ in intervals]
        starts = np.concatenate([np.zeros(0, np.int64)] + [s for s, _ in intervals])
        ends = np.concatenate([np.zeros(0, np.int64)] + [e for _, e in intervals])
        return cls(starts, ends, np.concatenate([[0], np.cumsum(n, dtype=np.int64)]), heights,
                   widths)

    def take(self, index):
        """The masks ``index`` (an int array), as a new ``Runs``."""
        index = np.asarray(index, np.int64)
        n = self.n_intervals[index]
        pos = _ragged_arange(self.offsets[index], n)
        return Runs(self.starts[pos], self.ends[pos], np.concatenate([[0], np.cumsum(n)]),
                    self.heights[index], self.widths[index])

    def area(self):
        """(N,) int64 pixel count of each mask."""
        return _segment_sum(self.ends - self.starts, self.offsets)

    def bbox(self):
        """(N, 4) float64 [x, y, width, height] of each mask, zeros for an empty one.

        An interval that wraps from one column to the next spans the full height, as in
        pycocotools' ``rleToBbox``."""
        out = np.zeros((len(self), 4))
        nonempty = np.flatnonzero(self.n_intervals > 0)
        if nonempty.size == 0:
            return out
        h = np.repeat(self.heights, self.n_intervals)
        last = self.ends - 1
        x0, x1 = self.starts // h, last // h
        wraps = x1 > x0
        y0 = np.where(wraps, 0, self.starts % h)
        y1 = np.where(wraps, h - 1, last % h)
        at = self.offsets[nonempty]
        xs, xe = np.minimum.reduceat(x0, at), np.maximum.reduceat(x1, at)
        ys, ye = np.minimum.reduceat(y0, at), np.maximum.reduceat(y1, at)
        out[nonempty] = np.stack([xs, ys, xe - xs + 1, ye - ys + 1], axis=1)
        return out

    def counts(self, i):
        """Run lengths of mask i (0s first), as COCO's uncompressed RLE writes them."""
        s, e = self.starts[self.offsets[i]:self.offsets[i + 1]], self.ends[
            self.offsets[i]:self.offsets[i + 1]]
        edges = np.concatenate([[0], np.stack([s, e], axis=1).ravel(),
                                [self.heights[i] * self.widths[i]]])
        return np.diff(edges).tolist()


def _ragged_arange(starts, lengths):
    """concatenate([arange(s, s + n) for s, n in zip(starts, lengths)]), without the loop."""
    lengths = np.asarray(lengths, np.int64)
    first = np.cumsum(lengths) - lengths
    return np.arange(lengths.sum()) - np.repeat(first - np.asarray(starts, np.int64), lengths)


def _segment_sum(values, offsets):
    """Sums of values[offsets[i]:offsets[i + 1]], exact for integers (empty segments give 0)."""
    c = np.concatenate([[0], np.cumsum(values)])
    return c[offsets[1:]] - c[offsets[:-1]]


def intersection(a, ia, b, ib):
    """Pixels shared by masks a[ia[k]] and b[ib[k]], for each k: (K,) int64.

    B's intervals, mask j shifted by j * L (L > every mask's pixel count), form one sorted
    list; each interval [s, e) of A is looked up in it shifted by the same ib[k] * L, and
    contributes cover_B(e) - cover_B(s) (see the module docstring).
    """
    ia, ib = np.asarray(ia, np.int64), np.asarray(ib, np.int64)
    if len(ia) == 0:
        return np.zeros(0, np.int64)
    span = int(max((a.heights * a.widths).max(), (b.heights * b.widths).max())) + 1
    shift = np.repeat(np.arange(len(b), dtype=np.int64) * span, b.n_intervals)
    # a leading empty interval at -1, so every query finds one that starts at or before it
    bs = np.concatenate([[-1], b.starts + shift])
    be = np.concatenate([[-1], b.ends + shift])
    before = np.concatenate([[0], np.cumsum(be - bs)])   # pixels in the intervals before j

    def cover(x):                                        # pixels of B (shifted) below x
        j = np.searchsorted(bs, x, side="right") - 1
        return before[j] + np.minimum(x, be[j]) - bs[j]

    n = a.n_intervals[ia]
    pos = _ragged_arange(a.offsets[ia], n)               # A's intervals, repeated per pair
    offset = np.repeat(ib * span, n)
    inside = cover(a.ends[pos] + offset) - cover(a.starts[pos] + offset)
    return _segment_sum(inside, np.concatenate([[0], np.cumsum(n)]))


def iou_pairs(a, ia, b, ib, crowd):
    """IoU of masks a[ia[k]] and b[ib[k]] (crowd[k]: over a's area only), as ``rleIou``."""
    inter = intersection(a, ia, b, ib)
    area_a, area_b = a.area()[ia], b.area()[ib]
    union = np.where(crowd, area_a, area_a + area_b - inter)
    return np.where(inter > 0, inter / np.maximum(union, 1), 0.0)


def _union_intervals(starts, ends):
    """Sorted, disjoint intervals covering the union of [starts, ends) (touching ones join)."""
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    if len(s) == 0:
        return s, e
    reach = np.maximum.accumulate(e)                    # furthest end so far
    new = np.concatenate([[True], s[1:] > reach[:-1]])  # a gap before it: a new interval
    at = np.flatnonzero(new)
    return s[at], np.maximum.reduceat(e, at)
