"""Quality bar of pose regression (DeepPose) on StickFigures (issue 6, item 2).

Slow (a few minutes on 2 cores): ``pytest -m slow tests/quality/test_pose_quality.py``.
The bar is the issue's: PCK@0.1 >= 0.80 over the visible joints of the default test split
(500 images; the reference size is the longer side of the figure's joint box), trained in at
most 10 minutes.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_pose_on_stick_figures_pck_at_0_1_at_least_0_80():
    r = recipes.train_task("pose", progress=False)
    print(f"\n{r['metrics']}, trained in {r['seconds']:.0f} s, "
          f"{r['ms_per_image']:.2f} ms/image")   # shown with pytest -s
    assert r["metrics"]["pck@0.1"] >= 0.80, r["metrics"]
    assert r["seconds"] <= 600, r["seconds"]
