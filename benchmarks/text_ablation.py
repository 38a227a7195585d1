"""Proof that the text is used: train on isoluminant shapes with the texts and with them ablated.

In the isoluminant set (``tic.data.synthetic``) every coloured pixel of an image has the same L*,
so the gray input says where the shapes are but not which colour they have: only the text can.
We train the same small model twice for the same number of steps, once with the texts and once
with every text empty (``data.text: empty``), and report the ab error of each on held-out images
(another seed). A model that ignores its text cannot beat the ablated one.

Images: 32x32, one shape on a gray background ("a red circle on a gray background"). Why one shape
and a gray background: the paper's sentence vector is the MEAN of word vectors, so "a red circle
on a green background" and "a green circle on a red background" encode identically; with one
coloured region per image the text names its colour unambiguously.

Errors are mean |ab_pred - ab_true| in Lab units (a, b in about [-110, 110]), over all pixels and
over the shape's pixels (its mask). The with-text model is also evaluated with the held-out texts
shuffled across images (wrong colours named): its error rises when the text steers the colour.

    nice -n 10 python benchmarks/text_ablation.py --steps 1500
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import sys
import time
from pathlib import Path

import torch

from tic.color import AB_SCALE
from tic.data.dataset import ColorizationDataset, batch_to_lab
from tic.data.manifest import read_manifest, write_manifest
from tic.data.synthetic import make_synthetic
from tic.train import prepare_run, train
from tic.train_config import load_train_config

ROOT = Path(__file__).resolve().parents[1]


def make_set(folder: Path, n: int, seed: int, size: int) -> Path:
    """``n`` generated images, of which those with one shape on a gray background are kept."""
    manifest = folder / "gray_background.jsonl"
    if manifest.is_file():
        return manifest
    records = make_synthetic(folder, n=n, size=size, seed=seed, max_shapes=1)
    kept = [r for r in records if r.text.endswith("on a gray background")]
    write_manifest(manifest, kept)
    return manifest


# the paper's word2vec (fitted on the training texts), or the pretrained MiniLM sentence encoder
ENCODERS = {
    "word2vec": [],
    "minilm": ["model.text_encoder.kind=minilm"],  # 384-d: the text sizes follow the encoder
}


def config(train_manifest: Path, args, text: str, fusion: str, encoder: str):
    return load_train_config(
        None,
        [
            "model=tiny", f"model.image_size={args.size}", f"model.unet.text_fusion={fusion}",
            f"model.unet.width={args.width}", f"loss.lambda_gan={args.lambda_gan}",
            "discriminator.widths=[8,16,32]", f"data.train={train_manifest}", f"data.text={text}",
            "data.workers=0", f"batch_size={args.batch_size}", f"steps={args.steps}",
            f"optim.lr={args.lr}", "loss.lambda_perceptual=0", "log_every=50",
            "image_every=100000", "eval_every=100000", f"save_every={args.steps}", "keep_last=1",
            "precision=fp32", f"seed={args.seed}", *ENCODERS[encoder],
        ],
    )


@torch.no_grad()
def heldout_errors(G, encoder, manifest: Path, size: int, shuffle: bool = False) -> dict:
    """ab error (Lab units) of ``G`` on the held-out set: all pixels, and the shape's pixels."""
    records = read_manifest(manifest)
    texts = [r.text for r in records]
    if shuffle:
        random.Random(0).shuffle(texts)
    data = ColorizationDataset(records, size, train=False)
    G.eval()
    total = shape = shape_px = 0.0
    for start in range(0, len(records), 64):
        items = [data[i] for i in range(start, min(start + 64, len(records)))]
        rgb = torch.stack([it["rgb"] for it in items])
        mask = torch.stack([it["mask"] for it in items]).float() / 255  # (B, 1, s, s): the shape
        L, real_ab = batch_to_lab(rgb)
        fake_ab = G(L, encoder.encode(texts[start : start + len(items)]))
        err = (fake_ab - real_ab).abs().mean(dim=1, keepdim=True) * AB_SCALE  # (B, 1, s, s)
        total += err.mean(dim=(1, 2, 3)).sum().item()
        shape += (err * mask).sum().item()
        shape_px += mask.sum().item()
    G.train()
    return {"ab_error_all": total / len(records), "ab_error_shape": shape / shape_px}


def run(args, train_manifest, test_manifest, encoder: str, fusion: str, text: str) -> dict:
    cfg = config(train_manifest, args, text, fusion, encoder)
    out = Path(args.work) / f"run-{encoder}-{fusion}-{text}"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = train(cfg, out, *prepare_run(cfg, out), progress=False)
    seconds = time.perf_counter() - start
    row = {"encoder": encoder, "fusion": fusion, "texts": "with" if text == "keep" else "ablated (empty)",
           "steps": result.step, "train_seconds": round(seconds, 1)}
    row.update(heldout_errors(result.generator, result.text_encoder, test_manifest, args.size))
    if text == "keep":
        wrong = heldout_errors(result.generator, result.text_encoder, test_manifest, args.size, True)
        row["ab_error_shape_wrong_texts"] = wrong["ab_error_shape"]
    print(json.dumps(row), file=sys.stderr)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--n-train", type=int, default=3000, help="generated (about 20%% are kept)")
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", default="minilm/film,minilm/multiply,word2vec/film",
                   help="encoder/fusion pairs to train")
    p.add_argument("--width", type=int, default=32, help="generator width (tiny preset: 8)")
    p.add_argument("--lambda-gan", type=float, default=0.1,
                   help="GAN weight (at 1.0 the short runs here ignored the text)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default=str(ROOT / "runs" / "text_ablation"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "text_ablation.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    train_manifest = make_set(work / "train", args.n_train, seed=1000 + args.seed, size=args.size)
    test_manifest = make_set(work / "test", args.n_test, seed=2000 + args.seed, size=args.size)
    rows = []
    variants = [v.split("/") for v in args.variants.split(",")]
    for encoder, fusion in variants:
        for text in ("keep", "empty"):
            rows.append(run(args, train_manifest, test_manifest, encoder, fusion, text))
    summary = {}
    for encoder, fusion in variants:
        with_text, ablated = (r for r in rows if (r["encoder"], r["fusion"]) == (encoder, fusion))
        summary[f"{encoder}/{fusion}"] = {
            "shape_error_ratio_with_over_ablated": round(
                with_text["ab_error_shape"] / ablated["ab_error_shape"], 3),
            "all_error_ratio_with_over_ablated": round(
                with_text["ab_error_all"] / ablated["ab_error_all"], 3),
        }
    report = {
        "benchmark": "text ablation on isoluminant shapes (tiny model, 32x32, CPU)",
        "command": "nice -n 10 python " + " ".join(sys.argv),
        "train_images": len(read_manifest(train_manifest)),
        "test_images": len(read_manifest(test_manifest)),
        "settings": {k: v for k, v in vars(args).items() if k not in ("work", "out")},
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "runs": rows,
        "summary": summary,
        "note": "ab errors in Lab units; the same model, steps and seed with and without texts",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
