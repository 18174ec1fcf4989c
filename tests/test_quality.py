"""Quality bars of the classifier zoo: each trains from scratch to its README figure.

Slow (minutes each): run with ``pytest -m slow tests/test_quality.py``. The data set's name
is in each test's name; the bars are those of the issue and the README's results table.
"""
import pytest

from tinyvision import recipes

pytestmark = pytest.mark.slow


def test_lenet5_digits_test_accuracy_at_least_97_5_percent_in_5_minutes():
    pytest.importorskip("sklearn", reason="digits() needs scikit-learn (pip install tinyvision[data])")
    r = recipes.train_classifier("lenet5", "digits", progress=False)
    assert r["test_accuracy"] >= 0.975, r["test_accuracy"]
    assert r["seconds"] <= 300, r["seconds"]


def test_resnet_small_digits_test_accuracy_at_least_98_5_percent_in_5_minutes():
    pytest.importorskip("sklearn", reason="digits() needs scikit-learn (pip install tinyvision[data])")
    r = recipes.train_classifier("resnet", "digits", progress=False)
    assert r["test_accuracy"] >= 0.985, r["test_accuracy"]
    assert r["seconds"] <= 300, r["seconds"]


def test_allconv_gap_shapesscenes_single_object_accuracy_at_least_99_percent():
    r = recipes.train_classifier("allconv", "shapes", progress=False)
    assert r["test_accuracy"] >= 0.99, r["test_accuracy"]
