#!/bin/bash
# Everything MODEL_CARD.md reports about the shipped model, after training and shipping it:
#   bash scripts/evaluate_default_model.sh     (repository root, venv active; about 15 min here)
# Writes runs/eval/*, docs/*.png and benchmarks/results/{open_vocab*,colorize_speed}.json.
set -e
E=runs/eval
mkdir -p $E docs
tic evaluate --data data/default/val.jsonl --baseline gray --out $E/val --quiet --device cpu
tic evaluate --data data/default/val.jsonl --no-text --out $E/val_notext --quiet --device cpu
tic evaluate --data data/default/val_recolor.jsonl --out $E/recolor --quiet --device cpu
tic report --data data/default/val_photos.jsonl --out $E/report_photos --n 6 --device cpu
tic report --data data/default/val_composites.jsonl --out $E/report_composites --n 6 --device cpu
python benchmarks/open_vocab.py
python scripts/ship_default_model.py runs/default/model --out $E/raw/default
python benchmarks/open_vocab.py --model $E/raw/default --out benchmarks/results/open_vocab_raw_minilm.json --picture docs/open_vocab_raw_minilm.png
python scripts/ship_default_model.py runs/default/model --out $E/fp32/default --dtype fp32 --color-synonyms
tic evaluate --model $E/fp32/default --model src/tic/assets/default --data data/default/val_photos.jsonl --out $E/fp32_vs_fp16 --quiet --device cpu
python scripts/plot_losses.py runs/default-stage1 --out docs/losses_stage1.png
python scripts/plot_losses.py runs/default --out docs/losses_stage2.png
python benchmarks/colorize_speed.py
cp $E/report_photos/rows.png docs/photos_rows.png
cp $E/report_photos/text_ablation.png docs/photos_text_ablation.png
cp $E/report_composites/rows.png docs/composites_rows.png
cp $E/report_composites/text_ablation.png docs/composites_text_ablation.png
cp $E/report_composites/recolor.png docs/composites_recolor.png
cp $E/recolor/grid.png docs/recolor_grid.png
echo done
