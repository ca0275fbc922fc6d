#!/usr/bin/python3
"""Writes the golden CRATE fixtures (fixtures/<name>.{model,golden}.safetensors).

Reproducible byte for byte from --seed: weights and the random input come from
numpy's legacy RandomState (its streams are frozen across numpy versions),
seeded with [seed, crc32(name)]; they are drawn in float64 and rounded to
float32, which is what is stored. The reference forward pass runs in float64
(model.double()) on those float32 values and its results are rounded to
float32 once, so the golden values are more accurate than any float32 engine.

    /usr/bin/python3 tools/make_fixtures.py            # rewrite fixtures/
    /usr/bin/python3 tools/make_fixtures.py --check    # exit 1 if fixtures/ differs
"""

from __future__ import annotations

import os
import sys

try:
    import torch  # noqa: F401
except ImportError:  # e.g. `npm run fixtures` with a python3 that has no torch: use Debian's.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *sys.argv[1:]])
    raise

import argparse
import json
import math
import tempfile
import time
import zlib
from typing import Any, Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crate_ref import config_json, derived_shape, model_from_tensors, normalise_config, official_tensor_shapes  # noqa: E402
from onnx_export import export_onnx  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from fixture_compare import compare_files  # noqa: E402

DEFAULT_SEED = 20240611
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "fixtures")

# U is drawn QKV_GAIN times wider than PyTorch's default Linear init. At the
# default scale the attention logits have a std of about 1/3 and every softmax
# row is nearly uniform, which would let a wrong scale or a missing max
# subtraction pass unnoticed; trained CRATE attention is much sharper.
QKV_GAIN = 1.5

# Small configurations that still exercise every shape corner an engine can get
# wrong: grey input, heads·dh ≠ dim, non-square images, mean pooling.
CONFIGS: Dict[str, Dict[str, Any]] = {
    "grey17": dict(
        image_size=28, patch_size=7, channels=1, dim=48, depth=3, heads=4, dim_head=12,
        num_classes=10, pool="cls", mean=[0.1307], std=[0.3081],
    ),
    "colour50": dict(
        image_size=35, patch_size=5, channels=3, dim=40, depth=3, heads=3, dim_head=16,
        num_classes=7, pool="cls", mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225],
    ),
    "wide31": dict(
        image_size=[30, 36], patch_size=6, channels=3, dim=64, depth=4, heads=2, dim_head=24,
        num_classes=5, pool="mean", mean=[0.5, 0.4, 0.3], std=[0.25, 0.2, 0.3],
    ),
}


def full_config(name: str) -> Dict[str, Any]:
    raw = dict(CONFIGS[name])
    raw.update(arch="crate", eta=0.1, labels=[f"class {i}" for i in range(raw["num_classes"])])
    raw["lambda"] = 0.1
    return normalise_config(raw)


def rng_for(seed: int, name: str, stream: str) -> np.random.RandomState:
    return np.random.RandomState([seed & 0xFFFFFFFF, zlib.crc32(name.encode()), zlib.crc32(stream.encode())])


def random_weights(config: Dict[str, Any], rng: np.random.RandomState) -> Dict[str, np.ndarray]:
    """Realistic scales: PyTorch's default Linear init, the official kaiming-uniform D,
    LayerNorm affine parameters perturbed from (1, 0) so that they matter."""
    s = derived_shape(config)
    d, inner = config["dim"], s["inner_dim"]

    def uniform(bound: float, shape: List[int]) -> np.ndarray:
        return rng.uniform(-bound, bound, size=shape)

    def linear(prefix: str, fan_out: int, fan_in: int, bias: bool = True, gain: float = 1.0) -> None:
        # nn.Linear.reset_parameters: kaiming_uniform_(a=√5) => U(±1/√fan_in); bias U(±1/√fan_in).
        bound = gain / math.sqrt(fan_in)
        out[f"{prefix}.weight"] = uniform(bound, [fan_out, fan_in])
        if bias:
            out[f"{prefix}.bias"] = uniform(bound, [fan_out])

    def layer_norm(prefix: str, width: int) -> None:
        out[f"{prefix}.weight"] = 1.0 + 0.1 * rng.standard_normal(width)
        out[f"{prefix}.bias"] = 0.1 * rng.standard_normal(width)

    out: Dict[str, np.ndarray] = {}
    out["cls_token"] = 0.5 * rng.standard_normal([1, 1, d])
    out["pos_embedding"] = 0.5 * rng.standard_normal([1, s["tokens"], d])
    layer_norm("to_patch_embedding.1", s["patch_dim"])
    linear("to_patch_embedding.2", d, s["patch_dim"])
    layer_norm("to_patch_embedding.3", d)
    for i in range(config["depth"]):
        p = f"transformer.layers.{i}"
        layer_norm(f"{p}.0.norm", d)
        linear(f"{p}.0.fn.qkv", inner, d, bias=False, gain=QKV_GAIN)
        linear(f"{p}.0.fn.to_out.0", d, inner)
        layer_norm(f"{p}.1.norm", d)
        # Official ISTA init: init.kaiming_uniform_(weight) (a=0) => U(±√(6/fan_in)), fan_in = d.
        out[f"{p}.1.fn.weight"] = uniform(math.sqrt(6.0 / d), [d, d])
    layer_norm("mlp_head.0", d)
    linear("mlp_head.1", config["num_classes"], d)

    shapes = dict(official_tensor_shapes(config))
    assert set(out) == set(shapes), set(out) ^ set(shapes)
    for key, value in out.items():
        assert list(value.shape) == shapes[key], (key, value.shape, shapes[key])
    return {key: value.astype(np.float32) for key, value in out.items()}


def smooth_image(config: Dict[str, Any]) -> np.ndarray:
    """A structured [0,1] picture (a lit blob over tilted stripes, one phase per channel), then normalised."""
    s = derived_shape(config)
    h, w, channels = s["image_height"], s["image_width"], config["channels"]
    y, x = np.meshgrid(np.arange(h, dtype=np.float64) / h, np.arange(w, dtype=np.float64) / w, indexing="ij")
    blob = np.exp(-(((x - 0.62) / 0.22) ** 2 + ((y - 0.4) / 0.3) ** 2))
    pixels = []
    for c in range(channels):
        stripes = 0.5 + 0.5 * np.sin(2 * math.pi * (1.3 * x + 0.7 * y) + 2.1 * c)
        pixels.append(np.clip(0.15 + 0.55 * blob + 0.3 * stripes * (1 - 0.5 * blob), 0.0, 1.0))
    pixels = np.stack(pixels)
    mean = np.asarray(config["mean"], dtype=np.float64)[:, None, None]
    std = np.asarray(config["std"], dtype=np.float64)[:, None, None]
    return ((pixels - mean) / std).astype(np.float32)


def inputs_for(config: Dict[str, Any], rng: np.random.RandomState) -> List[np.ndarray]:
    s = derived_shape(config)
    noise = rng.standard_normal([config["channels"], s["image_height"], s["image_width"]]).astype(np.float32)
    return [noise, smooth_image(config)]


def build(name: str, seed: int):
    """Returns (config, weights, model tensors+metadata, golden tensors+metadata) for one fixture."""
    config = full_config(name)
    weights = random_weights(config, rng_for(seed, name, "weights"))
    images = inputs_for(config, rng_for(seed, name, "inputs"))
    model = model_from_tensors(config, weights, dtype=torch.float64)
    golden: Dict[str, np.ndarray] = {}
    for i, image in enumerate(images):
        trace = model.forward_trace(torch.from_numpy(image).double())
        golden[f"input.{i}"] = image
        golden[f"input.{i}.patches"] = trace["patches"]
        for l, layer in enumerate(trace["layers"]):
            for key in ("z", "ln1", "w", "attention", "z_half", "ln2", "z_next"):
                golden[f"input.{i}.layers.{l}.{key}"] = layer[key]
        golden[f"input.{i}.logits"] = trace["logits"]
    golden = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in golden.items()}
    cfg = config_json(config)
    return config, (weights, {"config": cfg}), (golden, {"config": cfg, "seed": str(seed)})


def write_all(out_dir: str, seed: int, quiet: bool = False) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)  # one summation order for the float64 reference
    written = []
    for name in CONFIGS:
        _, (weights, model_meta), (golden, golden_meta) = build(name, seed)
        for suffix, tensors, meta in (("model", weights, model_meta), ("golden", golden, golden_meta)):
            path = os.path.join(out_dir, f"{name}.{suffix}.safetensors")
            size = write_safetensors(path, tensors, meta)
            written.append(os.path.basename(path))
            if not quiet:
                print(f"wrote {os.path.relpath(path)} ({size} bytes, {len(tensors)} tensors)")
        # The same weights in the project's ONNX format, for the ONNX reader and onnxruntime-web tests.
        onnx_path = os.path.join(out_dir, f"{name}.onnx")
        export_onnx(model_from_tensors(json.loads(model_meta["config"]), weights, torch.float32), onnx_path,
                    card={"name": f"fixture {name}", "summary": "random weights (tools/make_fixtures.py)"})
        written.append(os.path.basename(onnx_path))
        if not quiet:
            print(f"wrote {os.path.relpath(onnx_path)} ({os.path.getsize(onnx_path)} bytes)")
    return written


def check(out_dir: str, seed: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        names = write_all(tmp, seed, quiet=True)
        problems = []
        for file in names:
            committed = os.path.join(out_dir, file)
            if not os.path.exists(committed):
                problems.append(f"{file}: missing from {out_dir}")
            else:
                problems += [f"{file}: {p}" for p in compare_files(committed, os.path.join(tmp, file))]
        stale = sorted(
            f for f in os.listdir(out_dir) if f.endswith((".model.safetensors", ".golden.safetensors", ".onnx")) and f not in names
        ) if os.path.isdir(out_dir) else []
        problems += [f"{f}: not produced by make_fixtures.py" for f in stale]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(names)} fixtures in {os.path.relpath(out_dir)} match seed {seed} (tolerances: tools/fixture_compare.py)")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: fixtures/ at the repo root)")
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare bytes with --out")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out, args.seed)
    start = time.perf_counter()
    write_all(args.out, args.seed)
    print(f"done in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
