#!/usr/bin/python3
"""DINO's `interpolate_pos_encoding` on a CRATE-α checkpoint, and the reference forward pass at the new size.

    /usr/bin/python3 tools/interpolate_pos_ref.py MODEL.pth HEADS INPUT.npy OUT.json

INPUT.npy is a normalised [3, H, W] image at the new size (a multiple of the patch size). Writes
the interpolated positional embedding and the logits of tools/crate_alpha_ref.py on it (float64).
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crate_alpha_ref import alpha_forward_trace  # noqa: E402


def interpolate_pos_encoding(pos: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """As DINO's vision_transformer.py: bicubic, scale_factor (rows + 0.1)/g, (cols + 0.1)/g, class token kept."""
    n = pos.shape[1] - 1
    g = int(math.sqrt(n))
    dim = pos.shape[-1]
    grid = pos[:, 1:].reshape(1, g, g, dim).permute(0, 3, 1, 2)
    resized = F.interpolate(grid, scale_factor=((rows + 0.1) / g, (cols + 0.1) / g), mode="bicubic")
    assert resized.shape[-2:] == (rows, cols), resized.shape
    return torch.cat((pos[:, :1], resized.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)


def main(model: str, heads: int, image: str, out: str) -> None:
    state = {k: v.double() for k, v in torch.load(model).items()}
    x = torch.from_numpy(np.load(image)).double()
    p = state["conv1.weight"].shape[-1]
    state["pos_embedding"] = interpolate_pos_encoding(state["pos_embedding"], x.shape[1] // p, x.shape[2] // p)
    trace = alpha_forward_trace(state, heads, x)
    with open(out, "w") as f:
        json.dump({"pos_embedding": state["pos_embedding"].flatten().tolist(), "logits": trace["logits"].tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
