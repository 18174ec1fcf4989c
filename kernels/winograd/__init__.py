"""winograd: the F(4x4, 3x3) transforms that turn a 3x3 convolution into 36 smaller GEMMs.

The contract is in reference.py; tinyvision.kernels.get("winograd", x) picks the
implementation.
"""
