"""`tic data ...` and `tic caption` end to end (in-process, tiny fixtures)."""

import json

import numpy as np
from PIL import Image

from tests.test_data_cub import write_cub
from tests.test_data_ncd_coco_folder import write_coco, write_ncd
from tests.test_data_photos import write_pool
from tic.cli import main
from tic.data.manifest import read_manifest


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_data_synthetic(tmp_path, capsys):
    out = tmp_path / "iso"
    assert main(["data", "synthetic", "--out", str(out), "--n", "3", "--size", "32", "--seed", "1"]) == 0
    assert "wrote 3 record(s) (3 no split)" in capsys.readouterr().err
    recs = read_manifest(out / "manifest.jsonl")
    assert len(recs) == 3 and all(r.mask.is_file() for r in recs)
    assert main(["data", "synthetic", "--out", str(out), "--n", "1", "--lightness", "95"]) == 2
    assert "too few clear" in capsys.readouterr().err


def test_data_cub_ncd_coco_folder(tmp_path, capsys):
    root = write_cub(tmp_path / "cub")
    m = tmp_path / "m" / "cub.jsonl"
    assert main(["data", "cub", str(root), "--out", str(m)]) == 0
    assert "wrote 6 record(s) (3 test, 3 train)" in capsys.readouterr().err
    assert lines(m)[0]["text"] == "wing_color black breast_color red leg_color grey"
    assert lines(m)[0]["image"].startswith("../cub/CUB_200_2011/images/")
    assert main(["data", "cub", str(root), "--out", str(m), "--split", "seeded",
                 "--n-train", "2", "--n-test", "1"]) == 0
    assert len(lines(m)) == 3

    ncd = write_ncd(tmp_path / "ncd", classes=("Tomato", "Dragonfruit"))
    m = tmp_path / "ncd.jsonl"
    assert main(["data", "ncd", str(ncd), "--out", str(m)]) == 2
    assert "no colour for class(es) Dragonfruit" in capsys.readouterr().err
    assert not m.exists()
    assert main(["data", "ncd", str(ncd), "--out", str(m), "--color", "dragonfruit=pink"]) == 0
    assert {x["text"] for x in lines(m)} == {"red tomato", "pink dragonfruit"}
    assert main(["data", "ncd", str(ncd), "--out", str(m), "--color", "pink"]) == 2

    captions = write_coco(tmp_path / "coco")
    m = tmp_path / "coco.jsonl"
    assert main(["data", "coco", str(captions), "--images", str(tmp_path / "coco" / "train2017"),
                 "--out", str(m), "--split", "train"]) == 0
    assert [x["id"] for x in lines(m)] == ["coco-9", "coco-30"]

    (tmp_path / "f").mkdir()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "f" / "x.png")
    (tmp_path / "f" / "x.txt").write_text("a red square")
    assert main(["data", "folder", str(tmp_path / "f"), "--out", str(tmp_path / "f.jsonl")]) == 0
    assert lines(tmp_path / "f.jsonl") == [{"image": "f/x.png", "text": "a red square", "id": "x"}]


def test_data_photos_and_composites(tmp_path, capsys):
    pool = write_pool(tmp_path)
    m = tmp_path / "photos.jsonl"
    assert main(["data", "photos", str(pool), "--out", str(m), "--test-fraction", "0.5"]) == 0
    assert "wrote 4 record(s) (2 test, 2 train)" in capsys.readouterr().err
    out = tmp_path / "comp"
    assert main(["data", "composites", str(pool), "--out", str(out), "--n", "4", "--size", "32"]) == 0
    recs = read_manifest(out / "manifest.jsonl")
    assert len(recs) == 4 and all(" background" in r.text for r in recs)


def test_caption_images_and_manifest(tmp_path, capsys):
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[4:12, 4:12] = (230, 200, 20, 255)  # a yellow square on transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "lemon.png")
    Image.new("RGB", (16, 16), (20, 140, 40)).save(tmp_path / "field.jpg")
    assert main(["caption", str(tmp_path / "lemon.png"), "--label", "lemon"]) == 0
    assert capsys.readouterr().out.strip().endswith("\ta yellow lemon on a black background")

    m = tmp_path / "caps.jsonl"
    assert main(["caption", str(tmp_path), "--out", str(m)]) == 0
    got = {x["image"]: x["text"] for x in lines(m)}
    assert got == {"field.jpg": "a photo in green", "lemon.png": "a yellow object on a black background"}

    # a manifest: its label and mask are used, the old text kept
    Image.new("L", (16, 16), 0).save(tmp_path / "mask.png")
    mask = np.zeros((16, 16), dtype=np.uint8)
    mask[:8] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    field = np.zeros((16, 16, 3), dtype=np.uint8)
    field[:8] = (200, 20, 20)
    field[8:] = (20, 40, 200)
    Image.fromarray(field).save(tmp_path / "flag.png")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"image": "flag.png", "mask": "mask.png", "text": "old", "label": "flag"}) + "\n")
    assert main(["caption", str(src), "--out", str(m)]) == 0
    (rec,) = lines(m)
    assert rec["text"] == "a red flag on a blue background" and rec["original_text"] == "old"

    # a bad file: reported, the others still captioned, exit 1
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert main(["caption", str(tmp_path / "broken.png"), str(tmp_path / "field.jpg")]) == 1
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "captioned 1 of 2" in captured.err
