#!/usr/bin/python3
"""Writes PyTorch `torch.save` checkpoints in the official CRATE layout, for the
.pth loader's tests (src/engine/pth/, test/unit/pth*.test.ts).

    /usr/bin/python3 tools/make_checkpoints.py                       # rewrite fixtures/checkpoints/
    /usr/bin/python3 tools/make_checkpoints.py --check               # exit 1 if fixtures/checkpoints/ differs
    /usr/bin/python3 tools/make_checkpoints.py --out DIR --size crate-t   # one big file + golden, for tests

Committed set (fixtures/checkpoints/, size "tiny": 32x32 RGB, patch 8, d 32,
2 layers, 2 heads of 16, 10 classes; all from the same random weights):

  tiny_bare_f32.pth         bare OrderedDict state dict (model.state_dict())
  tiny_state_dict_f32.pth   {'state_dict': keys prefixed 'module.', 'epoch', 'best_acc1', 'optimizer'}
  tiny_model_f32.pth        {'model': state dict, 'epoch', 'args': plain dict}
  tiny_f16.pth              bare, float16
  tiny_bf16.pth             {'model': nn.Parameter values}, bfloat16
  tiny_f64.pth              bare, float64
  tiny_strided_f32.pth      bare; every qkv weight stored transposed (stride (1, rows)),
                            both dictionaries D views of one shared storage (offset > 0)
  tiny_deflate.pth          tiny_bare_f32 re-zipped with deflate compression
  tiny_zip64.pth            tiny_bare_f32 re-zipped with ZIP64 records and extra fields
  tiny.golden.safetensors   input [3,32,32]; for p in f32, f16, bf16 (the weights as
                            stored, upcast): p.logits, p.z.l (l = 0..depth: Z^l, and
                            Z^depth the output of the last layer)

Hostile and malformed files (every one must be refused by our loader):

  evil_os_system.pth        data.pkl calls os.system('echo pwned') (GLOBAL 'os system')
  evil_eval.pth             calls builtins.eval (protocol 2 spells it '__builtin__ eval')
  evil_reduce.pth           a real torch.save of {'state_dict': ..., 'hook': Evil()} whose
                            __reduce__ returns (os.system, ...): pickled as 'posix system'
  evil_stack_global.pth     the same through protocol 4's STACK_GLOBAL
  evil_load_from_bytes.pth  torch.storage._load_from_bytes (the legacy path that runs torch.load)
  truncated.pth             the first half of tiny_bare_f32.pth
  zeros.pth                 as many zero bytes as tiny_bare_f32.pth
  short_storage.pth         tiny_bare_f32.pth with storage data/0 cut to half its length
                            (CRC and sizes consistent, so only the length check catches it)

Loading the evil_* files with torch.load (pickle) WOULD run their payloads
(harmless `echo pwned` / `print('pwned')`): never torch.load them.
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crate_ref import CrateRef, model_from_tensors, normalise_config, official_tensor_shapes  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "fixtures", "checkpoints")
SEED = 1234

SIZES: Dict[str, Dict[str, Any]] = {
    "tiny": dict(image_size=32, patch_size=8, channels=3, dim=32, depth=2, heads=2, dim_head=16, num_classes=10),
    # CRATE-T (docs/MEASUREMENTS.md §1) and the same width with 2 layers (for the slow GPU test).
    "crate-t": dict(image_size=224, patch_size=16, channels=3, dim=384, depth=12, heads=6, dim_head=64, num_classes=1000),
    "crate-t-d2": dict(image_size=224, patch_size=16, channels=3, dim=384, depth=2, heads=6, dim_head=64, num_classes=1000),
    # CRATE-B: ~91 MB of float32, for load-time measurements (no golden by default).
    "crate-b": dict(image_size=224, patch_size=16, channels=3, dim=768, depth=12, heads=12, dim_head=64, num_classes=1000),
}


def random_state_dict(config: Dict[str, Any], seed: int) -> "collections.OrderedDict[str, torch.Tensor]":
    """PyTorch's default init (CrateRef) with seeded torch RNG; U is drawn 1.5x wider so attention is not uniform."""
    torch.manual_seed(seed)
    model = CrateRef(config)
    with torch.no_grad():
        for layer in model.transformer.layers:
            layer[0].fn.qkv.weight.mul_(1.5)
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):  # not exactly (1, 0), so a swapped weight/bias shows
                module.weight.add_(0.1 * torch.randn_like(module.weight))
                module.bias.add_(0.1 * torch.randn_like(module.bias))
    sd = model.state_dict()
    names = [name for name, _ in official_tensor_shapes(model.config)]
    assert list(sd.keys()) == names or set(sd.keys()) == set(names), sorted(set(sd.keys()) ^ set(names))
    return sd


def golden(config: Dict[str, Any], sd: Dict[str, torch.Tensor], image: torch.Tensor, prefix: str) -> Dict[str, np.ndarray]:
    """Reference forward pass in float64 on the weights exactly as stored (upcast)."""
    tensors = {k: v.detach().to(torch.float64) for k, v in sd.items()}
    model = model_from_tensors(config, tensors, torch.float64)
    trace = model.forward_trace(image.to(torch.float64))
    out = {f"{prefix}logits": trace["logits"].numpy()}
    for l, layer in enumerate(trace["layers"]):
        out[f"{prefix}z.{l}"] = layer["z"].numpy()
    out[f"{prefix}z.{len(trace['layers'])}"] = trace["layers"][-1]["z_next"].numpy()
    return out


def random_input(config: Dict[str, Any], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 1)
    size = config["image_size"]
    return torch.randn(config["channels"], size, size, generator=g, dtype=torch.float32)


def save(obj: Any, path: str) -> None:
    torch.save(obj, path)


def cast(sd: Dict[str, torch.Tensor], dtype: torch.dtype) -> "collections.OrderedDict[str, torch.Tensor]":
    return collections.OrderedDict((k, v.to(dtype)) for k, v in sd.items())


# ---------------------------------------------------------------- zip rewriting

def rezip(src: str, dst: str, compression: int = zipfile.ZIP_STORED, force_zip64: bool = False,
          replace: Dict[str, bytes] | None = None) -> None:
    """Copies a torch.save archive entry by entry (optionally compressed, or with some entries replaced)."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            data = replace.get(info.filename, zin.read(info.filename))
            out = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            out.compress_type = compression
            with zout.open(out, "w", force_zip64=force_zip64) as f:
                f.write(data)


def zip64_archive(src: str, dst: str) -> None:
    """Writes the entries of `src` stored, with ZIP64 everywhere: local and central zip64 extra
    fields (sizes and offset set to 0xFFFFFFFF in the fixed fields), a ZIP64 end record and
    locator, and 0xFFFF/0xFFFFFFFF in the classic end record, as a >4 GB archive would have."""
    with zipfile.ZipFile(src) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    out = io.BytesIO()
    central = []
    for name, data in entries:
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = out.tell()
        fname = name.encode()
        extra = struct.pack("<HHQQ", 0x0001, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(extra)))
        out.write(fname + extra + data)
        central.append((fname, crc, len(data), offset))
    cd_start = out.tell()
    for fname, crc, size, offset in central:
        extra = struct.pack("<HHQQQ", 0x0001, 24, size, size, offset)
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                              len(fname), len(extra), 0, 0, 0, 0, 0xFFFFFFFF))
        out.write(fname + extra)
    cd_end = out.tell()
    eocd64 = cd_end
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central), len(central), cd_end - cd_start, cd_start))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    with open(dst, "wb") as f:
        f.write(out.getvalue())


def archive_with_pickle(dst: str, pkl: bytes, prefix: str = "archive") -> None:
    """A torch.save-shaped zip (data.pkl, version) around a hand-written pickle."""
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in ((f"{prefix}/data.pkl", pkl), (f"{prefix}/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)


class Evil:
    """The classic: unpickling calls os.system."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("print('pwned')",))


def write_hostile(out: str, bare_path: str) -> None:
    sd_small = {"cls_token": torch.zeros(1, 1, 4)}
    # 1. GLOBAL 'os system' written by hand (pickle itself would spell os.system 'posix system').
    pkl = (b"\x80\x02}q\x00(X\x0a\x00\x00\x00state_dictq\x01"
           b"cos\nsystem\nq\x02X\x0a\x00\x00\x00echo pwnedq\x03\x85q\x04Rq\x05u.")
    archive_with_pickle(os.path.join(out, "evil_os_system.pth"), pkl)
    # 2. builtins.eval, pickled by Python at protocol 2.
    archive_with_pickle(os.path.join(out, "evil_eval.pth"), pickle.dumps({"state_dict": EvilEval()}, protocol=2))
    # 3. A real torch.save whose payload comes after a valid state dict.
    save({"state_dict": sd_small, "hook": Evil()}, os.path.join(out, "evil_reduce.pth"))
    # 4. Protocol 4: STACK_GLOBAL instead of GLOBAL.
    archive_with_pickle(os.path.join(out, "evil_stack_global.pth"), pickle.dumps({"model": Evil()}, protocol=4))
    # 5. The legacy storage path (torch.load of nested bytes).
    pkl = b"\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01ctorch.storage\n_load_from_bytes\nq\x02C\x04abcdq\x03\x85q\x04Rq\x05s."
    archive_with_pickle(os.path.join(out, "evil_load_from_bytes.pth"), pkl)

    data = open(bare_path, "rb").read()
    with open(os.path.join(out, "truncated.pth"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(out, "zeros.pth"), "wb") as f:
        f.write(bytes(len(data)))
    with zipfile.ZipFile(bare_path) as z:
        name = next(n for n in z.namelist() if n.endswith("/data/0"))
        storage = z.read(name)
    rezip(bare_path, os.path.join(out, "short_storage.pth"), replace={name: storage[: len(storage) // 2]})


def write_fixtures(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    config = normalise_config(SIZES["tiny"])
    sd = random_state_dict(config, SEED)
    image = random_input(config, SEED)

    bare = os.path.join(out, "tiny_bare_f32.pth")
    save(sd, bare)
    module_sd = collections.OrderedDict((f"module.{k}", v) for k, v in sd.items())
    momentum = collections.OrderedDict((i, {"momentum_buffer": torch.zeros_like(v)}) for i, v in enumerate(sd.values()) if v.dim() == 1)
    save({"epoch": 3, "arch": "crate_tiny", "state_dict": module_sd, "best_acc1": torch.tensor(12.5),
          "optimizer": {"state": momentum, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": list(momentum.keys())}]}},
         os.path.join(out, "tiny_state_dict_f32.pth"))
    save({"model": sd, "epoch": 5, "args": {"lr": 1e-3, "model": "crate_tiny", "amp": True, "betas": (0.9, 0.999)}},
         os.path.join(out, "tiny_model_f32.pth"))
    sd16 = cast(sd, torch.float16)
    save(sd16, os.path.join(out, "tiny_f16.pth"))
    sdbf = cast(sd, torch.bfloat16)
    save({"model": collections.OrderedDict((k, nn.Parameter(v, requires_grad=False)) for k, v in sdbf.items())},
         os.path.join(out, "tiny_bf16.pth"))
    save(cast(sd, torch.float64), os.path.join(out, "tiny_f64.pth"))

    strided = collections.OrderedDict()
    d_names = [k for k in sd if k.endswith(".1.fn.weight")]
    shared = torch.cat([torch.zeros(7)] + [sd[k].reshape(-1) for k in d_names])
    cursor = 7
    for k, v in sd.items():
        if k.endswith("qkv.weight"):
            strided[k] = v.t().contiguous().t()
            assert not strided[k].is_contiguous()
        elif k in d_names:
            strided[k] = shared[cursor: cursor + v.numel()].view(v.shape)
            cursor += v.numel()
        else:
            strided[k] = v
    for k, v in strided.items():
        assert torch.equal(v, sd[k]), k
    save(strided, os.path.join(out, "tiny_strided_f32.pth"))

    rezip(bare, os.path.join(out, "tiny_deflate.pth"), compression=zipfile.ZIP_DEFLATED)
    zip64_archive(bare, os.path.join(out, "tiny_zip64.pth"))
    for name in ("tiny_deflate.pth", "tiny_zip64.pth"):  # torch itself must accept them as the same checkpoint
        back = torch.load(os.path.join(out, name))
        assert all(torch.equal(back[k], sd[k]) for k in sd), name

    gold: Dict[str, np.ndarray] = {"input": image.numpy()}
    gold.update(golden(config, sd, image, "f32."))
    gold.update(golden(config, sd16, image, "f16."))
    gold.update(golden(config, sdbf, image, "bf16."))
    write_safetensors(os.path.join(out, "tiny.golden.safetensors"), gold, {"config": str(config)})

    write_hostile(out, bare)


def write_sized(out: str, size: str, dtype: str, golden_too: bool) -> None:
    os.makedirs(out, exist_ok=True)
    config = normalise_config(SIZES[size])
    sd = random_state_dict(config, SEED)
    torch_dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]
    stored = cast(sd, torch_dtype)
    # The official release layout: {'state_dict': {'module.…': …}, …}.
    save({"epoch": 99, "state_dict": collections.OrderedDict((f"module.{k}", v) for k, v in stored.items())},
         os.path.join(out, f"{size}.pth"))
    if golden_too:
        image = random_input(config, SEED)
        gold = {"input": image.numpy()}
        gold.update(golden(config, stored, image, ""))
        write_safetensors(os.path.join(out, f"{size}.golden.safetensors"), gold, {"config": str(config)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--size", choices=sorted(SIZES), help="write one <size>.pth (+ golden) instead of the fixture set")
    parser.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32")
    parser.add_argument("--no-golden", action="store_true")
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare with --out (tools/fixture_compare.py)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.check:
        import tempfile
        from fixture_compare import compare_files
        with tempfile.TemporaryDirectory() as tmp:
            write_fixtures(tmp)
            fresh, committed = sorted(os.listdir(tmp)), sorted(f for f in os.listdir(args.out) if f != "README.md")
            bad = sorted(set(fresh) ^ set(committed)) + [f for f in fresh if f in committed and compare_files(
                os.path.join(args.out, f), os.path.join(tmp, f))]
        if bad:
            print("fixtures/checkpoints differs from a fresh run:", ", ".join(bad))
            sys.exit(1)
        print(f"{args.out}: {len(fresh)} files match a fresh run (tools/fixture_compare.py)")
    elif args.size:
        write_sized(args.out, args.size, args.dtype, not args.no_golden)
    else:
        write_fixtures(args.out)


if __name__ == "__main__":
    main()
