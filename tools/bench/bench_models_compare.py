"""Runs `boneseg bench model` and `tools/bench/bench_models.py` one after another, one process per
configuration (so peak memory is per configuration), and prints a Markdown table.

    /work/venv/torch/bin/python tools/bench/bench_models_compare.py target/release/boneseg
"""

import pathlib
import re
import subprocess
import sys

CONFIGS = [
    ("unet", "resnet34", 256),
    ("unet", "resnet34", 512),
    ("unetplusplus", "efficientnet-b0", 256),
    ("unetplusplus", "efficientnet-b0", 512),
]
TOOLS = pathlib.Path(__file__).parent


def measure(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    numbers = {}
    for key, pattern in [("forward", r"forward ([\d.]+) ms"), ("train", r"forward\+backward ([\d.]+) ms"),
                         ("memory", r"peak memory ([\d.]+) MiB")]:
        found = re.search(pattern, out)
        numbers[key] = float(found.group(1)) if found else float("nan")
    return numbers


def main(binary):
    print("| model | size | boneseg fwd ms | torch fwd ms | ratio | boneseg fwd+bwd ms | torch fwd+bwd ms | ratio | boneseg peak MiB | torch peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for arch, encoder, size in CONFIGS:
        common = ["--arch", arch, "--encoder", encoder, "--size", str(size), "--batch", "2", "--iters", "3"]
        ours = measure([binary, "bench", "model", *common])
        theirs = measure([sys.executable, str(TOOLS / "bench_models.py"), *common])
        print(f"| {arch} {encoder} | {size} | {ours['forward']:.0f} | {theirs['forward']:.0f} | "
              f"{ours['forward'] / theirs['forward']:.2f}x | {ours['train']:.0f} | {theirs['train']:.0f} | "
              f"{ours['train'] / theirs['train']:.2f}x | {ours['memory']:.0f} | {theirs['memory']:.0f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
