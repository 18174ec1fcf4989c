"""The CUDA implementations against the references, on Numba's CUDA simulator.

The simulator must be switched on before Numba is imported, so the checks run in a fresh
interpreter with NUMBA_ENABLE_CUDASIM=1 in its environment, on tiny shapes (the simulator
runs every GPU thread in Python).  They skip only where the simulator itself cannot run.
A second test compiles the kernels to PTX for a real GPU where the CUDA toolkit's NVVM is
installed, so a kernel that only the simulator accepts cannot pass unnoticed.
"""
import textwrap

import numpy as np
import pytest
from tinyvision.testing import SIMULATOR_UNAVAILABLE, run_on_cuda_simulator


CHECKS = textwrap.dedent("""
    import sys
    import numpy as np

    from tinyvision import kernels
    from tinyvision.kernels.im2col import reference as im2col_reference
    from tinyvision.kernels.scatter_add import reference as scatter_add_reference

    rng = np.random.default_rng(0)
    with kernels.use("cuda"):
        # (N, C, H, W), (kh, kw, sh, sw, ph, pw, dh, dw): strides, padding, dilation, odd sizes
        for shape, geometry in [((2, 2, 5, 4), (3, 2, 2, 1, 1, 0, 1, 2)),
                                ((1, 3, 6, 7), (2, 3, 1, 2, 0, 2, 2, 1)),
                                ((1, 1, 1, 1), (1, 1, 1, 1, 0, 0, 1, 1))]:
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal(shape).astype(dtype)
                impl = kernels.get("im2col", x)
                cols = impl.im2col(x, *geometry)
                assert cols.dtype == dtype
                np.testing.assert_array_equal(cols, im2col_reference.im2col(x, *geometry))
                gcols = rng.standard_normal(cols.shape).astype(dtype)
                args = (gcols, *shape[2:], *geometry[2:])
                gx = impl.col2im(*args)
                assert gx.dtype == dtype
                np.testing.assert_allclose(gx, im2col_reference.col2im(*args), rtol=1e-6, atol=1e-6)
        for dtype in (np.float32, np.float64):
            out = rng.standard_normal((5, 3)).astype(dtype)
            index = np.array([0, 4, -1, 2, 0, 0, -5])  # repeats, and negatives from the end
            src = rng.standard_normal((7, 3)).astype(dtype)
            expected = out.copy()
            np.add.at(expected, index, src)
            scatter_add_reference.check_scatter_add(out, index, src)
            assert kernels.get("scatter_add", out).scatter_add(out, index, src) is out
            np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert kernels.last_used("im2col") == kernels.last_used("scatter_add") == "cuda"
    print("cuda kernels match the references")
""")


def test_cuda_kernels_match_references_on_the_simulator():
    result = run_on_cuda_simulator(CHECKS)
    if result.returncode == SIMULATOR_UNAVAILABLE:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cuda kernels match the references" in result.stdout


def test_cuda_kernels_compile_for_a_real_gpu_without_float64_in_float32_kernels():
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    from tinyvision.kernels.im2col import cuda as im2col_cuda
    from tinyvision.kernels.scatter_add import cuda as scatter_add_cuda

    for dtype in (types.float32, types.float64):
        x, cols = types.Array(dtype, 4, "C"), types.Array(dtype, 6, "C")
        table, rows = types.Array(dtype, 2, "C"), types.Array(types.int64, 1, "C")
        geometry = (types.int64,) * 6
        for kernel, signature in [(im2col_cuda._im2col_kernel, (x, cols) + geometry),
                                  (im2col_cuda._col2im_kernel, (cols, x) + geometry),
                                  (scatter_add_cuda._scatter_add_kernel, (table, rows, table))]:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
            except NvvmSupportError as error:
                pytest.skip(f"no CUDA toolkit NVVM to compile PTX with: {error}")
            assert ".entry" in ptx
            if dtype == types.float32:  # float64 arithmetic is slow on most GPUs
                assert ".f64" not in ptx, kernel.py_func.__name__
