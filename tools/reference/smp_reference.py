"""Reference models for boneseg's model zoo: SMP 0.6 and torchvision, built in PyTorch (CPU).

Shared by `make_model_fixtures.py` (committed parity fixtures) and `model_crosscheck.py`
(ad-hoc checks of `boneseg model forward` on real SMP state dicts). The synthetic weights
are a pure function of each state-dict key, so boneseg regenerates them itself and the
fixtures only need to carry the logits.
"""

import numpy as np
import segmentation_models_pytorch as smp
import torch
import torchvision

MASK = (1 << 64) - 1


def fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h ^= byte
        h = (h * 0x100000001B3) & MASK
    return h


def uniform(key: str, count: int) -> np.ndarray:
    """`count` numbers in [0, 1): splitmix64 of (fnv1a64(key) + i), top 53 bits."""
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a64(key)) + np.arange(count, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def synthetic_tensor(key: str, shape) -> torch.Tensor:
    """The value boneseg's `synthetic_weights` gives the parameter `key` (PyTorch layout)."""
    count = int(np.prod(shape))
    u = uniform(key, count)
    if key.endswith("running_var"):
        values = 0.5 + u
    elif key.endswith("running_mean") or (len(shape) == 1 and key.endswith("bias")):
        values = (u - 0.5) * 0.2
    elif len(shape) == 1:
        values = 0.9 + 0.2 * u
    else:
        # PyTorch's default init bound, 1/sqrt(fan_in): deep networks stay well conditioned,
        # so float32 implementations agree to ~1e-6 with running statistics.
        fan_in = count // shape[0]
        values = (u - 0.5) * (2.0 / np.sqrt(fan_in))
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


def synthetic_input(shape) -> torch.Tensor:
    u = uniform("input", int(np.prod(shape)))
    return torch.from_numpy(((u - 0.5) * 4.0).astype(np.float32).reshape(shape))


def build(arch: str, encoder: str, classes: int, decoder_channels=None) -> torch.nn.Module:
    """The PyTorch model boneseg's `--arch A --encoder E` mirrors (random init, no download);
    `decoder_channels` (U-Net, U-Net++) as boneseg's `model.decoder_channels`."""
    if arch == "fcn":
        constructors = {
            "resnet50": torchvision.models.segmentation.fcn_resnet50,
            "resnet101": torchvision.models.segmentation.fcn_resnet101,
        }
        return constructors[encoder](weights=None, weights_backbone=None, num_classes=classes, aux_loss=False)
    if arch == "hrnet":
        return HrnetV2(encoder, classes)
    constructors = {
        "unet": smp.Unet,
        "unetplusplus": smp.UnetPlusPlus,
        "fpn": smp.FPN,
        "deeplabv3": smp.DeepLabV3,
        "deeplabv3plus": smp.DeepLabV3Plus,
        "segformer": smp.Segformer,
        "upernet": smp.UPerNet,
    }
    widths = {} if decoder_channels is None else {"decoder_channels": tuple(decoder_channels)}
    return constructors[arch](encoder_name=encoder, encoder_weights=None, classes=classes, **widths)


class HrnetHead(torch.nn.Module):
    """HRNetV2's head: the branches brought to the first's stride 4 (bilinear), concatenated,
    1x1 conv-BN-ReLU (SMP's Conv2dReLU)."""

    def __init__(self, channels: int):
        super().__init__()
        self.fuse = smp.base.modules.Conv2dReLU(channels, channels, kernel_size=1, use_norm="batchnorm")

    def forward(self, features):
        branches = features[2:]
        size = branches[0].shape[2:]
        resized = [branches[0]] + [
            torch.nn.functional.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]
        ]
        return self.fuse(torch.cat(resized, dim=1))


class HrnetV2(torch.nn.Module):
    """boneseg's `arch = "hrnet"`: timm's HRNet features without the `incre` blocks (SMP's
    `tu-hrnet_w*` encoder with `feature_location=""`), HRNetV2's head, SMP's segmentation head
    (1x1 classifier, x4 bilinear). SMP has no such model; this is its definition for parity."""

    def __init__(self, encoder: str, classes: int):
        super().__init__()
        self.encoder = smp.encoders.get_encoder(encoder, weights=None, feature_location="")
        channels = sum(self.encoder.out_channels[2:])
        self.decoder = HrnetHead(channels)
        self.segmentation_head = smp.base.SegmentationHead(channels, classes, kernel_size=1, upsampling=4)

    def forward(self, x):
        return self.segmentation_head(self.decoder(self.encoder(x)))


def state_dict_listing(model: torch.nn.Module) -> str:
    """The state dict's keys and shapes, one `key:d0,d1,...` line each, sorted; BatchNorm's
    `num_batches_tracked` left out (boneseg has no such tensor)."""
    lines = sorted(
        f"{key}:{','.join(str(d) for d in value.shape)}"
        for key, value in model.state_dict().items()
        if not key.endswith("num_batches_tracked")
    )
    return "".join(line + "\n" for line in lines)


def fill_synthetic(model: torch.nn.Module) -> None:
    state = model.state_dict()
    filled = {
        key: (value if key.endswith("num_batches_tracked") else synthetic_tensor(key, tuple(value.shape)))
        for key, value in state.items()
    }
    model.load_state_dict(filled)


def batch_statistics_mode(model: torch.nn.Module) -> None:
    """Train mode for BatchNorm only: dropout, drop-connect and drop-path are random, so they stay off."""
    model.train()
    for module in model.modules():
        if isinstance(module, (torch.nn.Dropout, torch.nn.Dropout2d)):
            module.eval()
        if type(module).__name__ == "DropPath":
            module.drop_prob = 0.0
    encoder = getattr(model, "encoder", None)
    if encoder is not None and hasattr(encoder, "_drop_connect_rate"):
        encoder._drop_connect_rate = 0.0


def logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Forward with boneseg's rule for sizes that are not a multiple of 32: pad bottom/right, crop."""
    h, w = x.shape[2:]
    ph, pw = (-h) % 32, (-w) % 32
    padded = torch.nn.functional.pad(x, (0, pw, 0, ph))
    with torch.no_grad():
        out = model(padded)
    if isinstance(out, dict):
        out = out["out"]
    return out[:, :, :h, :w].contiguous()
