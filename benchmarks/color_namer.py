"""Agreement of the colour namer (``tic.color_names.name_color``) with named reference colours.

Two tables, both in ``tests/fixtures/``:

- ``css_color_terms.tsv``: the 139 distinct CSS/X11 named colours, each mapped BY HAND to a basic
  term (plus other acceptable terms for colours English speakers split over, e.g. teal: blue or
  green). Reported: ``strict`` (the namer gives the primary term) and ``accepting`` (any listed
  term).
- ``xkcd_color_terms.tsv``: the xkcd colour-survey names whose last word is a basic term (558);
  the expected term is that word. Reported over all of them and over the 439 whose name holds
  one colour word only ("light blue", not "greenish blue", whose head word is a judgement call).

The namer's thresholds were set while looking at both tables, so these are agreement figures, not
held-out accuracies. Also timed: naming 1 million Lab pixels (median of 5 runs).

Run: ``python benchmarks/color_namer.py`` (writes ``benchmarks/results/color_namer.json``).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections import Counter
from pathlib import Path

import torch

from tic.color_names import color_term_indices, colors_in_text, name_color

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def read(name: str) -> list[list[str]]:
    lines = (FIXTURES / name).read_text().splitlines()
    return [x.split("\t") for x in lines if x and not x.startswith("#")]


def css() -> dict:
    rows = read("css_color_terms.tsv")
    strict, accepting, misses = 0, 0, []
    for name, hexa, primary, others in rows:
        got = name_color("#" + hexa)
        ok = {primary} | (set() if others == "-" else set(others.split(",")))
        strict += got == primary
        accepting += got in ok
        if got != primary:
            misses.append({"name": name, "hex": hexa, "expected": primary, "also": others, "got": got})
    return {
        "n": len(rows),
        "strict": round(strict / len(rows), 4),
        "accepting": round(accepting / len(rows), 4),
        "not_primary": misses,
    }


def xkcd() -> dict:
    rows = read("xkcd_color_terms.tsv")
    single = [r for r in rows if len(set(colors_in_text(r[0]))) == 1]
    confusion: Counter[str] = Counter()
    for _name, hexa, term in single:
        got = name_color("#" + hexa)
        if got != term:
            confusion[f"{term}->{got}"] += 1
    agree_all = sum(name_color("#" + h) == t for _, h, t in rows)
    agree_single = sum(name_color("#" + h) == t for _, h, t in single)
    return {
        "n_all": len(rows),
        "all": round(agree_all / len(rows), 4),
        "n_single_colour_word": len(single),
        "single_colour_word": round(agree_single / len(single), 4),
        "confusions_single": dict(confusion.most_common()),
    }


def speed(repeats: int = 5) -> dict:
    g = torch.Generator().manual_seed(0)
    lab = torch.stack(
        [torch.rand(1_000_000, generator=g) * 100, torch.randn(1_000_000, generator=g) * 40,
         torch.randn(1_000_000, generator=g) * 40], dim=-1,
    )
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        color_term_indices(lab)
        times.append(time.perf_counter() - t0)
    return {"pixels": 1_000_000, "median_s": round(statistics.median(times), 4), "runs": repeats}


def main() -> None:
    result = {
        "css_x11": css(),
        "xkcd": xkcd(),
        "speed_color_term_indices": speed(),
        "machine": {"cpu_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": torch.__version__},
    }
    out = ROOT / "benchmarks" / "results" / "color_namer.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    c, x = result["css_x11"], result["xkcd"]
    print(f"CSS/X11 ({c['n']}): strict {c['strict']:.1%}, accepting {c['accepting']:.1%}")
    print(f"xkcd single-colour-word names ({x['n_single_colour_word']}): "
          f"{x['single_colour_word']:.1%}; all ({x['n_all']}): {x['all']:.1%}")
    print(f"1M pixels named in {result['speed_color_term_indices']['median_s']} s (median)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
