"""Times the competition's Python reference code on the inputs of boneseg's criterion benches, so
the two can be compared (tools/bench/bench_compare.py does both and prints the table).

    python tools/bench/bench_peer.py                        # generate the inputs here
    python tools/bench/bench_peer.py --inputs target/bench-inputs --json peer.json

Inputs: the 29-bone hand of crates/contract/benches/contract.rs, ported below line by line (same
formulas, same rounding, so the same integer polygons), and a 2048² 3-channel radiograph PNG.
`--inputs DIR` takes `hand.json` and `hand.png` from DIR instead, as the benches write them with
`BONESEG_BENCH_EXPORT=DIR`: then both sides decode the very same PNG file (without it the PNG is
drawn and written here with OpenCV, so its size and compression differ). The pixel counts of the
masks are printed; the Rust bench prints its own at start-up, and they should agree.

Each operation runs once to warm up, then repeatedly (5 to 50 times, about 3 s), and the median
of time.perf_counter() is reported.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import pandas as pd

# The reference functions are in the sibling folder tools/reference/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reference"))
from contract_reference import CLASSES, decode_rle_to_mask, encode_mask_to_rle  # noqa: E402

SIZE = 2048
ONE_CLASS = "finger-7"  # the "one mask" of the rle/*_one_* benches


# --- The hand of crates/contract/benches/contract.rs (keep the two in step) ----------------------


def outline(cls, cx, cy, angle, area, aspect, long):
    exponent = 2.0 / 3.0 if long else 2.0 / 2.2

    def signed_pow(v):
        return math.copysign(abs(v) ** exponent, v)

    n = int(min(max((aspect + 1.0) * math.sqrt(area) / 4.0, 60.0), 300.0))
    unit = []
    for k in range(n):
        phi = math.tau * k / n
        u, v = signed_pow(math.cos(phi)) * aspect, signed_pow(math.sin(phi))
        if long:
            unit.append((u, v * (0.65 + 0.35 * (u / aspect) * (u / aspect))))
        else:
            wobble = 1.0 + 0.06 * math.cos(3.0 * phi + cls)
            unit.append((u * wobble, v * wobble))
    shoelace = 0.0  # a plain loop: Python's sum() of floats is compensated, Rust's is not
    for k in range(n):
        shoelace += unit[k][0] * unit[(k + 1) % n][1] - unit[(k + 1) % n][0] * unit[k][1]
    scale = math.sqrt(area / (abs(shoelace) / 2.0))
    sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    rnd = lambda v: int(math.floor(v + 0.5))  # noqa: E731  (Python's round() rounds half to even)
    return [[rnd(cx + scale * (u * sin + v * cos)), rnd(cy + scale * (v * sin - u * cos))] for u, v in unit]


def hand():
    annotations = []

    def bone(label, cx, cy, angle, area, aspect, long):
        cls = CLASSES.index(label)
        points = outline(cls, cx, cy, angle, area, aspect, long)
        annotations.append({"id": f"bone-{cls}", "type": "poly_seg", "attributes": {}, "points": points, "label": label})

    # base, angle, finger number of the metacarpal, (area, length / width) from metacarpal to tip
    rays = [
        (700.0, 1350.0, -40.0, 3, [(24e3, 4.0), (14e3, 3.0), (8e3, 2.0)]),
        (870.0, 1250.0, -12.0, 7, [(30e3, 5.5), (18e3, 4.0), (10e3, 3.0), (5e3, 2.0)]),
        (1000.0, 1250.0, -2.0, 11, [(33e3, 5.5), (21e3, 4.0), (12e3, 3.0), (5.5e3, 2.0)]),
        (1120.0, 1260.0, 8.0, 15, [(28e3, 5.5), (19e3, 4.0), (11e3, 3.0), (5e3, 2.0)]),
        (1230.0, 1290.0, 20.0, 19, [(22e3, 5.0), (13e3, 4.0), (8e3, 3.0), (4e3, 2.0)]),
    ]
    for x, y, angle, metacarpal, bones in rays:
        sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
        along = 0.0
        for i, (area, aspect) in enumerate(bones):
            length = math.sqrt(area * aspect / 0.8)
            mid = along + length / 2.0
            bone(f"finger-{metacarpal - i}", x + mid * sin, y - mid * cos, angle, area, aspect, True)
            along += length + 12.0
    carpals = [
        ("Trapezium", 820.0, 1380.0, 9e3), ("Trapezoid", 900.0, 1330.0, 6e3),
        ("Capitate", 1010.0, 1370.0, 14e3), ("Hamate", 1130.0, 1380.0, 12e3),
        ("Scaphoid", 880.0, 1460.0, 11e3), ("Lunate", 1000.0, 1480.0, 9e3),
        ("Triquetrum", 1110.0, 1470.0, 7e3), ("Pisiform", 1190.0, 1440.0, 4e3),
    ]
    for label, x, y, area in carpals:
        bone(label, x, y, 30.0, area, 1.3, False)
    bone("Radius", 920.0, 1740.0, 5.0, 76e3, 3.0, True)
    bone("Ulna", 1190.0, 1790.0, -3.0, 45e3, 3.5, True)
    return {"annotations": annotations, "filename": "image1661130828152.png"}


def radiograph():
    """Close to crates/data/benches/data.rs's image (not byte-identical: use --inputs for that)."""
    bones = [(920.0, 1740.0, 290.0, 90.0, 5.0, 90.0), (1190.0, 1790.0, 245.0, 65.0, -3.0, 80.0)]
    for x, y, angle in [(700.0, 1350.0, -40.0), (870.0, 1250.0, -12.0), (1000.0, 1250.0, -2.0),
                        (1120.0, 1260.0, 8.0), (1230.0, 1290.0, 20.0)]:
        sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
        for along, half, width in [(230.0, 220.0, 40.0), (620.0, 160.0, 34.0), (900.0, 105.0, 30.0), (1080.0, 60.0, 27.0)]:
            bones.append((x + along * sin, y - along * cos, half, width, angle, 75.0))
    carpals = [(820.0, 1380.0), (900.0, 1330.0), (1010.0, 1370.0), (1130.0, 1380.0), (880.0, 1460.0), (1000.0, 1480.0), (1110.0, 1470.0)]
    for i, (x, y) in enumerate(carpals):
        bones.append((x, y, 60.0 + 4.0 * i, 48.0, 30.0, 70.0))
    fy, fx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    value = 20.0 + 25.0 * fx / 2048.0 + 15.0 * fy / 2048.0
    value += 55.0 * np.exp(-((fx - 1000.0) / 480.0) ** 2 - ((fy - 1150.0) / 760.0) ** 2)
    for cx, cy, half, width, angle, brightness in bones:
        sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
        dx, dy = fx - cx, fy - cy
        along, across = (dx * sin - dy * cos) / half, (dx * cos + dy * sin) / width
        t = along * along + across * across
        value += np.where(t < 1.0, brightness * (0.7 + 0.3 * np.abs(across)) * (1.0 - t * t), 0.0)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.uint32)
    hash_ = ((x * np.uint32(73_856_093)) ^ (y * np.uint32(19_349_663))) * np.uint32(2_654_435_761)
    value += (hash_ >> 24).astype(np.float64) / 255.0 * 12.0 - 6.0
    return np.clip(value, 0.0, 255.0).astype(np.uint8)


# --- Timing ---------------------------------------------------------------------------------------


def median_ms(fn, budget_s=3.0):
    start = time.perf_counter()
    fn()  # warm-up
    first = time.perf_counter() - start
    repeats = int(min(max(budget_s / max(first, 1e-9), 5), 50))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, repeats


def baseline_label(text):
    """The baseline dataset's label: json + one cv2.fillPoly per class into an (H, W, 29) array."""
    annotations = json.loads(text)["annotations"]
    label = np.zeros((SIZE, SIZE, len(CLASSES)), dtype=np.uint8)
    for ann in annotations:
        class_ind = CLASSES.index(ann["label"])
        points = np.array(ann["points"])
        class_label = np.zeros((SIZE, SIZE), dtype=np.uint8)
        cv2.fillPoly(class_label, [points], 1)
        label[..., class_ind] = class_label
    return label


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", help="folder with hand.json and hand.png exported by the Rust benches")
    parser.add_argument("--json", help="also write the results here, as {operation: median ms}")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of repeats per operation (default 3)")
    args = parser.parse_args()

    generated = json.dumps(hand())
    text, source = generated, "generated here"
    if args.inputs and os.path.exists(os.path.join(args.inputs, "hand.json")):
        with open(os.path.join(args.inputs, "hand.json")) as f:
            text = f.read()
        same = json.loads(text) == json.loads(generated)
        source = f"{args.inputs}/hand.json ({'identical to' if same else 'DIFFERENT from'} this script's hand)"
    polygons = [(CLASSES.index(a["label"]), np.array(a["points"], dtype=np.int32)) for a in json.loads(text)["annotations"]]

    masks = [np.zeros((SIZE, SIZE), dtype=np.uint8) for _ in CLASSES]
    for cls, points in polygons:
        cv2.fillPoly(masks[cls], [points], 1)
    one = masks[CLASSES.index(ONE_CLASS)]
    rles = [encode_mask_to_rle(m) for m in masks]
    one_rle = rles[CLASSES.index(ONE_CLASS)]
    counts = [int(m.sum()) for m in masks]
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, opencv {cv2.__version__}, pandas {pd.__version__}")
    print(f"annotation: {source}, {len(polygons)} polygons of {min(len(p) for _, p in polygons)}.."
          f"{max(len(p) for _, p in polygons)} points")
    print(f"hand: one mask {int(one.sum())} px ({len(one_rle.split()) // 2} runs); 29 masks "
          f"{min(counts)}..{max(counts)} px, {sum(counts)} px in all")

    tmp = tempfile.TemporaryDirectory(prefix="bench_peer_")
    workdir = tmp.name
    png = os.path.join(args.inputs or "", "hand.png")
    if not (args.inputs and os.path.exists(png)):
        png = os.path.join(workdir, "hand.png")
        cv2.imwrite(png, cv2.cvtColor(radiograph(), cv2.COLOR_GRAY2BGR))
    image = cv2.imread(png)
    print(f"image: {png}, {image.shape[1]}x{image.shape[0]}x{image.shape[2]}, {os.path.getsize(png)} bytes")

    names = [f"image{1661130828152 + 7919 * i}.png" for i in range(300)]
    csv_path = os.path.join(workdir, "submission.csv")
    out_png = os.path.join(workdir, "out.png")

    def to_csv():
        # As the baseline's inference writes it, from RLE strings already encoded.
        df = pd.DataFrame({
            "image_name": [n for n in names for _ in CLASSES],
            "class": CLASSES * len(names),
            "rle": rles * len(names),
        })
        df.to_csv(csv_path, index=False)

    operations = {
        "rle/encode_one_2048": lambda: encode_mask_to_rle(one),
        "rle/encode_image_29x2048": lambda: [encode_mask_to_rle(m) for m in masks],
        "rle/decode_one_2048": lambda: decode_rle_to_mask(one_rle, SIZE, SIZE),
        "rle/decode_image_29x2048": lambda: [decode_rle_to_mask(r, SIZE, SIZE) for r in rles],
        "raster/annotation_file_2048": lambda: baseline_label(text),
        "raster/fill_only_2048": lambda: [
            cv2.fillPoly(np.zeros((SIZE, SIZE), dtype=np.uint8), [points], 1) for _, points in polygons
        ],
        "submission/write_rows_300_images": to_csv,
        "png/decode_2048": lambda: cv2.imread(png),
        "png/encode_2048": lambda: cv2.imwrite(out_png, image),
    }
    results = {}
    print(f"\n| operation | median ms | repeats |\n|---|---:|---:|")
    for name, fn in operations.items():
        ms, repeats = median_ms(fn, args.budget)
        results[name] = ms
        print(f"| {name} | {ms:.3f} | {repeats} |", flush=True)
    # Inference encodes every mask before writing: 300 images = 300 x (29 encodes), then to_csv.
    results["submission/write_300_images"] = 300 * results["rle/encode_image_29x2048"] + results[
        "submission/write_rows_300_images"]
    print(f"| submission/write_300_images (300 x encode_image + to_csv, derived) | "
          f"{results['submission/write_300_images']:.1f} | - |")
    with open(csv_path) as f:
        print(f"\nsubmission.csv: {sum(1 for _ in f) - 1} rows, {os.path.getsize(csv_path)} bytes")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results_ms": results, "derived": ["submission/write_300_images"],
                       "versions": {"numpy": np.__version__, "opencv": cv2.__version__, "pandas": pd.__version__}}, f, indent=1)
    tmp.cleanup()


if __name__ == "__main__":
    main()
