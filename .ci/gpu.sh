#!/usr/bin/env bash
# CI, the GPU path (called by .ci/run): the vulkan build tested on a software Vulkan device
# (Mesa's lavapipe, Vulkan 1.3 on the CPU), and the features CI cannot run type-checked.
# Needs what .ci/run needs, plus Debian's Vulkan loader and lavapipe (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
elapsed() { echo "gpu.sh: $1 after $((SECONDS - started)) s"; }

if ! dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq mesa-vulkan-drivers libvulkan1
fi
# No desktop session here: Mesa's device-select layer would print "XDG_RUNTIME_DIR is invalid or
# not set" for every Vulkan instance of the test processes (the boneseg binary does this itself).
export NODEVICE_SELECT=1
if command -v vulkaninfo >/dev/null 2>&1; then
  vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverInfo|apiVersion" || true
fi

# One build, in the test profile, of the three GPU suites and of the boneseg binary the CLI
# suite runs (cargo builds it with the same features and names it in CARGO_BIN_EXE_boneseg):
# the models' forward against flex, one training step against flex, and the binary's train,
# resume, mixed precision and infer on the device.
cargo test --locked -p boneseg-models -p boneseg-train -p boneseg --features vulkan --test gpu
elapsed "vulkan suites passed"

# cuda: its build downloads LLVM (cubecl-llvm through tracel-llvm-bundler), which CI cannot
# reach; both build scripts return early when DOCS_RS is set, as on docs.rs, and `cargo check`
# links nothing, so this type-checks every line of the cuda backend and of boneseg's cuda code.
# The wgpu feature's own lines (the WGSL compiler instead of SPIR-V) are checked in the same build.
DOCS_RS=1 cargo check --locked -p boneseg --features cuda,wgpu
elapsed "cuda and wgpu type-checked"
