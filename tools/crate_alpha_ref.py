"""PyTorch reference of CRATE-α (docs/MEASUREMENTS.md §1.1), in two independent forms.

1. `alpha_forward_trace`: the forward pass written from the description in
   docs/MEASUREMENTS.md §1.1 as plain tensor algebra over a state dict, keeping
   every intermediate the explorer shows (W, attention, Z^{ℓ+½}, the sparse
   code z2, Z^{ℓ+1}). This is what the golden fixtures are made from.
2. `OfficialLayoutAlpha`: a module tree laid out as the authors' PyTorch port
   (`torch_inference/model/crate_alpha.py` in UCSC-VLAA/CRATE-alpha) lays its
   modules out, so that a released checkpoint loads into it with
   `load_state_dict(strict=True)`. It exists to check the key layout and, by
   comparing its logits with (1), that the description matches the port.

The state dict (a plain dict, no `state_dict` wrapper, no `module.` prefix):

    conv1.weight [d, C, P, P], conv1.bias [d]   patch embedding, a stride-P convolution
    pos_embedding [1, N, d], cls_token [1, 1, d]
    transformer.layers.{i}.0.norm.{weight,bias}  LN1, eps 1e-6
    transformer.layers.{i}.0.fn.qkv.weight       U [heads·dh, d], no bias
    transformer.layers.{i}.0.fn.to_out.0.weight  [d, heads·dh], no bias
    transformer.layers.{i}.1.norm.{weight,bias}  LN2, eps 1e-6
    transformer.layers.{i}.1.fn.D, ….1.fn.D1     [d, r·d] each
    mlp_head.0.{weight,bias}                     LayerNorm(d), eps 1e-5
    mlp_head.1.{weight,bias}                     Linear(d, classes)

Heads are not stored (U is [heads·dh, d] whatever the split); the ratio r is
read from D's shape.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

BLOCK_NORM_EPS = 1e-6
HEAD_NORM_EPS = 1e-5
ETA = 0.1
LAMBDA = 0.1


def alpha_tensor_shapes(config: Dict[str, Any]) -> List[Tuple[str, List[int]]]:
    """Every state-dict name of a CRATE-α model with its shape, in the order of `alphaTensorShapes` (model.ts).

    config: image_size (int), patch_size, channels, dim, depth, heads, dim_head, ratio, num_classes.
    """
    d, p, c = config["dim"], config["patch_size"], config["channels"]
    grid = config["image_size"] // p
    inner = config["heads"] * config["dim_head"]
    wide = config["ratio"] * d
    names: List[Tuple[str, List[int]]] = [
        ("conv1.weight", [d, c, p, p]),
        ("conv1.bias", [d]),
        ("pos_embedding", [1, 1 + grid * grid, d]),
        ("cls_token", [1, 1, d]),
    ]
    for i in range(config["depth"]):
        q = f"transformer.layers.{i}"
        names += [
            (f"{q}.0.norm.weight", [d]),
            (f"{q}.0.norm.bias", [d]),
            (f"{q}.0.fn.qkv.weight", [inner, d]),
            (f"{q}.0.fn.to_out.0.weight", [d, inner]),
            (f"{q}.1.norm.weight", [d]),
            (f"{q}.1.norm.bias", [d]),
            (f"{q}.1.fn.D", [d, wide]),
            (f"{q}.1.fn.D1", [d, wide]),
        ]
    names += [
        ("mlp_head.0.weight", [d]),
        ("mlp_head.0.bias", [d]),
        ("mlp_head.1.weight", [config["num_classes"], d]),
        ("mlp_head.1.bias", [config["num_classes"]]),
    ]
    return names


# ------------------------------------------------------------- (1) from the description

def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def sparse_code(a: torch.Tensor, dictionary: torch.Tensor, eta: float = ETA, lam: float = LAMBDA) -> torch.Tensor:
    """Two ISTA steps from zero on ½‖a − z·Dᵀ‖² + λ‖z‖₁ (rows of a are tokens): returns z2 [N, r·d]."""
    z1 = torch.relu(eta * (a @ dictionary) - eta * lam)
    residual = z1 @ dictionary.T - a
    return torch.relu(z1 - eta * (residual @ dictionary) - eta * lam)


def alpha_forward_trace(state: Mapping[str, torch.Tensor], heads: int, image: torch.Tensor,
                        eta: float = ETA, lam: float = LAMBDA) -> Dict[str, Any]:
    """One image [C, H, W] (normalised) through CRATE-α; every intermediate, batch dim dropped.

    Keys: z0 [N, d]; layers: list of {w [N, heads·dh], attention [heads, N, N], z_half [N, d],
    z2 [N, r·d], z_next [N, d]}; logits [classes].
    """
    conv = state["conv1.weight"]
    d, channels, p, _ = conv.shape
    _, h, w = image.shape
    gh, gw = h // p, w // p
    # A stride-P convolution is a Linear on each patch flattened in the kernel's (c, p1, p2) order.
    patches = image.reshape(channels, gh, p, gw, p).permute(1, 3, 0, 2, 4).reshape(gh * gw, channels * p * p)
    embedded = patches @ conv.reshape(d, -1).T + state["conv1.bias"]
    z = torch.cat([state["cls_token"].reshape(1, d), embedded], dim=0) + state["pos_embedding"].reshape(-1, d)
    z0 = z
    layers = []
    i = 0
    while f"transformer.layers.{i}.0.fn.qkv.weight" in state:
        q = f"transformer.layers.{i}"
        x = _layer_norm(z, state[f"{q}.0.norm.weight"], state[f"{q}.0.norm.bias"], BLOCK_NORM_EPS)
        wmat = x @ state[f"{q}.0.fn.qkv.weight"].T
        n, inner = wmat.shape
        dh = inner // heads
        per_head = wmat.reshape(n, heads, dh).permute(1, 0, 2)
        attention = torch.softmax(per_head @ per_head.transpose(1, 2) / dh ** 0.5, dim=-1)
        mixed = (attention @ per_head).permute(1, 0, 2).reshape(n, inner)
        z_half = z + mixed @ state[f"{q}.0.fn.to_out.0.weight"].T
        a = _layer_norm(z_half, state[f"{q}.1.norm.weight"], state[f"{q}.1.norm.bias"], BLOCK_NORM_EPS)
        z2 = sparse_code(a, state[f"{q}.1.fn.D"], eta, lam)
        z_next = z_half + z2 @ state[f"{q}.1.fn.D1"].T
        layers.append({"w": wmat, "attention": attention, "z_half": z_half, "z2": z2, "z_next": z_next})
        z = z_next
        i += 1
    pooled = _layer_norm(z[0], state["mlp_head.0.weight"], state["mlp_head.0.bias"], HEAD_NORM_EPS)
    logits = pooled @ state["mlp_head.1.weight"].T + state["mlp_head.1.bias"]
    return {"z0": z0, "layers": layers, "logits": logits}


# ------------------------------------------------------------- (2) the port's module layout

class _PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class _Mssa(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim, bias=False), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, inner = x.shape[0], x.shape[1], self.qkv.out_features
        w = self.qkv(x).view(b, n, self.heads, inner // self.heads).transpose(1, 2)
        scores = torch.einsum("bhid,bhjd->bhij", w, w) * (inner // self.heads) ** -0.5
        out = torch.einsum("bhij,bhjd->bhid", scores.softmax(dim=-1), w)
        return self.to_out(out.transpose(1, 2).reshape(b, n, inner))


class _OvercompleteIsta(nn.Module):
    def __init__(self, dim: int, ratio: int):
        super().__init__()
        self.D = nn.Parameter(torch.zeros(dim, ratio * dim))
        self.D1 = nn.Parameter(torch.zeros(dim, ratio * dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Written with F.linear rather than as in (1), so the two forms share no arithmetic code.
        z1 = F.relu(F.linear(x, self.D.T) * ETA - ETA * LAMBDA)
        gradient = F.linear(F.linear(z1, self.D) - x, self.D.T)
        z2 = F.relu(z1 - ETA * gradient - ETA * LAMBDA)
        return F.linear(z2, self.D1)


class _Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, ratio: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([_PreNorm(dim, _Mssa(dim, heads, dim_head)), _PreNorm(dim, _OvercompleteIsta(dim, ratio))])
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for mssa, ista in self.layers:
            x = x + mssa(x)
            x = x + ista(x)
        return x


class OfficialLayoutAlpha(nn.Module):
    """The port's module names and nesting (so `strict=True` checks the key layout), batch first."""

    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        d, p = config["dim"], config["patch_size"]
        grid = config["image_size"] // p
        self.conv1 = nn.Conv2d(config["channels"], d, kernel_size=p, stride=p, bias=True)
        self.pos_embedding = nn.Parameter(torch.zeros(1, 1 + grid * grid, d))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.transformer = _Transformer(d, config["depth"], config["heads"], config["dim_head"], config["ratio"])
        self.mlp_head = nn.Sequential(nn.LayerNorm(d, eps=HEAD_NORM_EPS), nn.Linear(d, config["num_classes"]))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.conv1(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        return self.mlp_head(self.transformer(x)[:, 0])


def official_layout_model(config: Dict[str, Any], state: Mapping[str, Any], dtype=torch.float64) -> OfficialLayoutAlpha:
    """The port-layout model with `state` loaded strictly (a missing, extra or mis-shaped key raises)."""
    model = OfficialLayoutAlpha(config)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()


__all__: Sequence[str] = (
    "alpha_tensor_shapes", "alpha_forward_trace", "sparse_code", "OfficialLayoutAlpha", "official_layout_model",
    "BLOCK_NORM_EPS", "HEAD_NORM_EPS", "ETA", "LAMBDA",
)
