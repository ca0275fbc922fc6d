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

/**
 * Workgroup memory for staged keys, in vec4s (8 KiB): KEY_TILE_VEC4S / dh4
 * keys per tile, rounded down to whole blocks, from 8 keys at dh = 256 to 168
 * at dh = 12.
 */
export const KEY_TILE_VEC4S = 512;

export interface BlockedAttentionOptions {
  /**
   * Stage each tile of keys (which are also the values: CRATE ties them) in
   * workgroup memory, loaded once by the whole workgroup instead of once per
   * invocation, as flash-attention kernels for GPUs do; costs two barriers per
   * tile. Without it every invocation reads keys from the storage buffer.
   */
  stageKeys?: boolean;
}

export function blockedAttentionMain(queries: number, keys: number, { stageKeys = false }: BlockedAttentionOptions = {}): string {
  if (queries % 4 !== 0 || keys % 4 !== 0) throw new Error(`an attention block is a multiple of 4 each way, got ${queries}×${keys}`);
  /** Where key (= value) rows are read from, and how keyOffsets() addresses them. */
  const keySource = stageKeys ? 'keyTile' : 'w';
  const Q = range(queries);
  const groups = range(queries / 4); // queries 4g..4g+3 share vec4s of running statistics
  const keyGroups = range(keys / 4); // keys 4h..4h+3 of the block share a vec4 of scores
  const KG = keys / 4;
  const group = (q: number) => `[${Math.floor(q / 4)}].${COMPONENTS[q % 4]}`;
  /** Scores of query q against key group h: s[q·KG + h]. */
  const score = (q: number, h: number) => `s[${q * KG + h}]`;
  /**
   * `body` once per block of keys starting at token j, with k = keyOffsets(…) of
   * the block; staged, inside a loop over tiles that stages each (all
   * invocations, uniform bounds) and waits for every invocation before the
   * next tile overwrites it.
   */
  const overKeyBlocks = (body: string[], indent: string): string[] =>
    (stageKeys
      ? [
          'for (var tile0 = 0u; tile0 < params.tokens; tile0 += tileKeys) {',
          '  stageKeyTile(tile0, tileKeys, headOffset, local);',
          '  let tileEnd = min(tile0 + tileKeys, params.tokens);',
          '  for (var j = tile0; j < tileEnd; j += KEYS_PER_BLOCK) {',
          '    let k = keyOffsets(j, tile0);',
          ...body.map((line) => `    ${line}`),
          '  }',
          '  workgroupBarrier();',
          '}',
        ]
      : ['for (var j = 0u; j < params.tokens; j += KEYS_PER_BLOCK) {', '  let k = keyOffsets(j, headOffset);', ...body.map((line) => `  ${line}`), '}']
    ).map((line) => indent + line);
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
    ...(stageKeys
      ? [
          `var<workgroup> keyTile: array<vec4<f32>, ${KEY_TILE_VEC4S}>;`,
          `const KEY_TILE_VEC4S: u32 = ${KEY_TILE_VEC4S}u;`,
          '',
          '// The whole workgroup copies keys tile0 .. tile0 + tileKeys − 1 of this head (the last',
          '// token repeated past the end) into keyTile, row-major with dh4 vec4s per key.',
          'fn stageKeyTile(tile0: u32, tileKeys: u32, headOffset: u32, local: u32) {',
          '  let entries = tileKeys * params.dh4;',
          '  for (var e = local; e < entries; e += WG_X) {',
          '    let token = min(tile0 + e / params.dh4, params.tokens - 1u);',
          '    keyTile[e] = w[token * params.inner4 + headOffset + e % params.dh4];',
          '  }',
          '  workgroupBarrier();',
          '}',
          '',
          '// Offsets (in vec4s) in keyTile of the block of keys starting at token j of the tile',
          '// that starts at token `base`, the last token repeated past the end.',
        ]
      : ['// Row offsets (in vec4s) in W of the block of keys starting at token j, whose head starts', '// at vec4 `base` of a row; the last token repeated past the end.']),
    `fn keyOffsets(j: u32, base: u32) -> array<vec4<u32>, ${KG}> {`,
    '  let last = vec4<u32>(params.tokens - 1u);',
    `  return array<vec4<u32>, ${KG}>(${keyGroups
      .map((h) => {
        const token = `min(vec4<u32>(j + ${4 * h}u) + vec4<u32>(0u, 1u, 2u, 3u), last)`;
        return stageKeys ? `(${token} - vec4<u32>(base)) * params.dh4` : `${token} * params.inner4 + vec4<u32>(base)`;
      })
      .join(', ')});`,
    '}',
    '',
    '// Scores of every query against the block of keys, keys past the last token masked.',
    `fn blockScores(j: u32, k: array<vec4<u32>, ${KG}>) -> array<vec4<f32>, ${queries * KG}> {`,
    ...Q.flatMap((q) => keyGroups.map((h) => `  var s${q}_${h} = vec4<f32>(0.0);`)),
    '  for (var t = 0u; t < params.dh4; t++) {',
    ...keyGroups.flatMap((h) => range(4).map((c) => `    let k${4 * h + c} = ${keySource}[k[${h}].${COMPONENTS[c]} + t];`)),
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
    stageKeys
      ? 'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) local: u32) {'
      : 'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  let first = gid.x * QUERIES_PER_INVOCATION;',
    '  let head = gid.y;',
    ...(stageKeys
      ? [
          '  // No early return: every invocation takes part in staging and its barriers;',
          '  // one past the last token computes on repeated queries and stores nothing.',
          '  let count = select(0u, min(params.tokens - first, QUERIES_PER_INVOCATION), first < params.tokens);',
          '  // Keys per tile: as many whole blocks as keyTile holds at this dh.',
          '  let tileKeys = (KEY_TILE_VEC4S / params.dh4) / KEYS_PER_BLOCK * KEYS_PER_BLOCK;',
        ]
      : ['  if (first >= params.tokens) {', '    return;', '  }', '  let count = min(params.tokens - first, QUERIES_PER_INVOCATION);']),
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
    ...overKeyBlocks([
      'let s = blockScores(j, k);',
      ...groups.flatMap((g) => {
        const qs = range(4).map((i) => 4 * g + i);
        const rowMax = (q: number) => keyGroups.map((h) => `rowMax(${score(q, h)})`).reduce((a, b) => `max(${a}, ${b})`);
        return [
          `let newMax${g} = max(runningMax[${g}], vec4<f32>(${qs.map(rowMax).join(', ')}));`,
          `let correction${g} = exp(runningMax[${g}] - newMax${g});`,
          ...qs.flatMap((q) => keyGroups.map((h) => `let p${q}_${h} = exp(${score(q, h)} - vec4<f32>(newMax${g}.${COMPONENTS[q % 4]}));`)),
          `runningSum[${g}] = runningSum[${g}] * correction${g} + vec4<f32>(${qs.map((q) => `dot(${keyGroups.map((h) => `p${q}_${h}`).join(' + ')}, ones)`).join(', ')});`,
          `runningMax[${g}] = newMax${g};`,
        ];
      }),
      'for (var t = 0u; t < params.dh4; t++) {',
      ...keyGroups.flatMap((h) => range(4).map((c) => `  let v${4 * h + c} = ${keySource}[k[${h}].${COMPONENTS[c]} + t];`)),
      ...Q.map((q) => {
        const terms = keyGroups.flatMap((h) => range(4).map((c) => `p${q}_${h}.${COMPONENTS[c]} * v${4 * h + c}`));
        return `  acc${q}[t] = acc${q}[t] * correction${Math.floor(q / 4)}.${COMPONENTS[q % 4]} + ${terms.join(' + ')};`;
      }),
      '}',
    ], '  '),
    '',
    `  var inverseSum: array<vec4<f32>, ${groups.length}>;`,
    ...groups.map((g) => `  inverseSum[${g}] = 1.0 / runningSum[${g}];`),
    '  for (var t = 0u; t < params.dh4; t++) {',
    ...Q.flatMap((q) => {
      const store = `out[queryBase${Math.floor(q / 4)}.${COMPONENTS[q % 4]} + t] = acc${q}[t] * inverseSum${group(q)};`;
      return q === 0 && !stageKeys ? [`    ${store}`] : [`    if (count > ${q}u) {`, `      ${store}`, '    }'];
    }),
    '  }',
    '',
    '  if (WRITE_PROBS) {',
    ...overKeyBlocks([
      'let s = blockScores(j, k);',
      'for (var q = 0u; q < count; q++) {',
      '  let rowBase = (head * params.tokens + first + q) * params.tokens;',
      '  let m = runningMax[q / 4u][q % 4u];',
      '  let inverse = inverseSum[q / 4u][q % 4u];',
      '  for (var c = 0u; c < KEYS_PER_BLOCK; c++) {',
      '    if (j + c > last) {',
      '      break;',
      '    }',
      `    probabilities[rowBase + j + c] = exp(s[q * ${KG}u + c / 4u][c % 4u] - m) * inverse;`,
      '  }',
      '}',
    ], '    '),
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}
