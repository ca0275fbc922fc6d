"""The shipped models' cards are reproduced from the shipped files (issue 4).

For every model in public/models/manifest.json: the ONNX file's initializers,
under their official names, are loaded into the PyTorch reference, and its
accuracy on the whole held-out set (rebuilt by tools/datasets.py from the same
fixed split) must equal the card's within 1 point; the shipped sample atlas must
give the card's sample accuracy; for the scene model, the per-layer attention IoU
must equal the card's within 0.01. Run from the repo root:

    /usr/bin/python3 -m unittest tools/test_shipped_models.py -v
"""

from __future__ import annotations

import json
import os
import sys
import unittest

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_model  # noqa: E402
import train  # noqa: E402
from crate_ref import CrateRef, official_tensor_shapes  # noqa: E402

MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "public", "models")


def load_onnx_model(path: str) -> CrateRef:
    proto = onnx.load(path)
    metadata = {p.key: p.value for p in proto.metadata_props}
    config = json.loads(metadata["config"])
    model = CrateRef(config)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in proto.graph.initializer}
    model.load_state_dict({name: weights[name] for name, _ in official_tensor_shapes(model.config)}, strict=True)
    return model.float().eval()


class ShippedModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        with open(os.path.join(MODELS, "manifest.json")) as f:
            cls.manifest = json.load(f)

    def test_ships_the_three_models_under_25_mb(self):
        ids = [m["id"] for m in self.manifest["models"]]
        self.assertEqual(self.manifest["default"], "digits")
        for wanted in ("digits", "fashion", "scenes"):
            self.assertIn(wanted, ids)
        total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(MODELS) for f in files)
        self.assertLess(total, 25 * 2**20, f"public/models holds {total} bytes")

    def test_cards_are_reproduced(self):
        for entry in self.manifest["models"]:
            task = entry["id"]
            with self.subTest(model=task):
                with open(os.path.join(MODELS, task, "card.json")) as f:
                    card = json.load(f)
                model = load_onnx_model(os.path.join(MODELS, entry["file"]))
                data = train.held_out(task, train.TASKS[task])
                accuracy = float((export_model.predictions(model, data["test_x"]) == data["test_y"]).mean())
                self.assertEqual(len(data["test_y"]), card["held_out"]["count"])
                self.assertAlmostEqual(accuracy, card["held_out"]["accuracy"], delta=0.01)
                self.assertAlmostEqual(entry["accuracy"], card["held_out"]["accuracy"], places=4)

                s = entry["samples"]
                stored = export_model.read_atlas(os.path.join(MODELS, s["atlas"]), s["count"], s["channels"], s["height"], s["width"])
                sample_accuracy = float((export_model.predictions(model, stored.astype(np.float32) / 255.0) == np.array(s["labels"])).mean())
                self.assertAlmostEqual(sample_accuracy, card["samples"]["accuracy"], delta=0.01)
                self.assertEqual(s["labels"], [int(v) for v in data["test_y"][: s["count"]]])

                if "segmentation" in card:
                    per_layer = export_model.attention_iou_per_layer(model, data["test_x"], data["test_mask"])
                    for got, want in zip(per_layer, card["segmentation"]["per_layer"]):
                        self.assertAlmostEqual(got["iou_best_head"], want["iou_best_head"], delta=0.01)
                    # Segmentation emerges: the last layers beat the first layer and a random mask.
                    last = max(r["iou_best_head"] for r in per_layer[-2:])
                    self.assertGreater(last, per_layer[0]["iou_best_head"])
                    self.assertGreater(last, per_layer[-1]["iou_random_mask"])


if __name__ == "__main__":
    unittest.main()
