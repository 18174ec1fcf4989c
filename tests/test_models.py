"""Quick checks of every classifier: output shapes, parameter registration, and a loss that
falls when the model overfits one tiny batch (a broken backward or wiring would not)."""
import numpy as np
import pytest

import tinyvision as tv
import tinyvision.functional as F
from tinyvision import models, optim

CASES = [  # name, constructor, input shape
    ("lenet5", lambda: models.LeNet5(10, 1, 32), (4, 1, 32, 32)),
    ("lenet5-relu-28px", lambda: models.LeNet5(10, 1, 28, activation="relu"), (4, 1, 28, 28)),
    ("alexnet", lambda: models.AlexNetSmall(10, 3, 32), (4, 3, 32, 32)),
    ("vgg-gap", lambda: models.VGG("vgg-small", 10, 3, 32), (4, 3, 32, 32)),
    ("vgg-fc", lambda: models.VGG([8, "M", 16, "M"], 10, 3, 16, gap=False, fc_width=32), (4, 3, 16, 16)),
    ("resnet8", lambda: models.resnet_small(10, 1, depth=8), (4, 1, 32, 32)),
    ("resnet-bottleneck", lambda: models.ResNet(models.Bottleneck, (1, 1), (4, 8), 10, 3), (4, 3, 16, 16)),
    ("mobilenet", lambda: models.MobileNet(10, 3, alpha=0.25), (4, 3, 32, 32)),
    ("allconv", lambda: models.AllConvNet(5, 3, widths=(8, 16, 16)), (4, 3, 48, 48)),
]


@pytest.mark.parametrize("name,make,shape", CASES, ids=[c[0] for c in CASES])
def test_output_shape_and_parameters(name, make, shape):
    tv.manual_seed(0)
    model = make()
    y = model(tv.randn(*shape))
    classes = 5 if name == "allconv" else 10
    assert y.shape == (shape[0], classes)
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(names)) > 0
    assert all(p.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("name,make,shape", CASES, ids=[c[0] for c in CASES])
def test_overfits_a_tiny_batch(name, make, shape):
    tv.manual_seed(0)
    model = make()
    model.eval() if name == "alexnet" else model.train()   # no dropout noise in the check
    x = tv.randn(*shape)
    y = np.arange(shape[0]) % (5 if name == "allconv" else 10)
    # AlexNet has no batch norm: a plain deep ReLU stack needs a gentler step and more of them.
    lr, steps = (1e-3, 80) if name == "alexnet" else (3e-3, 40)
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0], losses


def test_resnet_starts_as_identity_blocks():
    """zero_init_residual: each block's residual branch starts at zero, so y = relu(x)."""
    block = models.resnet_small(10, 3).stages[0][0]
    x = tv.randn(2, 16, 8, 8)
    np.testing.assert_allclose(block(x).data, np.maximum(x.data, 0), atol=1e-6)


def test_allconv_class_maps_pool_to_logits():
    model = models.AllConvNet(5, 3, widths=(8, 8, 8)).eval()
    x = tv.randn(2, 3, 40, 40)
    maps = model.class_maps(x)
    np.testing.assert_allclose(maps.data.mean(axis=(2, 3)), model(x).data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [
    lambda: models.LeNet5(10, 1, 12),
    lambda: models.LeNet5(10, 1, 32, activation="sigmoid"),
    lambda: models.resnet_small(10, 3, depth=9),
    lambda: models.ResNet(layers=(1, 1), widths=(8,)),
    lambda: models.VGG("vgg-small", 10, 3, input_size=4),
])
def test_bad_arguments_raise_clear_errors(bad):
    with pytest.raises(ValueError):
        bad()
