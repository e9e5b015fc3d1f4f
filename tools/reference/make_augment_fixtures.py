"""Writes the albumentations/OpenCV parity fixtures of boneseg-augment.

    /work/venv/alb/bin/python tools/reference/make_augment_fixtures.py

Output: crates/augment/tests/fixtures/parity/ — `input.png` (grey, 100x76: CLAHE tiles do not
divide it, so its padding path is exercised), `input_mask.png` (8 classes packed one bit each
into a uint8 plane: nearest sampling of the packed plane is nearest sampling of every class),
one `<case>.png` (and `<case>_mask.png` for geometric cases) per case, and `cases.json`: for
each case the boneseg transform (its TOML parameters as JSON) and the kind of check.

Every random parameter is pinned by a range of one value (`limit=(17, 17)`), so albumentations'
own transform classes produce the expected outputs. Transforms whose randomness cannot be pinned
are checked through their deterministic core (`remap` with a fixed displacement field, the grid
of fixed steps) or statistically (noise).
"""

import json
import pathlib

import albumentations as A
import cv2
import numpy as np
from albumentations.augmentations.geometric import functional as fgeometric

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/augment/tests/fixtures/parity"
W, H = 100, 76


def make_input():
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    image = 60 + 90 * np.exp(-(((x - 45) / 30) ** 2 + ((y - 40) / 22) ** 2))
    image += 25 * np.sin(x / 4.0) * np.cos(y / 7.0)
    image[(x > 70) & (y > 10) & (y < 30)] += 60
    image += rng.normal(0, 6, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    image[5:9, 5:95] = 250
    image[60:70, 80:90] = 0

    mask = np.zeros((H, W), np.uint8)
    shapes = [
        np.array([[10, 10], [40, 14], [36, 50], [12, 44]]),
        np.array([[30, 20], [70, 25], [60, 60]]),
        np.array([[50, 40], [95, 42], [90, 74], [55, 70]]),
        np.array([[2, 60], [20, 50], [30, 75], [0, 75]]),
    ]
    for bit, points in enumerate(shapes):
        layer = np.zeros_like(mask)
        cv2.fillPoly(layer, [points.astype(np.int32)], 1)
        mask |= layer << bit
    for bit, (cx, cy, r) in enumerate([(80, 15, 9), (20, 30, 6), (50, 50, 12), (88, 60, 5)], start=4):
        layer = np.zeros_like(mask)
        cv2.circle(layer, (cx, cy), r, 1, -1)
        mask |= layer << bit
    return image, mask


def remap_fields():
    """The fixed displacement field of the `remap` case; boneseg computes the same formula."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    dx = 2.5 * np.sin(2 * np.pi * y / 23) * np.cos(2 * np.pi * x / 31)
    dy = 2.0 * np.cos(2 * np.pi * x / 17) + 0.7
    return (x + dx).astype(np.float32), (y + dy).astype(np.float32)


GRID_STEPS_X = [1.2, 0.8, 1.1, 0.9, 1.3, 0.7]
GRID_STEPS_Y = [0.85, 1.15, 1.0, 1.25, 0.75, 1.1]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    image, mask = make_input()
    cv2.imwrite(str(OUT / "input.png"), image)
    cv2.imwrite(str(OUT / "input_mask.png"), mask)

    # (case, albumentations transform, boneseg transform, check)
    cases = [
        ("hflip", A.HorizontalFlip(p=1), {"name": "horizontal_flip"}, "exact"),
        ("vflip", A.VerticalFlip(p=1), {"name": "vertical_flip"}, "exact"),
        ("rotate_constant", A.Rotate(limit=(17, 17), border_mode=cv2.BORDER_CONSTANT, p=1),
         {"name": "rotate", "limit": [17, 17], "border_mode": "constant"}, "geometric"),
        ("rotate_reflect101", A.Rotate(limit=(-33, -33), border_mode=cv2.BORDER_REFLECT_101, p=1),
         {"name": "rotate", "limit": [-33, -33], "border_mode": "reflect101"}, "geometric"),
        ("shift_scale_rotate",
         A.ShiftScaleRotate(shift_limit=(0.05, 0.05), scale_limit=(0.1, 0.1), rotate_limit=(-25, -25),
                            border_mode=cv2.BORDER_CONSTANT, p=1),
         {"name": "shift_scale_rotate", "shift_limit": [0.05, 0.05], "scale_limit": [0.1, 0.1],
          "rotate_limit": [-25, -25], "border_mode": "constant"}, "geometric"),
        ("shift_scale_rotate_replicate",
         A.ShiftScaleRotate(shift_limit=(-0.08, -0.08), scale_limit=(-0.2, -0.2), rotate_limit=(40, 40),
                            border_mode=cv2.BORDER_REPLICATE, p=1),
         {"name": "shift_scale_rotate", "shift_limit": [-0.08, -0.08], "scale_limit": [-0.2, -0.2],
          "rotate_limit": [40, 40], "border_mode": "replicate"}, "geometric"),
        ("resized_crop_up",
         A.RandomResizedCrop(size=(97, 131), scale=(1, 1), ratio=(W / H, W / H), p=1),
         {"name": "random_resized_crop", "size": [97, 131], "scale": [1, 1], "ratio": [W / H, W / H]},
         "geometric"),
        ("resized_crop_down",
         A.RandomResizedCrop(size=(41, 57), scale=(1, 1), ratio=(W / H, W / H), p=1),
         {"name": "random_resized_crop", "size": [41, 57], "scale": [1, 1], "ratio": [W / H, W / H]},
         "geometric"),
        ("grid_distortion",
         A.GridDistortion(num_steps=5, distort_limit=(0.25, 0.25), border_mode=cv2.BORDER_CONSTANT, p=1),
         {"name": "grid_distortion", "num_steps": 5, "distort_limit": [0.25, 0.25],
          "border_mode": "constant"}, "geometric"),
        ("brightness_contrast",
         A.RandomBrightnessContrast(brightness_limit=(0.1, 0.1), contrast_limit=(0.3, 0.3), p=1),
         {"name": "random_brightness_contrast", "brightness_limit": [0.1, 0.1], "contrast_limit": [0.3, 0.3]},
         "exact"),
        ("brightness_contrast_darker",
         A.RandomBrightnessContrast(brightness_limit=(-0.15, -0.15), contrast_limit=(-0.35, -0.35), p=1),
         {"name": "random_brightness_contrast", "brightness_limit": [-0.15, -0.15],
          "contrast_limit": [-0.35, -0.35]}, "exact"),
        ("gamma", A.RandomGamma(gamma_limit=(70, 70), p=1), {"name": "random_gamma", "gamma_limit": [70, 70]},
         "exact"),
        ("gamma_dark", A.RandomGamma(gamma_limit=(135, 135), p=1),
         {"name": "random_gamma", "gamma_limit": [135, 135]}, "exact"),
        ("clahe_4x3", A.CLAHE(clip_limit=(2.0, 2.0), tile_grid_size=(4, 3), p=1),
         {"name": "clahe", "clip_limit": [2.0, 2.0], "tile_grid_size": [4, 3]}, "exact"),
        ("clahe_8x8", A.CLAHE(clip_limit=(3.5, 3.5), tile_grid_size=(8, 8), p=1),
         {"name": "clahe", "clip_limit": [3.5, 3.5], "tile_grid_size": [8, 8]}, "exact"),
        ("clahe_5x4_divides", A.CLAHE(clip_limit=(1.5, 1.5), tile_grid_size=(5, 4), p=1),
         {"name": "clahe", "clip_limit": [1.5, 1.5], "tile_grid_size": [5, 4]}, "exact"),
        ("emboss", A.Emboss(alpha=(0.5, 0.5), strength=(0.6, 0.6), p=1),
         {"name": "emboss", "alpha": [0.5, 0.5], "strength": [0.6, 0.6]}, "pm1"),
        ("sharpen", A.Sharpen(alpha=(0.4, 0.4), lightness=(0.8, 0.8), p=1),
         {"name": "sharpen", "alpha": [0.4, 0.4], "lightness": [0.8, 0.8]}, "pm1"),
        ("gaussian_blur", A.GaussianBlur(blur_limit=(5, 5), sigma_limit=(1.3, 1.3), p=1),
         {"name": "gaussian_blur", "blur_limit": [5, 5], "sigma_limit": [1.3, 1.3]}, "pm1"),
        ("median_blur", A.MedianBlur(blur_limit=(5, 5), p=1), {"name": "median_blur", "blur_limit": [5, 5]},
         "exact"),
        ("multiplicative", A.MultiplicativeNoise(multiplier=(1.15, 1.15), p=1),
         {"name": "multiplicative_noise", "multiplier": [1.15, 1.15]}, "exact"),
        ("invert", A.InvertImg(p=1), {"name": "invert_img"}, "exact"),
        ("jpeg_q60", A.ImageCompression(quality_range=(60, 60), p=1),
         {"name": "image_compression", "quality_range": [60, 60]}, "jpeg"),
        ("jpeg_q90", A.ImageCompression(quality_range=(90, 90), p=1),
         {"name": "image_compression", "quality_range": [90, 90]}, "jpeg"),
        ("gauss_noise", A.GaussNoise(std_range=(0.1, 0.1), p=1),
         {"name": "gauss_noise", "std_range": [0.1, 0.1]}, "noise"),
    ]
    manifest = []
    for case, transform, spec, check in cases:
        out = A.Compose([transform], seed=1)(image=image, mask=mask)
        cv2.imwrite(str(OUT / f"{case}.png"), out["image"])
        entry = {"case": case, "transform": spec, "check": check}
        if check == "geometric" or case in ("hflip", "vflip"):
            cv2.imwrite(str(OUT / f"{case}_mask.png"), out["mask"])
            entry["mask"] = True
        manifest.append(entry)

    # Deterministic cores of the random distortions.
    map_x, map_y = remap_fields()
    cv2.imwrite(str(OUT / "remap.png"), fgeometric.remap(image, map_x, map_y, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT, 0))
    cv2.imwrite(str(OUT / "remap_mask.png"), fgeometric.remap(mask, map_x, map_y, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT, 0))
    manifest.append({"case": "remap", "core": "remap", "check": "geometric", "mask": True})
    steps = fgeometric.normalize_grid_distortion_steps((H, W), 5, list(GRID_STEPS_X), list(GRID_STEPS_Y))
    gx, gy = fgeometric.generate_grid((H, W), steps["steps_x"], steps["steps_y"], 5)
    cv2.imwrite(str(OUT / "grid_steps.png"), fgeometric.remap(image, gx, gy, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT, 0))
    cv2.imwrite(str(OUT / "grid_steps_mask.png"), fgeometric.remap(mask, gx, gy, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT, 0))
    manifest.append({"case": "grid_steps", "core": "grid", "steps_x": GRID_STEPS_X, "steps_y": GRID_STEPS_Y,
                     "check": "geometric", "mask": True})

    versions = {"albumentations": A.__version__, "opencv": cv2.__version__, "numpy": np.__version__}
    (OUT / "cases.json").write_text(json.dumps({"versions": versions, "cases": manifest}, indent=1) + "\n")
    print(f"wrote {len(manifest)} cases to {OUT} ({versions})")


if __name__ == "__main__":
    main()
