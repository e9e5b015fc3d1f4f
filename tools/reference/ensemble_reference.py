"""Reference ensembles written from the team's description, to check `boneseg ensemble` bit for bit.

The team (mission.md): "pixel-wise majority vote over binary masks" and "probability mean (keep
probabilities > 0.3, average, threshold 0.5)". Here, as plain numpy on dense masks:

- hard vote: decode every model's RLE, count the models per pixel, keep `count > more_than`
  (default: a strict majority, `n // 2`);
- probability mean: every model's stored probabilities as a dense float64 plane (`q / 255`, 0
  outside the stored support), `acc += w * p` in model order, divided by the sum of the weights of
  the models taken (`skip_empty`: only the models that stored something for that image and class),
  kept where `mean > threshold`.

It also generates the inputs: three "models" of two small images, as probability stores in
boneseg's Parquet layout (written here with pyarrow, so the test also checks that boneseg reads
a store written by another library) and as submission CSVs thresholded at 0.5.

Usage: /work/venv/py/bin/python tools/reference/ensemble_reference.py crates/ensemble/tests/fixtures
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CLASSES = [f"finger-{i}" for i in range(1, 20)] + [
    "Trapezium", "Trapezoid", "Capitate", "Hamate", "Scaphoid", "Lunate", "Triquetrum",
    "Pisiform", "Radius", "Ulna",
]
IMAGES = ["a.png", "b.png"]
H, W = 12, 20
FLOOR = 0.3


def encode_mask_to_rle(mask):
    """The competition's encoder."""
    pixels = mask.flatten()
    pixels = np.concatenate([[0], pixels, [0]])
    runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
    runs[1::2] -= runs[::2]
    return " ".join(str(x) for x in runs)


def decode_rle_to_mask(rle, height, width):
    s = rle.split()
    starts, lengths = [np.asarray(x, dtype=int) for x in (s[0:][::2], s[1:][::2])]
    starts -= 1
    img = np.zeros(height * width, dtype=np.uint8)
    for lo, hi in zip(starts, starts + lengths):
        img[lo:hi] = 1
    return img.reshape(height, width)


def model_probs(rng, model):
    """Smooth blobs per class (shifted per model) so votes disagree near edges; some empty."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = {}
    for image in IMAGES:
        for c, name in enumerate(CLASSES):
            if rng.random() < 0.15:
                p = np.zeros((H, W))
            else:
                cy, cx = rng.uniform(2, H - 2), rng.uniform(3, W - 3)
                r = rng.uniform(1.5, 5.0)
                p = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
                p = np.clip(p + rng.normal(0, 0.05, p.shape), 0, 1)
            out[(image, c)] = p
    return out


def quantise(p):
    q = np.round(p.astype(np.float32) * np.float32(255)).astype(np.uint8)
    return np.where(p.astype(np.float32) >= np.float32(FLOOR), q, 0), p.astype(np.float32) >= np.float32(FLOOR)


def write_store(path, probs):
    os.makedirs(path, exist_ok=True)
    rows = {"image_name": [], "class": [], "height": [], "width": [], "runs": [], "values": []}
    for image in IMAGES:
        for c, name in enumerate(CLASSES):
            q, support = quantise(probs[(image, c)])
            flat_support = support.flatten()
            padded = np.concatenate([[0], flat_support.astype(np.int8), [0]])
            edges = np.where(padded[1:] != padded[:-1])[0]
            runs = np.stack([edges[::2], edges[1::2] - edges[::2]], axis=1).astype("<u4")
            rows["image_name"].append(image)
            rows["class"].append(name)
            rows["height"].append(H)
            rows["width"].append(W)
            rows["runs"].append(runs.tobytes())
            rows["values"].append(q.flatten()[flat_support].tobytes())
    schema = pa.schema([
        ("image_name", pa.string()), ("class", pa.string()), ("height", pa.uint32()),
        ("width", pa.uint32()), ("runs", pa.binary()), ("values", pa.binary()),
    ])
    table = pa.table(rows, schema=schema).replace_schema_metadata({"boneseg.floor": str(FLOOR)})
    pq.write_table(table, os.path.join(path, "probs.parquet"), compression="zstd")


def read_store(path):
    """Dense float64 probabilities per (image, class index), as the team decoded their Parquet."""
    table = pq.read_table(os.path.join(path, "probs.parquet")).to_pydict()
    out = {}
    for image, name, h, w, runs, values in zip(*[table[k] for k in
                                                  ("image_name", "class", "height", "width", "runs", "values")]):
        q = np.zeros(h * w, dtype=np.uint8)
        runs = np.frombuffer(runs, dtype="<u4").reshape(-1, 2)
        values = np.frombuffer(values, dtype=np.uint8)
        at = 0
        for start, length in runs:
            q[start:start + length] = values[at:at + length]
            at += length
        out[(image, CLASSES.index(name))] = (q.astype(np.float64) / 255.0, len(runs) > 0)
    return out


def write_submission(path, masks):
    with open(path, "w") as f:
        f.write("image_name,class,rle\n")
        for image in IMAGES:
            for c, name in enumerate(CLASSES):
                f.write(f"{image},{name},{encode_mask_to_rle(masks[(image, c)])}\n")


def read_submission(path):
    import csv
    out = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            out[(row["image_name"], CLASSES.index(row["class"]))] = decode_rle_to_mask(row["rle"], H, W)
    return out


def hard_vote(submissions, more_than):
    out = {}
    for key in submissions[0]:
        count = sum(s[key].astype(np.int32) for s in submissions)
        out[key] = (count > more_than).astype(np.uint8)
    return out


def probability_mean(stores, weights, skip_empty, thresholds):
    out = {}
    for key in stores[0]:
        acc = np.zeros(H * W, dtype=np.float64)
        denominator = 0.0
        for store, w in zip(stores, weights):
            p, nonempty = store[key]
            acc += w * p
            if nonempty or not skip_empty:
                denominator += w
        if denominator == 0.0:
            out[key] = np.zeros((H, W), dtype=np.uint8)
        else:
            out[key] = ((acc / denominator) > thresholds[key[1]]).astype(np.uint8).reshape(H, W)
    return out


def main(out_dir):
    rng = np.random.default_rng(6)
    models = [model_probs(rng, m) for m in range(3)]
    for m, probs in enumerate(models):
        write_store(os.path.join(out_dir, f"store{m}"), probs)
        write_submission(os.path.join(out_dir, f"model{m}.csv"),
                         {k: (p > 0.5).astype(np.uint8) for k, p in probs.items()})
    submissions = [read_submission(os.path.join(out_dir, f"model{m}.csv")) for m in range(3)]
    write_submission(os.path.join(out_dir, "vote_majority.csv"), hard_vote(submissions, 1))
    write_submission(os.path.join(out_dir, "vote_any.csv"), hard_vote(submissions, 0))
    stores = [read_store(os.path.join(out_dir, f"store{m}")) for m in range(3)]
    half = [0.5] * len(CLASSES)
    write_submission(os.path.join(out_dir, "mean_skip_empty.csv"), probability_mean(stores, [1.0] * 3, True, half))
    write_submission(os.path.join(out_dir, "mean_all.csv"), probability_mean(stores, [1.0] * 3, False, half))
    per_class = [0.3 + 0.4 * c / (len(CLASSES) - 1) for c in range(len(CLASSES))]
    with open(os.path.join(out_dir, "per_class_thresholds.toml"), "w") as f:
        f.write("[class]\n")
        for name, t in zip(CLASSES, per_class):
            f.write(f'"{name}" = {t!r}\n')
    write_submission(os.path.join(out_dir, "weighted.csv"),
                     probability_mean(stores, [1.0, 2.0, 0.5], True, per_class))


if __name__ == "__main__":
    main(sys.argv[1])
