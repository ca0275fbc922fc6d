/**
 * The main() of the split-K matmul variants. A workgroup owns a 16×16 tile of
 * C as 4×4 blocks of 4×4 outputs, and each block is computed by SLICES
 * invocations that walk interleaved quarters of K (vec4 k = slice,
 * slice + 4, …), then add their partial blocks. For the small M·N of CRATE's
 * products at N = 197 tokens (at most a few dozen of the 8×8 variant's 64×64
 * tiles in all), this gives a large GPU 16 times more workgroups than `8x8`
 * (4 times more than `4x4`), which otherwise leave most of its cores idle; on
 * a software adapter the extra reduction only costs. The autotuner decides.
 *
 * Two reductions of the partial blocks:
 * - `workgroup`: through workgroup memory and one barrier, on every adapter;
 * - `subgroup`: with `subgroupShuffleXor` across the four lanes of a block,
 *   no workgroup memory and no barrier; only where the adapter has the
 *   `subgroups` feature (a variant's `requires`).
 *
 * The pipeline is matmulCommon.wgsl + matmulRowStatistics.wgsl + this (the
 * subgroup one begins with `enable subgroups;`). Control flow stays uniform up
 * to the reduction (loads are clamped and masked rather than skipped), as
 * barriers and subgroup operations require.
 */
export const SPLIT_K_SLICES = 4;
/** Rows and columns of C per workgroup: 4×4 blocks of 4×4 outputs. */
export const SPLIT_K_TILE = 16;
/** Workgroup size: slices along x, the tile's 16 blocks along y. */
export const SPLIT_K_WORKGROUP = [SPLIT_K_SLICES, (SPLIT_K_TILE / 4) ** 2, 1] as const;

export type SplitKReduction = 'workgroup' | 'subgroup';

const ROWS = [0, 1, 2, 3];

export function splitKMatmulMain(reduction: SplitKReduction): string {
  const accumulate = [
    '  // acc{r} accumulates row r of the block against its four columns, over this slice of K.',
    ...ROWS.map((r) => `  var acc${r} = vec4<f32>(0.0);`),
    '  let steps = (params.K4 + WG_X - 1u) / WG_X;',
    '  for (var step = 0u; step < steps; step++) {',
    '    let k = step * WG_X + slice;',
    '    // Past K the slice reads a valid vec4 and adds nothing, so every invocation runs every step.',
    '    let inside = k < params.K4;',
    '    let kk = min(k, params.K4 - 1u);',
    ...ROWS.map((r) => `    var a${r} = select(vec4<f32>(0.0), a[r${r} + kk], inside);`),
    '    if (NORM_A) {',
    ...ROWS.map((r) => `      a${r} = select(vec4<f32>(0.0), (a${r} - vec4<f32>(mean[${r}])) * rstd[${r}], inside);`),
    '    }',
    ...ROWS.map((c) => `    let b${c} = b[c${c} + kk];`),
    ...ROWS.map((r) => `    acc${r} += vec4<f32>(dot(a${r}, b0), dot(a${r}, b1), dot(a${r}, b2), dot(a${r}, b3));`),
    '  }',
  ];
  const store = ['  if (slice == 0u) {', ...ROWS.map((r) => `    store(row0 + ${r}u, col0, acc${r});`), '  }'];
  const reduce =
    reduction === 'workgroup'
      ? [
          '  // Every slice leaves its partial block in workgroup memory; slice 0 adds the other three.',
          ...ROWS.map((r) => `  slicePartials[position * 4u + ${r}u] = acc${r};`),
          '  workgroupBarrier();',
          '  if (slice == 0u) {',
          '    for (var other = 1u; other < WG_X; other++) {',
          ...ROWS.map((r) => `      acc${r} += slicePartials[(position + other) * 4u + ${r}u];`),
          '    }',
          '  }',
        ]
      : [
          '  // Lanes ^ 1 and ^ 2 hold the block\'s other slices where subgroups are formed',
          '  // from consecutive invocations, as every implementation we know forms them',
          '  // (sizes are powers of two ≥ 4, so a block\'s four slices share a subgroup);',
          '  // two butterfly steps then leave the sum in every lane. WGSL does not promise',
          '  // that layout, so the autotuner compares this variant\'s output with the',
          '  // default\'s before it may be chosen (src/kernels/autotune.ts).',
          ...[1, 2].flatMap((mask) => ROWS.map((r) => `  acc${r} += subgroupShuffleXor(acc${r}, ${mask}u);`)),
        ];
  const lines = [
    `// The split-K matmul variant with a ${reduction} reduction, written by src/kernels/matmulSplitK.ts`,
    '// (see there for the layout).',
    `const SPLIT_K_TILE: u32 = ${SPLIT_K_TILE}u;`,
    ...(reduction === 'workgroup' ? [`var<workgroup> slicePartials: array<vec4<f32>, ${4 * SPLIT_K_WORKGROUP[0] * SPLIT_K_WORKGROUP[1]}>;`] : []),
    '',
    '@compute @workgroup_size(WG_X, WG_Y, 1)',
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {',
    '  let position = lid.y * WG_X + lid.x;',
    '  let slice = position % WG_X;',
    '  let blockIndex = position / WG_X;',
    '  let row0 = wid.y * SPLIT_K_TILE + (blockIndex / 4u) * 4u;',
    '  let col0 = wid.x * SPLIT_K_TILE + (blockIndex % 4u) * 4u;',
    ...ROWS.map((r) => `  let r${r} = clampRow(row0 + ${r}u) * params.K4;`),
    ...ROWS.map((c) => `  let c${c} = clampCol(col0 + ${c}u) * params.K4;`),
    '  var mean = vec4<f32>(0.0);',
    '  var rstd = vec4<f32>(1.0);',
    '  if (NORM_A) {',
    '    // Grouped by block: the WG_X slices of a block share its four rows.',
    '    let stats = rowStatistics(vec3<u32>(slice, blockIndex, 0u), vec4<u32>(r0, r1, r2, r3));',
    '    mean = stats[0];',
    '    rstd = stats[1];',
    '  }',
    ...accumulate,
    ...reduce,
    ...store,
    '}',
  ];
  return lines.join('\n') + '\n';
}
