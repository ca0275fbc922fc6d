// The "wide" variant of attention.wgsl (same bindings, same Params): fused
// MSSA attention (docs/MEASUREMENTS.md §1, step 4), A_k = softmax_row(W_k W_kᵀ·dh^-½),
// O_k = A_k W_k, flash-style: four query tokens per invocation walk the keys
// eight at a time: every key loaded serves four dot products, and each
// accumulator is loaded and stored once per eight keys instead of four
// (attentionBlocked.wgsl walks four). Generated from its structure.
//
// The softmax is online: a running max m and sum l per query, the
// accumulator rescaled by exp(m_old − m_new) in the same pass that adds the
// block's weighted values, so memory stays O(N·dh). The N×N probabilities are
// only written, in a second pass over the keys, when WRITE_PROBS asks.

override WRITE_PROBS: bool = false;
override WG_X: u32 = 64;

// dh ≤ 4·MAX_DH4 = 256; the engine checks this before dispatching
// (MAX_DIM_HEAD in attention.ts; checked against this at pipeline creation).
const MAX_DH4: u32 = 64u;
// Query tokens per invocation; attention.ts sizes the dispatch with the same number.
const QUERIES_PER_INVOCATION: u32 = 4u;
// Masked keys past the last token get this score, so exp() makes them 0.
const MASKED: f32 = -3.0e38;

struct Params {
  tokens: u32,
  heads: u32,
  /// dim_head / 4
  dh4: u32,
  /// heads·dim_head / 4: the row stride of W and O in vec4s.
  inner4: u32,
  /// dh^-½
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> probabilities: array<f32>;


var<private> query0: array<vec4<f32>, MAX_DH4>;
var<private> query1: array<vec4<f32>, MAX_DH4>;
var<private> query2: array<vec4<f32>, MAX_DH4>;
var<private> query3: array<vec4<f32>, MAX_DH4>;
var<private> acc0: array<vec4<f32>, MAX_DH4>;
var<private> acc1: array<vec4<f32>, MAX_DH4>;
var<private> acc2: array<vec4<f32>, MAX_DH4>;
var<private> acc3: array<vec4<f32>, MAX_DH4>;

// Scores of the four queries against eight keys at row offsets (lo, hi), as
// (keys 0–3, keys 4–7) per query; keys past the last token are masked.
fn blockScores(lo: vec4<u32>, hi: vec4<u32>, validLo: vec4<bool>, validHi: vec4<bool>) -> array<vec4<f32>, 8> {
  var lo0 = vec4<f32>(0.0);
  var hi0 = vec4<f32>(0.0);
  var lo1 = vec4<f32>(0.0);
  var hi1 = vec4<f32>(0.0);
  var lo2 = vec4<f32>(0.0);
  var hi2 = vec4<f32>(0.0);
  var lo3 = vec4<f32>(0.0);
  var hi3 = vec4<f32>(0.0);
  for (var t = 0u; t < params.dh4; t++) {
    let k0 = w[lo.x + t];
    let k1 = w[lo.y + t];
    let k2 = w[lo.z + t];
    let k3 = w[lo.w + t];
    let k4 = w[hi.x + t];
    let k5 = w[hi.y + t];
    let k6 = w[hi.z + t];
    let k7 = w[hi.w + t];
    let q0 = query0[t];
    lo0 += vec4<f32>(dot(q0, k0), dot(q0, k1), dot(q0, k2), dot(q0, k3));
    hi0 += vec4<f32>(dot(q0, k4), dot(q0, k5), dot(q0, k6), dot(q0, k7));
    let q1 = query1[t];
    lo1 += vec4<f32>(dot(q1, k0), dot(q1, k1), dot(q1, k2), dot(q1, k3));
    hi1 += vec4<f32>(dot(q1, k4), dot(q1, k5), dot(q1, k6), dot(q1, k7));
    let q2 = query2[t];
    lo2 += vec4<f32>(dot(q2, k0), dot(q2, k1), dot(q2, k2), dot(q2, k3));
    hi2 += vec4<f32>(dot(q2, k4), dot(q2, k5), dot(q2, k6), dot(q2, k7));
    let q3 = query3[t];
    lo3 += vec4<f32>(dot(q3, k0), dot(q3, k1), dot(q3, k2), dot(q3, k3));
    hi3 += vec4<f32>(dot(q3, k4), dot(q3, k5), dot(q3, k6), dot(q3, k7));
  }
  let masked = vec4<f32>(MASKED);
  return array<vec4<f32>, 8>(select(masked, lo0, validLo), select(masked, hi0, validHi), select(masked, lo1, validLo), select(masked, hi1, validHi), select(masked, lo2, validLo), select(masked, hi2, validHi), select(masked, lo3, validLo), select(masked, hi3, validHi));
}

fn rowMax(lo: vec4<f32>, hi: vec4<f32>) -> f32 {
  let m = max(lo, hi);
  return max(max(m.x, m.y), max(m.z, m.w));
}

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = gid.x * QUERIES_PER_INVOCATION;
  let head = gid.y;
  if (first >= params.tokens) {
    return;
  }
  let last = params.tokens - 1u;
  // Queries past the last token repeat it; their results are not stored.
  let i = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
  let headOffset = head * params.dh4;
  let queryBase = i * params.inner4 + vec4<u32>(headOffset);

  for (var t = 0u; t < params.dh4; t++) {
    query0[t] = w[queryBase.x + t] * params.scale;
    query1[t] = w[queryBase.y + t] * params.scale;
    query2[t] = w[queryBase.z + t] * params.scale;
    query3[t] = w[queryBase.w + t] * params.scale;
    acc0[t] = vec4<f32>(0.0);
    acc1[t] = vec4<f32>(0.0);
    acc2[t] = vec4<f32>(0.0);
    acc3[t] = vec4<f32>(0.0);
  }

  var runningMax = vec4<f32>(MASKED);
  var runningSum = vec4<f32>(0.0);
  let ones = vec4<f32>(1.0);
  for (var j = 0u; j < params.tokens; j += 8u) {
    let keysLo = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
    let keysHi = keysLo + vec4<u32>(4u);
    let validLo = keysLo <= vec4<u32>(last);
    let validHi = keysHi <= vec4<u32>(last);
    let lo = min(keysLo, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset);
    let hi = min(keysHi, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset);
    let s = blockScores(lo, hi, validLo, validHi);
    let newMax = max(runningMax, vec4<f32>(rowMax(s[0], s[1]), rowMax(s[2], s[3]), rowMax(s[4], s[5]), rowMax(s[6], s[7])));
    let correction = exp(runningMax - newMax);
    let pl0 = exp(s[0] - vec4<f32>(newMax.x));
    let ph0 = exp(s[1] - vec4<f32>(newMax.x));
    let pl1 = exp(s[2] - vec4<f32>(newMax.y));
    let ph1 = exp(s[3] - vec4<f32>(newMax.y));
    let pl2 = exp(s[4] - vec4<f32>(newMax.z));
    let ph2 = exp(s[5] - vec4<f32>(newMax.z));
    let pl3 = exp(s[6] - vec4<f32>(newMax.w));
    let ph3 = exp(s[7] - vec4<f32>(newMax.w));
    runningSum = runningSum * correction + vec4<f32>(dot(pl0 + ph0, ones), dot(pl1 + ph1, ones), dot(pl2 + ph2, ones), dot(pl3 + ph3, ones));
    runningMax = newMax;
    for (var t = 0u; t < params.dh4; t++) {
      let v0 = w[lo.x + t];
      let v1 = w[lo.y + t];
      let v2 = w[lo.z + t];
      let v3 = w[lo.w + t];
      let v4 = w[hi.x + t];
      let v5 = w[hi.y + t];
      let v6 = w[hi.z + t];
      let v7 = w[hi.w + t];
      acc0[t] = acc0[t] * correction.x + pl0.x * v0 + pl0.y * v1 + pl0.z * v2 + pl0.w * v3 + ph0.x * v4 + ph0.y * v5 + ph0.z * v6 + ph0.w * v7;
      acc1[t] = acc1[t] * correction.y + pl1.x * v0 + pl1.y * v1 + pl1.z * v2 + pl1.w * v3 + ph1.x * v4 + ph1.y * v5 + ph1.z * v6 + ph1.w * v7;
      acc2[t] = acc2[t] * correction.z + pl2.x * v0 + pl2.y * v1 + pl2.z * v2 + pl2.w * v3 + ph2.x * v4 + ph2.y * v5 + ph2.z * v6 + ph2.w * v7;
      acc3[t] = acc3[t] * correction.w + pl3.x * v0 + pl3.y * v1 + pl3.z * v2 + pl3.w * v3 + ph3.x * v4 + ph3.y * v5 + ph3.z * v6 + ph3.w * v7;
    }
  }
  let inverseSum = 1.0 / runningSum;
  let count = min(params.tokens - first, QUERIES_PER_INVOCATION);
  for (var t = 0u; t < params.dh4; t++) {
    out[queryBase.x + t] = acc0[t] * inverseSum.x;
    if (count > 1u) {
      out[queryBase.y + t] = acc1[t] * inverseSum.y;
    }
    if (count > 2u) {
      out[queryBase.z + t] = acc2[t] * inverseSum.z;
    }
    if (count > 3u) {
      out[queryBase.w + t] = acc3[t] * inverseSum.w;
    }
  }

  if (WRITE_PROBS) {
    let rowBase = (vec4<u32>(head * params.tokens) + i) * params.tokens;
    for (var j = 0u; j < params.tokens; j += 8u) {
      let keysLo = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
      let keysHi = keysLo + vec4<u32>(4u);
      let s = blockScores(
        min(keysLo, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset),
        min(keysHi, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset),
        keysLo <= vec4<u32>(last),
        keysHi <= vec4<u32>(last),
      );
      for (var c = 0u; c < 8u; c++) {
        if (j + c > last) {
          break;
        }
        let half = c / 4u;
        let lane = c % 4u;
        probabilities[rowBase.x + j + c] = exp(s[half][lane] - runningMax.x) * inverseSum.x;
        if (count > 1u) {
          probabilities[rowBase.y + j + c] = exp(s[2u + half][lane] - runningMax.y) * inverseSum.y;
        }
        if (count > 2u) {
          probabilities[rowBase.z + j + c] = exp(s[4u + half][lane] - runningMax.z) * inverseSum.z;
        }
        if (count > 3u) {
          probabilities[rowBase.w + j + c] = exp(s[6u + half][lane] - runningMax.w) * inverseSum.w;
        }
      }
    }
  }
}
