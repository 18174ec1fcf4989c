"""How a convolution is computed: three algorithms behind one interface (used by conv.py).

A 2-D convolution y = conv2d(x, w) and its two gradients are three products; each
algorithm below computes all three, on NumPy or CuPy arrays (``xp``):

    unfold(x)                    what the products read from x, computed once and kept
    forward(cols, w)       -> y  the convolution
    weight_grad(cols, gy)  -> gw dL/dw
    transpose(gy, w)       -> gx dL/dx: the transposed convolution, which is also
                                 the forward of conv_transpose2d
    backward(cols, gy, w)  -> gx, gw: weight_grad, then transpose (Winograd fuses the two)

    Gemm       im2col, then one GEMM per image and group (cols: (N, G, C/G·kh·kw, OH·OW));
               a 1x1, stride-1 convolution needs no im2col: cols is x itself
    Winograd   3x3, stride 1, ungrouped: F(4x4, 3x3) tiles, 36 GEMMs with 4x fewer
               FLOPs (kernels/winograd/reference.py has the equations)
    Depthwise  groups = C: a direct kernel, kh·kw multiply-adds per plane

``choose`` picks one from the shapes; the thresholds come from benchmarks/ops_conv.py.
"""
from typing import NamedTuple

from .. import kernels
from ..kernels._gpu import array_module
from ..kernels.winograd.reference import ALPHA, TILE, tile_buffer

# Work through a batch a few images at a time so that per-chunk scratch buffers stay in
# cache and below glibc's 32 MB mmap threshold (bigger blocks are page-faulted anew at
# every allocation).
CHUNK_BYTES = 8 << 20
# Winograd takes a 3x3 layer with C >= WINOGRAD_MIN_CHANNELS inputs and K >= half as many
# outputs: its 36 GEMMs have C as their inner dimension and K rows, and BLAS runs thin ones
# too slowly to pay for the transforms. Measured on x (32, C, 32, 32) -> K, forward+backward
# ms, Winograd / im2col + GEMM: C, K = 3, 64: 16.9 / 5.8; 8, 64: 22.3 / 19.1; 16, 64:
# 22.7 / 34.2; 16, 16: 14.5 / 12.4; 32, 32: 24.6 / 32.0; 64, 8: 31.4 / 50.6.
WINOGRAD_MIN_CHANNELS = 16


class Geometry(NamedTuple):
    """The window of a convolution: kernel (kh, kw), stride, zero padding, dilation, groups."""
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    groups: int

    def output_size(self, H, W):
        """H' = (H + 2P − D(kh − 1) − 1) // S + 1, and W' likewise."""
        return ((H + 2 * self.ph - self.dh * (self.kh - 1) - 1) // self.sh + 1,
                (W + 2 * self.pw - self.dw * (self.kw - 1) - 1) // self.sw + 1)


def choose(x_shape, w_shape, g):
    """The algorithm for a convolution of an x (N, C, H, W) by a w (K, C/G, kh, kw)."""
    C, K = x_shape[1], w_shape[0]
    if g.groups > 1 and g.groups == C and w_shape[1] == 1:
        return Depthwise
    if ((g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.groups) == (3, 3, 1, 1, 1, 1, 1)
            and C >= WINOGRAD_MIN_CHANNELS and 2 * K >= WINOGRAD_MIN_CHANNELS):
        return Winograd
    return Gemm


def _chunks(N, bytes_per_image):
    """Image ranges [n0, n1) whose scratch takes about CHUNK_BYTES (one image at least)."""
    step = max(1, min(N, CHUNK_BYTES // max(1, bytes_per_image)))
    return [(n0, min(N, n0 + step)) for n0 in range(0, N, step)]


class Algorithm:
    @classmethod
    def backward(cls, cols, gy, w, g, x_shape, needs_x=True, needs_w=True):
        """Both gradients of y = conv(x, w): gw from the saved cols, then gx, the transposed
        convolution of gy, which may reuse the cols' buffer once gw no longer needs them."""
        gw = cls.weight_grad(cols, gy, g, w.shape) if needs_w else None
        gx = cls.transpose(gy, w, g, x_shape, workspace=cols) if needs_x else None
        return gx, gw


class Gemm(Algorithm):
    """im2col + GEMM: y[n] = W₂ cols[n], per group, with W₂ = w as (K/G, C/G·kh·kw)."""

    @staticmethod
    def _pointwise(g):
        return (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw) == (1, 1, 1, 1, 0, 0)

    @staticmethod
    def unfold(x, g):
        """x (N, C, H, W) -> cols (N, G, C/G·kh·kw, OH·OW); for a 1x1 kernel a view of x."""
        N, C, H, W = x.shape
        if Gemm._pointwise(g):
            return x.reshape(N, g.groups, C // g.groups, H * W)
        cols = kernels.get("im2col", x).im2col(x, *g[:8])      # (N, C, kh, kw, OH, OW)
        return cols.reshape(N, g.groups, -1, cols.shape[4] * cols.shape[5])

    @staticmethod
    def forward(cols, w, g, x_shape):
        """y (N, K, OH, OW) = W₂ @ cols, batched over images and groups."""
        K = w.shape[0]
        y = array_module(cols).matmul(w.reshape(g.groups, K // g.groups, -1), cols)
        return y.reshape(x_shape[0], K, *g.output_size(*x_shape[2:]))  # (N, G, K/G, P) -> NCHW

    @staticmethod
    def weight_grad(cols, gy, g, w_shape):
        """gw = Σ_n gy[n] @ cols[n]ᵀ per group: a batched product per chunk of images, summed
        (the chunks bound its N copies of gw, as large as cols at 8x8 images)."""
        N, G, CK, P = cols.shape
        gy = gy.reshape(N, G, -1, P)                               # (N, G, K/G, OH·OW)
        gwt = 0                                                    # gwᵀ = Σ_n cols[n] gy[n]ᵀ
        for n0, n1 in _chunks(N, G * gy.shape[2] * CK * cols.itemsize):
            gwt = gwt + (cols[n0:n1] @ gy[n0:n1].swapaxes(-1, -2)).sum(axis=0)  # (G, CK, K/G)
        return array_module(cols).ascontiguousarray(gwt.swapaxes(-1, -2)).reshape(w_shape)

    @staticmethod
    def transpose(gy, w, g, x_shape, workspace=None):
        """gx = col2im(W₂ᵀ @ gy): the adjoint of unfold-then-forward.

        ``workspace``: the dead cols of this convolution's forward, whose buffer may take
        W₂ᵀ @ gy, so that the backward allocates no second im2col-sized array.
        """
        xp = array_module(gy)
        N, C, H, W = x_shape
        K, OH, OW = gy.shape[1:]
        w2t = w.reshape(g.groups, K // g.groups, -1).swapaxes(-1, -2)  # (G, C/G·kh·kw, K/G)
        gy = gy.reshape(N, g.groups, K // g.groups, OH * OW)
        if Gemm._pointwise(g):                                         # col2im is a reshape
            return xp.matmul(w2t, gy).reshape(x_shape)
        gcols = xp.matmul(w2t, gy, out=workspace)                      # (N, G, CK, OH·OW)
        gcols = gcols.reshape(N, C, g.kh, g.kw, OH, OW)
        return kernels.get("im2col", gcols).col2im(gcols, H, W, *g[2:8])


class Winograd(Algorithm):
    """F(4x4, 3x3): V = Bᵀ d B per 6x6 input tile, M[ξ] = U[ξ] @ V[ξ] with U = G w Gᵀ, and
    y = Aᵀ M A per 4x4 output tile (kernels/winograd/reference.py has the equations).

    V (2.25x the size of x) is kept for the backward, the cols of this algorithm. The GEMMs
    and the other transforms run a chunk of images at a time, on tiles still in cache; M and
    the gradients' tiles never exist for the whole batch.
    """

    @staticmethod
    def unfold(x, g):
        """x (N, C, H, W) -> V (36, C, T), T = N·⌈OH/4⌉·⌈OW/4⌉ tiles."""
        return kernels.get("winograd", x).winograd_input(x, g.ph, g.pw)

    @staticmethod
    def forward(V, w, g, x_shape):
        """y[chunk] = Aᵀ (U @ V[chunk]) A."""
        impl, xp = kernels.get("winograd", V), array_module(V)
        N, K, (OH, OW) = x_shape[0], w.shape[0], g.output_size(*x_shape[2:])
        U = impl.winograd_weight(w)                                    # (36, K, C)
        y = xp.empty((N, K, OH, OW), V.dtype)
        for n0, n1, t0, t1, (M,) in _tile_chunks(N, OH, OW, [K], V):
            xp.matmul(U, V[:, :, t0:t1], out=M)                        # (36, K, chunk tiles)
            impl.winograd_output(M, n1 - n0, OH, OW, out=y[n0:n1])
        return y

    @staticmethod
    def weight_grad(V, gy, g, w_shape):
        """gU = Σ_chunks gM @ V[chunk]ᵀ with gM = A gy Aᵀ per tile; gw = Gᵀ gU G."""
        return Winograd.backward(V, gy, None, g, None, needs_x=False, w_shape=w_shape)[1]

    @staticmethod
    def transpose(gy, w, g, x_shape, workspace=None):
        """gx = the adjoint of winograd_input applied to gV = Uᵀ gM, gM = A gy Aᵀ per tile."""
        return Winograd.backward(None, gy, w, g, x_shape, needs_w=False)[0]

    @staticmethod
    def backward(V, gy, w, g, x_shape, needs_x=True, needs_w=True, w_shape=None):
        """weight_grad and transpose in one pass over gy's tiles, which both read: per
        chunk, gM = A gy Aᵀ, gU += gM Vᵀ, then gV = Uᵀ gM (into V's dead chunk), gx = B gV Bᵀ."""
        impl, xp = kernels.get("winograd", gy), array_module(gy)
        (N, K, OH, OW), w_shape = gy.shape, w.shape if w is not None else w_shape
        C = w_shape[1]
        if needs_w:
            gU = xp.zeros((ALPHA * ALPHA, K, C), gy.dtype)
            part = xp.empty_like(gU)
        if needs_x:
            Ut = impl.winograd_weight(w).swapaxes(-1, -2)             # (36, C, K)
            gx = xp.empty(x_shape, gy.dtype)
        rows = [K] if V is not None else [K, C]
        for n0, n1, t0, t1, scratch in _tile_chunks(N, OH, OW, rows, gy):
            gM = impl.winograd_output_backward(gy[n0:n1], out=scratch[0])   # (36, K, tiles)
            if needs_w:
                gU += xp.matmul(gM, V[:, :, t0:t1].swapaxes(-1, -2), out=part)  # (36, K, C)
            if needs_x:
                gV = xp.matmul(Ut, gM, out=V[:, :, t0:t1] if V is not None else scratch[1])
                impl.winograd_input_backward(gV, n1 - n0, *x_shape[2:], g.ph, g.pw,
                                             out=gx[n0:n1])
        return (gx if needs_x else None), (impl.winograd_weight_backward(gU) if needs_w else None)


def _tile_chunks(N, OH, OW, rows, like):
    """Per chunk of images [n0, n1): (n0, n1, t0, t1, buffers): its tiles [t0, t1) and one
    (36, r, t1 − t0) scratch tile array per r in ``rows``, reused from chunk to chunk."""
    xp, dtype = array_module(like), like.dtype
    tiles = -(-OH // TILE) * -(-OW // TILE)                           # per image
    chunks = _chunks(N, ALPHA * ALPHA * sum(rows) * tiles * dtype.itemsize)
    most = (chunks[0][1] - chunks[0][0]) * tiles
    buffers = [tile_buffer(r, most, dtype, xp) for r in rows]
    for n0, n1 in chunks:
        t0, t1 = n0 * tiles, n1 * tiles
        yield n0, n1, t0, t1, [b[:, :, :t1 - t0] for b in buffers]


class Depthwise(Algorithm):
    """groups = C, one filter per channel (or m per channel): kernels/depthwise_conv2d."""

    @staticmethod
    def unfold(x, g):
        return x                          # the kernels read x directly

    @staticmethod
    def forward(x, w, g, x_shape):
        return kernels.get("depthwise_conv2d", x).depthwise_conv2d(x, w, *g[2:8])

    @staticmethod
    def weight_grad(x, gy, g, w_shape):
        impl = kernels.get("depthwise_conv2d", x)
        return impl.depthwise_conv2d_backward_weight(x, gy, g.kh, g.kw, *g[2:8])

    @staticmethod
    def transpose(gy, w, g, x_shape, workspace=None):
        impl = kernels.get("depthwise_conv2d", gy)
        return impl.depthwise_conv2d_backward_input(gy, w, *x_shape[1:], *g[2:8])
