"""A held-out phantom set as real radiographs often come: cropped to a portrait aspect around the
hand, or stored as JPEG. Writes SRC's test images and labels to DST, the labels moved with the crop.

    python tools/bench/reframe_phantom.py SRC DST --width 384      # 512x512 -> 384x512 (3:4)
    python tools/bench/reframe_phantom.py SRC DST --jpeg 75        # the same images as JPEG, quality 75

SRC is a `boneseg synth` folder (test/DCM, test_labels). The crop is centred on the extent of the
image's labels, clamped inside the image: bones beyond it are cut from the image and labels alike.
Used by BENCHMARKS.md, "Radiographs as found".
"""
import argparse
import json
import os

import cv2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--width", type=int, help="crop every image to this width, full height")
    parser.add_argument("--jpeg", type=int, help="write JPEG at this quality instead of PNG")
    args = parser.parse_args()
    images = os.path.join(args.src, "test/DCM")
    for folder, _, files in os.walk(images):
        for name in sorted(f for f in files if f.endswith(".png")):
            rel = os.path.relpath(os.path.join(folder, name), images)
            stem = rel[: -len(".png")]
            with open(os.path.join(args.src, "test_labels", stem + ".json")) as f:
                label = json.load(f)
            image = cv2.imread(os.path.join(images, rel), cv2.IMREAD_GRAYSCALE)
            left = 0
            if args.width:
                xs = [x for a in label["annotations"] for x, _ in a["points"]]
                centre = (min(xs) + max(xs)) / 2
                left = int(min(max(centre - args.width / 2, 0), image.shape[1] - args.width))
                image = image[:, left : left + args.width]
                for annotation in label["annotations"]:
                    annotation["points"] = [[x - left, y] for x, y in annotation["points"]]
            out = os.path.join(args.dst, "test/DCM", stem + (".jpg" if args.jpeg else ".png"))
            if "filename" in label:
                label["filename"] = os.path.basename(out)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            params = [cv2.IMWRITE_JPEG_QUALITY, args.jpeg] if args.jpeg else []
            assert cv2.imwrite(out, image, params), out
            out_label = os.path.join(args.dst, "test_labels", stem + ".json")
            os.makedirs(os.path.dirname(out_label), exist_ok=True)
            with open(out_label, "w") as f:
                json.dump(label, f)


if __name__ == "__main__":
    main()
