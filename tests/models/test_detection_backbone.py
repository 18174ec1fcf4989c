"""The pieces every detector of models/detection shares: the FPN (against PyTorch), the ResNet
body's strides, the input transform's checks, and the detection recipes' batches and schedule."""
import numpy as np
import pytest

import tinyvision as tv
from tinyvision import nn
from tinyvision.models.detection import (DetectionTransform, ResNetFeatures, check_targets,
                                         detections, resnet_fpn_backbone)
from tinyvision.ops import FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7
from tinyvision.recipes import _detection


def _maps(rng, channels=(4, 6, 8), sizes=(16, 8, 4), n=2):
    return {f"c{k + 3}": rng.standard_normal((n, c, s, s)).astype(np.float32)
            for k, (c, s) in enumerate(zip(channels, sizes))}


def test_fpn_matches_a_pytorch_top_down_pathway_forward_and_backward():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle of the FPN's arithmetic")
    tF = torch.nn.functional
    rng = np.random.default_rng(0)
    maps = _maps(rng)
    fpn = FeaturePyramidNetwork([4, 6, 8], 5, LastLevelP6P7(8, 5, use_p5=False))
    inputs = {k: tv.tensor(v, requires_grad=True) for k, v in maps.items()}
    out = fpn(inputs)
    assert list(out) == ["c3", "c4", "c5", "p6", "p7"]
    weights = [float(w) for w in rng.standard_normal(len(out))]
    sum(w * o.sum() for w, o in zip(weights, out.values())).backward()

    def conv(module, x, stride=1):
        return tF.conv2d(x, torch.tensor(module.weight.data), torch.tensor(module.bias.data),
                         stride=stride, padding=module.weight.shape[-1] // 2)

    xs = [torch.tensor(v, requires_grad=True) for v in maps.values()]
    inner = conv(fpn.inner_blocks[2], xs[2])                        # M5 = L5
    expected = [conv(fpn.layer_blocks[2], inner)]
    for i in (1, 0):                                                # M_i = L_i + up(M_{i+1})
        inner = conv(fpn.inner_blocks[i], xs[i]) + tF.interpolate(inner, scale_factor=2.0,
                                                                  mode="nearest")
        expected.insert(0, conv(fpn.layer_blocks[i], inner))
    p6 = conv(fpn.extra_blocks.p6, xs[2], 2)                        # P6 from C5 (use_p5=False)
    expected += [p6, conv(fpn.extra_blocks.p7, torch.relu(p6), 2)]
    sum(w * e.sum() for w, e in zip(weights, expected)).backward()
    for got, want in zip(out.values(), expected):
        np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    for (name, x), t in zip(inputs.items(), xs):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


def test_last_level_max_pool_subsamples_the_coarsest_output():
    rng = np.random.default_rng(1)
    fpn = FeaturePyramidNetwork([4, 6, 8], 5, LastLevelMaxPool())
    out = fpn({k: tv.tensor(v) for k, v in _maps(rng).items()})
    np.testing.assert_array_equal(out["pool"].data, out["c5"].data[:, :, ::2, ::2])


def test_fpn_refuses_the_wrong_number_of_maps():
    fpn = FeaturePyramidNetwork([4, 6, 8], 5)
    with pytest.raises(ValueError, match="expected 3 maps, got 2"):
        fpn({"a": tv.tensor(np.zeros((1, 4, 4, 4), np.float32)),
             "b": tv.tensor(np.zeros((1, 6, 2, 2), np.float32))})
    with pytest.raises(ValueError, match="in_channels_list"):
        FeaturePyramidNetwork([], 5)


@pytest.mark.parametrize("extra, names", [("pool", ["p3", "p4", "p5", "pool"]),
                                          ("p6p7", ["p3", "p4", "p5", "p6", "p7"]),
                                          (None, ["p3", "p4", "p5"])])
def test_resnet_fpn_backbone_levels_have_their_strides_and_channels(extra, names):
    tv.manual_seed(0)
    backbone = resnet_fpn_backbone((4, 4, 8, 8), out_channels=6, extra_blocks=extra)
    out = backbone(tv.tensor(np.random.default_rng(0).random((1, 3, 64, 64), np.float32)))
    assert list(out) == names == list(backbone.strides)
    for name, p in out.items():
        side = -(-64 // backbone.strides[name])                 # ceil: a 3x3/2 conv pads
        assert p.shape == (1, 6, side, side)


def test_resnet_features_strides_and_errors():
    body = ResNetFeatures((4, 4, 8, 8), (1, 2, 1, 1))
    out = body(tv.tensor(np.zeros((2, 3, 32, 32), np.float32)))
    assert {k: v.shape for k, v in out.items()} == {
        "c2": (2, 4, 8, 8), "c3": (2, 4, 4, 4), "c4": (2, 8, 2, 2), "c5": (2, 8, 1, 1)}
    short = ResNetFeatures((4, 4, 8, 8), last="c4")
    assert list(short(tv.tensor(np.zeros((1, 3, 32, 32), np.float32)))) == ["c2", "c3", "c4"]
    assert len(short.stages) == 3 and short.strides == {"c2": 4, "c3": 8, "c4": 16}
    with pytest.raises(ValueError, match="last must be one of"):
        ResNetFeatures(last="c6")
    with pytest.raises(ValueError, match="4 entries"):
        ResNetFeatures((4, 8, 16))
    with pytest.raises(ValueError, match="returned_layers"):
        resnet_fpn_backbone(returned_layers=(0, 5))
    with pytest.raises(ValueError, match="extra_blocks"):
        resnet_fpn_backbone(extra_blocks="p6")


def test_transform_standardises_and_checks_targets():
    t = DetectionTransform(mean=[0.5, 0.5, 0.5], std=[0.25, 0.5, 1.0], name="Net")
    images = np.full((2, 3, 8, 8), 0.75, np.float32)
    x, targets = t.prepare(images, None, training=False)
    np.testing.assert_allclose(x.data[0, :, 0, 0], [1.0, 0.5, 0.25])
    assert targets is None
    good = [{"boxes": [[0, 0, 4, 4]], "labels": [1]}, {"boxes": np.zeros((0, 4)), "labels": []}]
    _, targets = t.prepare(list(images), good, training=True)
    assert targets[0]["boxes"].dtype == np.float32 and targets[1]["labels"].dtype == np.int64
    with pytest.raises(ValueError, match="Net: in train mode the model needs targets"):
        t.prepare(images, None, training=True)
    with pytest.raises(ValueError, match="list of 2 dicts"):
        t.prepare(images, good[:1], training=True)
    with pytest.raises(ValueError, match="x2 > x1"):
        check_targets([{"boxes": [[4, 0, 2, 4]], "labels": [1]}], 1, "Net")
    with pytest.raises(ValueError, match="1 boxes and 2 labels"):
        check_targets([{"boxes": [[0, 0, 2, 4]], "labels": [1, 2]}], 1, "Net")
    with pytest.raises(ValueError, match="one size"):
        t.prepare([images[0], np.zeros((3, 4, 4), np.float32)])
    out = detections(np.zeros((0, 4)), [], [])
    assert out["boxes"].shape == (0, 4) and out["labels"].dtype == np.int64


def test_hflip_moves_boxes_with_the_pixels():
    image = np.zeros((3, 10, 20), np.float32)
    image[:, 2:5, 3:7] = 1.0                                  # box (3, 2, 7, 5)
    flipped, target = _detection.hflip(np.random.default_rng(0), image,
                                       {"boxes": [[3, 2, 7, 5]], "labels": [1]}, p=1.0)
    x1, y1, x2, y2 = target["boxes"][0].astype(int)
    assert (x1, y1, x2, y2) == (13, 2, 17, 5)
    assert flipped[:, y1:y2, x1:x2].min() == 1.0 and flipped.sum() == image.sum()


def test_dihedral_moves_boxes_with_the_pixels_and_reaches_all_eight_symmetries():
    image = np.zeros((3, 10, 20), np.float32)                 # not square: H and W swap too
    image[:, 2:5, 3:7] = 1.0                                  # box (3, 2, 7, 5)
    image[0, 2, 3] = 2.0                                      # marks the box's (x1, y1) corner
    rng, seen = np.random.default_rng(0), set()
    for _ in range(64):
        out, target = _detection.dihedral(rng, image, {"boxes": [[3, 2, 7, 5]], "labels": [1]})
        x1, y1, x2, y2 = target["boxes"][0].astype(int)
        assert out.shape[1:] in ((10, 20), (20, 10))
        assert out[:, y1:y2, x1:x2].min() == 1.0 and out.sum() == image.sum()
        assert target["labels"] == [1]
        seen.add((out.shape, tuple(np.argwhere(out[0] == 2.0)[0])))
    assert len(seen) == 8


def test_detection_batches_are_repeatable_and_cover_every_scene_once():
    s = tv.data.ShapesScenes("train", n=6, image_size=32).arrays()
    a = _detection.DetectionBatches(s, 2, seed=3)
    b = _detection.DetectionBatches(s, 2, seed=3)
    first, second = list(a), list(b)
    assert len(first) == len(a) == 3
    for (xa, ta), (xb, tb) in zip(first, second):
        np.testing.assert_array_equal(xa.data, xb.data)
        assert [len(t["labels"]) for t in ta] == [len(t["labels"]) for t in tb]
    assert sum(len(t) for _, t in first) == 6


def test_schedule_warms_up_then_decays_to_zero():
    model = nn.Linear(2, 2)
    settings = dict(_detection.DEFAULTS, lr=0.1, epochs=5, warmup_epochs=1)
    opt, sched = _detection.make_optimizer(model, settings)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    np.testing.assert_allclose(lrs, [0.01, 0.1, 0.1 * (0.5 + 0.5 * np.cos(np.pi / 4)), 0.05,
                                     0.1 * (0.5 + 0.5 * np.cos(3 * np.pi / 4))], rtol=1e-6)
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adamw'"):
        _detection.make_optimizer(model, dict(settings, optimizer="adam"))
