"""2-D max and average pooling (max_pool2d, avg_pool2d and their adaptive forms).

The contract is in reference.py, the shared geometry in windows.py;
tinyvision.kernels.get("pool2d", x) picks the implementation.
"""
