"""COCO-format detection data: read (``CocoDetection``) and write (``write_coco``).

A COCO annotation file is JSON with three lists (Lin et al., "Microsoft COCO: Common Objects
in Context", ECCV 2014, and the format page of cocodataset.org):

    images       {"id", "file_name", "width", "height"}
    annotations  {"id", "image_id", "category_id", "bbox": [x, y, width, height],
                  "area", "iscrowd", "segmentation": polygons or RLE}
    categories   {"id", "name", "supercategory"}

``CocoDetection(root, ann_file)`` gives the same (image, target) items as ``ShapesScenes``:
image (3, H, W) float32 in [0, 1] read from ``root/file_name``, target with ``boxes`` (K, 4)
xyxy, ``labels`` (K,) (the category ids, as torchvision's references keep them: COCO's own
ids run 1..90 with gaps, 0 stays background), ``image_id``, ``area``, ``iscrowd`` and, when
the annotations have segmentations, ``masks`` (K, H, W) uint8 and ``semantic`` (H, W).

Loading runs no code from the file (``json`` only) and checks every field it uses, so a bad
file fails at once with the file and the field named, not with a KeyError in an epoch.
"""
import json
import numbers
import os

import numpy as np

from . import rle
from ._io import atomic_write, encode_png, iterate_samples, read_image
from .dataset import Dataset, check_index


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)


def load_json(path, where):
    """Parse a JSON file; errors name the file."""
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: annotation file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def check_coco(data, path):
    """Validate a COCO dict; returns (images list, {image_id: [annotations]}, {cat_id: name})."""
    def fail(message):
        raise ValueError(f"{path}: {message}")

    if not isinstance(data, dict):
        fail(f"the top level must be a JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            fail(f"missing '{key}' (a COCO detection file has images, annotations, categories)")
        if not isinstance(data[key], list):
            fail(f"'{key}' must be a list, got {type(data[key]).__name__}")
    categories = {}
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or not _is_int(c.get("id")) or not isinstance(c.get("name"), str):
            fail(f"categories[{i}] needs an int 'id' and a string 'name', got {c!r:.100}")
        if c["id"] < 1:
            fail(f"categories[{i}].id is {c['id']}: ids must be >= 1 (label 0 is background)")
        if c["id"] in categories:
            fail(f"categories[{i}].id {c['id']} appears twice")
        categories[c["id"]] = c["name"]
    by_image = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not _is_int(im.get("id")) \
                or not isinstance(im.get("file_name"), str):
            fail(f"images[{i}] needs an int 'id' and a string 'file_name', got {im!r:.100}")
        for key in ("width", "height"):
            if key in im and not (_is_int(im[key]) and im[key] > 0):
                fail(f"images[{i}].{key} must be a positive int, got {im[key]!r}")
        if im["id"] in by_image:
            fail(f"images[{i}].id {im['id']} appears twice")
        by_image[im["id"]] = []
    for i, a in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(a, dict):
            fail(f"{where} must be an object, got {a!r:.100}")
        for key in ("image_id", "category_id", "bbox"):
            if key not in a:
                fail(f"{where} is missing '{key}'")
        for key in ("image_id", "category_id"):
            if not _is_int(a[key]):
                fail(f"{where}.{key} must be an int, got {a[key]!r:.100}")
        if a["image_id"] not in by_image:
            fail(f"{where}.image_id {a['image_id']!r} is not the id of any image")
        if a["category_id"] not in categories:
            fail(f"{where}.category_id {a['category_id']!r} is not the id of any category")
        box = a["bbox"]
        if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
            fail(f"{where}.bbox must be 4 numbers [x, y, width, height], got {box!r:.100}")
        if box[2] < 0 or box[3] < 0:
            fail(f"{where}.bbox has a negative width or height: {box!r}")
        if a.get("iscrowd", 0) not in (0, 1):
            fail(f"{where}.iscrowd must be 0 or 1, got {a['iscrowd']!r}")
        by_image[a["image_id"]].append(a)
    return data["images"], by_image, categories


def annotations_to_target(anns, image_id, height, width, with_masks, where):
    """The target dict (module docstring) of one image's COCO annotations."""
    xywh = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(-1, 4)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    labels = np.array([a["category_id"] for a in anns], dtype=np.int64)
    area = np.array([a.get("area", w * h) for a, (w, h) in zip(anns, xywh[:, 2:])],
                    dtype=np.float32)
    target = {"boxes": boxes, "labels": labels, "image_id": image_id, "area": area,
              "iscrowd": np.array([a.get("iscrowd", 0) for a in anns], dtype=np.int64)}
    if with_masks:
        masks = np.zeros((len(anns), height, width), dtype=np.uint8)
        for k, a in enumerate(anns):
            seg, here = a.get("segmentation"), f"{where}: annotation id {a.get('id')!r}"
            if isinstance(seg, list):
                masks[k] = rle.polygons_to_mask(seg, height, width, here)
            elif isinstance(seg, dict):
                if list(seg.get("size", [])) != [height, width]:
                    raise ValueError(f"{here}: segmentation size {seg.get('size')!r} differs "
                                     f"from the image's {[height, width]}")
                masks[k] = rle.decode(seg, here)
            else:
                raise ValueError(f"{here} has no 'segmentation' (polygons or RLE)")
        semantic = np.zeros((height, width), dtype=np.int64)
        for k in range(len(anns)):          # later annotations on top
            semantic[masks[k] > 0] = labels[k]
        target["masks"], target["semantic"] = masks, semantic
    return target


class CocoDetection(Dataset):
    """Detection data from a COCO annotation file and a folder of pictures.

    Parameters
    ----------
    root : folder holding the pictures named by ``images[].file_name``
    ann_file : path of the COCO JSON file
    transforms : callable(image, target) -> (image, target), optional
    masks : None (decode masks when every annotation has a 'segmentation'), True or False

    Attributes: ``ids`` (image ids in file order), ``categories`` ({id: name}).
    Boxes of zero width or height (COCO has a few) are kept as the file has them; the
    geometric transforms drop them (``min_size=1``).
    """

    def __init__(self, root, ann_file, transforms=None, masks=None):
        self.root, self.ann_file, self.transforms = root, ann_file, transforms
        images, self._anns, self.categories = check_coco(load_json(ann_file, "CocoDetection"),
                                                         ann_file)
        self._images = images
        self.ids = [im["id"] for im in images]
        has_segm = all("segmentation" in a for anns in self._anns.values() for a in anns)
        if masks and not has_segm:
            raise ValueError(f"{ann_file}: masks=True, but some annotations have no "
                             "'segmentation'")
        self.masks = has_segm if masks is None else bool(masks)

    def __len__(self):
        return len(self._images)

    def __getitem__(self, index):
        info = self._images[check_index(index, len(self), "CocoDetection")]
        path = os.path.join(self.root, info["file_name"])
        image = read_image(path, f"CocoDetection ({self.ann_file}, image id {info['id']})")
        h, w = image.shape[1:]
        if (info.get("height", h), info.get("width", w)) != (h, w):
            raise ValueError(f"{self.ann_file}: image id {info['id']} says {info.get('width')}x"
                             f"{info.get('height')} but {path} is {w}x{h}")
        target = annotations_to_target(self._anns[info["id"]], info["id"], h, w, self.masks,
                                       self.ann_file)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def _categories(categories):
    """COCO category dicts from names (ids 1..C) or from dicts with 'id' and 'name'."""
    out = []
    for k, c in enumerate(categories):
        if isinstance(c, str):
            c = {"id": k + 1, "name": c}
        if not isinstance(c, dict) or not _is_int(c.get("id")) or not isinstance(c.get("name"), str):
            raise ValueError(f"write_coco: categories must be names or dicts with 'id' and "
                             f"'name', got {c!r}")
        out.append({"supercategory": "object", **c})
    return out


def targets_to_coco(items, categories, segmentation=True):
    """A COCO ground-truth dict from ``items``: iterable of ((height, width), target,
    file_name). Boxes become [x, y, w, h]; masks (when present and ``segmentation``)
    compressed RLE; area the mask's pixel count, else the box area. Annotation ids start at
    1 (pycocotools' evaluation reads id 0 as "no match")."""
    images, annotations, seen = [], [], set()
    for k, ((height, width), target, file_name) in enumerate(items):
        image_id = int(target.get("image_id", k))
        if image_id in seen:
            raise ValueError(f"write_coco: image_id {image_id} appears twice")
        seen.add(image_id)
        images.append({"id": image_id, "file_name": file_name, "height": int(height),
                       "width": int(width)})
        boxes = np.asarray(getattr(target["boxes"], "data", target["boxes"]), dtype=np.float64)
        labels = np.asarray(getattr(target["labels"], "data", target["labels"]))
        masks = target.get("masks") if segmentation else None
        masks = None if masks is None else np.asarray(getattr(masks, "data", masks))
        crowd = target.get("iscrowd")
        for j, (box, label) in enumerate(zip(boxes, labels)):
            x1, y1, x2, y2 = (float(v) for v in box)
            ann = {"id": len(annotations) + 1, "image_id": image_id,
                   "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1],
                   "iscrowd": int(np.asarray(crowd)[j]) if crowd is not None else 0}
            if masks is not None:
                ann["segmentation"] = rle.encode(masks[j])
                ann["area"] = float(masks[j].sum())
            else:
                ann["area"] = (x2 - x1) * (y2 - y1)
            annotations.append(ann)
    return {"images": images, "annotations": annotations,
            "categories": _categories(categories)}


def write_coco(ann_file, samples, categories, image_root=None, segmentation=True):
    """Write ``samples`` (an iterable of (image, target), e.g. a data set) as a COCO file.

    Pictures are written as PNG to ``image_root`` (if given) under ``target['file_name']``
    or ``{image_id:06d}.png``; then the JSON goes to ``ann_file``. Every file is written
    atomically. Returns the COCO dict.
    """
    def items():
        for k, (image, target) in enumerate(iterate_samples(samples)):
            image_id = int(target.get("image_id", k))
            name = target.get("file_name", f"{image_id:06d}.png")
            if image_root is not None:
                os.makedirs(image_root, exist_ok=True)
                atomic_write(os.path.join(image_root, name), encode_png(image, "write_coco"))
            yield np.shape(image)[-2:], target, name

    coco = targets_to_coco(items(), categories, segmentation)
    atomic_write(ann_file, json.dumps(coco))
    return coco
