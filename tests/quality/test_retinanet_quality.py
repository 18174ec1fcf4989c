"""Quality bars of RetinaNet (issue 7) on ShapesScenes' default test split (all 500 scenes,
128x128, COCO-style evaluation): mAP@0.5 >= 0.85, trained by the recipe in at most 15
minutes; its time per image is printed for the comparison with Faster R-CNN
(benchmarks/detectors.py measures both in one run).

Slow (about 14 minutes on 2 cores): ``pytest -m slow tests/quality/test_retinanet_quality.py -s``.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_retinanet_map_on_shapes_scenes_test_split_at_least_0_85_within_15_minutes():
    r = recipes.train_task("retinanet", progress=False)
    m = r["metrics"]
    print(f"RetinaNet: mAP@0.5 {m['mAP@0.5']:.3f}, AP {m['AP']:.3f} (AP50 {m['AP50']:.3f}, "
          f"AP75 {m['AP75']:.3f}), trained in {r['seconds']:.0f} s ({r['cpu_seconds']:.0f} s "
          f"of CPU), {r['ms_per_image']:.1f} ms per image, {r['parameters']} parameters")
    assert m["mAP@0.5"] >= 0.85, m
    assert r["seconds"] <= 900, r["seconds"]
