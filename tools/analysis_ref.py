#!/usr/bin/python3
"""Independent float64 reference of src/analysis (docs/MEASUREMENTS.md §2) and its fixtures.

numpy (and PyTorch for the bilinear resize) implementations of every
measurement the explorer makes, written from docs/MEASUREMENTS.md §2 by a different
route than the TypeScript wherever one exists (log-determinants with
slogdet on the N×N token side or the d×d feature side, eigh of np.cov for PCA,
F.interpolate for bilinear, DINO's ascending cumsum for the mass mask), and
the fixtures in fixtures/analysis/ that test/unit/analysis*.test.ts compare
the TypeScript against.

Each fixture file is safetensors (tools/safetensors_io.py): inputs and expected
arrays as float32 tensors named `<case>.<what>`, and a `cases` JSON list in the
metadata with each case's parameters and its float64 scalar results (JSON
numbers round-trip doubles exactly). Inputs are drawn from numpy's legacy
RandomState seeded with [seed, crc32(family), crc32(case)], rounded to float32
before any reference is computed, so TS and Python see the same numbers.

    /usr/bin/python3 tools/analysis_ref.py            # rewrite fixtures/analysis/
    /usr/bin/python3 tools/analysis_ref.py --check    # exit 1 if fixtures/analysis/ differs
"""

from __future__ import annotations

import os
import sys

try:
    import torch  # noqa: F401
except ImportError:  # a python3 without torch: use Debian's, which has it.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *sys.argv[1:]])
    raise

import argparse
import json
import math
import tempfile
import zlib
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402
from fixture_compare import compare_files  # noqa: E402

DEFAULT_SEED = 20240612
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "fixtures", "analysis")
OFFICIAL_EPS_SQUARED = 0.01
PCA_RELATIVE_FLOOR = 1e-12


# ---------------------------------------------------------------- references

def logdet_spd(a: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(a)
    assert sign > 0, "not positive definite"
    return float(value)


def official_rate(w: np.ndarray, heads: int, dh: int) -> float:
    """docs/MEASUREMENTS.md §2: unit rows per head, ½ Σ_k logdet(I_N + dh/(N ε²) X_k X_kᵀ), on the N×N side."""
    n = w.shape[0]
    total = 0.0
    for k in range(heads):
        x = w[:, k * dh:(k + 1) * dh].astype(np.float64)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        total += 0.5 * logdet_spd(np.eye(n) + dh / (n * OFFICIAL_EPS_SQUARED) * (x @ x.T))
    return total


def paper_rate(z: np.ndarray, u: np.ndarray, heads: int, dh: int, eps2: float) -> float:
    """R^c(Z; U) = ½ Σ_k logdet(I_N + dh/(N ε²) (Z U_kᵀ)(Z U_kᵀ)ᵀ), on the N×N side."""
    n = z.shape[0]
    total = 0.0
    for k in range(heads):
        p = z.astype(np.float64) @ u[k * dh:(k + 1) * dh].astype(np.float64).T
        total += 0.5 * logdet_spd(np.eye(n) + dh / (n * eps2) * (p @ p.T))
    return total


def full_rate(z: np.ndarray, eps2: float) -> float:
    """R(Z) = ½ logdet(I_d + d/(N ε²) ZᵀZ), on the d×d side."""
    n, d = z.shape
    z = z.astype(np.float64)
    return 0.5 * logdet_spd(np.eye(d) + d / (n * eps2) * (z.T @ z))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.LayerNorm over the last axis, in float64 (biased variance, eps inside the root)."""
    x = x.astype(np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    return centred / np.sqrt(np.var(x, axis=1, keepdims=True) + eps) * weight.astype(np.float64) + bias.astype(np.float64)


def rate_mssa_out(z_half, ln1_weight, ln1_bias, u, heads: int, dh: int) -> float:
    """docs/MEASUREMENTS.md §2.1: the official R^c of LN1(Z^{l+1/2}) U^T, with the layer's own LN1 and U."""
    return official_rate(layer_norm(z_half, ln1_weight, ln1_bias) @ u.astype(np.float64).T, heads, dh)


def lasso(z: np.ndarray, x: np.ndarray, d: np.ndarray, lam: float) -> float:
    """(1/N)(1/2 ||Z D^T - X||_F^2 + lambda ||Z||_1), docs/MEASUREMENTS.md §2.1."""
    z = z.astype(np.float64)
    residual = z @ d.astype(np.float64).T - x
    return float((0.5 * np.sum(residual * residual) + lam * np.sum(np.abs(z))) / z.shape[0])


def ista_step(x: np.ndarray, d: np.ndarray, eta: float, lam: float) -> np.ndarray:
    """CRATE's ISTA block from Z = X: ReLU(X + eta (X - X D^T) D - eta lambda) (docs/MEASUREMENTS.md §1 step 4)."""
    d = d.astype(np.float64)
    return np.maximum(x + eta * (x - x @ d.T) @ d - eta * lam, 0.0)


def subspace_basis(rows: np.ndarray, tolerance: float = 1e-10) -> np.ndarray:
    """Orthonormal basis (columns) of the span of the rows, by SVD; singular values below tolerance * largest dropped."""
    u, s, _ = np.linalg.svd(rows.astype(np.float64).T, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return u[:, :0]
    return u[:, s > tolerance * s[0]]


def head_coherence(u: np.ndarray, heads: int, dh: int) -> np.ndarray:
    """K x K: ||Q_k^T Q_j||_F^2 / min(r_k, r_j) (dh at full rank), Q_k a basis of head k's rows of U."""
    bases = [subspace_basis(u[k * dh:(k + 1) * dh]) for k in range(heads)]
    out = np.zeros((heads, heads))
    for k in range(heads):
        for j in range(heads):
            rank = min(bases[k].shape[1], bases[j].shape[1])
            out[k, j] = np.linalg.norm(bases[k].T @ bases[j]) ** 2 / rank if rank else 0.0
    return out


def dictionary_incoherence(d: np.ndarray) -> Dict[str, float]:
    d = d.astype(np.float64)
    norms = np.linalg.norm(d, axis=0)
    return dict(gram_deviation=float(np.linalg.norm(d.T @ d - np.eye(d.shape[0])) / math.sqrt(d.shape[0])),
                norm_min=float(norms.min()), norm_max=float(norms.max()), norm_mean=float(norms.mean()), norm_std=float(norms.std()))


def log_histogram(values: np.ndarray, bins: int, value_range=None) -> Dict[str, Any]:
    v = values.astype(np.float64).ravel()
    positive = v[v > 0]
    if value_range is not None:
        lo, hi = value_range
    elif positive.size:
        lo, hi = float(positive.min()), float(positive.max())
    else:
        lo = hi = 1.0
    log_lo = math.log(lo)
    span = math.log(hi) - log_lo
    inside = positive[(positive >= lo) & (positive <= hi)]
    if span > 0:
        index = np.floor(bins * (np.log(inside) - log_lo) / span).astype(np.int64)
        index = np.clip(index, 0, bins - 1)
    else:
        index = np.zeros(inside.size, dtype=np.int64)
    edges = np.clip(np.exp(log_lo + np.arange(bins + 1) * span / bins), lo, hi)
    edges[0], edges[-1] = lo, hi
    return dict(
        zeros=int(np.sum(v == 0)), negatives=int(np.sum(v < 0)),
        below=int(np.sum(positive < lo)), above=int(np.sum(positive > hi)),
        counts=np.bincount(index, minlength=bins), edges=edges, total=int(v.size),
        lo=lo, hi=hi, span=span,
    )


def attention_maps(a: np.ndarray, grid: Tuple[int, int], query: int) -> np.ndarray:
    """[heads, N, N] → [heads, gh, gw] of A_k[query, 1:]."""
    return a[:, query, 1:].astype(np.float64).reshape(a.shape[0], *grid)


def bilinear(map2d: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(map2d.astype(np.float64))[None, None]
    return torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def top_mask(values: np.ndarray, fraction: float) -> np.ndarray:
    flat = values.ravel()
    keep = min(flat.size, int(math.floor(fraction * flat.size + 0.5)))
    order = np.lexsort((np.arange(flat.size), -flat))  # value descending, then index
    mask = np.zeros(flat.size, dtype=np.uint8)
    mask[order[:keep]] = 1
    return mask


def mass_mask(values: np.ndarray, tau: float) -> np.ndarray:
    """DINO: sort ascending, normalise, cumsum, keep where the cumulative mass > 1 − τ."""
    flat = values.ravel().astype(np.float64)
    order = np.argsort(flat, kind="stable")
    cumulative = np.cumsum(flat[order] / flat.sum())
    mask = np.zeros(flat.size, dtype=np.uint8)
    mask[order[cumulative > 1 - tau]] = 1
    return mask


def mass_margin(values: np.ndarray, tau: float) -> float:
    """How far the DINO decision is from flipping for any entry (fixtures must not sit on the edge)."""
    flat = np.sort(values.ravel().astype(np.float64))
    cumulative = np.cumsum(flat / flat.sum())
    return float(np.min(np.abs(cumulative - (1 - tau))))


def nearest_up(mask: np.ndarray, grid: Tuple[int, int], image: Tuple[int, int]) -> np.ndarray:
    rows = (np.arange(image[0]) * grid[0]) // image[0]
    cols = (np.arange(image[1]) * grid[1]) // image[1]
    return mask.reshape(grid)[rows[:, None], cols[None, :]]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    union = np.sum(a | b)
    return 1.0 if union == 0 else float(np.sum(a & b) / union)


def pca_image(w: np.ndarray, threshold: float, above: bool) -> Dict[str, Any]:
    x = w[1:].astype(np.float64)
    xc = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False))
    order = np.argsort(values)[::-1][:3]
    scores = []
    variances = []
    for j in range(3):
        s = xc @ vectors[:, order[j]] if j < len(order) else np.zeros(x.shape[0])
        scores.append(s)
        variances.append(float(np.sum(s ** 2) / max(x.shape[0] - 1, 1)))
    for j in range(3):
        if not variances[j] > PCA_RELATIVE_FLOOR * variances[0]:
            variances[j] = 0.0
            scores[j] = np.zeros_like(scores[j])
        best = int(np.argmax(np.abs(scores[j])))
        if scores[j][best] < 0:
            scores[j] = -scores[j]
    total = float(np.sum(xc ** 2) / max(x.shape[0] - 1, 1))
    scaled = []
    for s in scores:
        r = s.max() - s.min()
        scaled.append((s - s.min()) / r if r > 0 else np.zeros_like(s))
    foreground = (scaled[0] >= threshold) if above else (scaled[0] <= threshold)
    rgb = np.stack(scaled, axis=1) * foreground[:, None]
    return dict(
        scores=np.stack(scores), scaled=np.stack(scaled), foreground=foreground.astype(np.uint8), rgb=rgb,
        variances=variances, explained=[v / total if total > 0 else 0.0 for v in variances],
        eigenvalues=values[np.argsort(values)[::-1]],
    )


# ---------------------------------------------------------------- fixtures

def rng_for(seed: int, family: str, case: str) -> np.random.RandomState:
    return np.random.RandomState([seed & 0xFFFFFFFF, zlib.crc32(family.encode()), zlib.crc32(case.encode())])


def f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).astype(np.float32)


RATE_CASES = [
    # name, tokens, dim, heads, dh, ε²
    ("n197_h2_dh48", 197, 96, 2, 48, 0.01),
    ("n17_h1_dh12", 17, 24, 1, 12, 0.01),
    ("n17_h4_dh12", 17, 48, 4, 12, 0.5),
    ("n17_h6_dh24", 17, 40, 6, 24, 0.01),  # N < dh: the token side of the Gram; heads·dh > d
    ("n50_h3_dh24", 50, 64, 3, 24, 0.04),
    ("n50_h5_dh12", 50, 32, 5, 12, 1e-3),  # d < N: R(Z) on the feature side
]


def rates_fixture(seed: int):
    tensors, cases = {}, []
    for name, n, d, heads, dh, eps2 in RATE_CASES:
        rng = rng_for(seed, "rates", name)
        inner = heads * dh
        # Correlated head projections: tokens share a few directions, as real W does.
        w = f32(rng.standard_normal([n, 6]) @ rng.standard_normal([6, inner]) + 0.7 * rng.standard_normal([n, inner]))
        z = f32(0.8 * rng.standard_normal([n, d]) + 0.3)
        u = f32(rng.uniform(-1, 1, [inner, d]) / math.sqrt(d))
        tensors.update({f"{name}.w": w, f"{name}.z": z, f"{name}.u": u})
        r = full_rate(z, eps2)
        rc = paper_rate(z, u, heads, dh, eps2)
        cases.append(dict(name=name, tokens=n, dim=d, heads=heads, dim_head=dh, eps_squared=eps2,
                          official=official_rate(w, heads, dh), compressed=rc, rate=r, reduction=r - rc))
    return tensors, cases


HISTOGRAM_CASES = [
    # name, rows, cols, bins, range (None: the data's), negatives inserted
    ("relu_197x96_default", 197, 96, 32, None, 0),
    ("relu_197x96_range", 197, 96, 10, (1e-3, 2.0), 0),
    ("relu_17x48_one_bin", 17, 48, 1, None, 3),
    ("lognormal_50x40_range", 50, 40, 24, (0.05, 20.0), 0),
]


def histogram_fixture(seed: int):
    tensors, cases = {}, []
    for name, rows, cols, bins, value_range, negatives in HISTOGRAM_CASES:
        rng = rng_for(seed, "sparsity", name)
        if name.startswith("lognormal"):
            z = np.where(rng.uniform(size=[rows, cols]) < 0.6, 0.0, np.exp(1.5 * rng.standard_normal([rows, cols]) - 1))
        else:
            z = np.maximum(rng.standard_normal([rows, cols]) - 0.5, 0.0)
        z = z.ravel()
        z[rng.choice(z.size, negatives, replace=False)] = -0.25
        z = f32(z)
        h = log_histogram(z, bins, value_range)
        # No value may sit within rounding of a bin edge, or TS and numpy could disagree by one bin.
        v = z.astype(np.float64)
        inside = v[(v > h["lo"]) & (v < h["hi"])]
        if h["span"] > 0 and inside.size:
            position = bins * (np.log(inside) - math.log(h["lo"])) / h["span"]
            assert np.min(np.abs(position - np.round(position))) > 1e-9, name
        tensors[f"{name}.z"] = z
        tensors[f"{name}.counts"] = f32(h["counts"])
        tensors[f"{name}.edges"] = f32(h["edges"])
        cases.append(dict(
            name=name, bins=bins, range=list(value_range) if value_range else None,
            zeros=h["zeros"], negatives=h["negatives"], below=h["below"], above=h["above"], total=h["total"],
            lo=h["lo"], hi=h["hi"], zero_fraction=float(np.mean(v == 0)), l1=float(np.sum(np.abs(v))),
        ))
    return tensors, cases


ATTENTION_CASES = [
    # name, grid (gh, gw), heads, query, patch (pixels per cell), upsample size, top P, mass τ
    ("n197_h2", (14, 14), 2, 0, 8, (56, 56), 0.6, 0.6),
    ("n17_h4", (4, 4), 4, 0, 7, (28, 28), 0.5, 0.8),
    ("n50_h3_query5", (7, 7), 3, 5, 5, (35, 35), 0.6, 0.6),
    ("n25_h6_wide", (4, 6), 6, 0, 5, (30, 45), 0.3, 0.45),
    ("n50_h1_down", (7, 7), 1, 0, 5, (5, 3), 0.9, 0.95),
]


def attention_fixture(seed: int):
    tensors, cases = {}, []
    for name, grid, heads, query, patch, up, top_p, tau in ATTENTION_CASES:
        rng = rng_for(seed, "attention", name)
        gh, gw = grid
        n = 1 + gh * gw
        # Peaked, spatially smooth logits: each head looks at its own blob, plus noise.
        yy, xx = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        logits = 1.5 * rng.standard_normal([heads, n, n])
        for k in range(heads):
            cy, cx = rng.uniform(0, gh), rng.uniform(0, gw)
            bump = 3.0 * np.exp(-(((yy - cy) / 2.0) ** 2 + ((xx - cx) / 2.5) ** 2)).ravel()
            logits[k, :, 1:] += bump
        a = np.exp(logits - logits.max(axis=2, keepdims=True))
        a = f32(a / a.sum(axis=2, keepdims=True))
        maps = attention_maps(a, grid, query)
        mean = maps.mean(axis=0)
        image = (gh * patch, gw * patch)
        py, px = np.meshgrid(np.arange(image[0]) + 0.5, np.arange(image[1]) + 0.5, indexing="ij")
        cy, cx = rng.uniform(0.3, 0.7) * image[0], rng.uniform(0.3, 0.7) * image[1]
        truth = ((((py - cy) / (0.3 * image[0])) ** 2 + ((px - cx) / (0.25 * image[1])) ** 2) < 1).astype(np.uint8)
        tensors[f"{name}.attention"] = a
        tensors[f"{name}.maps"] = f32(maps)
        tensors[f"{name}.mean"] = f32(mean)
        tensors[f"{name}.mean_upsampled"] = f32(bilinear(mean, up))
        tensors[f"{name}.head0_upsampled"] = f32(bilinear(maps[0], up))
        tensors[f"{name}.truth"] = f32(truth)
        expected: Dict[str, Any] = {}
        for method, build, fraction in (("top", top_mask, top_p), ("mass", mass_mask, tau)):
            masks = np.stack([build(maps[k], fraction) for k in range(heads)])
            if method == "mass":
                assert min(mass_margin(m, tau) for m in [*maps, mean]) > 1e-9, name
            union = masks.max(axis=0)
            ious = [iou(nearest_up(masks[k], grid, image), truth) for k in range(heads)]
            tensors[f"{name}.{method}_masks"] = f32(masks)
            tensors[f"{name}.{method}_union"] = f32(union)
            expected[method] = dict(ious=ious, best_head=int(np.argmax(ious)), best_iou=max(ious),
                                    union_iou=iou(nearest_up(union, grid, image), truth),
                                    mean_map_mask_count=int(build(mean, fraction).sum()))
            tensors[f"{name}.{method}_mean_mask"] = f32(build(mean, fraction))
        cases.append(dict(name=name, grid=list(grid), heads=heads, tokens=n, query=query, image=list(image),
                          upsample=list(up), top_fraction=top_p, mass_fraction=tau, **expected))
    return tensors, cases


PCA_CASES = [
    # name, grid, inner, threshold, foreground side
    ("n197_inner256_gram", (14, 14), 256, 0.5, "above"),
    ("n197_inner96_cov", (14, 14), 96, 0.5, "above"),
    ("n17_inner48", (4, 4), 48, 0.3, "above"),
    ("n50_inner72_below", (7, 7), 72, 0.6, "below"),
    ("n25_inner12_cov", (4, 6), 12, 0.0, "above"),
    ("n10_inner2_rank2", (3, 3), 2, 0.5, "above"),  # fewer than 3 dimensions: the third component is 0
]


def pca_fixture(seed: int):
    tensors, cases = {}, []
    for name, grid, inner, threshold, side in PCA_CASES:
        rng = rng_for(seed, "pca", name)
        gh, gw = grid
        n = 1 + gh * gw
        # Patch features: an object blob with its own mean, two smooth spatial factors, then noise.
        yy, xx = np.meshgrid(np.arange(gh) / gh, np.arange(gw) / gw, indexing="ij")
        blob = (((yy - 0.5) / 0.3) ** 2 + ((xx - 0.45) / 0.35) ** 2 < 1).ravel().astype(np.float64)
        factors = np.stack([blob, np.sin(3 * yy).ravel(), np.cos(4 * xx + yy).ravel()], axis=1)
        directions = rng.standard_normal([3, inner]) * np.array([[3.0], [1.6], [0.9]])
        w = factors @ directions + 0.2 * rng.standard_normal([gh * gw, inner])
        w = f32(np.vstack([rng.standard_normal([1, inner]), w]))
        p = pca_image(w, threshold, side == "above")
        ev = p["eigenvalues"]
        for j in range(min(3, inner) - (1 if inner <= 3 else 0)):
            assert (ev[j] - ev[j + 1]) / ev[0] > 1e-4, (name, "eigenvalue gap")
        for j in range(3):
            s = np.sort(np.abs(p["scores"][j]))[::-1]
            assert s[0] == 0 or (s[0] - s[1]) / s[0] > 1e-6, (name, "sign decision on the edge")
        tensors[f"{name}.w"] = w
        for key in ("scores", "scaled", "foreground", "rgb"):
            tensors[f"{name}.{key}"] = f32(p[key])
        cases.append(dict(name=name, grid=list(grid), tokens=n, inner=inner, threshold=threshold, foreground=side,
                          variances=p["variances"], explained=p["explained"]))
    return tensors, cases


def dataset_fixture(seed: int):
    tensors, cases = {}, []
    for name, images, length in (("curves_7x12", 7, 12), ("one_image", 1, 5), ("maps_5x196", 5, 196)):
        rng = rng_for(seed, "dataset", name)
        samples = f32(100 + rng.standard_normal([images, length]) * rng.uniform(0.01, 3, [1, length]))
        tensors[f"{name}.samples"] = samples
        tensors[f"{name}.mean"] = f32(samples.astype(np.float64).mean(axis=0))
        tensors[f"{name}.std"] = f32(samples.astype(np.float64).std(axis=0))
        cases.append(dict(name=name, images=images, length=length))
    return tensors, cases


OBJECTIVE_CASES = [
    # name, tokens, dim, heads, dh, lambda, rank-deficient head (its last rows in the span of its first)
    ("n197_h4_dh12", 197, 48, 4, 12, 0.1, False),
    ("n197_h2_dh48", 197, 96, 2, 48, 0.1, False),
    ("n17_h4_dh6", 17, 24, 4, 6, 0.1, False),  # heads·dh = d
    ("n65_h4_dh24", 65, 96, 4, 24, 0.1, False),  # the shipped models' shape (odd N)
    ("n50_h6_dh12", 50, 40, 6, 12, 0.3, False),  # heads·dh > d: the heads cannot all be orthogonal
    ("n33_h3_dh10_rank7", 33, 30, 3, 10, 0.1, True),  # dh not a multiple of 4, head 1 of rank 7 (3 rows repeat)
]


def objective_fixture(seed: int):
    tensors, cases = {}, []
    for name, n, d, heads, dh, lam, deficient in OBJECTIVE_CASES:
        rng = rng_for(seed, "objective", name)
        inner = heads * dh
        z_half = f32(1.3 * rng.standard_normal([n, d]) + rng.uniform(-0.5, 0.5, [1, d]))
        ln1_w, ln1_b = f32(1 + 0.2 * rng.standard_normal(d)), f32(0.1 * rng.standard_normal(d))
        ln2_w, ln2_b = f32(1 + 0.2 * rng.standard_normal(d)), f32(0.1 * rng.standard_normal(d))
        u = rng.standard_normal([inner, d]) / math.sqrt(d)
        u = f32(u)
        if deficient:
            # Exact in float32 (powers of two and sign): rows 7.. of head 1 are multiples of its rows 0..
            u[dh + 7:2 * dh] = u[dh:dh + dh - 7] * np.array([[2.0], [-1.0], [0.5]], dtype=np.float32)[:dh - 7]
        # A dictionary near orthonormal, as training leaves it, with uneven atom norms.
        q, _ = np.linalg.qr(rng.standard_normal([d, d]))
        dictionary = f32((q + 0.15 * rng.standard_normal([d, d]) / math.sqrt(d)) * rng.uniform(0.8, 1.2, [1, d]))
        x = layer_norm(z_half, ln2_w, ln2_b)
        z_next = f32(ista_step(x, dictionary, 0.1, lam))
        coherence = head_coherence(u, heads, dh)
        ranks = [subspace_basis(u[k * dh:(k + 1) * dh]).shape[1] for k in range(heads)]
        assert ranks == [dh if not (deficient and k == 1) else 7 for k in range(heads)], (name, ranks)
        tensors.update({f"{name}.z_half": z_half, f"{name}.z_next": z_next, f"{name}.ln1_weight": ln1_w, f"{name}.ln1_bias": ln1_b,
                        f"{name}.qkv": u, f"{name}.ln2_weight": ln2_w, f"{name}.ln2_bias": ln2_b, f"{name}.dictionary": dictionary,
                        f"{name}.head_coherence": f32(coherence)})
        cases.append(dict(name=name, tokens=n, dim=d, heads=heads, dim_head=dh, lambda_=lam, ranks=ranks,
                          rate_mssa_out=rate_mssa_out(z_half, ln1_w, ln1_b, u, heads, dh),
                          lasso_before=lasso(x, x, dictionary, lam), lasso_after=lasso(z_next, x, dictionary, lam),
                          head_coherence=coherence.tolist(), random_reference=dh / d,
                          dictionary=dictionary_incoherence(dictionary)))
    return tensors, cases


FAMILIES = {
    "rates": rates_fixture,
    "sparsity": histogram_fixture,
    "attention": attention_fixture,
    "pca": pca_fixture,
    "dataset": dataset_fixture,
    "objective": objective_fixture,
}


def write_all(out_dir: str, seed: int, quiet: bool = False) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    written = []
    for family, build in FAMILIES.items():
        tensors, cases = build(seed)
        path = os.path.join(out_dir, f"{family}.safetensors")
        size = write_safetensors(path, tensors, {"cases": json.dumps(cases, sort_keys=True), "seed": str(seed)})
        written.append(os.path.basename(path))
        if not quiet:
            print(f"wrote {os.path.relpath(path)} ({size} bytes, {len(cases)} cases)")
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
        stale = sorted(f for f in os.listdir(out_dir) if f.endswith(".safetensors") and f not in names) if os.path.isdir(out_dir) else []
        problems += [f"{f}: not produced by analysis_ref.py" for f in stale]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(names)} analysis fixtures in {os.path.relpath(out_dir)} match seed {seed} (tolerances: tools/fixture_compare.py)")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: fixtures/analysis/)")
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare bytes with --out")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out, args.seed)
    write_all(args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
