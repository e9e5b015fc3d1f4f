"""Runs boneseg's criterion benches and the Python reference peer on the same inputs, and prints
one markdown table: operation | boneseg | numpy/OpenCV | ratio (peer time / boneseg time).

    python tools/bench/bench_compare.py              # cargo bench (several minutes), then the peer
    python tools/bench/bench_compare.py --no-bench   # reuse target/criterion from an earlier run

Run it with a Python that has numpy, opencv-python-headless and pandas (see BENCHMARKS.md). The
benches export their inputs to target/bench-inputs (BONESEG_BENCH_EXPORT), which the peer reads,
so both sides fill the same polygons and decode the same PNG. Times are medians: criterion's
`median.point_estimate` from target/criterion/<group>/<name>/new/estimates.json, and the peer's
median of repeated time.perf_counter() runs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # tools/bench/ -> the repository root
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))

# (bench id, what is measured: boneseg vs the reference)
ROWS = [
    ("rle/encode_one_2048", "RLE encode, 1 mask (`rle::encode` / `encode_mask_to_rle`)"),
    ("rle/encode_image_29x2048", "RLE encode, 29 masks of an image"),
    ("rle/decode_one_2048", "RLE decode, 1 mask (`rle::decode` / `decode_rle_to_mask`)"),
    ("rle/decode_image_29x2048", "RLE decode, 29 masks of an image"),
    ("raster/annotation_file_2048", "annotation JSON to 29 masks (parse + fill / `json` + `cv2.fillPoly` into HxWx29)"),
    ("raster/fill_only_2048", "fill 29 polygons (`fill_poly` / `cv2.fillPoly`)"),
    ("submission/write_rows_300_images", "submission CSV, 300 images, RLE given (`write_row` / `DataFrame.to_csv`)"),
    ("submission/write_300_images", "submission CSV, 300 images, encoding included (`write_image` / 300 x encode + to_csv)"),
    ("png/decode_2048", "PNG decode 2048² RGB (`read_gray` / `cv2.imread`)"),
    ("png/encode_2048", "PNG encode 2048² RGB (`write_gray_png` / `cv2.imwrite`)"),
]


def criterion_median_ns(bench_id):
    path = os.path.join(TARGET, "criterion", *bench_id.split("/"), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


def fmt_ms(ms):
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms * 1e3:.1f} µs"
    if ms < 1000:
        return f"{ms:.2f} ms"
    return f"{ms / 1e3:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-bench", action="store_true", help="do not run cargo bench; read existing results")
    parser.add_argument("--inputs", default=os.path.join(TARGET, "bench-inputs"),
                        help="where the benches export their inputs (default target/bench-inputs)")
    parser.add_argument("--budget", default="3", help="seconds of repeats per peer operation (default 3)")
    args = parser.parse_args()

    if not args.no_bench:
        env = dict(os.environ, BONESEG_BENCH_EXPORT=os.path.abspath(args.inputs))
        for crate, bench in [("boneseg-contract", "contract"), ("boneseg-data", "data")]:
            command = ["cargo", "bench", "-p", crate, "--bench", bench]
            print("+", " ".join(command), file=sys.stderr, flush=True)
            subprocess.run(command, cwd=ROOT, env=env, check=True)

    with tempfile.TemporaryDirectory() as tmp:
        peer_json = os.path.join(tmp, "peer.json")
        command = [sys.executable, os.path.join(HERE, "bench_peer.py"), "--json", peer_json,
                   "--budget", args.budget]
        if os.path.isdir(args.inputs):
            command += ["--inputs", args.inputs]
        print("+", " ".join(command), file=sys.stderr, flush=True)
        subprocess.run(command, check=True, stdout=sys.stderr)
        with open(peer_json) as f:
            peer = json.load(f)

    print("| operation | boneseg | numpy/OpenCV | ratio |")
    print("|---|---:|---:|---:|")
    for bench_id, label in ROWS:
        ns = criterion_median_ns(bench_id)
        ours = None if ns is None else ns / 1e6
        theirs = peer["results_ms"].get(bench_id)
        ratio = f"{theirs / ours:,.0f}x" if ours and theirs and theirs / ours >= 10 else (
            f"{theirs / ours:.2f}x" if ours and theirs else "-")
        derived = " (derived)" if bench_id in peer.get("derived", []) else ""
        print(f"| {label} | {fmt_ms(ours)} | {fmt_ms(theirs)}{derived} | {ratio} |")
    versions = peer.get("versions", {})
    print(f"\nPeer: numpy {versions.get('numpy')}, OpenCV {versions.get('opencv')}, pandas {versions.get('pandas')}; "
          "ratio = peer time / boneseg time, both medians.")


if __name__ == "__main__":
    main()
