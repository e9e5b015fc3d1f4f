"""PyTorch's side of `boneseg bench model`: the same model, size, batch and thread count.

    /work/venv/torch/bin/python tools/bench/bench_models.py --arch unet --encoder resnet34 --size 256 --batch 2

Forward runs in eval mode under no_grad; forward+backward in train mode with loss = mean
logit, as boneseg does. Prints the same lines as boneseg so the comparison script can read both.
"""

import argparse
import pathlib
import resource
import statistics
import sys
import time

import torch

# The reference models are in the sibling folder tools/reference/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "reference"))
import smp_reference as ref  # noqa: E402


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
    parser.add_argument("--arch", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--classes", type=int, default=29)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", default="both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ref.build(args.arch, args.encoder, args.classes)
    shape = (args.batch, 3, args.size, args.size)
    name = f"{args.arch} {args.encoder} batch {args.batch} {args.size}x{args.size}"
    if args.mode != "train":
        model.eval()

        def forward():
            with torch.no_grad():
                model(torch.rand(shape))

        print(f"{name}: forward {median_ms(args.iters, forward):.1f} ms")
    if args.mode != "forward":
        model.train()

        def train_step():
            out = model(torch.rand(shape))
            out = out["out"] if isinstance(out, dict) else out
            out.mean().backward()
            model.zero_grad(set_to_none=True)

        print(f"{name}: forward+backward {median_ms(args.iters, train_step):.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
