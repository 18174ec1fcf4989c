"""Benchmark cases for roi_align and roi_pool (run by detection_ops.py).

Faster R-CNN's second stage on an 800 x 800 image: a stride-16 map of (2, 256, 50, 50)
float32 (spatial_scale 1/16) and 512 proposals (256 per image, 16 to 400 pixels a side,
inside the image), pooled to 7 x 7.  Each tinyvision run is the public op through autograd
with the kernels forced by ``kernels.use`` (roi_align with sampling_ratio 2), forward and
backward with a fixed upstream gradient; the reference only in full mode (it is slow).

The PyTorch peer, forward and backward through torch autograd:

* roi_align: ``torch.ops.torchvision.roi_align`` when torchvision's ops are loaded, else an
  equivalent from torch primitives: per image, grid_sample (bilinear, border padding,
  align_corners=False) at every bin's 2 x 2 sample points, times torchvision's validity mask
  (a sample beyond [-1, H] or [-1, W] reads 0), then avg_pool2d over each 2 x 2.
* roi_pool: ``torch.ops.torchvision.roi_pool`` when loaded, else adaptive_max_pool2d of each
  box's snapped crop, one call per box (adaptive windows are RoI pooling's bins; equal for
  boxes inside the map, as these are).

Every run's answer is checked against the others before timing.  The automatic choice in
kernels/__init__.py (CPU_PREFERENCE["roi"]) is set from these figures.
"""
import numpy as np

import tinyvision as tv
import tinyvision.ops as ops
from _harness import Case, torch
from tinyvision import kernels

IMPLEMENTATIONS = ("reference", "cython", "numba")
SAMPLING_RATIO = 2


def _torchvision_ops():
    """torch.ops.torchvision when torchvision's compiled ops are loaded, else None."""
    try:
        return torch.ops.torchvision if hasattr(torch.ops.torchvision, "roi_align") else None
    except (AttributeError, RuntimeError):
        return None


def _proposals(rng, images, per_image, image_size):
    """(K, 5) float32 rows (batch_index, x1, y1, x2, y2), 16-400 px a side, inside the image
    but for its last 16 pixels (so every box snaps inside the stride-16 map)."""
    K = images * per_image
    size = np.exp(rng.uniform(np.log(16), np.log(min(400, image_size // 2)), (K, 2)))
    corner = rng.uniform(0, 1, (K, 2)) * (image_size - 16 - size)
    index = np.repeat(np.arange(images), per_image)[:, None]
    return np.concatenate([index, corner, corner + size], axis=1).astype(np.float32)


def _tinyvision(name, op, x, rois, gy, kwargs):
    t = tv.tensor(x, requires_grad=True)

    def run():
        with kernels.use(name):
            y = op(t, rois, **kwargs)
            t.grad = None
            y.backward(gy)
        return y.data, t.grad
    return run


def _torch_run(op, x, gy):
    tx, tgy = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(gy)

    def run():
        y = op(tx)
        tx.grad = None
        y.backward(tgy)
        return y.detach().numpy(), tx.grad.numpy()
    return run


def _roi_align_from_grid_sample(x, rois, output, scale):
    """torchvision's roi_align (aligned=False, SAMPLING_RATIO) from torch primitives."""
    N, C, H, W = x.shape
    (OH, OW), S = output, SAMPLING_RATIO
    parts, order = [], []
    for n in range(N):
        index = torch.nonzero(rois[:, 0] == n)[:, 0]
        box = rois[index, 1:] * scale
        w = (box[:, 2] - box[:, 0]).clamp(min=1)                     # (Rn,)
        h = (box[:, 3] - box[:, 1]).clamp(min=1)
        steps = lambda count: (torch.arange(count, dtype=x.dtype) + 0.5) / S  # noqa: E731
        xs = box[:, :1] + steps(OW * S)[None] * (w[:, None] / OW)  # (Rn, OW*S) sample columns
        ys = box[:, 1:2] + steps(OH * S)[None] * (h[:, None] / OH)  # (Rn, OH*S) sample rows
        inside = (((ys >= -1) & (ys <= H))[:, :, None] & ((xs >= -1) & (xs <= W))[:, None, :])
        grid = torch.stack(torch.broadcast_tensors(((2 * xs + 1) / W - 1)[:, None, :],
                                                   ((2 * ys + 1) / H - 1)[:, :, None]), -1)
        samples = torch.nn.functional.grid_sample(
            x[n:n + 1], grid.reshape(1, -1, OW * S, 2), mode="bilinear", padding_mode="border",
            align_corners=False) * inside.reshape(1, 1, -1, OW * S).to(x.dtype)
        pooled = torch.nn.functional.avg_pool2d(samples, S)         # (1, C, Rn*OH, OW)
        parts.append(pooled.reshape(C, -1, OH, OW).transpose(0, 1))
        order.append(index)
    return torch.cat(parts)[torch.argsort(torch.cat(order))]


def _roi_pool_by_crops(x, rois, output, scale):
    """torchvision's roi_pool for boxes inside the map: adaptive max pooling of each crop."""
    outputs = []
    for b, *box in rois.tolist():
        x1, y1, x2, y2 = (int(np.floor(v * scale + 0.5)) for v in box)  # C's round (v >= 0)
        crop = x[int(b), :, y1:y2 + 1, x1:x2 + 1]
        outputs.append(torch.nn.functional.adaptive_max_pool2d(crop, output))
    return torch.stack(outputs)


def _check(label, results):
    """Every run's (y, gx) against the first run's: timing a wrong answer would mean nothing."""
    (first, (y0, gx0)), *others = results.items()
    for name, (y, gx) in others:
        for got, want in ((y, y0), (gx, gx0)):
            if not np.allclose(got, want, rtol=1e-3, atol=1e-4):
                raise AssertionError(f"{label} benchmark: {name} disagrees with {first} "
                                     f"(max difference {np.abs(got - want).max():.3g})")


def cases(quick=False):
    rng = np.random.default_rng(0)
    N, C, size, per_image = (2, 32, 400, 32) if quick else (2, 256, 800, 256)
    scale, output = 1 / 16, (7, 7)
    x = rng.standard_normal((N, C, size // 16, size // 16)).astype(np.float32)
    rois = _proposals(rng, N, per_image, size)
    gy = rng.standard_normal((len(rois), C) + output).astype(np.float32)
    names = IMPLEMENTATIONS[1:] if quick else IMPLEMENTATIONS
    torchvision = _torchvision_ops() if torch is not None else None
    table = [
        ("roi_align fwd+bwd", ops.roi_align,
         dict(output_size=output, spatial_scale=scale, sampling_ratio=SAMPLING_RATIO),
         lambda t: torchvision.roi_align(t, torch.from_numpy(rois), scale, *output,
                                         SAMPLING_RATIO, False),
         lambda t: _roi_align_from_grid_sample(t, torch.from_numpy(rois), output, scale),
         "grid_sample + validity mask + avg_pool2d (no torchvision)"),
        ("roi_pool fwd+bwd", ops.roi_pool, dict(output_size=output, spatial_scale=scale),
         lambda t: torchvision.roi_pool(t, torch.from_numpy(rois), scale, *output)[0],
         lambda t: _roi_pool_by_crops(t, rois, output, scale),
         "adaptive_max_pool2d per box crop (no torchvision)"),
    ]
    out = []
    for label, op, kwargs, with_torchvision, from_primitives, note in table:
        runs = {name: _tinyvision(name, op, x, rois, gy, kwargs) for name in names}
        notes = {}
        if torch is not None:
            peer = with_torchvision if torchvision is not None else from_primitives
            runs["torch"] = _torch_run(peer, x, gy)
            notes["torch"] = "torchvision's op" if torchvision is not None else note
        _check(label, {name: run() for name, run in runs.items()})
        out.append(Case(label, f"{len(rois)} RoIs on {x.shape}->{output}", runs, notes=notes))
    return out
