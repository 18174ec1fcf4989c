"""Toy 2-D classification data: interleaved spirals, the classic non-linear problem.

A linear classifier gets about 1/K of the points right; a small MLP separates them.
"""
import numpy as np


def spirals(n_per_class=300, classes=3, noise=0.2, turns=1.0, seed=0):
    """Points on ``classes`` interleaved spiral arms.

    Arm k at radius r ∈ [0, 1] lies at angle θ = 2π·turns·r + 2πk/K, plus Gaussian noise on θ.

    Returns
    -------
    x : (classes·n_per_class, 2) float32 in [−1, 1]²
    y : (classes·n_per_class,) int64 labels 0..classes−1
    """
    if n_per_class <= 0 or classes < 2:
        raise ValueError(f"spirals: need n_per_class > 0 and classes >= 2, got "
                         f"{n_per_class} and {classes}")
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.05, 1.0, n_per_class), classes)
    k = np.repeat(np.arange(classes), n_per_class)
    theta = 2 * np.pi * (turns * r + k / classes) + rng.normal(0, noise, r.shape)
    x = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).astype(np.float32)
    return x, k.astype(np.int64)
