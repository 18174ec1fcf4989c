"""RoI pooling (Fast R-CNN) and RoI align (Mask R-CNN), forward and backward.

The contract is in reference.py, the argument checks and the channel-block
layout the fast CPU kernels share in common.py;
tinyvision.kernels.get("roi", x) picks the implementation.
"""
