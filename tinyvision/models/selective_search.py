"""Selective search [Uijlings]: class-agnostic object proposals by hierarchical grouping.

Objects come at every scale, and a pixel-level segmentation alone cannot tell which
segments make one object. Selective search starts from many small regions (the graph
segmentation of [FH]) and greedily merges the two most similar neighbours until one region
is left; every region ever formed, from the smallest to the whole image, gives one box.
Where one way of grouping fails (two objects of one colour, a shadow across an object),
another succeeds, so the paper diversifies: several colour spaces, several thresholds k
and several similarity measures, each a separate hierarchy, their boxes ranked together::

    image (3, H, W) RGB in [0, 1]
      │ for each colour space (HSV, Lab, ...)          to_colour_space
      │   for each threshold k                          felzenszwalb: initial regions
      │     region features: size, box, colour and      region_features
      │     texture histograms; adjacent pairs          adjacent_pairs
      │     for each similarity (C+T+S+F, T+S+F, ...)
      │       merge the most similar pair until one     hierarchical_grouping
      │       region is left: one box per region
      └ rank: hierarchy position x random number, one list of unique boxes    rank_boxes

Equation map (section 3 of [Uijlings]):

    s_colour(ri, rj) = sum_k min(c_i^k, c_j^k)   25 bins per channel, L1-normalised  Eq. (1)
    C_t = (size(ri) C_i + size(rj) C_j) / (size(ri) + size(rj))    merged histograms Eq. (2)
    s_texture(ri, rj) = sum_k min(t_i^k, t_j^k)  8 orientations x 10 bins x channel  Eq. (3)
    s_size(ri, rj) = 1 - (size(ri) + size(rj)) / size(im)   small regions merge first Eq. (4)
    s_fill(ri, rj) = 1 - (size(BB_ij) - size(ri) - size(rj)) / size(im)   (gaps)     Eq. (5)
    s(ri, rj) = a1 s_colour + a2 s_texture + a3 s_size + a4 s_fill,  a in {0, 1}     Eq. (6)
    ranking: value = (position in the hierarchy, 1 for the whole image) x RND       Sec. 3.3

    similarity(...) computes Eqs. (1), (3)-(6); hierarchical_grouping merges by Eq. (2).

Texture: the paper takes Gaussian derivatives in eight orientations (sigma = 1) and a
10-bin histogram per orientation and channel; here each pixel's gradient (Gaussian
derivative, sigma = 1) votes, per channel, into one of 8 orientation sectors and one of 10
magnitude bins: the same 240 numbers for 3 channels, SIFT-like as in the paper.

References
----------
[Uijlings] J. R. R. Uijlings, K. E. A. van de Sande, T. Gevers and A. W. M. Smeulders,
    "Selective Search for Object Recognition", IJCV 104(2), 2013.
[FH] P. F. Felzenszwalb and D. P. Huttenlocher, "Efficient Graph-Based Image Segmentation",
    IJCV 59(2), 2004 (kernels/felzenszwalb).
"""
import heapq
import numbers

import numpy as np

from .. import kernels
from ..data.transforms.color import rgb_to_hsv
from ..kernels.felzenszwalb.reference import gaussian_smooth
from ..tensor import Tensor, as_array

# Diversification strategies of [Uijlings] (Table 5, "single", "fast" and "quality"): colour
# spaces x thresholds k (for 0..255 intensities) x similarity combinations, each a string of
# C (colour), T (texture), S (size), F (fill).
MODES = {
    "single": dict(colour_spaces=("hsv",), ks=(100,), similarities=("CTSF",)),
    "fast": dict(colour_spaces=("hsv", "lab"), ks=(50, 100), similarities=("CTSF", "TSF")),
    "quality": dict(colour_spaces=("hsv", "lab", "rgi", "h", "i"), ks=(50, 100, 150, 300),
                    similarities=("CTSF", "TSF", "F", "S")),
}
SIGMA = 0.8          # Gaussian smoothing before the graph segmentation, as [FH]
# Initial regions under MIN_SIZE pixels are merged into a neighbour.  The authors' demo takes
# min_size = k (50..300 px on ~500x375 images), which on 128x128 scenes would erase objects
# of 12 px; 20 (scikit-image's default) kept the most recall with the fewest boxes on
# ShapesScenes (100 test images, fast mode: recall@0.5 with 300 boxes 1.0 for 20, 0.997 for
# 5 and 10, with 410, 877 and 623 boxes per image).
MIN_SIZE = 20
COLOUR_BINS, ORIENTATIONS, MAGNITUDE_BINS = 25, 8, 10
COLOUR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")


# ---- colour spaces ---------------------------------------------------------------------------
def to_colour_space(image, name):
    """(3, H, W) RGB in [0, 1] -> (C, H, W) float32 in [0, 1] in colour space ``name``.

    rgb; hsv (hue in turns); lab (CIE L*a*b*, D65, as 8-bit OpenCV: L/100, (a+128)/255,
    (b+128)/255); rgi (normalised r = R/(R+G+B), g, and intensity I = (R+G+B)/3); h (hue
    alone); i (intensity alone).
    """
    if name == "rgb":
        return image.astype(np.float32)
    if name in ("hsv", "h"):
        hsv = rgb_to_hsv(image.astype(np.float32))
        return hsv if name == "hsv" else hsv[:1]
    if name in ("rgi", "i"):
        total = image.sum(axis=0, keepdims=True)
        intensity = total / 3
        if name == "i":
            return intensity.astype(np.float32)
        rg = image[:2] / np.where(total > 0, total, 1)
        return np.concatenate([rg, intensity]).astype(np.float32)
    if name == "lab":
        return rgb_to_lab(image)
    raise ValueError(f"selective_search: colour space must be one of {COLOUR_SPACES}, got {name!r}")


def rgb_to_lab(image):
    """(3, H, W) sRGB in [0, 1] -> CIE L*a*b* (D65) scaled to [0, 1] (see to_colour_space)."""
    rgb = image.astype(np.float64)
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    to_xyz = np.array([[0.412453, 0.357580, 0.180423],
                       [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]])
    white = np.array([0.950456, 1.0, 1.088754])[:, None, None]       # D65's X, Y, Z
    xyz = np.einsum("ij,jhw->ihw", to_xyz, linear) / white
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    L = 116 * f[1] - 16
    a, b = 500 * (f[0] - f[1]), 200 * (f[1] - f[2])
    return np.stack([L / 100, (a + 128) / 255, (b + 128) / 255]).astype(np.float32)


# ---- initial regions ------------------------------------------------------------------------
def felzenszwalb(image, scale=1.0, sigma=0.8, min_size=20):
    """Felzenszwalb-Huttenlocher graph segmentation [FH] of an image in [0, 1].

    Pixels are the nodes of an 8-connected graph weighted by colour distance (after a
    Gaussian blur of ``sigma``); edges are visited by increasing weight and merge two
    components when the weight is at most each one's internal difference plus k / size,
    with k = scale / 255 (the paper's k for 0..255 intensities, as scikit-image's
    ``scale``); components under ``min_size`` pixels are then merged away.

    Parameters
    ----------
    image : (C, H, W) or (H, W), float values in [0, 1] (Tensor or ndarray)
    scale : float >= 0, larger: fewer, larger segments
    sigma : float >= 0
    min_size : int >= 0

    Returns
    -------
    Tensor (H, W) int64: segment labels 0..n-1, numbered in raster order of first pixel.
    """
    fn = "felzenszwalb"
    x = _image(image, fn, channels=None)
    k, sigma = _number(scale, fn, "scale") / 255, _number(sigma, fn, "sigma")
    return Tensor._make(_segment(x, k, sigma, _number(min_size, fn, "min_size", integer=True)))


def _segment(x, k, sigma, min_size):
    return kernels.get("felzenszwalb", x).felzenszwalb(x, k, sigma, min_size)


# ---- region features ------------------------------------------------------------------------
def gradient_bins(image):
    """(C, H, W) image -> (C, H, W) int64 texture bin of each pixel and channel in 0..79.

    Gaussian derivatives (sigma = 1: blur, then central differences, the border pixels
    repeated); the gradient's angle picks one of 8 sectors of 45 degrees, its magnitude
    (over the channel's largest in the image) one of 10 bins: bin = 10 * sector + level.
    """
    smooth = np.pad(gaussian_smooth(image, 1.0), ((0, 0), (1, 1), (1, 1)), mode="edge")
    gy = (smooth[:, 2:, 1:-1] - smooth[:, :-2, 1:-1]) / 2
    gx = (smooth[:, 1:-1, 2:] - smooth[:, 1:-1, :-2]) / 2
    sector = np.floor((np.arctan2(gy, gx) + np.pi) / (2 * np.pi) * ORIENTATIONS).astype(np.int64)
    magnitude = np.hypot(gx, gy)
    largest = magnitude.max(axis=(1, 2), keepdims=True)
    level = np.floor(magnitude / np.where(largest > 0, largest, 1) * MAGNITUDE_BINS)
    return (np.minimum(sector, ORIENTATIONS - 1) * MAGNITUDE_BINS
            + np.minimum(level, MAGNITUDE_BINS - 1).astype(np.int64))


def _histograms(labels, bins, n_bins, n_regions):
    """(R, C * n_bins) per-region histograms of per-pixel bins (C, H, W), L1-normalised."""
    C = bins.shape[0]
    flat = labels.ravel()
    index = (flat[None] * C + np.arange(C)[:, None]) * n_bins + bins.reshape(C, -1)
    counts = np.bincount(index.ravel(), minlength=n_regions * C * n_bins)
    hist = counts.reshape(n_regions, C * n_bins).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def pixel_bins(image):
    """Per-pixel histogram bins of a (C, H, W) image in [0, 1]: (colour, texture), each
    (C, H, W) int64: colour in 0..24 (25 equal bins), texture in 0..79 (gradient_bins)."""
    colour = np.minimum((image * COLOUR_BINS).astype(np.int64), COLOUR_BINS - 1)
    return colour, gradient_bins(image)


def region_features(labels, colour_bins, texture_bins):
    """Sizes (R,), boxes (R, 4) xyxy, colour (R, 25C) and texture (R, 80C) histograms of the
    regions of a label map (H, W), from the per-pixel bins of ``pixel_bins``.

    Boxes are in pixel edges: a region covering columns 3..5 has x1 = 3, x2 = 6.
    """
    R = int(labels.max()) + 1
    H, W = labels.shape
    flat = labels.ravel()
    size = np.bincount(flat, minlength=R)
    # Pixels grouped by region (raster order inside each group): rows come sorted, so a
    # region's first and last rows are its group's ends; columns need a min / max.
    order = np.argsort(flat, kind="stable")
    ys, xs = np.divmod(order, W)
    starts = np.cumsum(size) - size
    boxes = np.stack([np.minimum.reduceat(xs, starts), ys[starts],
                      np.maximum.reduceat(xs, starts) + 1, ys[starts + size - 1] + 1], axis=1)
    return dict(size=size.astype(np.float64), box=boxes.astype(np.float64),
                colour=_histograms(labels, colour_bins, COLOUR_BINS, R),
                texture=_histograms(labels, texture_bins, ORIENTATIONS * MAGNITUDE_BINS, R))


def adjacent_pairs(labels):
    """(P, 2) int64 pairs i < j of regions that touch (8-neighbourhood, as the graph's)."""
    R = int(labels.max()) + 1
    shifts = [(labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:]),
              (labels[:-1, :-1], labels[1:, 1:]), (labels[1:, :-1], labels[:-1, 1:])]
    a = np.concatenate([p.ravel() for p, q in shifts])
    b = np.concatenate([q.ravel() for p, q in shifts])
    touching = a != b
    lo, hi = np.minimum(a, b)[touching], np.maximum(a, b)[touching]
    keys = np.unique(lo * R + hi)
    return np.stack([keys // R, keys % R], axis=1)


# ---- hierarchical grouping ------------------------------------------------------------------
def similarity(regions, i, j, measures, image_area):
    """s(r_i, r_j) for index arrays (or ints) i, j: the sum of Eqs. (1), (3), (4), (5)
    picked by ``measures``, a string of C, T, S, F (Eq. (6))."""
    s = 0.0
    if "C" in measures:
        s = s + np.minimum(regions["colour"][i], regions["colour"][j]).sum(axis=-1)
    if "T" in measures:
        s = s + np.minimum(regions["texture"][i], regions["texture"][j]).sum(axis=-1)
    size_ij = regions["size"][i] + regions["size"][j]
    if "S" in measures:
        s = s + 1 - size_ij / image_area
    if "F" in measures:
        bi, bj = regions["box"][i], regions["box"][j]
        bb = (np.maximum(bi[..., 2], bj[..., 2]) - np.minimum(bi[..., 0], bj[..., 0])) * (
            np.maximum(bi[..., 3], bj[..., 3]) - np.minimum(bi[..., 1], bj[..., 1]))
        s = s + 1 - (bb - size_ij) / image_area
    return s


def hierarchical_grouping(features, pairs, measures, image_area):
    """Algorithm 1 of [Uijlings]: merge the most similar neighbours until one region is left.

    ``features`` from region_features (R initial regions), ``pairs`` from adjacent_pairs.
    Returns the boxes (M, 4) of all regions in the order they were formed: the R initial
    regions, then each merge (M = 2R - 1 for a connected image; the last is the whole image).
    """
    R = len(features["size"])
    M = 2 * R - 1
    regions = {}
    for name, value in features.items():  # room for the M - R merged regions
        regions[name] = np.empty((M,) + value.shape[1:], value.dtype)
        regions[name][:R] = value
    neighbours = [set() for _ in range(M)]
    for i, j in pairs.tolist():
        neighbours[i].add(j), neighbours[j].add(i)
    # NOTE: a heap with lazy deletion: pairs with a merged-away region stay in it and are
    # skipped when popped; ties go to the lower indices, so the result is deterministic.
    s = similarity(regions, pairs[:, 0], pairs[:, 1], measures, image_area)
    heap = [(-v, i, j) for v, (i, j) in zip(s.tolist(), pairs.tolist())]
    heapq.heapify(heap)
    alive = np.zeros(M, bool)
    alive[:R] = True
    t = R
    while heap:
        _, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):
            continue
        si, sj = regions["size"][i], regions["size"][j]
        for name in ("colour", "texture"):  # Eq. (2)
            regions[name][t] = (si * regions[name][i] + sj * regions[name][j]) / (si + sj)
        regions["size"][t] = si + sj
        bi, bj = regions["box"][i], regions["box"][j]
        regions["box"][t] = np.concatenate([np.minimum(bi[:2], bj[:2]), np.maximum(bi[2:], bj[2:])])
        alive[i] = alive[j] = False
        alive[t] = True
        around = (neighbours[i] | neighbours[j]) - {i, j}
        for n in around:
            neighbours[n] -= {i, j}
            neighbours[n].add(t)
        neighbours[t] = around
        if around:
            js = np.fromiter(around, np.int64, len(around))
            for v, n in zip(similarity(regions, t, js, measures, image_area).tolist(), js.tolist()):
                heapq.heappush(heap, (-v, n, t))
        t += 1
    return regions["box"][:t]


# ---- ranking --------------------------------------------------------------------------------
def rank_boxes(hierarchies, rng):
    """One list of unique boxes from several hierarchies, best first (Sec. 3.3).

    In each hierarchy the last region formed (the whole image) has position 1, the one
    before 2, and so on down to the initial regions; each box gets the value position x
    RND (uniform in [0, 1)), so large regions tend to come first without any one hierarchy
    dominating.  All boxes are sorted by value; of identical boxes the first is kept (a box
    that several strategies found gets its best rank).
    """
    values = np.concatenate([(len(b) - np.arange(len(b))) * rng.random(len(b))
                             for b in hierarchies])
    boxes = np.concatenate(hierarchies)[np.argsort(values, kind="stable")]
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)]


def selective_search(image, mode="fast", max_proposals=None, seed=0, ks=None,
                     colour_spaces=None, similarities=None, sigma=SIGMA, min_size=MIN_SIZE):
    """Object proposals by selective search [Uijlings]: (K, 4) xyxy boxes, best first.

    Parameters
    ----------
    image : (3, H, W) RGB in [0, 1], Tensor or ndarray
    mode : "single", "fast" or "quality": a strategy of MODES (colour spaces, k values,
        similarity combinations); ``ks``, ``colour_spaces`` and ``similarities`` override
        its parts (e.g. similarities=("CTSF",) for one combination)
    max_proposals : keep at most this many of the ranked boxes (None: all)
    seed : the random numbers of the ranking (same seed, same boxes in the same order)
    sigma, min_size : of the initial segmentation (felzenszwalb, with k = each of ``ks`` /
        255); defaults SIGMA = 0.8 and MIN_SIZE = 20 (see their comments)

    Returns
    -------
    Tensor (K, 4) float32: unique boxes (x1, y1, x2, y2) in pixel edges, ranked.
    """
    fn = "selective_search"
    x = _image(image, fn, channels=3)
    strategy = _strategy(fn, mode, ks, colour_spaces, similarities)
    sigma, min_size = _number(sigma, fn, "sigma"), _number(min_size, fn, "min_size", True)
    if max_proposals is not None:
        max_proposals = _number(max_proposals, fn, "max_proposals", integer=True)
    seed = _number(seed, fn, "seed", integer=True)
    H, W = x.shape[1:]
    hierarchies = []
    for space in strategy["colour_spaces"]:
        converted = to_colour_space(x, space)
        bins = pixel_bins(converted)
        for k in strategy["ks"]:
            labels = _segment(converted, float(k) / 255, sigma, min_size)
            features = region_features(labels, *bins)
            pairs = adjacent_pairs(labels)
            for measures in strategy["similarities"]:
                hierarchies.append(hierarchical_grouping(features, pairs, measures, H * W))
    boxes = rank_boxes(hierarchies, np.random.default_rng(seed))
    if max_proposals is not None:
        boxes = boxes[:max_proposals]
    return Tensor._make(boxes.astype(np.float32))


# ---- data sets ------------------------------------------------------------------------------
def proposals_for(dataset, indices=None, cache=None, refresh=False, progress=False, **kwargs):
    """Selective search over the images of a data set, optionally cached in an ``.npz`` file.

    Parameters
    ----------
    dataset : items (image (3, H, W), target), e.g. ``ShapesScenes("train")``
    indices : the items to run on (default: all)
    cache : path of an ``.npz`` file: when it holds the proposals of these items with these
        settings they are read back; otherwise they are computed and written there
        (atomically, no pickle). The settings are kept in its ``meta``.
    refresh : compute them even when ``cache`` holds them (and write it again)
    progress : show a tqdm bar
    kwargs : for ``selective_search`` (mode, max_proposals, seed, ...)

    Returns
    -------
    list of (K_i, 4) float32 ndarrays, one per item, ranked as ``selective_search``'s.
    """
    from tqdm import tqdm

    from ..serialization import load, save
    indices = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
    meta = dict(task="selective_search", dataset=repr(dataset), indices=indices,
                settings={k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
    if cache is not None and not refresh:
        try:
            saved = load(cache)
        except FileNotFoundError:
            saved = None
        if saved is not None and saved.get("meta") == meta:
            ends = np.cumsum(saved["counts"])
            return [saved["boxes"][end - n:end] for n, end in zip(saved["counts"], ends)]
    proposals = [selective_search(dataset[i][0], **kwargs).numpy()
                 for i in tqdm(indices, desc="selective search", disable=not progress)]
    if cache is not None:
        counts = np.array([len(p) for p in proposals], np.int64)
        boxes = np.concatenate(proposals) if proposals else np.zeros((0, 4), np.float32)
        save({"meta": meta, "boxes": boxes, "counts": counts}, cache)
    return proposals


# ---- argument checks ------------------------------------------------------------------------
def _image(image, fn, channels):
    """The image as a float32/float64 (C, H, W) ndarray, checked (see the callers)."""
    try:
        x = as_array(image)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: image must be a (C, H, W) array or Tensor, got "
                        f"{type(image).__name__} ({e})") from None
    if x.ndim == 2 and channels is None:
        x = x[None]
    want = "(C, H, W) or (H, W)" if channels is None else f"({channels}, H, W) RGB"
    if x.ndim != 3 or (channels is not None and x.shape[0] != channels) or 0 in x.shape:
        raise ValueError(f"{fn}: image must be {want}, got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fn}: image must hold floats in [0, 1] (float32 or float64), got "
                        f"dtype {x.dtype}")
    if not np.isfinite(x).all() or (channels is not None and (x.min() < 0 or x.max() > 1)):
        raise ValueError(f"{fn}: image values must be finite{' and in [0, 1]' if channels else ''}"
                         f", got min {x.min()}, max {x.max()}")
    return x


def _strategy(fn, mode, ks, colour_spaces, similarities):
    """MODES[mode] with the parts given overridden, every part checked."""
    if mode not in MODES:
        raise ValueError(f"{fn}: mode must be one of {tuple(MODES)}, got {mode!r}")
    strategy = dict(MODES[mode])
    for name, value in (("ks", ks), ("colour_spaces", colour_spaces),
                        ("similarities", similarities)):
        if value is not None:
            strategy[name] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not all(isinstance(k, numbers.Real) and 0 <= k < np.inf for k in strategy["ks"]):
        raise ValueError(f"{fn}: ks must hold finite numbers >= 0, got {strategy['ks']}")
    for space in strategy["colour_spaces"]:
        if space not in COLOUR_SPACES:
            raise ValueError(f"{fn}: colour space must be one of {COLOUR_SPACES}, got {space!r}")
    for measures in strategy["similarities"]:
        if not isinstance(measures, str) or not measures or set(measures) - set("CTSF"):
            raise ValueError(f"{fn}: similarities must be strings of the letters C (colour), T "
                             f"(texture), S (size), F (fill), got {measures!r}")
    if not all(strategy.values()):
        raise ValueError(f"{fn}: ks, colour_spaces and similarities need one entry at least, "
                         f"got {strategy}")
    return strategy


def _number(value, fn, name, integer=False):
    """A finite number >= 0 (an int when ``integer``), else a ValueError naming it."""
    kinds = numbers.Integral if integer else numbers.Real
    if (not isinstance(value, kinds) or isinstance(value, bool) or not value >= 0
            or not np.isfinite(value)):
        raise ValueError(f"{fn}: {name} must be {'an int' if integer else 'a finite number'} "
                         f">= 0, got {value!r}")
    return int(value) if integer else float(value)
