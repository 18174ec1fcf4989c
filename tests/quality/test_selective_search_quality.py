"""Quality bar of selective search (issue 6): recall@0.5 >= 0.90 with at most 300 proposals
per image on ShapesScenes' default test split (all 500 scenes, 128x128), the recipe's run.

Slow (about half a minute on a quiet core):
``pytest -m slow tests/quality/test_selective_search_quality.py``.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_selective_search_recall_on_shapes_scenes_test_split_at_least_0_90_with_300_proposals():
    r = recipes.train_task("selective_search", progress=False)
    recall = r["metrics"]["recall@0.5 (300 proposals)"]
    assert recall >= 0.90, r["recall_curve"]
    # fast enough to propose boxes for R-CNN: well under the 10 minutes for the split
    assert r["ms_per_image"] <= 500, r["ms_per_image"]
    assert r["seconds"] <= 600, r["seconds"]
    print(f"recall@0.5: {r['recall_curve']}, {r['metrics']['mean proposals']:.0f} proposals per "
          f"image, {r['ms_per_image']:.0f} ms per image, {r['seconds']:.0f} s")
