// The "blocked" variant of attention.wgsl (same bindings, same Params): fused
// MSSA attention (docs/MEASUREMENTS.md §1, step 4), A_k = softmax_row(W_k W_kᵀ·dh^-½),
// O_k = A_k W_k, flash-style: four query tokens per invocation walk the keys
// four at a time, so every vec4 loaded serves four dot products (a 4×4
// register block, as in matmul.wgsl) instead of the baseline's two.
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

// Scores of the four queries (one vec4 each, over four keys) against keys at
// row offsets k; keys past the last token are masked.
fn blockScores(k: vec4<u32>, valid: vec4<bool>) -> array<vec4<f32>, 4> {
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  for (var t = 0u; t < params.dh4; t++) {
    let k0 = w[k.x + t];
    let k1 = w[k.y + t];
    let k2 = w[k.z + t];
    let k3 = w[k.w + t];
    let q0 = query0[t];
    let q1 = query1[t];
    let q2 = query2[t];
    let q3 = query3[t];
    s0 += vec4<f32>(dot(q0, k0), dot(q0, k1), dot(q0, k2), dot(q0, k3));
    s1 += vec4<f32>(dot(q1, k0), dot(q1, k1), dot(q1, k2), dot(q1, k3));
    s2 += vec4<f32>(dot(q2, k0), dot(q2, k1), dot(q2, k2), dot(q2, k3));
    s3 += vec4<f32>(dot(q3, k0), dot(q3, k1), dot(q3, k2), dot(q3, k3));
  }
  let masked = vec4<f32>(MASKED);
  return array<vec4<f32>, 4>(select(masked, s0, valid), select(masked, s1, valid), select(masked, s2, valid), select(masked, s3, valid));
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
  for (var j = 0u; j < params.tokens; j += 4u) {
    let keys = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
    let valid = keys <= vec4<u32>(last);
    let k = min(keys, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset);
    let s = blockScores(k, valid);
    let newMax = max(runningMax, vec4<f32>(rowMax(s[0]), rowMax(s[1]), rowMax(s[2]), rowMax(s[3])));
    let correction = exp(runningMax - newMax);
    let p0 = exp(s[0] - vec4<f32>(newMax.x));
    let p1 = exp(s[1] - vec4<f32>(newMax.y));
    let p2 = exp(s[2] - vec4<f32>(newMax.z));
    let p3 = exp(s[3] - vec4<f32>(newMax.w));
    let ones = vec4<f32>(1.0);
    runningSum = runningSum * correction + vec4<f32>(dot(p0, ones), dot(p1, ones), dot(p2, ones), dot(p3, ones));
    runningMax = newMax;
    for (var t = 0u; t < params.dh4; t++) {
      let v0 = w[k.x + t];
      let v1 = w[k.y + t];
      let v2 = w[k.z + t];
      let v3 = w[k.w + t];
      acc0[t] = acc0[t] * correction.x + p0.x * v0 + p0.y * v1 + p0.z * v2 + p0.w * v3;
      acc1[t] = acc1[t] * correction.y + p1.x * v0 + p1.y * v1 + p1.z * v2 + p1.w * v3;
      acc2[t] = acc2[t] * correction.z + p2.x * v0 + p2.y * v1 + p2.z * v2 + p2.w * v3;
      acc3[t] = acc3[t] * correction.w + p3.x * v0 + p3.y * v1 + p3.z * v2 + p3.w * v3;
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
    for (var j = 0u; j < params.tokens; j += 4u) {
      let keys = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u);
      let valid = keys <= vec4<u32>(last);
      let s = blockScores(min(keys, vec4<u32>(last)) * params.inner4 + vec4<u32>(headOffset), valid);
      for (var c = 0u; c < 4u; c++) {
        if (!valid[c]) {
          break;
        }
        probabilities[rowBase.x + j + c] = exp(s[0][c] - runningMax.x) * inverseSum.x;
        if (count > 1u) {
          probabilities[rowBase.y + j + c] = exp(s[1][c] - runningMax.y) * inverseSum.y;
        }
        if (count > 2u) {
          probabilities[rowBase.z + j + c] = exp(s[2][c] - runningMax.z) * inverseSum.z;
        }
        if (count > 3u) {
          probabilities[rowBase.w + j + c] = exp(s[3][c] - runningMax.w) * inverseSum.w;
        }
      }
    }
  }
}
