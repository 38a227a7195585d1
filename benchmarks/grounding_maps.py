"""How often the grounding maps alone point at the right object (``tic.grounding``), no decoder.

On a binding set (``scripts/prepare_data_v2.py``'s ``val_binding/``: two cut-outs on one gray
input, each named with its label), for every scene: the objects' maps from the encoder's ImageNet
classifier matched to each label (``EncoderUNet.class_maps`` at the model's working size from the
image's CIE L*, as inference computes them, upsampled to the image), and for each object the share
of its mask where its own map beats the other's. An object is "found" when that share is over one
half; a scene is right when both are. This is the ceiling the maps give the decoder for binding.

Then the same count for ``tic.binding.split_objects`` (groups of foreground pixels matched to
the phrases, as ``decoding.paint_objects`` decodes): with the true masks' union as the
foreground (how well the matching itself works) and, for a model with an object head, with the
head's foreground (what decoding gets), whose intersection over union with the true union is
reported too (pixels above the model's ``decoding.object_threshold``). The face step of the
shipped model (``decoding.person_faces``) is not part of this count.

    python benchmarks/grounding_maps.py --data data/v2/val_binding/manifest.jsonl

Writes ``benchmarks/results/grounding_maps.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tic import binding, color, decoding, grounding
from tic.backbones import load_pretrained_encoder
from tic.checkpoint import load_model
from tic.imageio import read_photo
from tic.text_minilm import MiniLMEncoder


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--size", type=int, default=None,
                   help="working size of the maps (default: the model's image_size)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/grounding_maps.json"))
    args = p.parse_args(argv)
    cfg, G, _ = load_model(args.model)
    G = load_pretrained_encoder(G).eval()
    size = args.size or cfg.image_size
    threshold = cfg.decoding.object_threshold
    encoder = MiniLMEncoder()
    root = args.data.parent
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    seen, shares, names = set(), [], []
    groups: dict[str, list[list[float]]] = {"true_foreground": [], "object_head": []}
    ious = []
    for row in rows:
        key = tuple(r["mask"] for r in row["regions"])
        if key in seen:  # the swapped-colour twin has the same objects and maps
            continue
        seen.add(key)
        photo = read_photo(root / row["image"])  # CIE L*, as inference reads it
        gray_size = photo.size  # (W, H)
        L = color.normalize_l(F.interpolate(photo.L, size=(size, size), mode="bilinear",
                                            antialias=True, align_corners=False))
        with torch.no_grad():
            feats = G.encode(L)
            nouns = [r["name"] for r in row["regions"]]
            vectors = encoder.sentence_vectors([grounding.CLASS_PROMPT.format(n) for n in nouns])
            inputs = decoding.class_inputs(feats, vectors[None], cfg.decoding.person_nouns)
            maps = grounding.class_maps(feats[0], vectors[None], inputs[1])  # (1, P, h, w), 1/32
        maps = F.interpolate(maps, size=gray_size[::-1], mode="bilinear", align_corners=False)[0]
        masks = [torch.from_numpy(np.asarray(Image.open(root / r["mask"]).convert("L")) > 127)
                 for r in row["regions"]]
        own = []
        for i, mask in enumerate(masks):
            others = torch.cat([maps[:i], maps[i + 1 :]]).amax(0)
            own.append(float((maps[i] > others)[mask].float().mean()))
        shares.append(own)
        names.append(nouns)
        # the group split, at the object head's size (1/4 of the working size)
        h = feats[-1].shape[-1]
        small = [F.adaptive_avg_pool2d(m[None, None].float(), h)[0, 0] for m in masks]
        truth = (torch.stack(small).amax(0) > 0.5).float()[None, None]
        kind = torch.full((1, len(nouns)), grounding.OBJECT)
        with torch.no_grad():
            fgs = {"true_foreground": truth}
            if G.objects is not None:
                fgs["object_head"] = G.object_logits(feats).sigmoid()
                found = fgs["object_head"][0, 0] > threshold
                ious.append(float((found & (truth[0, 0] > 0)).sum() / (found | (truth[0, 0] > 0)).sum()))
        for name, prob in fgs.items():
            with torch.no_grad():
                owners = binding.split_objects(prob, kind, feats, *inputs,
                                               threshold=threshold)[0] > 0
            groups[name].append([float(owners[i][m > 0.5].float().mean()) for i, m in enumerate(small)])
    shares_np = np.array(shares)
    result = {
        "data": str(args.data),
        "model": args.model or "shipped",
        "size": size,
        "machine": platform.machine(),
        "scenes": len(shares),
        "objects_found": float((shares_np > 0.5).mean()),
        "scenes_both_found": float((shares_np > 0.5).all(1).mean()),
        "mean_own_share": float(shares_np.mean()),
        "split_true_foreground": _counts(groups["true_foreground"]),
        "split_object_head": _counts(groups["object_head"]) if groups["object_head"] else None,
        "object_head_iou": float(np.mean(ious)) if ious else None,
        "missed": [{"labels": n, "own_share": [round(v, 2) for v in s]}
                   for n, s in zip(names, shares, strict=True) if min(s) <= 0.5],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(shares)} scenes: objects found {result['objects_found']:.1%}, both found "
          f"{result['scenes_both_found']:.1%} (mean own share {result['mean_own_share']:.3f})")
    for key in ("split_true_foreground", "split_object_head"):
        if result[key]:
            print(f"{key}: objects found {result[key]['objects_found']:.1%}, both found "
                  f"{result[key]['scenes_both_found']:.1%}")
    if ious:
        print(f"object head: IoU with the true objects {result['object_head_iou']:.3f}")


def _counts(shares: list[list[float]]) -> dict:
    """Per scene, each object's share of its mask owned by its own phrase -> the counts."""
    arr = np.array(shares)
    return {"objects_found": float((arr > 0.5).mean()),
            "scenes_both_found": float((arr > 0.5).all(1).mean())}


if __name__ == "__main__":
    main()
