#!/usr/bin/python3
"""A photo through torchvision's PIL-path evaluation transform and the CRATE-α reference.

Writes, into OUT_DIR, a small random CRATE-α checkpoint with an ImageNet input layout (3×224×224,
patch 16: N = 197) as the port saves it (`model.pth`, a plain state dict), and `expected.json`
with the logits of the reference (tools/crate_alpha_ref.py, float64) on IMAGE preprocessed as
tools/pil_eval_transform.py does, and the head count. The CLI test compares
`crate-explorer run model.pth IMAGE` with them (issue 16: ≤ 5e-3 relative).

    /usr/bin/python3 tools/alpha_photo_reference.py IMAGE OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crate_alpha_ref import alpha_forward_trace  # noqa: E402
from make_alpha_fixtures import random_weights  # noqa: E402
from pil_eval_transform import eval_transform  # noqa: E402

CONFIG = dict(image_size=224, patch_size=16, channels=3, dim=32, depth=2, heads=4, dim_head=8, ratio=4, num_classes=12)


def main(image: str, out_dir: str) -> None:
    weights = random_weights(CONFIG, np.random.RandomState(16))
    torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, os.path.join(out_dir, "model.pth"))
    x = torch.from_numpy(eval_transform(image)).double()
    trace = alpha_forward_trace({k: torch.from_numpy(v).double() for k, v in weights.items()}, CONFIG["heads"], x)
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump({"heads": CONFIG["heads"], "logits": trace["logits"].tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
