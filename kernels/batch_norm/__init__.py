"""batch_norm: per-channel statistics, normalization and its gradient, two passes each way.

The contract is in reference.py; tinyvision.kernels.get("batch_norm", x) picks the
implementation; tinyvision/functional/normalization.py (BatchNormFn) calls it.
"""
