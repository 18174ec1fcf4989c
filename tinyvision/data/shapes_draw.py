"""Drawing for ``ShapesScenes``: textured backgrounds and occluding shapes, vectorised.

A scene is painted back to front. Each object is a shape test evaluated at once over the
pixel centres of its own window (a few thousand pixels, no Python loop over pixels), then
composited over what is already there. An ``owner`` map (H, W) remembers which object each
pixel shows, so the visible mask of object k is simply ``owner == k``: later objects hide parts
of earlier ones, and masks, boxes and the semantic map all describe what is visible.

Why occlusion: real detectors must find objects that are partly hidden, and mask heads must
learn that an instance mask is the visible part, not the whole shape. An object hidden too
much is not drawn at all (``min_visible``), so every pixel that shows an object is labelled.

The shapes, in local coordinates (u, v) ∈ [−1, 1]² of a rotated, stretched frame:

    circle    u² + v² ≤ 1                      square    |u| ≤ 1 and |v| ≤ 1
    triangle  2|u| − 1 ≤ v ≤ 1                 cross     (|u| ≤ t, |v| ≤ 1) or (|v| ≤ t, |u| ≤ 1)
    ring      r² ≤ u² + v² ≤ 1
"""
import math

import numpy as np

from .transforms.interp import resize_bilinear

CLASSES = ("circle", "square", "triangle", "cross", "ring")
CROSS_HALF_WIDTH = 0.32   # t above: the arms' half thickness, relative to the half length
RING_INNER = 0.5          # r above: the hole's radius, relative to the outer radius


def shape_test(kind, u, v):
    """Boolean mask of shape ``kind`` (index into CLASSES) at local coordinates u, v."""
    au, av = np.abs(u), np.abs(v)
    if kind == 0:
        return u * u + v * v <= 1
    if kind == 1:
        return (au <= 1) & (av <= 1)
    if kind == 2:
        return (v <= 1) & (v >= 2 * au - 1)
    if kind == 3:
        t = CROSS_HALF_WIDTH
        return ((au <= t) & (av <= 1)) | ((av <= t) & (au <= 1))
    r2 = u * u + v * v
    return (r2 <= 1) & (r2 >= RING_INNER ** 2)


def pixel_noise(rng, shape, std=1.0):
    """Zero-mean float32 noise of standard deviation ``std``, uniform: random bytes looked up
    in a table (20x cheaper than Gaussian draws, and to the eye the same grain)."""
    raw = np.frombuffer(rng.bytes(int(np.prod(shape))), dtype=np.uint8).reshape(shape)
    table = (np.arange(256, dtype=np.float32) - np.float32(127.5)) * np.float32(std / 73.9)
    return table[raw]


def background(rng, size, grid):
    """A (3, S, S) float32 texture: smooth gradient + colour blotches + grain + maybe stripes.

    Colours are muted (low saturation) so the objects, drawn saturated, stay visible, but the
    texture has edges and blobs that a detector must learn to ignore. The smooth parts are
    summed on a coarse (S/4)² grid and upsampled once (bilinear): a linear ramp survives
    bilinear interpolation, and so does noise that is already smooth.
    """
    # NOTE: NumPy 2 keeps float64 from np.float64 scalars; Python floats keep arrays float32.
    yy, xx = grid
    cells = size // 4
    grey = rng.uniform(0.25, 0.75)
    c0, c1 = grey + rng.uniform(-0.15, 0.15, (2, 3)).astype(np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    t = (np.arange(cells, dtype=np.float32) + 0.5) / cells - 0.5                # cell centres
    ramp = math.cos(theta) * t[None, :] + math.sin(theta) * t[:, None]         # (c, c) in ±0.7
    coarse = (c0 + c1)[:, None, None] / 2 + (c1 - c0)[:, None, None] * ramp    # gradient
    blotch_cells = int(rng.integers(3, 7))
    coarse += resize_bilinear(pixel_noise(rng, (3, blotch_cells, blotch_cells), 0.1),
                              (cells, cells))                                  # blotches
    coarse += pixel_noise(rng, (1, cells, cells), rng.uniform(0.02, 0.08))     # grain
    img = resize_bilinear(coarse, (size, size))
    if rng.random() < 0.5:                                                     # stripes
        phi, period = rng.uniform(0, math.pi), rng.uniform(6, 24)
        k = 2 * math.pi / period
        wave = np.sin((k * math.cos(phi)) * xx + (k * math.sin(phi)) * yy + rng.uniform(0, 7))
        wave *= rng.uniform(0.04, 0.12)
        img += wave
    return img


def object_colour(rng, under):
    """A saturated RGB colour (3,) float32 that differs from ``under`` (3,) by more than 0.3
    in some channel (the background mean around the object), if 4 draws can find one."""
    under = [float(c) for c in under]
    for _ in range(4):
        hue, sat, val = rng.random(), rng.uniform(0.5, 1.0), rng.uniform(0.35, 1.0)
        # HSV -> RGB: channel n (5, 3, 1 for R, G, B) is v · (1 − s · clip(min(k, 4 − k), 0, 1))
        # with k = (n + 6h) mod 6.
        rgb = []
        for n in (5, 3, 1):
            k = (n + 6 * hue) % 6
            rgb.append(val * (1 - sat * min(max(min(k, 4 - k), 0), 1)))
        if max(abs(a - b) for a, b in zip(rgb, under)) > 0.3:
            break
    return np.array(rgb, dtype=np.float32)


def place_object(rng, kind, size, long_side, grid, owner, visible, full_area, min_visible):
    """Try to place one shape; returns (window, mask, hidden) or None if it does not fit.

    window is (y0, y1, x0, x1); mask (y1 − y0, x1 − x0) bool; hidden (k,) how many visible
    pixels of each earlier object it would cover. A placement is refused if any earlier object
    would keep less than ``min_visible`` of its area.
    """
    yy, xx = grid
    max_aspect = 1.25 if CLASSES[kind] in ("circle", "ring") else 1.6
    hw = long_side / 2
    hh = hw / math.exp(rng.uniform(0, math.log(max_aspect)))
    if rng.random() < 0.5:
        hw, hh = hh, hw
    angle = rng.uniform(0, 2 * math.pi)
    cos, sin = math.cos(angle), math.sin(angle)
    ex = min(abs(hw * cos) + abs(hh * sin), size / 2)   # half extents of the rotated frame
    ey = min(abs(hw * sin) + abs(hh * cos), size / 2)
    cx, cy = rng.uniform(ex, size - ex), rng.uniform(ey, size - ey)
    y0, y1 = max(int(cy - ey), 0), min(math.ceil(cy + ey), size)
    x0, x1 = max(int(cx - ex), 0), min(math.ceil(cx + ex), size)
    dx, dy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy      # pixel centres, object frame
    mask = shape_test(kind, (dx * cos + dy * sin) / hw, (dy * cos - dx * sin) / hh)
    area = int(mask.sum())
    if area < 12:
        return None
    under = owner[y0:y1, x0:x1][mask]
    hidden = np.bincount(under[under >= 0], minlength=len(visible))
    if len(visible) and np.any(visible - hidden < min_visible * full_area):
        return None
    return (y0, y1, x0, x1), mask, hidden


def draw_scene(rng, size, n_objects, size_range, grid, noise_bank, min_visible=0.4, tries=8):
    """Paint a scene; returns image (3, S, S) float32 in [0, 1], owner (S, S) int16 (−1 for
    background, else the index of the object shown) and the class index of each object.

    Object k's long side is log-uniform in ``size_range`` (small objects as often per octave
    as large ones, as in real scenes). Objects that find no place in ``tries`` are skipped,
    so a scene may hold fewer than ``n_objects`` but always at least one. ``noise_bank``
    (3, 2S, 2S) float32 unit noise; a random window of it is the sensor noise.
    """
    yy, xx = grid
    image = background(rng, size, grid)
    owner = np.full((size, size), -1, dtype=np.int16)
    visible, full_area, kinds = np.zeros(0, np.int64), np.zeros(0, np.int64), []
    log_lo, log_hi = math.log(size_range[0]), math.log(size_range[1])
    for _ in range(n_objects):
        kind = int(rng.integers(len(CLASSES)))
        for attempt in range(tries):
            # Later tries draw smaller objects, which fit between the others more easily.
            high = log_hi if attempt < tries // 2 else (log_lo + log_hi) / 2
            long_side = math.exp(rng.uniform(log_lo, high))
            placed = place_object(rng, kind, size, long_side, grid, owner, visible, full_area,
                                  min_visible)
            if placed is not None:
                break
        else:
            continue
        (y0, y1, x0, x1), mask, hidden = placed
        window = image[:, y0:y1, x0:x1]                                  # a view into image
        colour = object_colour(rng, window.mean(axis=(1, 2)))
        # Shading: brightness changes linearly across the object, so it is not a flat stamp.
        psi, amount = rng.uniform(0, 2 * math.pi), rng.uniform(0, 0.6) / max(y1 - y0, x1 - x0)
        shade = ((amount * math.cos(psi)) * (xx[0, x0:x1] - (x0 + x1) / 2)[None, :]
                 + (amount * math.sin(psi)) * (yy[y0:y1, 0] - (y0 + y1) / 2)[:, None] + 1)
        np.copyto(window, colour[:, None, None] * shade, where=mask)
        owner[y0:y1, x0:x1][mask] = len(kinds)
        visible = np.append(visible - hidden, mask.sum())
        full_area = np.append(full_area, visible[-1])
        kinds.append(kind)
    oy, ox = rng.integers(0, size, 2)
    image += rng.uniform(0.01, 0.04) * noise_bank[:, oy:oy + size, ox:ox + size]
    return np.clip(image, 0, 1, out=image), owner, kinds


def make_noise_bank(seed, size):
    """(3, 2S, 2S) float32 zero-mean unit-variance noise, drawn once per data set: windows
    of it at random offsets give each image its sensor noise far faster than fresh draws."""
    return pixel_noise(np.random.default_rng([seed, 7919]), (3, 2 * size, 2 * size))


def pixel_grid(size):
    """(yy, xx): the y and x coordinates of the pixel centres, each (S, S) float32."""
    centres = np.arange(size, dtype=np.float32) + 0.5
    return np.meshgrid(centres, centres, indexing="ij")
