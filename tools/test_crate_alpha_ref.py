"""Tests of the CRATE-α reference (tools/crate_alpha_ref.py) and its fixtures (fixtures/alpha/).

    cd tools && /usr/bin/python3 -m unittest test_crate_alpha_ref
"""

from __future__ import annotations

import io
import os
import sys
import unittest
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_alpha_fixtures  # noqa: E402
from crate_alpha_ref import alpha_forward_trace, alpha_tensor_shapes, official_layout_model, sparse_code  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures", "alpha")
CONFIG = dict(image_size=24, patch_size=8, channels=3, dim=16, depth=2, heads=4, dim_head=4, ratio=4, num_classes=6)


def random_state(config, seed=0):
    return make_alpha_fixtures.random_weights(config, np.random.RandomState(seed))


class OfficialLayout(unittest.TestCase):
    def test_port_layout_loads_strictly(self):
        model = official_layout_model(CONFIG, random_state(CONFIG))
        names = dict((k, list(v.shape)) for k, v in model.state_dict().items())
        self.assertEqual(names, dict(alpha_tensor_shapes(CONFIG)))
        self.assertIn("transformer.layers.1.1.fn.D1", names)
        self.assertNotIn("transformer.layers.0.0.fn.to_out.0.bias", names)

    def test_missing_extra_or_misshaped_key_is_refused(self):
        state = random_state(CONFIG)
        missing = {k: v for k, v in state.items() if k != "transformer.layers.0.1.fn.D1"}
        extra = {**state, "transformer.layers.0.0.fn.to_out.0.bias": np.zeros(16, np.float32)}
        wrong = {**state, "transformer.layers.0.1.fn.D": np.zeros((16, 32), np.float32)}
        for bad in (missing, extra, wrong):
            with self.assertRaises(RuntimeError):
                official_layout_model(CONFIG, bad)

    def test_description_and_port_layout_give_the_same_logits(self):
        for ratio, heads, dh in ((4, 4, 4), (2, 2, 6), (3, 1, 16)):
            config = {**CONFIG, "ratio": ratio, "heads": heads, "dim_head": dh}
            state = random_state(config, seed=ratio)
            image = torch.from_numpy(np.random.RandomState(7).standard_normal((3, 24, 24))).double()
            trace = alpha_forward_trace({k: torch.from_numpy(v).double() for k, v in state.items()}, heads, image)
            port = official_layout_model(config, state)(image.unsqueeze(0))[0].detach()
            np.testing.assert_allclose(trace["logits"].numpy(), port.numpy(), rtol=0, atol=1e-12)

    def test_a_wrong_head_count_changes_the_logits(self):
        # The heads are not stored; the check above would be void if they did not matter.
        state = {k: torch.from_numpy(v).double() for k, v in random_state(CONFIG).items()}
        image = torch.from_numpy(np.random.RandomState(3).standard_normal((3, 24, 24))).double()
        a = alpha_forward_trace(state, 4, image)["logits"]
        b = alpha_forward_trace(state, 2, image)["logits"]
        self.assertGreater(float((a - b).abs().max()), 1e-4)


class SparseCode(unittest.TestCase):
    def test_two_ista_steps_written_out(self):
        rng = np.random.RandomState(1)
        a = torch.from_numpy(rng.standard_normal((5, 4)))
        dictionary = torch.from_numpy(rng.standard_normal((4, 12)))
        z1 = np.maximum(0.1 * a.numpy() @ dictionary.numpy() - 0.01, 0)
        step = (z1 @ dictionary.numpy().T - a.numpy()) @ dictionary.numpy()
        expected = np.maximum(z1 - 0.1 * step - 0.01, 0)
        np.testing.assert_allclose(sparse_code(a, dictionary).numpy(), expected, atol=1e-14)
        self.assertTrue(0 < (expected == 0).mean() < 1)

    def test_ista_lowers_the_lasso_objective_from_z1(self):
        # ISTA with a step under 1/‖D‖² is a descent method: z2 is no worse than z1.
        rng = np.random.RandomState(2)
        a = torch.from_numpy(rng.standard_normal((6, 8)))
        d = torch.from_numpy(rng.standard_normal((8, 16)))
        d = d / torch.linalg.matrix_norm(d, ord=2) * 2.5  # ‖D‖² = 6.25 < 1/η
        lasso = lambda z: float(0.5 * ((a - z @ d.T) ** 2).sum() + 0.1 * z.abs().sum())
        z1 = torch.relu(0.1 * a @ d - 0.01)
        self.assertLessEqual(lasso(sparse_code(a, d)), lasso(z1) + 1e-12)


class CommittedFixtures(unittest.TestCase):
    def test_fixtures_match_the_generator(self):
        self.assertEqual(make_alpha_fixtures.check(FIXTURES, make_alpha_fixtures.DEFAULT_SEED), 0)

    def test_pth_files_are_plain_state_dicts_in_the_port_layout(self):
        for name in make_alpha_fixtures.CONFIGS:
            path = os.path.join(FIXTURES, f"{name}.pth")
            self.assertTrue(zipfile.is_zipfile(path))
            state = torch.load(path)
            config = make_alpha_fixtures.full_config(name)
            self.assertEqual({k: list(v.shape) for k, v in state.items()}, dict(alpha_tensor_shapes(config)))

    def test_golden_values_are_reproduced_and_measures_are_not_degenerate(self):
        for name in make_alpha_fixtures.CONFIGS:
            config = make_alpha_fixtures.full_config(name)
            golden, meta = read_safetensors(os.path.join(FIXTURES, f"{name}.golden.safetensors"))
            self.assertIn('"arch":"crate-alpha"', meta["config"])
            state = {k: v.double() for k, v in torch.load(os.path.join(FIXTURES, f"{name}.pth")).items()}
            trace = alpha_forward_trace(state, config["heads"], torch.from_numpy(golden["input.1"]).double())
            np.testing.assert_allclose(golden["input.1.logits"], trace["logits"].numpy(), rtol=1e-6, atol=1e-6)
            for l in range(config["depth"]):
                sparsity = float(golden[f"input.1.layers.{l}.sparsity"][0])
                self.assertTrue(0.1 < sparsity < 0.95, (name, l, sparsity))
                z2 = golden[f"input.1.layers.{l}.z2"]
                self.assertEqual(z2.shape[1], config["ratio"] * config["dim"])


if __name__ == "__main__":
    unittest.main()
