"""Copy a trained model folder into the package as the shipped default model.

    tic train configs/default.yaml --out runs/default                   # the shipped recipe
    python scripts/ship_default_model.py runs/default/model             # fp16 weights (default)
    python scripts/ship_default_model.py runs/default/model --dtype fp32

Writes ``src/tic/assets/default/`` (``config.json``, ``model.safetensors``, the text-encoder
files), replacing what is there atomically: the folder is written beside it and renamed. The
folder's config is shipped as it is (the recipe's decoding is already in it: ``tic train`` writes
it into ``RUN/model``), rewritten in the current format. With ``--dtype fp16`` the
floating-point weights are stored as float16 (half the size); loading casts them back to float32
(``Colorizer.from_pretrained``). A frozen pretrained encoder is left out of the folder (its
weights ship with tic as an asset and are filled in when the folder is loaded). Before replacing
anything, the new folder is loaded and run once, and its output is compared with the source's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from tic import Colorizer
from tic.backbones import load_pretrained_encoder
from tic.checkpoint import CONFIG_NAME, FORMAT, STATE_NAME, WEIGHTS_NAME, default_model_dir
from tic.config import model_dict
from tic.models import build_generator
from tic.version import __version__

SRC_ASSETS = Path(__file__).resolve().parents[1] / "src" / "tic" / "assets" / "default"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="trained model folder (tic train's RUN/model)")
    p.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    p.add_argument("--out", type=Path, default=SRC_ASSETS)
    args = p.parse_args(argv)

    source = Colorizer.from_pretrained(args.model, device="cpu")  # fails clearly if broken
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".default-", dir=args.out.parent))
    try:
        staged = tmp / "default"
        # a checkpoint folder works too: its optimiser state stays behind
        shutil.copytree(args.model, staged, ignore=shutil.ignore_patterns(STATE_NAME))
        config = source.config  # older formats are written anew
        data = {"format": FORMAT, "tic_version": __version__, **model_dict(config)}
        (staged / CONFIG_NAME).write_text(json.dumps(data, indent=2) + "\n")
        state = load_file(str(staged / WEIGHTS_NAME))
        n_stored = len(state)
        if config.architecture == "encoder_unet" and config.encoder_unet.encoder_frozen:
            # a frozen encoder that is tic's asset is left out (the loader fills it in); one
            # that differs (older runs changed its BatchNorm statistics) stays in the folder
            asset = load_pretrained_encoder(build_generator(config)).state_dict()
            enc = {k: v for k, v in state.items() if k.startswith("encoder.")}
            if all(torch.equal(v.float(), asset[k].float()) for k, v in enc.items()):
                state = {k: v for k, v in state.items() if k not in enc}
            else:
                print("the folder's encoder differs from tic's asset: kept in the folder")
        if args.dtype == "fp16":
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        if args.dtype == "fp16" or len(state) != n_stored:
            save_file(state, str(staged / WEIGHTS_NAME), metadata={"format": "pt"})
        shipped = Colorizer.from_pretrained(staged, device="cpu")
        probe = Image.effect_mandelbrot((160, 120), (-2, -1, 1, 1), 64)
        a = np.asarray(source(probe, "a red flower"), dtype=np.int16)
        b = np.asarray(shipped(probe, "a red flower"), dtype=np.int16)
        diff = int(np.abs(a - b).max())
        print(f"largest 8-bit difference to the source model on a probe image: {diff}")
        if args.out.exists():
            old = tmp / "old"
            args.out.rename(old)
        staged.rename(args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"shipped {args.model} -> {args.out} ({size / 2**20:.2f} MB, {args.dtype} weights)")
    if args.out.resolve() != default_model_dir().resolve():
        print(f"note: tic loads its default model from {default_model_dir()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
