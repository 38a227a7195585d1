"""NCD, COCO-captions and sidecar-folder loaders on fixtures in their own on-disk layouts."""

import json

import pytest
from PIL import Image

from tic.data.coco import color_sentences, load_coco
from tic.data.folder import load_folder
from tic.data.ncd import class_color, class_key, load_ncd
from tic.errors import TicError


def img(path, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


# --- NCD ---------------------------------------------------------------------------------------


def write_ncd(tmp_path, classes=("Tomato", "Banana", "Green_Apple", "Strawberries")):
    root = tmp_path / "NCD"
    for c in classes:
        for k in range(5):
            img(root / c / f"{c.lower()}_{k}.jpg")
    (root / "README.txt").write_text("not a class")
    return root


def test_ncd_class_to_colour_and_split(tmp_path):
    root = write_ncd(tmp_path)
    recs = load_ncd(root, seed=0)
    texts = {r.extra["label"]: r.text for r in recs}
    assert texts == {
        "Banana": "yellow banana", "Green_Apple": "green apple", "Strawberries": "red strawberry",
        "Tomato": "red tomato",
    }
    # the paper's 130 of 730, scaled: round(20 * 130 / 730) = 4 test images
    assert sum(r.split == "test" for r in recs) == 4 and len(recs) == 20
    again = load_ncd(root, seed=0)
    assert [r.split for r in again] == [r.split for r in recs]
    paper = load_ncd(root, template="{color}", n_test=5)
    assert {r.text for r in paper} == {"red", "yellow", "green"}
    assert sum(r.split == "test" for r in paper) == 5


def test_ncd_class_names():
    assert class_key("Green_Apples") == "green apple"
    assert class_key("Cherries") == "cherry"
    assert class_key("tomatoes") == "tomato"
    assert class_color("Yellow-Pepper", {}) == "yellow"  # the colour in the name wins
    assert class_color("Lime", {}) == "green"  # a colour synonym
    assert class_color("Kiwi", {"kiwi": "brown"}) == "brown"
    assert class_color("Dragonfruit", {}) is None


def test_ncd_class_without_colour_is_named(tmp_path):
    root = write_ncd(tmp_path, classes=("Tomato", "Dragonfruit", "Jackfruit"))
    with pytest.raises(TicError, match="no colour for class\\(es\\) Dragonfruit, Jackfruit"):
        load_ncd(root)
    recs = load_ncd(root, extra_colors={"dragonfruit": "pink", "jackfruit": "yellow"})
    assert {r.text for r in recs} == {"red tomato", "pink dragonfruit", "yellow jackfruit"}
    with pytest.raises(TicError, match="not one of"):
        load_ncd(root, extra_colors={"dragonfruit": "magentaish"})
    with pytest.raises(TicError, match="template"):
        load_ncd(root, extra_colors={"dragonfruit": "pink", "jackfruit": "yellow"}, template="{kind}")


def test_ncd_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TicError, match="no class folders"):
        load_ncd(tmp_path / "empty")


# --- COCO --------------------------------------------------------------------------------------


def write_coco(tmp_path, drop_key=None):
    data = {
        "info": {"description": "COCO 2017 Dataset"},
        "licenses": [],
        "images": [
            {"license": 1, "file_name": "000000000009.jpg", "height": 8, "width": 8, "id": 9},
            {"license": 1, "file_name": "000000000025.jpg", "height": 8, "width": 8, "id": 25},
            {"license": 1, "file_name": "000000000030.jpg", "height": 8, "width": 8, "id": 30},
        ],
        "annotations": [
            {"image_id": 9, "id": 1, "caption": "A man riding a red bike down a street."},
            {"image_id": 9, "id": 2, "caption": "Someone is cycling in town"},
            {"image_id": 9, "id": 3, "caption": "a man in a NAVY shirt on a bicycle "},
            {"image_id": 25, "id": 4, "caption": "A giraffe eating leaves."},
            {"image_id": 25, "id": 5, "caption": "A black and white photo of a giraffe."},
            {"image_id": 30, "id": 6, "caption": "A vase with white flowers on a table"},
        ],
    }
    if drop_key:
        del data[drop_key]
    (tmp_path / "annotations").mkdir(parents=True)
    path = tmp_path / "annotations" / "captions_train2017.json"
    path.write_text(json.dumps(data))
    for im in ("000000000009.jpg", "000000000025.jpg", "000000000030.jpg"):
        img(tmp_path / "train2017" / im)
    return path


def test_coco_keeps_images_with_colour_sentences(tmp_path):
    path = write_coco(tmp_path)
    recs = load_coco(path, tmp_path / "train2017", split="train")
    assert [r.id for r in recs] == ["coco-9", "coco-30"]
    assert recs[0].text == "A man riding a red bike down a street. a man in a NAVY shirt on a bicycle."
    assert recs[1].text == "A vase with white flowers on a table."
    assert recs[0].split == "train" and recs[0].image == tmp_path / "train2017" / "000000000009.jpg"


def test_coco_colour_sentences():
    assert color_sentences(["a black and white photo of a bus", "a B&W shot", "a black cat"]) == [
        "a black cat."
    ]


def test_coco_without_annotations(tmp_path):
    path = write_coco(tmp_path, drop_key="annotations")
    with pytest.raises(TicError, match="no 'annotations' list"):
        load_coco(path, tmp_path / "train2017")


def test_coco_missing_images_listed_or_skipped(tmp_path):
    path = write_coco(tmp_path)
    (tmp_path / "train2017" / "000000000030.jpg").unlink()
    with pytest.raises(TicError, match="1 image file\\(s\\) missing: .*000000000030.jpg.*--skip-missing"):
        load_coco(path, tmp_path / "train2017")
    recs = load_coco(path, tmp_path / "train2017", skip_missing=True)
    assert [r.id for r in recs] == ["coco-9"]


def test_coco_not_json(tmp_path):
    (tmp_path / "c.json").write_text("{not json")
    (tmp_path / "im").mkdir()
    with pytest.raises(TicError, match="not a JSON file"):
        load_coco(tmp_path / "c.json", tmp_path / "im")


# --- folder with sidecar captions --------------------------------------------------------------


def test_folder_with_sidecars(tmp_path):
    img(tmp_path / "a.jpg")
    (tmp_path / "a.txt").write_text("a red apple\n")
    img(tmp_path / "sub" / "b.png")
    (tmp_path / "sub" / "b.png.txt").write_text("a blue bird")
    img(tmp_path / "c.jpg")
    img(tmp_path / ".hidden" / "d.jpg")
    recs = load_folder(tmp_path)
    assert [(r.id, r.text) for r in recs] == [("a", "a red apple"), ("c", ""), ("sub/b", "a blue bird")]
    assert [r.id for r in load_folder(tmp_path, require_text=True)] == ["a", "sub/b"]
    (tmp_path / "a.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(TicError, match="not UTF-8"):
        load_folder(tmp_path)
    (tmp_path / "none").mkdir()
    with pytest.raises(TicError, match="no image files"):
        load_folder(tmp_path / "none")
