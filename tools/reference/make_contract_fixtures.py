"""Writes the contract fixtures that boneseg's tests compare against, made by the reference
implementations (OpenCV's fillPoly, the numpy RLE, the baseline's dice).

    python tools/reference/make_contract_fixtures.py                  # RLE, dice and fillPoly fixtures
    python tools/reference/make_contract_fixtures.py --fill-poly-only # fillPoly only, for another OpenCV
    python tools/reference/make_contract_fixtures.py --verify         # recompute with the installed
                                                            # OpenCV/numpy, report differences

fillPoly's pixels changed between OpenCV releases (4.8 shifted edges by half a pixel, 4.11 went
back), so its fixtures are written per OpenCV minor version (`fill_poly_opencv-X.Y.json`): run the
script once in a venv per version you want covered.

The polygons come from a seeded generator, so the same seed gives the same cases; another
`--seed` with `--out-dir` gives new cases for a one-off cross-check of boneseg
(`BONESEG_CONTRACT_FIXTURES=DIR cargo test -p boneseg-contract --test parity`).
"""

import argparse
import json
import math
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from contract_reference import dice, encode_mask_to_rle, fill_poly, mask_to_hex  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "crates", "contract", "tests", "fixtures")


def smooth_outline(rng, cx, cy, rx, ry, n, wobble, angle):
    """A closed, bone-like outline: an ellipse with low-frequency wobble, rounded to integers."""
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    radius = 1 + sum(wobble * rng.uniform(-1, 1) * np.cos(k * t + rng.uniform(0, 6.3)) for k in (2, 3, 5))
    x = rx * radius * np.cos(t)
    y = ry * radius * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def bone_like(rng, h, w):
    n = int(rng.integers(12, 90))
    pts = smooth_outline(rng, rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h,
                         rng.uniform(0.08, 0.3) * w, rng.uniform(0.1, 0.45) * h, n,
                         rng.uniform(0.0, 0.12), rng.uniform(0, math.pi))
    return np.rint(pts).astype(int)


def concave(rng, h, w):
    kind = rng.integers(0, 3)
    cx, cy = w / 2 + rng.uniform(-5, 5), h / 2 + rng.uniform(-5, 5)
    if kind == 0:  # star
        k = int(rng.integers(3, 12))
        t = np.linspace(0, 2 * math.pi, 2 * k, endpoint=False)
        r = np.where(np.arange(2 * k) % 2 == 0, 0.45, rng.uniform(0.05, 0.3)) * min(h, w)
        pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
    elif kind == 1:  # random radial, deep notches
        n = int(rng.integers(5, 40))
        t = np.sort(rng.uniform(0, 2 * math.pi, n))
        r = rng.uniform(0.05, 0.48, n) * min(h, w)
        pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
    else:  # comb: teeth along the top edge
        teeth = int(rng.integers(2, 7))
        x0, x1, y0, y1 = 0.1 * w, 0.9 * w, 0.15 * h, 0.85 * h
        step = (x1 - x0) / (2 * teeth)
        pts = [(x0, y1)]
        for i in range(2 * teeth):
            top = y0 if i % 2 == 0 else rng.uniform(0.4, 0.7) * h
            pts += [(x0 + i * step, top), (x0 + (i + 1) * step, top)]
        pts += [(x1, y1)]
        pts = np.array(pts)
    return np.rint(pts).astype(int)


def self_touching(rng, h, w):
    kind = rng.integers(0, 4)
    if kind == 0:  # bow tie
        a, b = rng.uniform(0.05, 0.3), rng.uniform(0.7, 0.95)
        pts = [(a * w, a * h), (b * w, b * h), (b * w, a * h), (a * w, b * h)]
    elif kind == 1:  # two lobes sharing one vertex
        cx, cy = w / 2, h / 2
        pts = [(cx, cy), (0.1 * w, 0.2 * h), (0.2 * w, 0.8 * h), (cx, cy), (0.9 * w, 0.3 * h), (0.8 * w, 0.9 * h)]
    elif kind == 2:  # a random point order
        n = int(rng.integers(4, 15))
        pts = np.stack([rng.uniform(0, w - 1, n), rng.uniform(0, h - 1, n)], 1)
    else:  # a slit: the outline goes in and comes back along the same edge
        pts = [(0.1 * w, 0.1 * h), (0.9 * w, 0.1 * h), (0.9 * w, 0.9 * h), (0.5 * w, 0.9 * h),
               (0.5 * w, 0.4 * h), (0.5 * w, 0.9 * h), (0.1 * w, 0.9 * h)]
    return np.rint(np.array(pts)).astype(int)


def partly_outside(rng, h, w):
    base = [bone_like, concave, self_touching][rng.integers(0, 3)](rng, h, w)
    scale = rng.uniform(0.8, 3.0)
    shift = np.array([rng.uniform(-0.8, 0.8) * w, rng.uniform(-0.8, 0.8) * h])
    centre = np.array([w / 2, h / 2])
    pts = (base - centre) * scale + centre + shift
    if rng.uniform() < 0.15:  # far outside, long clipped edges
        pts = pts * rng.uniform(3, 40)
    return np.rint(pts).astype(int)


def degenerate(rng, h, w):
    kind = rng.integers(0, 6)
    p = lambda: (int(rng.integers(-3, w + 3)), int(rng.integers(-3, h + 3)))  # noqa: E731
    if kind == 0:
        return np.array([p()])
    if kind == 1:
        return np.array([p(), p()])
    if kind == 2:  # one point repeated
        q = p()
        return np.array([q] * int(rng.integers(2, 6)))
    if kind == 3:  # collinear
        (x0, y0), (x1, y1) = p(), p()
        n = int(rng.integers(3, 8))
        return np.rint(np.stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)], 1)).astype(int)
    if kind == 4:  # repeated consecutive vertices in a real polygon
        pts = bone_like(rng, h, w)
        return np.repeat(pts, rng.integers(1, 4, len(pts)), axis=0)
    # horizontal and vertical slivers
    y = int(rng.integers(0, h))
    x = int(rng.integers(0, w))
    return np.array([(1, y), (w - 2, y), (x, y), (x, 0), (x, h - 1)])


def on_the_border(rng, h, w):
    """What annotation tools write at an image's edge: points exactly on the far border
    (x == width, y == height, one past the last pixel) or a pixel or two beyond any side."""
    pts = bone_like(rng, h, w)
    kind = rng.integers(0, 5)
    if kind == 0:  # the right side snapped to x == width
        pts[pts[:, 0] >= np.percentile(pts[:, 0], 70), 0] = w
    elif kind == 1:  # the bottom snapped to y == height
        pts[pts[:, 1] >= np.percentile(pts[:, 1], 70), 1] = h
    elif kind == 2:  # the left side a pixel or two beyond x == 0
        pts[pts[:, 0] <= np.percentile(pts[:, 0], 30), 0] = -int(rng.integers(1, 3))
    elif kind == 3:  # overhanging the far corner by 1-3 pixels
        pts = pts + np.array([w - pts[:, 0].max(), h - pts[:, 1].max()]) + rng.integers(0, 3, 2)
    else:  # the image's own frame, as a tool that outlines the whole picture writes it
        pts = np.array([(0, 0), (w, 0), (w, h), (0, h)])
    return pts


CATEGORIES = {
    "bone_like": (bone_like, 80),
    "concave": (concave, 60),
    "self_touching": (self_touching, 50),
    "partly_outside": (partly_outside, 60),
    "degenerate": (degenerate, 50),
    # Last, so that the cases above keep their random streams.
    "on_the_border": (on_the_border, 60),
}


def fill_poly_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []
    for category, (make, count) in CATEGORIES.items():
        for i in range(count):
            h, w = int(rng.integers(8, 160)), int(rng.integers(8, 160))
            points = make(rng, h, w).tolist()
            mask = fill_poly(h, w, points)
            cases.append({
                "name": f"{category}-{i}",
                "height": h,
                "width": w,
                "points": points,
                "rle": encode_mask_to_rle(mask),
            })
    return cases


def rle_cases(seed):
    """Masks with runs that touch the first and last pixel, cross rows, fill everything."""
    rng = np.random.default_rng(seed + 1)
    cases = []
    shapes = [(1, 1), (1, 64), (64, 1), (3, 5), (17, 31), (64, 64), (100, 130), (256, 200)]
    for h, w in shapes:
        for kind in ("empty", "full", "noise", "blobs", "edges"):
            if kind == "empty":
                m = np.zeros((h, w), np.uint8)
            elif kind == "full":
                m = np.ones((h, w), np.uint8)
            elif kind == "noise":
                m = (rng.uniform(size=(h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
            elif kind == "blobs":
                m = np.zeros((h, w), np.uint8)
                for _ in range(3):
                    m |= fill_poly(h, w, bone_like(rng, h, w).tolist())
            else:
                m = np.zeros((h, w), np.uint8)
                m.flat[0] = 1
                m.flat[-1] = 1
                m[:, -1] = 1  # runs that wrap from a row's end into the next row's start
                m[:, 0] = 1
            cases.append({"name": f"{kind}-{h}x{w}", "height": h, "width": w,
                          "bits": mask_to_hex(m), "rle": encode_mask_to_rle(m)})
    return cases


def dice_cases(seed):
    rng = np.random.default_rng(seed + 2)
    cases = []
    for i in range(40):
        h, w = int(rng.integers(8, 120)), int(rng.integers(8, 120))
        truth = fill_poly(h, w, bone_like(rng, h, w).tolist()) if i % 5 else np.zeros((h, w), np.uint8)
        pred = truth.copy()
        if i % 4 == 1:
            pred = fill_poly(h, w, bone_like(rng, h, w).tolist())
        elif i % 4 == 2:
            pred = np.roll(truth, int(rng.integers(-4, 5)), axis=int(rng.integers(0, 2)))
        elif i % 4 == 3:
            pred = np.zeros_like(truth)
        cases.append({
            "name": f"dice-{i}",
            "height": h,
            "width": w,
            "pred": mask_to_hex(pred),
            "truth": mask_to_hex(truth),
            "dice_f64": float(dice(pred, truth, dtype=np.float64)),
            "dice_f32": float(dice(pred, truth, dtype=np.float32)),
        })
    return cases


def opencv_minor():
    return ".".join(cv2.__version__.split(".")[:2])


def build(seed, fill_poly_only):
    """The fixture files, by file name."""
    header = {"generator": "tools/reference/make_contract_fixtures.py", "seed": seed,
              "opencv": cv2.__version__, "numpy": np.__version__}
    files = {f"fill_poly_opencv-{opencv_minor()}.json": {**header, "cases": fill_poly_cases(seed)}}
    if not fill_poly_only:
        files["contract.json"] = {**header, "rle": rle_cases(seed), "dice": dice_cases(seed)}
    return files


def differences(stored, fresh):
    """Names of the cases whose masks differ."""
    bad = []
    for key in ("cases", "rle"):
        bad += [a["name"] for a, b in zip(stored.get(key, []), fresh.get(key, [])) if a["rle"] != b["rle"]]
    bad += [a["name"] for a, b in zip(stored.get("dice", []), fresh.get("dice", []))
            if a["dice_f64"] != b["dice_f64"]]
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out-dir", default=DEFAULT_OUT)
    parser.add_argument("--fill-poly-only", action="store_true", help="write only this OpenCV's fillPoly file")
    parser.add_argument("--verify", action="store_true", help="compare the stored files with a fresh computation")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    failed = False
    for name, fresh in build(args.seed, args.fill_poly_only).items():
        path = os.path.join(args.out_dir, name)
        if args.verify:
            with open(path) as f:
                bad = differences(json.load(f), fresh)
            print(f"{name}: opencv {cv2.__version__}, numpy {np.__version__}: {len(bad)} cases differ {bad[:10]}")
            failed |= bool(bad)
            continue
        with open(path, "w") as f:
            json.dump(fresh, f, separators=(",", ":"))
            f.write("\n")
        counts = {k: len(v) for k, v in fresh.items() if isinstance(v, list)}
        print(f"wrote {path}: {counts}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
