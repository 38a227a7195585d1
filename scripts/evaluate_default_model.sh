#!/bin/bash
# Everything MODEL_CARD.md reports about the shipped model (v4), after training it:
#   bash scripts/evaluate_default_model.sh choose RUN_MODEL   # 1: decodings on the hash split
#   bash scripts/evaluate_default_model.sh ship RUN_MODEL HEAD T NO_COLOUR_HEAD  # 2: ship them
#   bash scripts/evaluate_default_model.sh report                # 3: every number and picture
#   bash scripts/evaluate_default_model.sh older                 # the previous models, same sets
# (repository root, venv active). RUN_MODEL: the trained model, e.g. runs/v3/model or a checkpoint
# folder. Writes runs/eval-v4/*, docs/v4_*.png and benchmarks/results/*.json. The models compared:
# the shipped one, the previous ones (models/v3, models/v2) and the paper-recipe one
# (models/scratch-v1).
set -euo pipefail
E=runs/eval-v4
D=data/v2
OLD=models/v3
V2=models/v2
OLDER=models/scratch-v1
NEW=src/tic/assets/default
mkdir -p $E docs
ev() { tic evaluate --quiet --device cpu "$@"; }

case "$1" in
choose)  # the decodings, chosen on the hash split of the TRAINING sources, not the held-out ones
  variants=()
  for v in bins:0.38 bins:0.6 bins:1.0 regression:0.6; do
    head=${v%%:*}; t=${v##*:}
    python scripts/ship_default_model.py "$2" --out $E/decode/$head-$t --ab-head $head \
      --ab-head-no-colour $head --temperature "$t" --color-synonyms
    variants+=(--model $E/decode/$head-$t)
  done
  ev "${variants[@]}" --baseline gray --data $D/val_hash.jsonl --out $E/decode_hash
  ev "${variants[@]}" --baseline gray --no-text --data $D/val_hash.jsonl --out $E/decode_hash_notext
  ;;
ship)  # HEAD T for texts that name a colour, NO_COLOUR_HEAD for the others (the empty text)
  python scripts/ship_default_model.py "$2" --ab-head "$3" --temperature "$4" \
    --ab-head-no-colour "$5" --color-synonyms
  python scripts/ship_default_model.py "$2" --ab-head "$3" --temperature "$4" \
    --ab-head-no-colour "$5" --color-synonyms --dtype fp32 --out $E/fp32/default
  ;;
report)  # the shipped model
  ev --model $NEW --baseline gray --data $D/val_sources.jsonl --out $E/sources
  ev --model $NEW --no-text --data $D/val_sources.jsonl --out $E/sources_notext
  ev --model $NEW --data $D/val_recolor/manifest.jsonl --out $E/recolor
  ev --model $NEW --data $D/val_binding/manifest.jsonl --out $E/binding --grid-rows 8
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl
  python benchmarks/grounding_maps.py --data $D/val_binding/manifest.jsonl
  python scripts/plot_losses.py runs/v4 --out docs/v4_losses.png
  python benchmarks/colorize_speed.py
  ;;
older)  # the previous models on the same sets (their cards: git show 3577b78:MODEL_CARD.md for v3)
  ev --model $OLD --model $V2 --model $OLDER --baseline gray --data $D/val_sources.jsonl \
    --out $E/sources_older
  ev --model $OLD --model $V2 --no-text --data $D/val_sources.jsonl --out $E/sources_notext_older
  ev --model $OLD --model $V2 --data $D/val_recolor/manifest.jsonl --out $E/recolor_older
  ev --model $OLD --model $V2 --data $D/val_binding/manifest.jsonl --out $E/binding_older \
    --grid-rows 8
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl --model $OLD \
    --out benchmarks/results/heldout_colors_v3.json
  python benchmarks/grounding_maps.py --data $D/val_binding/manifest.jsonl --model $OLD \
    --out benchmarks/results/grounding_maps_v3.json
  ;;
*) echo "usage: $0 choose RUN_MODEL | ship RUN_MODEL HEAD T NO_COLOUR_HEAD | report | older" >&2
   exit 2 ;;
esac
