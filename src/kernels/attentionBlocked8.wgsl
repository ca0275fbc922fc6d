// The "blocked8" variant of attention.wgsl (same bindings, same Params): fused
// MSSA attention (docs/MEASUREMENTS.md §1, step 4), A_k = softmax_row(W_k W_kᵀ·dh^-½),
// O_k = A_k W_k, flash-style: eight query tokens per invocation walk the keys
// four at a time: every key loaded serves eight dot products, every query
// four (an 8×4 register block; attentionBlocked.wgsl is 4×4). Generated
// from attentionBlocked.wgsl's structure.
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
const QUERIES_PER_INVOCATION: u32 = 8u;
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
var<private> query4: array<vec4<f32>, MAX_DH4>;
var<private> query5: array<vec4<f32>, MAX_DH4>;
var<private> query6: array<vec4<f32>, MAX_DH4>;
var<private> query7: array<vec4<f32>, MAX_DH4>;
var<private> acc0: array<vec4<f32>, MAX_DH4>;
var<private> acc1: array<vec4<f32>, MAX_DH4>;
var<private> acc2: array<vec4<f32>, MAX_DH4>;
var<private> acc3: array<vec4<f32>, MAX_DH4>;
var<private> acc4: array<vec4<f32>, MAX_DH4>;
var<private> acc5: array<vec4<f32>, MAX_DH4>;
var<private> acc6: array<vec4<f32>, MAX_DH4>;
var<private> acc7: array<vec4<f32>, MAX_DH4>;

// Scores of the queries (one vec4 each, over four keys) against keys at row
// offsets k; keys past the last token are masked.
fn blockScores(k: vec4<u32>, valid: vec4<bool>) -> array<vec4<f32>, QUERIES_PER_INVOCATION> {
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  var s4 = vec4<f32>(0.0);
  var s5 = vec4<f32>(0.0);
  var s6 = vec4<f32>(0.0);
  var s7 = vec4<f32>(0.0);
  for (var t = 0u; t < params.dh4; t++) {
    let k0 = w[k.x + t];
    let k1 = w[k.y + t];
    let k2 = w[k.z + t];
    let k3 = w[k.w + t];
    let q0 = query0[t];
    s0 += vec4<f32>(dot(q0, k0), dot(q0, k1), dot(q0, k2), dot(q0, k3));
    let q1 = query1[t];
    s1 += vec4<f32>(dot(q1, k0), dot(q1, k1), dot(q1, k2), dot(q1, k3));
    let q2 = query2[t];
    s2 += vec4<f32>(dot(q2, k0), dot(q2, k1), dot(q2, k2), dot(q2, k3));
    let q3 = query3[t];
    s3 += vec4<f32>(dot(q3, k0), dot(q3, k1), dot(q3, k2), dot(q3, k3));
    let q4 = query4[t];
    s4 += vec4<f32>(dot(q4, k0), dot(q4, k1), dot(q4, k2), dot(q4, k3));
    let q5 = query5[t];
    s5 += vec4<f32>(dot(q5, k0), dot(q5, k1), dot(q5, k2), dot(q5, k3));
    let q6 = query6[t];
    s6 += vec4<f32>(dot(q6, k0), dot(q6, k1), dot(q6, k2), dot(q6, k3));
    let q7 = query7[t];
    s7 += vec4<f32>(dot(q7, k0), dot(q7, k1), dot(q7, k2), dot(q7, k3));
  }
  let masked = vec4<f32>(MASKED);
  return array<vec4<f32>, QUERIES_PER_INVOCATION>(select(masked, s0, valid), select(masked, s1, valid), select(masked, s2, valid), select(masked, s3, valid), select(masked, s4, valid), select(masked, s5, valid), select(masked, s6, valid), select(masked, s7, valid));
}

fn rowMax(s: vec4<f32>) -> f32 {
  return max(max(s.x, s.y), max(s.z, s.w));
}

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = gid.x * QUERIES_PER_INVOCATION;
  let head = gid.y;
  if (first >= params.tokens) {
    return;
  }
  let last = params.tokens - 1u;
  let headOffset = head * params.dh4;
  // Queries past the last token repeat it; their results are not stored.
  var queryBase: array<u32, QUERIES_PER_INVOCATION>;
  for (var q = 0u; q < QUERIES_PER_INVOCATION; q++) {
    queryBase[q] = min(first + q, last) * params.inner4 + headOffset;
  }
  for (var t = 0u; t < params.dh4; t++) {
    query0[t] = w[queryBase[0] + t] * params.scale;
    acc0[t] = vec4<f32>(0.0);
    query1[t] = w[queryBase[1] + t] * params.scale;
    acc1[t] = vec4<f32>(0.0);
    query2[t] = w[queryBase[2] + t] * params.scale;
    acc2[t] = vec4<f32>(0.0);
    query3[t] = w[queryBase[3] + t] * params.scale;
    acc3[t] = vec4<f32>(0.0);
    query4[t] = w[queryBase[4] + t] * params.scale;
    acc4[t] = vec4<f32>(0.0);
    query5[t] = w[queryBase[5] + t] * params.scale;
    acc5[t] = vec4<f32>(0.0);
    query6[t] = w[queryBase[6] + t] * params.scale;
    acc6[t] = vec4<f32>(0.0);
    query7[t] = w[queryBase[7] + t] * params.scale;
    acc7[t] = vec4<f32>(0.0);
  }

  var runningMax: array<f32, QUERIES_PER_INVOCATION>;
  var runningSum: array<f32, QUERIES_PER_INVOCATION>;
  for (var q = 0u; q < QUERIES_PER_INVOCATION; q++) {
    runningMax[q] = MASKED;
    runningSum[q] = 0.0;
  }
  let ones = vec4<f32>(1.0);
  for (var j = 0u; j < params.tokens; j += 4u) {
    let keys = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
    let valid = keys <= vec4<u32>(last);
    let k = min(keys, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset);
    let s = blockScores(k, valid);
    var p: array<vec4<f32>, QUERIES_PER_INVOCATION>;
    var correction: array<f32, QUERIES_PER_INVOCATION>;
    for (var q = 0u; q < QUERIES_PER_INVOCATION; q++) {
      let newMax = max(runningMax[q], rowMax(s[q]));
      correction[q] = exp(runningMax[q] - newMax);
      p[q] = exp(s[q] - vec4<f32>(newMax));
      runningSum[q] = runningSum[q] * correction[q] + dot(p[q], ones);
      runningMax[q] = newMax;
    }
    let p0 = p[0];
    let c0 = correction[0];
    let p1 = p[1];
    let c1 = correction[1];
    let p2 = p[2];
    let c2 = correction[2];
    let p3 = p[3];
    let c3 = correction[3];
    let p4 = p[4];
    let c4 = correction[4];
    let p5 = p[5];
    let c5 = correction[5];
    let p6 = p[6];
    let c6 = correction[6];
    let p7 = p[7];
    let c7 = correction[7];
    for (var t = 0u; t < params.dh4; t++) {
      let v0 = w[k.x + t];
      let v1 = w[k.y + t];
      let v2 = w[k.z + t];
      let v3 = w[k.w + t];
      acc0[t] = acc0[t] * c0 + p0.x * v0 + p0.y * v1 + p0.z * v2 + p0.w * v3;
      acc1[t] = acc1[t] * c1 + p1.x * v0 + p1.y * v1 + p1.z * v2 + p1.w * v3;
      acc2[t] = acc2[t] * c2 + p2.x * v0 + p2.y * v1 + p2.z * v2 + p2.w * v3;
      acc3[t] = acc3[t] * c3 + p3.x * v0 + p3.y * v1 + p3.z * v2 + p3.w * v3;
      acc4[t] = acc4[t] * c4 + p4.x * v0 + p4.y * v1 + p4.z * v2 + p4.w * v3;
      acc5[t] = acc5[t] * c5 + p5.x * v0 + p5.y * v1 + p5.z * v2 + p5.w * v3;
      acc6[t] = acc6[t] * c6 + p6.x * v0 + p6.y * v1 + p6.z * v2 + p6.w * v3;
      acc7[t] = acc7[t] * c7 + p7.x * v0 + p7.y * v1 + p7.z * v2 + p7.w * v3;
    }
  }

  let count = min(params.tokens - first, QUERIES_PER_INVOCATION);
  var inverseSum: array<f32, QUERIES_PER_INVOCATION>;
  for (var q = 0u; q < QUERIES_PER_INVOCATION; q++) {
    inverseSum[q] = 1.0 / runningSum[q];
  }
  for (var t = 0u; t < params.dh4; t++) {
    out[queryBase[0] + t] = acc0[t] * inverseSum[0];
    if (count > 1u) {
      out[queryBase[1] + t] = acc1[t] * inverseSum[1];
    }
    if (count > 2u) {
      out[queryBase[2] + t] = acc2[t] * inverseSum[2];
    }
    if (count > 3u) {
      out[queryBase[3] + t] = acc3[t] * inverseSum[3];
    }
    if (count > 4u) {
      out[queryBase[4] + t] = acc4[t] * inverseSum[4];
    }
    if (count > 5u) {
      out[queryBase[5] + t] = acc5[t] * inverseSum[5];
    }
    if (count > 6u) {
      out[queryBase[6] + t] = acc6[t] * inverseSum[6];
    }
    if (count > 7u) {
      out[queryBase[7] + t] = acc7[t] * inverseSum[7];
    }
  }

  if (WRITE_PROBS) {
    for (var j = 0u; j < params.tokens; j += 4u) {
      let keys = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
      let valid = keys <= vec4<u32>(last);
      let s = blockScores(min(keys, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset), valid);
      for (var q = 0u; q < count; q++) {
        let rowBase = (head * params.tokens + first + q) * params.tokens;
        for (var c = 0u; c < 4u; c++) {
          if (!valid[c]) {
            break;
          }
          probabilities[rowBase + j + c] = exp(s[q][c] - runningMax[q]) * inverseSum[q];
        }
      }
    }
  }
}
