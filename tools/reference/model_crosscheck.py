"""Checks `boneseg model forward` against SMP/torchvision on models and weights it has never
seen: PyTorch's own random initialisation under a seed, saved as .safetensors and as a
wrapped .pth (`{"state_dict": ...}`), on a random input.

    /work/venv/torch/bin/python tools/reference/model_crosscheck.py target/release/boneseg [seed ...]
"""

import pathlib
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

import smp_reference as ref

MODELS = [
    ("unet", "resnet34"),
    ("unetplusplus", "resnet18"),
    ("fpn", "resnet50"),
    ("deeplabv3", "resnet18"),
    ("deeplabv3plus", "resnet101"),
    ("unet", "efficientnet-b2"),
    ("deeplabv3plus", "efficientnet-b3"),
    ("fcn", "resnet50"),
    ("segformer", "mit_b2"),
]


def main(binary: str, seeds: list[int]) -> None:
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for seed in seeds:
            for index, (arch, encoder) in enumerate(MODELS):
                torch.manual_seed(seed * 100 + index)
                model = ref.build(arch, encoder, 29)
                # A few batch-statistics passes so the running statistics are not the defaults.
                ref.batch_statistics_mode(model)
                for _ in range(2):
                    ref.logits(model, torch.randn(2, 3, 96, 96))
                model.eval()
                x = torch.randn(1, 3, 96, 128)
                expected = ref.logits(model, x)
                state = {k: v.contiguous() for k, v in model.state_dict().items()}
                if index % 2:
                    weights = tmp / "weights.pth"
                    torch.save({"state_dict": state, "epoch": 3}, weights)
                else:
                    weights = tmp / "weights.safetensors"
                    save_file(state, str(weights))
                save_file({"input": x}, str(tmp / "input.safetensors"))
                subprocess.run(
                    [binary, "model", "forward", "--arch", arch, "--encoder", encoder, "--classes", "29",
                     "--weights", str(weights), "--input", str(tmp / "input.safetensors"),
                     "--out", str(tmp / "out.safetensors")],
                    check=True, capture_output=True,
                )
                ours = load_file(str(tmp / "out.safetensors"))["logits"]
                relative = ((ours - expected).abs().max() / expected.std()).item()
                worst = max(worst, relative)
                print(f"seed {seed} {arch:<14} {encoder:<16} {weights.suffix:<12} max|diff|/std {relative:.2e}")
    print(f"worst {worst:.2e}")
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2:]] or [1, 2])
