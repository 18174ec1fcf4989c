"""Detectors II: the detectors the field still builds on, torchvision's calling convention.

    backbone.py     ResNetFeatures (C2..C5 of a small ResNet), BackboneWithFPN,
                    resnet_fpn_backbone (shared by every detector here)
    transform.py    DetectionTransform (standardisation, input checks), detections()
    faster_rcnn.py  FasterRCNN: region proposal network + RoI heads, two stages   [Ren15]
    yolo.py         YOLOv1: an S x S grid regressed in one pass                    [Redmon16]
    ssd.py          SSD: default boxes on several maps, hard negative mining      [Liu16]
    retinanet.py    RetinaNet: FPN, shared subnets, the focal loss                [Lin17]

In train mode ``model(images, targets)`` returns a dict of named losses; in eval mode
``model(images)`` returns one dict per image with boxes (xyxy), scores and labels (1..C).
"""
from .backbone import BackboneWithFPN, ResNetFeatures, resnet_fpn_backbone
from .transform import DetectionTransform, check_targets, detections
from .faster_rcnn import (FastRCNNPredictor, FasterRCNN, RegionProposalNetwork, RoIHeads,
                          RPNHead, TwoMLPHead)
from .yolo import YOLOv1
from .ssd import SSD, SSDHead
from .retinanet import RetinaNet, RetinaNetHead
