"""``ShapesScenes``: the embedded synthetic data set for detection and segmentation.

Each image is a textured, noisy background with 1 to ``max_objects`` coloured shapes (circle,
square, triangle, cross, ring) of long side about 8 to 80 pixels (at 128x128), stretched and
rotated, later shapes partly hiding earlier ones. Every item is drawn on demand from its own
random stream ``(seed, split, mode, index)``: random access is cheap, a split never needs to
sit in memory, and item i is the same on every machine and in every order of access.

Targets follow torchvision's detection convention (what the detectors of ``models`` take):

    image      (3, H, W) float32 in [0, 1]
    boxes      (K, 4) float32   xyxy pixels, the tight box of the *visible* mask
    labels     (K,) int64       1..C (``CLASSES[label - 1]``); 0 is background
    masks      (K, H, W) uint8  visible part of each object (objects drawn back to front)
    semantic   (H, W) int64     label of the object each pixel shows, 0 for background
    image_id   int              the index

Splits (fixed; each has its own random streams, so they share no image):

    split   default n   stream
    train   2000        (seed, 0, mode, index)
    val     500         (seed, 1, mode, index)
    test    500         (seed, 2, mode, index)

Single-object mode (``single_object=True``): exactly one larger shape (long side 30 to 75 %
of the image) per image, for classification, localization and CAM. With
``target_type='label'`` an item is ``(image, class_index)`` with class_index in 0..C−1
(``CLASSES[class_index]``, ready for cross-entropy); otherwise the same target dict as above
with K = 1.
"""
import numbers

import numpy as np

from .dataset import Dataset, check_index
from .shapes_draw import CLASSES, draw_scene, make_noise_bank, pixel_grid

SPLITS = {"train": (0, 2000), "val": (1, 500), "test": (2, 500)}


class ShapesScenes(Dataset):
    """Synthetic scenes of occluding shapes with boxes, labels, instance and semantic masks.

    Parameters
    ----------
    split : 'train' | 'val' | 'test'
    n : int, number of images (default 2000 / 500 / 500, see the module docstring)
    image_size : int, side S of the square images (default 128; object sizes scale with it)
    max_objects : int, 1..K objects per image, drawn uniformly (ignored in single-object mode)
    single_object : bool, one larger object per image
    seed : int, the base of every item's random stream
    target_type : 'detection' (target dict) or 'label' (class index; single-object mode only)
    transforms : callable(image, target) -> (image, target), applied to every item
    """

    CLASSES = CLASSES

    def __init__(self, split="train", n=None, image_size=128, max_objects=6,
                 single_object=False, seed=0, target_type="detection", transforms=None):
        if split not in SPLITS:
            raise ValueError(f"ShapesScenes: split must be one of {sorted(SPLITS)}, got {split!r}")
        for name, value, low in (("n", n, 1), ("image_size", image_size, 32),
                                 ("max_objects", max_objects, 1), ("seed", seed, 0)):
            if value is None and name == "n":
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise ValueError(f"ShapesScenes: {name} must be an int >= {low}, got {value!r}")
        if target_type not in ("detection", "label"):
            raise ValueError(f"ShapesScenes: target_type must be 'detection' or 'label', got "
                             f"{target_type!r}")
        if target_type == "label" and not single_object:
            raise ValueError("ShapesScenes: target_type='label' needs single_object=True (a "
                             "scene with several objects has no single label)")
        if transforms is not None and not callable(transforms):
            raise TypeError(f"ShapesScenes: transforms must be callable, got {transforms!r}")
        self.split, self.seed = split, int(seed)
        self.n = SPLITS[split][1] if n is None else int(n)
        self.image_size, self.max_objects = int(image_size), int(max_objects)
        self.single_object, self.target_type = bool(single_object), target_type
        self.transforms = transforms
        s = self.image_size
        self.size_range = (0.3 * s, 0.75 * s) if single_object else (max(6.0, s / 16), s * 0.625)
        self._grid = pixel_grid(s)
        self._noise = make_noise_bank(self.seed, s)

    def __len__(self):
        return self.n

    def __repr__(self):
        mode = ", single_object=True" if self.single_object else ""
        return (f"ShapesScenes(split={self.split!r}, n={self.n}, image_size={self.image_size}"
                f"{mode}, seed={self.seed})")

    def generate(self, index):
        """Item ``index`` without transforms: (image, target dict)."""
        rng = np.random.default_rng([self.seed, SPLITS[self.split][0], int(self.single_object),
                                     index])
        n_objects = 1 if self.single_object else int(rng.integers(1, self.max_objects + 1))
        image, owner, kinds = draw_scene(rng, self.image_size, n_objects, self.size_range,
                                         self._grid, self._noise)
        return image, scene_target(owner, kinds, index)

    def __getitem__(self, index):
        index = check_index(index, self.n, "ShapesScenes")
        image, target = self.generate(index)
        if self.target_type == "label":
            target = int(target["labels"][0]) - 1
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def arrays(self, indices=None):
        """Materialise items (all by default) as arrays for fast training of small models.

        Returns a dict: ``images`` (N, 3, S, S) float32, ``semantic`` (N, S, S) int64, and per
        image lists ``boxes``, ``labels``, ``masks``; in single-object mode also ``label``
        (N,) int64 class indices 0..C−1 and ``box`` (N, 4) float32. No transforms applied.
        Memory per 128x128 image: 0.2 MB image, 0.13 MB semantic map, 16 kB per mask.
        """
        indices = range(self.n) if indices is None else [check_index(i, self.n, "arrays")
                                                        for i in indices]
        s = self.image_size
        images = np.empty((len(indices), 3, s, s), np.float32)
        semantic = np.empty((len(indices), s, s), np.int64)
        boxes, labels, masks = [], [], []
        for k, i in enumerate(indices):
            images[k], t = self.generate(i)
            semantic[k] = t["semantic"]
            boxes.append(t["boxes"]), labels.append(t["labels"]), masks.append(t["masks"])
        out = {"images": images, "semantic": semantic, "boxes": boxes, "labels": labels,
               "masks": masks}
        if self.single_object:
            out["label"] = np.array([lab[0] - 1 for lab in labels], dtype=np.int64)
            out["box"] = np.stack(boxes)[:, 0] if boxes else np.zeros((0, 4), np.float32)
        return out

    def to_coco(self, segmentation=True):
        """This split as a COCO-format ground-truth dict (``images``, ``annotations``,
        ``categories``), with masks as compressed RLE when ``segmentation``. File names are
        ``{split}_{index:05d}.png``; ``write_coco`` writes the pictures themselves."""
        from .coco import targets_to_coco
        size = (self.image_size, self.image_size)
        items = ((size, self.generate(i)[1], f"{self.split}_{i:05d}.png") for i in range(self.n))
        return targets_to_coco(items, self.CLASSES, segmentation=segmentation)


def scene_target(owner, kinds, index):
    """Target dict from the owner map (H, W) int16 (−1 background, else object k) and the
    class index of each object (see the module docstring for the entries)."""
    k = len(kinds)
    h, w = owner.shape
    labels = np.asarray(kinds, dtype=np.int64) + 1
    masks = owner[None] == np.arange(k, dtype=np.int16)[:, None, None]        # (K, H, W)
    rows, cols = masks.any(axis=2), masks.any(axis=1)                       # (K, H), (K, W)
    boxes = np.stack([cols.argmax(1), rows.argmax(1),
                      w - cols[:, ::-1].argmax(1), h - rows[:, ::-1].argmax(1)], axis=1)
    lookup = np.append(labels, 0)          # owner −1 picks the last entry: background 0
    return {"boxes": boxes.astype(np.float32).reshape(k, 4), "labels": labels,
            "masks": masks.astype(np.uint8), "semantic": lookup[owner], "image_id": int(index)}
