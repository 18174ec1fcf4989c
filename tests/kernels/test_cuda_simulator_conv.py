"""The convolution's CUDA kernels (winograd, depthwise_conv2d) against their references on
Numba's CUDA simulator, and conv2d / conv_transpose2d run end to end through them.

As in test_cuda_simulator.py: the simulator must be on before Numba is imported, so the
checks run in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1, on tiny shapes; they skip
only where the simulator cannot run. A second test compiles the kernels to PTX where the
CUDA toolkit's NVVM is installed, and checks that the float32 ones do no float64 arithmetic.
"""
import textwrap

import pytest
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator


CHECKS = textwrap.dedent("""
    import sys
    import numpy as np

    import tinyvision as tv
    import tinyvision.functional as F
    from tinyvision import kernels
    from tinyvision.functional import _conv_algorithms as algorithms
    from tinyvision.kernels.depthwise_conv2d import reference as depthwise
    from tinyvision.kernels.winograd import reference as winograd

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        for dtype in (np.float32, np.float64):
            tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
            for shape, ph, pw in [((1, 2, 5, 6), 1, 1), ((2, 1, 3, 3), 0, 0), ((1, 1, 7, 4), 2, 0)]:
                x = rng.standard_normal(shape).astype(dtype)
                impl = kernels.get("winograd", x)
                N, C, H, W = shape
                OH, OW, _, _ = winograd.tiles(H, W, ph, pw)
                V = impl.winograd_input(x, ph, pw)
                np.testing.assert_allclose(V, winograd.winograd_input(x, ph, pw), **tol)
                gV = rng.standard_normal(V.shape).astype(dtype)
                for got, want in [
                        (impl.winograd_input_backward(gV, N, H, W, ph, pw),
                         winograd.winograd_input_backward(gV, N, H, W, ph, pw)),
                        (impl.winograd_output(gV, N, OH, OW), winograd.winograd_output(gV, N, OH, OW)),
                        (impl.winograd_output_backward(x[:, :, :OH, :OW].copy()),
                         winograd.winograd_output_backward(x[:, :, :OH, :OW].copy()))]:
                    assert got.dtype == dtype
                    np.testing.assert_allclose(got, want, **tol)
            for shape, m, geometry in [((1, 2, 5, 4), 1, (1, 1, 1, 1, 1, 1)),
                                       ((2, 1, 6, 5), 2, (2, 1, 0, 2, 1, 2))]:
                x = rng.standard_normal(shape).astype(dtype)
                w = rng.standard_normal((shape[1] * m, 1, 3, 2)).astype(dtype)
                impl = kernels.get("depthwise_conv2d", x)
                y = impl.depthwise_conv2d(x, w, *geometry)
                np.testing.assert_allclose(y, depthwise.depthwise_conv2d(x, w, *geometry), **tol)
                gy = rng.standard_normal(y.shape).astype(dtype)
                args = (gy, w, *shape[1:], *geometry)
                np.testing.assert_allclose(impl.depthwise_conv2d_backward_input(*args),
                                           depthwise.depthwise_conv2d_backward_input(*args), **tol)
                args = (x, gy, 3, 2, *geometry)
                np.testing.assert_allclose(impl.depthwise_conv2d_backward_weight(*args),
                                           depthwise.depthwise_conv2d_backward_weight(*args), **tol)

        # The ops end to end, every algorithm, against the reference kernels' results.
        algorithms.WINOGRAD_MIN_CHANNELS = 1
        cases = [(F.conv2d, (1, 2, 5, 6), (3, 2, 3, 3), dict(padding=1)),                 # Winograd
                 (F.conv2d, (1, 2, 5, 6), (4, 1, 3, 3), dict(padding=1, groups=2)),       # depthwise
                 (F.conv_transpose2d, (1, 2, 3, 3), (2, 2, 3, 3), dict(stride=2))]         # GEMM
        for op, xs, ws, kwargs in cases:
            grads = {}
            for name in ("cuda", "reference"):
                with kernels.use(name):
                    x = tv.tensor(np.arange(np.prod(xs), dtype=np.float64).reshape(xs) / 7, requires_grad=True)
                    w = tv.tensor(np.cos(np.arange(np.prod(ws), dtype=np.float64)).reshape(ws), requires_grad=True)
                    y = op(x, w, **kwargs)
                    (y * y).sum().backward()
                    grads[name] = (y.data, x.grad, w.grad)
            for got, want in zip(grads["cuda"], grads["reference"]):
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert kernels.last_used("winograd") == kernels.last_used("depthwise_conv2d") == "reference"
    print("conv cuda kernels match the references")
""")


def test_conv_cuda_kernels_match_references_on_the_simulator():
    result = run_on_cuda_simulator(CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conv cuda kernels match the references" in result.stdout


def test_conv_cuda_kernels_compile_for_a_real_gpu_without_float64_in_float32_kernels():
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.depthwise_conv2d import cuda as depthwise_cuda
    from tinyvision.kernels.winograd import cuda as winograd_cuda

    for dtype in (types.float32, types.float64):
        image, tiles = types.Array(dtype, 4, "C"), types.Array(dtype, 3, "A")
        i64 = types.int64
        for kernel, signature in [
                (winograd_cuda._input_kernel, (image, tiles) + (i64,) * 4),
                (winograd_cuda._input_backward_kernel, (tiles, image) + (i64,) * 4),
                (winograd_cuda._output_kernel, (tiles, image, i64, i64)),
                (winograd_cuda._output_backward_kernel, (image, tiles, i64, i64)),
                (depthwise_cuda._forward_kernel, (image, image, image) + (i64,) * 6),
                (depthwise_cuda._backward_input_kernel, (image, image, image) + (i64,) * 6),
                (depthwise_cuda._backward_weight_kernel, (image, image, image) + (i64,) * 6)]:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
            except NvvmSupportError as error:
                pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
            assert ".entry" in ptx
            if dtype == types.float32:
                assert ".f64" not in ptx, kernel.py_func.__name__
