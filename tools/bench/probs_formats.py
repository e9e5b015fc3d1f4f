"""The probability store in the team's format and as CSV, to compare with boneseg's store.

The team kept probabilities above 0.3 in a gzip Parquet instead of CSV, as text rounded to two
decimals. Here, from a boneseg store (the same pixels, so the comparison is only the format):
one row per image and class with `image_name`, `class`, `rle` (the competition RLE of the
support) and `probs` (the support's probabilities, `"%.2f"`, space-separated).

Usage:
  python tools/bench/probs_formats.py convert STORE_DIR OUT_DIR   # OUT_DIR/team.parquet (gzip), team.csv
  python tools/bench/probs_formats.py read team.parquet|team.csv|STORE_DIR
    (decodes every row to its dense float32 probability plane, as an ensemble would, and prints
    the seconds it took)
"""

import os
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


def runs_to_rle(runs):
    return " ".join(f"{s + 1} {l}" for s, l in runs)


def convert(store, out_dir):
    table = pq.read_table(os.path.join(store, "probs.parquet")).to_pandas()
    rle, probs = [], []
    for runs, values in zip(table["runs"], table["values"]):
        runs = np.frombuffer(runs, dtype="<u4").reshape(-1, 2)
        rle.append(runs_to_rle(runs))
        p = np.frombuffer(values, dtype=np.uint8) / 255.0
        probs.append(" ".join(f"{x:.2f}" for x in p))
    df = pd.DataFrame({"image_name": table["image_name"], "class": table["class"], "height": table["height"],
                       "width": table["width"], "rle": rle, "probs": probs})
    os.makedirs(out_dir, exist_ok=True)
    df.to_parquet(os.path.join(out_dir, "team.parquet"), compression="gzip", index=False)
    df.to_csv(os.path.join(out_dir, "team.csv"), index=False)


def dense_from_text(rle, probs, h, w):
    out = np.zeros(h * w, dtype=np.float32)
    if isinstance(rle, str) and rle:
        v = np.asarray(rle.split(), dtype=np.int64)
        values = np.asarray(probs.split(), dtype=np.float32)
        at = 0
        for s, l in zip(v[0::2] - 1, v[1::2]):
            out[s:s + l] = values[at:at + l]
            at += l
    return out


def dense_from_store(runs, values, h, w):
    out = np.zeros(h * w, dtype=np.float32)
    runs = np.frombuffer(runs, dtype="<u4").reshape(-1, 2)
    values = np.frombuffer(values, dtype=np.uint8).astype(np.float32) / 255.0
    at = 0
    for s, l in runs:
        out[s:s + l] = values[at:at + l]
        at += l
    return out


def read(path):
    start = time.perf_counter()
    total = 0.0
    if os.path.isdir(path):
        df = pq.read_table(os.path.join(path, "probs.parquet")).to_pandas()
        for row in df.itertuples(index=False):
            total += float(dense_from_store(row.runs, row.values, row.height, row.width).sum())
    else:
        df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, keep_default_na=False)
        for row in df.itertuples(index=False):
            total += float(dense_from_text(row.rle, row.probs, row.height, row.width).sum())
    print(f"{path}: {len(df)} rows decoded in {time.perf_counter() - start:.2f} s (sum {total:.1f})")


if __name__ == "__main__":
    if sys.argv[1] == "convert":
        convert(sys.argv[2], sys.argv[3])
    else:
        read(sys.argv[2])
