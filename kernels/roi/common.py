"""What the RoI implementations share: argument checks, and the channel-block layout.

Checks: the Cython loops run with bounds checks off, so a batch index out of range or a
coordinate too big for an int would read or write outside the arrays; each contract
function refuses those first, naming itself, the argument, what was expected and what came.

Channel blocks: the fast CPU kernels read (N, C, H, W) maps as (N, C/16, H, W, 16), so the
16 channels of one pixel lie side by side and each bilinear tap is one 16-wide multiply-add
(see roi.pyx).
"""
import numpy as np

from .._gpu import array_module

FLOAT_DTYPES = (np.float32, np.float64)

# Box coordinates times spatial_scale must lie within +-2**24 pixels: far beyond any feature
# map, and small enough that every index the kernels derive from them fits an int.
MAX_COORDINATE = 2.0 ** 24


def check_x(fn, x, name="x"):
    if x.ndim != 4:
        raise ValueError(f"{fn}: {name} must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {x.dtype}")


def check_output_size(fn, OH, OW):
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
               for s in (OH, OW)):
        raise ValueError(f"{fn}: the output size must be two ints >= 1, got ({OH!r}, {OW!r})")


def check_rois(fn, rois, N, dtype, spatial_scale, name="rois"):
    """rois (R, 5) rows (batch_index, x1, y1, x2, y2) of `dtype`: whole batch indices in
    [0, N), coordinates times spatial_scale finite and within +-MAX_COORDINATE."""
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"{fn}: {name} must be 2-D (R, 5), rows (batch_index, x1, y1, x2, y2), "
                         f"got shape {tuple(rois.shape)}")
    if rois.dtype != dtype:
        raise TypeError(f"{fn}: {name} must have the input's dtype {np.dtype(dtype)}, "
                        f"got {rois.dtype}")
    if not np.isfinite(spatial_scale):
        raise ValueError(f"{fn}: spatial_scale must be finite, got {spatial_scale!r}")
    if rois.shape[0] == 0:
        return
    xp = array_module(rois)
    index = rois[:, 0]
    if not bool(xp.all((index == xp.floor(index)) & (index >= 0) & (index < N))):
        bad = index[~((index == xp.floor(index)) & (index >= 0) & (index < N))][0]
        raise ValueError(f"{fn}: {name}[:, 0] must be batch indices, whole numbers in [0, {N}) "
                         f"(the input's batch size is {N}), got {float(bad)!r}")
    scaled = xp.abs(rois[:, 1:].astype(np.float64) * spatial_scale)
    if not bool(xp.all(scaled <= MAX_COORDINATE)):  # NaN fails this test too
        raise ValueError(f"{fn}: {name}[:, 1:] times spatial_scale must be finite and within "
                         f"+-{MAX_COORDINATE:.0f} pixels, got {float(xp.nanmax(scaled))!r} "
                         "(or NaN)")


def check_gy(fn, gy, rois, argmax=None):
    """gy (R, C, OH, OW) float32/float64 with one row per RoI; argmax (if given) int32 alike."""
    check_x(fn, gy, "gy")
    if gy.shape[0] != rois.shape[0] or 0 in gy.shape[1:]:
        raise ValueError(f"{fn}: gy must be (R, C, OH, OW) with one row per RoI and C, OH, "
                         f"OW >= 1, got shape {tuple(gy.shape)} for {rois.shape[0]} RoIs")
    if argmax is not None and (argmax.shape != gy.shape or argmax.dtype != np.int32):
        raise ValueError(f"{fn}: argmax must be int32 of gy's shape {tuple(gy.shape)}, got "
                         f"{argmax.dtype} {tuple(argmax.shape)}")


def check_input_size(fn, N, H, W):
    if not all(isinstance(s, (int, np.integer)) and s >= 1 for s in (N, H, W)):
        raise ValueError(f"{fn}: the input size (N, H, W) must be ints >= 1, got ({N!r}, {H!r}, "
                         f"{W!r})")


def check_argmax_range(fn, argmax, H, W):
    """Every argmax is -1 (an empty bin) or a flat index h*W + w inside the plane."""
    if argmax.size and not -1 <= int(argmax.min()) <= int(argmax.max()) < H * W:
        raise ValueError(f"{fn}: argmax must hold -1 or flat indices in [0, {H * W}) of the "
                         f"{H}x{W} input plane, got values in [{int(argmax.min())}, "
                         f"{int(argmax.max())}]")


# ---- channel blocks ------------------------------------------------------------------------
BLOCK = 16  # channels per block: 64 bytes, a cache line, in float32


def blocked(x):
    """(N, C, H, W) -> (N, ceil(C/16), H, W, 16), channels zero-padded to a multiple of 16."""
    N, C, H, W = x.shape
    padded = np.zeros((N, -(-C // BLOCK) * BLOCK, H, W), x.dtype)
    padded[:, :C] = x
    return np.ascontiguousarray(padded.reshape(N, -1, BLOCK, H, W).transpose(0, 1, 3, 4, 2))


def unblocked(xb, C):
    """The inverse of blocked: (N, C/16, H, W, 16) -> (N, C, H, W), the padding dropped."""
    N, CB, H, W = xb.shape[:4]
    return np.ascontiguousarray(xb.transpose(0, 1, 4, 2, 3).reshape(N, CB * BLOCK, H, W)[:, :C])
