"""Precision–recall curves per class, from ``voc_evaluate`` or ``coco_evaluate`` results.

A PR curve shows what AP summarises: precision (how many detections are right) against recall
(how many objects are found) as the score threshold goes down. ``pr_curves`` returns one
(recall, precision) pair of arrays per class, ready for ``tinyvision.viz.plot_pr_curves``:

    VOC   the raw curve, one point per detection of the class in decreasing score order (AP
          is the area under its envelope, ``voc_ap``)
    COCO  precision at COCO's 101 recall points for one IoU threshold, area range and
          max-detections setting (AP is the mean of these values over thresholds; 0 past the
          highest recall reached)
"""
import numpy as np


def pr_curves(result, iou_threshold=0.5, area="all", max_dets=100):
    """{class: (recall, precision)} from a ``voc_evaluate`` or ``coco_evaluate`` result.

    Parameters
    ----------
    result : the dict either function returned
    iou_threshold, area, max_dets : COCO only: which slice of its precision array (one of
        result["iou_thresholds"], result["area_ranges"], result["max_dets"])

    Returns
    -------
    dict: key = the label (VOC) or the category id (COCO), value = (recall, precision), two
    float64 arrays of equal length; classes without ground truth are left out.
    """
    fn = "pr_curves"
    if not isinstance(result, dict):
        raise TypeError(f"{fn}: result must be the dict voc_evaluate or coco_evaluate "
                        f"returned, got {type(result).__name__}")
    if "iou_thresholds" in result and "precision" in result:
        return _coco_curves(result, iou_threshold, area, max_dets, fn)
    if "ap" in result and "precision" in result and "recall" in result:
        return {label: (np.asarray(r, np.float64), np.nan_to_num(np.asarray(p, np.float64)))
                for label, (r, p) in enumerate(zip(result["recall"], result["precision"]))
                if r is not None}
    raise ValueError(f"{fn}: result must come from voc_evaluate or coco_evaluate (with "
                     f"'precision' and 'recall'), got keys {sorted(result)[:8]}")


def _coco_curves(result, iou_threshold, area, max_dets, fn):
    thresholds = np.asarray(result["iou_thresholds"])
    t = np.flatnonzero(np.isclose(thresholds, iou_threshold))
    if t.size != 1:
        raise ValueError(f"{fn}: iou_threshold must be one of COCO's {np.round(thresholds, 2)}, "
                         f"got {iou_threshold!r}")
    if area not in result["area_ranges"]:
        raise ValueError(f"{fn}: area must be one of {result['area_ranges']}, got {area!r}")
    if max_dets not in result["max_dets"]:
        raise ValueError(f"{fn}: max_dets must be one of {result['max_dets']}, got {max_dets!r}")
    a, m = result["area_ranges"].index(area), result["max_dets"].index(max_dets)
    precision = result["precision"][t[0], :, :, a, m]          # (R, K)
    recall = np.asarray(result["recall_thresholds"], np.float64)
    return {int(cat): (recall.copy(), precision[:, k].copy())
            for k, cat in enumerate(result["category_ids"]) if (precision[:, k] > -1).all()}
