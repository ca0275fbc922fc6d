#!/usr/bin/python3
"""Trains a shipped CRATE model on the CPU (docs/PLATFORM.md), resumably.

    /usr/bin/python3 tools/train.py digits  [--epochs E] [--threads T] [--swa-from E0 --swa-lr LR]
    /usr/bin/python3 tools/train.py fashion
    /usr/bin/python3 tools/train.py scenes

Writes tools/runs/<task>/checkpoint.pt after every epoch (model, optimiser, schedule, RNG
state, log) and resumes from it when run again, so a run cut short by the end of a session
goes on where it stopped. tools/runs/<task>/log.jsonl has one line per epoch with the
held-out accuracy and the cumulative wall time. `tools/export_model.py <task>` turns the
finished checkpoint into the shipped ONNX model, samples and model card.

--swa-from E0 switches to stochastic weight averaging (Izmailov et al., 2018) from epoch
E0 on: a constant learning rate --swa-lr, and the equal-weight mean of the weights after
each of those epochs is what is scored (`held_out_accuracy`) and exported; the running
weights' score is logged as `sgd_held_out_accuracy`. CRATE has only LayerNorms, so the
averaged weights need no statistics recomputed.
"""

from __future__ import annotations

import os
import sys

try:
    import torch  # noqa: F401
except ImportError:  # a python3 without torch: re-run under Debian's, which has it
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *sys.argv[1:]])
    raise

import argparse
import json
import math
import time
from typing import Any, Dict

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
from crate_ref import CrateRef  # noqa: E402

RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")

# One entry per shipped model. `mean`/`std` are the training set's pixel statistics;
# the engines normalise with them (config `mean`/`std`), so training does the same.
TASKS: Dict[str, Dict[str, Any]] = {
    "digits": {
        "config": {"image_size": 28, "patch_size": 4, "channels": 1, "dim": 96, "depth": 6, "heads": 4,
                   "dim_head": 24, "num_classes": 10, "labels": datasets.DIGIT_LABELS,
                   "mean": [0.1307], "std": [0.3081]},
        "epochs": 40, "batch": 128, "lr": 1e-3, "weight_decay": 0.05, "shift": 3, "affine_from_epoch": 60,
    },
    "fashion": {
        "config": {"image_size": 28, "patch_size": 4, "channels": 1, "dim": 96, "depth": 6, "heads": 4,
                   "dim_head": 24, "num_classes": 10, "labels": datasets.FASHION_LABELS,
                   "mean": [0.2860], "std": [0.3530]},
        "epochs": 12, "batch": 128, "lr": 1e-3, "weight_decay": 0.05, "shift": 2, "flip": True,
    },
    "scenes": {
        "config": {"image_size": 48, "patch_size": 6, "channels": 3, "dim": 96, "depth": 6, "heads": 4,
                   "dim_head": 24, "num_classes": 10, "labels": datasets.DIGIT_LABELS,
                   "mean": [0.45, 0.45, 0.45], "std": [0.25, 0.25, 0.25]},
        "epochs": 40, "batch": 128, "lr": 1e-3, "weight_decay": 0.05, "scenes_per_epoch": 10000,
        "held_out": 2000,
    },
}
SEED = 1234


def normalise(x: torch.Tensor, config: Dict[str, Any]) -> torch.Tensor:
    mean = torch.tensor(config["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(config["std"]).view(1, -1, 1, 1)
    return (x - mean) / std


def random_shift(x: torch.Tensor, pixels: int, g: torch.Generator) -> torch.Tensor:
    """Translates each image by up to ±pixels (zero fill): cheap augmentation for 28×28 data."""
    if pixels <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (pixels,) * 4)
    dy = torch.randint(0, 2 * pixels + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * pixels + 1, (b,), generator=g)
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])


def random_affine(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Rotation of up to ±10° and scaling by 0.9–1.1 about the centre: the usual MNIST augmentation."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=g) * 2 - 1) * (10 * torch.pi / 180)
    scale = 0.9 + 0.2 * torch.rand(b, generator=g)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale
    theta[:, 0, 1] = -torch.sin(angle) / scale
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def accuracy(model: CrateRef, x: torch.Tensor, y: torch.Tensor, config: Dict[str, Any]) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(y), 500):
        logits = model(normalise(x[i:i + 500], config))
        correct += int((logits.argmax(1) == y[i:i + 500]).sum())
    model.train()
    return correct / len(y)


def held_out(task: str, spec: Dict[str, Any]):
    if task == "digits":
        s = datasets.digits_split()
    elif task == "fashion":
        s = datasets.fashion_split()
    else:
        s = datasets.scenes_held_out(spec["held_out"], seed=SEED + 1)
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--epochs", type=int, help="total epochs (default: the task's)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--swa-from", type=int, help="average the weights of every epoch from this one on (SWA)")
    parser.add_argument("--swa-lr", type=float, default=2e-4, help="the constant learning rate while averaging")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    spec = TASKS[args.task]
    epochs = args.epochs or spec["epochs"]
    config = spec["config"]
    out_dir = os.path.join(RUNS, args.task)
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = os.path.join(out_dir, "checkpoint.pt")

    torch.manual_seed(SEED)
    model = CrateRef(config)
    # Official CRATE initialisation: trunc-normal-ish small weights are what timm-style code
    # uses; the reference's default nn init trains well at this size, so it is kept.
    data = held_out(args.task, spec)
    test_x, test_y = torch.from_numpy(data["test_x"]), torch.from_numpy(data["test_y"])
    if args.task == "scenes":
        split = datasets.digits_split()
        maker = datasets.SceneMaker(split["train_x"], split["train_y"], datasets.load_textures())
        steps_per_epoch = spec["scenes_per_epoch"] // spec["batch"]
    else:
        train_x, train_y = torch.from_numpy(data["train_x"]), torch.from_numpy(data["train_y"])
        steps_per_epoch = len(train_y) // spec["batch"]

    opt = torch.optim.AdamW(model.parameters(), lr=spec["lr"], weight_decay=spec["weight_decay"])
    total_steps = epochs * steps_per_epoch
    warmup = min(500, total_steps // 10)

    swa_from = args.swa_from if args.swa_from is not None else 10**9

    def lr_at(step: int) -> float:
        if step >= swa_from * steps_per_epoch:
            return args.swa_lr
        if step < warmup:
            return spec["lr"] * (step + 1) / warmup
        return spec["lr"] * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    g = torch.Generator().manual_seed(SEED)
    start_epoch, wall, log = 0, 0.0, []
    swa, swa_count = None, 0
    if os.path.exists(ckpt_path) and not args.fresh:
        state = torch.load(ckpt_path)
        model.load_state_dict(state["model"])
        swa, swa_count = state.get("swa"), state.get("swa_count", 0)
        opt.load_state_dict(state["opt"])
        g.set_state(state["generator"])
        start_epoch, wall, log = state["epoch"], state["wall"], state["log"]
        print(f"resuming {args.task} at epoch {start_epoch} ({wall:.0f} s so far)", flush=True)

    model.train()
    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        if args.task != "scenes":
            order = torch.randperm(len(train_y), generator=g)
        running = 0.0
        for step in range(steps_per_epoch):
            if args.task == "scenes":
                x, y, _ = maker.make(spec["batch"], g)
            else:
                idx = order[step * spec["batch"]:(step + 1) * spec["batch"]]
                x, y = train_x[idx], train_y[idx]
                x = random_shift(x, spec.get("shift", 0), g)
                if epoch >= spec.get("affine_from_epoch", 10**9):
                    x = random_affine(x, g)
                if spec.get("flip"):
                    flip = torch.rand(len(y), generator=g) < 0.5
                    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            for group in opt.param_groups:
                group["lr"] = lr_at(epoch * steps_per_epoch + step)
            loss = F.cross_entropy(model(normalise(x, config)), y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            running += float(loss)
        wall += time.time() - t0
        acc = accuracy(model, test_x, test_y, config)
        entry = {"epoch": epoch + 1, "loss": running / steps_per_epoch, "held_out_accuracy": acc, "wall_s": round(wall, 1)}
        if epoch >= swa_from:
            weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            swa_count += 1
            swa = weights if swa is None else {k: swa[k] + (weights[k] - swa[k]) / swa_count for k in swa}
            averaged = CrateRef(config)
            averaged.load_state_dict(swa)
            entry.update(held_out_accuracy=accuracy(averaged, test_x, test_y, config), sgd_held_out_accuracy=acc,
                         swa_epochs=swa_count)
        log.append(entry)
        print(json.dumps(entry), flush=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "generator": g.get_state(),
                    "epoch": epoch + 1, "wall": wall, "log": log, "config": config, "task": args.task,
                    "epochs": epochs, "seed": SEED, "threads": args.threads,
                    **({"swa": swa, "swa_count": swa_count, "swa_from": swa_from, "swa_lr": args.swa_lr} if swa is not None else {})},
                   ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        with open(os.path.join(out_dir, "log.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")
    print(f"done: {args.task} held-out accuracy {log[-1]['held_out_accuracy']:.4f} after {epochs} epochs, {wall:.0f} s")


if __name__ == "__main__":
    main()
