"""tinyvision.ops: the parts every detector is built from, named as torchvision.ops.

Boxes are (x1, y1, x2, y2) in pixels unless a name says otherwise. Every function accepts
Tensors, ndarrays or lists and returns Tensors; those that compute box geometry (IoU, GIoU,
conversions, the box coder) and the RoI ops are differentiable.
"""
# Each module below adds its public names here, one import line per module.
from .boxes import (box_area, box_convert, box_iou, clip_boxes_to_image, generalized_box_iou,
                    remove_small_boxes)
from .anchors import AnchorGenerator, DefaultBoxes, multibox_prior
from .coder import BoxCoder
from .matcher import (ATSSMatcher, BalancedPositiveNegativeSampler, Matcher, SSDMatcher,
                      assign_anchors_greedy, hard_negative_mining)
from .nms import batched_nms, nms
from .roi import MultiScaleRoIAlign, RoIAlign, RoIPool, roi_align, roi_pool
from .feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7
from ..functional.loss import sigmoid_focal_loss
