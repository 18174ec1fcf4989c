"""Data: data sets, batching, augmentation, and detection file formats.

    dataset.py      Dataset, TensorDataset, Subset, ConcatDataset, random_split
    dataloader.py   DataLoader (single process, seeded shuffling), default_collate
    transforms/     augmentations that move boxes, masks and keypoints with the image
    shapes.py       ShapesScenes: synthetic detection/segmentation scenes (drawing in
                    shapes_draw.py)
    stick_figures.py  StickFigures: synthetic pose data, 14 LSP joints with visibility
    digits.py       digits(): the UCI handwritten digits (needs scikit-learn)
    coco.py, voc.py COCO-JSON and Pascal VOC XML readers and writers (rle.py: mask encodings)
    toy.py          spirals: 2-D toy points

Images are (C, H, W) float32 in [0, 1]; detection targets are dicts with ``boxes`` (K, 4)
xyxy pixels, ``labels`` (K,) 1..C (0 is background), ``masks`` (K, H, W), as torchvision's.
"""
from . import transforms
from .coco import CocoDetection, write_coco
from .dataloader import DataLoader, default_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .digits import digits
from .shapes import ShapesScenes
from .stick_figures import StickFigures
from .toy import spirals
from .voc import VOC_CLASSES, VOCDetection, write_voc

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "transforms", "ShapesScenes", "StickFigures", "digits",
           "CocoDetection", "write_coco", "VOCDetection", "write_voc", "VOC_CLASSES", "spirals"]
