#!/usr/bin/env bash
# The GPU measurements of issue 16 in one call: forward parity against SMP on the same GPU,
# training throughput and peak memory against PyTorch AMP, and inference of 300 phantom images
# at 2048² (sliding window 1024, flip TTA). See BENCHMARKS.md, "GPU".
#
#   tools/gpu_check.sh prepare          on the build machine, before a GPU session: the stripped
#                                       vulkan binary in .gpu/, the Vulkan loader's .deb files in
#                                       .gl/ and the SMP wheel in .whl/ (all three git-ignored,
#                                       carried to the GPU machine)
#   tools/gpu_check.sh run [--tiny] [--only parity,train,infer] [--precision bf16|f16|f32]
#                          [--boneseg PATH] [--out DIR]
#                                       on the GPU machine, from the repository root (binary:
#                                       .gpu/boneseg, else target/release/boneseg); --tiny takes
#                                       every step at toy sizes, in f32 (to try the script on
#                                       lavapipe, which refuses bf16 and f16); --precision: the
#                                       training precision (bf16, the issue's, by default)
#
# On the GPU machine: device.run(command="tools/gpu_check.sh run --out $OUT", carry=[".gpu", ".gl", ".whl"]).
# The full run needs about 8-10 minutes of an H200 (a first vulkan run compiles its shaders);
# --only splits it over calls.
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
  # The x86-64 release binary (about 20 minutes on 2 cores), stripped to travel light.
  cargo build --release --locked -p boneseg --features vulkan
  mkdir -p .gpu .gl .whl
  strip -o .gpu/boneseg target/release/boneseg
  for dir in .gpu .gl .whl; do
    grep -qx "/$dir/" .git/info/exclude 2>/dev/null || echo "/$dir/" >>.git/info/exclude
  done
  # The Vulkan loader (the GPU machine has NVIDIA's driver but no loader), as device/README.md says.
  local apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${apt_options[@]}" update -qq
  (cd .gl && apt-get "${apt_options[@]}" download libvulkan1)
  # SMP is pure Python; torch, timm, safetensors and huggingface_hub are on the machine.
  python3 -m pip download --no-deps --only-binary=:all: -d .whl segmentation-models-pytorch==0.6.0
  du -sh .gpu .gl .whl
}

# Makes the carried loader, driver manifest and wheels usable (a no-op where they are not needed).
setup_gpu_machine() {
  if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
    for deb in .gl/*.deb; do dpkg -x "$deb" /; done
    ldconfig
  fi
  local nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$nvidia_icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$nvidia_icd; fi
  if ls .whl/*.whl >/dev/null 2>&1 && ! "$PY" -c "import segmentation_models_pytorch" 2>/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
}

stamp() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f", b - a }'; }

# A training config for U-Net++-EfficientNet-b5 on the phantom in $WORK/data: $1 epochs.
write_config() {
  cat >"$WORK/train.toml" <<TOML
loss = [{ kind = "bce", weight = 0.5 }, { kind = "dice", weight = 0.5 }]
[model]
arch = "unetplusplus"
encoder = "efficientnet-b5"
[data]
root = "$WORK/data"
size = $BIG
folds = 3
workers = 4
[train]
epochs = $1
batch_size = $BATCH
val_every = 100
log_every = 1
device = "vulkan"
$PRECISION_KEY
[optim]
kind = "adamw"
lr = 1e-3
TOML
}

section_parity() {
  echo "== forward parity against SMP on the same GPU (float32, TF32 off, eval)"
  for model in "unet resnet34" "unetplusplus efficientnet-b5"; do
    set -- $model
    "$PY" tools/bench/gpu_peer.py parity --boneseg "$BONESEG" --arch "$1" --encoder "$2" --size "$PARITY_SIZE"
  done
}

section_train() {
  echo "== training throughput and peak memory: boneseg vulkan $PRECISION against PyTorch AMP $PRECISION (channels_last, cudnn.benchmark)"
  for model in "unetplusplus efficientnet-b5 $BIG" "unet resnet34 $MID"; do
    set -- $model
    for checkpointing in "" --checkpointing; do
      "$BONESEG" bench model --device vulkan --arch "$1" --encoder "$2" --size "$3" --batch "$BATCH" \
        --mode train $PRECISION_FLAG --iters "$ITERS" $checkpointing || echo "boneseg bench model $* $checkpointing failed"
    done
    "$PY" tools/bench/gpu_peer.py train --arch "$1" --encoder "$2" --size "$3" --batch "$BATCH" --steps $((ITERS * 2)) --amp "$AMP"
  done

  echo "== boneseg train end to end at ${BIG}² (phantom data through the loader, BCE+Dice, AdamW, $PRECISION)"
  rm -rf "$WORK/data" "$WORK/run"
  "$BONESEG" synth --out "$WORK/data" --people "$PEOPLE" --test-people 0 --size "$BIG" --seed 3 >/dev/null
  write_config 3
  local started
  started=$(stamp)
  "$BONESEG" train --config "$WORK/train.toml" --out "$WORK/run" 2>&1 | grep -v "^caching" || true
  echo "boneseg train: $(seconds_since "$started") s in all; steps.csv (images_per_s counts from each epoch's start, so the last epoch's rows are past the warm-up):"
  cat "$WORK/run/steps.csv"
}

section_infer() {
  echo "== inference: $((TESTS * 2)) phantom images at ${FULL}², sliding window $WINDOW, flip TTA"
  if [ ! -f "$WORK/run/checkpoints/last/model.bpk" ]; then
    echo "(no run from the train section on this machine: a one-epoch run first)"
    "$BONESEG" synth --out "$WORK/data" --people 3 --test-people 0 --size "$BIG" --seed 3 >/dev/null
    write_config 1
    "$BONESEG" train --config "$WORK/train.toml" --out "$WORK/run" >/dev/null 2>&1
  fi
  rm -rf "$WORK/test"
  "$BONESEG" synth --out "$WORK/test" --people 0 --test-people "$TESTS" --size "$FULL" --seed 8 >/dev/null
  local images=$WORK/test/test/DCM started
  started=$(stamp)
  "$BONESEG" infer --run "$WORK/run" --checkpoint last --images "$images" --out "$WORK/submission.csv" \
    --device vulkan --mode sliding --window "$WINDOW" --hflip
  echo "boneseg infer: $((TESTS * 2)) images in $(seconds_since "$started") s wall (model loading and shader compilation included)"
  "$BONESEG" submission check "$WORK/submission.csv" --images "$images"
}

run() {
  local tiny=0 only="parity,train,infer" out="" precision=""
  BONESEG=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --tiny) tiny=1 ;;
      --only) only=$2; shift ;;
      --precision) precision=$2; shift ;;
      --out) out=$2; shift ;;
      --boneseg) BONESEG=$2; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  if [ -z "$BONESEG" ]; then
    for candidate in .gpu/boneseg target/release/boneseg; do
      [ -x "$candidate" ] && { BONESEG=$candidate; break; }
    done
  fi
  [ -n "$BONESEG" ] || { echo "no boneseg binary: run tools/gpu_check.sh prepare, or pass --boneseg" >&2; exit 2; }
  setup_gpu_machine
  # Kept between calls on the same machine, so that --only infer finds the run --only train made.
  WORK=/tmp/gpu_check
  mkdir -p "$WORK" "${out:=$WORK}"
  # The runs' ledger records stay with the scratch work, out of the repository.
  export BONESEG_LEDGER=$WORK/ledger.jsonl
  exec > >(tee -a "$out/gpu_check.log") 2>&1

  # The issue's sizes, or toy ones that take every step on a software device.
  BIG=1024 MID=512 BATCH=4 ITERS=5 PARITY_SIZE=512 PEOPLE=6 TESTS=150 FULL=2048 WINDOW=1024
  if [ "$tiny" = 1 ]; then
    BIG=64 MID=64 BATCH=2 ITERS=1 PARITY_SIZE=64 PEOPLE=3 TESTS=2 FULL=256 WINDOW=128
  fi
  PRECISION=${precision:-$([ "$tiny" = 1 ] && echo f32 || echo bf16)}
  case "$PRECISION" in
    f32) PRECISION_KEY="" PRECISION_FLAG="" AMP=none ;;
    bf16 | f16) PRECISION_KEY="precision = \"$PRECISION\"" PRECISION_FLAG="--precision $PRECISION" AMP=$PRECISION ;;
    *) echo "--precision is bf16, f16 or f32, not $PRECISION" >&2; exit 2 ;;
  esac

  echo "== gpu_check $(date -u +%FT%TZ) tiny=$tiny sections=$only binary=$BONESEG ($("$BONESEG" --version))"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|apiVersion" || echo "no vulkaninfo"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
  local section
  for section in parity train infer; do
    if [[ ,$only, == *,$section,* ]]; then
      local started
      started=$(stamp)
      "section_$section"
      echo "-- $section: $(seconds_since "$started") s"
    fi
  done
  echo "== done; log in $out/gpu_check.log"
}

PY=${PYTHON:-python3}
case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
