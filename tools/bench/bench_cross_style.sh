#!/usr/bin/env bash
# The phantom's realism check without a real image (BENCHMARKS.md, "The wide phantom"): one model
# trained on the classic phantom and one on the wide phantom (configs/quick-cpu.toml, the same
# seed and steps), each scored with the leaderboard's dice on held-out phantoms: classic, wide,
# and the classic phantom with one randomisation factor switched on at a time (`--with F`), so
# a row says which factor a model trained without it cannot handle. The held-out sets share
# their people (seed 77) and differ only in the factors; the training people (seed 40) are others.
#   tools/bench/bench_cross_style.sh target/release/boneseg /tmp/xs [epochs] [seed]
# 40 people at 512² make 64 training images, 16 steps an epoch: 40 epochs are 640 steps.
# Both train with the demo's budget overrides (Dice alone, lr 3e-3; crates/cli/src/commands/demo.rs):
# with quick-cpu's own BCE + Dice the wide model predicted no bone for its first 160+ steps.
# The two runs train side by side (their results do not depend on it; their minutes do).
# Prints one CSV row per held-out set: its name, then each model's mean dice on it.
set -euo pipefail
B=$1 OUT=$2 EPOCHS=${3:-40} SEED=${4:-21}
factors=(framing pose background markers detector bone tissue age)
mkdir -p "$OUT"
synth() { [ -d "$OUT/$1" ] || "$B" synth --out "$OUT/$1" "${@:2}" --size 512 > "$OUT/$1.log"; }
for style in classic wide; do
  synth "train-$style" --people 40 --test-people 0 --seed 40 --style "$style"
  synth "eval-$style" --people 1 --test-people 6 --seed 77 --style "$style"
done
for factor in "${factors[@]}"; do
  synth "eval-$factor" --people 1 --test-people 6 --seed 77 --style classic --with "$factor"
done

for style in classic wide; do
  run="$OUT/model-$style"
  if [ ! -f "$run/epochs.csv" ] || [ "$(tail -n 1 "$run/epochs.csv" | cut -d, -f1)" != "$EPOCHS" ]; then
    rm -rf "$run"
    ( start=$(date +%s)
      "$B" train --config configs/quick-cpu.toml --set "data.root=$OUT/train-$style" --set "train.epochs=$EPOCHS" \
        --set 'loss=[{ kind = "dice", weight = 1.0 }]' --set optim.lr=3e-3 \
        --set train.val_every=10 --set "train.seed=$SEED" --set "data.cache_dir=$OUT/cache-$style" \
        --out "$run" > "$run.log" 2>&1
      echo $(( ($(date +%s) - start) / 60 )) > "$run.minutes" ) &
  fi
done
wait

echo "held_out,trained_on_classic,trained_on_wide"
for set in classic wide "${factors[@]}"; do
  row=$set
  for style in classic wide; do
    pred="$OUT/pred-$style-on-$set.csv"
    "$B" predict --run "$OUT/model-$style" --images "$OUT/eval-$set/test/DCM" --out "$pred" > /dev/null
    dice=$("$B" score --pred "$pred" --labels "$OUT/eval-$set/test_labels" --images "$OUT/eval-$set/test/DCM" |
           tail -n 1 | cut -d= -f2)
    row+=",$(printf %.4f "$dice")"
  done
  echo "$row"
done
