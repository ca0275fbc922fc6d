"""Exports a CRATE-α model to the project's ONNX model format (as tools/onnx_export.py does for CRATE).

- initializers keep the port's state-dict names (docs/MEASUREMENTS.md §1.1);
  `do_constant_folding=False` keeps them (docs/PLATFORM.md);
- input `image` [batch, C, H, W], already normalised;
- outputs `logits` and, per layer ℓ, `layers.ℓ.w`, `layers.ℓ.attention`, `layers.ℓ.z_half`,
  `layers.ℓ.z_next` (the same names as CRATE's export) plus `layers.ℓ.sparse_code` (z2, [batch, N, r·d]);
- `metadata_props.config`: the config JSON with `"arch": "crate-alpha"` and `"ratio"`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import torch

from onnx_export import save_with_metadata, trace_to_onnx
from crate_alpha_ref import ETA, LAMBDA, OfficialLayoutAlpha, alpha_tensor_shapes

LAYER_OUTPUTS = ("w", "attention", "z_half", "z_next", "sparse_code")


class AlphaWithTaps(OfficialLayoutAlpha):
    """The port-layout model whose forward also returns every layer's intermediates (names stay the port's)."""

    def forward(self, img: torch.Tensor):  # type: ignore[override]
        x = self.conv1(img).flatten(2).transpose(1, 2)
        z = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        taps: List[torch.Tensor] = []
        for mssa_block, ista_block in self.transformer.layers:
            mssa = mssa_block.fn
            b, n = z.shape[0], z.shape[1]
            inner = mssa.qkv.out_features
            dh = inner // mssa.heads
            w_flat = mssa.qkv(mssa_block.norm(z))
            w = w_flat.view(b, n, mssa.heads, dh).transpose(1, 2)
            attention = torch.softmax(torch.matmul(w, w.transpose(-1, -2)) * dh ** -0.5, dim=-1)
            mixed = torch.matmul(attention, w).transpose(1, 2).reshape(b, n, inner)
            z_half = z + mssa.to_out(mixed)
            ista = ista_block.fn
            a = ista_block.norm(z_half)
            z1 = torch.relu(torch.matmul(a, ista.D) * ETA - ETA * LAMBDA)
            z2 = torch.relu(z1 - ETA * torch.matmul(torch.matmul(z1, ista.D.t()) - a, ista.D) - ETA * LAMBDA)
            z = z_half + torch.matmul(z2, ista.D1.t())
            taps += [w_flat, attention, z_half, z, z2]
        return (self.mlp_head(z[:, 0]), *taps)


def output_names(depth: int) -> List[str]:
    return ["logits"] + [f"layers.{l}.{t}" for l in range(depth) for t in LAYER_OUTPUTS]


def export_alpha_onnx(config: Dict[str, Any], state: Mapping[str, Any], path: str, config_text: str,
                      card: Optional[Dict[str, Any]] = None) -> None:
    model = AlphaWithTaps(config)
    model.load_state_dict({k: torch.as_tensor(v).float() for k, v in state.items()}, strict=True)
    model.eval()
    size = config["image_size"]
    names = output_names(config["depth"])
    proto = trace_to_onnx(model, torch.zeros(1, config["channels"], size, size), names)
    present = {t.name: list(t.dims) for t in proto.graph.initializer}
    for name, shape in alpha_tensor_shapes(config):
        if present.get(name) != shape:
            raise RuntimeError(f"exported graph lacks initializer {name} {shape} (found {present.get(name)})")
    save_with_metadata(proto, path, "crate-explorer tools/alpha_onnx_export.py",
                       "CRATE-alpha image classifier (the port's state-dict names); config in metadata_props", config_text, card)
