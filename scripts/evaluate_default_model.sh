#!/bin/bash
# Everything MODEL_CARD.md reports about the shipped model (v3), after training it:
#   bash scripts/evaluate_default_model.sh choose RUN_MODEL   # 1: decodings on the hash split
#   bash scripts/evaluate_default_model.sh ship RUN_MODEL HEAD T   # 2: ship the chosen decoding
#   bash scripts/evaluate_default_model.sh report                # 3: every number and picture
# (repository root, venv active). RUN_MODEL: the trained model, e.g. runs/v3/model or a checkpoint
# folder. Writes runs/eval-v3/*, docs/v3_*.png and benchmarks/results/*.json. The models compared:
# the shipped one, the previous one (models/v2) and the paper-recipe one (models/scratch-v1).
set -euo pipefail
E=runs/eval-v3
D=data/v2
OLD=models/v2
OLDER=models/scratch-v1
NEW=src/tic/assets/default
mkdir -p $E docs
ev() { tic evaluate --quiet --device cpu "$@"; }

case "$1" in
choose)  # the decoding, chosen on the hash split of the TRAINING sources, not the held-out ones
  variants=()
  for v in regression:0.38 bins:0.25 bins:0.38 bins:0.5 bins:0.7; do
    head=${v%%:*}; t=${v##*:}
    python scripts/ship_default_model.py "$2" --out $E/decode/$head-$t --ab-head $head \
      --temperature "$t" --color-synonyms
    variants+=(--model $E/decode/$head-$t)
  done
  ev "${variants[@]}" --baseline gray --data $D/val_hash.jsonl --out $E/decode_hash
  ;;
ship)
  python scripts/ship_default_model.py "$2" --ab-head "$3" --temperature "$4" --color-synonyms
  python scripts/ship_default_model.py "$2" --ab-head "$3" --temperature "$4" --color-synonyms \
    --dtype fp32 --out $E/fp32/default
  ;;
report)
  ev --model $NEW --model $OLD --model $OLDER --baseline gray --data $D/val_sources.jsonl \
    --out $E/sources
  ev --model $NEW --model $OLD --model $OLDER --no-text --data $D/val_sources.jsonl \
    --out $E/sources_notext
  ev --model $NEW --model $OLD --baseline gray --data $D/val_hash.jsonl --out $E/hash
  ev --model $NEW --model $OLD --no-text --data $D/val_hash.jsonl --out $E/hash_notext
  ev --model $NEW --model $OLD --data $D/val_recolor/manifest.jsonl --out $E/recolor
  ev --model $NEW --model $OLD --data $D/val_binding/manifest.jsonl --out $E/binding --grid-rows 8
  ev --model $E/fp32/default --model $NEW --data $D/val_sources.jsonl --out $E/fp32_vs_fp16
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl --model $OLD \
    --out benchmarks/results/heldout_colors_v2.json
  tic report --data $D/val_sources.jsonl --out $E/report_sources --n 8 --device cpu
  python scripts/plot_losses.py runs/v3 --out docs/v3_losses.png
  python benchmarks/colorize_speed.py
  ;;
*) echo "usage: $0 choose RUN_MODEL | ship RUN_MODEL HEAD T | report" >&2; exit 2 ;;
esac
