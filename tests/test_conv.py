"""conv2d and conv_transpose2d: gradient checks through every kernel implementation, PyTorch
conformance, the nn layers, bad input, and the memory bound.

Hypothesis draws the geometry (shapes, kernel, stride, padding incl. 'same'/'valid',
dilation, groups incl. depthwise, output_padding, bias or not). Each draw runs with every
algorithm the shape allows: the automatic choice, and Winograd forced on (it takes only
3x3, stride-1, ungrouped draws, and is normally kept for C >= 16); and through every CPU
kernel implementation (reference, cython, numba) via tinyvision.kernels.use.
"""
import contextlib
import gc
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import kernels, nn
from tinyvision.functional import _conv_algorithms as algorithms

IMPLEMENTATIONS = ["reference", "cython", "numba"]


def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch not installed: the conformance tests "
                                               "compare with it (pip install torch==2.13.0)")


ALGORITHMS = ["auto", "winograd"]


@contextlib.contextmanager
def choosing(algorithm):
    """'auto': the automatic choice; 'winograd': Winograd takes every 3x3, stride-1,
    ungrouped convolution however few its channels."""
    kept = algorithms.WINOGRAD_MIN_CHANNELS
    algorithms.WINOGRAD_MIN_CHANNELS = 1 if algorithm == "winograd" else kept
    try:
        yield
    finally:
        algorithms.WINOGRAD_MIN_CHANNELS = kept


# ---- the draws -------------------------------------------------------------------------------
@st.composite
def conv_cases(draw, transposed=False):
    """(x, w, b, kwargs) for conv2d (or conv_transpose2d) with an output of at least 1x1."""
    depthwise = draw(st.booleans()) and not transposed and draw(st.booleans())
    groups = draw(st.sampled_from([1, 1, 2]))
    cin_g, cout_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if depthwise:
        groups, cin_g = draw(st.integers(2, 4)), 1
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if draw(st.booleans()):                      # often the 3x3 stride-1 case Winograd takes
        kh = kw = 3
    sh, sw = draw(st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 2), (3, 1)]))
    dh, dw = draw(st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 2)]))
    padding = draw(st.sampled_from(["int", "pair"] + ([] if transposed else ["valid", "same"])))
    if padding == "same" and (sh, sw) != (1, 1):
        padding = "valid"
    pad = {"int": draw(st.integers(0, 2)), "pair": (draw(st.integers(0, 2)), draw(st.integers(0, 1))),
           "valid": "valid", "same": "same"}[padding]
    ph, pw = (pad, pad) if isinstance(pad, int) else pad if isinstance(pad, tuple) else (0, 0)
    N = draw(st.integers(1, 2))
    kwargs = dict(stride=(sh, sw), padding=pad, dilation=(dh, dw), groups=groups)
    if transposed:
        # conv_transpose2d: weight (C_in, C_out/groups, kh, kw); padding at most half the
        # dilated kernel, so that even a 1x1 input has an output
        ph, pw = min(ph, dh * (kh - 1) // 2), min(pw, dw * (kw - 1) // 2)
        kwargs["padding"] = (ph, pw)
        kwargs["output_padding"] = (draw(st.integers(0, max(sh, dh) - 1)),
                                    draw(st.integers(0, max(sw, dw) - 1)))
        H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        shapes = (N, cin_g * groups, H, W), (cin_g * groups, cout_g, kh, kw), cout_g * groups
    else:
        smallest = (max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw))
        H, W = draw(st.integers(smallest[0], smallest[0] + 4)), draw(st.integers(smallest[1], smallest[1] + 4))
        shapes = (N, cin_g * groups, H, W), (cout_g * groups, cin_g, kh, kw), cout_g * groups
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, w = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    b = rng.standard_normal(shapes[2]) if draw(st.booleans()) else None
    return x, w, b, kwargs


def _op(transposed):
    return F.conv_transpose2d if transposed else F.conv2d


# ---- gradient checks, through every implementation --------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@settings(deadline=None, max_examples=8)
@given(data=st.data())
def test_gradcheck(name, transposed, algorithm, data):
    x, w, b, kwargs = data.draw(conv_cases(transposed))
    inputs = [x, w] + ([b] if b is not None else [])
    with kernels.use(name), choosing(algorithm):
        assert tv.gradcheck(lambda *a: _op(transposed)(*a, **kwargs), inputs, directional=True,
                            atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_gradcheck_every_element(transposed, algorithm):
    # One fixed, padded, dilated case checked element by element (no random directions).
    rng = np.random.default_rng(1)
    if transposed:
        x, w = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((3, 2, 3, 3))
        kwargs = dict(stride=2, padding=1, output_padding=1)
    else:
        x, w = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3))
        kwargs = dict(padding=(1, 2))
    b = rng.standard_normal(w.shape[1] if transposed else w.shape[0])
    with choosing(algorithm):
        assert tv.gradcheck(lambda *a: _op(transposed)(*a, **kwargs), [x, w, b],
                            directional=False)


def test_the_algorithm_is_chosen_from_the_shapes():
    geometry = algorithms.Geometry(3, 3, 1, 1, 1, 1, 1, 1, 1)            # 3x3, stride 1
    x = (1, 16, 6, 6)
    assert algorithms.choose(x, (16, 16, 3, 3), geometry) is algorithms.Winograd
    assert algorithms.choose((1, 3, 6, 6), (16, 3, 3, 3), geometry) is algorithms.Gemm  # few C
    assert algorithms.choose(x, (4, 16, 3, 3), geometry) is algorithms.Gemm             # few K
    assert algorithms.choose(x, (32, 1, 3, 3), geometry._replace(groups=16)) is algorithms.Depthwise
    assert algorithms.choose(x, (16, 16, 3, 3), geometry._replace(sh=2, sw=2)) is algorithms.Gemm
    assert algorithms.choose(x, (16, 8, 3, 3), geometry._replace(groups=2)) is algorithms.Gemm


# ---- PyTorch conformance -------------------------------------------------------------------
TOLERANCE = {np.float64: (1e-9, 1e-10), np.float32: (1e-4, 1e-4)}   # rtol, atol x scale


def _compare(torch, transposed, x, w, b, kwargs, dtype):
    """Forward and every gradient of tinyvision's op against torch's, same upstream gradient."""
    rtol, atol = TOLERANCE[dtype]
    arrays = [a.astype(dtype) for a in (x, w) + ((b,) if b is not None else ())]
    ours = [tv.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tfn = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
    y_t = tfn(*theirs, **kwargs) if b is not None else tfn(*theirs, None, **kwargs)
    y = _op(transposed)(*ours, **kwargs) if b is not None else _op(transposed)(*ours, None, **kwargs)
    assert y.shape == tuple(y_t.shape) and y.dtype == dtype
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(dtype)
    y.backward(gy)
    y_t.backward(torch.tensor(gy))
    for name, a, a_t in [("y", y.data, y_t.detach().numpy())] + [
            (f"grad {i}", o.grad, t.grad.numpy()) for i, (o, t) in enumerate(zip(ours, theirs))]:
        scale = max(1.0, float(np.abs(a_t).max()))
        np.testing.assert_allclose(a, a_t, rtol=rtol, atol=atol * scale, err_msg=name)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
@settings(deadline=None)
@given(data=st.data())
def test_matches_pytorch(transposed, dtype, algorithm, data):
    torch = torch_or_skip()
    x, w, b, kwargs = data.draw(conv_cases(transposed))
    with choosing(algorithm):
        _compare(torch, transposed, x, w, b, kwargs, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", [(4, 16, 9, 7, 24), (2, 24, 13, 16, 16)], ids=str)
def test_winograd_on_real_channel_counts_matches_pytorch(shape, dtype):
    # Enough channels for the automatic choice to be Winograd, odd sizes, both paddings.
    torch = torch_or_skip()
    N, C, H, W, K = shape
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((K, C, 3, 3)), rng.standard_normal(K)
    assert algorithms.choose(x.shape, w.shape, algorithms.Geometry(3, 3, 1, 1, 1, 1, 1, 1, 1)) \
        is algorithms.Winograd
    for padding in (0, 1, (2, 1)):
        _compare(torch, False, x, w / np.sqrt(9 * C), b, dict(padding=padding), dtype)
    # conv_transpose2d at stride 1: its forward is Winograd's transpose
    _compare(torch, True, x, rng.standard_normal((C, K, 3, 3)) / np.sqrt(9 * K), b,
             dict(padding=1), dtype)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_same_padding_with_an_even_kernel_pads_right_and_bottom_as_pytorch():
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((3, 2, 2, 4))
    for dilation in (1, (2, 1)):
        _compare(torch, False, x, w, None, dict(padding="same", dilation=dilation), np.float64)
        assert F.conv2d(x, w, padding="same", dilation=dilation).shape == (1, 3, 5, 6)


def test_unbatched_input_retained_graph_and_frozen_weight():
    rng = np.random.default_rng(4)
    x = tv.tensor(rng.standard_normal((3, 6, 5)), requires_grad=True)       # (C, H, W)
    w = tv.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (4, 6, 5)
    y.sum().backward(retain_graph=True)                  # the saved cols are used up here...
    first = (x.grad.copy(), w.grad.copy())
    y.sum().backward()                                   # ...and made again for a second pass
    np.testing.assert_allclose(x.grad, 2 * first[0])
    np.testing.assert_allclose(w.grad, 2 * first[1])
    frozen = tv.tensor(w.data)                           # no grad for w: only x's is made
    x.grad = None
    F.conv2d(x, frozen, padding=1).sum().backward()
    np.testing.assert_allclose(x.grad, first[0])


def test_non_contiguous_input_and_dtypes_are_kept():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 20, 9, 16)).astype(np.float32)
    x = base[:, :, :, ::2]                                # strided view
    w = rng.standard_normal((16, 20, 3, 3)).astype(np.float32)
    y = F.conv2d(x, w, padding=1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, F.conv2d(np.ascontiguousarray(x), w, padding=1).data,
                               rtol=1e-5, atol=1e-5)


# ---- nn layers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, fan_in", [
    (lambda: nn.Conv2d(64, 96, 3), 64 * 9),
    (lambda: nn.Conv2d(64, 96, (5, 3), groups=4), 16 * 15),
    (lambda: nn.ConvTranspose2d(96, 64, 3), 64 * 9),              # PyTorch reads weight dim 1
    (lambda: nn.ConvTranspose2d(96, 64, 4, groups=2), 32 * 16),
])
def test_default_init_is_pytorchs(layer, fan_in):
    m = layer()
    bound = 1 / np.sqrt(fan_in)          # kaiming_uniform(a=√5) = U(±1/√fan_in), bias likewise
    for p in (m.weight.data, m.bias.data):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.9 * bound
    assert abs(m.weight.data.std() - bound / np.sqrt(3)) < 0.03 * bound
    assert abs(m.weight.data.mean()) < 0.03 * bound
    assert m.weight.dtype == np.float32 and [n for n, _ in m.named_parameters()] == ["weight", "bias"]


def test_layers_repr_and_forward_match_pytorch():
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    layers = [
        (lambda M: M.Conv2d(4, 6, 3, padding=1), (2, 4, 7, 5)),
        (lambda M: M.Conv2d(4, 6, (3, 2), stride=2, padding="valid", dilation=2, groups=2,
                            bias=False), (2, 4, 9, 8)),
        (lambda M: M.Conv2d(4, 4, 3, padding="same", groups=4, padding_mode="reflect"), (1, 4, 6, 5)),
        (lambda M: M.Conv2d(3, 2, (2, 3), padding="same", padding_mode="circular"), (1, 3, 5, 6)),
        (lambda M: M.Conv2d(3, 2, 3, padding=(1, 2), padding_mode="replicate"), (1, 3, 5, 6)),
        (lambda M: M.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 3)),
        (lambda M: M.ConvTranspose2d(4, 2, 2, stride=(2, 1), groups=2, bias=False, dilation=2), (1, 4, 3, 3)),
    ]
    for make, shape in layers:
        ours, theirs = make(nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.data))
            if ours.bias is not None:
                theirs.bias.copy_(torch.tensor(ours.bias.data))
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(ours(tv.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=repr(ours))


def test_conv_transpose_output_size_picks_the_output_padding():
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = tv.randn(1, 2, 4, 5)
    assert m(x).shape == (1, 3, 7, 9)
    assert m(x, output_size=(8, 10)).shape == (1, 3, 8, 10)
    assert m(x, output_size=(1, 3, 8, 9)).shape == (1, 3, 8, 9)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size \(9, 10\) is not reachable"):
        m(x, output_size=(9, 10))


# ---- bad input -------------------------------------------------------------------------------
x4, w4 = np.zeros((2, 4, 8, 8), np.float32), np.zeros((6, 4, 3, 3), np.float32)
BAD = [
    (lambda: F.conv2d(x4[0, 0], w4), ValueError, r"conv2d: input must be 4-D \(N, C, H, W\) or 3-D"),
    (lambda: F.conv2d(x4, w4[0]), ValueError, r"conv2d: weight must be 4-D \(out_channels"),
    (lambda: F.conv2d(x4, w4[:, :3]), ValueError, r"conv2d: weight \(6, 3, 3, 3\) with groups=1 expects 3 input channels, got input \(2, 4, 8, 8\)"),
    (lambda: F.conv2d(x4, w4, groups=3), ValueError, r"conv2d: groups=3 must divide the input channels \(4\)"),
    (lambda: F.conv2d(x4, w4, groups=0), ValueError, r"conv2d: groups must be a positive int, got 0"),
    (lambda: F.conv2d(x4, w4.astype(np.float64)), TypeError, r"conv2d: input and weight must both be float32 or both float64, got float32 and float64"),
    (lambda: F.conv2d(x4.astype(np.int64), w4), TypeError, r"conv2d: input and weight must both be float32"),
    (lambda: F.conv2d(x4, w4, np.zeros(5, np.float32)), ValueError, r"conv2d: bias must be a \(6,\) float32 array, got shape \(5,\)"),
    (lambda: F.conv2d(x4, w4, stride=0), ValueError, r"conv2d: stride must be an int >= 1 or a pair of them, got 0"),
    (lambda: F.conv2d(x4, w4, stride=(1, 2, 3)), ValueError, r"conv2d: stride must be an int >= 1"),
    (lambda: F.conv2d(x4, w4, padding=-1), ValueError, r"conv2d: padding must be an int >= 0 or a pair of them, got -1"),
    (lambda: F.conv2d(x4, w4, padding="full"), ValueError, r"conv2d: padding must be an int, a pair, 'same' or 'valid', got 'full'"),
    (lambda: F.conv2d(x4, w4, padding="same", stride=2), ValueError, r"conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(x4, w4, dilation=1.5), ValueError, r"conv2d: dilation must be an int >= 1"),
    (lambda: F.conv2d(x4, w4, dilation=5), ValueError, r"conv2d: the 8x8 input padded by \(0, 0\) is smaller than the 3x3 kernel dilated by \(5, 5\): the output would be -2x-2"),
    (lambda: F.conv_transpose2d(x4, w4), ValueError, r"conv_transpose2d: weight \(6, 4, 3, 3\) expects 6 input channels \(its first dim\), got input \(2, 4, 8, 8\)"),
    (lambda: F.conv_transpose2d(x4, w4[:4], output_padding=1), ValueError, r"conv_transpose2d: output_padding must be smaller than the stride or the dilation"),
    (lambda: F.conv_transpose2d(x4, w4[:4], padding="same"), ValueError, r"conv_transpose2d: padding must be an int or a pair, got 'same'"),
    (lambda: F.conv_transpose2d(x4[:, :, :1, :1], w4[:4], padding=2), ValueError, r"conv_transpose2d: the output would be -1x-1 for a 1x1 input"),
    (lambda: F.conv_transpose2d(x4, w4[:4], np.zeros(6, np.float32)), ValueError, r"conv_transpose2d: bias must be a \(4,\) float32 array"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, r"Conv2d: in_channels \(4\) and out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv2d(4, 6, 0), ValueError, r"Conv2d: kernel_size must be an int >= 1"),
    (lambda: nn.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError, r"Conv2d: padding_mode must be one of"),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding="same"), ValueError, r"Conv2d: padding='same' is not supported for strided"),
    (lambda: nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"), ValueError, r"ConvTranspose2d: only padding_mode='zeros' is supported"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- memory: one cols-sized buffer per convolution, gone after the backward ---------------
def _traced_mb():
    return tracemalloc.get_traced_memory()[0] / 2**20


@pytest.mark.parametrize("algorithm, C", [("gemm", 8), ("winograd", 32)])
def test_peak_memory_is_one_cols_buffer_and_the_cols_are_freed(algorithm, C):
    N, H, W, K = 8, 32, 32, C
    rng = np.random.default_rng(7)
    x = tv.tensor(rng.standard_normal((N, C, H, W)).astype(np.float32), requires_grad=True)
    w = tv.tensor(rng.standard_normal((K, C, 3, 3)).astype(np.float32), requires_grad=True)
    gy = rng.standard_normal((N, K, H, W)).astype(np.float32)
    MB = 4 / 2**20
    size = {"x": N * C * H * W * MB, "y": N * K * H * W * MB,
            "gemm": N * C * 9 * H * W * MB,                              # im2col's (N, C·9, H·W)
            "winograd": 36 * C * N * (H // 4) * (W // 4) * MB}          # V: 2.25x the input
    gc.collect()
    tracemalloc.start()
    try:
        start = _traced_mb()
        y = F.conv2d(x, w, padding=1)
        assert (algorithms.Winograd if algorithm == "winograd" else algorithms.Gemm) is y.grad_fn.algorithm
        cols = weakref.ref(y.grad_fn.cols)
        after_forward = _traced_mb() - start
        y.backward(gy)
        after_backward = _traced_mb() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20 - start
    finally:
        tracemalloc.stop()
    # forward: y and the saved cols (a chunk of Winograd's product tiles is gone already)
    assert after_forward == pytest.approx(size["y"] + size[algorithm], rel=0.05)
    # backward: the cols' buffer is reused for the cols' gradient (gemm) or no whole-batch
    # tile array is made (winograd): at most one cols buffer, y, and two input-sized arrays
    # (col2im's gx and the leaf's own copy of it) at any time
    bound = size[algorithm] + size["y"] + 2 * size["x"] + algorithms.CHUNK_BYTES / 2**20 + 0.5
    assert peak <= bound
    assert cols() is None                                              # released
    assert after_backward == pytest.approx(size["y"] + size["x"], abs=0.2)  # y and x.grad left
