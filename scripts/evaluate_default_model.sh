#!/bin/bash
# Everything MODEL_CARD.md reports about the shipped model (v3), after training it:
#   bash scripts/evaluate_default_model.sh choose RUN_MODEL   # 1: decodings on the hash split
#   bash scripts/evaluate_default_model.sh ship RUN_MODEL HEAD T [NO_COLOUR_HEAD]  # 2: ship it
#   bash scripts/evaluate_default_model.sh report                # 3: every number and picture
#   bash scripts/evaluate_default_model.sh older                 # the previous models, same sets
#   bash scripts/evaluate_default_model.sh v4                    # models/v4: tried, not shipped
#   bash scripts/evaluate_default_model.sh candidate RUN NAME     # any run: decodings on the hash split
#   bash scripts/evaluate_default_model.sh heldout MODEL NAME     # any model folder: the held-out sets
#   bash scripts/evaluate_default_model.sh v6 RUN_MODEL           # models/v6: tried, not shipped
#   bash scripts/evaluate_default_model.sh v7 RUN_MODEL           # v7: v3 + object head + painting
#   bash scripts/evaluate_default_model.sh v8 RUN_MODEL           # v8: the head on 4x the scenes, palette decoding
#   bash scripts/evaluate_default_model.sh v9 RUN_MODEL [OTHER...]  # v9: the head with photo crops' background weighted down
#   bash scripts/evaluate_default_model.sh v9.1                  # v9.1: person nouns, fp32 inference, palette chroma tried
#   bash scripts/evaluate_default_model.sh v9.2                  # v9.2: palette chroma by hue
#   bash scripts/evaluate_default_model.sh v9.4                  # v9.4: a person placed under a face (the shipped model)
#   bash scripts/evaluate_default_model.sh v12 RUN_MODEL          # v12: an instance embedding, tried
#   bash scripts/evaluate_default_model.sh group-crops           # v9.2 + each group classified on its own crop, tried
#   bash scripts/evaluate_default_model.sh dev-proxies           # binding on unseen and crowded training-source scenes
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
  for v in bins:0.38 bins:0.6 bins:1.0; do
    head=${v%%:*}; t=${v##*:}
    python scripts/ship_default_model.py "$2" --out $E/decode/$head-$t --ab-head $head \
      --temperature "$t" --color-synonyms
    variants+=(--model $E/decode/$head-$t)
  done
  ev "${variants[@]}" --baseline gray --data $D/val_hash.jsonl --out $E/decode_hash
  ;;
ship)  # HEAD T [NO_COLOUR_HEAD]: the shipped v3 is "bins 0.6 regression"
  python scripts/ship_default_model.py "$2" --ab-head "$3" --temperature "$4" \
    ${5:+--ab-head-no-colour "$5"} --color-synonyms
  python scripts/ship_default_model.py "$2" --ab-head "$3" --temperature "$4" \
    ${5:+--ab-head-no-colour "$5"} --color-synonyms --dtype fp32 --out $E/fp32/default
  ;;
report)  # the shipped model
  ev --model $NEW --baseline gray --data $D/val_sources.jsonl --out $E/sources
  ev --model $NEW --no-text --data $D/val_sources.jsonl --out $E/sources_notext_reghead
  ev --model $NEW --data $D/val_recolor/manifest.jsonl --out $E/recolor
  ev --model $NEW --data $D/val_binding/manifest.jsonl --out $E/binding --grid-rows 8
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl
  python benchmarks/grounding_maps.py --data $D/val_binding/manifest.jsonl
  python scripts/plot_losses.py runs/v3 --out docs/v3_losses.png
  python benchmarks/colorize_speed.py
  ;;
older)  # the previous models on the same sets (the v2 card's numbers; git show 7859e71:MODEL_CARD.md)
  ev --model $OLD --model $OLDER --baseline gray --data $D/val_sources.jsonl --out $E/sources_older
  ev --model $OLD --no-text --data $D/val_sources.jsonl --out $E/sources_notext_older
  ev --model $OLD --model $OLDER --data $D/val_recolor/manifest.jsonl --out $E/recolor_older
  ev --model $OLD --data $D/val_binding/manifest.jsonl --out $E/binding_older --grid-rows 8
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl --model $OLD \
    --out benchmarks/results/heldout_colors_v2.json
  ;;
v4)  # stage 3 (configs/v4.yaml, runs/v4): decodings chosen on the hash split, then models/v4 on the
     # held-out sets (MODEL_CARD.md, "v4: tried, not shipped")
  E4=runs/eval-v4
  variants=()
  for v in bins:0.38 bins:0.6 bins:1.0 regression:0.6; do
    head=${v%%:*}; t=${v##*:}
    python scripts/ship_default_model.py runs/v4/model --out $E4/decode/$head-$t --ab-head $head \
      --ab-head-no-colour $head --temperature "$t" --color-synonyms
    variants+=(--model $E4/decode/$head-$t)
  done
  ev "${variants[@]}" --baseline gray --data $D/val_hash.jsonl --out $E4/decode_hash
  ev "${variants[@]}" --baseline gray --no-text --data $D/val_hash.jsonl --out $E4/decode_hash_notext
  # chosen: bins at T = 1.0 for every text (best PSNR and LPIPS(vgg) with the text, best
  # LPIPS(vgg) without)
  python scripts/ship_default_model.py runs/v4/model --out models/v4 --ab-head bins \
    --ab-head-no-colour bins --temperature 1.0 --color-synonyms
  ev --model models/v4 --baseline gray --data $D/val_sources.jsonl --out $E4/sources
  ev --model models/v4 --no-text --data $D/val_sources.jsonl --out $E4/sources_notext
  ev --model models/v4 --data $D/val_recolor/manifest.jsonl --out $E4/recolor
  ev --model models/v4 --data $D/val_binding/manifest.jsonl --out $E4/binding --grid-rows 8
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl --model models/v4 \
    --out benchmarks/results/heldout_colors_v4.json
  python scripts/plot_losses.py runs/v4 --out docs/v4_losses.png
  ;;
candidate)  # RUN NAME: runs/RUN/model's decodings on the hash split of the TRAINING sources, with
            # the text (bins at three temperatures) and without (regression head; bins at 0.6, 1.0)
  EC=runs/eval-$3
  for v in bins:0.38:regression bins:0.6:regression bins:1.0:regression bins:0.6:bins bins:1.0:bins; do
    IFS=: read -r head t plain <<< "$v"
    python scripts/ship_default_model.py "$2" --out $EC/decode/$head-$t-$plain --ab-head $head \
      --ab-head-no-colour "$plain" --temperature "$t" --color-synonyms
  done
  ev --model $EC/decode/bins-0.38-regression --model $EC/decode/bins-0.6-regression \
    --model $EC/decode/bins-1.0-regression --baseline gray --data $D/val_hash.jsonl \
    --out $EC/decode_hash
  ev --model $EC/decode/bins-0.6-regression --model $EC/decode/bins-0.6-bins \
    --model $EC/decode/bins-1.0-bins --baseline gray --no-text --data $D/val_hash.jsonl \
    --out $EC/decode_hash_notext
  ;;
heldout)  # MODEL NAME: a model folder on the held-out sources (with and without the text), the
          # held-out recolouring and binding sets, and the colour balance
  EC=runs/eval-$3
  ev --model "$2" --baseline gray --data $D/val_sources.jsonl --out $EC/sources
  ev --model "$2" --no-text --data $D/val_sources.jsonl --out $EC/sources_notext
  ev --model "$2" --data $D/val_recolor/manifest.jsonl --out $EC/recolor
  ev --model "$2" --data $D/val_binding/manifest.jsonl --out $EC/binding --grid-rows 8
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl --model "$2" \
    --out benchmarks/results/heldout_colors_$3.json
  ;;
v6)  # RUN_MODEL (runs/v6/model): the grounding maps' decoding (class maps as they are, or ranked)
     # chosen on the TRAINING sources' binding scenes, then models/v6 on the held-out sets
     # (MODEL_CARD.md, "v6: tried, not shipped")
  E6=runs/eval-v6
  for ranks in false true; do
    python scripts/ship_default_model.py "$2" --out $E6/maps-$ranks --color-synonyms \
      --grounding-ranks "$ranks"
    python benchmarks/binding_hints.py --data $D/dev_binding/manifest.jsonl --model $E6/maps-$ranks \
      --out $E6/dev_binding_hints_$ranks.json
  done
  # chosen: ranked (dev binding both right 12.8% against 1.2%)
  python scripts/ship_default_model.py "$2" --out models/v6 --color-synonyms --grounding-ranks true
  bash "$0" heldout models/v6 v6
  for m in v6 v3; do
    python benchmarks/binding_hints.py --data $D/val_binding/manifest.jsonl --model models/$m \
      --out benchmarks/results/binding_hints_$m.json
  done
  ;;
v7)  # RUN_MODEL (runs/v7/model): v3's weights plus the object head (configs/v7.yaml); the
     # chroma of texts naming no colour chosen on the hash split of the TRAINING sources and the
     # binding decoding on the training sources' binding scenes, then shipped and measured on
     # the held-out sets (MODEL_CARD.md, "v7")
  E7=runs/eval-v7
  for c in 0.7 0.5; do
    python scripts/ship_default_model.py models/v3 --out $E7/chroma-$c --no-colour-chroma $c
  done
  ev --model models/v3 --model $E7/chroma-0.7 --model $E7/chroma-0.5 --baseline gray --no-text \
    --data $D/val_hash.jsonl --out $E7/chroma_hash_notext
  # chosen: 0.5 (best PSNR and LPIPS(vgg) of the three without text)
  python scripts/ship_default_model.py "$2" --photo-palette true --no-colour-chroma 0.5
  ev --model $NEW --data $D/dev_binding/manifest.jsonl --out $E7/dev_binding
  for set in dev_binding val_binding; do
    python benchmarks/grounding_maps.py --data $D/$set/manifest.jsonl --model $NEW \
      --out benchmarks/results/grounding_maps_v7_$set.json
  done
  bash "$0" heldout $NEW v7
  ;;
v8)  # RUN_MODEL (runs/v8/model): v7's recipe with the object head trained on four times the
     # scenes (configs/v8.yaml); the palette decoding (generator.palette_prior, palette_chroma)
     # chosen on the hash split of the TRAINING sources, the head and its threshold on the
     # training sources' binding scenes, then shipped and measured on the held-out sets
     # (MODEL_CARD.md, "v8 (this model)"). The previous default is models/v7.
  E8=runs/eval-v8
  variants=()
  for v in 0:1 10:1.2 10:1.4 0:1.2; do  # palette texts are not painted: the head plays no part
    a=${v%%:*}; c=${v##*:}
    python scripts/ship_default_model.py "$2" --out $E8/decode/p$a-c$c --photo-palette true \
      --no-colour-chroma 0.5 --palette-prior "$a" --palette-chroma "$c"
    variants+=(--model $E8/decode/p$a-c$c)
  done
  ev "${variants[@]}" --baseline gray --data $D/val_hash.jsonl --out $E8/decode_hash
  # chosen: palette prior 10, chroma x 1.2 (best PSNR and LPIPS(vgg) of the four)
  for t in 0.4 0.5; do
    python scripts/ship_default_model.py models/v7 --out $E8/head/v7-t$t --object-threshold $t
    python scripts/ship_default_model.py "$2" --out $E8/head/v8-t$t --photo-palette true \
      --no-colour-chroma 0.5 --palette-prior 10 --palette-chroma 1.2 --object-threshold $t
    ev --model $E8/head/v7-t$t --model $E8/head/v8-t$t --data $D/dev_binding/manifest.jsonl \
      --out $E8/dev_binding_t$t
  done
  # chosen: v8's head at 0.4 (each object right most often; both right as often as at 0.5)
  python scripts/ship_default_model.py "$2" --photo-palette true --no-colour-chroma 0.5 \
    --palette-prior 10 --palette-chroma 1.2 --object-threshold 0.4
  for set in dev_binding val_binding; do
    python benchmarks/grounding_maps.py --data $D/$set/manifest.jsonl --model $NEW \
      --out benchmarks/results/grounding_maps_v8_$set.json
  done
  bash "$0" heldout $NEW v8
  ;;
v9)  # RUN_MODEL [OTHER_RUN_MODEL...] (runs/v9/model; the others tried: runs/v9-w0.25/model,
     # runs/v10/model): the head trained with the background of scenes on photo crops weighted
     # down (configs/v9.yaml, configs/v10.yaml); heads and threshold chosen on the training
     # sources' binding scenes against v8's, their foreground on real photos drawn, then the
     # chosen one shipped and measured on the held-out sets (MODEL_CARD.md, "v9 (this model)").
     # The previous default is models/v8. Decoding as v8's (palette texts are not painted).
  E9=runs/eval-v9
  heads=(--model models/v8)
  for run in "${@:2}"; do
    name=$(basename "$(dirname "$run")")
    for t in 0.4 0.5; do
      python scripts/ship_default_model.py "$run" --out $E9/head/$name-t$t --photo-palette true \
        --no-colour-chroma 0.5 --palette-prior 10 --palette-chroma 1.2 --object-threshold $t
      heads+=(--model $E9/head/$name-t$t)
    done
  done
  ev "${heads[@]}" --data $D/dev_binding/manifest.jsonl --out $E9/dev_binding
  # chosen: runs/v9's head (weight 0.05) at 0.4 (both objects right most often)
  python scripts/ship_default_model.py "$2" --photo-palette true --no-colour-chroma 0.5 \
    --palette-prior 10 --palette-chroma 1.2 --object-threshold 0.4
  P=../shared/data/photos/images; M=../shared/data/more-photos/images
  python benchmarks/object_head_photos.py --photos examples/fish.jpg \
    examples/owl.jpg examples/dandelions.jpg examples/giraffe.jpg \
    $P/gcompris__explore_world_animals_panda.jpg $P/opencv__butterfly.jpg \
    $P/gcompris__explore_farm_animals_cow.jpg $M/darknet__dog.jpg $M/darknet__eagle.jpg \
    $M/jigzo__bird-2x3.jpg $M/jigzo__horse-4x3.jpg $M/jigzo__train-2x2.jpg \
    --models models/v8,$E9/head/v9-w0.25-t0.4,$NEW,$E9/head/v10-t0.4 \
    --out docs/v9_object_head_photos.jpg --json benchmarks/results/object_head_photos_v9.json
  for set in dev_binding val_binding; do
    python benchmarks/grounding_maps.py --data $D/$set/manifest.jsonl --model $NEW \
      --out benchmarks/results/grounding_maps_v9_$set.json
  done
  bash "$0" heldout $NEW v9
  ev --model models/v8 --data $D/val_recolor/manifest.jsonl --out $E9/recolor_v8  # its grid
  # tried, not shipped: a spare group (generator.spare_group_margin), on the training sources
  for m in 1 2 4; do
    python scripts/ship_default_model.py $NEW --out $E9/spare/m$m --spare-group-margin $m
  done
  for set in dev_recolor dev_binding; do
    ev --model $NEW --model $E9/spare/m1 --model $E9/spare/m2 --model $E9/spare/m4 \
      --data $D/$set/manifest.jsonl --out $E9/spare/$set
  done
  ;;
v9.1)  # the shipped v9.1 (v9's weights, generator.person_nouns, fp32 inference) against v9
       # (rebuilt as a folder), and the palette decodings tried for colourfulness, chosen by the
       # hash split's colourfulness and not shipped (MODEL_CARD.md, "v9.1"); run while v9.1 was
       # $NEW (since v9.2 its folders would carry v9.2's palette decoding: use v9.2's v9.1 folder)
  E91=runs/eval-v9.1
  python scripts/ship_default_model.py $NEW --out $E91/v9 --person-nouns false
  python scripts/ship_default_model.py $NEW --out $E91/chroma1.3 --palette-chroma 1.3
  python scripts/ship_default_model.py $NEW --out $E91/chroma1.4 --palette-chroma 1.4
  python scripts/ship_default_model.py $NEW --out $E91/t0.45 --temperature 0.45
  python scripts/ship_default_model.py $NEW --out $E91/prior20-chroma1.3 --palette-prior 20 \
    --palette-chroma 1.3
  for set in dev_binding dev_recolor val_binding val_recolor; do
    ev --model $NEW --model $E91/v9 --data $D/$set/manifest.jsonl --out $E91/$set --grid-rows 8
  done
  ev --model $NEW --model $E91/chroma1.3 --model $E91/chroma1.4 --model $E91/t0.45 \
    --model $E91/prior20-chroma1.3 --baseline gray --data $D/val_hash.jsonl --out $E91/hash_chroma
  ev --model $NEW --model $E91/chroma1.3 --model $E91/chroma1.4 --baseline gray \
    --data $D/val_sources.jsonl --out $E91/sources_chroma
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl --model $E91/chroma1.4 \
    --out benchmarks/results/heldout_colors_chroma1.4.json
  python benchmarks/colorize_speed.py
  ;;
v9.4)  # the shipped v9.4 (v9.2 + generator.person_faces): v9.2 rebuilt from it, both on the
       # held-out sets, the training sources' unseen binding scenes, the pictures and the speed
  E94=runs/eval-v9.4
  V92=$E94/v9.2
  python scripts/ship_default_model.py $NEW --out $V92 --person-faces false
  ev --model $NEW --model $V92 --data $D/val_binding/manifest.jsonl --out $E94/binding --grid-rows 8
  ev --model $NEW --model $V92 --data $D/dev_binding_unseen/manifest.jsonl --out $E94/dev_unseen
  ev --model $NEW --model $V92 --data $D/val_recolor/manifest.jsonl --out $E94/recolor
  ev --model $NEW --model $V92 --baseline gray --data $D/val_sources.jsonl --out $E94/sources
  ev --model $NEW --model $V92 --no-text --data $D/val_sources.jsonl --out $E94/sources_notext
  python scripts/binding_faces_figure.py --data $D/val_binding/manifest.jsonl --old $V92 \
    --metrics $E94/binding/metrics.jsonl --new-label v9.4 --out docs/v9.4_binding_faces.jpg \
    --photo ../shared/data/more-photos/images/darknet__person.jpg "a red woman and a blue horse"
  python benchmarks/colorize_speed.py --texts people
  python benchmarks/colorize_speed.py
  ;;
v9.2)  # v9.2 (v9.1's weights, palette chroma by hue): the decodings screened on the
       # hash split, then the chosen one on the held-out sources (MODEL_CARD.md, "v9.2")
  E92=runs/eval-v9.2
  V91=$E92/v9.1
  python scripts/ship_default_model.py $NEW --out $V91 --palette-chroma 1.2 \
    --palette-hue-width none --palette-hue-skip ""  # v9.1: uniform palette chroma
  variants=()
  for v in 1.5:30:1: 1.5:45:1: 1.5:60:1: 1.6:45:1: 1.7:30:1: 1.5:60:0.8: 1.6:45:0.8: \
           1.6:60:0.7: 1.6:30:1:brown 1.8:30:1:brown 1.8:30:0.8:brown 2.0:30:0.8:brown \
           2.0:30:1:brown 2.2:30:1:brown 2.0:45:1:brown; do
    IFS=: read -r c w o k <<< "$v"
    out=$E92/hash/$c-$w-$o-$k
    python scripts/ship_default_model.py $V91 --out $out/model --palette-chroma "$c" \
      --palette-hue-width "$w" ${k:+--palette-hue-skip "$k"} \
      $([ "$o" != 1 ] && echo --palette-other-chroma "$o")
    ev --model $out/model --data $D/val_hash.jsonl --out $out/eval
    python benchmarks/heldout_colors.py --data $D/val_hash.jsonl --model $out/model \
      --out $out/colors.json
  done
  ev --model $V91 --data $D/val_hash.jsonl --out $E92/hash/v9.1
  python benchmarks/heldout_colors.py --data $D/val_hash.jsonl --model $V91 \
    --out $E92/hash/v9.1/colors.json
  # the held-out sources: the shipped v9.2 (= the hash rule's 2.0:45:1:brown)
  ev --model $NEW --model $V91 --baseline gray --data $D/val_sources.jsonl --out $E92/sources
  ev --model $NEW --no-text --data $D/val_sources.jsonl --out $E92/sources_notext
  python benchmarks/heldout_colors.py --data $D/val_sources.jsonl \
    --out benchmarks/results/heldout_colors_v9.2.json
  for set in val_binding val_recolor; do
    ev --model $NEW --data $D/$set/manifest.jsonl --out $E92/$set --grid-rows 8
  done
  python benchmarks/colorize_speed.py
  ;;
v12)  # RUN_MODEL (runs/v12/model, configs/v12.yaml): v9.1 plus an instance embedding for the
      # object split, tried and not shipped (MODEL_CARD.md, "v12: tried, not shipped")
  E12=runs/eval-v12
  for w in 0 1 3 5 10; do  # the position's weight, chosen on the training sources' scenes
    python scripts/ship_default_model.py "$2" --out $E12/emb-w$w --photo-palette true \
      --no-colour-chroma 0.5 --palette-prior 10 --palette-chroma 1.2 --object-threshold 0.4 \
      --person-nouns true --instance-position "$w"
    ev --model $E12/emb-w$w --data $D/dev_binding/manifest.jsonl --out $E12/dev_binding_w$w
  done
  for set in val_binding dev_recolor val_recolor; do
    ev --model $E12/emb-w3 --data $D/$set/manifest.jsonl --out $E12/$set
  done
  ;;
group-crops)  # v9.2 with generator.group_crops, tried and not shipped (MODEL_CARD.md, "Group crops")
  EG=runs/eval-group-crops
  for v in 0.5:288 0.3:352 0.5:352 0.75:352 0.5:416; do  # chosen on the training sources' scenes
    m=${v%%:*}; size=${v##*:}
    python scripts/ship_default_model.py $NEW --out $EG/crops-$m-$size --group-crops "$m" \
      --group-crop-size "$size"
    ev --model $EG/crops-$m-$size --data $D/dev_binding/manifest.jsonl --out $EG/dev_binding_$m-$size
  done
  ev --model $NEW --data $D/dev_binding/manifest.jsonl --out $EG/dev_binding_v9.2
  ev --model $EG/crops-0.5-352 --data $D/val_binding/manifest.jsonl --out $EG/val_binding
  for set in dev_binding val_binding; do
    python benchmarks/grounding_maps.py --data $D/$set/manifest.jsonl \
      --out benchmarks/results/grounding_maps_v9.2_$set.json
    python benchmarks/grounding_maps.py --model $EG/crops-0.5-352 --data $D/$set/manifest.jsonl \
      --out benchmarks/results/grounding_maps_v9.2_group_crops_$set.json
  done
  ;;
dev-proxies)  # binding development sets from the training sources that behave like the held-out one
  EP=runs/eval-dev-proxies
  python scripts/ship_default_model.py $NEW --out $EP/crops-0.5-352 --group-crops 0.5 \
    --group-crop-size 352
  for m in 0 4; do
    python scripts/ship_default_model.py $NEW --out $EP/spare-$m --spare-group-margin "$m"
  done
  for t in 0.25 0.3 0.6; do
    python scripts/ship_default_model.py $NEW --out $EP/threshold-$t --object-threshold "$t"
  done
  for set in dev_binding_unseen dev_binding_crowded; do
    ev --model $NEW --model $EP/crops-0.5-352 --data $D/$set/manifest.jsonl --out $EP/$set
    python benchmarks/grounding_maps.py --data $D/$set/manifest.jsonl \
      --out benchmarks/results/grounding_maps_v9.2_$set.json
    python benchmarks/grounding_maps.py --model $EP/crops-0.5-352 --data $D/$set/manifest.jsonl \
      --out benchmarks/results/grounding_maps_v9.2_group_crops_$set.json
  done
  for v in spare-0 spare-4 threshold-0.25 threshold-0.3 threshold-0.6; do
    for set in dev_binding dev_binding_unseen dev_binding_crowded; do
      python benchmarks/grounding_maps.py --model $EP/$v --data $D/$set/manifest.jsonl \
        --out $EP/grounding_maps_${v}_$set.json
    done
  done
  ;;
*) echo "usage: $0 choose RUN_MODEL | ship RUN_MODEL HEAD T | report | older | v4 | candidate RUN NAME | heldout MODEL NAME | v6 RUN_MODEL | v7 RUN_MODEL | v8 RUN_MODEL | v9 RUN_MODEL [OTHER...] | v9.1 | v9.2 | v12 RUN_MODEL | group-crops | dev-proxies" >&2; exit 2 ;;
esac
