"""Felzenszwalb-Huttenlocher graph segmentation (IJCV 2004): felzenszwalb.

The contract and the readable version are in reference.py; tinyvision.kernels.get(
"felzenszwalb", image) picks the implementation.  There is no CUDA form (no cuda.py): the
algorithm is one sequential sweep of union-find merges over edges sorted by weight, each
merge deciding the next, with a few milliseconds of work per 128x128 image; the registry
reports the CUDA implementation as missing and never hands it out for a NumPy array.
"""
