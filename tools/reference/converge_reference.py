"""PyTorch's side of the convergence question: how many steps, and how many minutes on this
machine, does configs/quick-cpu.toml's recipe need to reach a validation mean dice on a phantom?

The same recipe as boneseg's trainer: SMP's U-Net on an encoder from scratch, grey input in [0, 1]
copied to 3 channels, area-reduced images and area-majority masks at the training size, horizontal
flip p=0.5, 0.5 BCE + 0.5 SMP multilabel Dice, Adam with linear warm-up then cosine decay, and
validation as the leaderboard scores it (logits upsampled bilinearly, align_corners=False, to the
original size, threshold 0.5, dice per image and class with eps 1e-4, mean over images then
classes). Polygons are filled with Pillow, not OpenCV: close enough for a convergence curve.

    boneseg split --data /work/phantom40 --out /work/split40
    /work/venv/torch/bin/python tools/reference/converge_reference.py \
        --data /work/phantom40 --split /work/split40 --fold 0 --steps 1200 --val-every 100

Prints one line per validation: step, minutes, mean dice.
"""

import argparse
import csv
import json
import math
import os
import time

import numpy as np
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

import smp_reference as ref

CLASSES = [f"finger-{i}" for i in range(1, 20)] + [
    "Trapezium", "Trapezoid", "Capitate", "Hamate", "Scaphoid", "Lunate", "Triquetrum", "Pisiform",
    "Radius", "Ulna",
]


def read_fold(split, fold, part):
    with open(os.path.join(split, f"fold{fold}_{part}.csv")) as f:
        return [row["image"] for row in csv.DictReader(f)]


def load(data, name):
    """Grey image (H, W) uint8 and masks (29, H, W) bool at the original size."""
    grey = np.asarray(Image.open(os.path.join(data, "train", "DCM", name)).convert("L"))
    label = os.path.join(data, "train", "outputs_json", name[:-4] + ".json")
    masks = np.zeros((len(CLASSES), *grey.shape), dtype=bool)
    for annotation in json.load(open(label))["annotations"]:
        canvas = Image.new("L", (grey.shape[1], grey.shape[0]), 0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in annotation["points"]], fill=1)
        masks[CLASSES.index(annotation["label"])] |= np.asarray(canvas, dtype=bool)
    return grey, masks


def reduce(grey, masks, size):
    image = torch.from_numpy(grey).float().div(255)[None, None]
    factor = grey.shape[0] // size
    image = F.avg_pool2d(image, factor)[0].repeat(3, 1, 1)
    target = F.avg_pool2d(torch.from_numpy(masks).float()[None], factor)[0].ge(0.5).float()
    return image, target


def dice_table(model, val, size, batch):
    model.eval()
    scores = []
    with torch.no_grad():
        for start in range(0, len(val), batch):
            chunk = val[start:start + batch]
            images = torch.stack([reduce(g, m, size)[0] for g, m in chunk])
            logits = model(images)
            for (grey, masks), logit in zip(chunk, logits):
                up = F.interpolate(logit[None], size=grey.shape, mode="bilinear", align_corners=False)[0]
                pred = up.sigmoid().gt(0.5).numpy()
                inter = (pred & masks).sum(axis=(1, 2))
                total = pred.sum(axis=(1, 2)) + masks.sum(axis=(1, 2))
                scores.append((2 * inter + 1e-4) / (total + 1e-4))
    model.train()
    return np.mean(scores, axis=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--min-lr", type=float, default=1e-5)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--bce", type=float, default=0.5)
    parser.add_argument("--dice", type=float, default=0.5)
    parser.add_argument("--val-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    train = [reduce(*load(args.data, n), args.size) for n in read_fold(args.split, args.fold, "train")]
    val = [load(args.data, n) for n in read_fold(args.split, args.fold, "val")]
    model = ref.build(args.arch, args.encoder, len(CLASSES))
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    bce = torch.nn.BCEWithLogitsLoss()
    dice = smp.losses.DiceLoss(mode="multilabel", from_logits=True)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (1e-3 + (1 - 1e-3) * step / args.warmup)
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * progress))

    start = time.perf_counter()
    order = []
    for step in range(args.steps):
        if len(order) < args.batch:
            order = list(rng.permutation(len(train)))
        picked = [order.pop() for _ in range(args.batch)]
        flips = rng.random(args.batch) < 0.5
        images = torch.stack([train[i][0].flip(-1) if f else train[i][0] for i, f in zip(picked, flips)])
        targets = torch.stack([train[i][1].flip(-1) if f else train[i][1] for i, f in zip(picked, flips)])
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step)
        logits = model(images)
        loss = args.bce * bce(logits, targets) + args.dice * dice(logits, targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if (step + 1) % args.val_every == 0 or step + 1 == args.steps:
            minutes = (time.perf_counter() - start) / 60
            table = dice_table(model, val, args.size, args.batch)
            worst = np.argsort(table)[:3]
            print(f"step {step + 1} minutes {minutes:.1f} loss {loss.item():.4f} mean_dice {table.mean():.4f} "
                  f"worst {', '.join(f'{CLASSES[i]}={table[i]:.3f}' for i in worst)}", flush=True)


if __name__ == "__main__":
    main()
