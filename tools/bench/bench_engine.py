"""PyTorch's side of `boneseg bench engine`: the plain U-Net training step and forward.

    /work/venv/torch/bin/python tools/bench/bench_engine.py --size 256 --batch 2 --iters 3

The network is the one `boneseg bench engine` builds: a 4-level U-Net with 32, 64, 128, 256
and 512 channels (two 3x3 conv + BatchNorm + ReLU per level, 2x2 max-pool down, nearest 2x
upsampling and concatenation up, a 1x1 head with bias), 7.85M parameters. A training step is
forward, BCE-with-logits against a fixed random 0/1 target, backward and one Adam step; the
forward runs in eval mode under no_grad. Prints one JSON line: median milliseconds of each,
the thread count, and the step's FLOPs from torch's flop counter.
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

WIDTHS = [32, 64, 128, 256, 512]


def double_conv(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PlainUNet(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.down = nn.ModuleList([double_conv(3, WIDTHS[0])])
        self.down.extend(double_conv(a, b) for a, b in zip(WIDTHS, WIDTHS[1:]))
        self.up = nn.ModuleList(double_conv(deep + skip, skip) for skip, deep in zip(WIDTHS, WIDTHS[1:]))
        self.head = nn.Conv2d(WIDTHS[0], classes, 1)

    def forward(self, x):
        skips = []
        for level, block in enumerate(self.down):
            if level > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in reversed(self.up):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)


def median_ms(iters, step):
    step()
    times = []
    for _ in range(max(iters, 1)):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--classes", type=int, default=29)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", default="both", choices=["forward", "train", "both"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = PlainUNet(args.classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(args.batch, 3, args.size, args.size)
    target = (torch.rand(args.batch, args.classes, args.size, args.size) < 0.5).float()

    def train_step():
        optimiser.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(x), target)
        loss.backward()
        optimiser.step()

    def forward():
        with torch.no_grad():
            model(x)

    result = {"threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in model.parameters())}
    if args.mode != "forward":
        model.train()
        with FlopCounterMode(display=False) as counter:
            train_step()
        result["train_gflop"] = counter.get_total_flops() / 1e9
        result["train_ms"] = median_ms(args.iters, train_step)
    if args.mode != "train":
        model.eval()
        with FlopCounterMode(display=False) as counter:
            forward()
        result["forward_gflop"] = counter.get_total_flops() / 1e9
        result["forward_ms"] = median_ms(args.iters, forward)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
