"""``coco_evaluate``'s inputs, checked field by field and read into flat arrays.

The ground truth is a COCO dict (Lin et al., ECCV 2014; the format page of cocodataset.org):

    images       {"id", "height", "width", ...}          height/width needed for 'segm'
    categories   {"id", "name", ...}
    annotations  {"id", "image_id", "category_id", "bbox": [x, y, w, h], "area",
                  "iscrowd": 0 or 1 (default 0), "segmentation": polygons or RLE}

and the detections a list of {"image_id", "category_id", "bbox": [x, y, w, h], "score",
"segmentation": RLE (for 'segm')}, as pycocotools' ``COCO.loadRes`` takes them.

Every annotation (and detection) becomes one row of ``Objects``; images and categories become
indices into their sorted ids, as COCOeval orders them. Errors name ``coco_evaluate``, the item
(``coco_gt['annotations'][3]``, ``detections[7]``), the field, what was expected and what came.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..data.coco import _is_int, _is_number
from .rle_ops import read_segmentations
from .runs import Runs

FN = "coco_evaluate"


@dataclass
class Objects:
    """Ground-truth annotations or detections, one row each (file order)."""
    image: np.ndarray              # (N,) int64: index into the sorted image ids
    category: np.ndarray           # (N,) int64: index into the sorted category ids
    bbox: np.ndarray               # (N, 4) float64 [x, y, width, height]
    area: np.ndarray               # (N,) float64: what the area ranges test
    crowd: np.ndarray              # (N,) bool (detections: all False)
    score: Optional[np.ndarray] = None     # (N,) float64, detections only
    masks: Optional[Runs] = None           # for iou_type 'segm'

    def __len__(self):
        return len(self.image)

    def take(self, index):
        """The rows ``index``, in that order."""
        return Objects(self.image[index], self.category[index], self.bbox[index],
                       self.area[index], self.crowd[index],
                       None if self.score is None else self.score[index],
                       None if self.masks is None else self.masks.take(index))


def _list_of_dicts(items, name):
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"{FN}: {name} must be a list of dicts, got {type(items).__name__}")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"{FN}: {name}[{i}] must be a dict, got {type(item).__name__} "
                            f"{item!r:.60}")
    return items


def _column(items, key, name, what, default=None, required=True):
    """[item[key] for item in items]; a missing key is an error naming the first such item."""
    try:
        if not required:
            return [item.get(key, default) for item in items]
        return [item[key] for item in items]
    except KeyError:
        i = next(i for i, item in enumerate(items) if key not in item)
        raise ValueError(f"{FN}: {name}[{i}] is missing '{key}' ({what})") from None


def _as_array(values):
    """np.asarray(values) if it is a numeric (int or float) array, else None."""
    try:
        a = np.asarray(values)
    except (TypeError, ValueError, OverflowError):     # ragged lists, huge ints
        return None
    return a if a.dtype.kind in "iuf" else None


def _ints(values, name, key):
    if len(values) == 0:
        return np.zeros(0, np.int64)
    a = _as_array(values)
    if a is not None and a.dtype.kind in "iu" and a.shape == (len(values),):
        return a.astype(np.int64)
    i = next((i for i, v in enumerate(values) if not _is_int(v)), 0)
    raise ValueError(f"{FN}: {name}[{i}]['{key}'] must be an int, got {values[i]!r:.60}")


def _numbers(values, name, key):
    if len(values) == 0:
        return np.zeros(0)
    a = _as_array(values)
    if a is not None and a.shape == (len(values),) and np.isfinite(a).all():
        return a.astype(np.float64)
    i = next((i for i, v in enumerate(values) if not _is_number(v)), 0)
    raise ValueError(f"{FN}: {name}[{i}]['{key}'] must be a finite number, got "
                     f"{values[i]!r:.60}")


def _boxes(values, name):
    """(N, 4) [x, y, w, h], finite, w and h >= 0."""
    if len(values) == 0:
        return np.zeros((0, 4))
    b = _as_array(values)
    if b is None or b.shape != (len(values), 4) or not np.isfinite(b).all():
        i = next((i for i, v in enumerate(values) if not (
            isinstance(v, (list, tuple, np.ndarray)) and len(v) == 4
            and all(_is_number(x) for x in v))), 0)
        raise ValueError(f"{FN}: {name}[{i}]['bbox'] must be 4 finite numbers [x, y, width, "
                         f"height], got {values[i]!r:.80}")
    b = b.astype(np.float64)
    bad = np.flatnonzero((b[:, 2] < 0) | (b[:, 3] < 0))
    if bad.size:
        raise ValueError(f"{FN}: {name}[{bad[0]}]['bbox'] has a negative width or height: "
                         f"{values[bad[0]]!r} (COCO boxes are [x, y, width, height])")
    return b


def _unique_ids(items, name):
    ids = _ints(_column(items, "id", name, "an int id"), name, "id")
    sorted_ids, first = np.unique(ids, return_index=True)
    if len(sorted_ids) != len(ids):
        dup = np.setdiff1d(np.arange(len(ids)), first)[0]
        raise ValueError(f"{FN}: {name}[{dup}]['id'] {ids[dup]} appears twice")
    return ids, sorted_ids


def _index(values, sorted_ids, name, key, of_what):
    """Positions of ``values`` in ``sorted_ids``; an unknown id is an error."""
    pos = np.searchsorted(sorted_ids, values)
    found = pos < len(sorted_ids)
    found[found] = sorted_ids[pos[found]] == values[found]
    if not found.all():
        i = np.flatnonzero(~found)[0]
        raise ValueError(f"{FN}: {name}[{i}]['{key}'] {values[i]} is not the id of any "
                         f"{of_what} in coco_gt")
    return pos


def read_ground_truth(coco_gt, iou_type):
    """-> (image ids sorted, category ids sorted, Objects of the annotations, image sizes).

    The image sizes, (heights, widths) in sorted-id order, are read for 'segm' only (None for
    'bbox')."""
    if not isinstance(coco_gt, dict):
        raise TypeError(f"{FN}: coco_gt must be a COCO dict with 'images', 'annotations' and "
                        f"'categories', got {type(coco_gt).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in coco_gt:
            raise ValueError(f"{FN}: coco_gt is missing '{key}' (a COCO ground truth has "
                             f"images, annotations and categories)")
    images = _list_of_dicts(coco_gt["images"], "coco_gt['images']")
    cats = _list_of_dicts(coco_gt["categories"], "coco_gt['categories']")
    anns = _list_of_dicts(coco_gt["annotations"], "coco_gt['annotations']")
    name = "coco_gt['annotations']"
    image_ids, sorted_images = _unique_ids(images, "coco_gt['images']")
    _, sorted_cats = _unique_ids(cats, "coco_gt['categories']")
    ann_ids = _ints(_column(anns, "id", name, "an int id, unique, >= 1"), name, "id")
    if len(np.unique(ann_ids)) != len(ann_ids):
        raise ValueError(f"{FN}: {name} has repeated ids (each annotation needs its own)")
    if (ann_ids < 1).any():
        i = np.flatnonzero(ann_ids < 1)[0]
        raise ValueError(f"{FN}: {name}[{i}]['id'] is {ann_ids[i]}; ids must be >= 1 "
                         f"(pycocotools reads a match to id 0 as no match)")
    image = _index(_ints(_column(anns, "image_id", name, "the image's id"), name, "image_id"),
                   sorted_images, name, "image_id", "image")
    category = _index(_ints(_column(anns, "category_id", name, "the category's id"), name,
                            "category_id"), sorted_cats, name, "category_id", "category")
    area = _numbers(_column(anns, "area", name, "COCOeval's area ranges read it"), name, "area")
    crowd = _column(anns, "iscrowd", name, "", default=0, required=False)
    if not all(c in (0, 1) for c in crowd):
        i = next(i for i, c in enumerate(crowd) if c not in (0, 1))
        raise ValueError(f"{FN}: {name}[{i}]['iscrowd'] must be 0 or 1, got {crowd[i]!r:.40}")
    gt = Objects(image, category, np.zeros((len(anns), 4)), area, np.array(crowd, bool))
    sizes = None
    if iou_type == "bbox":
        gt.bbox = _boxes(_column(anns, "bbox", name, "[x, y, width, height]"), name)
    else:
        sizes = heights, widths = _image_sizes(images, image_ids)
        segs = _column(anns, "segmentation", name, "polygons or RLE, for iou_type='segm'")
        gt.masks = read_segmentations(segs, heights[image], widths[image],
                                      lambda i: f"{FN}: {name}[{i}]['segmentation']")
    return sorted_images, sorted_cats, gt, sizes


def _image_sizes(images, image_ids):
    """(heights, widths) of the images, in sorted-id order ('segm' needs them)."""
    name = "coco_gt['images']"
    sizes = [_ints(_column(images, key, name, "a positive int, for iou_type='segm'"), name, key)
             for key in ("height", "width")]
    for key, s in zip(("height", "width"), sizes):
        if (s < 1).any():
            i = np.flatnonzero(s < 1)[0]
            raise ValueError(f"{FN}: {name}[{i}]['{key}'] must be a positive int, got {s[i]}")
    order = np.argsort(image_ids)       # file order -> sorted-id order
    return sizes[0][order], sizes[1][order]


def read_detections(detections, sorted_images, sorted_cats, iou_type, sizes):
    """-> Objects of the detections (file order), checked against the ground truth's ids."""
    name = "detections"
    dets = _list_of_dicts(detections, name)
    image = _index(_ints(_column(dets, "image_id", name, "the image's id"), name, "image_id"),
                   sorted_images, name, "image_id", "image")
    category = _index(_ints(_column(dets, "category_id", name, "the category's id"), name,
                            "category_id"), sorted_cats, name, "category_id", "category")
    score = _numbers(_column(dets, "score", name, "the detection's confidence"), name, "score")
    # NOTE: as pycocotools' loadRes, a detection's area is its box's w * h whenever the first
    # detection has a (non-empty) 'bbox', even for iou_type='segm'; else its mask's area.
    box_area = bool(dets) and dets[0].get("bbox") not in (None, [])
    bbox = np.zeros((len(dets), 4))
    if iou_type == "bbox" or box_area:
        why = "[x, y, width, height]" + ("" if iou_type == "bbox" else
                                         "; detections[0] has one, and then, as in pycocotools, "
                                         "every detection's area is its box's")
        bbox = _boxes(_column(dets, "bbox", name, why), name)
    dt = Objects(image, category, bbox, bbox[:, 2] * bbox[:, 3], np.zeros(len(dets), bool),
                 score)
    if iou_type == "segm":
        heights, widths = sizes
        segs = _column(dets, "segmentation", name, "an RLE, for iou_type='segm'")
        dt.masks = read_segmentations(segs, heights[image], widths[image],
                                      lambda i: f"{FN}: {name}[{i}]['segmentation']")
        if not box_area:
            dt.area = dt.masks.area().astype(np.float64)
    return dt

