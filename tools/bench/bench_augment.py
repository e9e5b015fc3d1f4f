"""Times albumentations on boneseg-augment's heavy pipeline (crates/augment/benches/pipeline.rs):
horizontal flip, shift-scale-rotate, elastic, CLAHE, brightness-contrast, every step applied, on
a 1024² grey radiograph with its 29 masks (an HxWx29 uint8 mask), one thread.

    target/release/boneseg synth --out /tmp/bench1024 --people 1 --test-people 0 --size 1024
    /work/venv/alb/bin/python tools/bench/bench_augment.py --data /tmp/bench1024

Runs the pipeline 3 times to warm up, then `--repeats` times with fresh random parameters, and
prints the median seconds per image and images per second. OpenCV is held to one thread
(`cv2.setNumThreads(1)`), as the Rust side is with RAYON_NUM_THREADS=1.
"""

import argparse
import glob
import json
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

CLASSES = [f"finger-{i}" for i in range(1, 20)] + [
    "Trapezium", "Trapezoid", "Capitate", "Hamate", "Scaphoid", "Lunate", "Triquetrum", "Pisiform", "Radius", "Ulna",
]


def load(data):
    image_path = sorted(glob.glob(os.path.join(data, "train/DCM/*/*.png")))[0]
    label_path = image_path.replace("/DCM/", "/outputs_json/")[:-4] + ".json"
    image = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE)
    mask = np.zeros((*image.shape, len(CLASSES)), np.uint8)
    for annotation in json.load(open(label_path))["annotations"]:
        layer = np.ascontiguousarray(mask[..., CLASSES.index(annotation["label"])])
        cv2.fillPoly(layer, [np.array(annotation["points"], np.int32)], 1)
        mask[..., CLASSES.index(annotation["label"])] = layer
    return image, mask


def pipeline():
    return A.Compose([
        A.HorizontalFlip(p=1),
        A.ShiftScaleRotate(shift_limit=0.0625, scale_limit=0.1, rotate_limit=30, border_mode=cv2.BORDER_CONSTANT, p=1),
        A.ElasticTransform(alpha=30, sigma=6, p=1),
        A.CLAHE(clip_limit=2.0, p=1),
        A.RandomBrightnessContrast(p=1),
    ], seed=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="a dataset with 1024² training images")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    image, mask = load(args.data)
    transform = pipeline()
    for _ in range(3):
        transform(image=image, mask=mask)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = transform(image=image, mask=mask)
        times.append(time.perf_counter() - start)
    assert out["mask"].shape == mask.shape
    median = statistics.median(times)
    print(f"albumentations {A.__version__}, OpenCV {cv2.__version__}: image {image.shape}, mask {mask.shape}")
    print(f"heavy pipeline: median {median * 1000:.1f} ms/image, {1 / median:.2f} images/s on one thread")


if __name__ == "__main__":
    main()
