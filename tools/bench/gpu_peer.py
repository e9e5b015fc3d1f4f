"""PyTorch's side of tools/gpu_check.sh, on the same GPU as boneseg's vulkan backend.

    python3 tools/bench/gpu_peer.py parity --boneseg B --arch unet --encoder resnet34 --size 512
    python3 tools/bench/gpu_peer.py train --arch unetplusplus --encoder efficientnet-b5 --size 1024 --batch 4

`parity`: an SMP model with PyTorch's own random initialisation (a few batch-statistics passes so
that the running statistics are not the defaults), in eval mode, on a random input, computed by
SMP on the GPU in float32 (TF32 off) and by `boneseg model forward --device vulkan` with the same
state dict; prints max |boneseg - SMP| / std(SMP).

`train`: the model in train mode under AMP (bf16 autocast, channels_last, cudnn.benchmark), timed
after warm-up steps: forward + backward with loss = mean logit (what `boneseg bench model
--mode train` times), and the whole training step (0.5 BCE + 0.5 Dice, AdamW) on batches already
on the GPU; images/s and peak device memory of each. Without CUDA both run on the CPU (for
trying the script, not for figures).
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import segmentation_models_pytorch as smp
import torch
from safetensors.torch import load_file, save_file

# The reference models are in the sibling folder tools/reference/.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "reference"))
import smp_reference as ref  # noqa: E402


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def parity(args) -> None:
    dev = device()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(args.seed)
    model = ref.build(args.arch, args.encoder, 29)
    ref.batch_statistics_mode(model)
    for _ in range(2):
        ref.logits(model, torch.randn(2, 3, 64, 64))
    model.eval()
    x = torch.randn(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        expected = ref.logits(model.to(dev), x.to(dev)).float().cpu()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp / "w.safetensors"))
        save_file({"input": x}, str(tmp / "x.safetensors"))
        started = time.perf_counter()
        subprocess.run(
            [args.boneseg, "model", "forward", "--arch", args.arch, "--encoder", args.encoder,
             "--device", args.device, "--weights", str(tmp / "w.safetensors"),
             "--input", str(tmp / "x.safetensors"), "--out", str(tmp / "y.safetensors")],
            check=True, capture_output=True,
        )
        seconds = time.perf_counter() - started
        ours = load_file(str(tmp / "y.safetensors"))["logits"]
    relative = ((ours - expected).abs().max() / expected.std()).item()
    print(f"parity {args.arch} {args.encoder} {args.size}x{args.size} batch {args.batch}: "
          f"max|boneseg {args.device} - SMP {dev.type}| / std = {relative:.2e} "
          f"(boneseg process {seconds:.1f} s, shader compilation included)")


def forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The logits with autograd (sizes here are multiples of 32, so no padding)."""
    out = model(x)
    return out["out"] if isinstance(out, dict) else out


def timed(steps: int, dev: torch.device, step) -> float:
    """Milliseconds per step, the mean of `steps` after two warm-up steps."""
    for _ in range(2):
        step()
    sync(dev)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    return (time.perf_counter() - started) / steps * 1e3


def train(args) -> None:
    dev = device()
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    model = ref.build(args.arch, args.encoder, 29).to(dev).to(memory_format=torch.channels_last)
    model.train()
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16, "none": None}[args.amp]
    shape = (args.batch, 3, args.size, args.size)
    images = torch.rand(shape, device=dev).to(memory_format=torch.channels_last)
    targets = (torch.rand(args.batch, 29, args.size, args.size, device=dev) > 0.9).float()
    bce = torch.nn.BCEWithLogitsLoss()
    dice = smp.losses.DiceLoss(mode="multilabel", from_logits=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=dtype == torch.float16)
    name = f"{args.arch} {args.encoder} batch {args.batch} {args.size}x{args.size} AMP {args.amp} on {dev.type}"

    def autocast():
        return torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    def forward_backward():
        with autocast():
            loss = forward(model, images).float().mean()
        loss.backward()
        model.zero_grad(set_to_none=True)

    def training_step():
        with autocast():
            logits = forward(model, images).float()
            loss = 0.5 * bce(logits, targets) + 0.5 * dice(logits, targets)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()

    for label, step in [("forward+backward", forward_backward), ("training step (BCE+Dice, AdamW)", training_step)]:
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        ms = timed(args.steps, dev, step)
        line = f"{name}: {label} {ms:.1f} ms, {args.batch / ms * 1e3:.2f} images/s"
        if dev.type == "cuda":
            line += (f", peak device memory {torch.cuda.max_memory_reserved() / 2**20:.0f} MiB reserved, "
                     f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB of tensors")
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("parity")
    p.add_argument("--boneseg", required=True)
    p.add_argument("--device", default="vulkan")
    p.add_argument("--arch", required=True)
    p.add_argument("--encoder", required=True)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    t = commands.add_parser("train")
    t.add_argument("--arch", required=True)
    t.add_argument("--encoder", required=True)
    t.add_argument("--size", type=int, default=1024)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--steps", type=int, default=10)
    t.add_argument("--amp", default="bf16", choices=["bf16", "f16", "none"])
    args = parser.parse_args()
    {"parity": parity, "train": train}[args.command](args)


if __name__ == "__main__":
    main()
