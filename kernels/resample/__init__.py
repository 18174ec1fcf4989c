"""resample: nearest and bilinear interpolation of NCHW images (F.interpolate's hot loops).

The contract is in reference.py; tinyvision.kernels.get("resample", x) picks the
implementation.
"""
