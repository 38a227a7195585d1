"""Backbones: layer selection, truncation, freezing, shipped weights, torchvision ``.pth`` loading.

The shipped VGG16/AlexNet weights are checked end to end by the LPIPS check values in
``test_metrics.py``; here the torchvision-format loaders are checked against a forward pass written
independently with ``torch.nn.functional`` from the same state dict.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tic import backbones
from tic.errors import TicError

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

# torchvision's `features` indices of the conv layers (from torchvision/models/vgg.py, cfg "E")
VGG19_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
VGG19_CHANNELS = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]
# squeezenet1_1: (index, in, squeeze, expand1x1, expand3x3)
FIRES = [
    (3, 64, 16, 64, 64), (4, 128, 16, 64, 64), (6, 128, 32, 128, 128), (7, 256, 32, 128, 128),
    (9, 256, 48, 192, 192), (10, 384, 48, 192, 192), (11, 384, 64, 256, 256),
    (12, 512, 64, 256, 256),
]  # fmt: skip


def vgg19_state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state, in_ch = {}, 3
    for idx, c in zip(VGG19_CONV_INDICES, VGG19_CHANNELS, strict=True):
        scale = (2 / (9 * in_ch)) ** 0.5
        state[f"features.{idx}.weight"] = torch.randn(c, in_ch, 3, 3, generator=g) * scale
        state[f"features.{idx}.bias"] = torch.randn(c, generator=g) * 0.01
        in_ch = c
    # a classifier, as in the real torchvision file: must be ignored
    state["classifier.0.weight"] = torch.randn(8, 4, generator=g)
    state["classifier.0.bias"] = torch.randn(8, generator=g)
    return state


def squeezenet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def conv(name, out_ch, in_ch, k):
        scale = (2 / (k * k * in_ch)) ** 0.5
        state[f"{name}.weight"] = torch.randn(out_ch, in_ch, k, k, generator=g) * scale
        state[f"{name}.bias"] = torch.randn(out_ch, generator=g) * 0.01

    state: dict[str, torch.Tensor] = {}
    conv("features.0", 64, 3, 3)
    for idx, cin, s, e1, e3 in FIRES:
        conv(f"features.{idx}.squeeze", s, cin, 1)
        conv(f"features.{idx}.expand1x1", e1, s, 1)
        conv(f"features.{idx}.expand3x3", e3, s, 3)
    conv("classifier.1", 1000, 512, 1)
    return state


def reference_vgg19_relu(state, x, last_conv: int) -> torch.Tensor:
    """relu after conv number ``last_conv`` (0-based), written from torchvision's layout."""
    h = (x - MEAN) / STD
    pools_after = {1, 3, 7, 11, 15}  # a max-pool follows these convs
    for i, idx in enumerate(VGG19_CONV_INDICES[: last_conv + 1]):
        w, b = state[f"features.{idx}.weight"], state[f"features.{idx}.bias"]
        h = F.relu(F.conv2d(h, w, b, padding=1))
        if i in pools_after and i < last_conv:
            h = F.max_pool2d(h, 2, 2)
    return h


def reference_squeezenet(state, x) -> list[torch.Tensor]:
    """Outputs of relu1 and every fire module, written from torchvision's SqueezeNet 1.1."""
    h = (x - MEAN) / STD
    h = F.relu(F.conv2d(h, state["features.0.weight"], state["features.0.bias"], stride=2))
    outs = [h]
    h = F.max_pool2d(h, 3, 2, ceil_mode=True)
    for idx, *_ in FIRES:
        if idx in (6, 9):
            h = F.max_pool2d(h, 3, 2, ceil_mode=True)
        p = f"features.{idx}"
        s = F.relu(F.conv2d(h, state[f"{p}.squeeze.weight"], state[f"{p}.squeeze.bias"]))
        e1 = F.relu(F.conv2d(s, state[f"{p}.expand1x1.weight"], state[f"{p}.expand1x1.bias"]))
        w, b = state[f"{p}.expand3x3.weight"], state[f"{p}.expand3x3.bias"]
        e3 = F.relu(F.conv2d(s, w, b, padding=1))
        h = torch.cat([e1, e3], 1)
        outs.append(h)
    return outs


def test_vgg16_pretrained_shapes_truncation_and_freezing():
    net = backbones.vgg16(layers=("relu4_3",))
    assert len(net.features) == 23  # torchvision's features[:23] ends with relu4_3
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    (feat,) = net(x)
    assert feat.shape == (2, 512, 4, 4)
    assert (feat >= 0).all()
    feat.mean().backward()  # the perceptual loss needs gradients with respect to the image
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_layers_come_back_in_the_requested_order():
    net = backbones.vgg16(layers=("relu2_2", "relu1_2"), pretrained=False)
    assert len(net.features) == 9
    a, b = net(torch.rand(1, 3, 16, 16))
    assert a.shape == (1, 128, 8, 8) and b.shape == (1, 64, 16, 16)


def test_train_mode_is_refused_and_unknown_layer_is_named():
    net = backbones.alexnet(layers=("relu2",), pretrained=False)
    wrapper = torch.nn.Sequential(net)
    wrapper.train()
    assert not net.training
    with pytest.raises(ValueError, match="relu9"):
        backbones.alexnet(layers=("relu9",), pretrained=False)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.rand(1, 1, 32, 32))


def test_alexnet_shipped_weights_differ_from_random_and_are_finite():
    trained = backbones.alexnet(layers=("relu5",))
    w = trained.features[0].weight
    assert w.shape == (64, 3, 11, 11) and torch.isfinite(w).all()
    # ImageNet first-layer filters: zero-mean-ish edge/colour detectors, std ~0.1 or more
    assert 0.05 < w.std().item() < 1.0
    random = backbones.alexnet(layers=("relu5",), pretrained=False)
    assert not torch.allclose(w, random.features[0].weight)


def test_vgg19_loads_a_torchvision_state_dict(tmp_path):
    state = vgg19_state()
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    net = backbones.vgg19(path, layers=("relu4_4", "relu1_1"))
    assert len(net.features) == 27
    x = torch.rand(2, 3, 32, 32)
    deep, shallow = net(x)
    torch.testing.assert_close(deep, reference_vgg19_relu(state, x, 11), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(shallow, reference_vgg19_relu(state, x, 0), rtol=1e-4, atol=1e-5)


def test_squeezenet_loads_a_torchvision_state_dict(tmp_path):
    state = squeezenet_state()
    path = tmp_path / "squeezenet1_1.pth"
    torch.save({"module." + k: v for k, v in state.items()}, path)  # DataParallel-style keys
    layers = backbones.LPIPS_LAYERS["squeeze"]
    net = backbones.squeezenet1_1(path, layers=layers)
    x = torch.rand(2, 3, 40, 40)
    ref = reference_squeezenet(state, x)
    # relu1, fire3, fire5, fire6, fire7, fire8, fire9 = ref[0], ref[2], ref[4], ref[5..8]
    want = [ref[0], ref[2], ref[4], ref[5], ref[6], ref[7], ref[8]]
    for got, expected in zip(net(x), want, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_bad_weight_files_are_clear_errors(tmp_path):
    with pytest.raises(TicError, match="no such weight file"):
        backbones.vgg19(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(TicError, match="garbage.pth: not a readable PyTorch weight file"):
        backbones.squeezenet1_1(garbage)
    wrong = tmp_path / "squeeze_as_vgg.pth"
    torch.save(squeezenet_state(), wrong)
    with pytest.raises(TicError, match="squeeze_as_vgg.pth: not vgg19 weights"):
        backbones.vgg19(wrong)
    state = vgg19_state()
    state["features.0.weight"] = state["features.0.weight"][:, :1]
    bad_shape = tmp_path / "bad_shape.pth"
    torch.save(state, bad_shape)
    with pytest.raises(TicError, match=r"features.0.weight has shape \(64, 1, 3, 3\)"):
        backbones.vgg19(bad_shape, layers=("relu1_1",))


def test_lpips_linear_layers_ship_for_all_three_nets():
    for net, channels in [("vgg", [64, 128, 256, 512, 512]), ("alex", [64, 192, 384, 256, 256]),
                          ("squeeze", [64, 128, 256, 384, 384, 512, 512])]:  # fmt: skip
        weights = backbones.lpips_linear_weights(net)
        assert [w.shape[1] for w in weights] == channels
        assert all((w >= 0).all() for w in weights)  # LPIPS v0.1 clamps its linear weights to >= 0
