"""tic.text_hints: free-form texts read into object and palette hints, and written back in the
phrasing the network was trained on."""

import itertools

import pytest

from tic.data.captions import caption_from_terms
from tic.grounding import OBJECT, WHOLE
from tic.text_hints import THEMES, TextHints, network_text, parse

# (text, objects as (noun, colour, kind), palette): each written by hand
CASES = [
    ("", (), ()),
    ("a dog on a beach", (), ()),
    ("a red car", (("car", "red", OBJECT),), ()),
    ("the car is red", (("car", "red", OBJECT),), ()),
    ("a car, coloured red", (("car", "red", OBJECT),), ()),
    ("car: red", (("car", "red", OBJECT),), ()),
    ("red for the car", (("car", "red", OBJECT),), ()),
    ("make the car crimson", (("car", "red", OBJECT),), ()),
    ("blue sky, red car", (("car", "red", OBJECT),), ("blue",)),
    ("white dandelions in green grass", (("dandelions", "white", OBJECT),), ("green",)),
    ("the bike is red and the dog is brown",
     (("bike", "red", OBJECT), ("dog", "brown", OBJECT)), ()),
    ("an umbrella that is green, a girl that is blue",
     (("umbrella", "green", OBJECT), ("girl", "blue", OBJECT)), ()),
    ("a red car on a blue background", (("car", "red", OBJECT), ("background", "blue", WHOLE)), ()),
    ("a pink lavender", (("lavender", "pink", OBJECT),), ()),
    ("the apricot is blue", (("apricot", "blue", OBJECT),), ()),
    ("a photo of a jeep, mostly blue", (), ("blue",)),
    ("a photo of a bull mastiff, mostly green and brown", (), ("green", "brown")),
    ("strawberries, mainly brown with some red", (), ("brown", "red")),
    ("green and brown tones", (), ("green", "brown")),
    ("a dog in shades of green and gray", (), ("green", "gray")),
    ("colours: green, gray", (), ("green", "gray")),
    ("dominated by blue", (), ("blue",)),
    ("red and green", (), ("red", "green")),
    ("in autumn colours", (), THEMES["autumn"]),
    ("a photo of a dog in green and gray", (), ("green", "gray")),
    ("a red car, mostly gray", (("car", "red", OBJECT),), ("gray",)),
]


@pytest.mark.parametrize(("text", "objects", "palette"), CASES)
def test_parse(text, objects, palette):
    h = parse(text)
    assert h.objects == objects
    assert h.palette == palette
    assert h.empty == (not objects and not palette)


def test_subject_is_as_written():
    assert parse("the picture is dominated by green; it shows a leaning tower of pisa").subject \
        == "a leaning tower of pisa"
    assert parse("black and green tones").subject == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("a photo of a fish, mostly black and green", "a photo of a fish in black and green"),
    ("fish, mainly black with some green", "a photo of fish in black and green"),
    ("green and gray tones", "a photo in green and gray"),
    ("in autumn colours", "a photo in orange, brown and red"),
    ("the bike is red and the dog is brown", "the bike is red and the dog is brown"),
    ("an umbrella that is green, a girl that is blue", "a green umbrella and a blue girl"),
    ("pigeon painted blue", "a blue pigeon"),
    ("a red car, mostly gray", "a photo of a red car in gray"),
    ("a white building under a blue sky", "a photo of a white building in blue"),
])
def test_network_text_rewrites(text, expected):
    assert network_text(text) == expected
    # the rewritten text is read as the same hints, by parse and by the network's own reading
    assert parse(expected) == parse(text)


def test_network_text_keeps_trained_phrasings():
    """``tic caption``'s texts and the scenes' texts go to the network as they are."""
    labels = ["dog", "apple", "camels", "leaning tower of pisa", "man in a coat", "orange tree",
              "christmas tree", "canadian two dollar coin", "bull mastiff"]
    terms = ["red", "green", "blue", "gray", "brown", "white", "black", "orange", "pink"]
    texts = ["", "a dog on a beach"]
    for label, (a, b) in itertools.product(labels, itertools.permutations(terms[:5], 2)):
        texts += [caption_from_terms([a], label=label), caption_from_terms([a, b], label=label),
                  caption_from_terms([a], [b], label=label), caption_from_terms([a, b])]
    for (x, y), (a, b) in itertools.product(itertools.permutations(labels[:6], 2),
                                            itertools.permutations(terms, 2)):
        texts += [f"a {a} {x} and a {b} {y}", f"a {a} {x}"]
    changed = [t for t in texts if network_text(t) != t]
    assert changed == [], changed[:5]


@pytest.mark.parametrize("text", ["🙂 red car 🚗", " " * 50, "red " * 3000, "1234", ", , ,",
                                  "and and and", "colours:", "a\nred\tcar", "RED CAR"])
def test_strange_texts_are_read_without_error(text):
    h = parse(text)
    assert isinstance(network_text(text), str)
    assert all(c in THEMES["autumn"] + ("red",) for _, c, _ in h.objects)  # only named colours
    if text.strip(" ,") in ("", "1234", "and and and", "colours:"):
        assert h.empty and network_text(text) == text


def test_text_hints_type():
    with pytest.raises(TypeError):
        parse(None)
    assert TextHints().empty


def test_free_text_needs_the_photo_palette_reading():
    from tic.config import ConfigError, EncoderUNetConfig, ModelConfig, TextEncoderConfig

    def config(**text):
        return ModelConfig(architecture="encoder_unet",
                           encoder_unet=EncoderUNetConfig(text_dim=384, grounding=True),
                           text_encoder=TextEncoderConfig(kind="minilm", dim=384, **text))

    config(free_text=True, photo_palette=True).validate()
    with pytest.raises(ConfigError, match="free_text needs text_encoder.photo_palette"):
        config(free_text=True).validate()
