"""depthwise_conv2d: a convolution that filters each channel on its own (groups = channels).

The contract is in reference.py; tinyvision.kernels.get("depthwise_conv2d", x) picks the
implementation.
"""
