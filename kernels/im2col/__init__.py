"""im2col and col2im: unfold image windows into columns (conv2d as one GEMM) and back.

The contract is in reference.py; tinyvision.kernels.get("im2col", x) picks the
implementation.
"""
