"""Non-maximum suppression as Numba CUDA kernels: the bitmask scheme of Faster R-CNN's GPU NMS.

The contract is in reference.py.  The greedy sweep is sequential, but nearly all its work,
the IoU of every pair, is not; so the GPU does the pairs in parallel and leaves one small
sequential pass (as py-faster-rcnn's and torchvision's CUDA NMS do)::

    1. sort     order = the boxes by decreasing score (stable), on the device
    2. masks    the sorted boxes fall in tiles of 64; one block of 64 threads per pair of
                tiles (row tile r, column tile c >= r): thread t takes box i = 64r + t
                and sets bit k of the 64-bit word mask[i, c] when box j = 64c + k comes
                after i (j > i), is of the same category, and has IoU(i, j) > t.
                mask[i] is then "the later boxes i suppresses if it is kept".
    3. sweep    one block walks the boxes in order, keeping a bit per box of "removed":
                box i is kept when its bit is clear, and then its row mask[i] is OR-ed
                into removed, each thread doing a share of the words.
    4. gather   keep = order[the kept positions]

A box's 64 comparisons all read the same column box at the same moment, one broadcast
load for the block, so the column tile is read straight from global memory rather than
staged in shared memory first.  batched_nms is the same with the category test switched
on: the order stays the score order, so the kept positions come out highest score first.

The launchers take CuPy arrays (used in place through ``__cuda_array_interface__``; results
are CuPy arrays) or NumPy arrays (copied to the GPU and back: how the tests run them under
Numba's simulator, NUMBA_ENABLE_CUDASIM=1).  Importing this file needs no GPU.

NOTE: the product inter = w * h is rounded on its own (libdevice's mul_rn), not left to the
compiler, which may fuse ``area_i + area_j - w * h`` into one fma, rounded once: the IoU
would then differ from reference.py's in the last bit, and a box at the threshold could
flip.  The areas come from the host side (candidates.py), for the same reason.
"""
import numpy as np
from numba import config, cuda, uint64

from .._gpu import array_module
from .candidates import sorted_candidates, threshold_in
from .reference import check_arguments

TILE = 64  # boxes per tile: one bit each in a 64-bit word

if config.ENABLE_CUDASIM:  # the simulator runs Python, which never fuses, and stubs libdevice
    @cuda.jit(device=True)
    def _product(a, b):
        return a * b
    _PRODUCTS = {np.float32: _product, np.float64: _product}
else:
    from numba.cuda import libdevice
    _PRODUCTS = {np.float32: libdevice.fmul_rn, np.float64: libdevice.dmul_rn}


def _make_mask_kernel(product):
    @cuda.jit
    def mask_kernel(coords, category, t, mask):
        """mask[i, c] bit k: box 64c + k is after box i, of its category, with IoU > t."""
        N = coords.shape[1]
        r, c = cuda.blockIdx.y, cuda.blockIdx.x
        i = r * TILE + cuda.threadIdx.x
        if c < r or i >= N:
            return  # tiles left of the diagonal hold only earlier boxes
        x1, y1, x2, y2, area = coords[0], coords[1], coords[2], coords[3], coords[4]
        zero = coords.dtype.type(0)
        bits = uint64(0)
        first = i + 1 - c * TILE if c == r else 0
        last = N - c * TILE if N - c * TILE < TILE else TILE
        for k in range(first, last):
            j = c * TILE + k
            # (conditional expressions, not min/max: those need a GPU to compile for PTX)
            w = (x2[i] if x2[i] < x2[j] else x2[j]) - (x1[i] if x1[i] > x1[j] else x1[j])
            h = (y2[i] if y2[i] < y2[j] else y2[j]) - (y1[i] if y1[i] > y1[j] else y1[j])
            w = w if w > zero else zero
            h = h if h > zero else zero
            inter = product(w, h)
            # 0/0 = NaN for two empty boxes: NaN > t is false, not suppressed
            if category[j] == category[i] and inter / (area[i] + area[j] - inter) > t:
                bits |= uint64(1) << uint64(k)
        mask[i, c] = bits
    return mask_kernel


_MASK_KERNELS = {np.dtype(dtype): _make_mask_kernel(product)
                 for dtype, product in _PRODUCTS.items()}


@cuda.jit
def _sweep_kernel(mask, removed, keep):
    """One block: keep[i] = 1 for each box not removed by a kept box before it."""
    N, words = mask.shape
    for i in range(N):
        cuda.syncthreads()  # the row before this one is OR-ed in everywhere
        word = i // TILE
        # every thread reads the same bit: no row OR-ed in after the barrier touches bit i
        # (mask[i'] only marks boxes after i', and bit i belongs to box i)
        if (removed[word] >> uint64(i % TILE)) & uint64(1) == uint64(0):
            if cuda.threadIdx.x == 0:
                keep[i] = 1
            for w in range(word + cuda.threadIdx.x, words, cuda.blockDim.x):
                removed[w] |= mask[i, w]


# ---- launchers: the contract's functions (reference.py) ----------------------------------------
def _kept_positions(coords, category, t):
    """Positions in the sorted order of the boxes greedy NMS keeps (ascending)."""
    xp = array_module(coords)
    N = coords.shape[1]
    if N == 0:
        return xp.zeros(0, np.int64)
    tiles = (N + TILE - 1) // TILE
    mask = xp.empty((N, tiles), np.uint64)
    _MASK_KERNELS[coords.dtype][(tiles, tiles), TILE](coords, category, coords.dtype.type(t),
                                                      mask)
    removed, keep = xp.zeros(tiles, np.uint64), xp.zeros(N, np.uint8)
    _sweep_kernel[1, TILE](mask, removed, keep)
    return xp.flatnonzero(keep)


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes greedy NMS keeps, highest score first; see reference.py."""
    check_arguments("nms", boxes, scores)
    xp = array_module(boxes)
    order, coords, _ = sorted_candidates(boxes, scores)
    category = xp.zeros(boxes.shape[0], np.int64)  # one category: every pair compared
    return order[_kept_positions(coords, category, threshold_in(boxes.dtype, iou_threshold))]


def batched_nms(boxes, scores, idxs, iou_threshold):
    """nms within each category of idxs, merged highest score first; see reference.py."""
    check_arguments("batched_nms", boxes, scores, idxs)
    order, coords, _ = sorted_candidates(boxes, scores)  # score order, categories mixed
    kept = _kept_positions(coords, idxs[order], threshold_in(boxes.dtype, iou_threshold))
    return order[kept]  # score order already: no merge needed
