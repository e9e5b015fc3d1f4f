#!/usr/bin/env bash
# What class-aware crops and copy-paste buy for the small bones on the phantom (BENCHMARKS.md):
# configs/quick-cpu.toml (U-Net-ResNet18, batch 4, warm-up + cosine) on 128² crops of the 512²
# phantom images cached at 256² (validation: whole images at 256², scored at 512²), the same seed
# and steps for every run: with neither trick, with data.crop_focus (half the crops centred on the
# carpals and finger-16), with copy_paste (p 0.5, 2 of its default Trapezium, Trapezoid, Triquetrum
# and Pisiform from other training images, ahead of quick-cpu's own augmentation), and with both.
# Prints the last validation's per-class dice of the small classes and the mean, one row a run.
#   tools/bench/bench_tricks.sh target/release/boneseg /tmp/tricks-bench [epochs] [seed] [style]
# 64 training images make 16 steps an epoch: 60 epochs are quick-cpu's 960 steps. The phantom's
# style defaults to classic: on the wide phantom the small bones stay at dice 0 for as long as
# this 2-core machine can train four runs (192 steps: BENCHMARKS.md), which compares nothing.
# The four runs train side by side (their results do not depend on it; their minutes do).
set -euo pipefail
B=$1 OUT=$2 EPOCHS=${3:-60} SEED=${4:-21} STYLE=${5:-classic}
mkdir -p "$OUT"
[ -d "$OUT/data" ] || "$B" synth --out "$OUT/data" --people 40 --test-people 0 --size 512 --seed 40 --style "$STYLE"
common=(--config configs/quick-cpu.toml --set "data.root=$OUT/data" --set data.size=256 --set data.crop=128
        --set "train.epochs=$EPOCHS" --set train.val_every=10 --set "train.seed=$SEED" --set "data.cache_dir=$OUT/cache")
focus=(--set "data.crop_focus={ share = 0.5 }")
# copy_paste first (it pastes at the sample's own bones, before they move), then quick-cpu's list.
paste=(--set 'augment=[{ name = "copy_paste", p = 0.5, bones = 2 }, { name = "horizontal_flip", p = 0.5 },
  { name = "shift_scale_rotate", p = 0.7, shift_limit = 0.08, scale_limit = 0.2, rotate_limit = 20 },
  { name = "random_brightness_contrast", p = 0.5, brightness_limit = 0.2, contrast_limit = 0.25 },
  { name = "random_gamma", p = 0.3, gamma_limit = [70, 150] }, { name = "clahe", p = 0.25, clip_limit = 3.0 }]')
declare -A runs=([plain]="" [focus]="focus" [paste]="paste" [both]="focus paste")
classes=(finger-16 Trapezoid Pisiform Trapezium Triquetrum Lunate)
for run in plain focus paste both; do
  dir="$OUT/$run-s$SEED"
  args=()
  for trick in ${runs[$run]}; do
    if [ "$trick" = focus ]; then args+=("${focus[@]}"); else args+=("${paste[@]}"); fi
  done
  if [ ! -f "$dir/epochs.csv" ] || [ "$(tail -n 1 "$dir/epochs.csv" | cut -d, -f1)" != "$EPOCHS" ]; then
    rm -rf "$dir"
    ( start=$(date +%s)
      "$B" train "${common[@]}" "${args[@]}" --out "$dir" > "$dir.log" 2>&1
      echo $(( ($(date +%s) - start) / 60 )) > "$dir.minutes" ) &
  fi
done
wait
echo "run,$(IFS=,; echo "${classes[*]}"),carpals,mean,minutes"
for run in plain focus paste both; do
  dir="$OUT/$run-s$SEED"
  table="$dir/validation/epoch$(printf %03d "$EPOCHS").csv"
  row=$run
  for class in "${classes[@]}"; do row+=",$(grep "^$class," "$table" | cut -d, -f2)"; done
  carpals=$(grep -E "^(Trapezium|Trapezoid|Capitate|Hamate|Scaphoid|Lunate|Triquetrum|Pisiform)," "$table" |
            awk -F, '{ s += $2 } END { printf "%.6f", s / NR }')
  echo "$row,$carpals,$(grep '^mean,' "$table" | cut -d, -f2),$(cat "$dir.minutes")"
done
