#!/usr/bin/python3
"""The ImageNet evaluation transform on the PIL path, written out as torchvision runs it.

torchvision is not installed here; its `Resize(256)`, `CenterCrop(224)`, `ToTensor()` and
`Normalize(mean, std)` on a PIL image come down to the PIL calls below
(torchvision.transforms.functional: `_compute_resized_output_size`, `img.resize(size, BILINEAR)`,
`center_crop`'s `int(round((h - 224) / 2.0))` offsets, division by 255). The image loader of
torchvision's datasets opens the file with `Image.open(f).convert('RGB')`.

    /usr/bin/python3 tools/pil_eval_transform.py IMAGE OUT.npy   # float32 (3, 224, 224), ImageNet mean/std
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def eval_transform(path: str, resize: int = 256, crop: int = 224, mean=MEAN, std=STD) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = resize, int(resize * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)  # PIL takes (width, height)
    img = img.resize(size, Image.BILINEAR)
    top = int(round((img.size[1] - crop) / 2.0))
    left = int(round((img.size[0] - crop) / 2.0))
    img = img.crop((left, top, left + crop, top + crop))
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    return ((x - m) / s).astype(np.float32)


if __name__ == "__main__":
    np.save(sys.argv[2], eval_transform(sys.argv[1]))
