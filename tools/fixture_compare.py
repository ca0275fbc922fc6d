"""Compare a fresh fixture generation with the committed one, within tolerances.

Bitwise equality of floating-point results across CPUs is not something anyone
can promise: OpenBLAS (and so PyTorch and numpy) picks its kernels per CPU, and
summation order changes the last bits (docs/PLATFORM.md). So the fixture checks
compare what must be exact exactly — file names, tensor names, dtypes, shapes,
integer data, strings, JSON structure — and floats with a relative tolerance:
1e-12 for float64 values (the JSON metadata), and a few float32 ulps for
float32 tensors. Files that hold no computed float (ONNX graphs, pickled
checkpoints: seeded random weights serialised) are still compared byte for
byte, since nothing in them depends on the CPU's arithmetic.
"""
from __future__ import annotations

import filecmp
import json
import math
from typing import Any, List

import numpy as np

from safetensors_io import read_safetensors

FLOAT64_RTOL = 1e-12
# float32 tensors computed through BLAS: a handful of ulps (2^-23 ≈ 1.2e-7) of
# relative error, measured against the tensor's own scale so that entries near
# zero in a long dot product do not demand a relative match.
FLOAT32_RTOL = 1e-6


def _compare_json(a: Any, b: Any, where: str, problems: List[str]) -> None:
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        if a != b or type(a) is not type(b):
            problems.append(f"{where}: {a!r} != {b!r}")
    elif isinstance(a, int) and isinstance(b, int):
        if a != b:
            problems.append(f"{where}: {a} != {b}")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if not (math.isnan(a) and math.isnan(b)) and not math.isclose(a, b, rel_tol=FLOAT64_RTOL, abs_tol=FLOAT64_RTOL):
            problems.append(f"{where}: {a!r} != {b!r} beyond {FLOAT64_RTOL:g} relative")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _compare_json(x, y, f"{where}[{i}]", problems)
    elif isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            problems.append(f"{where}: keys {sorted(a)} != {sorted(b)}")
        for key in a.keys() & b.keys():
            _compare_json(a[key], b[key], f"{where}.{key}", problems)
    else:
        problems.append(f"{where}: {type(a).__name__} != {type(b).__name__}")


def _metadata_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def compare_safetensors(committed: str, fresh: str) -> List[str]:
    """Every difference between two safetensors files that exceeds the tolerances above."""
    (ta, ma), (tb, mb) = read_safetensors(committed), read_safetensors(fresh)
    problems: List[str] = []
    if sorted(ta) != sorted(tb):
        problems.append(f"tensor names differ: {sorted(set(ta) ^ set(tb))}")
    for name in sorted(ta.keys() & tb.keys()):
        a, b = ta[name], tb[name]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}")
        elif a.dtype.kind != "f":
            if not np.array_equal(a, b):
                problems.append(f"{name}: integer data differs")
        else:
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            if not np.array_equal(np.isnan(a64), np.isnan(b64)):
                problems.append(f"{name}: NaN positions differ")
                continue
            rtol = FLOAT64_RTOL if a.dtype == np.float64 else FLOAT32_RTOL
            finite = np.isfinite(a64) & np.isfinite(b64)
            scale = float(np.max(np.abs(a64[finite]))) if finite.any() else 0.0
            excess = np.abs(a64[finite] - b64[finite]) - rtol * np.maximum(np.abs(a64[finite]), scale)
            if (excess > 0).any() or not np.array_equal(a64[~finite], b64[~finite]):
                worst = float(np.max(np.abs(a64[finite] - b64[finite]))) if finite.any() else float("nan")
                problems.append(f"{name}: differs by {worst:.3g} (scale {scale:.3g}, tolerance {rtol:g} relative)")
    if sorted(ma) != sorted(mb):
        problems.append(f"metadata keys differ: {sorted(set(ma) ^ set(mb))}")
    for key in sorted(ma.keys() & mb.keys()):
        _compare_json(_metadata_value(ma[key]), _metadata_value(mb[key]), f"metadata.{key}", problems)
    return problems


def compare_files(committed: str, fresh: str) -> List[str]:
    """Tolerant for safetensors (computed floats), byte for byte for everything else."""
    if committed.endswith(".safetensors"):
        return compare_safetensors(committed, fresh)
    return [] if filecmp.cmp(committed, fresh, shallow=False) else ["bytes differ"]
