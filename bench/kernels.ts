/**
 * `npm run bench:kernels [-- --json FILE]`: GPU time of the engine's kernels at
 * the CRATE-T and CRATE-B shapes (224/16, N = 197), from timestamp queries
 * around each dispatch of real forward passes, before and after: an engine on
 * the original kernels (BASELINE_VARIANTS) and one on the variants its own
 * tuning chose, run alternately in one process so that both see the same
 * machine (SwiftShader's speed follows the host's load; docs/PLATFORM.md).
 * Prints medians, GFLOP/s and after/before ratios. A benchmark, not a test:
 * nothing here asserts speed.
 */
import { writeFileSync } from 'node:fs';
import { median } from '../src/analysis/dataset.ts';
import { CrateGpuEngine, type EngineInfo } from '../src/engine/gpu/engine.ts';
import { requestNodeGpu } from '../src/engine/node/nodeGpu.ts';
import { attentionFlops } from '../src/kernels/attention.ts';
import { MemoryTuningStore } from '../src/kernels/autotune.ts';
import { matmulFlops } from '../src/kernels/matmul.ts';
import { BASELINE_VARIANTS } from '../src/kernels/variants.ts';
import { randomImage, randomModel } from '../test/helpers/randomModel.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// Two layers are enough for per-layer medians; 12 only multiplies SwiftShader's minutes.
const DEPTH = Number(process.env.BENCH_DEPTH ?? 2);
/** The tuning budget, as the app gives it (about 1 s); BENCH_TUNE_MS=30000 times every candidate on SwiftShader. */
const TUNE_MS = Number(process.env.BENCH_TUNE_MS ?? 1000);
const jsonIndex = process.argv.indexOf('--json');
const JSON_FILE = jsonIndex >= 0 ? process.argv[jsonIndex + 1] : undefined;
if (jsonIndex >= 0 && !JSON_FILE) {
  console.error('usage: npm run bench:kernels -- [--json FILE]');
  process.exit(2);
}
const SHAPES = [
  { name: 'CRATE-T', dim: 384, heads: 6, dim_head: 64 },
  { name: 'CRATE-B', dim: 768, heads: 12, dim_head: 64 },
];
/** The roles the JSON reports, in the engine's per-layer order. */
const ROLES = ['qkv', 'attention', 'to_out', 'ista residual', 'ista step'] as const;

interface Timing {
  ms: number;
  gflops: number;
}

interface Side {
  perRole: Map<string, number[]>;
  forward: number[];
}

async function profileOnce(engine: CrateGpuEngine, image: Float32Array, side: Side): Promise<void> {
  const { profile } = await engine.run(image, undefined, { profile: true });
  if (!profile?.supported) throw new Error('profile unsupported');
  side.forward.push(profile.totalMs);
  const sums = new Map<string, number>();
  for (const t of profile.dispatches.filter((t) => t.scope.startsWith('layer '))) sums.set(t.role, (sums.get(t.role) ?? 0) + t.ms / DEPTH);
  for (const [role, ms] of sums) side.perRole.set(role, [...(side.perRole.get(role) ?? []), ms]);
}

function summarise(side: Side, flops: Record<string, number>): { kernels: Record<string, Timing>; forwardMs: number } {
  const kernels: Record<string, Timing> = {};
  for (const [role, times] of side.perRole) {
    const ms = median(times);
    kernels[role] = { ms, gflops: flops[role] ? flops[role] / (ms * 1e-3) / 1e9 : NaN };
  }
  return { kernels, forwardMs: median(side.forward) };
}

const gpu = await requestNodeGpu((m) => console.error(m));
console.log(`adapter: ${gpu.adapterName}${gpu.software ? ' (software)' : ''}; ${RUNS} profiled runs each, alternating before/after, ${DEPTH} layers, N = 197`);
if (!gpu.device.features.has('timestamp-query')) {
  console.log('this adapter has no timestamp-query feature: GPU times per kernel cannot be measured here.');
  process.exit(1);
}

const report: {
  adapter: string;
  variants: EngineInfo['variants'] | Record<string, never>;
  baselineVariants: typeof BASELINE_VARIANTS;
  runs: number;
  depth: number;
  shapes: Record<string, unknown>;
} = { adapter: gpu.adapterName, variants: {}, baselineVariants: BASELINE_VARIANTS, runs: RUNS, depth: DEPTH, shapes: {} };
const store = new MemoryTuningStore();

for (const shape of SHAPES) {
  const model = randomModel({ ...shape, depth: DEPTH, num_classes: 1000 }, 7);
  const before = CrateGpuEngine.create(gpu.device, model, { variants: BASELINE_VARIANTS });
  const after = CrateGpuEngine.create(gpu.device, model);
  const tuneStart = performance.now();
  const info = await after.tune({ store, budgetMs: TUNE_MS });
  const tuneMs = performance.now() - tuneStart;
  if (Object.keys(report.variants).length === 0) report.variants = info.variants;
  const image = randomImage(model, 1);
  await before.run(image); // warm-up: pipelines, first-touch allocation
  await after.run(image);
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
  const sides: Record<'before' | 'after', Side> = { before: { perRole: new Map(), forward: [] }, after: { perRole: new Map(), forward: [] } };
  for (let r = 0; r < RUNS; r++) {
    // Alternate which goes first, so neither always follows the other.
    const order = r % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const);
    for (const which of order) await profileOnce(which === 'before' ? before : after, image, sides[which]);
  }
  const { perLayer } = await after.dispatchCount();
  const was = summarise(sides.before, flops);
  const now = summarise(sides.after, flops);
  const speedup: Record<string, number> = {};
  for (const role of Object.keys(now.kernels)) if (was.kernels[role]) speedup[role] = was.kernels[role].ms / now.kernels[role].ms;

  console.log(`\n${shape.name} (d = ${d}, ${shape.heads}×${shape.dim_head}), per layer, median of ${RUNS}; ${perLayer} dispatches per layer`);
  console.log(`tuned in ${tuneMs.toFixed(0)} ms (${info.tuning}): ${Object.values(info.variantDescriptions).join('; ')}`);
  for (const [kernel, timings] of Object.entries(info.tuningTimings)) {
    console.log(`  ${kernel} candidates (ms, fastest of up to 3): ${Object.entries(timings).map(([v, ms]) => `${v} ${ms.toFixed(1)}`).join(', ')}`);
    const deviations = info.tuningDeviations[kernel as keyof typeof info.tuningDeviations] ?? {};
    if (Object.keys(deviations).length) console.log(`  ${kernel} output vs the default's (max |Δ| ÷ max |value|): ${Object.entries(deviations).map(([v, d]) => `${v} ${d.toExponential(1)}`).join(', ')}`);
  }
  if (info.tuningNote) console.log(`  note: ${info.tuningNote}`);
  console.log('| kernel | before ms | before GFLOP/s | after ms | after GFLOP/s | speed-up |\n|---|---|---|---|---|---|');
  const gf = (t?: Timing) => (t && !Number.isNaN(t.gflops) ? t.gflops.toFixed(2) : '–');
  for (const role of Object.keys(now.kernels)) {
    const b = was.kernels[role];
    const a = now.kernels[role];
    console.log(`| ${role} | ${b?.ms.toFixed(2) ?? '–'} | ${gf(b)} | ${a.ms.toFixed(2)} | ${gf(a)} | ${speedup[role]?.toFixed(2) ?? '–'}× |`);
  }
  console.log(`forward (${DEPTH} layers, all dispatches, GPU): before ${was.forwardMs.toFixed(1)} ms, after ${now.forwardMs.toFixed(1)} ms, ${(was.forwardMs / now.forwardMs).toFixed(2)}×`);

  const pick = (side: typeof now) => Object.fromEntries(ROLES.filter((r) => side.kernels[r]).map((r) => [r, side.kernels[r]]));
  report.shapes[shape.name] = {
    variants: info.variants,
    tuning: { source: info.tuning, ms: tuneMs, candidates: info.tuningTimings, deviations: info.tuningDeviations, ...(info.tuningNote ? { note: info.tuningNote } : {}) },
    kernels: pick(now),
    forwardMs: now.forwardMs,
    baseline: { kernels: pick(was), forwardMs: was.forwardMs },
    speedup: { ...Object.fromEntries(ROLES.filter((r) => speedup[r]).map((r) => [r, speedup[r]])), forward: was.forwardMs / now.forwardMs },
  };
  before.destroy();
  after.destroy();
}
if (JSON_FILE) {
  writeFileSync(JSON_FILE, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${JSON_FILE}`);
}
process.exit(0);
