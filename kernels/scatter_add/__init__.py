"""scatter_add: add rows into a table at given indices, repeats accumulating.

The contract is in reference.py; tinyvision.kernels.get("scatter_add", out) picks the
implementation.
"""
