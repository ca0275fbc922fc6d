#!/usr/bin/python3
"""Writes the golden CRATE-α fixtures (fixtures/alpha/<name>.{pth,golden.safetensors,onnx}).

Each `<name>.pth` is what the authors' port saves: a plain state dict
(`torch.save(model.state_dict())`, no wrapper, no `module.` prefix) with random
weights at the port's initialisation scales. Its golden file holds, for two
inputs (noise and a smooth picture), the logits and per layer W (the official
Rᶜ's input), the attention, Z^{ℓ+½}, the sparse code z2 and Z^{ℓ+1}, computed
in float64 by `alpha_forward_trace` (tools/crate_alpha_ref.py) and rounded
once to float32, plus the official Rᶜ and the zero fraction of z2 per layer.
The metadata carries the config (heads included, which the .pth does not).

Reproducible from --seed (numpy's legacy RandomState, as tools/make_fixtures.py).

    /usr/bin/python3 tools/make_alpha_fixtures.py            # rewrite fixtures/alpha/
    /usr/bin/python3 tools/make_alpha_fixtures.py --check    # exit 1 if fixtures/alpha/ differs
"""

from __future__ import annotations

import os
import sys

import argparse
import json
import math
import tempfile
import zlib
from typing import Any, Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analysis_ref import official_rate  # noqa: E402
from alpha_onnx_export import export_alpha_onnx  # noqa: E402
from crate_alpha_ref import alpha_forward_trace, alpha_tensor_shapes, official_layout_model  # noqa: E402
from fixture_compare import compare_files  # noqa: E402
from make_fixtures import smooth_image  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

DEFAULT_SEED = 20261130
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "fixtures", "alpha")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
QKV_GAIN = 1.5  # sharper attention than the default init, as tools/make_fixtures.py explains

# Ratio 4 (the releases) and 2 and 3; dh 12, 6 (not a multiple of 4) and 6 with heads·dh ≠ d;
# grids 4×4, 6×6 and 5×5 (40 px with patch 8: N = 26).
CONFIGS: Dict[str, Dict[str, Any]] = {
    "alpha_r4": dict(image_size=32, patch_size=8, dim=24, depth=2, heads=2, dim_head=12, ratio=4, num_classes=10),
    "alpha_r2_dh6": dict(image_size=36, patch_size=6, dim=30, depth=2, heads=5, dim_head=6, ratio=2, num_classes=7),
    "alpha_r3_odd40": dict(image_size=40, patch_size=8, dim=20, depth=3, heads=3, dim_head=6, ratio=3, num_classes=5),
}


def full_config(name: str) -> Dict[str, Any]:
    c = dict(CONFIGS[name])
    c.update(channels=3, eta=0.1, pool="cls", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    c["lambda"] = 0.1
    return c


def config_text(config: Dict[str, Any]) -> str:
    keys = ("image_size", "patch_size", "channels", "dim", "depth", "heads", "dim_head", "ratio",
            "num_classes", "eta", "lambda", "pool", "mean", "std")
    return json.dumps({"arch": "crate-alpha", **{k: config[k] for k in keys}}, separators=(",", ":"))


def rng_for(seed: int, name: str, stream: str) -> np.random.RandomState:
    return np.random.RandomState([seed & 0xFFFFFFFF, zlib.crc32(name.encode()), zlib.crc32(stream.encode())])


def random_weights(config: Dict[str, Any], rng: np.random.RandomState) -> Dict[str, np.ndarray]:
    """The port's init scales: default Conv2d/Linear (U(±1/√fan_in)), kaiming-uniform D and D1 on
    [d, r·d] (fan_in r·d, so U(±√(6/(r·d)))); LayerNorm affine parameters perturbed from (1, 0)."""
    shapes = dict(alpha_tensor_shapes(config))
    out: Dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name.endswith(("norm.weight", "mlp_head.0.weight")):
            out[name] = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith(("norm.bias", "mlp_head.0.bias")):
            out[name] = 0.1 * rng.standard_normal(shape)
        elif name in ("cls_token", "pos_embedding"):
            out[name] = 0.5 * rng.standard_normal(shape)
        elif name.endswith((".D", ".D1")):
            out[name] = rng.uniform(-1, 1, size=shape) * math.sqrt(6.0 / shape[1])
        else:  # conv1.*, qkv, to_out, mlp_head.1.*: fan_in is the weight's input width.
            fan_in = int(np.prod(shapes[name.replace(".bias", ".weight")][1:]))
            gain = QKV_GAIN if name.endswith("qkv.weight") else 1.0
            out[name] = rng.uniform(-1, 1, size=shape) * gain / math.sqrt(fan_in)
    return {k: v.astype(np.float32) for k, v in out.items()}


def inputs_for(config: Dict[str, Any], rng: np.random.RandomState) -> List[np.ndarray]:
    size = config["image_size"]
    noise = rng.standard_normal([3, size, size]).astype(np.float32)
    return [noise, smooth_image({**config, "arch": "crate"})]


def build(name: str, seed: int):
    config = full_config(name)
    weights = random_weights(config, rng_for(seed, name, "weights"))
    state64 = {k: torch.from_numpy(v).double() for k, v in weights.items()}
    port = official_layout_model(config, weights)  # strict=True: the layout is the port's
    golden: Dict[str, np.ndarray] = {}
    for i, image in enumerate(inputs_for(config, rng_for(seed, name, "inputs"))):
        img = torch.from_numpy(image).double()
        trace = alpha_forward_trace(state64, config["heads"], img)
        with torch.no_grad():
            port_logits = port(img.unsqueeze(0))[0]
        gap = float((port_logits - trace["logits"]).abs().max() / trace["logits"].abs().max())
        if gap > 1e-10:
            raise RuntimeError(f"{name}: the description and the port layout disagree ({gap:.3g})")
        golden[f"input.{i}"] = image
        golden[f"input.{i}.logits"] = trace["logits"].numpy()
        for l, layer in enumerate(trace["layers"]):
            for key in ("w", "attention", "z_half", "z2", "z_next"):
                golden[f"input.{i}.layers.{l}.{key}"] = layer[key].numpy()
            golden[f"input.{i}.layers.{l}.official_rate"] = np.array(
                [official_rate(layer["w"].numpy(), config["heads"], config["dim_head"])])
            golden[f"input.{i}.layers.{l}.sparsity"] = np.array([float((layer["z2"] == 0).double().mean())])
    return config, weights, golden


def write_all(out_dir: str, seed: int, quiet: bool = False) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    written = []
    for name in CONFIGS:
        config, weights, golden = build(name, seed)
        text = config_text(config)
        pth = os.path.join(out_dir, f"{name}.pth")
        torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, pth)
        golden_path = os.path.join(out_dir, f"{name}.golden.safetensors")
        write_safetensors(golden_path, golden, {"config": text, "seed": str(seed)})
        onnx_path = os.path.join(out_dir, f"{name}.onnx")
        export_alpha_onnx(config, weights, onnx_path, text,
                          card={"name": f"fixture {name}", "summary": "random weights (tools/make_alpha_fixtures.py)"})
        for path in (pth, golden_path, onnx_path):
            written.append(os.path.basename(path))
            if not quiet:
                print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")
    return written


def same_state_dict(committed: str, fresh: str) -> List[str]:
    a, b = torch.load(committed), torch.load(fresh)
    if set(a) != set(b):
        return [f"keys differ: {sorted(set(a) ^ set(b))[:5]}"]
    return [f"tensor {k} differs" for k in a if a[k].shape != b[k].shape or not torch.equal(a[k], b[k])]


def check(out_dir: str, seed: int) -> int:
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for file in write_all(tmp, seed, quiet=True):
            committed, fresh = os.path.join(out_dir, file), os.path.join(tmp, file)
            if not os.path.exists(committed):
                problems.append(f"{file}: missing from {out_dir}")
            elif file.endswith(".pth"):
                problems += [f"{file}: {p}" for p in same_state_dict(committed, fresh)]
            elif file.endswith(".safetensors"):
                problems += [f"{file}: {p}" for p in compare_files(committed, fresh)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"fixtures in {os.path.relpath(out_dir)} match seed {seed}")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare with --out")
    args = parser.parse_args(argv)
    return check(args.out, args.seed) if args.check else (write_all(args.out, args.seed) and 0)


if __name__ == "__main__":
    sys.exit(main())
