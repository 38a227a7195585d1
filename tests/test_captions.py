"""Colour naming and colour captions (tic.data.captions)."""

from pathlib import Path

import pytest
import torch

from tic.color_names import (
    COLOR_TERMS,
    color_fractions,
    color_term_indices,
    colors_in_text,
    dominant_color_term,
    name_color,
    term_rgb,
)
from tic.data.captions import caption_from_terms, caption_image, clean_label

FIXTURES = Path(__file__).parent / "fixtures"


def read_table(name: str) -> list[list[str]]:
    lines = (FIXTURES / name).read_text().splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def test_primaries_and_neutrals_by_hand():
    assert name_color("#ff0000") == "red"
    assert name_color("#00ff00") == "green"
    assert name_color("#0000ff") == "blue"
    assert name_color("#ffff00") == "yellow"
    assert name_color("#ffa500") == "orange"
    assert name_color("#800080") == "purple"
    assert name_color("#ffc0cb") == "pink"
    assert name_color("#8b4513") == "brown"
    assert name_color("#000000") == "black"
    assert name_color("#ffffff") == "white"
    assert name_color("#808080") == "gray"
    # the same colour given as Lab and as an sRGB triple
    assert name_color((53.24, 80.09, 67.20)) == "red"
    assert name_color((1.0, 0.0, 0.0), space="rgb") == "red"


def test_modifiers():
    assert name_color("#000080", modifiers=True) == "dark blue"
    assert name_color("#87ceeb", modifiers=True) == "light blue"
    assert name_color("#ffff00", modifiers=True) == "yellow"  # no "light yellow"


def test_css_table_agreement_at_least_90_percent():
    rows = read_table("css_color_terms.tsv")
    assert len(rows) == 139
    accepted = 0
    for _name, hexa, primary, others in rows:
        ok = {primary} | (set() if others == "-" else set(others.split(",")))
        accepted += name_color("#" + hexa) in ok
    assert accepted / len(rows) >= 0.9


def test_xkcd_single_term_names_agreement_at_least_90_percent():
    rows = [r for r in read_table("xkcd_color_terms.tsv") if len(set(colors_in_text(r[0]))) == 1]
    agree = sum(name_color("#" + hexa) == term for _name, hexa, term in rows)
    assert len(rows) > 400
    assert agree / len(rows) >= 0.9


def test_vectorised_matches_single():
    torch.manual_seed(0)
    lab = torch.stack(
        [torch.rand(200) * 100, torch.randn(200) * 50, torch.randn(200) * 50], dim=-1
    )
    idx = color_term_indices(lab)
    assert idx.shape == (200,)
    for i in range(0, 200, 17):
        assert COLOR_TERMS[int(idx[i])] == name_color(lab[i].tolist())


def test_typical_colours_name_themselves():
    for term in COLOR_TERMS:
        assert name_color(term_rgb(term), space="rgb") == term


def test_bad_colour_inputs():
    with pytest.raises(ValueError, match="3 components"):
        name_color((1, 2))
    with pytest.raises(ValueError, match="#ff8800"):
        name_color("#ff88")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        name_color((255, 0, 0), space="rgb")
    with pytest.raises(ValueError, match="space"):
        name_color((50, 0, 0), space="hsv")
    with pytest.raises(ValueError, match="unknown colour term"):
        term_rgb("mauve")


def test_colors_in_text_maps_synonyms_in_order():
    assert colors_in_text("A crimson car, a NAVY boat and grey gold") == [
        "red", "blue", "gray", "yellow"
    ]
    assert colors_in_text("breast_color red wing_color black") == ["red", "black"]
    assert colors_in_text("light blue sky with a dark green tree") == ["blue", "green"]
    assert colors_in_text("a reddish apple") == ["red"]
    assert colors_in_text("a dog on the grass") == []
    with pytest.raises(TypeError):
        colors_in_text(None)


def _two_tone(obj_rgb, bg_rgb, size=32):
    rgb = torch.empty(3, size, size)
    rgb[:] = torch.tensor(bg_rgb).view(3, 1, 1)
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[8:24, 8:24] = True
    rgb[:, mask] = torch.tensor(obj_rgb).view(3, 1)
    return rgb, mask


def test_dominant_term_and_fractions_on_regions():
    rgb, mask = _two_tone((0.9, 0.05, 0.05), (0.1, 0.2, 0.9))
    assert dominant_color_term(rgb, mask) == "red"
    assert dominant_color_term(rgb, ~mask) == "blue"
    shares = color_fractions(rgb)
    assert shares == pytest.approx({"blue": 0.75, "red": 0.25})
    with pytest.raises(ValueError, match="no pixel"):
        dominant_color_term(rgb, torch.zeros(32, 32, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        dominant_color_term(rgb[None])
    with pytest.raises(ValueError, match="mask must have shape"):
        dominant_color_term(rgb, mask[:10])


def test_chromatic_beats_frequent_shadow():
    # 60% black shadow, 40% red: the object is red
    rgb = torch.zeros(3, 10, 10)
    rgb[0, :4] = 0.9
    assert color_fractions(rgb)["black"] == pytest.approx(0.6)
    assert dominant_color_term(rgb) == "red"


def test_big_image_is_subsampled_without_mixing_colours():
    rgb, mask = _two_tone((0.9, 0.05, 0.05), (0.05, 0.6, 0.1), size=400)
    shares = color_fractions(rgb, mask)
    assert set(shares) == {"red"}


def test_captions():
    rgb, mask = _two_tone((0.9, 0.05, 0.05), (0.1, 0.2, 0.9))
    assert caption_image(rgb, mask, "Apple") == "a red apple on a blue background"
    assert caption_image(rgb, mask) == "a red object on a blue background"
    # no mask: the two colours covering >= 30%
    assert caption_image(rgb, None, "apple") == "a photo of an apple in blue and red"  # 75%, 25%
    assert caption_image(rgb, None, "camels", max_terms=1) == "a photo of camels in blue"
    rgb2 = torch.empty(3, 10, 10)
    rgb2[:, :6] = torch.tensor((0.9, 0.5, 0.0)).view(3, 1, 1)  # 60% orange
    rgb2[:, 6:] = torch.tensor((0.1, 0.2, 0.9)).view(3, 1, 1)  # 40% blue
    assert caption_image(rgb2) == "a photo in orange and blue"
    assert caption_image(rgb2, max_terms=1) == "a photo in orange"
    assert caption_from_terms(["orange"], ["green"], "cat") == "an orange cat on a green background"
    assert (
        caption_from_terms(["red", "yellow"], None, "apple")
        == "a photo of an apple in red and yellow"
    )


def test_clean_label_drops_articles_and_colour_words():
    assert clean_label("A great blue heron.") == "great heron"
    assert clean_label("the Red Fox") == "fox"
    assert clean_label("orange") == "orange"  # the fruit: nothing else would be left
    assert clean_label("...") is None
    assert clean_label(None) is None


def test_rewrite_color_words_keeps_everything_but_colour_synonyms():
    from tic.color_names import rewrite_color_words

    assert rewrite_color_words("a Crimson bird with navy wings") == "a red bird with blue wings"
    assert rewrite_color_words("golden hair, a GOLD ring.") == "yellow hair, a yellow ring."
    assert rewrite_color_words("grey cat; turquoise sea") == "gray cat; blue sea"
    # words that are mostly nouns for other things stay, and so does everything else
    for text in ("a lemon tree", "a jet plane", "ice cream", "a red rose", "goldfish", "", "赤い車"):
        assert rewrite_color_words(text) == text
