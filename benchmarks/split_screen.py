"""Screen ways of splitting the object head's foreground among a text's objects, no decoder.

``tic.binding.split_objects`` splits the foreground into one k-means group per named object and
gives each group to a phrase by the ImageNet classifier. This script measures, on binding sets
of the TRAINING sources (``scripts/prepare_data_v2.py``: ``dev_binding``, ``dev_binding_unseen``,
``dev_binding_crowded``; never the held-out ``val_binding``), how often other splits find both
named objects, the way ``benchmarks/grounding_maps.py`` counts it: an object is found when its
own phrase owns over half of its mask at 1/4 of the working size, a scene is right when both
are. Each scene's encoder features, object-head probability and phrase weights are computed once
(``--cache``), so a variant costs tens of seconds. The variants (``variants``):

- ``shipped``: ``split_objects`` as the shipped model calls it;
- ``position W`` / ``levels L position W``: k-means on other feature levels (0: 1/32, 1: 1/16,
  2: 1/8, 3: 1/4) and position weights;
- ``class probabilities``: the classifier's per-position probabilities appended to the features;
- ``select margin`` / ``select total`` / ``vote``: eight k-means partitions (``CANDIDATES``),
  the one whose best assignment beats the swapped one by most, or scores most, or a per-pixel
  vote of the eight;
- ``recursive D M``: split in two; when both phrases prefer the same group, drop every group
  that each phrase fits at least M nats worse than its preferred one and split the rest again,
  at most D times;
- ``grad-cam``: Grad-CAM of each phrase's classes on the 1/16 features (contrastive: one
  phrase's log-probability minus the other's), each pixel (or k-means group) to the phrase with
  the higher normalised map;
- ``oracle K``: K k-means groups, each given to the phrase whose mask covers over half of it,
  else to none: the ceiling of any per-group decision on that over-segmentation.

    python benchmarks/split_screen.py --data-root data/v2

Writes ``benchmarks/results/split_screen.json`` (per variant and set: scenes with both objects
found, and objects found); with ``--failures PICTURE``, the shipped split's failed scenes of the
last set (up to 16): the gray input, the first phrase's pixels red, the second's blue, the rest
of the foreground green, each true object outlined in its phrase's colour.
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import Tensor

from tic import binding, color, grounding
from tic.backbones import load_pretrained_encoder
from tic.checkpoint import load_model
from tic.imageio import read_photo
from tic.text_minilm import MiniLMEncoder

CACHED_KEYS = {"feats", "prob", "weights", "small", "gray", "nouns"}  # per scene
SETS = ("dev_binding", "dev_binding_unseen", "dev_binding_crowded")
CANDIDATES = (((1, 2), 10.0), ((1, 2), 3.0), ((1, 2), 30.0), ((0, 1, 2), 1.0), ((0, 1, 2), 10.0),
              ((2,), 3.0), ((0,), 3.0), ((1,), 3.0))


def cache_scenes(G, cfg, manifest: Path) -> list[dict]:
    """Per scene (the swapped-colour twin skipped): what the splits need."""
    encoder = MiniLMEncoder()
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    seen, scenes = set(), []
    for row in rows:
        key = tuple(r["mask"] for r in row["regions"])
        if key in seen:
            continue
        seen.add(key)
        photo = read_photo(manifest.parent / row["image"])  # CIE L*, as inference reads it
        L = color.normalize_l(F.interpolate(photo.L, size=(cfg.image_size,) * 2, mode="bilinear",
                                            antialias=True, align_corners=False))
        nouns = [r["name"] for r in row["regions"]]
        with torch.no_grad():
            feats = G.encode(L)
            vectors = encoder.sentence_vectors([grounding.CLASS_PROMPT.format(n) for n in nouns])
            weights, _ = G.class_inputs(feats, vectors[None])
            prob = G.object_logits(feats).sigmoid()
        h = feats[-1].shape[-1]
        masks = [np.asarray(Image.open(manifest.parent / r["mask"]).convert("L")) > 127
                 for r in row["regions"]]
        small = torch.stack([F.adaptive_avg_pool2d(torch.from_numpy(m)[None, None].float(), h)[0, 0]
                             for m in masks]) > 0.5
        scenes.append({"feats": feats, "prob": prob, "weights": weights, "small": small,
                       "gray": (L[0, 0] + 1) / 2, "nouns": nouns})
    return scenes


def load_scenes(G, cfg, data_root: Path, name: str, cache: Path) -> list[dict]:
    """``cache_scenes`` of the set ``data_root/name``, kept in ``cache/name.pt`` (computed again
    when missing or written by an older version without ``CACHED_KEYS``)."""
    path = cache / f"{name}.pt"
    cached = torch.load(path, weights_only=False) if path.exists() else None
    if cached and CACHED_KEYS <= set(cached[0]):
        return cached
    scenes = cache_scenes(G, cfg, data_root / name / "manifest.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(scenes, path)
    return scenes


class Splits:
    """The variants, for one model: each ``(scene) -> owners (P, h, w) bool``."""

    def __init__(self, G, threshold: float):
        self.G, self.threshold = G, threshold
        self.clf = (G.class_weight, G.class_bias)

    def _foreground(self, s: dict) -> Tensor:
        return s["prob"][0, 0] > self.threshold  # (h, w)

    def _nothing(self, s: dict) -> Tensor:
        return torch.zeros(s["weights"].shape[1], *s["prob"].shape[-2:], dtype=torch.bool)

    def _partition(self, s: dict, k: int, levels=(1, 2), position=binding.SPATIAL_WEIGHT,
                   class_probs: float = 0.0, fg: Tensor | None = None) -> Tensor:
        """``k`` k-means groups ``(k, h, w)`` of the foreground (or of ``fg``)."""
        feats = s["feats"]
        h, w = s["prob"].shape[-2:]
        parts = [F.normalize(F.interpolate(feats[lv], size=(h, w), mode="bilinear",
                                           align_corners=False), dim=1) for lv in levels]
        if class_probs:
            W, b = self.clf
            p = (torch.einsum("chw,kc->khw", feats[0][0], W) + b[:, None, None]).softmax(0)
            parts.append(class_probs * F.normalize(F.interpolate(
                p[None], size=(h, w), mode="bilinear", align_corners=False), dim=1))
        looks = torch.cat(parts, 1)[0] / len(parts) ** 0.5
        yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        x = torch.cat([looks, position * torch.stack([yy, xx])]).flatten(1).T
        fg = self._foreground(s) if fg is None else fg
        idx = fg.flatten().nonzero().flatten()
        group = binding._kmeans(x[idx], binding._farthest_points(x[idx], k))
        regions = torch.zeros(k, h * w, dtype=torch.bool)
        for g in range(k):
            regions[g, idx[group == g]] = True
        return regions.view(k, h, w)

    def _score(self, s: dict, regions: Tensor) -> Tensor:
        logp = binding._pooled_logp(s["feats"][0][0], regions, self.clf)
        return binding._log_likelihood(logp, s["weights"][0])  # (groups, phrases)

    def _owners(self, regions: Tensor, plan: list[int]) -> Tensor:
        own = torch.zeros(len(plan), *regions.shape[-2:], dtype=torch.bool)
        for g, p in enumerate(plan):
            own[p] |= regions[g]
        return own

    def _enough(self, s: dict, k: int) -> bool:
        return int(self._foreground(s).sum()) >= k

    def shipped(self, s: dict) -> Tensor:
        P = s["weights"].shape[1]
        kind = torch.full((1, P), grounding.OBJECT)
        return binding.split_objects(s["prob"], kind, s["feats"], s["weights"], self.clf,
                                     threshold=self.threshold)[0] > 0

    def kmeans(self, s: dict, **kw) -> Tensor:
        P = s["weights"].shape[1]
        if not self._enough(s, P):
            return self._nothing(s)
        regions = self._partition(s, P, **kw)
        return self._owners(regions, binding._best_assignment(self._score(s, regions)))

    def select(self, s: dict, mode: str) -> Tensor:
        P = s["weights"].shape[1]
        if not self._enough(s, P):
            return self._nothing(s)
        best, votes = None, torch.zeros(P, *s["prob"].shape[-2:])
        for levels, position in CANDIDATES:
            regions = self._partition(s, P, levels, position)
            score = self._score(s, regions)
            plan = binding._best_assignment(score)
            total = float(score[torch.arange(P), torch.tensor(plan)].sum())
            swapped = float(score[torch.arange(P), torch.tensor(plan[::-1])].sum())
            own = self._owners(regions, plan)
            votes += own.float()
            key = total - swapped if mode == "margin" else total
            if best is None or key > best[0]:
                best = (key, own)
        if mode == "vote":
            return (votes == votes.amax(0, keepdim=True)) & (votes > 0)
        return best[1]

    def recursive(self, s: dict, depth: int, margin: float) -> Tensor:
        P = s["weights"].shape[1]
        if not self._enough(s, P):
            return self._nothing(s)
        keep = self._foreground(s)
        for d in range(depth + 1):
            regions = self._partition(s, P, fg=keep)
            score = self._score(s, regions)
            prefer = score.argmax(0).tolist()  # the group each phrase fits best
            if d == depth or len(set(prefer)) == P:
                break
            drop = [g for g in range(P) if g not in prefer and all(
                score[g, p] < score[prefer[p], p] - margin for p in range(P))]
            rest = regions[sorted(set(prefer))].any(0)
            if not drop or int(rest.sum()) < P:
                break
            keep = rest
        return self._owners(regions, binding._best_assignment(score))

    def grad_cam(self, s: dict, k: int = 0) -> Tensor:
        P = s["weights"].shape[1]
        h, w = s["prob"].shape[-2:]
        if not self._enough(s, max(P, k)):
            return self._nothing(s)
        top = self.G.encoder.features[14:19]  # 1/16 (features[13]) -> 1/32
        A = s["feats"][1].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            lp = binding.class_logp(top(A).mean((2, 3)), self.clf)
            y = (s["weights"][0].log() + lp).logsumexp(1)  # (P,)
            maps = []
            for p in range(P):
                (g,) = torch.autograd.grad(y[p] - (y.sum() - y[p]) / (P - 1), A, retain_graph=True)
                maps.append(F.relu((g.mean((2, 3), keepdim=True) * A).sum(1))[0])
        m = torch.stack(maps).detach()
        m = m / m.flatten(1).amax(1).clamp_min(1e-8)[:, None, None]
        m = F.interpolate(m[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        if not k:
            return (m.argmax(0) == torch.arange(P)[:, None, None]) & self._foreground(s)
        own = self._nothing(s)
        for r in self._partition(s, k):
            if r.any():
                own[int(m[:, r].mean(1).argmax())] |= r
        return own

    def oracle(self, s: dict, k: int, position: float) -> Tensor:
        own = self._nothing(s)
        if not self._enough(s, k):
            return own
        for r in self._partition(s, k, position=position):
            if r.any():
                share = s["small"][:, r].float().mean(1)
                if share.max() > 0.5:
                    own[int(share.argmax())] |= r
        return own


def variants(sp: Splits) -> dict[str, Callable[[dict], Tensor]]:
    v: dict[str, Callable[[dict], Tensor]] = {"shipped": sp.shipped}
    for position in (0.0, 1.0, 3.0):
        v[f"position {position:g}"] = lambda s, p=position: sp.kmeans(s, position=p)
    for levels in ((0, 1, 2), (0,), (2,), (3,)):
        for position in (1.0, 3.0, 10.0):
            v[f"levels {levels} position {position:g}"] = \
                lambda s, lv=levels, p=position: sp.kmeans(s, levels=lv, position=p)
    for beta in (1.0, 3.0):
        v[f"class probabilities x{beta:g}"] = lambda s, b=beta: sp.kmeans(s, class_probs=b)
    for mode in ("margin", "total", "vote"):
        v[f"select {mode}"] = lambda s, m=mode: sp.select(s, m)
    for depth in (1, 2):
        for margin in (0.0, 2.0):
            v[f"recursive {depth} {margin:g}"] = \
                lambda s, d=depth, m=margin: sp.recursive(s, d, m)
    v["grad-cam pixels"] = sp.grad_cam
    for k in (2, 4):
        v[f"grad-cam groups {k}"] = lambda s, k=k: sp.grad_cam(s, k)
    for k in (2, 4, 6, 8):
        for position in (3.0, 10.0):
            v[f"oracle {k} position {position:g}"] = \
                lambda s, k=k, p=position: sp.oracle(s, k, p)
    return v


def _hits(own: Tensor, small: Tensor) -> list[bool]:
    """Per object: does its own phrase own over half of its mask (an empty mask: no)."""
    return [bool(m.any()) and float(own[i][m].float().mean()) > 0.5 for i, m in enumerate(small)]


def found(scenes: list[dict], split: Callable[[dict], Tensor]) -> tuple[float, float]:
    """(share of scenes with both objects found, share of objects found)."""
    hits = []
    for s in scenes:
        with torch.no_grad():
            hits.append(_hits(split(s), s["small"]))
    arr = np.array(hits)
    return float(arr.all(1).mean()), float(arr.mean())


def failures_picture(scenes: list[dict], split: Callable[[dict], Tensor], threshold: float,
                     out: Path, most: int = 16) -> int:
    """The scenes ``split`` gets wrong, as tiles (see the module doc) -> how many were drawn."""
    tiles = []
    for s in scenes:
        with torch.no_grad():
            own = split(s)
        if all(_hits(own, s["small"])):
            continue
        own = own.float()
        size = s["gray"].shape[-1]
        up = F.interpolate(own[None], size=size)[0]
        fg = F.interpolate((s["prob"] > threshold).float(), size=size)[0, 0]
        truth = F.interpolate(s["small"][None].float(), size=size)[0] > 0.5
        rgb = 0.6 * s["gray"][..., None].repeat(1, 1, 3)
        rgb[..., 0] += 0.5 * up[0]
        rgb[..., 2] += 0.5 * up[1]
        rgb[..., 1] += 0.25 * fg * (1 - up.sum(0)).clamp_min(0)
        for i, edge_colour in ((0, (1.0, 0.0, 0.0)), (1, (0.0, 0.0, 1.0))):
            m = truth[i]
            edge = (m ^ m.roll(1, 0)) | (m ^ m.roll(1, 1))
            rgb[edge] = torch.tensor(edge_colour)
        tile = Image.new("RGB", (256, 276), "white")
        tile.paste(Image.fromarray((rgb.clamp(0, 1) * 255).byte().numpy()).resize((256, 256)), (0, 0))
        ImageDraw.Draw(tile).text((2, 260), f"red: {s['nouns'][0]}, blue: {s['nouns'][1]}",
                                  fill="black")
        tiles.append(tile)
        if len(tiles) == most:
            break
    cols = 4
    sheet = Image.new("RGB", (256 * cols, 276 * max(1, -(-len(tiles) // cols))), "white")
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % cols) * 256, (k // cols) * 276))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return len(tiles)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path, default=Path("data/v2"))
    p.add_argument("--sets", nargs="+", default=list(SETS))
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--only", nargs="*", default=None, help="variant names to run (default: all)")
    p.add_argument("--cache", type=Path, default=Path("runs/split_screen"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/split_screen.json"))
    p.add_argument("--failures", type=Path, default=None,
                   help="picture of the shipped split's failures on the last set")
    args = p.parse_args(argv)
    if "val_binding" in args.sets:
        raise SystemExit("val_binding is the held-out set: confirm a choice with tic evaluate, "
                         "do not screen on it")
    cfg, G, _ = load_model(args.model)
    G = load_pretrained_encoder(G).eval()
    data = {name: load_scenes(G, cfg, args.data_root, name, args.cache) for name in args.sets}
    splits = Splits(G, cfg.generator.object_threshold)
    table = variants(splits)
    names = args.only or list(table)
    results = {}
    for name in names:
        results[name] = {}
        for set_name, scenes in data.items():
            both, each = found(scenes, table[name])
            results[name][set_name] = {"both_found": round(both, 4), "objects_found": round(each, 4)}
        print(f"{name:34s}", "  ".join(f"{r['both_found']:.1%} ({r['objects_found']:.1%})"
                                       for r in results[name].values()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "model": args.model or "shipped", "machine": platform.processor() or platform.machine(),
        "scenes": {k: len(v) for k, v in data.items()}, "variants": results}, indent=1) + "\n")
    print(f"wrote {args.out}")
    if args.failures:
        n = failures_picture(data[args.sets[-1]], splits.shipped, splits.threshold, args.failures)
        print(f"wrote {args.failures} ({n} scenes)")


if __name__ == "__main__":
    main()
