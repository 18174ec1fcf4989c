"""Non-maximum suppression: nms and batched_nms (greedy, torchvision's semantics).

The contract is in reference.py, what the fast implementations share (sorting, layout,
the threshold in the boxes' dtype) in candidates.py; tinyvision.kernels.get("nms", boxes)
picks the implementation.
"""
