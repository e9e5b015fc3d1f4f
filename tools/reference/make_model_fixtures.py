"""Writes the model-zoo parity fixtures: logits of SMP/torchvision models with synthetic weights.

    /work/venv/torch/bin/python tools/reference/make_model_fixtures.py crates/models/tests/fixtures

Each case is one safetensors file holding `logits_eval` (BatchNorm running statistics) and
`logits_train` (batch statistics); `cases.json` lists them. Weights and input are regenerated
by boneseg from the same formula (see smp_reference.py), so only logits are stored.

The stored logits are the exact function, computed in float64. `cases.json` also records how
far PyTorch's own float32 forward is from them (`torch_f32_error_eval/train`, relative to the
logits' standard deviation): batch statistics over a batch of two make deep networks
ill-conditioned, and no float32 implementation can be held closer than PyTorch itself is.
"""

import json
import pathlib
import sys

import torch
from safetensors.torch import save_file

import smp_reference as ref

CLASSES = 4
CASES = [
    ("unet", "resnet18", [2, 3, 64, 64]),
    ("unet", "resnet18", [2, 3, 50, 70]),
    ("unet", "resnet50", [2, 3, 64, 64]),
    ("unetplusplus", "resnet18", [2, 3, 64, 64]),
    ("fpn", "resnet18", [2, 3, 64, 64]),
    ("deeplabv3", "resnet18", [2, 3, 64, 64]),
    ("deeplabv3plus", "resnet18", [2, 3, 64, 64]),
    ("deeplabv3plus", "resnet34", [2, 3, 64, 64]),
    ("unet", "efficientnet-b0", [2, 3, 64, 64]),
    ("unetplusplus", "efficientnet-b0", [2, 3, 64, 64]),
    ("deeplabv3plus", "efficientnet-b0", [2, 3, 64, 64]),
    ("unet", "efficientnet-b5", [2, 3, 64, 64]),
    ("fcn", "resnet50", [2, 3, 64, 64]),
    ("segformer", "mit_b0", [2, 3, 64, 64]),
    ("segformer", "resnet18", [2, 3, 64, 64]),
]


def main(out_dir: pathlib.Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = []
    for arch, encoder, shape in CASES:
        name = f"{arch}_{encoder}_{shape[2]}x{shape[3]}"
        model = ref.build(arch, encoder, CLASSES)
        ref.fill_synthetic(model)
        x = ref.synthetic_input(shape)
        entry = {"name": name, "arch": arch, "encoder": encoder, "classes": CLASSES, "input": shape}
        # The state dict's keys and shapes: boneseg's must be the same, not just self-consistent.
        entry["state_dict"] = {
            key: list(value.shape) for key, value in model.state_dict().items() if not key.endswith("num_batches_tracked")
        }
        tensors = {}
        for mode in ("eval", "train"):
            if mode == "eval":
                model.eval()
            else:
                ref.batch_statistics_mode(model)
            single = ref.logits(model.float(), x).double()
            exact = ref.logits(model.double(), x.double())
            model.float()
            error = ((single - exact).abs().max() / exact.std()).item()
            tensors[f"logits_{mode}"] = exact.float()
            entry[f"torch_f32_error_{mode}"] = error
            print(f"{name} {mode}: std {exact.std():.3f}, torch float32 error {error:.2e}")
        save_file(tensors, str(out_dir / f"{name}.safetensors"))
        listing.append(entry)
    (out_dir / "cases.json").write_text(json.dumps(listing, indent=1) + "\n")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
