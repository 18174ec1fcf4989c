"""RLE arithmetic on the runs (tinyvision.metrics.rle_ops) against decoded masks and against
pycocotools.mask: string decoding, area, bounding box, IoU (crowd or not), union, and polygon
rasterisation pixel for pixel."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyvision.data import rle
from tinyvision.metrics import rle_ops


def random_masks(rng, n, h, w):
    masks = [(rng.random((h, w)) < rng.random() * 0.7).astype(np.uint8) for _ in range(n)]
    masks[0][:] = 0                                          # an empty one
    if n > 1:
        masks[1][:] = 1                                      # a full one
    if n > 2:
        masks[2][:, w // 2:] = 0                             # runs spanning columns
        masks[2][:, :w // 2] = 1
    return masks


@given(st.lists(st.integers(0, 3_000_000), min_size=0, max_size=30))
def test_strings_decode_as_the_plain_codec(counts):
    s = rle.counts_to_string(counts)
    flat, lengths = rle_ops.strings_to_counts([s, "", s])
    assert lengths.tolist() == [len(counts), 0, len(counts)]
    assert flat.tolist() == counts + counts
    assert rle.string_to_counts(s) == counts


def test_runs_area_bbox_intersection_against_masks():
    rng = np.random.default_rng(0)
    for h, w in ((1, 1), (1, 9), (7, 1), (13, 17)):
        masks = random_masks(rng, 6, h, w)
        encoded = [rle.encode(m) for m in masks]
        runs = rle_ops.read_segmentations(encoded, [h] * 6, [w] * 6, str)
        np.testing.assert_array_equal(runs.area(), [m.sum() for m in masks])
        for i, m in enumerate(masks):
            # the same runs (a mask ending in 1s gets a last run of 0 zeros)
            assert runs.counts(i) in (rle.mask_to_counts(m), rle.mask_to_counts(m) + [0])
            ys, xs = np.nonzero(m)
            x, _, width, _ = runs.bbox()[i]
            assert (x, width) == ((xs.min(), np.ptp(xs) + 1) if len(xs) else (0, 0))
        ia, ib = np.divmod(np.arange(36), 6)
        inter = rle_ops.intersection(runs, ia, runs, ib)
        np.testing.assert_array_equal(inter, [(masks[a] & masks[b]).sum() for a, b in zip(ia, ib)])


def test_mask_api_equals_pycocotools():
    mask = pytest.importorskip("pycocotools.mask", reason="pycocotools is the oracle")
    rng = np.random.default_rng(1)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        masks = random_masks(rng, 7, h, w)
        theirs = [mask.encode(np.asfortranarray(m)) for m in masks]
        ours = [rle.encode(m) for m in masks]
        assert [t["counts"].decode() for t in theirs] == [o["counts"] for o in ours]
        np.testing.assert_array_equal(rle_ops.area(ours), mask.area(theirs))
        np.testing.assert_array_equal(rle_ops.to_bbox(ours), mask.toBbox(theirs))
        crowd = rng.random(3) < 0.5
        np.testing.assert_array_equal(rle_ops.iou(ours[:4], ours[4:], crowd),
                                      mask.iou(theirs[:4], theirs[4:], crowd.astype(np.uint8)))
        np.testing.assert_array_equal(rle.decode(rle_ops.merge(ours)),
                                      mask.decode(mask.merge(theirs)))
        # bytes counts (what pycocotools' encode gives) are read as well
        np.testing.assert_array_equal(rle_ops.area(theirs), mask.area(theirs))


def pycocotools_polygon_mask(polygons, h, w):
    mask = pytest.importorskip("pycocotools.mask", reason="pycocotools is the oracle")
    return mask.decode(mask.merge(mask.frPyObjects(polygons, h, w)))


def test_polygons_rasterise_as_pycocotools():
    rng = np.random.default_rng(2)
    for trial in range(400):
        h, w = (int(v) for v in rng.integers(1, 45, 2))
        polygons = []
        for part in range(1 + (trial % 4 == 0)):
            k = int(rng.integers(3, 9))
            p = rng.uniform(-6, max(h, w) + 6, 2 * k)
            if trial % 3 == 0:
                p = np.round(p)                              # on pixel corners
            elif trial % 3 == 1:
                p = np.round(p * 2) / 2                      # on pixel centres
            if trial % 5 == 0:
                p[2:4] = p[0:2]                              # a repeated vertex
            polygons.append(p.tolist())
        ours = rle.decode(rle_ops.to_rle(polygons, h, w))
        np.testing.assert_array_equal(ours, pycocotools_polygon_mask(polygons, h, w),
                                      err_msg=f"{h}x{w} {polygons}")


@given(st.integers(1, 30), st.integers(1, 30),
       st.lists(st.tuples(st.floats(-5, 35), st.floats(-5, 35)), min_size=3, max_size=7))
def test_polygons_rasterise_as_pycocotools_hypothesis(h, w, points):
    polygon = [float(v) for xy in points for v in xy]
    np.testing.assert_array_equal(rle.decode(rle_ops.to_rle([polygon], h, w)),
                                  pycocotools_polygon_mask([polygon], h, w))


def test_to_rle_reads_uncompressed_and_compressed_alike():
    m = random_masks(np.random.default_rng(3), 4, 9, 11)[3]
    plain = {"size": [9, 11], "counts": rle.mask_to_counts(m)}
    assert rle_ops.to_rle(plain, 9, 11) == rle.encode(m)
    assert rle_ops.to_rle(rle.encode(m), 9, 11) == rle.encode(m)
