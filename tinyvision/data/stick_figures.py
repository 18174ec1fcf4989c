"""``StickFigures``: a synthetic pose-estimation data set of people drawn as stick figures.

Each image is a textured, noisy background (the one ``ShapesScenes`` draws) with one stick
figure: 14 joints in the order of the Leeds Sports Pose data set (LSP) that the lectures use,
limbs drawn as thick anti-aliased lines, a round head, and sometimes an occluding patch on
top. Every item is drawn on demand from its own random stream ``(seed, split, index)``, as in
``ShapesScenes``: random access is cheap, and item i is the same on every machine.

    joint  0 r-ankle   1 r-knee   2 r-hip      3 l-hip       4 l-knee   5 l-ankle
           6 r-wrist   7 r-elbow  8 r-shoulder 9 l-shoulder 10 l-elbow 11 l-wrist
          12 neck     13 head-top

The figure faces the camera, so its right side is on the image's left (as in LSP's
annotations of a person seen from the front). A horizontal flip therefore keeps the
convention only if left and right joints swap names: ``FLIP_INDICES`` is the permutation for
``transforms.RandomHorizontalFlip(keypoint_flip_indices=FLIP_INDICES)``.

How a pose is drawn (all angles in the image plane, "down" is the torso's downward axis):
    torso     tilted up to ±25° from vertical; length 0.32 of the figure height h
    head      neck -> head-top 0.15 h, ±20° about the torso axis; a disk of radius 0.06 h
    hips      ±0.07 h sideways from the pelvis; shoulders ±0.11 h from the neck
    arms      upper arm 0.17 h at −20°..160° from down (outwards), forearm 0.16 h bent
              −120°..60° from the upper arm
    legs      thigh 0.26 h at −15°..60° from down (outwards), shin 0.26 h bent −45°..30°
    the torso and every limb are shortened by a random factor in [0.75, 1] (turned out of
    the image plane), the body's width by [0.6, 1]; h is 45 to 85 % of the image side, and
    at most a tenth of the joints' box sticks out of the image along each axis.

Targets follow torchvision's keypoint convention (one person, K = 1):

    image      (3, S, S) float32 in [0, 1]
    keypoints  (1, 14, 3) float32   x, y in pixels (pixel centres at i + 0.5) and v: 1 if the
                                    joint is visible, 0 if it is outside the image or under
                                    the occluder (its x, y are still the true position)
    boxes      (1, 4) float32       xyxy tight box of the 14 joints (all of them), the PCK
                                    reference: a joint is correct at PCK@a when its error is at
                                    most a · max(box width, box height) [YR13]
    labels     (1,) int64           1 ("person")
    image_id   int                  the index

Splits (fixed; each has its own random streams, so they share no image):

    split   default n   stream
    train   4000        (seed, 0, index)
    val     500         (seed, 1, index)
    test    500         (seed, 2, index)

References
----------
[JE10] S. Johnson, M. Everingham. Clustered Pose and Nonlinear Appearance Models for Human
       Pose Estimation. BMVC 2010 (the LSP data set and its 14 joints).
[YR13] Y. Yang, D. Ramanan. Articulated Human Detection with Flexible Mixtures of Parts.
       PAMI 2013 (PCK with the joints' bounding box as the reference size).
"""
import math
import numbers

import numpy as np

from .dataset import Dataset, check_index
from .shapes_draw import background, make_noise_bank, object_colour, pixel_grid

JOINTS = ("r-ankle", "r-knee", "r-hip", "l-hip", "l-knee", "l-ankle", "r-wrist", "r-elbow",
          "r-shoulder", "l-shoulder", "l-elbow", "l-wrist", "neck", "head-top")
FLIP_INDICES = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13)
# The limbs drawn as lines: pairs of joints (and the skeleton a picture of a pose draws).
SKELETON = ((0, 1), (1, 2), (5, 4), (4, 3), (2, 3), (6, 7), (7, 8), (11, 10), (10, 9),
            (8, 9), (12, 13))
SPLITS = {"train": (0, 4000), "val": (1, 500), "test": (2, 500)}

# Segment lengths and half widths, in units of the figure's height h (see the docstring).
TORSO, HEAD, HEAD_RADIUS = 0.32, 0.15, 0.06
HIP_HALF, SHOULDER_HALF = 0.07, 0.11
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.16, 0.26, 0.26
LIMB_RADIUS, TORSO_RADIUS = 0.028, 0.06


def _direction(angle):
    """Unit vector (x, y) of an image-plane angle measured from "down" (y grows downwards)."""
    return np.array([math.sin(angle), math.cos(angle)])


def random_pose(rng):
    """(14, 2) joint positions of a random pose, in units of the figure height, pelvis at 0."""
    deg = math.radians
    shrink = lambda: rng.uniform(0.75, 1.0)                     # out-of-plane foreshortening
    tilt = rng.uniform(-deg(25), deg(25))
    down = _direction(tilt)                                     # torso axis, pointing down
    side = np.array([down[1], -down[0]])                        # the figure's left, in image x+
    width = rng.uniform(0.6, 1.0)
    j = np.zeros((14, 2))
    j[12] = -down * TORSO * shrink()                            # neck above the pelvis
    j[13] = j[12] - _direction(tilt + rng.uniform(-deg(20), deg(20))) * HEAD
    for s, (hip, knee, ankle, shoulder, elbow, wrist) in ((-1, (2, 1, 0, 8, 7, 6)),
                                                          (1, (3, 4, 5, 9, 10, 11))):
        # s = −1 is the right side (image left: the figure faces us), s = +1 the left side;
        # an angle a "outwards" from down is tilt + s·a.
        j[hip] = s * side * HIP_HALF * width
        thigh = tilt + s * rng.uniform(-deg(15), deg(60))
        j[knee] = j[hip] + _direction(thigh) * THIGH * shrink()
        shin = thigh + s * rng.uniform(-deg(45), deg(30))
        j[ankle] = j[knee] + _direction(shin) * SHIN * shrink()
        j[shoulder] = j[12] + s * side * SHOULDER_HALF * width + down * 0.02
        arm = tilt + s * rng.uniform(-deg(20), deg(160))
        j[elbow] = j[shoulder] + _direction(arm) * UPPER_ARM * shrink()
        forearm = arm + s * rng.uniform(-deg(120), deg(60))
        j[wrist] = j[elbow] + _direction(forearm) * FOREARM * shrink()
    return j


def paint_segments(cover, grid, a, b, radius):
    """Paint thick anti-aliased segments a[k] -> b[k] of radius[k] (pixels) into ``cover``.

    The distance of a pixel centre p to segment k is |p − (a + t·(b − a))| with
    t = clip(((p − a)·(b − a)) / |b − a|², 0, 1); the coverage is clip(radius − distance + 0.5,
    0, 1), a one-pixel ramp at the edge that keeps sub-pixel positions in the picture. Each
    segment is computed only over its own box (a few hundred pixels); ``cover`` (S, S) keeps
    the largest coverage of any segment. A segment with a = b is a disk (the head).
    """
    yy, xx = grid
    size = cover.shape[0]
    for (ax, ay), (bx, by), r in zip(a.tolist(), b.tolist(), radius.tolist()):
        x0, x1 = max(int(min(ax, bx) - r - 1), 0), min(math.ceil(max(ax, bx) + r + 1), size)
        y0, y1 = max(int(min(ay, by) - r - 1), 0), min(math.ceil(max(ay, by) + r + 1), size)
        if x0 >= x1 or y0 >= y1:
            continue                                                # wholly outside the image
        dx, dy = bx - ax, by - ay
        px, py = xx[y0:y1, x0:x1] - ax, yy[y0:y1, x0:x1] - ay       # p − a over the window
        t = np.clip((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
        px -= t * dx                                                # p − (a + t·(b − a))
        py -= t * dy
        coverage = np.clip(r + 0.5 - np.sqrt(px * px + py * py), 0, 1)
        np.maximum(cover[y0:y1, x0:x1], coverage, out=cover[y0:y1, x0:x1])
    return cover


def draw_figure(rng, size, grid, noise_bank, occlude_p=0.5):
    """Paint one stick figure on a textured background.

    Returns image (3, S, S) float32 in [0, 1] and keypoints (14, 3) float32 (x, y, visible).
    """
    pose = random_pose(rng)
    height = rng.uniform(0.45, 0.85) * size                         # figure height, pixels
    joints = pose * height
    lo, hi = joints.min(0), joints.max(0)
    # Place the joints' box anywhere that keeps at least 90 % of it inside the image.
    slack = 0.1 * (hi - lo)
    offset = np.array([rng.uniform(min(-lo[k] - slack[k], size - hi[k] + slack[k]),
                                   max(-lo[k] - slack[k], size - hi[k] + slack[k]))
                       for k in range(2)])
    joints += offset

    image = background(rng, size, grid)
    pairs = np.array(SKELETON + ((12, 12),))                    # (12, 12): the torso, below
    a, b = joints[pairs[:, 0]], joints[pairs[:, 1]]
    pelvis = (joints[2] + joints[3]) / 2
    a[-1], b[-1] = pelvis, joints[12]                               # torso: pelvis -> neck
    radius = np.full(len(pairs), LIMB_RADIUS * height)
    radius[-1] = TORSO_RADIUS * height
    head_centre = (joints[12] + 2 * joints[13]) / 3                 # a disk: a = b
    a, b = np.vstack([a, head_centre]), np.vstack([b, head_centre])
    radius = np.append(radius, HEAD_RADIUS * height)
    cover = paint_segments(np.zeros((size, size), np.float32), grid, a, b, radius)
    colour = object_colour(rng, image.mean(axis=(1, 2)))
    image += cover[None] * (colour[:, None, None] - image)          # alpha-blend the figure

    visible = ((joints >= 0) & (joints < size)).all(1)
    if rng.random() < occlude_p:
        # A patch of flat colour and grain over part of the figure: joints under it are hidden.
        w, h = rng.uniform(0.15, 0.35, 2) * size
        cx, cy = joints[rng.integers(14)] + rng.uniform(-0.5, 0.5, 2) * np.array([w, h])
        x0, x1 = int(round(max(cx - w / 2, 0))), int(round(min(cx + w / 2, size)))
        y0, y1 = int(round(max(cy - h / 2, 0))), int(round(min(cy + h / 2, size)))
        if x1 > x0 and y1 > y0:
            grey = rng.uniform(0.2, 0.8) + rng.uniform(-0.1, 0.1, 3)
            image[:, y0:y1, x0:x1] = grey[:, None, None].astype(np.float32)
            covered = ((joints[:, 0] >= x0) & (joints[:, 0] < x1)
                       & (joints[:, 1] >= y0) & (joints[:, 1] < y1))
            visible &= ~covered
    oy, ox = rng.integers(0, size, 2)
    image += rng.uniform(0.01, 0.04) * noise_bank[:, oy:oy + size, ox:ox + size]
    keypoints = np.concatenate([joints, visible[:, None]], axis=1).astype(np.float32)
    return np.clip(image, 0, 1, out=image).astype(np.float32), keypoints


class StickFigures(Dataset):
    """Stick figures in random poses with their 14 joints (see the module docstring).

    Parameters
    ----------
    split : 'train' | 'val' | 'test'
    n : int, number of images (default 4000 / 500 / 500)
    image_size : int, side S of the square images (default 64; the figure scales with it)
    seed : int, the base of every item's random stream
    occlude_p : probability that an occluding patch is drawn over the figure
    transforms : callable(image, target) -> (image, target), applied to every item, e.g.
        ``transforms.RandomHorizontalFlip(0.5, keypoint_flip_indices=FLIP_INDICES)``
    """

    JOINTS, FLIP_INDICES, SKELETON = JOINTS, FLIP_INDICES, SKELETON

    def __init__(self, split="train", n=None, image_size=64, seed=0, occlude_p=0.5,
                 transforms=None):
        if split not in SPLITS:
            raise ValueError(f"StickFigures: split must be one of {sorted(SPLITS)}, got {split!r}")
        for name, value, low in (("n", n, 1), ("image_size", image_size, 32), ("seed", seed, 0)):
            if value is None and name == "n":
                continue
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise ValueError(f"StickFigures: {name} must be an int >= {low}, got {value!r}")
        if not (isinstance(occlude_p, numbers.Real) and 0 <= occlude_p <= 1):
            raise ValueError(f"StickFigures: occlude_p must be a probability in [0, 1], got "
                             f"{occlude_p!r}")
        if transforms is not None and not callable(transforms):
            raise TypeError(f"StickFigures: transforms must be callable, got {transforms!r}")
        self.split, self.seed, self.occlude_p = split, int(seed), float(occlude_p)
        self.n = SPLITS[split][1] if n is None else int(n)
        self.image_size = int(image_size)
        self.transforms = transforms
        self._grid = pixel_grid(self.image_size)
        self._noise = make_noise_bank(self.seed, self.image_size)

    def __len__(self):
        return self.n

    def __repr__(self):
        return (f"StickFigures(split={self.split!r}, n={self.n}, image_size={self.image_size}, "
                f"seed={self.seed})")

    def generate(self, index):
        """Item ``index`` without transforms: (image, target dict)."""
        rng = np.random.default_rng([self.seed, SPLITS[self.split][0], index])
        image, keypoints = draw_figure(rng, self.image_size, self._grid, self._noise,
                                       self.occlude_p)
        return image, pose_target(keypoints, index)

    def __getitem__(self, index):
        index = check_index(index, self.n, "StickFigures")
        image, target = self.generate(index)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def arrays(self, indices=None):
        """Materialise items (all by default), without transforms: a dict of ``images``
        (N, 3, S, S) float32, ``keypoints`` (N, 14, 3) float32 and ``boxes`` (N, 4) float32
        (the joints' tight box, the PCK reference). 48 kB per 64x64 image."""
        indices = range(self.n) if indices is None else [check_index(i, self.n, "arrays")
                                                        for i in indices]
        s = self.image_size
        images = np.empty((len(indices), 3, s, s), np.float32)
        keypoints = np.empty((len(indices), 14, 3), np.float32)
        for k, i in enumerate(indices):
            images[k], t = self.generate(i)
            keypoints[k] = t["keypoints"][0]
        return {"images": images, "keypoints": keypoints, "boxes": joints_box(keypoints)}


def joints_box(keypoints):
    """(..., 4) xyxy tight box of the joints (..., J, 3 or 2), visible or not."""
    xy = np.asarray(keypoints)[..., :2]
    return np.concatenate([xy.min(-2), xy.max(-2)], axis=-1).astype(np.float32)


def pose_target(keypoints, index):
    """The target dict of one figure from its (14, 3) keypoints (see the module docstring)."""
    return {"keypoints": keypoints[None], "boxes": joints_box(keypoints)[None],
            "labels": np.ones(1, np.int64), "image_id": int(index)}
