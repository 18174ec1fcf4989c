"""Quality bar of R-CNN (issue 6): mAP@0.5 >= 0.60 on ShapesScenes' default test split (all
500 scenes, 128x128), trained by the recipe in at most 10 minutes (selective search of the
training scenes included).

Slow (several minutes on 2 cores): ``pytest -m slow tests/quality/test_rcnn_quality.py -s``.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_rcnn_map_on_shapes_scenes_test_split_at_least_0_60():
    r = recipes.train_task("rcnn", progress=False)
    m = r["metrics"]
    print(f"R-CNN: mAP@0.5 {m['mAP@0.5']:.3f}, AP {m['AP']:.3f}, trained in {r['seconds']:.0f} s "
          f"({r['stage_seconds']}), {r['ms_per_image']:.0f} ms per image "
          f"({r['ms_per_image_with_proposals']:.0f} ms with selective search)")
    assert m["mAP@0.5"] >= 0.60, m
    assert r["seconds"] <= 600, r["stage_seconds"]
