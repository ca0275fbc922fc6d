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

export function blockedMatmulMain(rows: number, cols: number): string {
  if (rows % 4 !== 0 || cols % 4 !== 0) throw new Error(`a register block is a multiple of 4 each way, got ${rows}×${cols}`);
  const groups = range(rows / 4);
  const colGroups = range(cols / 4);
  const lines = [
    `// The "${rows}x${cols}" matmul variant: each invocation owns a ${rows}×${cols} block of C and`,
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
    ...range(rows).flatMap((r) =>
      colGroups.map((q) => `    acc${r}_${q} += vec4<f32>(${range(4).map((j) => `dot(a${r}, b${4 * q + j})`).join(', ')});`),
    ),
    '  }',
    ...range(rows).flatMap((r) => colGroups.map((q) => `  store(row0 + ${r}u, col0 + ${4 * q}u, acc${r}_${q});`)),
    '}',
  ];
  return lines.join('\n') + '\n';
}
