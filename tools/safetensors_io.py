"""Deterministic safetensors writer and a checking reader (numpy only).

Layout written (https://huggingface.co/docs/safetensors):
  * 8-byte little-endian unsigned header length n;
  * n bytes of JSON: `{"__metadata__":{...},"name":{"dtype":"F32","shape":[...],
    "data_offsets":[begin,end]},...}`, `__metadata__` first (its keys sorted,
    string -> string, always present), then the tensors in sorted name order, compact separators,
    ASCII only; padded with spaces so that n is a multiple of 8;
  * the tensor bytes, F32 little-endian, C order, in the same sorted order,
    contiguous from offset 0.
The same tensors and metadata always give the same bytes.
"""

from __future__ import annotations

import json
import struct
from typing import Dict, Mapping, Tuple, Union

import numpy as np

_DTYPES = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
MAX_HEADER_BYTES = 100_000_000


class SafetensorsError(ValueError):
    pass


def _as_f32(value) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise SafetensorsError(f"only floating-point tensors are written, got {array.dtype}")
    return np.ascontiguousarray(array, dtype="<f4")


def encode_safetensors(tensors: Mapping[str, object], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialises tensors (numpy arrays or torch tensors, cast to F32) to bytes."""
    metadata = dict(metadata or {})
    for key, text in metadata.items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise SafetensorsError(f"__metadata__ must map strings to strings (key {key!r})")
    header: Dict[str, object] = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("a tensor cannot be named __metadata__")
        array = _as_f32(tensors[name])
        data = array.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": [int(n) for n in array.shape], "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_safetensors(path: str, tensors: Mapping[str, object], metadata: Mapping[str, str] | None = None) -> int:
    data = encode_safetensors(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def decode_safetensors(data: bytes) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Parses safetensors bytes; checks lengths, dtypes, shapes and that offsets tile the data."""
    if len(data) < 8:
        raise SafetensorsError(f"{len(data)} bytes is too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > MAX_HEADER_BYTES:
        raise SafetensorsError(f"header length {n} does not fit the {len(data)}-byte file")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"header is not valid JSON: {error}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    body = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    entries = []
    for name, entry in header.items():
        if not isinstance(entry, dict):
            raise SafetensorsError(f"tensor {name!r}: entry is not an object")
        dtype = entry.get("dtype")
        if dtype not in _DTYPES:
            raise SafetensorsError(f"tensor {name!r}: dtype {dtype!r} is not supported")
        shape = entry.get("shape")
        offsets = entry.get("data_offsets")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise SafetensorsError(f"tensor {name!r}: bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= len(body)):
            raise SafetensorsError(f"tensor {name!r}: bad data_offsets {offsets!r}")
        count = int(np.prod(shape, dtype=np.int64))
        if offsets[1] - offsets[0] != count * _DTYPES[dtype].itemsize:
            raise SafetensorsError(f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for {dtype}{shape}")
        entries.append((offsets[0], offsets[1], name, dtype, shape))
    entries.sort()
    end = 0
    for begin, stop, name, _, _ in entries:
        if begin != end:
            raise SafetensorsError(f"tensor {name!r}: data_offsets [{begin}, {stop}] leave a gap or overlap")
        end = stop
    if end != len(body):
        raise SafetensorsError(f"{len(body) - end} trailing bytes after the last tensor")
    tensors = {
        name: np.frombuffer(body[begin:stop], dtype=_DTYPES[dtype]).reshape(shape).astype(_DTYPES[dtype].type)
        for begin, stop, name, dtype, shape in entries
    }
    return tensors, dict(metadata)


def read_safetensors(path_or_bytes: Union[str, bytes]) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Returns ({name: array}, metadata) from a path or from bytes."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return decode_safetensors(bytes(path_or_bytes))
    with open(path_or_bytes, "rb") as f:
        return decode_safetensors(f.read())
