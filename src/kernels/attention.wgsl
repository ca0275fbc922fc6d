// Fused MSSA attention for one head and one query token per invocation
// (DESIGN.md §1, step 4): A_k = softmax_row(W_k W_kᵀ·dh^-½), O_k = A_k W_k,
// where W_k is head k's column block of W = LN1(Z)·Uᵀ. Queries, keys and
// values are all W_k: CRATE ties them, so one buffer feeds every role.
//
// Online softmax (running max m and sum l, rescaling the accumulator when m
// grows) keeps memory at O(N·dh); the N×N probabilities are only written,
// in a second pass over the keys, when WRITE_PROBS asks for them.

override WRITE_PROBS: bool = false;
override WG_X: u32 = 64;

// dh ≤ 4·MAX_DH4 = 256; the engine checks this before dispatching.
const MAX_DH4: u32 = 64u;

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
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;

fn score(query: ptr<function, array<vec4<f32>, MAX_DH4>>, keyBase: u32) -> f32 {
  var s = 0.0;
  for (var t = 0u; t < params.dh4; t++) {
    s += dot((*query)[t], w[keyBase + t]);
  }
  return s;
}

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let head = gid.y;
  if (i >= params.tokens) {
    return;
  }
  let headOffset = head * params.dh4;
  let queryBase = i * params.inner4 + headOffset;

  var query: array<vec4<f32>, MAX_DH4>;
  var acc: array<vec4<f32>, MAX_DH4>;
  for (var t = 0u; t < params.dh4; t++) {
    query[t] = w[queryBase + t] * params.scale;
    acc[t] = vec4<f32>(0.0);
  }

  var runningMax = -3.0e38;
  var runningSum = 0.0;
  for (var j = 0u; j < params.tokens; j++) {
    let keyBase = j * params.inner4 + headOffset;
    let s = score(&query, keyBase);
    if (s > runningMax) {
      let correction = exp(runningMax - s);
      runningSum *= correction;
      for (var t = 0u; t < params.dh4; t++) {
        acc[t] *= correction;
      }
      runningMax = s;
    }
    let p = exp(s - runningMax);
    runningSum += p;
    for (var t = 0u; t < params.dh4; t++) {
      acc[t] += p * w[keyBase + t];
    }
  }

  let inverseSum = 1.0 / runningSum;
  for (var t = 0u; t < params.dh4; t++) {
    out[queryBase + t] = acc[t] * inverseSum;
  }

  if (WRITE_PROBS) {
    let rowBase = (head * params.tokens + i) * params.tokens;
    for (var j = 0u; j < params.tokens; j++) {
      probs[rowBase + j] = exp(score(&query, j * params.inner4 + headOffset) - runningMax) * inverseSum;
    }
  }
}
