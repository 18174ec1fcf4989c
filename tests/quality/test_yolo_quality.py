"""Quality bars of YOLO v1 (issue 7) on ShapesScenes' default test split (all 500 scenes,
128x128, COCO-style evaluation): mAP@0.5 >= 0.75, trained by the recipe in at most 15
minutes; its time per image is printed for the comparison with Faster R-CNN
(benchmarks/detectors.py measures both in one run).

Slow (several minutes on 2 cores): ``pytest -m slow tests/quality/test_yolo_quality.py -s``.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_yolo_map_on_shapes_scenes_test_split_at_least_0_75_within_15_minutes():
    r = recipes.train_task("yolo", progress=False)
    m = r["metrics"]
    print(f"YOLO v1: mAP@0.5 {m['mAP@0.5']:.3f}, AP {m['AP']:.3f} (AP50 {m['AP50']:.3f}, "
          f"AP75 {m['AP75']:.3f}), trained in {r['seconds']:.0f} s ({r['cpu_seconds']:.0f} s "
          f"of CPU), {r['ms_per_image']:.1f} ms per image, {r['parameters']} parameters")
    assert m["mAP@0.5"] >= 0.75, m
    assert r["seconds"] <= 900, r["seconds"]
