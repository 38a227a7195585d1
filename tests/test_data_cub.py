"""CUB-200-2011 loader on a small fixture written in the data set's own layout."""

import pytest
from PIL import Image

from tic.data.cub import color_attributes, load_cub
from tic.data.manifest import read_manifest, write_manifest
from tic.errors import TicError

COLOURS = ["blue", "brown", "iridescent", "purple", "rufous", "grey", "yellow", "olive", "green",
           "pink", "orange", "black", "white", "red", "buff"]


def attribute_lines() -> list[str]:
    """attributes.txt in CUB's form: '<id> has_<what>::<value>', colour groups of 15."""
    names = [f"has_bill_shape::{s}" for s in ("curved_(up_or_down)", "dagger", "hooked")]
    names += [f"has_wing_color::{c}" for c in COLOURS]
    names += [f"has_breast_pattern::{p}" for p in ("solid", "spotted")]
    names += [f"has_breast_color::{c}" for c in COLOURS]
    names += [f"has_leg_color::{c}" for c in COLOURS]
    return [f"{i} {n}" for i, n in enumerate(names, 1)]


def attr_id(name: str) -> int:
    return next(int(line.split()[0]) for line in attribute_lines() if line.endswith(" " + name))


def write_cub(tmp_path, n=6, segment_first=False):
    """A CUB-200-2011 tarball as unpacked: attributes.txt beside the CUB_200_2011 folder."""
    root = tmp_path / "CUB_200_2011"
    (root / "attributes").mkdir(parents=True)
    (root / "parts").mkdir()
    (tmp_path / "attributes.txt").write_text("\n".join(attribute_lines()) + "\n")
    images, split, labels, parts = [], [], [], []
    for i in range(1, n + 1):
        rel = f"001.Black_footed_Albatross/Black_Footed_Albatross_{i:04d}_{i}.jpg"
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i * 20, 50, 90)).save(root / "images" / rel)
        images.append(f"{i} {rel}")
        split.append(f"{i} {int(i % 2 == 1)}")
        for line in attribute_lines():
            a = int(line.split()[0])
            present, certainty = 0, 3
            if i == 1 and a == attr_id("has_breast_color::red"):
                present = 1
            if i == 1 and a == attr_id("has_wing_color::black"):
                present = 1
            if i == 1 and a == attr_id("has_leg_color::grey"):
                present, certainty = 1, 2  # a guess
            if i == 2 and a == attr_id("has_bill_shape::dagger"):
                present = 1  # not a colour
            if i == 3 and a == attr_id("has_wing_color::white"):
                present = 1
            labels.append(f"{i} {a} {present} {certainty} 12.34")
        for part in range(1, 16):
            visible = int(not (i == 1 and part in (4,)))  # image 1: breast not visible
            parts.append(f"{i} {part} {10.0 * visible} {20.0 * visible} {visible}")
    labels.append("3 4 0 1 0 8.605")  # the real file has a few lines with an extra field
    (root / "images.txt").write_text("\n".join(images) + "\n")
    (root / "train_test_split.txt").write_text("\n".join(split) + "\n")
    (root / "attributes" / "image_attribute_labels.txt").write_text("\n".join(labels) + "\n")
    (root / "parts" / "part_locs.txt").write_text("\n".join(parts) + "\n")
    if segment_first:
        seg = root / "segmentations" / "001.Black_footed_Albatross" / "Black_Footed_Albatross_0001_1.png"
        seg.parent.mkdir(parents=True)
        Image.new("L", (8, 8), 255).save(seg)
    return root


def test_text_from_colour_attributes_and_official_split(tmp_path):
    root = write_cub(tmp_path)
    recs = load_cub(root)
    assert [r.id for r in recs] == [f"cub-{i}" for i in range(1, 7)]
    assert recs[0].text == "wing_color black breast_color red leg_color grey"
    assert recs[1].text == ""  # only a bill shape: no colour
    assert recs[2].text == "wing_color white"
    assert [r.split for r in recs] == ["train", "test"] * 3
    assert recs[0].image == root / "images" / "001.Black_footed_Albatross/Black_Footed_Albatross_0001_1.jpg"
    assert recs[0].mask is None


def test_certainty_visibility_and_segmentation(tmp_path):
    root = write_cub(tmp_path, segment_first=True)
    assert load_cub(root, min_certainty=3)[0].text == "wing_color black breast_color red"
    assert load_cub(root, visible_only=True)[0].text == "wing_color black leg_color grey"
    assert load_cub(root)[0].mask.name == "Black_Footed_Albatross_0001_1.png"


def test_seeded_split_sizes_and_determinism(tmp_path):
    root = write_cub(tmp_path, n=10)
    a = load_cub(root, split="seeded", n_train=5, n_test=3, seed=1)
    assert sorted(r.split for r in a) == ["test"] * 3 + ["train"] * 5
    b = load_cub(root, split="seeded", n_train=5, n_test=3, seed=1)
    assert [(r.id, r.split) for r in a] == [(r.id, r.split) for r in b]
    c = load_cub(root, split="seeded", n_train=5, n_test=3, seed=2)
    assert [(r.id, r.split) for r in a] != [(r.id, r.split) for r in c]
    with pytest.raises(TicError, match="cannot split 10 items"):
        load_cub(root, split="seeded", n_train=9, n_test=3)


def test_manifest_round_trip(tmp_path):
    root = write_cub(tmp_path)
    write_manifest(tmp_path / "out" / "cub.jsonl", load_cub(root))
    back = read_manifest(tmp_path / "out" / "cub.jsonl", split="train")
    assert len(back) == 3 and back[0].text.startswith("wing_color black")
    assert back[0].image.is_file()


@pytest.mark.parametrize(
    "missing",
    ["images.txt", "train_test_split.txt", "attributes/image_attribute_labels.txt", "../attributes.txt"],
)
def test_missing_file_is_named(tmp_path, missing):
    root = write_cub(tmp_path)
    (root / missing).unlink()
    name = missing.split("/")[-1]
    with pytest.raises(TicError, match=name.replace(".", r"\.")):
        load_cub(root)


def test_bad_lines(tmp_path):
    root = write_cub(tmp_path)
    (root / "train_test_split.txt").write_text("1 1\n2\n")
    with pytest.raises(TicError, match=r"train_test_split.txt:2: expected 2 fields"):
        load_cub(root)
    (tmp_path / "attributes.txt").write_text("1 has_bill_shape::dagger\n")
    with pytest.raises(TicError, match="no has_<part>_color"):
        color_attributes(tmp_path / "attributes.txt")
    with pytest.raises(TicError, match="no such folder"):
        load_cub(tmp_path / "nope")
