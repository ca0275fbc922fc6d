"""Exports a CRATE reference model to the project's ONNX model format (issue 4).

The format:
- initializers keep the official state-dict names (docs/MEASUREMENTS.md §1); this needs
  `do_constant_folding=False` with torch 1.13 (docs/PLATFORM.md);
- input `image` [batch, C, H, W], already normalised with the config's mean/std;
- outputs `logits` [batch, classes] and, per layer ℓ, `layers.ℓ.w` (LN1(Zℓ)·Uᵀ, the MSSA
  head projections the official coding rate is measured on), `layers.ℓ.attention`
  [batch, heads, N, N], `layers.ℓ.z_half` (Z^{ℓ+½}) and `layers.ℓ.z_next` (Z^{ℓ+1});
- `metadata_props`: `config` (the same JSON as the safetensors format's `__metadata__.config`)
  and `model_card` (a JSON summary), so one file is the whole model for both engines.
"""

from __future__ import annotations

import io
import json
from typing import Any, Dict, List, Optional

import onnx
import torch

from crate_ref import CrateRef, config_json, official_tensor_shapes

OPSET = 17


class CrateWithTaps(CrateRef):
    """The reference model whose forward also returns every layer's intermediates.

    A subclass rather than a wrapper so that parameter names, and with them the ONNX
    initializer names, stay exactly the official ones.
    """

    def forward(self, img: torch.Tensor):  # type: ignore[override]
        z = self.embed(img)
        taps: List[torch.Tensor] = []
        for attn_block, ff_block in self.transformer.layers:
            parts = attn_block.fn.parts(attn_block.norm(z))
            z_half = parts["out"] + z
            z = ff_block(z_half)
            taps += [parts["w"], parts["attention"], z_half, z]
        return (self.head(z), *taps)


def output_names(depth: int) -> List[str]:
    names = ["logits"]
    for layer in range(depth):
        names += [f"layers.{layer}.{t}" for t in ("w", "attention", "z_half", "z_next")]
    return names


def export_onnx(model: CrateRef, path: str, card: Optional[Dict[str, Any]] = None) -> None:
    """Writes `model` (any dtype; exported as float32) to `path` in the project's ONNX format."""
    config = model.config
    taps = CrateWithTaps(config)
    taps.load_state_dict({k: v.float() for k, v in model.state_dict().items()}, strict=True)
    taps.eval()
    c, (h, w) = config["channels"], _hw(config)
    names = output_names(config["depth"])
    proto = trace_to_onnx(taps, torch.zeros(1, c, h, w), names)
    check_official_initializers(proto, config)
    save_with_metadata(proto, path, "crate-explorer tools/onnx_export.py",
                       "CRATE image classifier (official state-dict names); config in metadata_props", config_json(config), card)


def trace_to_onnx(module: torch.nn.Module, example: torch.Tensor, names: List[str]) -> onnx.ModelProto:
    """The graph the app reads: official initializer names kept (no constant folding, docs/PLATFORM.md), batch dynamic."""
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            module, example, buffer,
            input_names=["image"], output_names=names,
            dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=OPSET, do_constant_folding=False,
        )
    return onnx.load_from_string(buffer.getvalue())


def save_with_metadata(proto: onnx.ModelProto, path: str, producer: str, doc: str, config_text: str,
                       card: Optional[Dict[str, Any]]) -> None:
    """The config (and the model card, when given) as metadata_props, checked, then written."""
    proto.producer_name = producer
    proto.doc_string = doc
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "config", config_text
    if card is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "model_card", json.dumps(card, separators=(",", ":"), sort_keys=True)
    onnx.checker.check_model(proto)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def check_official_initializers(proto: onnx.ModelProto, config: Dict[str, Any]) -> None:
    """Every official tensor is an initializer under its own name with its own shape."""
    present = {t.name: list(t.dims) for t in proto.graph.initializer}
    for name, shape in official_tensor_shapes(config):
        if present.get(name) != shape:
            raise RuntimeError(f"exported graph lacks initializer {name} {shape} (found {present.get(name)})")


def _hw(config: Dict[str, Any]):
    size = config["image_size"]
    return (size[0], size[1]) if isinstance(size, list) else (size, size)
