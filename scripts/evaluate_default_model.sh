#!/bin/bash
# The shipped model's numbers in MODEL_CARD.md, on the held-out sets (repository root, venv active):
#
#   python scripts/prepare_data_v2.py --pools ../shared/data/photos ../shared/data/more-photos --out data/v2
#   bash scripts/evaluate_default_model.sh [PREVIOUS_MODEL]
#
# - held-out sources (65 photos of packages training never saw) with their texts, beside the gray
#   image, and with the empty text: runs/eval-default/sources, sources_notext;
# - the same photos under free-form texts (four phrasings each, none tic caption's:
#   scripts/make_freeform_sets.py): runs/eval-default/freeform;
# - recolouring and binding with their texts rephrased (recolor_free, binding_free), with the
#   bleed measure (--bleed: the change outside the named objects against inside);
# - their colour balance (colourfulness, brown pixels, mean a*b*): benchmarks/results/heldout_colors.json;
# - recolouring (150 held-out cut-outs, each named in a colour it can take): runs/eval-default/recolor;
# - binding (92 texts naming two held-out cut-outs, colours swapped): runs/eval-default/binding, and
#   the grounding maps and the object split alone: benchmarks/results/grounding_maps.json;
# - the face detector on made-up scenes: benchmarks/results/face_recall.json;
# - speed at full resolution (texts of every kind; texts naming one person among other objects):
#   benchmarks/results/colorize_speed.json, colorize_speed_people.json.
#
# PREVIOUS_MODEL: a model folder compared in every tic evaluate table above and in the picture of
# free-form texts (docs/freeform.jpg). The card compares v9.5, the previous default; its folder
# comes from git history:
#   mkdir -p models/v9.5 && for f in config.json model.safetensors text_encoder.json; do
#     git show 2efa56c:src/tic/assets/default/$f > models/v9.5/$f; done
#   bash scripts/evaluate_default_model.sh models/v9.5
# The folder's name labels its rows (it must not be "default"). fp32 inference on the CPU; the
# speed rows are the machine's own (the card names each machine).
set -euo pipefail
if [ $# -gt 1 ] || [[ "${1:-}" == -* ]]; then
  echo "usage: $0 [PREVIOUS_MODEL]" >&2
  exit 2
fi
D=data/v2
E=runs/eval-default
NEW=src/tic/assets/default
PREV=${1:-}
models=(--model $NEW)
if [ -n "$PREV" ]; then
  if [ ! -f "$PREV/config.json" ]; then
    echo "$PREV: not a model folder (no config.json)" >&2
    exit 2
  fi
  models+=(--model "$PREV")
fi
for f in $D/val_sources.jsonl $D/val_recolor/manifest.jsonl $D/val_binding/manifest.jsonl; do
  [ -f "$f" ] || { echo "$f not found: run scripts/prepare_data_v2.py first" >&2; exit 2; }
done
python scripts/make_freeform_sets.py --data $D
mkdir -p $E
ev() { tic evaluate --quiet --device cpu "$@"; }

ev "${models[@]}" --baseline gray --data $D/val_sources.jsonl --out $E/sources
ev "${models[@]}" --no-text --baseline gray --data $D/val_sources.jsonl --out $E/sources_notext
# (the gray image's row for these photos is sources_notext's: the same 65 photos, each 4 times here)
ev "${models[@]}" --data $D/val_freeform/manifest.jsonl --out $E/freeform
ev "${models[@]}" --bleed --data $D/val_recolor/manifest.jsonl --out $E/recolor
ev "${models[@]}" --bleed --data $D/val_binding/manifest.jsonl --out $E/binding --grid-rows 8
ev "${models[@]}" --bleed --data $D/val_recolor_free/manifest.jsonl --out $E/recolor_free
ev "${models[@]}" --bleed --data $D/val_binding_free/manifest.jsonl --out $E/binding_free
# point hints (the shipped model alone: an earlier one may take none): 0-20 random points
ev --model $NEW --no-text --hint-curve --data $D/val_sources.jsonl --out $E/hints_sources
ev --model $NEW --no-text --hint-curve --data $D/val_hash.jsonl --out $E/hints_hash
python benchmarks/heldout_colors.py --data $D/val_sources.jsonl
python benchmarks/grounding_maps.py --data $D/val_binding/manifest.jsonl
python benchmarks/face_recall.py  # on data/v2/dev_binding_unseen
python benchmarks/colorize_speed.py
python benchmarks/colorize_speed.py --texts people
python benchmarks/colorize_speed.py --hints 10
python scripts/hints_figure.py $D/val_sources.jsonl --click 150,300,#2060e0 --model $NEW --out docs/hints.jpg
tic colorize examples/ --out colorized/   # the main job, then its picture
python scripts/examples_figure.py colorized/ --out docs/examples_colorized.png
if [ -n "$PREV" ]; then  # held-out photos under free-form texts, before and after
  python scripts/freeform_figure.py --data $D --before "$PREV" --out docs/freeform.jpg
fi
