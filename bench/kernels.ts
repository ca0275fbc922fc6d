/**
 * `npm run bench:kernels`: GPU time of the engine's kernels at the CRATE-T
 * and CRATE-B shapes (224/16, N = 197), from timestamp queries around each
 * dispatch of real forward passes. Prints medians, achieved GFLOP/s and the
 * dispatches per layer. A benchmark, not a test: nothing here asserts speed.
 */
import { CrateGpuEngine } from '../src/engine/gpu/engine.ts';
import { requestNodeGpu } from '../src/engine/node/nodeGpu.ts';
import { attentionFlops } from '../src/kernels/attention.ts';
import { matmulFlops } from '../src/kernels/matmul.ts';
import { randomImage, randomModel } from '../test/helpers/randomModel.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// Two layers are enough for per-layer medians; 12 only multiplies SwiftShader's minutes.
const DEPTH = Number(process.env.BENCH_DEPTH ?? 2);
const SHAPES = [
  { name: 'CRATE-T', dim: 384, heads: 6, dim_head: 64 },
  { name: 'CRATE-B', dim: 768, heads: 12, dim_head: 64 },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const gpu = await requestNodeGpu((m) => console.error(m));
console.log(`adapter: ${gpu.adapterName}${gpu.software ? ' (software)' : ''}; ${RUNS} profiled runs, ${DEPTH} layers, N = 197`);
if (!gpu.device.features.has('timestamp-query')) {
  console.log('this adapter has no timestamp-query feature: GPU times per kernel cannot be measured here.');
  process.exit(1);
}

for (const shape of SHAPES) {
  const model = randomModel({ ...shape, depth: DEPTH, num_classes: 1000 }, 7);
  const engine = CrateGpuEngine.create(gpu.device, model);
  const image = randomImage(model, 1);
  await engine.run(image); // warm-up: pipelines, first-touch allocation
  const N = model.shape.tokens;
  const d = shape.dim;
  const inner = shape.heads * shape.dim_head;
  const flops: Record<string, number> = {
    qkv: matmulFlops({ M: N, N: inner, K: d }),
    attention: attentionFlops({ tokens: N, heads: shape.heads, dimHead: shape.dim_head }),
    to_out: matmulFlops({ M: N, N: d, K: inner }),
    'ista residual': matmulFlops({ M: N, N: d, K: d }),
    'ista step': matmulFlops({ M: N, N: d, K: d }),
  };
  const perRole = new Map<string, number[]>();
  const forward: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const { profile } = await engine.run(image, undefined, { profile: true });
    if (!profile?.supported) throw new Error('profile unsupported');
    forward.push(profile.totalMs);
    const sums = new Map<string, number>();
    for (const t of profile.dispatches.filter((t) => t.scope.startsWith('layer '))) sums.set(t.role, (sums.get(t.role) ?? 0) + t.ms / DEPTH);
    for (const [role, ms] of sums) perRole.set(role, [...(perRole.get(role) ?? []), ms]);
  }
  const { perLayer } = await engine.dispatchCount();
  const rows = [...perRole].map(([role, times]) => {
    const ms = median(times);
    const gflops = flops[role] ? (flops[role] / (ms * 1e-3)) / 1e9 : NaN;
    return { role, ms, gflops };
  });
  const group = (roles: string[]) => {
    const ms = rows.filter((r) => roles.includes(r.role)).reduce((a, r) => a + r.ms, 0);
    const f = roles.reduce((a, r) => a + (flops[r] ?? 0), 0);
    return { ms, gflops: f / (ms * 1e-3) / 1e9 };
  };
  const mssa = group(['qkv', 'attention', 'to_out']);
  const ista = group(['layerNorm', 'ista residual', 'ista step']);
  console.log(`\n${shape.name} (d = ${d}, ${shape.heads}×${shape.dim_head}), per layer, median of ${RUNS}; ${perLayer} dispatches per layer without capture`);
  console.log('| kernel | GPU ms | GFLOP/s |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.role} | ${r.ms.toFixed(2)} | ${Number.isNaN(r.gflops) ? '–' : r.gflops.toFixed(2)} |`);
  console.log(`| MSSA block (qkv + attention + to_out) | ${mssa.ms.toFixed(2)} | ${mssa.gflops.toFixed(2)} |`);
  console.log(`| ISTA block (LN2 + 2 matmuls) | ${ista.ms.toFixed(2)} | ${ista.gflops.toFixed(2)} |`);
  console.log(`forward (${DEPTH} layers, all dispatches): median ${median(forward).toFixed(1)} ms GPU`);
  engine.destroy();
}
process.exit(0);
