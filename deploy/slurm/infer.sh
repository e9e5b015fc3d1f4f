#!/bin/sh
# Sharded inference on Slurm: an array of SHARDS tasks, task K inferring part K/SHARDS of the
# sorted test images (`boneseg infer --shard`), then a job that starts when all have succeeded
# and merges the parts into one submission and one probability store, byte for byte what one
# unsharded `boneseg infer` writes.
#
#   RUN=runs/cv03 IMAGES=data/test/DCM OUT=out/cv03 SHARDS=8 PARTITION=gpu GPUS=1 deploy/slurm/infer.sh
#
# RUN, IMAGES and OUT are paths on a file system the nodes share. INFER_ARGS passes more
# `boneseg infer` flags to every task (e.g. "--mode sliding --hflip").
set -eu
: "${RUN:?set RUN to the run directory}" "${IMAGES:?set IMAGES to the images folder}" "${OUT:?set OUT to the output folder}"
SHARDS=${SHARDS:-4}
BONESEG=${BONESEG:-$(command -v boneseg)}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT/parts" "$OUT/logs"
set --
if [ -n "${PARTITION:-}" ]; then set -- "$@" --partition="$PARTITION"; fi
if [ -n "${TIME:-}" ]; then set -- "$@" --time="$TIME"; fi
export RUN IMAGES OUT SHARDS BONESEG INFER_ARGS
infer=$(sbatch --parsable "$@" ${GPUS:+--gpus-per-task="$GPUS"} --array=0-$((SHARDS - 1)) \
  --output="$OUT/logs/infer-%A_%a.out" "$here/infer-array.sbatch")
infer=${infer%%;*}
merge=$(sbatch --parsable "$@" --dependency=afterok:"$infer" --kill-on-invalid-dep=yes \
  --output="$OUT/logs/merge-%j.out" "$here/merge.sbatch")
merge=${merge%%;*}
echo "submitted the inference array $infer ($SHARDS shards) and the merge job $merge"
