#!/usr/bin/python3
"""Writes a CRATE-α checkpoint in the port's layout with random weights (issue 16).

A plain state dict, as `torch.save(model.state_dict())` of the authors' port
writes it (docs/MEASUREMENTS.md §1.1): conv1, pos_embedding, cls_token,
transformer.layers.i.{0,1}.…, mlp_head. For the large-file e2e (an L/14-sized
file, about 1.2 GB) and the B/16 benches; never committed. Weights are
float32 normal at 1/sqrt(fan-in) (D and D1 at sqrt(1/d)), LayerNorms at γ = 1,
β = 0, so the forward stays finite; nothing here is a trained model.

    /usr/bin/python3 tools/make_random_alpha_checkpoint.py --out /tmp/l14.pth \
        --dim 1024 --depth 24 --patch 14 --image 224 --ratio 4
"""

import argparse
import math
import time

import torch


def state_dict(dim: int, depth: int, inner: int, patch: int, image: int, ratio: int, classes: int, channels: int, seed: int):
    torch.manual_seed(seed)
    tokens = (image // patch) ** 2 + 1
    wide = ratio * dim

    def normal(*shape, scale):
        return torch.randn(*shape, dtype=torch.float32) * scale

    sd = {
        'conv1.weight': normal(dim, channels, patch, patch, scale=1 / math.sqrt(channels * patch * patch)),
        'conv1.bias': torch.zeros(dim),
        'pos_embedding': normal(1, tokens, dim, scale=0.02),
        'cls_token': normal(1, 1, dim, scale=0.02),
    }
    for i in range(depth):
        p = f'transformer.layers.{i}'
        sd[f'{p}.0.norm.weight'] = torch.ones(dim)
        sd[f'{p}.0.norm.bias'] = torch.zeros(dim)
        sd[f'{p}.0.fn.qkv.weight'] = normal(inner, dim, scale=1 / math.sqrt(dim))
        sd[f'{p}.0.fn.to_out.0.weight'] = normal(dim, inner, scale=1 / math.sqrt(inner))
        sd[f'{p}.1.norm.weight'] = torch.ones(dim)
        sd[f'{p}.1.norm.bias'] = torch.zeros(dim)
        sd[f'{p}.1.fn.D'] = normal(dim, wide, scale=1 / math.sqrt(dim))
        sd[f'{p}.1.fn.D1'] = normal(dim, wide, scale=1 / math.sqrt(wide))
    sd['mlp_head.0.weight'] = torch.ones(dim)
    sd['mlp_head.0.bias'] = torch.zeros(dim)
    sd['mlp_head.1.weight'] = normal(classes, dim, scale=1 / math.sqrt(dim))
    sd['mlp_head.1.bias'] = torch.zeros(classes)
    return sd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--dim', type=int, default=1024)
    parser.add_argument('--depth', type=int, default=24)
    parser.add_argument('--heads', type=int, default=16, help='not stored in the file (heads·dim_head = dim whatever the split); accepted so a caller can say which split it means')
    parser.add_argument('--patch', type=int, default=14)
    parser.add_argument('--image', type=int, default=224)
    parser.add_argument('--ratio', type=int, default=4)
    parser.add_argument('--classes', type=int, default=1000)
    parser.add_argument('--channels', type=int, default=3)
    parser.add_argument('--seed', type=int, default=16)
    args = parser.parse_args()
    started = time.time()
    sd = state_dict(args.dim, args.depth, args.dim, args.patch, args.image, args.ratio, args.classes, args.channels, args.seed)
    torch.save(sd, args.out)
    count = sum(t.numel() for t in sd.values())
    print(f'{args.out}: {len(sd)} tensors, {count} floats ({4 * count / 1e9:.2f} GB) in {time.time() - started:.1f} s')


if __name__ == '__main__':
    main()
