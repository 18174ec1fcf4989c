"""Target assignment: which ground-truth box each anchor (or proposal) learns from, and which
anchors a loss looks at.

- ``Matcher``: IoU thresholds with an ignore band, Faster R-CNN's rule [Ren15, §3.1.2], as
  torchvision's; ``SSDMatcher``: SSD's variant (one threshold, every object keeps its best
  anchor) [Liu16, §2.2 "Matching strategy"].
- ``ATSSMatcher``: adaptive training sample selection, an IoU threshold of each object's own,
  from the statistics of its nearest anchors [Zhang20, Alg. 1].
- ``assign_anchors_greedy``: the lectures' greedy assignment [D2L, §14.4.3].
- ``BalancedPositiveNegativeSampler``: a fixed-size minibatch per image with at most a given
  fraction of positives [Ren15, §3.1.3], as torchvision's.
- ``hard_negative_mining``: SSD's 3:1 selection of the most confusing negatives [Liu16, §2.2].

These are selections, not arithmetic: NumPy on the arrays, int64 / bool Tensors out.

References
----------
[Ren15] S. Ren et al., "Faster R-CNN", NeurIPS 2015.
[Liu16] W. Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016.
[Zhang20] S. Zhang, C. Chi, Y. Yao, Z. Lei, S. Z. Li, "Bridging the Gap Between Anchor-based
    and Anchor-free Detection via Adaptive Training Sample Selection", CVPR 2020.
[D2L] A. Zhang et al., "Dive into Deep Learning", §14.4 Anchor Boxes.
"""
import numpy as np

from ..random import default_generator
from ..tensor import as_array
from .boxes import as_tensor, box_iou


def _matrix(x, fn, name, layout):
    """A finite 2-D float array."""
    try:
        a = as_array(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fn}: {name} must be a 2-D array or Tensor {layout}, got "
                        f"{type(x).__name__} ({e})") from None
    if a.ndim != 2 or a.dtype.kind not in "iuf":
        raise ValueError(f"{fn}: {name} must be a 2-D array of numbers {layout}, got shape "
                         f"{a.shape} and dtype {a.dtype}")
    if a.dtype.kind == "f" and np.isnan(a).any():
        i, j = (int(k) for k in np.argwhere(np.isnan(a))[0])
        raise ValueError(f"{fn}: {name} contains NaN (first at [{i}, {j}])")
    return a


def _threshold(value, fn, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
            not np.isfinite(value):
        raise TypeError(f"{fn}: {name} must be a finite number, got {value!r}")
    return float(value)


class Matcher:
    """Assign each prediction (anchor, proposal) the ground truth it overlaps most, by IoU.

    For prediction n with best quality q_n = max_m Q[m, n] over ground truths m:

        q_n ≥ high_threshold                  -> argmax_m Q[m, n]   (foreground)
        q_n < low_threshold                   -> BELOW_LOW_THRESHOLD = −1 (background)
        low_threshold ≤ q_n < high_threshold  -> BETWEEN_THRESHOLDS = −2 (ignored)

    With ``allow_low_quality_matches``, every ground truth also claims the predictions of its
    highest quality (all of them on a tie), even below the thresholds, so that no object is
    left without an anchor [Ren15, §3.1.2: "(i) the anchor/anchors with the highest IoU
    overlap with a ground-truth box"]; such a prediction takes its own argmax, as torchvision.

    Call ``matcher(match_quality_matrix)`` with Q (M ground truths, N predictions), e.g.
    ``box_iou(gt_boxes, anchors)``; returns an int64 Tensor (N,).

    NOTE: as torchvision, a ground truth that overlaps nothing (its best IoU is 0) claims, in
    low-quality mode, every prediction with IoU 0 to it. Unlike torchvision, an image with no
    ground truth (M = 0) is not an error: every prediction is background.
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold, low_threshold, allow_low_quality_matches=False):
        self.high_threshold = _threshold(high_threshold, "Matcher", "high_threshold")
        self.low_threshold = _threshold(low_threshold, "Matcher", "low_threshold")
        if self.low_threshold > self.high_threshold:
            raise ValueError(f"Matcher: low_threshold ({low_threshold}) must not exceed "
                             f"high_threshold ({high_threshold})")
        self.allow_low_quality_matches = bool(allow_low_quality_matches)

    def __call__(self, match_quality_matrix):
        q = _matrix(match_quality_matrix, "Matcher", "match_quality_matrix",
                    "(M ground truths, N predictions)")
        M, N = q.shape
        if M == 0 or N == 0:
            return as_tensor(np.full(N, self.BELOW_LOW_THRESHOLD, np.int64))
        best = q.max(axis=0)                                   # (N,) best quality per prediction
        argmax = q.argmax(axis=0).astype(np.int64)             # (N,) first best ground truth
        matches = argmax.copy()
        matches[best < self.low_threshold] = self.BELOW_LOW_THRESHOLD
        matches[(best >= self.low_threshold) & (best < self.high_threshold)] = \
            self.BETWEEN_THRESHOLDS
        if self.allow_low_quality_matches:
            # For each ground truth, the predictions that reach its highest quality (ties too).
            highest = q.max(axis=1, keepdims=True)             # (M, 1)
            claimed = (q == highest).any(axis=0)               # (N,)
            matches[claimed] = argmax[claimed]
        return as_tensor(matches)


class SSDMatcher(Matcher):
    """SSD's matching: IoU ≥ threshold is foreground, below is background (no ignore band),
    and each ground truth keeps its single best prediction whatever the IoU, as torchvision's
    ``SSDMatcher``. The forced matches are applied in ground-truth order (a later object wins
    a prediction that is best for two)."""

    def __init__(self, threshold=0.5):
        super().__init__(threshold, threshold, allow_low_quality_matches=False)

    def __call__(self, match_quality_matrix):
        matches = super().__call__(match_quality_matrix).numpy()
        q = as_array(match_quality_matrix)
        if q.shape[0] and q.shape[1]:
            best = q.argmax(axis=1)                            # (M,) best prediction per object
            # The last ground truth naming a prediction wins it: unique over the reversed list.
            preds, first_from_end = np.unique(best[::-1], return_index=True)
            matches[preds] = q.shape[0] - 1 - first_from_end
        return as_tensor(matches)


class ATSSMatcher:
    """Adaptive training sample selection [Zhang20, Alg. 1]: each object sets its own IoU
    threshold from the anchors nearest to it.

    A fixed threshold (``Matcher``'s 0.5) starves small objects: on a stride-8 grid no anchor
    overlaps a 10 px shape by IoU 0.5, so it is learnt from one forced match while its
    neighbours are taught "background". ATSS instead, for each ground truth g:

    1. on each pyramid level, takes the ``topk`` · A anchors whose centres are nearest to
       g's centre (the paper's k = 9 anchors, with one anchor per location; here A anchors
       per location count as one: the ``topk`` nearest locations);
    2. t_g = mean + std of those candidates' IoUs with g (the sample std, ddof = 1);
    3. makes positive the candidates with IoU ≥ t_g whose centre lies inside g.

    An anchor claimed by several objects goes to the one it overlaps most. Every other anchor
    is background: there is no ignore band. A large object's candidates overlap it well and
    its threshold is high; a small object's overlap it little and its threshold drops with
    them, so every object gets a few positives, however it sits on the grid. One left with
    none (narrower than the stride, it may hold no anchor centre) keeps its best candidate.

    Call ``matcher(gt_boxes, anchors, num_anchors_per_level)`` with (M, 4) and (N, 4) xyxy
    boxes, the anchors ordered level by level, and the count of each level's anchors (they
    sum to N). Returns an int64 Tensor (N,): the index of the matched ground truth, or
    −1 (``BELOW_LOW_THRESHOLD``) for background.
    """

    BELOW_LOW_THRESHOLD = Matcher.BELOW_LOW_THRESHOLD

    def __init__(self, topk=9, num_anchors_per_location=1):
        for name, value in (("topk", topk), ("num_anchors_per_location",
                                              num_anchors_per_location)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"ATSSMatcher: {name} must be an int >= 1, got {value!r}")
        self.topk, self.num_anchors_per_location = int(topk), int(num_anchors_per_location)

    def __call__(self, gt_boxes, anchors, num_anchors_per_level):
        g = _matrix(gt_boxes, "ATSSMatcher", "gt_boxes", "(M, 4) xyxy")
        a = _matrix(anchors, "ATSSMatcher", "anchors", "(N, 4) xyxy")
        for name, x in (("gt_boxes", g), ("anchors", a)):
            if x.shape[1] != 4:
                raise ValueError(f"ATSSMatcher: {name} must have shape (K, 4), got {x.shape}")
        counts = [int(c) for c in num_anchors_per_level]
        if any(c < 0 for c in counts) or sum(counts) != len(a):
            raise ValueError(f"ATSSMatcher: num_anchors_per_level must be counts that sum to "
                             f"the {len(a)} anchors, got {counts}")
        M, N = len(g), len(a)
        matches = np.full(N, self.BELOW_LOW_THRESHOLD, np.int64)
        if M == 0 or N == 0:
            return as_tensor(matches)
        iou = box_iou(g, a).numpy().astype(np.float64)                  # (M, N)
        gt_centres = (g[:, :2] + g[:, 2:]) / 2                          # (M, 2)
        anchor_centres = (a[:, :2] + a[:, 2:]) / 2                      # (N, 2)
        distance = np.linalg.norm(gt_centres[:, None] - anchor_centres[None], axis=2)  # (M, N)
        # 1. the nearest topk·A anchors of every level ("stable": ties go to the lower index)
        candidates, start = [], 0
        for count in counts:
            k = min(self.topk * self.num_anchors_per_location, count)
            order = np.argsort(distance[:, start:start + count], axis=1, kind="stable")
            candidates.append(order[:, :k] + start)
            start += count
        candidates = np.concatenate(candidates, axis=1)                 # (M, C)
        candidate_iou = np.take_along_axis(iou, candidates, axis=1)     # (M, C)
        # 2. each object's threshold: the mean plus the std of its candidates' IoUs
        ddof = 1 if candidates.shape[1] > 1 else 0
        threshold = candidate_iou.mean(axis=1) + candidate_iou.std(axis=1, ddof=ddof)
        # 3. positive: IoU at least the threshold and the anchor's centre inside the object
        c = anchor_centres[candidates]                                  # (M, C, 2)
        inside = ((c > g[:, None, :2]) & (c < g[:, None, 2:])).all(axis=2)
        positive = (candidate_iou >= threshold[:, None]) & inside
        # NOTE: not in [Zhang20]: an object narrower than the stride may hold no anchor centre
        # and get no positive; it keeps its best candidate, as Matcher's low-quality matches.
        none = ~positive.any(axis=1)
        positive[none, candidate_iou[none].argmax(axis=1)] = True
        # an anchor claimed by several objects goes to the one it overlaps most
        m, j = np.nonzero(positive)
        claim = np.full((M, N), -np.inf)                                # IoU of each claim
        claim[m, candidates[m, j]] = candidate_iou[m, j]
        best = claim.max(axis=0)
        claimed = np.isfinite(best)
        matches[claimed] = claim.argmax(axis=0)[claimed]
        return as_tensor(matches)


def assign_anchors_greedy(iou, iou_threshold=0.5):
    """The lectures' assignment of ground truths to anchors [D2L, §14.4.3].

    With X the (N anchors, M ground truths) IoU matrix:

    1. Every anchor whose best IoU reaches ``iou_threshold`` takes that ground truth.
    2. Then, min(N, M) times: find the largest entry x_ij of X, assign ground truth j to
       anchor i (overriding step 1), and discard row i and column j.

    So every ground truth gets at least its best remaining anchor, and the well-overlapping
    anchors join in. (D2L's code runs step 1 first, as here: the greedy pairs have the last
    word.) Ties go to the first entry in row-major order.

    Parameters
    ----------
    iou : (N, M), anchors × ground truths, e.g. ``box_iou(anchors, gt_boxes)`` — NOTE: the
        transpose of ``Matcher``'s (M, N) layout, as D2L writes it.
    iou_threshold : float

    Returns
    -------
    Tensor (N,) int64: the ground-truth index of each anchor, −1 for background.
    """
    x = _matrix(iou, "assign_anchors_greedy", "iou", "(N anchors, M ground truths)")
    iou_threshold = _threshold(iou_threshold, "assign_anchors_greedy", "iou_threshold")
    N, M = x.shape
    assigned = np.full(N, -1, np.int64)
    if N == 0 or M == 0:
        return as_tensor(assigned)
    best = x.max(axis=1)
    above = best >= iou_threshold
    assigned[above] = x.argmax(axis=1)[above]
    x = x.astype(np.float64)                 # a copy we can discard rows and columns of
    for _ in range(min(N, M)):
        i, j = np.unravel_index(np.argmax(x), x.shape)
        assigned[i] = j
        x[i, :] = -np.inf                    # discard anchor i ...
        x[:, j] = -np.inf                    # ... and ground truth j
    return as_tensor(assigned)


class BalancedPositiveNegativeSampler:
    """Sample a fixed-size set of anchors per image with a bounded share of positives, as
    torchvision's (Faster R-CNN trains its RPN on 256 anchors per image, up to half positive,
    "padded with negative ones" when an image has fewer [Ren15, §3.1.3]).

    Per image: num_pos = min(#positives, int(batch_size_per_image · positive_fraction)),
    num_neg = min(#negatives, batch_size_per_image − num_pos), each drawn uniformly without
    replacement.

    Parameters
    ----------
    batch_size_per_image : int
    positive_fraction : float in [0, 1]

    Call ``sampler(matched_idxs, generator=None)`` with a list of per-image label arrays
    (N_i,): ≥ 1 positive, 0 negative, −1 (or any negative value) neither. ``generator`` is a
    ``numpy.random.Generator``; None uses tinyvision's (``tv.manual_seed`` makes it
    repeatable). Returns two lists of bool Tensors (N_i,): the sampled positives and the
    sampled negatives of each image. A single array instead of a list gives single masks.
    """

    def __init__(self, batch_size_per_image, positive_fraction):
        if isinstance(batch_size_per_image, bool) or \
                not isinstance(batch_size_per_image, (int, np.integer)) or batch_size_per_image < 0:
            raise ValueError(f"BalancedPositiveNegativeSampler: batch_size_per_image must be a "
                             f"non-negative int, got {batch_size_per_image!r}")
        fraction = _threshold(positive_fraction, "BalancedPositiveNegativeSampler",
                              "positive_fraction")
        if not 0 <= fraction <= 1:
            raise ValueError(f"BalancedPositiveNegativeSampler: positive_fraction must be in "
                             f"[0, 1], got {positive_fraction!r}")
        self.batch_size_per_image, self.positive_fraction = int(batch_size_per_image), fraction

    def __call__(self, matched_idxs, generator=None):
        rng = default_generator() if generator is None else generator
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"BalancedPositiveNegativeSampler: generator must be a "
                            f"numpy.random.Generator or None, got {type(generator).__name__}")
        single = not isinstance(matched_idxs, (list, tuple))
        pos, neg = [], []
        for i, labels in enumerate([matched_idxs] if single else matched_idxs):
            labels = as_array(labels)
            if labels.ndim != 1 or labels.dtype.kind not in "iuf":
                raise ValueError(f"BalancedPositiveNegativeSampler: matched_idxs[{i}] must be "
                                 f"a 1-D array of labels (≥ 1 positive, 0 negative, −1 ignored), "
                                 f"got shape {labels.shape} and dtype {labels.dtype}")
            positive, negative = np.flatnonzero(labels >= 1), np.flatnonzero(labels == 0)
            num_pos = min(positive.size, int(self.batch_size_per_image * self.positive_fraction))
            num_neg = min(negative.size, self.batch_size_per_image - num_pos)
            pos.append(_mask(labels.size, rng.permutation(positive)[:num_pos]))
            neg.append(_mask(labels.size, rng.permutation(negative)[:num_neg]))
        return (pos[0], neg[0]) if single else (pos, neg)


def _mask(n, indices):
    mask = np.zeros(n, bool)
    mask[indices] = True
    return as_tensor(mask)


def hard_negative_mining(loss, labels, neg_pos_ratio=3):
    """SSD's hard negative mining [Liu16, §2.2 "Hard negative mining"]: most anchors are
    background, so per image keep every positive and only the negatives with the highest
    classification loss, at most ``neg_pos_ratio`` per positive ("so that the ratio between
    the negatives and positives is at most 3:1").

    Parameters
    ----------
    loss : (N, A) per-anchor classification loss (or (A,) for one image); its values only
        rank the negatives, no gradient flows through the selection
    labels : (N, A) ints: > 0 positive (a class), 0 negative, < 0 ignored (never selected)
    neg_pos_ratio : int, negatives kept per positive (3 in the paper)

    Returns
    -------
    Tensor bool, the shape of ``loss``: the anchors the loss sums over. An image without
    positives keeps no negatives (as torchvision's SSD); equal losses rank by anchor index.
    """
    fn = "hard_negative_mining"
    l, y = as_array(loss), as_array(labels)
    if l.ndim not in (1, 2) or l.shape != y.shape:
        raise ValueError(f"{fn}: loss and labels must both be (N, A) (or (A,)), got shapes "
                         f"{l.shape} and {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fn}: labels must be integers (> 0 positive, 0 negative), got dtype "
                        f"{y.dtype}")
    if l.dtype.kind not in "iuf" or (l.dtype.kind == "f" and np.isnan(l).any()):
        raise ValueError(f"{fn}: loss must be numbers without NaN (dtype {l.dtype})")
    ratio = _threshold(neg_pos_ratio, fn, "neg_pos_ratio")
    if ratio < 0:
        raise ValueError(f"{fn}: neg_pos_ratio must be ≥ 0, got {neg_pos_ratio!r}")
    l2, y2 = np.atleast_2d(l), np.atleast_2d(y)
    positive, negative = y2 > 0, y2 == 0
    num_neg = np.floor(ratio * positive.sum(axis=1, keepdims=True))       # (N, 1)
    # Rank the negatives by loss, highest first (positives and ignored anchors go last).
    score = np.where(negative, l2.astype(np.float64), -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")                     # (N, A)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[1])[None, :], axis=1)
    keep = positive | (negative & (rank < num_neg))
    return as_tensor(keep.reshape(l.shape))
