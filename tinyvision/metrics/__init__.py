"""tinyvision.metrics: how well a model did, computed the way the field's reference tools do.

Classification accuracy, segmentation mean IoU, PASCAL VOC average precision and the COCO
summary figures (AP, AP50, AP75, APs/m/l, AR1/10/100) equal to pycocotools' COCOeval.
``evaluate_detections`` scores a detector's per-image outputs both ways in one call.
"""
# Each module below adds its public names here, one import line per module.
from .coco import coco_evaluate
from .classification import accuracy, confusion_matrix, mean_iou
from .pr import pr_curves
from .proposals import proposal_recall
from .voc import voc_ap, voc_evaluate
from .detection import evaluate_detections
