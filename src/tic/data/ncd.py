"""Natural Color Dataset (NCD, fruits and vegetables) -> manifest records.

Layout: ``root/<Class>/<image>`` (one folder per class; other files are ignored). As in the paper
each class becomes one colour word (tomato -> red); the text is ``template`` filled with
``{color}`` and ``{name}`` (default ``"{color} {name}"``: "red tomato"; the paper's form is
``"{color}"``). Class names are read case-insensitively with ``_``/``-`` as spaces and a plural
"s"/"es" dropped; a class whose name holds a colour word ("Green Apple", "Yellow_Pepper") takes
that colour. ``CLASS_COLORS`` is the table for the rest; ``extra_colors`` adds to or overrides it.
A class with no colour is an error that names it.

Split: seeded, ``n_test`` test images (default: the paper's 130 of 730, scaled to the number of
images found) and the rest train.
"""

from __future__ import annotations

import re
from pathlib import Path

from tic.color_names import COLOR_TERMS, colors_in_text
from tic.data.manifest import Record
from tic.data.splits import seeded_split
from tic.errors import TicError
from tic.imageio import IMAGE_SUFFIXES

# Fruit / vegetable class -> the colour word of its usual ripe colour.
CLASS_COLORS: dict[str, str] = {
    "apple": "red", "apricot": "orange", "avocado": "green", "banana": "yellow",
    "beetroot": "purple", "bell pepper": "red", "blackberry": "black", "blueberry": "blue",
    "brinjal": "purple", "broccoli": "green", "cabbage": "green", "capsicum": "green",
    "carrot": "orange", "cauliflower": "white", "cherry": "red", "chili": "red", "coconut": "brown",
    "corn": "yellow", "cucumber": "green", "eggplant": "purple", "fig": "purple", "garlic": "white",
    "grape": "purple", "grapefruit": "orange", "guava": "green", "kiwi": "brown", "lemon": "yellow",
    "lettuce": "green", "lime": "green", "mango": "yellow", "mushroom": "white", "onion": "purple",
    "orange": "orange", "papaya": "orange", "peach": "orange", "pea": "green", "pear": "green",
    "persimmon": "orange", "pineapple": "yellow", "plum": "purple", "pomegranate": "red",
    "potato": "brown", "pumpkin": "orange", "radish": "red", "raspberry": "red",
    "strawberry": "red", "sweet potato": "brown", "tomato": "red", "watermelon": "green",
    "zucchini": "green",
}


def class_key(folder_name: str) -> str:
    """``"Green_Apples"`` -> ``"green apple"``: lower case, separators as spaces, singular."""
    words = re.split(r"[\s_\-]+", folder_name.strip().lower())
    words = [w for w in words if w]
    if words:
        last = words[-1]
        if last.endswith("ies"):
            last = last[:-3] + "y"  # cherries -> cherry
        elif last.endswith(("oes", "hes")):
            last = last[:-2]  # tomatoes, peaches
        elif last.endswith("s") and not last.endswith("ss"):
            last = last[:-1]
        words[-1] = last
    return " ".join(words)


def class_color(folder_name: str, table: dict[str, str]) -> str | None:
    """The colour word of a class folder: a colour named in the folder name, else the table."""
    key = class_key(folder_name)
    named = colors_in_text(key)
    if named:
        return named[0]
    return table.get(key)


def load_ncd(
    root: str | Path,
    seed: int = 0,
    n_test: int | None = None,
    template: str = "{color} {name}",
    extra_colors: dict[str, str] | None = None,
) -> list[Record]:
    """Records for an NCD folder (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise TicError(f"{root}: no such folder")
    table = dict(CLASS_COLORS)
    for name, colour in (extra_colors or {}).items():
        if colour not in COLOR_TERMS:
            raise TicError(f"colour {colour!r} for class {name!r} is not one of {COLOR_TERMS}")
        table[class_key(name)] = colour
    try:
        template.format(color="red", name="tomato")
    except (KeyError, IndexError, ValueError) as e:
        raise TicError(f"bad text template {template!r}: only {{color}} and {{name}} ({e})") from None

    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise TicError(f"{root}: no class folders (NCD keeps one folder per fruit class)")
    unknown = [c.name for c in classes if class_color(c.name, table) is None]
    if unknown:
        raise TicError(
            f"{root}: no colour for class(es) {', '.join(unknown)}; add them with "
            "--color CLASS=COLOUR (e.g. --color 'dragon fruit=pink')"
        )
    items = []
    for c in classes:
        colour = class_color(c.name, table)
        name = " ".join(w for w in class_key(c.name).split() if not colors_in_text(w))
        text = template.format(color=colour, name=name or class_key(c.name))
        for p in sorted(c.iterdir()):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                items.append((p, text, c.name))
    if not items:
        raise TicError(f"{root}: the class folders hold no images")
    if n_test is None:
        n_test = round(len(items) * 130 / 730)
    splits = seeded_split(len(items), None, n_test, seed)
    return [
        Record(image=p, text=text, id=f"ncd-{cls}/{p.stem}", split=s, extra={"label": cls})
        for (p, text, cls), s in zip(items, splits, strict=True)
    ]
