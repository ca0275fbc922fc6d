"""unittest for tools/analysis_ref.py: the references by a second route, and the committed fixtures.

    /usr/bin/python3 -m unittest tools/test_analysis_ref.py -v
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analysis_ref as ref  # noqa: E402


class RateReferences(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.RandomState(3)

    def test_official_rate_on_the_dh_side(self):
        n, heads, dh = 23, 3, 8
        w = self.rng.standard_normal([n, heads * dh])
        expected = 0.0
        for k in range(heads):
            x = w[:, k * dh:(k + 1) * dh]
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            expected += 0.5 * np.linalg.slogdet(np.eye(dh) + dh / (n * 0.01) * x.T @ x)[1]
        self.assertAlmostEqual(ref.official_rate(w, heads, dh), expected, places=9)

    def test_full_rate_closed_form_for_orthogonal_columns(self):
        # Z with orthogonal columns of norm s: ZᵀZ = s²I, so R = d/2·log(1 + d·s²/(N ε²)).
        n, d, s, eps2 = 30, 6, 0.7, 0.05
        q, _ = np.linalg.qr(self.rng.standard_normal([n, d]))
        self.assertAlmostEqual(ref.full_rate(s * q, eps2), d / 2 * math.log(1 + d * s * s / (n * eps2)), places=10)

    def test_paper_rate_with_identity_u_is_full_rate(self):
        z = self.rng.standard_normal([12, 5])
        self.assertAlmostEqual(ref.paper_rate(z, np.eye(5), 1, 5, 0.3), ref.full_rate(z, 0.3), places=10)


class MaskReferences(unittest.TestCase):
    def test_mass_mask_is_the_smallest_set_holding_tau(self):
        rng = np.random.RandomState(5)
        for trial in range(30):
            values = np.exp(rng.standard_normal(rng.randint(1, 9)))
            tau = rng.uniform(0.05, 0.95)
            mask = ref.mass_mask(values, tau)
            best = None
            for size in range(1, values.size + 1):
                for subset in itertools.combinations(range(values.size), size):
                    if values[list(subset)].sum() >= tau * values.sum():
                        best = size
                        break
                if best:
                    break
            self.assertEqual(int(mask.sum()), best, (trial, values, tau))
            self.assertGreaterEqual(values[mask == 1].sum(), tau * values.sum())

    def test_top_mask_count_rounds_half_up(self):
        for n, fraction, count in ((10, 0.25, 3), (10, 0.6, 6), (196, 0.6, 118), (5, 0.1, 1), (4, 0.0, 0)):
            self.assertEqual(int(ref.top_mask(np.arange(n, dtype=float), fraction).sum()), count)

    def test_nearest_up_is_the_patch_of_each_pixel(self):
        mask = np.array([1, 0, 0, 1], dtype=np.uint8)
        np.testing.assert_array_equal(ref.nearest_up(mask, (2, 2), (4, 4)), np.kron(mask.reshape(2, 2), np.ones((2, 2))))

    def test_iou(self):
        self.assertEqual(ref.iou(np.array([1, 1, 0, 0]), np.array([0, 1, 1, 0])), 1 / 3)
        self.assertEqual(ref.iou(np.zeros(3), np.zeros(3)), 1.0)


class ImageReferences(unittest.TestCase):
    def test_bilinear_by_hand(self):
        # 2×2 → 4×4, align_corners=False: output pixel 1 samples source 0.25 between cells 0 and 1.
        out = ref.bilinear(np.array([[0.0, 1.0], [2.0, 3.0]]), (4, 4))
        self.assertAlmostEqual(out[0, 0], 0.0)
        self.assertAlmostEqual(out[0, 1], 0.25)
        self.assertAlmostEqual(out[1, 1], 0.25 * 2 + 0.25)
        self.assertAlmostEqual(out[3, 3], 3.0)

    def test_pca_scores_match_the_svd(self):
        rng = np.random.RandomState(9)
        w = rng.standard_normal([17, 6]) * np.array([5, 3, 2, 1, 0.5, 0.2])
        p = ref.pca_image(w, 0.5, True)
        xc = w[1:] - w[1:].mean(axis=0)
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
        for j in range(3):
            expected = u[:, j] * s[j]
            expected *= np.sign(expected[np.argmax(np.abs(expected))])
            np.testing.assert_allclose(p["scores"][j], expected, atol=1e-10)
            self.assertAlmostEqual(p["variances"][j], s[j] ** 2 / 15, places=10)

    def test_histogram_accounts_for_every_entry(self):
        values = np.array([0, 0, -1, 1e-4, 0.5, 2, 3, 100], dtype=np.float64)
        h = ref.log_histogram(values, 4, (1e-3, 10))
        self.assertEqual((h["zeros"], h["negatives"], h["below"], h["above"]), (2, 1, 1, 1))
        self.assertEqual(int(h["counts"].sum()), 3)
        self.assertEqual(h["counts"].tolist(), [0, 0, 1, 2])  # edges 1e-3, 1e-2, 1e-1, 1, 10


class ObjectiveReferences(unittest.TestCase):
    """docs/MEASUREMENTS.md §2.1 by a second route: torch for LayerNorm and the official ISTA code, principal angles for coherence."""

    def setUp(self):
        self.rng = np.random.RandomState(15)

    def test_layer_norm_is_torchs(self):
        x, w, b = self.rng.standard_normal([7, 10]), self.rng.standard_normal(10), self.rng.standard_normal(10)
        expected = torch.nn.functional.layer_norm(torch.from_numpy(x), (10,), torch.from_numpy(w), torch.from_numpy(b), 1e-5).numpy()
        np.testing.assert_allclose(ref.layer_norm(x, w, b), expected, atol=1e-12)

    def test_ista_step_is_the_official_block(self):
        # model/crate.py: x1 = F.linear(x, W); relu(x + eta (F.linear(x, W.t()) - F.linear(x1, W.t())) - eta lambda)
        x, d = self.rng.standard_normal([9, 6]), self.rng.standard_normal([6, 6])
        tx, tw = torch.from_numpy(x), torch.from_numpy(d)
        x1 = torch.nn.functional.linear(tx, tw)
        official = torch.relu(tx + 0.1 * (torch.nn.functional.linear(tx, tw.t()) - torch.nn.functional.linear(x1, tw.t())) - 0.1 * 0.1).numpy()
        np.testing.assert_allclose(ref.ista_step(x, d, 0.1, 0.1), official, atol=1e-12)

    def test_lasso_by_loops(self):
        z, x, d = self.rng.standard_normal([4, 3]), self.rng.standard_normal([4, 3]), self.rng.standard_normal([3, 3])
        total = 0.0
        for r in range(4):
            for i in range(3):
                total += 0.5 * (sum(d[i, j] * z[r, j] for j in range(3)) - x[r, i]) ** 2
            total += 0.2 * sum(abs(v) for v in z[r])
        self.assertAlmostEqual(ref.lasso(z, x, d, 0.2), total / 4, places=12)

    def test_head_coherence_is_the_mean_squared_cosine_of_principal_angles(self):
        u = self.rng.standard_normal([3 * 5, 12])
        c = ref.head_coherence(u, 3, 5)
        for k in range(3):
            for j in range(3):
                qk, _ = np.linalg.qr(u[k * 5:(k + 1) * 5].T)
                qj, _ = np.linalg.qr(u[j * 5:(j + 1) * 5].T)
                cosines = np.linalg.svd(qk.T @ qj, compute_uv=False)
                self.assertAlmostEqual(c[k, j], float(np.mean(cosines ** 2)), places=10)

    def test_head_coherence_of_an_orthogonal_split_and_a_rank_deficient_head(self):
        q, _ = np.linalg.qr(self.rng.standard_normal([12, 12]))
        np.testing.assert_allclose(ref.head_coherence(q[:9], 3, 3), np.eye(3), atol=1e-12)
        u = self.rng.standard_normal([8, 10])
        u[6:8] = 2 * u[4:6]
        c = ref.head_coherence(u, 2, 4)
        self.assertEqual(ref.subspace_basis(u[4:8]).shape[1], 2)
        self.assertAlmostEqual(c[1, 1], 1.0, places=12)

    def test_dictionary_incoherence_of_an_orthogonal_dictionary(self):
        q, _ = np.linalg.qr(self.rng.standard_normal([8, 8]))
        d = ref.dictionary_incoherence(q)
        self.assertLess(d["gram_deviation"], 1e-12)
        self.assertAlmostEqual(d["norm_min"], 1.0, places=12)


class CommittedFixtures(unittest.TestCase):
    def test_fixtures_are_a_fresh_generation(self):
        self.assertEqual(ref.check(ref.DEFAULT_OUT, ref.DEFAULT_SEED), 0)


if __name__ == "__main__":
    unittest.main()
