"""PyTorch's side of the training-throughput comparison: the same model, input size, batch,
loss (0.5 BCE + 0.5 SMP multilabel Dice) and optimiser (Adam) as configs/quick-cpu.toml, on
2 threads, for a number of steps over batches already in memory (no data loading: an upper
bound on PyTorch's speed). Prints images/s as boneseg's steps.csv does.

    /work/venv/torch/bin/python tools/bench/bench_train.py --steps 16
"""

import argparse
import pathlib
import sys
import time

import segmentation_models_pytorch as smp
import torch

# The reference models are in the sibling folder tools/reference/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "reference"))
import smp_reference as ref  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ref.build(args.arch, args.encoder, 29)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    bce = torch.nn.BCEWithLogitsLoss()
    dice = smp.losses.DiceLoss(mode="multilabel", from_logits=True)
    images = torch.rand(args.batch, 3, args.size, args.size)
    targets = (torch.rand(args.batch, 29, args.size, args.size) > 0.9).float()
    start = time.perf_counter()
    for _ in range(args.steps):
        logits = model(images)
        loss = 0.5 * bce(logits, targets) + 0.5 * dice(logits, targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    seconds = time.perf_counter() - start
    print(f"{args.arch} {args.encoder} {args.size}² batch {args.batch}: {args.steps * args.batch / seconds:.3f} images/s "
          f"({seconds / args.steps * 1e3:.0f} ms per step)")


if __name__ == "__main__":
    main()
