"""Text -> hints: what a free-form text asks for, in the kinds of hint the model takes.

Users phrase colours in many ways ("a red car", "the car is red", "a car, coloured red",
"mostly green and brown", "green and brown tones", "colours: green, brown"). The network was
trained on two phrasings only: ``tic caption``'s ("a photo of a dog in green and brown": the
photo's leading colours, in places it does not say) and the composite scenes' ("a red car and a
blue house": each colour on its object). ``parse`` reads any phrasing into ``TextHints``:

- **object hints** ``(noun, colour, kind)``: a colour with the thing it belongs to ("a red car",
  "the car is red", "car: red", "a car in red", "red for the car"). ``kind`` is ``OBJECT`` or
  ``WHOLE`` (the background); objects are found by ``tic.grounding`` and painted on their part of
  the picture (``tic.binding``);
- **the global (palette) hint**: colours with no place: a colour phrase led by a palette word
  ("mostly green", "mainly red", "shades of blue", "green tones", "dominated by gray", "lots of
  yellow", "colours: red, blue"), colours with nothing to belong to ("red and green"), the
  caption's closing "in <colours>" after "a photo of ...", and the colours of stuff ("blue sky",
  "green grass": ``tic.grounding.STUFF_NOUNS``), which has no outline to paint. The network's
  palette module leans its colours towards them wherever they fit (``tic.models.PaletteHint``);
- **no hint**: the empty text, or a text that names no colour: automatic colorization.

A colour phrase with no noun of its own ("a car, red", "with some green") belongs to the nearest
phrase before it that has one (a thing or a palette word; else the next one): "fish, mainly black
with some green" puts both colours in the palette, "a baby gnu, coloured purple" paints the gnu.

``network_text`` writes the hints back in the phrasing the network was trained on, which is the
text the network reads when its ``text_encoder.free_text`` is on: "a photo of a fish, mostly black
and green" -> "a photo of a fish in black and green"; "the bike is red and the dog is brown" ->
"a red bike and a brown dog". Both trained phrasings are read back to themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tic.color_names import COLOR_TERMS, NOUN_SENSES, colors_in_text
from tic.grounding import (
    OBJECT,
    PALETTE,
    STUFF_NOUNS,
    WHOLE,
    WHOLE_NOUNS,
    palette_terms,
    text_objects,
)
from tic.text_minilm import phrase_spans

# Where a text's phrases end: punctuation, conjunctions and prepositions (as tic.text_minilm's).
_BREAK = re.compile(
    r"[,;:.!?]|\b(?:and|or|with|on|in|at|against|over|under|above|below|behind|beside|near|"
    r"next|of|while|but|has|have|having|wearing|holding|whereas|plus)\b",
    re.IGNORECASE,
)
# Words that make a colour phrase the photo's palette when the phrase names no thing of its own.
PALETTE_WORDS = frozenset({
    "mostly", "mainly", "largely", "predominantly", "primarily", "chiefly", "generally",
    "overall", "dominated", "dominant", "dominating", "tones", "tone", "toned", "shades", "shade",
    "hues", "hue", "colours", "colors", "colour", "color", "palette",
    "tints", "tint", "lots", "plenty", "bit", "touch", "touches", "splash", "splashes",
    "accents", "accent", "scheme", "everywhere", "throughout",
})  # fmt: skip
# Words that are never the thing a colour belongs to.
_STOP = frozenset({
    "a", "an", "the", "some", "very", "to", "also", "all", "its", "their", "his", "her", "is",
    "are", "was", "were", "be", "been", "being", "it", "this", "that", "these", "those", "which",
    "who", "whose", "should", "must", "would", "could", "can", "will", "make", "made", "making",
    "let", "please", "for", "by", "as", "like", "light", "dark", "bright", "pale", "deep",
    "vivid", "partly", "slightly", "quite", "rather", "really", "painted", "paint", "tinted",
    "coloured", "colored", "looks", "look", "looking", "appears", "shows", "show", "showing",
    "there", "here", "both", "each", "other", "another",
    "photographed", "seen", "taken", "shot", "kind", "sort", "type", "my", "our", "your",
    "not", "no", "while", "then", "than", "so", "too", "warm", "cool", "cold", "soft", "muted",
    "rich", "strong", "natural", "pastel", "vibrant", "faded", "subtle",
})  # fmt: skip
# Colour themes a palette word can follow ("autumn colours", "earth tones"): the basic colours
# they stand for. Only read in a phrase with a palette word ("an autumn forest" names no colour).
THEMES = {
    "autumn": ("orange", "brown", "red"), "autumnal": ("orange", "brown", "red"),
    "sunset": ("orange", "pink", "purple"), "earth": ("brown", "green"),
    "earthy": ("brown", "green"), "winter": ("white", "blue"), "wintry": ("white", "blue"),
    "spring": ("green", "pink"),
}  # fmt: skip
PICTURE_NOUNS = frozenset({"photo", "photograph", "picture", "image", "scene", "shot", "snapshot"})
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class TextHints:
    """A text read by ``parse``: ``objects`` ``((noun words, colour term, kind), ...)`` in the
    text's order, ``palette`` the colour terms with no place, ``subject`` what the photo shows
    when the text says it without a colour ("a fish", as written), for ``network_text``."""

    objects: tuple[tuple[str, str, int], ...] = ()
    palette: tuple[str, ...] = ()
    subject: str = field(default="", compare=False)

    @property
    def empty(self) -> bool:
        """Whether the text gives no hint at all (automatic colorization)."""
        return not self.objects and not self.palette


@dataclass
class _Span:
    colours: list[str]
    nouns: list[str]  # content words: what the phrase is about
    palette_word: bool
    picture: bool  # the phrase's thing is the photo itself ("a photo", "the picture")
    after: str  # the word or sign that ended the phrase before
    lo: int  # where the phrase is in the text
    hi: int

    @property
    def owner(self) -> bool:
        return bool(self.nouns) or self.palette_word or self.picture


def _spans(text: str) -> list[_Span]:
    out = []
    for lo, hi, after in phrase_spans(text, _BREAK):
        chunk = text[lo:hi].lower()
        words = _WORD.findall(chunk)
        if not words:
            continue
        is_colour = [bool(colors_in_text(w)) for w in words]
        if sum(is_colour) >= 2:  # "a pink lavender", "the apricot is blue": one of them is a thing
            for k, w in enumerate(words):
                last = k == len(words) - 1
                if is_colour[k] and w not in COLOR_TERMS and (w in NOUN_SENSES or last):
                    is_colour[k] = False
                    break
        content = [w for w, c in zip(words, is_colour, strict=True) if not c and w not in _STOP]
        picture = any(w in PICTURE_NOUNS for w in content)
        pal = any(w in PALETTE_WORDS for w in content)
        nouns = [w for w in content if w not in PALETTE_WORDS and w not in PICTURE_NOUNS]
        colours = [colors_in_text(w)[0] for w, c in zip(words, is_colour, strict=True) if c]
        if pal:  # "autumn colours": the theme's colours, and the theme is no thing
            colours += [c for w in nouns if w in THEMES for c in THEMES[w]]
            nouns = [w for w in nouns if w not in THEMES]
        out.append(_Span(colours, nouns, pal, picture, after, lo, hi))
    return out


def parse(text: str) -> TextHints:
    """A text -> its ``TextHints`` (see the module doc). Never raises on a string."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    spans = _spans(text)
    starts_with_picture = bool(spans) and spans[0].picture and not spans[0].nouns
    # a colour phrase with no thing of its own goes to the nearest owner before it, else after it
    home: dict[int, int] = {}
    for i, s in enumerate(spans):
        if not s.colours:
            continue
        if s.owner:
            home[i] = i
            continue
        if starts_with_picture and (s.after == "in" or (i - 1 in home and home[i - 1] == 0)):
            home[i] = 0  # the caption's "a photo of a dog in green and gray"
            continue
        before = [j for j in range(i - 1, -1, -1) if spans[j].owner]
        after = [j for j in range(i + 1, len(spans)) if spans[j].owner]
        home[i] = before[0] if before else after[0] if after else -1
    objects: dict[int, list] = {}
    palette: list[str] = []
    for i, j in home.items():
        owner = spans[j] if j >= 0 else None
        if owner is None or (not owner.nouns and (owner.palette_word or owner.picture)):
            palette += spans[i].colours
            continue
        if j == 0 and starts_with_picture:
            palette += spans[i].colours
            continue
        objects.setdefault(j, []).extend(spans[i].colours)
    found = []
    for j in sorted(objects):
        nouns = spans[j].nouns
        last = nouns[-1]
        if last in STUFF_NOUNS:  # "blue sky": the palette module finds where sky is
            palette += objects[j]
            continue
        kind = WHOLE if last in WHOLE_NOUNS else OBJECT
        found.append((" ".join(nouns), list(dict.fromkeys(objects[j]))[0], kind))
    return TextHints(tuple(found), tuple(dict.fromkeys(palette)), _subject(text, spans))


def _subject(text: str, spans: list[_Span]) -> str:
    """The words that say what the photo shows without a colour, as the text wrote them: the
    first run of phrases that name things and no colour ("a leaning tower of pisa")."""
    run = []
    for s in spans:
        if s.nouns and not s.colours and not s.picture:
            run.append(s)
        elif run:
            break
    if not run:
        return ""
    words = " ".join(text[run[0].lo:run[-1].hi].split())
    # from the first thing's article on: "it shows a dog" -> "a dog"
    m = re.search(r"\b(?:(?:a|an|the)\s+)?" + re.escape(run[0].nouns[0]) + r"\b", words.lower())
    return words[m.start():] if m else words


def _article(words: str) -> str:
    return "an" if words[:1] in "aeiou" else "a"


def trained_reading(text: str) -> TextHints:
    """How the network's own text path reads ``text`` (``tic.grounding.text_objects`` and
    ``palette_terms`` with ``photo_palette``): right for the two phrasings it was trained on."""
    objects = tuple(o for o in text_objects(text, photo_palette=True) if o[2] != PALETTE)
    return TextHints(objects, tuple(dict.fromkeys(palette_terms(text, photo_palette=True))))


def network_text(text: str) -> str:
    """``text`` as the network should read it (see the module doc): the text itself when the
    network's own reading (``trained_reading``) gives the same hints as ``parse``, else the hints
    written in a trained phrasing."""
    h = parse(text)
    if h == trained_reading(text) or h.empty:
        return text
    things = [f"{_article(c)} {c} {n}" for n, c, _ in h.objects]
    if not h.palette:
        return " and ".join(things)
    colours = " and ".join(h.palette) if len(h.palette) <= 2 else \
        ", ".join(h.palette[:-1]) + " and " + h.palette[-1]
    what = " and ".join(things) or h.subject
    return f"a photo of {what} in {colours}" if what else f"a photo in {colours}"
