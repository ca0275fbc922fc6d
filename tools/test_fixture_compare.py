"""unittest for tools/fixture_compare.py: a last-bit change passes, a real change fails.

    /usr/bin/python3 -m unittest tools/test_fixture_compare.py -v
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_compare import compare_files  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402


def nudge(value: float, ulps: int = 2) -> float:
    """`value` moved by a few float64 ulps: what another CPU's BLAS may give."""
    for _ in range(ulps):
        value = float(np.nextafter(value, np.inf))
    return value


class CompareFixtures(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        rng = np.random.RandomState(0)
        self.tensors = {"w": rng.standard_normal([5, 7]).astype(np.float32)}
        self.cases = [{"name": "a", "tokens": 197, "official": 177.60812345678, "reduction": -3.25, "label": "x"}]
        self.committed = self.write("committed", self.tensors, self.cases)

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, tensors, cases):
        path = os.path.join(self.dir.name, f"{name}.safetensors")
        write_safetensors(path, tensors, {"cases": json.dumps(cases, sort_keys=True), "seed": "1"})
        return path

    def changed_cases(self, **change):
        return [{**self.cases[0], **change}]

    def test_identical_files_match(self):
        self.assertEqual(compare_files(self.committed, self.write("fresh", self.tensors, self.cases)), [])

    def test_last_bits_of_float64_metadata_match(self):
        fresh = self.write("fresh", self.tensors, self.changed_cases(official=nudge(177.60812345678), reduction=nudge(-3.25)))
        self.assertEqual(compare_files(self.committed, fresh), [])

    def test_an_ulp_of_float32_data_matches(self):
        w = self.tensors["w"].copy()
        w[2, 3] = np.nextafter(w[2, 3], np.float32(np.inf))
        self.assertEqual(compare_files(self.committed, self.write("fresh", {**self.tensors, "w": w}, self.cases)), [])

    def test_a_real_change_in_a_float_is_reported(self):
        fresh = self.write("fresh", self.tensors, self.changed_cases(official=177.6082))
        self.assertTrue(any("official" in p for p in compare_files(self.committed, fresh)))
        w = self.tensors["w"].copy()
        w[0, 0] += 1e-3
        self.assertTrue(any(p.startswith("w:") for p in compare_files(self.committed, self.write("w", {**self.tensors, "w": w}, self.cases))))

    def test_integers_strings_shapes_and_names_are_exact(self):
        # The writer stores float32 only (tools/safetensors_io.py); integers live in the JSON metadata.
        for label, tensors, cases in (
            ("int metadata", self.tensors, self.changed_cases(tokens=198)),
            ("string", self.tensors, self.changed_cases(label="y")),
            ("shape", {**self.tensors, "w": self.tensors["w"].reshape(7, 5)}, self.cases),
            ("extra tensor", {**self.tensors, "v": self.tensors["w"]}, self.cases),
            ("extra key", self.tensors, self.changed_cases(extra=1)),
        ):
            with self.subTest(label):
                self.assertNotEqual(compare_files(self.committed, self.write(label.replace(" ", "_"), tensors, cases)), [])

    def test_other_files_are_compared_byte_for_byte(self):
        a, b = (os.path.join(self.dir.name, n) for n in ("a.onnx", "b.onnx"))
        for path, data in ((a, b"\x00\x01"), (b, b"\x00\x02")):
            with open(path, "wb") as f:
                f.write(data)
        self.assertEqual(compare_files(a, a), [])
        self.assertEqual(compare_files(a, b), ["bytes differ"])


if __name__ == "__main__":
    unittest.main()
