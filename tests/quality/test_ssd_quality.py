"""Quality bar of SSD (issue 7) on ShapesScenes' default test split (all 500 scenes, 128x128):
mAP@0.5 >= 0.85, trained by the recipe in at most 15 minutes (900 s) on 2 cores.

Slow (about 14 minutes on 2 cores): ``pytest -m slow tests/quality/test_ssd_quality.py -s``.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_ssd_map_on_shapes_scenes_test_split_at_least_0_85_within_15_minutes():
    r = recipes.train_task("ssd", progress=False)
    m = r["metrics"]
    print(f"SSD: mAP@0.5 {m['mAP@0.5']:.3f}, AP {m['AP']:.3f} (AP50 {m['AP50']:.3f}, APs "
          f"{m['APs']:.3f}), trained in {r['seconds']:.0f} s ({r['cpu_seconds']:.0f} s CPU), "
          f"{r['ms_per_image']:.1f} ms per image, {r['parameters']} parameters")
    assert m["mAP@0.5"] >= 0.85, m
    assert r["seconds"] <= 900, r["seconds"]
