#!/usr/bin/env bash
# CI: fuzz boneseg's parsers of untrusted files for a bounded time (crates/fuzz): each of the six
# targets runs its committed corpus, then seeded mutations for FUZZ_SECONDS (default 20), so the
# whole step takes about two minutes after the build. Any panic, broken invariant, allocation
# beyond what the input justifies or hang fails the step; the inputs land in
# target/fuzz-findings/ (add them to crates/fuzz/corpus/<target>/ once fixed).
# The seed is fixed (FUZZ_SEED, default 1), so CI replays the same input sequence (as far as its
# time budget reaches) and a red step is reproducible; longer runs with other seeds are for
# developers: cargo run -p boneseg-fuzz -- --seconds 600 --seed 7
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
seed="${FUZZ_SEED:-1}"
echo "fuzzing each target for ${seconds} s, seed ${seed}"
cargo run --locked -p boneseg-fuzz -- --seconds "$seconds" --seed "$seed"
