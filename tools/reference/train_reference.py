"""Reference values for boneseg-train's losses, optimisers and schedules.

Writes crates/train/tests/fixtures/{losses,optimisers,schedules}.json from PyTorch,
segmentation-models-pytorch (0.6: its Lovasz hinge, in multilabel mode and per channel) and
the `adamp` package, so the Rust tests compare against the
libraries a Python pipeline would use without needing Python themselves.

    /work/venv/torch/bin/pip install adamp
    /work/venv/torch/bin/python tools/reference/train_reference.py [losses] [optimisers] [schedules]

Inputs are drawn from a fixed seed and rounded to float32 (the Rust side reads them as f32);
references are computed in float64 from those rounded values, so the tests see only their
own float32 error.
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import segmentation_models_pytorch as smp

OUT = Path(__file__).resolve().parents[2] / "crates" / "train" / "tests" / "fixtures"


def short(x):
    """Nine significant digits: enough for float32, and half the size of a float64 repr."""
    return float(f"{x:.9g}")


def f32_list(t):
    return [short(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def rounded(t):
    """float32 values held in float64."""
    return t.to(torch.float32).to(torch.float64)


# ---------------------------------------------------------------- losses


def per_image_tversky(logits, targets, alpha, beta, smooth, eps=1e-7):
    """SMP's soft_tversky_score over pixels only (dims=(2,)), masked per image and class."""
    n, c = logits.shape[:2]
    p = torch.sigmoid(logits).reshape(n, c, -1)
    t = targets.reshape(n, c, -1)
    tp = (p * t).sum(2)
    fp = p.sum(2) - tp
    fn = t.sum(2) - tp
    score = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth).clamp_min(eps)
    return ((1 - score) * (t.sum(2) > 0)).mean()


def in_float32(loss):
    """SMP's Lovasz casts the sorted labels to float32 (`_lovasz_grad`), so it runs in float32."""
    return lambda x, t: loss(x.float(), t.float())


def per_class_lovasz(x, t, per_image, class_weights=None):
    """SMP's binary Lovasz hinge on each channel alone, then SMP's class-weighted mean."""
    x, t = x.float(), t.float()
    lovasz = smp.losses.LovaszLoss("binary", per_image=per_image)
    w = torch.tensor(class_weights or [1.0] * x.shape[1], dtype=x.dtype)
    per_class = torch.stack([lovasz(x[:, c], t[:, c]) for c in range(x.shape[1])])
    return (per_class * w).sum() / w.sum()


def per_image_dice_weighted(x, t, class_weights):
    """The per-image Dice with SMP's class weighting: sum(w_c l_nc) / (N sum(w))."""
    n, c = x.shape[:2]
    p = torch.sigmoid(x).reshape(n, c, -1)
    t = t.reshape(n, c, -1)
    score = smp.losses._functional.soft_dice_score(p, t, smooth=0.0, eps=1e-7, dims=(2,))
    w = torch.tensor(class_weights, dtype=x.dtype)
    return ((1 - score) * (t.sum(2) > 0) * w).sum() / (n * w.sum())


def losses():
    g = torch.Generator().manual_seed(4)
    shape = (2, 3, 6, 6)
    logits = rounded(torch.randn(shape, generator=g, dtype=torch.float64) * 2.0)
    targets = (torch.rand(shape, generator=g, dtype=torch.float64) < 0.4).to(torch.float64)
    targets[0, 1] = 0.0  # empty in one image: the per-image variants mask it
    targets[:, 2, :3] = 0.0
    pos_weight = [2.0, 0.5, 3.0]
    pw = torch.tensor(pos_weight, dtype=torch.float64).view(3, 1, 1)

    cases = {
        "bce": ({"kind": "bce", "weight": 1.0}, lambda x, t: F.binary_cross_entropy_with_logits(x, t)),
        "bce_pos_weight": (
            {"kind": "bce", "weight": 1.0, "pos_weight": pos_weight},
            lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
        ),
        "dice": ({"kind": "dice", "weight": 1.0}, smp.losses.DiceLoss("multilabel", from_logits=True)),
        "dice_smooth": (
            {"kind": "dice", "weight": 1.0, "smooth": 1.0},
            smp.losses.DiceLoss("multilabel", from_logits=True, smooth=1.0),
        ),
        "dice_per_image": (
            {"kind": "dice", "weight": 1.0, "per_image": True},
            lambda x, t: per_image_tversky(x, t, 0.5, 0.5, 0.0),
        ),
        "focal": ({"kind": "focal", "weight": 1.0}, smp.losses.FocalLoss("multilabel")),
        "focal_alpha": (
            {"kind": "focal", "weight": 1.0, "alpha": 0.25, "gamma": 1.5},
            smp.losses.FocalLoss("multilabel", alpha=0.25, gamma=1.5),
        ),
        "jaccard": ({"kind": "jaccard", "weight": 1.0}, smp.losses.JaccardLoss("multilabel", from_logits=True)),
        "tversky": (
            {"kind": "tversky", "weight": 1.0, "alpha": 0.3, "beta": 0.7, "gamma": 1.5, "smooth": 0.5},
            smp.losses.TverskyLoss("multilabel", from_logits=True, alpha=0.3, beta=0.7, gamma=1.5, smooth=0.5),
        ),
    }
    cw = [0.5, 2.0, 1.25]
    cases.update({
        "lovasz": ({"kind": "lovasz", "weight": 1.0}, in_float32(smp.losses.LovaszLoss("multilabel"))),
        "lovasz_per_image": (
            {"kind": "lovasz", "weight": 1.0, "per_image": True},
            in_float32(smp.losses.LovaszLoss("multilabel", per_image=True)),
        ),
        "lovasz_per_class": (
            {"kind": "lovasz", "weight": 1.0, "per_class": True},
            lambda x, t: per_class_lovasz(x, t, per_image=False),
        ),
        "lovasz_per_class_per_image": (
            {"kind": "lovasz", "weight": 1.0, "per_class": True, "per_image": True},
            lambda x, t: per_class_lovasz(x, t, per_image=True),
        ),
        "lovasz_class_weights": (
            {"kind": "lovasz", "weight": 1.0, "per_class": True, "per_image": True, "class_weights": cw},
            lambda x, t: per_class_lovasz(x, t, per_image=True, class_weights=cw),
        ),
        # SMP's convention, sum(w_c L_c) / sum(w): for BCE, torch's weight= scaled to mean 1.
        "bce_class_weights": (
            {"kind": "bce", "weight": 1.0, "pos_weight": pos_weight, "class_weights": cw},
            lambda x, t: F.binary_cross_entropy_with_logits(
                x, t, weight=(torch.tensor(cw, dtype=x.dtype) / (sum(cw) / 3)).view(3, 1, 1), pos_weight=pw
            ),
        ),
        "focal_class_weights": (
            {"kind": "focal", "weight": 1.0, "class_weights": cw},
            smp.losses.FocalLoss("multilabel", class_weights=cw),
        ),
        "dice_class_weights": (
            {"kind": "dice", "weight": 1.0, "class_weights": cw},
            smp.losses.DiceLoss("multilabel", from_logits=True, class_weights=cw),
        ),
        "dice_per_image_class_weights": (
            {"kind": "dice", "weight": 1.0, "per_image": True, "class_weights": cw},
            lambda x, t: per_image_dice_weighted(x, t, cw),
        ),
        "tversky_class_weights": (
            {"kind": "tversky", "weight": 1.0, "alpha": 0.3, "beta": 0.7, "gamma": 1.5, "class_weights": cw},
            smp.losses.TverskyLoss("multilabel", from_logits=True, alpha=0.3, beta=0.7, gamma=1.5, class_weights=cw),
        ),
    })
    combined_terms = [{"kind": "focal", "weight": 0.5}, {"kind": "dice", "weight": 0.5}]
    focal, dice = cases["focal"][1], cases["dice"][1]

    out = []
    for name, (term, fn) in cases.items():
        out.append(reference_loss(name, [term], fn, logits, targets))
    out.append(reference_loss("focal+dice", combined_terms, lambda x, t: 0.5 * focal(x, t) + 0.5 * dice(x, t), logits, targets))
    return {"shape": list(shape), "logits": f32_list(logits), "targets": f32_list(targets), "cases": out}


def reference_loss(name, terms, fn, logits, targets):
    x = logits.clone().requires_grad_(True)
    value = fn(x, targets)
    value.backward()
    return {"name": name, "terms": terms, "value": float(value.detach()), "grad": [short(v) for v in x.grad.reshape(-1).tolist()]}


# ---------------------------------------------------------------- optimisers


def orthogonal_to(random, weight, per_channel):
    """`random` without its component along `weight` (per output channel or as a whole)."""
    if per_channel:
        w = weight.reshape(weight.shape[0], -1)
        r = random.reshape(weight.shape[0], -1)
        r = r - (r * w).sum(1, keepdim=True) / (w * w).sum(1, keepdim=True) * w
        return r.reshape(weight.shape)
    w, r = weight.reshape(-1), random.reshape(-1)
    return (r - (r @ w) / (w @ w) * w).reshape(weight.shape)


def optimiser_case(name, config, make, steps=4, grad_mode="free"):
    """Runs torch's optimiser in float32 for `steps` steps on three tensors (a conv-like
    4-D weight, a 2-D weight, a bias), recording each step's gradient and the results."""
    g = torch.Generator().manual_seed(11)
    params = [
        torch.randn(4, 2, 3, 3, generator=g),
        torch.randn(3, 5, generator=g),
        torch.randn(4, generator=g) * 0.1,
    ]
    params = [p.clone().requires_grad_(True) for p in params]
    initial = [f32_list(p) for p in params]
    optimiser = make(params)
    grads = []
    for _ in range(steps):
        step_grads = []
        for index, p in enumerate(params):
            random = torch.randn(p.shape, generator=g) * 0.5
            if grad_mode != "free" and index == 0:
                random = orthogonal_to(random, p.detach(), per_channel=(grad_mode == "channel"))
            p.grad = random.clone()
            step_grads.append(f32_list(random))
        grads.append(step_grads)
        optimiser.step()
    return {
        "name": name,
        "config": config,
        "shapes": [list(p.shape) for p in params],
        "initial": initial,
        "grads": grads,
        "expected": [f32_list(p) for p in params],
    }


def optimisers():
    from adamp import AdamP  # only this fixture needs it

    lr = 1e-2
    cases = [
        optimiser_case(
            "adam",
            {"kind": "adam", "lr": lr, "weight_decay": 1e-2},
            lambda p: torch.optim.Adam(p, lr=lr, weight_decay=1e-2),
        ),
        optimiser_case(
            "adamw",
            {"kind": "adamw", "lr": lr, "weight_decay": 0.1, "betas": [0.8, 0.99], "eps": 1e-6},
            lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=0.1, betas=(0.8, 0.99), eps=1e-6),
        ),
        optimiser_case(
            "sgd_momentum_dampening",
            {"kind": "sgd", "lr": lr, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3},
            lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, dampening=0.1, weight_decay=1e-3),
        ),
        optimiser_case(
            "sgd_nesterov",
            {"kind": "sgd", "lr": lr, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
            lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=1e-3),
        ),
    ]
    # AdamP: ordinary gradients (no projection), gradients orthogonal to each output
    # channel of the 4-D weight (channel projection) and to the weight as a whole only
    # (layer projection), with decay so that wd_ratio shows, and Nesterov once.
    for mode, nesterov in [("free", False), ("channel", False), ("layer", False), ("channel", True)]:
        name = f"adamp_{mode}" + ("_nesterov" if nesterov else "")
        config = {"kind": "adamp", "lr": lr, "weight_decay": 0.1}
        if nesterov:
            config["nesterov"] = True
        cases.append(
            optimiser_case(
                name,
                config,
                lambda p, nesterov=nesterov: AdamP(p, lr=lr, weight_decay=0.1, nesterov=nesterov),
                grad_mode=mode,
            )
        )

    g = torch.Generator().manual_seed(5)
    clip_grads = [torch.randn(4, 2, 3, 3, generator=g), torch.randn(3, 5, generator=g), torch.randn(4, generator=g)]
    clipped = [t.clone().requires_grad_(True) for t in clip_grads]
    for p, grad in zip(clipped, clip_grads):
        p.grad = grad.clone()
    norm = torch.nn.utils.clip_grad_norm_(clipped, max_norm=1.5)
    clip = {
        "max_norm": 1.5,
        "shapes": [list(t.shape) for t in clip_grads],
        "grads": [f32_list(t) for t in clip_grads],
        "total_norm": float(norm),
        "clipped": [f32_list(p.grad) for p in clipped],
    }
    return {"cases": cases, "clip": clip}


# ---------------------------------------------------------------- schedules


def scheduled(make, steps, lr=0.1, metrics=None):
    param = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.SGD([param], lr=lr)
    scheduler = make(optimiser)
    lrs = []
    for step in range(steps):
        if metrics is None:
            lrs.append(optimiser.param_groups[0]["lr"])
            optimiser.step()
            scheduler.step()
        else:
            scheduler.step(metrics[step])
            lrs.append(optimiser.param_groups[0]["lr"])
    return lrs


def schedules():
    sched = torch.optim.lr_scheduler
    steps, total, warmup = 50, 50, 8
    metrics = [0.5, 0.6, 0.65, 0.65, 0.651, 0.64, 0.66, 0.66, 0.66, 0.66, 0.66, 0.7, 0.7, 0.69, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    metrics += [0.70 + 0.0001 * i for i in range(30)]
    cases = [
        {
            "config": {"kind": "warmup_cosine", "warmup_steps": warmup, "start_factor": 0.1, "min_lr": 1e-4},
            "total_steps": total,
            "lrs": scheduled(
                lambda o: sched.SequentialLR(
                    o,
                    [
                        sched.LinearLR(o, start_factor=0.1, total_iters=warmup),
                        sched.CosineAnnealingLR(o, T_max=total - warmup, eta_min=1e-4),
                    ],
                    milestones=[warmup],
                ),
                steps,
            ),
        },
        {
            "config": {"kind": "poly", "power": 0.9},
            "total_steps": total,
            "lrs": scheduled(lambda o: sched.PolynomialLR(o, total_iters=total, power=0.9), steps),
        },
        {
            "config": {"kind": "step", "step_size": 7, "gamma": 0.5},
            "total_steps": total,
            "lrs": scheduled(lambda o: sched.StepLR(o, step_size=7, gamma=0.5), steps),
        },
        {
            "config": {"kind": "cosine_restarts", "t_0": 5, "t_mult": 2, "eta_min": 1e-3},
            "total_steps": total,
            "lrs": scheduled(lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-3), steps),
        },
        {
            "config": {"kind": "cosine_restarts", "t_0": 6},
            "total_steps": total,
            "lrs": scheduled(lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=6), steps),
        },
        {
            "config": {
                "kind": "plateau",
                "mode": "max",
                "factor": 0.5,
                "patience": 2,
                "threshold": 1e-3,
                "cooldown": 1,
                "min_lr": 0.02,
            },
            "total_steps": total,
            "metrics": metrics,
            "lrs": scheduled(
                lambda o: sched.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=2, threshold=1e-3, cooldown=1, min_lr=0.02),
                steps,
                metrics=metrics,
            ),
        },
        {
            "config": {"kind": "plateau", "mode": "min", "threshold_mode": "abs", "threshold": 0.01, "patience": 1},
            "total_steps": total,
            "metrics": [1.0 - m for m in metrics],
            "lrs": scheduled(
                lambda o: sched.ReduceLROnPlateau(o, mode="min", threshold_mode="abs", threshold=0.01, patience=1),
                steps,
                metrics=[1.0 - m for m in metrics],
            ),
        },
    ]
    return {"base_lr": 0.1, "cases": cases}


def main():
    """All three fixtures, or those named on the command line (`losses` needs no adamp)."""
    OUT.mkdir(parents=True, exist_ok=True)
    fixtures = [("losses", losses), ("optimisers", optimisers), ("schedules", schedules)]
    chosen = sys.argv[1:] or [name for name, _ in fixtures]
    for name, make in [(name, make) for name, make in fixtures if name in chosen]:
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(make(), separators=(",", ":")) + "\n")
        print(f"{path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
