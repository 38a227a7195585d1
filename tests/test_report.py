"""``tic report`` figures and the grid drawing they share with ``tic evaluate``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tic.cli import main
from tic.data.synthetic import make_synthetic
from tic.grid import image_grid


def test_image_grid_places_each_image_in_its_cell():
    red = Image.new("RGB", (50, 20), (255, 0, 0))
    blue = Image.new("RGB", (10, 10), (0, 0, 255))
    grid = image_grid([[red, blue], [blue, red]], header=["a", "b"], captions=None, cell=40)
    arr = np.asarray(grid)
    # cells are 40 px with 4 px padding; the header band is line_h (12) + 8 px high
    top = 20 + 4
    assert tuple(arr[top + 20, 4 + 20]) == (255, 0, 0)  # row 0, col 0: red, fitted to 40 x 16
    assert tuple(arr[top + 20, 48 + 20]) == (0, 0, 255)  # row 0, col 1: blue, enlarged to 40 x 40
    assert tuple(arr[top + 44 + 20, 4 + 20]) == (0, 0, 255)
    assert tuple(arr[top + 2, 4 + 20]) == (255, 255, 255)  # above the letterboxed red image
    with pytest.raises(ValueError):
        image_grid([])


def test_report_writes_the_three_figures(tiny_model_dir, tmp_path):
    make_synthetic(tmp_path / "iso", 4, size=32, seed=1)
    out = tmp_path / "report"
    rc = main(["report", "--model", str(tiny_model_dir), "--data", str(tmp_path / "iso" / "manifest.jsonl"),
               "--out", str(out), "--n", "2", "--cell", "64", "--device", "cpu",
               "--text", "a red circle", "--text", "a blue square"])  # fmt: skip
    assert rc == 0
    sizes = {}
    for name in ("rows.png", "text_ablation.png", "recolor.png"):
        sizes[name] = Image.open(out / name).size
    # rows: 3 columns; ablation: 4 columns; recolor: gray + own text + 2 texts = 4 columns
    assert sizes["rows.png"][0] == 3 * 68 + 4
    assert sizes["text_ablation.png"][0] == 4 * 68 + 4
    assert sizes["recolor.png"][0] == 4 * 68 + 4
    assert sizes["rows.png"][1] == sizes["text_ablation.png"][1]  # 2 rows each
    meta = json.loads((out / "report.json").read_text())
    assert meta["recolor_texts"] == ["a red circle", "a blue square"]


def test_report_takes_recolor_texts_from_other_records(tiny_model_dir, tmp_path):
    records = make_synthetic(tmp_path / "iso", 5, size=32, seed=2)
    out = tmp_path / "report"
    rc = main(["report", "--model", str(tiny_model_dir), "--data", str(tmp_path / "iso" / "manifest.jsonl"),
               "--out", str(out), "--n", "1", "--cell", "48", "--device", "cpu"])  # fmt: skip
    assert rc == 0
    texts = json.loads((out / "report.json").read_text())["recolor_texts"]
    others = [r.text for r in records[1:]]
    assert texts == list(dict.fromkeys(t for t in others if t != records[0].text))[:3]
    assert Image.open(out / "recolor.png").size[0] == (2 + len(texts)) * 52 + 4
