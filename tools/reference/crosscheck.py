"""Cross-checks boneseg against the competition's Python reference on data the fixtures never saw:
a fresh phantom dataset (or any dataset in the competition layout).

    python tools/reference/crosscheck.py --boneseg target/release/boneseg [--data DIR] [--seed 7]

1. Ground truth: every label file is filled with cv2.fillPoly and run-length encoded with the numpy
   reference; boneseg's `submission from-labels` must produce the same CSV, byte for byte, as
   pandas' `to_csv(index=False)` of those rows (with the fill rule of the installed OpenCV).
2. Metric: a perturbed prediction (masks shifted, eroded, dropped, class-swapped) is scored with
   the baseline's dice (numpy, float64); `boneseg score` must agree on the mean and on every
   per-image value.
3. Meta table: pandas reads the phantom's meta_data.xlsx with the competition's headers.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from contract_reference import CLASSES, dice, encode_mask_to_rle, fill_poly  # noqa: E402


def fill_rule_for_installed_opencv():
    major, minor = (int(x) for x in cv2.__version__.split(".")[:2])
    if (major, minor) <= (4, 7):
        return "opencv-4.7"
    if (major, minor) <= (4, 10):
        return "opencv-4.8"
    return "opencv-4.11"


def run(*args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def pairs(data):
    """(relative path, png path, json path) of the training images, sorted by relative path."""
    root = os.path.join(data, "train", "DCM")
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith(".png"):
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                label = os.path.join(data, "train", "outputs_json", os.path.splitext(rel)[0] + ".json")
                out.append((rel, os.path.join(root, rel), label))
    return sorted(out)


def truth_masks(png, label):
    height, width = cv2.imread(png, cv2.IMREAD_UNCHANGED).shape[:2]
    masks = np.zeros((len(CLASSES), height, width), np.uint8)
    for annotation in json.load(open(label))["annotations"]:
        masks[CLASSES.index(annotation["label"])] |= fill_poly(height, width, annotation["points"])
    return masks


def perturb(masks, rng):
    """A plausible imperfect prediction: each class shifted, eroded, dilated, dropped or swapped."""
    out = masks.copy()
    for c in range(len(CLASSES)):
        roll = rng.uniform()
        if roll < 0.4:
            out[c] = np.roll(masks[c], (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
        elif roll < 0.6:
            out[c] = cv2.erode(masks[c], np.ones((3, 3), np.uint8))
        elif roll < 0.8:
            out[c] = cv2.dilate(masks[c], np.ones((5, 5), np.uint8))
        elif roll < 0.9:
            out[c] = 0
        else:
            out[c] = masks[(c + 1) % len(CLASSES)]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boneseg", default="target/release/boneseg")
    parser.add_argument("--data", help="an existing dataset; default: a new phantom")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="boneseg-crosscheck-")
    data = args.data or os.path.join(work, "data")
    if not args.data:
        run(args.boneseg, "synth", "--out", data, "--people", str(args.people), "--test-people", "1",
            "--size", str(args.size), "--seed", str(args.seed), "--outlier-rate", "0.5",
            "--rotated-rate", "0.3", "--bent-rate", "0.3")
    rule = fill_rule_for_installed_opencv()
    rng = np.random.default_rng(args.seed)

    # 1. Ground truth, byte for byte.
    ours = os.path.join(work, "from_labels.csv")
    run(args.boneseg, "submission", "from-labels", "--labels", os.path.join(data, "train", "outputs_json"),
        "--images", os.path.join(data, "train", "DCM"), "--out", ours, "--fill-rule", rule)
    rows, pred_rows, reference = [], [], {}
    polygons = pixels = 0
    for rel, png, label in pairs(data):
        masks = truth_masks(png, label)
        name = os.path.basename(rel)
        polygons += len(json.load(open(label))["annotations"])
        pixels += int(masks.sum())
        predicted = perturb(masks, rng)
        reference[name] = [float(dice(predicted[c], masks[c])) for c in range(len(CLASSES))]
        for c, cls in enumerate(CLASSES):
            rows.append((name, cls, encode_mask_to_rle(masks[c])))
            pred_rows.append((name, cls, encode_mask_to_rle(predicted[c])))
    expected = os.path.join(work, "reference.csv")
    pd.DataFrame(rows, columns=["image_name", "class", "rle"]).to_csv(expected, index=False)
    same = open(ours, "rb").read() == open(expected, "rb").read()
    print(f"ground truth: {len(rows) // 29} images, {polygons} polygons, {pixels} foreground pixels, "
          f"OpenCV {cv2.__version__} ({rule}): boneseg's CSV {'IDENTICAL to' if same else 'DIFFERS from'} "
          f"the reference")

    # 2. The metric on an imperfect prediction.
    pred = os.path.join(work, "pred.csv")
    pd.DataFrame(pred_rows, columns=["image_name", "class", "rle"]).to_csv(pred, index=False)
    per_image = os.path.join(work, "per_image.csv")
    out = run(args.boneseg, "score", "--pred", pred, "--labels", os.path.join(data, "train", "outputs_json"),
              "--images", os.path.join(data, "train", "DCM"), "--per-image", per_image, "--fill-rule", rule)
    boneseg_mean = float(out.strip().splitlines()[-1].split("=")[1])
    reference_mean = float(np.mean(np.mean(np.array(list(reference.values())), axis=0)))
    table = pd.read_csv(per_image).set_index("image_name")
    worst = max(abs(table.loc[name, cls] - reference[name][c]) for name in reference for c, cls in enumerate(CLASSES))
    print(f"metric: boneseg mean_dice={boneseg_mean!r}, numpy float64 {reference_mean!r}, "
          f"|difference| {abs(boneseg_mean - reference_mean):.2e}; largest per-image difference {worst:.2e}")

    # 3. The meta table as pandas reads it.
    meta = pd.read_excel(os.path.join(data, "meta_data.xlsx"))
    headers_ok = list(meta.columns[:5]) == ["ID", "나이", "성별", "체중(몸무게)", "키(신장)"]
    print(f"meta: pandas reads {len(meta)} people, headers {'as in the competition' if headers_ok else list(meta.columns)}, "
          f"gender values {sorted(set(meta['성별']))}")

    ok = same and abs(boneseg_mean - reference_mean) < 1e-12 and worst < 1e-12 and headers_ok
    print("OK" if ok else "MISMATCH", f"(work files in {work})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
