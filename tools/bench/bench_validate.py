"""PyTorch's side of the validation comparison: the competition baseline's way of validating at
full resolution, on the same images and model as `boneseg validate`.

Per batch: each 2048² image resized to the training size, the model's logits upsampled
bilinearly to 2048² (align_corners=False), sigmoid, threshold 0.5, and dice against the label
masks held as 29 x 2048² float32 per image, as the baseline's dataset and dice function do.
The model (SMP U-Net on ResNet-18 by default) has random weights: the cost of each of these
steps does not depend on the values. Polygons are filled with Pillow.

    boneseg split --data PHANTOM --out SPLIT
    /work/venv/torch/bin/python tools/bench/bench_validate.py --data PHANTOM --split SPLIT --batch 4

Prints images/s after the first batch (with and without the time spent reading images and
filling polygons, which boneseg does once into its cache) and the process's peak resident memory.
"""

import argparse
import csv
import json
import os
import pathlib
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

# The reference models are in the sibling folder tools/reference/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "reference"))
import smp_reference as ref  # noqa: E402
from converge_reference import CLASSES  # noqa: E402


def load(data, name):
    grey = Image.open(os.path.join(data, "train", "DCM", name)).convert("L")
    masks = np.zeros((len(CLASSES), grey.height, grey.width), dtype=np.float32)
    label = os.path.join(data, "train", "outputs_json", name[:-4] + ".json")
    for annotation in json.load(open(label))["annotations"]:
        canvas = Image.new("L", grey.size, 0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in annotation["points"]], fill=1)
        masks[CLASSES.index(annotation["label"])] = np.maximum(
            masks[CLASSES.index(annotation["label"])], np.asarray(canvas, dtype=np.float32))
    return grey, torch.from_numpy(masks)


def dice_coef(y_true, y_pred, eps=1e-4):
    """The baseline's dice: per image and class over flattened float masks."""
    y_true_f = y_true.flatten(2)
    y_pred_f = y_pred.flatten(2)
    intersection = torch.sum(y_true_f * y_pred_f, -1)
    return (2.0 * intersection + eps) / (torch.sum(y_true_f, -1) + torch.sum(y_pred_f, -1) + eps)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.split, f"fold{args.fold}_val.csv")) as f:
        names = [row["image"] for row in csv.DictReader(f)]
    model = ref.build(args.arch, args.encoder, len(CLASSES)).eval()
    dices = []
    start, first, loading = None, 0, 0.0
    with torch.no_grad():
        for offset in range(0, len(names), args.batch):
            began = time.perf_counter()
            loaded = [load(args.data, n) for n in names[offset:offset + args.batch]]
            if start is not None:
                loading += time.perf_counter() - began
            images = torch.stack([
                torch.from_numpy(np.asarray(g.resize((args.size, args.size), Image.BILINEAR), dtype=np.float32) / 255)
                .repeat(3, 1, 1) for g, _ in loaded])
            masks = torch.stack([m for _, m in loaded])
            logits = model(images)
            logits = F.interpolate(logits, size=masks.shape[-2:], mode="bilinear", align_corners=False)
            predicted = (torch.sigmoid(logits) > 0.5).float()
            dices.append(dice_coef(masks, predicted))
            if start is None:
                start, first = time.perf_counter(), len(loaded)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"mean_dice={torch.cat(dices).mean(0).mean().item()}")
    print(f"validation: {(len(names) - first) / seconds:.2f} images/s after the first batch, "
          f"{(len(names) - first) / (seconds - loading):.2f} without reading and rasterising the labels")
    print(f"peak memory {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
