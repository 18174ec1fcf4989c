"""Losses: cross_entropy, nll_loss, binary_cross_entropy_with_logits, mse_loss, l1_loss,
smooth_l1_loss, huber_loss, triplet_margin_loss (PyTorch's arguments and reductions), and
sigmoid_focal_loss (torchvision.ops').

cross entropy and its binary twin are fused ops, for speed and because their stable forms
(log-sum-exp, softplus) need the logits; the regression losses are composed from primitives.

Every loss checks its inputs at the boundary: shapes, class indices, and finiteness — a
NaN or inf reaching a loss means the model diverged or the data is bad, and tinyvision says
so instead of returning NaN.

References
----------
[Gir15] R. Girshick. Fast R-CNN. ICCV 2015.
[LGG17] T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. Focal Loss for Dense Object
        Detection (RetinaNet). ICCV 2017.
[SKP15] F. Schroff, D. Kalenichenko, J. Philbin. FaceNet: A Unified Embedding for Face
        Recognition and Clustering. CVPR 2015.
[SSW16] C. Szegedy et al. Rethinking the Inception Architecture for Computer Vision (label
        smoothing). CVPR 2016.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from . import arithmetic as A
from . import reduction as R
from ._util import check_reduction, operand


def _arr(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_finite(x, fn, name):
    a = _arr(x)
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{fn}: {name} contains NaN or inf (first at index {where}); "
                         "the model diverged or the data is bad")


def _broadcasts_to(shape, target):
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _reduce(loss, reduction):
    if reduction == "mean":
        return R.mean(loss)
    return R.sum(loss) if reduction == "sum" else loss


class CrossEntropyFn(Function):
    """Softmax cross entropy as ℓ = −Σ_c q_c log p_c, with q the (weighted, smoothed,
    normalised) target distribution; then ∂ℓ/∂z = (Σ_c q_c) p − q."""

    @staticmethod
    def forward(ctx, z, q, reduce):
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        ctx.save_for_backward(logp, q)
        ctx.reduce = reduce
        per_item = -(q * logp).sum(axis=1)
        return np.asarray(per_item.sum()) if reduce else per_item

    @staticmethod
    def backward(ctx, gy):
        logp, q = ctx.saved_tensors
        g = (q.sum(axis=1, keepdims=True) * np.exp(logp) - q)
        gy = gy if ctx.reduce else np.expand_dims(gy, 1)
        return g * gy, None, None


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between softmax(input) over dim 1 and ``target``.

    input (N, C) or (N, C, d1, ...) logits; target either class indices (N, d1, ...) of an
    integer dtype, or class probabilities with the input's shape. ``weight`` (C,) rescales
    classes; with reduction='mean' and index targets the sum is divided by Σ weight[target]
    over non-ignored items, as PyTorch. ``label_smoothing`` ε mixes the target with the
    uniform distribution: q = (1 − ε)·target + ε/C.
    """
    fn = "cross_entropy"
    check_reduction(reduction, fn)
    z = _arr(input)
    if z.ndim < 2:
        raise ValueError(f"{fn}: input must be (N, C) or (N, C, d1, ...), got shape {z.shape}")
    if z.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point logits, got dtype {z.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    _check_finite(input, fn, "input")
    C = z.shape[1]
    t = _arr(target)
    w = None if weight is None else _arr(weight).astype(z.dtype)
    if w is not None and w.shape != (C,):
        raise ValueError(f"{fn}: weight must have shape ({C},), got {w.shape}")
    wc = np.ones(C, z.dtype) if w is None else w
    wc = wc.reshape((1, C) + (1,) * (z.ndim - 2))
    eps = label_smoothing

    if t.dtype.kind in "iu":
        expected = z.shape[:1] + z.shape[2:]
        if t.shape != expected:
            raise ValueError(f"{fn}: class-index target must have shape {expected} for input "
                             f"{z.shape}, got {t.shape}")
        valid = t != ignore_index
        bad = valid & ((t < 0) | (t >= C))
        if bad.any():
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            raise ValueError(f"{fn}: target has class {t[i]} at index {i}, but input has {C} "
                             f"classes (valid: 0..{C - 1}, or ignore_index={ignore_index})")
        safe = np.where(valid, t, 0)
        onehot = np.zeros(z.shape, z.dtype)
        np.put_along_axis(onehot, np.expand_dims(safe, 1), 1, axis=1)
        onehot *= np.expand_dims(valid, 1)
        w_item = (wc * onehot).sum(axis=1)                    # weight[target] per item
        # q: (1 − ε)·w_y·onehot + (ε/C)·w_c, zero for ignored items (PyTorch's formula).
        q = (1 - eps) * wc * onehot + (eps / C) * wc * np.expand_dims(valid, 1)
        if reduction == "mean":
            q = q / (w_item.sum() if w is not None else valid.sum())
    else:
        if t.shape != z.shape:
            hint = (f"; class-index targets need an integer dtype (int64), got {t.dtype}"
                    if t.shape == z.shape[:1] + z.shape[2:] else "")
            raise ValueError(f"{fn}: probability target must have the input's shape {z.shape}, "
                             f"got {t.shape}{hint}")
        _check_finite(target, fn, "target")
        q = wc * ((1 - eps) * t.astype(z.dtype) + eps / C)
        if reduction == "mean":
            q = q / (z.size // C)
    q = q.astype(z.dtype, copy=False)
    return CrossEntropyFn.apply(operand(input, input), q, reduction != "none")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log likelihood of class indices, given log-probabilities (N, C, ...)."""
    fn = "nll_loss"
    check_reduction(reduction, fn)
    logp, t = _arr(input), _arr(target)
    if logp.ndim < 2 or t.shape != logp.shape[:1] + logp.shape[2:] or t.dtype.kind not in "iu":
        raise ValueError(f"{fn}: expected input (N, C, ...) and integer target (N, ...), "
                         f"got {logp.shape} and {t.shape} {t.dtype}")
    _check_finite(input, fn, "input")
    C = logp.shape[1]
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"{fn}: target has class {t[i]} at index {i}, but input has {C} "
                         f"classes (valid: 0..{C - 1}, or ignore_index={ignore_index})")
    safe = np.expand_dims(np.where(valid, t, 0), 1)
    w = np.ones(C, logp.dtype) if weight is None else _arr(weight).astype(logp.dtype)
    w_item = w[safe[:, 0]] * valid
    picked = R.sum(A.mul(_gather(input, safe), np.expand_dims(-w_item, 1)), dim=1)
    if reduction == "mean":
        return A.div(R.sum(picked), np.asarray(w_item.sum(), logp.dtype))
    return R.sum(picked) if reduction == "sum" else picked


def _gather(input, index):
    """input[n, index[n, 0, ...], ...] along dim 1, differentiable (a gather)."""
    from .shape import getitem
    grids = np.indices(index.shape, sparse=True)
    return getitem(input, (grids[0], index) + tuple(grids[2:]))


class BCEWithLogitsFn(Function):
    @staticmethod
    def forward(ctx, x, t, w, pos_weight):
        # −[p·t·log σ(x) + (1−t)·log(1−σ(x))] with log σ(x) = −softplus(−x),
        # log(1 − σ(x)) = −softplus(x); softplus(x) = max(x, 0) + log1p(e^{−|x|}) is stable.
        sp_pos = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))   # softplus(x)
        sp_neg = sp_pos - x                                          # softplus(−x)
        p = 1 if pos_weight is None else pos_weight
        ctx.save_for_backward(x, t, w, sp_pos, sp_neg)
        ctx.p = p
        loss = p * t * sp_neg + (1 - t) * sp_pos
        return loss if w is None else loss * w

    @staticmethod
    def backward(ctx, gy):
        """∂ℓ/∂x = (1 − t)σ(x) − p·t·(1 − σ(x));  ∂ℓ/∂t = p·softplus(−x) − softplus(x)."""
        x, t, w, sp_pos, sp_neg = ctx.saved_tensors
        p = ctx.p
        g = gy if w is None else gy * w
        sig = np.exp(-sp_neg)                                        # σ(x) = e^{−softplus(−x)}
        gx = g * ((1 - t) * sig - p * t * (1 - sig))
        gt = g * (p * sp_neg - sp_pos) if ctx.needs_input_grad[1] else None
        return gx, gt, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable op; ``pos_weight`` scales the positive term."""
    fn = "binary_cross_entropy_with_logits"
    check_reduction(reduction, fn)
    x, t = _arr(input), _arr(target)
    if x.shape != t.shape:
        raise ValueError(f"{fn}: target shape {t.shape} must equal input shape {x.shape}")
    _check_finite(input, fn, "input")
    _check_finite(target, fn, "target")
    for name, v in (("weight", weight), ("pos_weight", pos_weight)):
        if v is not None and not _broadcasts_to(_arr(v).shape, x.shape):
            raise ValueError(f"{fn}: {name} of shape {_arr(v).shape} does not broadcast to the "
                             f"input's shape {x.shape}")
    w = None if weight is None else np.broadcast_to(_arr(weight), x.shape).astype(x.dtype)
    p = None if pos_weight is None else _arr(pos_weight).astype(x.dtype)
    target = operand(target, input) if isinstance(target, Tensor) else t.astype(x.dtype)
    loss = BCEWithLogitsFn.apply(operand(input, input), target, w, p)
    return _reduce(loss, reduction)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """The focal loss of RetinaNet [LGG17], for one binary classifier per element:

        p_t = p if t = 1 else 1 − p          (p = σ(x), the predicted probability of 1)
        FL(p_t) = −α_t (1 − p_t)^γ log(p_t)   (α_t = α if t = 1 else 1 − α)

    The factor (1 − p_t)^γ shrinks the loss of easy examples (p_t near 1), so the many easy
    background anchors of a one-stage detector no longer swamp the few hard ones; γ = 0,
    α < 0 gives back binary cross entropy. Same arguments as torchvision.ops: ``alpha < 0``
    turns the weighting off, ``reduction`` is 'none' (default), 'mean' or 'sum'.
    Targets may be soft (in [0, 1]); then p_t and α_t interpolate.
    """
    fn = "sigmoid_focal_loss"
    check_reduction(reduction, fn)
    if not isinstance(gamma, (int, float)) or gamma < 0:
        raise ValueError(f"{fn}: gamma must be a number >= 0, got {gamma!r}")
    if not isinstance(alpha, (int, float)) or alpha > 1:
        raise ValueError(f"{fn}: alpha must be a number <= 1 (negative: no weighting), got {alpha!r}")
    ce = binary_cross_entropy_with_logits(inputs, targets, reduction="none")  # −log p_t
    from .activation import sigmoid
    x = operand(inputs, inputs)
    # NOTE: targets become a Tensor of the inputs' dtype: as a bare array, 1 − t came out
    # float64 and turned the whole backward pass into float64.
    t = targets if isinstance(targets, Tensor) else Tensor(_arr(targets).astype(x.dtype))
    p = sigmoid(x)
    p_t = A.add(A.mul(p, t), A.mul(A.sub(1.0, p), A.sub(1.0, t)))
    loss = A.mul(ce, A.pow(A.sub(1.0, p_t), float(gamma))) if gamma else ce
    if alpha >= 0:
        loss = A.mul(loss, alpha * t + (1 - alpha) * (1 - t))
    return _reduce(loss, reduction)


def _same_shape(input, target, fn):
    """input − target, after checking shapes match (PyTorch only warns) and values are finite."""
    si, st = _arr(input).shape, _arr(target).shape
    if si != st:
        raise ValueError(f"{fn}: input shape {si} and target shape {st} differ")
    _check_finite(input, fn, "input")
    _check_finite(target, fn, "target")
    return A.sub(input, target)


def mse_loss(input, target, reduction="mean"):
    """(x − y)²."""
    check_reduction(reduction, "mse_loss")
    d = _same_shape(input, target, "mse_loss")
    return _reduce(A.mul(d, d), reduction)


def l1_loss(input, target, reduction="mean"):
    """|x − y|."""
    check_reduction(reduction, "l1_loss")
    return _reduce(A.abs(_same_shape(input, target, "l1_loss")), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5·d²/β where |d| < β, else |d| − 0.5·β (Fast R-CNN's box loss, Eq. 3 of [Gir15])."""
    check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = _same_shape(input, target, "smooth_l1_loss")
    ad = A.abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    quad = A.mul(A.mul(d, d), 0.5 / beta)
    return _reduce(A.where(ad.data < beta, quad, A.sub(ad, 0.5 * beta)), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ): smooth-L1 scaled by δ."""
    check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = _same_shape(input, target, "huber_loss")
    ad = A.abs(d)
    quad = A.mul(A.mul(d, d), 0.5)
    return _reduce(A.where(ad.data < delta, quad, A.mul(A.sub(ad, 0.5 * delta), delta)), reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x1 − x2 + ε‖_p over the last dim (PyTorch adds ε to the difference)."""
    d = A.abs(A.add(A.sub(x1, x2), eps))
    if p == float("inf"):  # the limit of the p-norm: the largest |difference|
        return R.amax(d, dim=-1, keepdim=keepdim)
    return A.pow(R.sum(A.pow(d, p), dim=-1, keepdim=keepdim), 1.0 / p)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    """max(d(a, p) − d(a, n) + margin, 0) (FaceNet's triplet loss, Eq. 1 of [SKP15]).

    With ``swap`` the negative distance is min(d(a, n), d(p, n)) (Balntas et al., 2016).
    """
    fn = "triplet_margin_loss"
    check_reduction(reduction, fn)
    shapes = {_arr(anchor).shape, _arr(positive).shape, _arr(negative).shape}
    if len(shapes) != 1 or _arr(anchor).ndim not in (1, 2):
        raise ValueError(f"{fn}: anchor, positive and negative must share a (N, D) or (D,) "
                         f"shape, got {[_arr(t).shape for t in (anchor, positive, negative)]}")
    if margin < 0:
        raise ValueError(f"{fn}: margin must be >= 0, got {margin}")
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_finite(t, fn, name)
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = A.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    return _reduce(A.clamp(A.add(A.sub(d_ap, d_an), margin), min=0.0), reduction)
