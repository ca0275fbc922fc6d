"""PyTorch reference of the official CRATE image classifier (docs/MEASUREMENTS.md §1).

Module structure and state-dict names follow the official `model/crate.py`
exactly, so an official checkpoint loads with `strict=True`:

    cls_token                               [1, 1, d]
    pos_embedding                           [1, N, d]
    to_patch_embedding.{1,3}.{weight,bias}  LayerNorm(patch_dim), LayerNorm(d)
    to_patch_embedding.2.{weight,bias}      Linear(patch_dim, d)
    transformer.layers.{i}.0.norm.*         LN1 (PreNorm of MSSA)
    transformer.layers.{i}.0.fn.qkv.weight  U, [heads*dim_head, d], no bias
    transformer.layers.{i}.0.fn.to_out.0.*  Linear(heads*dim_head, d)
    transformer.layers.{i}.1.norm.*         LN2 (PreNorm of ISTA)
    transformer.layers.{i}.1.fn.weight      D, [d, d]
    mlp_head.0.*, mlp_head.1.*              LayerNorm(d), Linear(d, classes)

einops is not available here; the patchify rearrangement
`b c (h p1) (w p2) -> b (h w) (p1 p2 c)` is written with reshape/permute.
Dropout is omitted at inference except where a module must exist for the
state-dict names (`to_out.1`), where it is an identity `nn.Dropout(0.0)`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import init

LAYER_NORM_EPS = 1e-5

# Config keys in the order they are serialised (the project's `__metadata__.config`).
CONFIG_KEYS = (
    "arch", "image_size", "patch_size", "channels", "dim", "depth", "heads", "dim_head",
    "num_classes", "eta", "lambda", "pool", "labels", "mean", "std",
)


def image_hw(config: Dict[str, Any]) -> Tuple[int, int]:
    size = config["image_size"]
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[1])
    return int(size), int(size)


def derived_shape(config: Dict[str, Any]) -> Dict[str, int]:
    """The same derived sizes as `shapeOf` in src/engine/config.ts."""
    h, w = image_hw(config)
    p = config["patch_size"]
    if h % p or w % p:
        raise ValueError(f"patch_size {p} does not divide the image size {h}x{w}")
    gh, gw = h // p, w // p
    return {
        "image_height": h, "image_width": w, "grid_height": gh, "grid_width": gw,
        "tokens": 1 + gh * gw, "patch_dim": p * p * config["channels"],
        "inner_dim": config["heads"] * config["dim_head"],
    }


def normalise_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """Fills the documented defaults (as parseConfig does) and fixes the key order."""
    out = dict(config)
    out.setdefault("arch", "crate")
    out.setdefault("eta", 0.1)
    out.setdefault("lambda", 0.1)
    out.setdefault("pool", "cls")
    out.setdefault("labels", [str(i) for i in range(out["num_classes"])])
    out.setdefault("mean", [0.0] * out["channels"])
    out.setdefault("std", [1.0] * out["channels"])
    if out["arch"] != "crate":
        raise ValueError(f"arch {out['arch']!r} is not supported")
    if out["pool"] not in ("cls", "mean"):
        raise ValueError(f"pool must be 'cls' or 'mean', got {out['pool']!r}")
    if isinstance(out["image_size"], tuple):
        out["image_size"] = list(out["image_size"])
    derived_shape(out)
    return {k: out[k] for k in CONFIG_KEYS}


def config_json(config: Dict[str, Any]) -> str:
    """Deterministic compact JSON of a config (keys in CONFIG_KEYS order)."""
    return json.dumps(normalise_config(config), separators=(",", ":"))


def official_tensor_shapes(config: Dict[str, Any]) -> List[Tuple[str, List[int]]]:
    """Every official state-dict name with its shape, in the order of `officialTensorShapes` (model.ts)."""
    s = derived_shape(config)
    d, n, pd, inner = config["dim"], s["tokens"], s["patch_dim"], s["inner_dim"]
    names: List[Tuple[str, List[int]]] = [
        ("cls_token", [1, 1, d]),
        ("pos_embedding", [1, n, d]),
        ("to_patch_embedding.1.weight", [pd]),
        ("to_patch_embedding.1.bias", [pd]),
        ("to_patch_embedding.2.weight", [d, pd]),
        ("to_patch_embedding.2.bias", [d]),
        ("to_patch_embedding.3.weight", [d]),
        ("to_patch_embedding.3.bias", [d]),
    ]
    for i in range(config["depth"]):
        p = f"transformer.layers.{i}"
        names += [
            (f"{p}.0.norm.weight", [d]),
            (f"{p}.0.norm.bias", [d]),
            (f"{p}.0.fn.qkv.weight", [inner, d]),
            (f"{p}.0.fn.to_out.0.weight", [d, inner]),
            (f"{p}.0.fn.to_out.0.bias", [d]),
            (f"{p}.1.norm.weight", [d]),
            (f"{p}.1.norm.bias", [d]),
            (f"{p}.1.fn.weight", [d, d]),
        ]
    names += [
        ("mlp_head.0.weight", [d]),
        ("mlp_head.0.bias", [d]),
        ("mlp_head.1.weight", [config["num_classes"], d]),
        ("mlp_head.1.bias", [config["num_classes"]]),
    ]
    return names


class Patchify(nn.Module):
    """`b c (h p1) (w p2) -> b (h w) (p1 p2 c)` (the official einops Rearrange)."""

    def __init__(self, patch_size: int):
        super().__init__()
        self.p = patch_size

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = img.shape
        p = self.p
        h, w = hh // p, ww // p
        x = img.reshape(b, c, h, p, w, p)          # b c h p1 w p2
        x = x.permute(0, 2, 4, 3, 5, 1)             # b h w p1 p2 c
        return x.reshape(b, h * w, p * p * c)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.fn = fn

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fn(self.norm(x), **kwargs)


class Attention(nn.Module):
    """MSSA: W = X·Uᵀ, per head A_k = softmax(W_k W_kᵀ·dh^-½), O_k = A_k W_k, then to_out."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dim_head = dim_head
        self.scale = dim_head ** -0.5
        self.qkv = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(0.0))

    def parts(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        b, n, _ = x.shape
        w_flat = self.qkv(x)                                                   # b n (h dh)
        w = w_flat.reshape(b, n, self.heads, self.dim_head).permute(0, 2, 1, 3)  # b h n dh
        dots = torch.matmul(w, w.transpose(-1, -2)) * self.scale
        attn = torch.softmax(dots, dim=-1)
        out = torch.matmul(attn, w)                                            # b h n dh
        out = out.permute(0, 2, 1, 3).reshape(b, n, self.heads * self.dim_head)
        return {"w": w_flat, "attention": attn, "out": self.to_out(out)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)["out"]


class FeedForward(nn.Module):
    """ISTA step, written exactly as the official code (no residual around it)."""

    def __init__(self, dim: int, step_size: float = 0.1, lambd: float = 0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, dim))
        with torch.no_grad():
            init.kaiming_uniform_(self.weight)
        self.step_size = step_size
        self.lambd = lambd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.linear(x, self.weight, None)            # x·Dᵀ
        grad_1 = F.linear(x1, self.weight.t(), None)   # x·Dᵀ·D
        grad_2 = F.linear(x, self.weight.t(), None)    # x·D
        grad_update = self.step_size * (grad_2 - grad_1) - self.step_size * self.lambd
        return F.relu(x + grad_update)


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, eta: float, lambd: float):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([
                PreNorm(dim, Attention(dim, heads, dim_head)),
                PreNorm(dim, FeedForward(dim, eta, lambd)),
            ])
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn, ff in self.layers:
            x = ff(attn(x) + x)
        return x


class CrateRef(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.config = normalise_config(config)
        c = self.config
        s = derived_shape(c)
        self.shape = s
        d = c["dim"]
        self.to_patch_embedding = nn.Sequential(
            Patchify(c["patch_size"]),
            nn.LayerNorm(s["patch_dim"], eps=LAYER_NORM_EPS),
            nn.Linear(s["patch_dim"], d),
            nn.LayerNorm(d, eps=LAYER_NORM_EPS),
        )
        self.pos_embedding = nn.Parameter(torch.randn(1, s["tokens"], d))
        self.cls_token = nn.Parameter(torch.randn(1, 1, d))
        self.transformer = Transformer(d, c["depth"], c["heads"], c["dim_head"], c["eta"], c["lambda"])
        self.pool = c["pool"]
        self.mlp_head = nn.Sequential(nn.LayerNorm(d, eps=LAYER_NORM_EPS), nn.Linear(d, c["num_classes"]))

    def embed(self, img: torch.Tensor) -> torch.Tensor:
        x = self.to_patch_embedding(img)
        b = x.shape[0]
        cls = self.cls_token.expand(b, -1, -1)
        x = torch.cat((cls, x), dim=1)
        return x + self.pos_embedding

    def head(self, z: torch.Tensor) -> torch.Tensor:
        pooled = z.mean(dim=1) if self.pool == "mean" else z[:, 0]
        return self.mlp_head(pooled)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] normalised images -> [B, num_classes] logits."""
        return self.head(self.transformer(self.embed(img)))

    @torch.no_grad()
    def forward_trace(self, image: torch.Tensor) -> Dict[str, Any]:
        """One image [C, H, W]; returns every intermediate (batch dim dropped).

        Keys: patches [N-1, P*P*C]; z0 [N, d]; layers: list of dicts with
        z, ln1, w, attention [heads, N, N], z_half, ln2, z_next; pooled [d]; logits [classes].
        """
        img = image.unsqueeze(0)
        patches = self.to_patch_embedding[0](img)
        z = self.embed(img)
        z0 = z
        layers = []
        for attn_block, ff_block in self.transformer.layers:
            ln1 = attn_block.norm(z)
            parts = attn_block.fn.parts(ln1)
            z_half = parts["out"] + z
            ln2 = ff_block.norm(z_half)
            z_next = ff_block.fn(ln2)
            layers.append({
                "z": z[0], "ln1": ln1[0], "w": parts["w"][0], "attention": parts["attention"][0],
                "z_half": z_half[0], "ln2": ln2[0], "z_next": z_next[0],
            })
            z = z_next
        pooled = z.mean(dim=1) if self.pool == "mean" else z[:, 0]
        logits = self.mlp_head(pooled)
        return {"patches": patches[0], "z0": z0[0], "layers": layers, "pooled": pooled[0], "logits": logits[0]}


def model_from_tensors(config: Dict[str, Any], tensors: Dict[str, Any], dtype=torch.float64) -> CrateRef:
    """Builds a reference model and loads the official-name tensors with strict=True."""
    model = CrateRef(config)
    state = {name: torch.as_tensor(tensors[name]) for name, _ in official_tensor_shapes(model.config)}
    model.load_state_dict(state, strict=True)
    return model.to(dtype).eval()


def load_model(path: str, dtype=torch.float64) -> CrateRef:
    """Loads a project model file (`*.model.safetensors`, config in `__metadata__.config`)."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from safetensors_io import read_safetensors  # tools/safetensors_io.py

    tensors, metadata = read_safetensors(path)
    return model_from_tensors(json.loads(metadata["config"]), tensors, dtype)


__all__: Sequence[str] = (
    "CrateRef", "Patchify", "PreNorm", "Attention", "FeedForward", "Transformer",
    "official_tensor_shapes", "derived_shape", "normalise_config", "config_json",
    "model_from_tensors", "load_model", "LAYER_NORM_EPS", "CONFIG_KEYS",
)
