/**
 * The main() of a register-blocked matmul variant with a rows×cols block of C
 * per invocation, written out for a given block: WGSL has no way to size a
 * set of registers by a constant, and an array indexed in a loop lives in
 * memory on a software adapter, which is what blocking avoids. The pipeline is
 * matmulCommon.wgsl + matmulRowStatistics.wgsl + this; matmul.wgsl is the
 * 4×4 block written by hand (the original kernel).
 */
const COMPONENTS = ['x', 'y', 'z', 'w'];

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * `f32` multiplies in f32. `P` multiplies in the WGSL type the pipeline's
 * prelude aliases as `P`: operands are converted as they are loaded, each
 * four-term dot product is formed in P and added to an f32 accumulator, so
 * only the products and the four-term sums round to P. With `alias P = f16;`
 * that is the f16 variant; with `alias P = f32;` the same code runs on every
 * adapter, which is how the kernel tests hold its indexing to the reference
 * where the adapter has no `shader-f16`.
 */
export type BlockedArithmetic = 'f32' | 'P';

export function blockedMatmulMain(rows: number, cols: number, arithmetic: BlockedArithmetic = 'f32'): string {
  if (rows % 4 !== 0 || cols % 4 !== 0) throw new Error(`a register block is a multiple of 4 each way, got ${rows}×${cols}`);
  const inP = arithmetic === 'P';
  /** Operand names inside the dot products: converted copies when multiplying in P. */
  const an = (r: number) => (inP ? `a${r}p` : `a${r}`);
  const bn = (c: number) => (inP ? `b${c}p` : `b${c}`);
  const sum = (terms: string) => (inP ? `vec4<f32>(vec4<P>(${terms}))` : `vec4<f32>(${terms})`);
  const groups = range(rows / 4);
  const colGroups = range(cols / 4);
  const lines = [
    `// The "${rows}x${cols}${inP ? '-f16' : ''}" matmul variant: each invocation owns a ${rows}×${cols} block of C and`,
    '// walks K four at a time with vec4 loads. A wider block serves more dot',
    '// products per load, which is most of the speed on a software adapter',
    '// (docs/PLATFORM.md). Written by src/kernels/matmulBlocked.ts.',
    '@compute @workgroup_size(WG_X, WG_Y, 1)',
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {',
    `  let row0 = gid.y * ${rows}u;`,
    `  let col0 = gid.x * ${cols}u;`,
    ...range(rows).map((r) => `  let r${r} = clampRow(row0 + ${r}u) * params.K4;`),
    // Statistics of rows 4g..4g+3 as one vec4 each: mean and 1/std.
    ...groups.flatMap((g) => [`  var mean${g} = vec4<f32>(0.0);`, `  var rstd${g} = vec4<f32>(1.0);`]),
    '  if (NORM_A) {',
    ...groups.flatMap((g) => [
      `    let stats${g} = rowStatistics(lid, vec4<u32>(${range(4).map((j) => `r${4 * g + j}`).join(', ')}));`,
      `    mean${g} = stats${g}[0];`,
      `    rstd${g} = stats${g}[1];`,
    ]),
    '  }',
    '  if (row0 >= params.M || col0 >= params.N) {',
    '    return;',
    '  }',
    ...range(cols).map((c) => `  let c${c} = clampCol(col0 + ${c}u) * params.K4;`),
    '  // acc{r}_{q} accumulates row r of the block against columns 4q..4q+3.',
    ...range(rows).flatMap((r) => colGroups.map((q) => `  var acc${r}_${q} = vec4<f32>(0.0);`)),
    '  for (var k = 0u; k < params.K4; k++) {',
    ...range(rows).map((r) => `    var a${r} = a[r${r} + k];`),
    '    if (NORM_A) {',
    ...range(rows).map((r) => {
      const stat = `${Math.floor(r / 4)}.${COMPONENTS[r % 4]}`;
      return `      a${r} = (a${r} - vec4<f32>(mean${stat})) * rstd${stat};`;
    }),
    '    }',
    ...range(cols).map((c) => `    let b${c} = b[c${c} + k];`),
    ...(inP ? [...range(rows).map((r) => `    let a${r}p = vec4<P>(a${r});`), ...range(cols).map((c) => `    let b${c}p = vec4<P>(b${c});`)] : []),
    ...range(rows).flatMap((r) =>
      colGroups.map((q) => `    acc${r}_${q} += ${sum(range(4).map((j) => `dot(${an(r)}, ${bn(4 * q + j)})`).join(', '))};`),
    ),
    '  }',
    ...range(rows).flatMap((r) => colGroups.map((q) => `  store(row0 + ${r}u, col0 + ${4 * q}u, acc${r}_${q});`)),
    '}',
  ];
  return lines.join('\n') + '\n';
}
