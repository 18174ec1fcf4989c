"""Detectors II: the detectors the field still builds on, torchvision's calling convention.

    backbone.py     ResNetFeatures (C2..C5 of a small ResNet), BackboneWithFPN,
                    resnet_fpn_backbone (shared by every detector here)
    transform.py    DetectionTransform (standardisation, input checks), detections()

In train mode ``model(images, targets)`` returns a dict of named losses; in eval mode
``model(images)`` returns one dict per image with boxes (xyxy), scores and labels (1..C).
"""
from .backbone import BackboneWithFPN, ResNetFeatures, resnet_fpn_backbone
from .transform import DetectionTransform, check_targets, detections
