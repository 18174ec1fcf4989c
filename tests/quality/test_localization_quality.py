"""Quality bar of single-object localization on ShapesScenes (issue 6, item 1).

Slow (a few minutes on 2 cores): ``pytest -m slow tests/quality/test_localization_quality.py``.
The bars are the issue's: mean IoU >= 0.75 with class accuracy >= 98 % on the default test
split (500 images), trained in at most 10 minutes.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_localization_on_shapes_scenes_mean_iou_075_with_accuracy_98_percent():
    r = recipes.train_task("localization", progress=False)
    print(f"\n{r['metrics']}, trained in {r['seconds']:.0f} s, "
          f"{r['ms_per_image']:.2f} ms/image")   # shown with pytest -s
    assert r["metrics"]["accuracy"] >= 0.98, r["metrics"]
    assert r["metrics"]["mean_iou"] >= 0.75, r["metrics"]
    assert r["seconds"] <= 600, r["seconds"]
