/**
 * The WGSL of a blocked, flash-style attention variant: `queries` query tokens
 * per invocation walk the keys `keys` at a time, so every key row loaded
 * serves `queries` dot products and every query row `keys` of them (a
 * register block, as in the matmul variants), and each accumulator is read
 * and written once per block of keys. The softmax is online: a running max m
 * and sum l per query, the accumulator rescaled by exp(m_old − m_new) in the
 * same pass that adds the block's weighted values, so memory stays O(N·dh);
 * the N×N probabilities are written in a second pass only when WRITE_PROBS
 * asks. Written out per block because WGSL cannot size registers by a
 * constant (an array indexed in a loop lives in memory on a software
 * adapter). The pipeline is attentionCommon.wgsl + this.
 */
const COMPONENTS = ['x', 'y', 'z', 'w'];

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function blockedAttentionMain(queries: number, keys: number): string {
  if (queries % 4 !== 0 || keys % 4 !== 0) throw new Error(`an attention block is a multiple of 4 each way, got ${queries}×${keys}`);
  const Q = range(queries);
  const groups = range(queries / 4); // queries 4g..4g+3 share vec4s of running statistics
  const keyGroups = range(keys / 4); // keys 4h..4h+3 of the block share a vec4 of scores
  const KG = keys / 4;
  const group = (q: number) => `[${Math.floor(q / 4)}].${COMPONENTS[q % 4]}`;
  /** Scores of query q against key group h: s[q·KG + h]. */
  const score = (q: number, h: number) => `s[${q * KG + h}]`;
  const lines = [
    `// The ${queries}×${keys} blocked attention variant, written by src/kernels/attentionBlocked.ts.`,
    `const QUERIES_PER_INVOCATION: u32 = ${queries}u;`,
    `const KEYS_PER_BLOCK: u32 = ${keys}u;`,
    '// Masked keys past the last token get this score, so exp() makes them 0.',
    'const MASKED: f32 = -3.0e38;',
    '',
    ...Q.map((q) => `var<private> query${q}: array<vec4<f32>, MAX_DH4>;`),
    ...Q.map((q) => `var<private> acc${q}: array<vec4<f32>, MAX_DH4>;`),
    '',
    '// Row offsets (in vec4s) of the block of keys starting at token j, the last token repeated past the end.',
    `fn keyOffsets(j: u32, headOffset: u32) -> array<vec4<u32>, ${KG}> {`,
    '  let last = vec4<u32>(params.tokens - 1u);',
    `  return array<vec4<u32>, ${KG}>(${keyGroups.map((h) => `min(vec4<u32>(j + ${4 * h}u) + vec4<u32>(0u, 1u, 2u, 3u), last) * params.inner4 + vec4<u32>(headOffset)`).join(', ')});`,
    '}',
    '',
    '// Scores of every query against the block of keys, keys past the last token masked.',
    `fn blockScores(j: u32, k: array<vec4<u32>, ${KG}>) -> array<vec4<f32>, ${queries * KG}> {`,
    ...Q.flatMap((q) => keyGroups.map((h) => `  var s${q}_${h} = vec4<f32>(0.0);`)),
    '  for (var t = 0u; t < params.dh4; t++) {',
    ...keyGroups.flatMap((h) => range(4).map((c) => `    let k${4 * h + c} = w[k[${h}].${COMPONENTS[c]} + t];`)),
    ...Q.flatMap((q) => [
      `    let q${q} = query${q}[t];`,
      ...keyGroups.map((h) => `    s${q}_${h} += vec4<f32>(${range(4).map((c) => `dot(q${q}, k${4 * h + c})`).join(', ')});`),
    ]),
    '  }',
    '  let last = vec4<u32>(params.tokens - 1u);',
    ...keyGroups.map((h) => `  let valid${h} = vec4<u32>(j + ${4 * h}u) + vec4<u32>(0u, 1u, 2u, 3u) <= last;`),
    '  let masked = vec4<f32>(MASKED);',
    `  return array<vec4<f32>, ${queries * KG}>(${Q.flatMap((q) => keyGroups.map((h) => `select(masked, s${q}_${h}, valid${h})`)).join(', ')});`,
    '}',
    '',
    'fn rowMax(s: vec4<f32>) -> f32 {',
    '  return max(max(s.x, s.y), max(s.z, s.w));',
    '}',
    '',
    '@compute @workgroup_size(WG_X, 1, 1)',
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  let first = gid.x * QUERIES_PER_INVOCATION;',
    '  let head = gid.y;',
    '  if (first >= params.tokens) {',
    '    return;',
    '  }',
    '  let last = params.tokens - 1u;',
    '  let headOffset = head * params.dh4;',
    '  // Queries past the last token repeat it; their results are not stored.',
    ...groups.map((g) => `  let queryBase${g} = min(vec4<u32>(first + ${4 * g}u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset);`),
    '  for (var t = 0u; t < params.dh4; t++) {',
    ...Q.flatMap((q) => [`    query${q}[t] = w[queryBase${Math.floor(q / 4)}.${COMPONENTS[q % 4]} + t] * params.scale;`, `    acc${q}[t] = vec4<f32>(0.0);`]),
    '  }',
    '',
    `  var runningMax: array<vec4<f32>, ${groups.length}>;`,
    `  var runningSum: array<vec4<f32>, ${groups.length}>;`,
    ...groups.map((g) => `  runningMax[${g}] = vec4<f32>(MASKED);`),
    '  let ones = vec4<f32>(1.0);',
    '  for (var j = 0u; j < params.tokens; j += KEYS_PER_BLOCK) {',
    '    let k = keyOffsets(j, headOffset);',
    '    let s = blockScores(j, k);',
    ...groups.flatMap((g) => {
      const qs = range(4).map((i) => 4 * g + i);
      const rowMax = (q: number) => keyGroups.map((h) => `rowMax(${score(q, h)})`).reduce((a, b) => `max(${a}, ${b})`);
      return [
        `    let newMax${g} = max(runningMax[${g}], vec4<f32>(${qs.map(rowMax).join(', ')}));`,
        `    let correction${g} = exp(runningMax[${g}] - newMax${g});`,
        ...qs.flatMap((q) => keyGroups.map((h) => `    let p${q}_${h} = exp(${score(q, h)} - vec4<f32>(newMax${g}.${COMPONENTS[q % 4]}));`)),
        `    runningSum[${g}] = runningSum[${g}] * correction${g} + vec4<f32>(${qs.map((q) => `dot(${keyGroups.map((h) => `p${q}_${h}`).join(' + ')}, ones)`).join(', ')});`,
        `    runningMax[${g}] = newMax${g};`,
      ];
    }),
    '    for (var t = 0u; t < params.dh4; t++) {',
    ...keyGroups.flatMap((h) => range(4).map((c) => `      let v${4 * h + c} = w[k[${h}].${COMPONENTS[c]} + t];`)),
    ...Q.map((q) => {
      const terms = keyGroups.flatMap((h) => range(4).map((c) => `p${q}_${h}.${COMPONENTS[c]} * v${4 * h + c}`));
      return `      acc${q}[t] = acc${q}[t] * correction${Math.floor(q / 4)}.${COMPONENTS[q % 4]} + ${terms.join(' + ')};`;
    }),
    '    }',
    '  }',
    '',
    '  let count = min(params.tokens - first, QUERIES_PER_INVOCATION);',
    `  var inverseSum: array<vec4<f32>, ${groups.length}>;`,
    ...groups.map((g) => `  inverseSum[${g}] = 1.0 / runningSum[${g}];`),
    '  for (var t = 0u; t < params.dh4; t++) {',
    ...Q.flatMap((q) => {
      const store = `out[queryBase${Math.floor(q / 4)}.${COMPONENTS[q % 4]} + t] = acc${q}[t] * inverseSum${group(q)};`;
      return q === 0 ? [`    ${store}`] : [`    if (count > ${q}u) {`, `      ${store}`, '    }'];
    }),
    '  }',
    '',
    '  if (WRITE_PROBS) {',
    '    for (var j = 0u; j < params.tokens; j += KEYS_PER_BLOCK) {',
    '      let s = blockScores(j, keyOffsets(j, headOffset));',
    '      for (var q = 0u; q < count; q++) {',
    '        let rowBase = (head * params.tokens + first + q) * params.tokens;',
    '        let m = runningMax[q / 4u][q % 4u];',
    '        let inverse = inverseSum[q / 4u][q % 4u];',
    '        for (var c = 0u; c < KEYS_PER_BLOCK; c++) {',
    '          if (j + c > last) {',
    '            break;',
    '          }',
    `          probabilities[rowBase + j + c] = exp(s[q * ${KG}u + c / 4u][c % 4u] - m) * inverse;`,
    '        }',
    '      }',
    '    }',
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}
