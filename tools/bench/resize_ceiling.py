#!/usr/bin/env python3
"""The best mean dice a model can score at 2048² when it predicts at a smaller input size.

Each label polygon is filled at 2048² (PIL), shrunk to SIZE² (bilinear: a perfect model's soft
output), grown back to 2048² (bilinear, threshold 0.5, as `boneseg predict` does) and compared with
the full-size mask. What is lost is only what the input size cannot carry, so a recipe that trains
at SIZE cannot score above this. Usage:

    python3 tools/bench/resize_ceiling.py demo/data/test_labels 96,128,192,256

Needs numpy and pillow.
"""
import glob
import json
import sys

import numpy as np
from PIL import Image, ImageDraw

FULL = 2048


def dice(a, b):
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * (a & b).sum() / total


def main(labels_dir, sizes):
    scores = {size: [] for size in sizes}
    for path in sorted(glob.glob(f"{labels_dir}/**/*.json", recursive=True)):
        for annotation in json.load(open(path))["annotations"]:
            mask = Image.new("L", (FULL, FULL), 0)
            ImageDraw.Draw(mask).polygon([tuple(p) for p in annotation["points"]], fill=255)
            truth = np.asarray(mask) > 127
            for size in sizes:
                small = mask.resize((size, size), Image.BILINEAR)
                back = np.asarray(small.resize((FULL, FULL), Image.BILINEAR)) > 127
                scores[size].append(dice(truth, back))
    for size in sizes:
        print(f"{size}: ceiling mean dice {np.mean(scores[size]):.4f} (worst bone {np.min(scores[size]):.3f})")


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2].split(",")])
