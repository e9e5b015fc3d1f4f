#!/usr/bin/env bash
# The phantom's realism check without a real image (BENCHMARKS.md, "The wide phantom"): one model
# trained on the classic phantom and one on the wide phantom (configs/quick-cpu.toml, the same
# seed and steps), each scored with the leaderboard's dice on held-out phantoms: classic, wide,
# and the classic phantom with one randomisation factor switched on at a time (`--with F`), so
# a row says which factor a model trained without it cannot handle. The held-out sets share
# their people (seed 77) and differ only in the factors; the training people (seed 40) are others.
#   tools/bench/bench_cross_style.sh target/release/boneseg /tmp/xs [epochs] [seed] [factors]
# factors (comma-separated, e.g. framing,background): also train one model on the classic phantom
# with each of them switched on (`classic+F`), to say what training with a factor buys; its column
# beside the classic one shows it, on the factor's own held-out set and on the wide phantom.
# 40 people at 512² make 64 training images, 16 steps an epoch: 40 epochs are 640 steps.
# All train quick-cpu from scratch with configs/phantom-transfer.toml's loss and rate (Dice alone,
# lr 3e-3): with quick-cpu's own BCE + Dice the wide model predicted no bone for its first 160+ steps.
# Two runs train side by side (their results do not depend on it; their minutes do).
# Prints one CSV row per held-out set: its name, then each model's mean dice on it.
set -euo pipefail
B=$1 OUT=$2 EPOCHS=${3:-40} SEED=${4:-21}
IFS=, read -r -a trained_with <<< "${5:-}"
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
for factor in "${trained_with[@]}"; do
  synth "train-classic+$factor" --people 40 --test-people 0 --seed 40 --style classic --with "$factor"
done

# Trains model-NAME on train-NAME unless a finished run is there.
train() {
  local run="$OUT/model-$1"
  if [ -f "$run/epochs.csv" ] && [ "$(tail -n 1 "$run/epochs.csv" | cut -d, -f1)" == "$EPOCHS" ]; then
    return
  fi
  rm -rf "$run"
  local start; start=$(date +%s)
  "$B" train --config configs/quick-cpu.toml --set "data.root=$OUT/train-$1" --set "train.epochs=$EPOCHS" \
    --set 'loss=[{ kind = "dice", weight = 1.0 }]' --set optim.lr=3e-3 \
    --set train.val_every=10 --set "train.seed=$SEED" --set "data.cache_dir=$OUT/cache-$1" \
    --out "$run" > "$run.log" 2>&1
  echo $(( ($(date +%s) - start) / 60 )) > "$run.minutes"
}
models=(classic wide "${trained_with[@]/#/classic+}")
for model in "${models[@]}"; do
  [ "$(jobs -r | wc -l)" -lt 2 ] || wait -n
  train "$model" &
done
wait

header=held_out
for model in "${models[@]}"; do header+=",trained_on_$model"; done
echo "$header"
for set in classic wide "${factors[@]}"; do
  row=$set
  for model in "${models[@]}"; do
    pred="$OUT/pred-$model-on-$set.csv"
    "$B" predict --run "$OUT/model-$model" --images "$OUT/eval-$set/test/DCM" --out "$pred" > /dev/null
    dice=$("$B" score --pred "$pred" --labels "$OUT/eval-$set/test_labels" --images "$OUT/eval-$set/test/DCM" |
           tail -n 1 | cut -d= -f2)
    row+=",$(printf %.4f "$dice")"
  done
  echo "$row"
done
