"""Detection-toolkit benchmark: nms, roi_align and coco_evaluate against their usual peers.

    python benchmarks/detection_ops.py                  # full: the shapes of issue 5
    python benchmarks/detection_ops.py --quick          # small shapes, few repeats (CI)
    python benchmarks/detection_ops.py --only nms       # one family (or several)
    python benchmarks/detection_ops.py --markdown       # the README's table

Families, each with its peer (the ratio column divides by the peer's time in the same run;
below 1: tinyvision is faster):

    nms            every kernel implementation through tinyvision.ops.nms / batched_nms,
                   clustered boxes (kernels/nms/reference.py: clustered_boxes), IoU 0.5;
                   peer OpenCV's cv2.dnn.NMSBoxes (NMSBoxesBatched), when installed
    roi_align      forward+backward, 512 RoIs on a (2, 256, 50, 50) map; peer PyTorch
                   (benchmarks/_detection_roi.py)
    coco_evaluate  500 images; peer pycocotools' COCOeval (benchmarks/_detection_coco.py)

Each family exports ``cases(quick) -> [Case]`` (nms's is here); a family whose module is not
written yet is reported and skipped.
"""
import argparse
import importlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import Case, print_table, run_cases  # noqa: E402

import tinyvision.ops as ops  # noqa: E402
from tinyvision import kernels  # noqa: E402
from tinyvision.kernels.nms.reference import clustered_boxes  # noqa: E402

try:
    import cv2
except ImportError:  # the nms rows then show tinyvision alone
    cv2 = None

IMPLEMENTATIONS = ("reference", "cython", "numba")
FAMILIES = {"nms": None, "roi_align": "_detection_roi", "coco_evaluate": "_detection_coco"}
NMS_TARGET = 2.0  # issue 5: the fastest CPU implementation >= 2x faster than OpenCV


def _tinyvision_nms(name, op, *args):
    def run():
        with kernels.use(name):
            return op(*args).numpy()
    return run


def _opencv_nms(boxes, scores, iou_threshold, idxs=None):
    """NMSBoxes takes (x, y, w, h) boxes (converted once, outside the timing) and drops
    scores <= score_threshold: 0 keeps every box of these positive scores."""
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).astype(np.float64)
    if idxs is None:
        return lambda: np.asarray(cv2.dnn.NMSBoxes(xywh, scores, 0.0, iou_threshold)).reshape(-1)
    return lambda: np.asarray(cv2.dnn.NMSBoxesBatched(xywh, scores, idxs.astype(np.int32), 0.0,
                                                      iou_threshold)).reshape(-1)


def nms_cases(quick=False):
    """nms at 2,000 and 10,000 clustered boxes (quick: 1,000), and batched_nms over 80
    categories at the largest size; every implementation's kept set is checked first."""
    rng = np.random.default_rng(0)
    out = []
    sizes = (1000,) if quick else (2000, 10000)
    for n, batched in [(n, False) for n in sizes] + [(sizes[-1], True)]:
        boxes, scores = clustered_boxes(n, rng)
        scores = scores + np.float32(1e-3)  # positive: OpenCV drops scores <= 0
        idxs = rng.integers(0, 80, n) if batched else None
        op, args = (ops.batched_nms, (boxes, scores, idxs, 0.5)) if batched else \
            (ops.nms, (boxes, scores, 0.5))
        runs = {name: _tinyvision_nms(name, op, *args) for name in IMPLEMENTATIONS}
        if cv2 is not None and (not batched or hasattr(cv2.dnn, "NMSBoxesBatched")):
            runs["opencv"] = _opencv_nms(boxes, scores, 0.5, idxs)
        kept = {name: run() for name, run in runs.items()}
        for name, keep in kept.items():  # timing a wrong answer would mean nothing
            if name != "opencv" and not np.array_equal(keep, kept["reference"]):
                raise AssertionError(f"nms benchmark: {name} keeps other boxes than reference")
        if "opencv" in kept and not np.array_equal(np.sort(kept["opencv"]),
                                                   np.sort(kept["reference"])):
            print(f"note: OpenCV keeps {kept['opencv'].size} boxes at n={n}, tinyvision "
                  f"{kept['reference'].size} (see tests/ops/test_nms.py for what differs)")
        label = "batched_nms, 80 categories" if batched else "nms"
        shape = f"{n:,} boxes, IoU 0.5, {kept['reference'].size:,} kept"
        out.append(Case(label, shape, runs, peer="opencv"))
    return out


def family_cases(family, quick):
    """The family's cases, or [] (with a note) when its module is not written yet."""
    if FAMILIES[family] is None:
        return nms_cases(quick)
    try:
        module = importlib.import_module(FAMILIES[family])
    except ModuleNotFoundError as error:
        if error.name != FAMILIES[family]:
            raise  # the module exists but something it imports is missing
        print(f"family {family} not available yet (benchmarks/{FAMILIES[family]}.py)")
        return []
    return module.cases(quick)


def print_nms_target(rows):
    """Issue 5's target: the fastest CPU implementation against OpenCV, case by case."""
    for key in dict.fromkeys((r["op"], r["shape"]) for r in rows if r["op"] == "nms"):
        times = {r["impl"]: r["ms"] for r in rows if (r["op"], r["shape"]) == key}
        if "opencv" not in times:
            continue
        best = min((n for n in times if n in IMPLEMENTATIONS), key=times.get)
        speedup = times["opencv"] / times[best]
        print(f"{key[1]}: {best} {times[best]:.2f} ms, OpenCV {times['opencv']:.2f} ms: "
              f"{speedup:.1f}x faster (target {NMS_TARGET:.0f}x: "
              f"{'met' if speedup >= NMS_TARGET else 'NOT met'})")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Detection-toolkit benchmark against peers.")
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats (CI)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--only", nargs="*", default=None, choices=list(FAMILIES),
                        help="families to run (default all): " + " ".join(FAMILIES))
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed samples per run (default 3 with --quick, else 7)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    families = args.only or list(FAMILIES)
    if "nms" in families and cv2 is None:
        print("OpenCV is not installed: no peer for nms (pip install opencv-python-headless)")
    start = time.perf_counter()
    cases = [case for family in families for case in family_cases(family, args.quick)]
    rows = run_cases(cases, repeats)
    print_table(rows, markdown=args.markdown)
    print_nms_target(rows)
    print(f"(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
