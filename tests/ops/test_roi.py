"""roi_pool, roi_align, RoIPool, RoIAlign, MultiScaleRoIAlign: hand-computed cases, float64
gradchecks drawn by hypothesis through every CPU implementation, conformance with an
independent PyTorch oracle, the box formats, the layers, and bad input.

torchvision is not a dependency (and its roi_align cannot be installed beside this torch):
the oracle builds RoI align from torch primitives, one RoI at a time, as grid_sample
(bilinear, border padding, align_corners=False) at the sample points, zeroed where
torchvision's rule zeroes a sample (beyond [-1, H] or [-1, W]), averaged per bin; torch
autograd gives its input gradient.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyvision as tv
from tinyvision import kernels, nn, ops

CPU = ["reference", "cython", "numba"]


@st.composite
def roi_cases(draw, max_boxes=3):
    """(x float64, rois (K, 5), output size, spatial_scale, sampling_ratio, aligned)."""
    N, C, H, W = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 6)),
                  draw(st.integers(1, 6)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 0.5, 2.0]))
    K = draw(st.integers(1, max_boxes))
    corner = rng.uniform(-3, max(H, W) + 2, (K, 2))
    size = rng.uniform(-1, max(H, W) + 4, (K, 2))  # inverted, tiny, past the border
    rois = np.concatenate([rng.integers(0, N, (K, 1)), corner / scale, (corner + size) / scale], 1)
    output = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    x = (rng.permutation(N * C * H * W) * 0.01 + rng.uniform(0, 1e-3)).reshape(N, C, H, W)
    return x, rois, output, scale, draw(st.sampled_from([-1, 1, 2])), draw(st.booleans())


# ---- hand-computed cases -----------------------------------------------------------------------
def test_roi_pool_by_hand():
    x = tv.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    # the box covers 5 pixels per axis (both ends count): bins rows [0, 3) and [2, 5) ∩ [0, 4)
    y = ops.roi_pool(x, np.array([[0, 0, 0, 4, 4]]), 2)
    np.testing.assert_array_equal(y.data[0, 0], [[10, 11], [14, 15]])
    y.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1],
                                                 [0, 0, 1, 1]])
    # spatial_scale 1/2: (2, 2, 5, 5) -> round(1, 1, 2.5, 2.5) = (1, 1, 3, 3): rows 1..3
    y = ops.roi_pool(x, np.array([[0, 2, 2, 5, 5]]), (1, 3), spatial_scale=0.5)
    np.testing.assert_array_equal(y.data[0, 0], [[13, 14, 15]])
    # a malformed box (x2 < x1) is one pixel; a box outside the map pools nothing: 0
    y = ops.roi_pool(x, np.array([[0, 2, 1, 0, 1], [0, 9, 9, 12, 12]]), 1)
    np.testing.assert_array_equal(y.data[:, 0, 0, 0], [6, 0])


def test_roi_align_by_hand():
    x = tv.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    box = np.array([[0, 0, 0, 4, 4]])
    # bins of 2x2 pixels, one sample each at (1, 1), (1, 3), (3, 1), (3, 3)
    y = ops.roi_align(x, box, 2, sampling_ratio=1)
    np.testing.assert_array_equal(y.data[0, 0], [[5, 7], [13, 15]])
    # aligned: the box spans [-0.5, 3.5], samples at 0.5 and 2.5: the means of 2x2 pixels
    y = ops.roi_align(x, box, 2, sampling_ratio=1, aligned=True)
    np.testing.assert_array_equal(y.data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    y.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(x.grad, np.full((1, 1, 4, 4), 0.25))
    # adaptive: ceil(4/2) = 2 samples per bin and axis, at 0.5, 1.5 | 2.5, 3.5; x is linear,
    # x[i, j] = 4i + j, so a bin is its samples' mean, but 3.5 reads pixel 3 (the last)
    y = ops.roi_align(x, box, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[5, 6.75], [12, 13.75]])
    # the border rule along a row (samples at y = 0): -0.5 reads pixel 0, 2.5 between pixels
    # 2 and 3, 3.5 pixel 3 alone, 4.5 (beyond W = 4) nothing: 0
    boxes = np.array([[0, -1, -0.5, 0, 0.5], [0, 2, -0.5, 3, 0.5], [0, 3, -0.5, 4, 0.5],
                      [0, 4, -0.5, 5, 0.5]])
    y = ops.roi_align(x + 1, boxes, 1, sampling_ratio=1)
    np.testing.assert_array_equal(y.data[:, 0, 0, 0], [1, 3.5, 4, 0])


# ---- gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CPU)
@given(case=roi_cases())
def test_roi_align_gradcheck(name, case):
    x, rois, output, scale, sampling_ratio, aligned = case
    with kernels.use(name):
        assert tv.gradcheck(lambda t: ops.roi_align(t, rois, output, scale, sampling_ratio,
                                                    aligned), [x])


@pytest.mark.parametrize("name", CPU)
@given(case=roi_cases())
def test_roi_pool_gradcheck(name, case):
    x, rois, output, scale, _, _ = case  # distinct values: no ties, so max is differentiable
    with kernels.use(name):
        assert tv.gradcheck(lambda t: ops.roi_pool(t, rois, output, scale), [x])


# ---- conformance: an independent PyTorch oracle --------------------------------------------------
def torch_roi_align(torch, x, rois, output, scale, sampling_ratio, aligned):
    """RoI align from torch primitives; see the module docstring."""
    import torch.nn.functional as TF
    N, C, H, W = x.shape
    OH, OW = output
    outputs = []
    for roi in rois.tolist():
        offset = 0.5 if aligned else 0.0
        x1, y1, x2, y2 = (v * scale - offset for v in roi[1:])
        w, h = (x2 - x1, y2 - y1) if aligned else (max(x2 - x1, 1.0), max(y2 - y1, 1.0))
        gh = sampling_ratio if sampling_ratio > 0 else max(math.ceil(h / OH), 0)
        gw = sampling_ratio if sampling_ratio > 0 else max(math.ceil(w / OW), 0)
        if gh * gw == 0:
            outputs.append(x.new_zeros((C, OH, OW)))
            continue
        i, j = torch.arange(OH * gh, dtype=x.dtype), torch.arange(OW * gw, dtype=x.dtype)
        ys = y1 + (i // gh) * (h / OH) + (i % gh + 0.5) * (h / OH) / gh
        xs = x1 + (j // gw) * (w / OW) + (j % gw + 0.5) * (w / OW) / gw
        inside = ((ys >= -1) & (ys <= H))[:, None] & ((xs >= -1) & (xs <= W))[None, :]
        grid = torch.stack(torch.broadcast_tensors(((2 * xs + 1) / W - 1)[None, :],
                                                   ((2 * ys + 1) / H - 1)[:, None]), -1)
        b = int(roi[0])
        samples = TF.grid_sample(x[b:b + 1], grid[None], mode="bilinear",
                                 padding_mode="border", align_corners=False)[0] * inside
        outputs.append(samples.reshape(C, OH, gh, OW, gw).mean((2, 4)))
    return torch.stack(outputs)


@given(case=roi_cases(max_boxes=5), dtype=st.sampled_from([np.float64, np.float32]))
def test_roi_align_matches_a_pytorch_oracle(case, dtype):
    torch = pytest.importorskip("torch", reason="PyTorch (CPU) is the conformance oracle")
    x, rois, output, scale, sampling_ratio, aligned = case
    x, rois = x.astype(dtype), rois.astype(dtype)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = torch_roi_align(torch, tx, rois.astype(np.float64), output, scale, sampling_ratio,
                         aligned)
    t = tv.tensor(x, requires_grad=True)
    y = ops.roi_align(t, rois, output, scale, sampling_ratio, aligned)
    tol = dict(rtol=1e-11, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    if ty.requires_grad:  # (every grid empty: nothing to differentiate)
        ty.backward(torch.from_numpy(gy))
        np.testing.assert_allclose(t.grad, tx.grad.numpy(), **tol)


# ---- box formats, dtypes, layers -----------------------------------------------------------------
def test_box_formats_agree_and_boxes_get_no_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    per_image = [np.array([[1.0, 1.0, 6.5, 5.0], [0, 2, 3, 7]]), tv.tensor([[2.0, 2.0, 4.0, 7.5]])]
    rows = tv.tensor([[0, 1.0, 1.0, 6.5, 5.0], [0, 0, 2, 3, 7], [1, 2.0, 2.0, 4.0, 7.5]],
                     requires_grad=True)
    for fn in (ops.roi_align, ops.roi_pool):
        a, b = fn(x, per_image, (2, 3), 0.5), fn(x, rows, (2, 3), 0.5)
        assert isinstance(a, tv.Tensor) and a.dtype == np.float32 and a.shape == (3, 3, 2, 3)
        np.testing.assert_array_equal(a.data, b.data)
        assert not b.requires_grad  # boxes carry no gradient
        assert fn(x, [np.zeros((0, 4))], 2).shape == (0, 3, 2, 2)
    # float64 boxes on a float32 map are computed in float32, as torchvision's kernels are
    exact = ops.roi_align(x, rows.data.astype(np.float64), 2, 1 / 3)
    np.testing.assert_array_equal(exact.data, ops.roi_align(x, rows, 2, 1 / 3).data)


def test_layers_and_their_exports():
    assert nn.RoIAlign is ops.RoIAlign and nn.RoIPool is ops.RoIPool
    assert nn.MultiScaleRoIAlign is ops.MultiScaleRoIAlign
    x = tv.randn(1, 2, 6, 6)
    boxes = [np.array([[0.0, 0, 10, 9]])]
    np.testing.assert_array_equal(nn.RoIAlign(3, 0.5, 2, aligned=True)(x, boxes).data,
                                  ops.roi_align(x, boxes, 3, 0.5, 2, True).data)
    np.testing.assert_array_equal(nn.RoIPool((2, 3), 0.5)(x, boxes).data,
                                  ops.roi_pool(x, boxes, (2, 3), 0.5).data)
    assert "sampling_ratio=2" in repr(nn.RoIAlign(3, 0.5, 2))
    assert list(nn.RoIPool(2, 1.0).parameters()) == []


# ---- MultiScaleRoIAlign ---------------------------------------------------------------------
def pyramid(rng, channels=2):
    """P2 and P3 of two 64x64 images (scales 1/4 and 1/8), and an unused map."""
    return {"p2": tv.tensor(rng.standard_normal((2, channels, 16, 16)), requires_grad=True),
            "p3": tv.tensor(rng.standard_normal((2, channels, 8, 8)), requires_grad=True),
            "pool": tv.tensor(rng.standard_normal((2, channels, 4, 4)))}


def test_multiscale_roi_align_picks_levels_by_box_size():
    rng = np.random.default_rng(5)
    maps = pyramid(rng)
    boxes = [np.array([[0, 0, 60, 60], [3, 4, 13, 12], [10, 10, 40, 50]]),
             np.array([[5, 5, 20, 20], [0, 0, 63, 63]])]
    pooler = ops.MultiScaleRoIAlign(["p2", "p3"], 3, 2, canonical_scale=56)  # small images
    y = pooler(maps, boxes, [(64, 64), (64, 60)])
    # Eq. (1) written out: k = floor(4 + log2(sqrt(wh)/56) + 1e-6) clamped to [2, 3]
    rows = np.concatenate(boxes)
    k = np.clip(np.floor(4 + np.log2(np.sqrt((rows[:, 2] - rows[:, 0]) * (rows[:, 3] - rows[:, 1]))
                                     / 56) + 1e-6), 2, 3)
    np.testing.assert_array_equal(pooler.map_levels(boxes, [0.25, 0.125]), k - 2)
    assert set(k) == {2, 3}  # both levels in use
    image = np.array([0, 0, 0, 1, 1])
    for r in range(len(rows)):
        level, scale = ("p2", 0.25) if k[r] == 2 else ("p3", 0.125)
        expected = ops.roi_align(maps[level], np.array([[image[r], *rows[r]]]), 3, scale, 2)
        np.testing.assert_allclose(y.data[r], expected.data[0], rtol=1e-12, atol=1e-12)
    y.sum().backward()  # the gradient reaches both levels, and not the unused map
    assert np.abs(maps["p2"].grad).sum() > 0 and np.abs(maps["p3"].grad).sum() > 0
    assert maps["pool"].grad is None


def test_multiscale_roi_align_scales_and_one_level():
    rng = np.random.default_rng(6)
    maps = pyramid(rng)
    assert ops.MultiScaleRoIAlign.infer_scale((16, 16), [(64, 64), (60, 50)]) == 0.25
    assert ops.MultiScaleRoIAlign.infer_scale((13, 13), [(100, 80)]) == 0.125  # 2^round(-2.94)
    boxes = [np.array([[1.0, 2, 30, 40]]), np.zeros((0, 4))]
    y = ops.MultiScaleRoIAlign(["p3"], (2, 4), -1)(maps, boxes, [(64, 64), (64, 64)])
    np.testing.assert_array_equal(y.data, ops.roi_align(maps["p3"], boxes, (2, 4), 0.125).data)
    none = ops.MultiScaleRoIAlign(["p2", "p3"], 2, 2)(maps, [np.zeros((0, 4))] * 2, [(64, 64)] * 2)
    assert none.shape == (0, 2, 2, 2)


# ---- bad input -----------------------------------------------------------------------------------
X = np.zeros((2, 3, 5, 5), np.float32)
BOX = np.array([[0, 0, 0, 4, 4.0]])
BAD = {  # name: (call, error, patterns its message must contain)
    "3-D input": (lambda: ops.roi_align(X[0], BOX, 2),
                  ValueError, ["roi_align", "4-D", r"\(3, 5, 5\)"]),
    "int input": (lambda: ops.roi_pool(X.astype(int), BOX, 2),
                  TypeError, ["roi_pool", "float32 or float64", "int64"]),
    "4 columns": (lambda: ops.roi_align(X, BOX[:, 1:], 2),
                  ValueError, ["roi_align", r"\(K, 5\)", r"\(K_n, 4\)", r"\(1, 4\)"]),
    "5 per image": (lambda: ops.roi_pool(X, [BOX], 2),
                    ValueError, ["roi_pool", r"boxes\[0\]", r"\(1, 5\)"]),
    "more sets than images": (lambda: ops.roi_align(X, [BOX[:, 1:]] * 3, 2),
                              ValueError, ["roi_align", "3 box sets", "2 images"]),
    "NaN box": (lambda: ops.roi_align(X, BOX * [1, 1, np.nan, 1, 1], 2),
                ValueError, ["roi_align", "NaN or inf"]),
    "text boxes": (lambda: ops.roi_align(X, [["a", "b", "c", "d"]], 2),
                   TypeError, ["roi_align", "numbers"]),
    "batch index": (lambda: ops.roi_align(X, BOX + [[2, 0, 0, 0, 0]], 2),
                    ValueError, ["roi_align", "batch indices", r"\[0, 2\)", "2.0"]),
    "fractional batch index": (lambda: ops.roi_pool(X, BOX + [[0.5, 0, 0, 0, 0]], 2),
                               ValueError, ["roi_pool", "whole numbers"]),
    "output_size 0": (lambda: ops.roi_align(X, BOX, (2, 0)),
                      ValueError, ["roi_align", "output_size", r"\(2, 0\)"]),
    "output_size float": (lambda: ops.roi_pool(X, BOX, 2.5),
                          ValueError, ["roi_pool", "output_size", "2.5"]),
    "spatial_scale 0": (lambda: ops.roi_align(X, BOX, 2, 0.0),
                        ValueError, ["roi_align", "spatial_scale", "positive"]),
    "spatial_scale nan": (lambda: ops.roi_pool(X, BOX, 2, float("nan")),
                          ValueError, ["roi_pool", "spatial_scale", "nan"]),
    "sampling_ratio float": (lambda: ops.roi_align(X, BOX, 2, 1.0, 1.5),
                             TypeError, ["roi_align", "sampling_ratio", "1.5"]),
    "sampling_ratio bool": (lambda: ops.roi_align(X, BOX, 2, 1.0, True),
                            TypeError, ["roi_align", "sampling_ratio", "True"]),
    "aligned text": (lambda: ops.roi_align(X, BOX, 2, 1.0, -1, "yes"),
                     TypeError, ["roi_align", "aligned", "yes"]),
    "featmap_names str": (lambda: ops.MultiScaleRoIAlign("p2", 7, 2),
                          TypeError, ["MultiScaleRoIAlign", "featmap_names"]),
    "missing map": (lambda: ops.MultiScaleRoIAlign(["p2", "p9"], 7, 2)({"p2": X}, [BOX[:, 1:]],
                                                                        [(20, 20)]),
                    ValueError, ["MultiScaleRoIAlign", "p9", r"\['p2'\]"]),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_gets_a_clear_error(case):
    call, error, patterns = BAD[case]
    with pytest.raises(error) as info:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), (pattern, str(info.value))
