"""Copy a trained model folder into the package as the shipped default model.

    python scripts/ship_default_model.py runs/default/model            # fp16 weights (default)
    python scripts/ship_default_model.py runs/default/model --dtype fp32
    python scripts/ship_default_model.py runs/default/model --color-synonyms
    python scripts/ship_default_model.py runs/v2/model --ab-head bins --temperature 0.38
    python scripts/ship_default_model.py runs/v4/model --ab-head bins --ab-head-no-colour regression
    python scripts/ship_default_model.py runs/v7/model --photo-palette true
    python scripts/ship_default_model.py runs/v8/model --photo-palette true --no-colour-chroma 0.5 \
        --palette-prior 10 --palette-chroma 1.2 --object-threshold 0.4     # the shipped v8
    python scripts/ship_default_model.py src/tic/assets/default --palette-chroma 2.0 \
        --palette-hue-width 45 --palette-hue-skip brown                      # v9.1 -> v9.2
    python scripts/ship_default_model.py src/tic/assets/default --group-crops 0.5  # v9.2 -> v9.3

Writes ``src/tic/assets/default/`` (``config.json``, ``model.safetensors``, the text-encoder
files), replacing what is there atomically: the folder is written beside it and renamed. With
``--dtype fp16`` the floating-point weights are stored as float16 (half the size); loading casts
them back to float32 (``Colorizer.from_pretrained``), so inference is unchanged apart from the
weights' rounding (its effect on the validation metrics is in MODEL_CARD.md). A frozen pretrained
encoder is left out of the folder (its weights ship with tic as an asset and are filled in when
the folder is loaded). Before replacing
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
from tic.checkpoint import CONFIG_NAME, STATE_NAME, WEIGHTS_NAME, default_model_dir
from tic.models import build_generator

SRC_ASSETS = Path(__file__).resolve().parents[1] / "src" / "tic" / "assets" / "default"


# each option that sets one inference-time entry of config.json: (section, key)
SETTINGS = {
    "ab_head": ("generator", "ab_head"),
    "ab_head_no_colour": ("generator", "ab_head_no_colour"),
    "temperature": ("generator", "bins_temperature"),
    "grounding_ranks": ("generator", "grounding_ranks"),
    "photo_palette": ("text_encoder", "photo_palette"),
    "no_colour_chroma": ("generator", "no_colour_chroma"),
    "object_threshold": ("generator", "object_threshold"),
    "spare_group_margin": ("generator", "spare_group_margin"),
    "group_crops": ("generator", "group_crops"),
    "group_crop_size": ("generator", "group_crop_size"),
    "split_ranker": ("generator", "split_ranker"),
    "person_nouns": ("generator", "person_nouns"),
    "person_faces": ("generator", "person_faces"),
    "instance_position": ("generator", "instance_position"),
    "palette_prior": ("generator", "palette_prior"),
    "palette_chroma": ("generator", "palette_chroma"),
    "palette_hue_width": ("generator", "palette_hue_width"),
    "palette_other_chroma": ("generator", "palette_other_chroma"),
    "palette_hue_skip": ("generator", "palette_hue_skip"),
    "paint_objects": ("generator", "paint_objects"),
}


def _float_or_none(text: str) -> float | str:
    """An option's number, or "none" (the config entry becomes null)."""
    return text if text == "none" else float(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="trained model folder (tic train's RUN/model)")
    p.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    p.add_argument("--out", type=Path, default=SRC_ASSETS)
    p.add_argument("--color-synonyms", action="store_true",
                   help="rewrite colour synonyms to basic terms before encoding (crimson -> red; "
                   "text_encoder.color_synonyms in config.json)")
    p.add_argument("--ab-head", choices=["regression", "bins"], default=None,
                   help="the output head of a pretrained-encoder model (generator.ab_head)")
    p.add_argument("--ab-head-no-colour", choices=["regression", "bins"], default=None,
                   help="the head for texts that name no colour (generator.ab_head_no_colour)")
    p.add_argument("--temperature", type=float, default=None,
                   help="annealed-mean temperature of the bins head (generator.bins_temperature)")
    p.add_argument("--grounding-ranks", choices=["true", "false"], default=None,
                   help="rank the class maps within the image (generator.grounding_ranks)")
    p.add_argument("--photo-palette", choices=["true", "false"], default=None,
                   help="read tic caption's 'a photo of X in <colours>' as the photo's colours "
                   "(text_encoder.photo_palette)")
    p.add_argument("--paint-objects", choices=["true", "false"], default=None,
                   help="paint the named objects at decoding (generator.paint_objects; needs an "
                   "object head)")
    p.add_argument("--no-colour-chroma", type=float, default=None,
                   help="scale of the ab of texts that name no colour (generator.no_colour_chroma)")
    p.add_argument("--palette-prior", type=float, default=None,
                   help="lean of the bins head to a palette text's colours "
                   "(generator.palette_prior)")
    p.add_argument("--palette-chroma", type=float, default=None,
                   help="scale of the ab of palette texts (generator.palette_chroma)")
    p.add_argument("--palette-hue-width", type=_float_or_none,
                   default=None, help="degrees: apply --palette-chroma only near the named hues, "
                   "none: everywhere (generator.palette_hue_width)")
    p.add_argument("--palette-other-chroma", type=float, default=None,
                   help="with --palette-hue-width: the scale away from the named hues "
                   "(generator.palette_other_chroma)")
    p.add_argument("--palette-hue-skip", type=lambda s: [t for t in s.split(",") if t],
                   default=None, help="comma-separated colour terms whose hue --palette-hue-width "
                   "does not strengthen, e.g. brown (generator.palette_hue_skip)")
    p.add_argument("--object-threshold", type=float, default=None,
                   help="the object head's probability from which a pixel is an object's "
                   "(generator.object_threshold)")
    p.add_argument("--spare-group-margin", type=float, default=None,
                   help="nats: leave unpainted a foreground group no phrase fits "
                   "(generator.spare_group_margin)")
    p.add_argument("--group-crops", type=_float_or_none, default=None,
                   help="margin: classify each group of the object split on its own crop of the "
                   "gray input, none: on the whole picture's features (generator.group_crops)")
    p.add_argument("--group-crop-size", type=int, default=None,
                   help="side of those crops in pixels (generator.group_crop_size)")
    p.add_argument("--split-ranker", type=lambda f: json.loads(Path(f).read_text())["weights"],
                   default=None, help="JSON file of benchmarks/assignment_screen.py --ranker-out: "
                   "choose the split of a text naming two objects among candidates "
                   "(generator.split_ranker)")
    p.add_argument("--instance-position", type=float, default=None,
                   help="weight of the position against the instance embedding in the object "
                   "split (generator.instance_position)")
    p.add_argument("--person-nouns", choices=["true", "false"], default=None,
                   help="match nouns that name people to the classes that show people "
                   "(generator.person_nouns)")
    p.add_argument("--person-faces", choices=["true", "false"], default=None,
                   help="place a person named among other objects under a face found in the "
                   "gray image (generator.person_faces)")
    args = p.parse_args(argv)

    source = Colorizer.from_pretrained(args.model, device="cpu")  # fails clearly if broken
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".default-", dir=args.out.parent))
    try:
        staged = tmp / "default"
        # a checkpoint folder works too: its optimiser state stays behind
        shutil.copytree(args.model, staged, ignore=shutil.ignore_patterns(STATE_NAME))
        # inference-time settings only: the weights are the same
        cfg = json.loads((staged / CONFIG_NAME).read_text())
        if args.color_synonyms:  # the captions used basic terms anyway
            cfg["text_encoder"]["color_synonyms"] = True
        for option, (section, key) in SETTINGS.items():
            value = getattr(args, option)
            if value is not None:  # "true" / "false" choices become booleans
                if value in ("true", "false"):
                    value = value == "true"
                cfg[section][key] = None if value == "none" else value
        (staged / CONFIG_NAME).write_text(json.dumps(cfg, indent=2) + "\n")
        state = load_file(str(staged / WEIGHTS_NAME))
        n_stored = len(state)
        g = cfg["generator"]
        if g.get("encoder", "scratch") != "scratch" and g.get("encoder_frozen", True):
            # a frozen encoder that is tic's asset is left out (the loader fills it in); one
            # that differs (older runs changed its BatchNorm statistics) stays in the folder
            asset = load_pretrained_encoder(build_generator(source.config.generator)).state_dict()
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
