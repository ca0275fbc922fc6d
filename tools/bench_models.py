#!/usr/bin/python3
"""Writes the random-weight CRATE-T and CRATE-B models (224/16, docs/MEASUREMENTS.md §1 table) that
`npm run bench` times, as ONNX in the project's format. They are generated at bench time
into a temporary folder, never committed.

    /usr/bin/python3 tools/bench_models.py OUT_DIR [--only crate-t]
"""

from __future__ import annotations

import os
import sys

try:
    import torch  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *sys.argv[1:]])
    raise

import argparse

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crate_ref import CrateRef  # noqa: E402
from onnx_export import export_onnx  # noqa: E402

SHAPES = {
    "crate-t": {"dim": 384, "depth": 12, "heads": 6, "dim_head": 64},
    "crate-b": {"dim": 768, "depth": 12, "heads": 12, "dim_head": 64},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--only", choices=sorted(SHAPES), action="append")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.only or sorted(SHAPES):
        torch.manual_seed(0)
        config = {"image_size": 224, "patch_size": 16, "channels": 3, "num_classes": 1000, **SHAPES[name],
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
        model = CrateRef(config).eval()
        # Fresh LayerNorms are all ones and zeros, and torch.onnx.export merges identical
        # initializers into one, losing their official names: jitter them like a trained model.
        with torch.no_grad():
            for param_name, p in model.named_parameters():
                if ".norm." in param_name or param_name.startswith(("to_patch_embedding.1", "to_patch_embedding.3", "mlp_head.0")):
                    p.add_(0.02 * torch.randn_like(p))
        path = os.path.join(args.out, f"{name}.onnx")
        export_onnx(model, path, card={"name": f"{name} (random weights, bench only)"})
        print(f"{path} {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
