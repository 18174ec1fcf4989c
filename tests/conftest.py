"""Test-suite settings: hypothesis profiles and the torch oracle.

Profiles (choose with ``pytest --hypothesis-profile=thorough``):
    ci        the default: few examples per property, the whole suite in minutes on 2 cores
    thorough  many examples per property, for a person hunting for bugs
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    import tinyvision as tv
    tv.manual_seed(0)
    np.random.seed(0)
