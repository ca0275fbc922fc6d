"""Tests of the PyTorch CRATE reference, the safetensors I/O and the committed fixtures.

Run from the repo root:
    /usr/bin/python3 -m unittest discover -s tools -p 'test_*.py' -v
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from crate_ref import CrateRef, FeedForward, Patchify, load_model, official_tensor_shapes  # noqa: E402
from safetensors_io import SafetensorsError, decode_safetensors, encode_safetensors, read_safetensors  # noqa: E402
import make_fixtures  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
NAMES = ("grey17", "colour50", "wide31")
LAYER_KEYS = ("z", "ln1", "w", "attention", "z_half", "ln2", "z_next")


def expected_names(cfg):
    """The official state-dict names and shapes, written out here independently of crate_ref."""
    h, w = (cfg["image_size"], cfg["image_size"]) if isinstance(cfg["image_size"], int) else cfg["image_size"]
    p, c, d = cfg["patch_size"], cfg["channels"], cfg["dim"]
    n = 1 + (h // p) * (w // p)
    pd = p * p * c
    inner = cfg["heads"] * cfg["dim_head"]
    out = {
        "cls_token": (1, 1, d), "pos_embedding": (1, n, d),
        "to_patch_embedding.1.weight": (pd,), "to_patch_embedding.1.bias": (pd,),
        "to_patch_embedding.2.weight": (d, pd), "to_patch_embedding.2.bias": (d,),
        "to_patch_embedding.3.weight": (d,), "to_patch_embedding.3.bias": (d,),
        "mlp_head.0.weight": (d,), "mlp_head.0.bias": (d,),
        "mlp_head.1.weight": (cfg["num_classes"], d), "mlp_head.1.bias": (cfg["num_classes"],),
    }
    for i in range(cfg["depth"]):
        out.update({
            f"transformer.layers.{i}.0.norm.weight": (d,),
            f"transformer.layers.{i}.0.norm.bias": (d,),
            f"transformer.layers.{i}.0.fn.qkv.weight": (inner, d),
            f"transformer.layers.{i}.0.fn.to_out.0.weight": (d, inner),
            f"transformer.layers.{i}.0.fn.to_out.0.bias": (d,),
            f"transformer.layers.{i}.1.norm.weight": (d,),
            f"transformer.layers.{i}.1.norm.bias": (d,),
            f"transformer.layers.{i}.1.fn.weight": (d, d),
        })
    return out


def small_config(**over):
    cfg = dict(arch="crate", image_size=[12, 8], patch_size=4, channels=3, dim=10, depth=2, heads=3,
               dim_head=4, num_classes=4, eta=0.1, pool="cls")
    cfg["lambda"] = 0.1
    cfg.update(over)
    return cfg


def numpy_forward(cfg, t, image):
    """docs/MEASUREMENTS.md §1 written again in plain numpy float64 (loops over heads), as an independent oracle."""
    t = {k: np.asarray(v, dtype=np.float64) for k, v in t.items()}
    c, hh, ww = image.shape
    p = cfg["patch_size"]

    def ln(x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * t[prefix + ".weight"] + t[prefix + ".bias"]

    patches = []
    for gy in range(hh // p):
        for gx in range(ww // p):
            block = image[:, gy * p:(gy + 1) * p, gx * p:(gx + 1) * p]  # c p1 p2
            patches.append(np.transpose(block, (1, 2, 0)).reshape(-1))   # (p1 p2 c)
    x = np.stack(patches).astype(np.float64)
    x = ln(ln(x, "to_patch_embedding.1") @ t["to_patch_embedding.2.weight"].T + t["to_patch_embedding.2.bias"],
           "to_patch_embedding.3")
    z = np.concatenate([t["cls_token"][0], x]) + t["pos_embedding"][0]
    heads, dh = cfg["heads"], cfg["dim_head"]
    for i in range(cfg["depth"]):
        pre = f"transformer.layers.{i}"
        w = ln(z, pre + ".0.norm") @ t[pre + ".0.fn.qkv.weight"].T
        outs = []
        for k in range(heads):
            wk = w[:, k * dh:(k + 1) * dh]
            s = wk @ wk.T / math.sqrt(dh)
            a = np.exp(s - s.max(1, keepdims=True))
            a /= a.sum(1, keepdims=True)
            outs.append(a @ wk)
        z = z + np.concatenate(outs, 1) @ t[pre + ".0.fn.to_out.0.weight"].T + t[pre + ".0.fn.to_out.0.bias"]
        xx = ln(z, pre + ".1.norm")
        dmat = t[pre + ".1.fn.weight"]
        z = np.maximum(0.0, xx + cfg["eta"] * (xx - xx @ dmat.T) @ dmat - cfg["eta"] * cfg["lambda"])
    pooled = z.mean(0) if cfg["pool"] == "mean" else z[0]
    return ln(pooled, "mlp_head.0") @ t["mlp_head.1.weight"].T + t["mlp_head.1.bias"]


class ReferenceModelTest(unittest.TestCase):
    def test_state_dict_by_name_strict(self):
        for cfg in (small_config(), small_config(image_size=8, channels=1, heads=2, dim_head=5, pool="mean")):
            names = expected_names(cfg)
            model = CrateRef(cfg)
            self.assertEqual({k: tuple(v.shape) for k, v in model.state_dict().items()}, names)
            self.assertEqual(dict((k, tuple(s)) for k, s in official_tensor_shapes(model.config)), names)
            g = torch.Generator().manual_seed(1)
            state = {k: torch.randn(s, generator=g) for k, s in names.items()}
            result = model.load_state_dict(state, strict=True)
            self.assertEqual((result.missing_keys, result.unexpected_keys), ([], []))
            for k, v in model.state_dict().items():
                self.assertTrue(torch.equal(v, state[k]), k)

    def test_ista_matches_official_formula(self):
        g = torch.Generator().manual_seed(2)
        d, eta, lam = 9, 0.1, 0.1
        ff = FeedForward(d, eta, lam).double()
        with torch.no_grad():
            ff.weight.copy_(torch.randn(d, d, generator=g, dtype=torch.float64))
        x = torch.randn(2, 7, d, generator=g, dtype=torch.float64)
        dmat = ff.weight.detach()
        official = torch.relu(x + eta * (x @ dmat - (x @ dmat.T) @ dmat) - eta * lam)
        design = torch.relu(x + eta * (x - x @ dmat.T) @ dmat - eta * lam)
        out = ff(x).detach()
        torch.testing.assert_close(out, official, rtol=0, atol=1e-12)
        torch.testing.assert_close(out, design, rtol=0, atol=1e-12)
        self.assertTrue(0.0 < (out == 0).double().mean().item() < 1.0)  # the ReLU is exercised

    def test_patchify_order(self):
        c, h, w, p = 3, 4, 6, 2
        # pixel value encodes (channel, row, column)
        image = torch.tensor([[[100 * ch + 10 * y + x for x in range(w)] for y in range(h)] for ch in range(c)],
                             dtype=torch.float64)
        out = Patchify(p)(image.unsqueeze(0))[0]
        self.assertEqual(tuple(out.shape), ((h // p) * (w // p), p * p * c))
        # patch 0 (top-left): (p1, p2, c) with c fastest
        self.assertEqual(out[0].tolist(), [0, 100, 200, 1, 101, 201, 10, 110, 210, 11, 111, 211])
        # patch 1 is to the right of patch 0 (row-major over the grid), patch 3 starts the second grid row
        self.assertEqual(out[1, :3].tolist(), [2, 102, 202])
        self.assertEqual(out[3, :3].tolist(), [20, 120, 220])
        for gy in range(h // p):
            for gx in range(w // p):
                for p1 in range(p):
                    for p2 in range(p):
                        for ch in range(c):
                            self.assertEqual(out[gy * (w // p) + gx, (p1 * p + p2) * c + ch].item(),
                                             100 * ch + 10 * (gy * p + p1) + gx * p + p2)

    def test_reference_matches_independent_numpy(self):
        for cfg in (small_config(), small_config(pool="mean", heads=1, dim_head=10)):
            model = CrateRef(cfg).double().eval()
            state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
            image = np.random.RandomState(3).standard_normal((3, 12, 8))
            expected = numpy_forward(model.config, state, image)
            with torch.no_grad():
                got = model(torch.from_numpy(image).unsqueeze(0))[0].numpy()
                traced = model.forward_trace(torch.from_numpy(image))["logits"].numpy()
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
            np.testing.assert_allclose(traced, expected, rtol=0, atol=1e-12)


class SafetensorsTest(unittest.TestCase):
    def test_layout_and_round_trip(self):
        tensors = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.float64([1.5, -2.0]), "c.0": np.zeros((0, 4))}
        data = encode_safetensors(tensors, {"z": "1", "config": "{}"})
        (n,) = struct.unpack("<Q", data[:8])
        self.assertEqual(n % 8, 0)
        text = data[8:8 + n].decode("ascii")
        self.assertTrue(text.startswith('{"__metadata__":{"config":"{}","z":"1"},"a":{"dtype":"F32","shape":[2],'
                                        '"data_offsets":[0,8]},"b":'))
        self.assertEqual(text, text.rstrip() + " " * (len(text) - len(text.rstrip())))
        header = json.loads(text)
        self.assertEqual(list(header), ["__metadata__", "a", "b", "c.0"])
        self.assertEqual(header["b"]["data_offsets"], [8, 32])
        self.assertEqual(header["c.0"]["data_offsets"], [32, 32])
        self.assertEqual(len(data), 8 + n + 32)
        back, meta = decode_safetensors(data)
        self.assertEqual(meta, {"config": "{}", "z": "1"})
        for k, v in tensors.items():
            self.assertEqual(back[k].dtype, np.float32)
            np.testing.assert_array_equal(back[k], np.asarray(v, dtype=np.float32))
        self.assertEqual(encode_safetensors(back, meta), data)

    def test_reader_rejects_bad_offsets(self):
        data = bytearray(encode_safetensors({"a": np.ones(2, np.float32)}, {}))
        bad = data.replace(b'"data_offsets":[0,8]', b'"data_offsets":[0,4]')
        with self.assertRaises(SafetensorsError):
            decode_safetensors(bytes(bad))
        with self.assertRaises(SafetensorsError):
            decode_safetensors(bytes(data[:-1]))


class FixturesTest(unittest.TestCase):
    def test_check_reproduces_committed_fixtures(self):
        result = subprocess.run([sys.executable, os.path.join(HERE, "make_fixtures.py"), "--check"],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_fixture_files(self):
        total = sum(os.path.getsize(os.path.join(FIXTURES, f)) for f in os.listdir(FIXTURES))
        self.assertLess(total, 5_000_000)
        for name in NAMES:
            with self.subTest(name=name):
                tensors, meta = read_safetensors(os.path.join(FIXTURES, f"{name}.model.safetensors"))
                cfg = json.loads(meta["config"])
                self.assertEqual({k: tuple(v.shape) for k, v in tensors.items()}, expected_names(cfg))
                self.assertTrue(all(v.dtype == np.float32 for v in tensors.values()))
                golden, gmeta = read_safetensors(os.path.join(FIXTURES, f"{name}.golden.safetensors"))
                self.assertEqual(gmeta["config"], meta["config"])
                self.assertEqual(gmeta["seed"], str(make_fixtures.DEFAULT_SEED))
                self.assertEqual(len(cfg["labels"]), cfg["num_classes"])

                model = load_model(os.path.join(FIXTURES, f"{name}.model.safetensors"))  # float64, strict names
                n = model.shape["tokens"]
                for i in (0, 1):
                    image = torch.from_numpy(golden[f"input.{i}"]).double()
                    self.assertEqual(tuple(image.shape), (cfg["channels"], model.shape["image_height"], model.shape["image_width"]))
                    trace = model.forward_trace(image)
                    with torch.no_grad():
                        logits = model(image.unsqueeze(0))[0].numpy()
                    np.testing.assert_allclose(golden[f"input.{i}.logits"], logits, rtol=0, atol=1e-6)
                    np.testing.assert_allclose(golden[f"input.{i}.patches"], trace["patches"].numpy(), rtol=0, atol=0)
                    for l in range(cfg["depth"]):
                        for key in LAYER_KEYS:
                            g = golden[f"input.{i}.layers.{l}.{key}"]
                            np.testing.assert_allclose(g, trace["layers"][l][key].numpy(), rtol=0, atol=1e-6,
                                                       err_msg=f"{name} input {i} layer {l} {key}")
                    shapes = {k: golden[f"input.{i}.layers.0.{k}"].shape for k in LAYER_KEYS}
                    self.assertEqual(shapes["attention"], (cfg["heads"], n, n))
                    self.assertEqual(shapes["w"], (n, cfg["heads"] * cfg["dim_head"]))
                    self.assertEqual(shapes["z_next"], (n, cfg["dim"]))
                # the two inputs and the layers are not degenerate
                a = golden["input.1.layers.0.attention"]
                np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-6)
                self.assertGreater(a.max(-1).mean(), 1.5 / n)
                zeros = (golden["input.0.layers.0.z_next"] == 0).mean()
                self.assertTrue(0.2 < zeros < 0.9, zeros)
                self.assertGreater(np.abs(golden["input.0.logits"] - golden["input.1.logits"]).max(), 1e-3)


if __name__ == "__main__":
    unittest.main()
