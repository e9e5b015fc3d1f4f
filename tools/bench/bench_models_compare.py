"""Runs `boneseg bench model` and `tools/bench/bench_models.py` one after another, one process per
configuration (so peak memory is per configuration), and prints a Markdown table.

    /work/venv/torch/bin/python tools/bench/bench_models_compare.py target/release/boneseg
    /work/venv/py/bin/python tools/bench/bench_models_compare.py target/release/boneseg \
        --models unetplusplus:tu-hrnet_w18:512 upernet:tu-convnext_tiny:512 --batch 1 --runs 3

With `--runs N` each configuration is measured N times (boneseg then PyTorch, back to back) and
the table has one row per run and one of medians. `--mode forward` or `--mode train` times one of
the two (PyTorch cannot train UPerNet at batch 1: its pooling pyramid's 1x1 BatchNorm needs two
values per channel); the other columns read nan.
"""

import argparse
import pathlib
import re
import statistics
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


def row(label, size, ours, theirs):
    return (f"| {label} | {size} | {ours['forward']:.0f} | {theirs['forward']:.0f} | "
            f"{ours['forward'] / theirs['forward']:.2f}x | {ours['train']:.0f} | {theirs['train']:.0f} | "
            f"{ours['train'] / theirs['train']:.2f}x | {ours['memory']:.0f} | {theirs['memory']:.0f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--models", nargs="*", help="arch:encoder:size, e.g. upernet:tu-convnext_tiny:512")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--mode", default="both", help="forward, train or both")
    args = parser.parse_args()
    configs = [tuple(m.split(":")) for m in args.models] if args.models else CONFIGS
    print("| model | size | boneseg fwd ms | torch fwd ms | ratio | boneseg fwd+bwd ms | torch fwd+bwd ms | ratio | boneseg peak MiB | torch peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for arch, encoder, size in configs:
        common = ["--arch", arch, "--encoder", encoder, "--size", str(size), "--batch", str(args.batch),
                  "--iters", str(args.iters), "--mode", args.mode]
        runs = []
        for run in range(args.runs):
            ours = measure([args.binary, "bench", "model", *common])
            theirs = measure([sys.executable, str(TOOLS / "bench_models.py"), *common])
            runs.append((ours, theirs))
            label = f"{arch} {encoder}" + (f", run {run + 1}" if args.runs > 1 else "")
            print(row(label, size, ours, theirs), flush=True)
        if args.runs > 1:
            median = [{key: statistics.median(r[side][key] for r in runs) for key in runs[0][side]} for side in (0, 1)]
            print(row(f"**{arch} {encoder}, median**", size, *median), flush=True)


if __name__ == "__main__":
    main()
