"""The team's way of ensembling, to benchmark `boneseg ensemble` against: read every submission
with pandas, decode every RLE of every model to a dense 2048² uint8 mask, vote with numpy,
re-encode. Also makes the benchmark's inputs.

Usage:
  python tools/bench/ensemble_pandas.py make TRUTH.csv OUT_DIR MODELS SIZE  # MODELS shifted copies of a submission
  python tools/bench/ensemble_pandas.py vote OUT.csv SIZE A.csv B.csv ...  # majority vote, the team's way
Run under /usr/bin/time -v for the peak memory.
"""

import sys

import numpy as np
import pandas as pd


def encode_mask_to_rle(mask):
    pixels = mask.flatten()
    pixels = np.concatenate([[0], pixels, [0]])
    runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
    runs[1::2] -= runs[::2]
    return " ".join(str(x) for x in runs)


def decode_rle_to_mask(rle, height, width):
    img = np.zeros(height * width, dtype=np.uint8)
    if isinstance(rle, str) and rle:
        s = rle.split()
        starts, lengths = [np.asarray(x, dtype=int) for x in (s[0:][::2], s[1:][::2])]
        starts -= 1
        for lo, hi in zip(starts, starts + lengths):
            img[lo:hi] = 1
    return img.reshape(height, width)


def make(truth, out_dir, models, size):
    """Model k: the truth with every run shifted by 3k pixels and trimmed by k at its end."""
    df = pd.read_csv(truth, keep_default_na=False)
    for k in range(models):
        def shift(rle):
            if not rle:
                return rle
            v = np.asarray(rle.split(), dtype=np.int64)
            starts, lengths = v[0::2] + 3 * k, np.maximum(v[1::2] - k, 1)
            out = []
            end = 0
            for s, l in zip(starts, lengths):
                s = max(s, end + 1)
                l = min(l, size * size + 1 - s)
                if l <= 0:
                    break
                out += [s, l]
                end = s + l
            return " ".join(map(str, out))
        df.assign(rle=df["rle"].map(shift)).to_csv(f"{out_dir}/model{k}.csv", index=False)


def vote(out, size, inputs):
    """Everything decoded at once, as the team's notebook did: all models, all images, all classes."""
    frames = [pd.read_csv(p, keep_default_na=False) for p in inputs]
    masks = np.stack([
        np.stack([decode_rle_to_mask(r, size, size) for r in df["rle"]]) for df in frames
    ])
    kept = (masks.sum(axis=0) > len(inputs) // 2).astype(np.uint8)
    result = frames[0][["image_name", "class"]].copy()
    result["rle"] = [encode_mask_to_rle(m) for m in kept]
    result.to_csv(out, index=False)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        vote(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
