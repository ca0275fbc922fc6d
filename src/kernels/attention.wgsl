// The "pairs" attention variant, the original kernel (interface in
// attentionCommon.wgsl): two query tokens per invocation, one key at a time.
//
// Online softmax (running max m and sum l, rescaling the accumulator when m
// grows) keeps memory at O(N·dh); the N×N probabilities are only written,
// in a second pass over the keys, when WRITE_PROBS asks for them.

// Query tokens per invocation; attention.ts sizes the dispatch with the same number.
const QUERIES_PER_INVOCATION: u32 = 2u;

fn scores(q0: ptr<function, array<vec4<f32>, MAX_DH4>>, q1: ptr<function, array<vec4<f32>, MAX_DH4>>, keyBase: u32) -> vec2<f32> {
  var s = vec2<f32>(0.0);
  for (var t = 0u; t < params.dh4; t++) {
    let key = w[keyBase + t];
    s += vec2<f32>(dot((*q0)[t], key), dot((*q1)[t], key));
  }
  return s;
}

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Two queries per invocation: every key row loaded serves both. With an odd
  // token count the last invocation computes its one query twice.
  let i0 = gid.x * QUERIES_PER_INVOCATION;
  let head = gid.y;
  if (i0 >= params.tokens) {
    return;
  }
  let i1 = min(i0 + 1u, params.tokens - 1u);
  let headOffset = head * params.dh4;
  let queryBase0 = i0 * params.inner4 + headOffset;
  let queryBase1 = i1 * params.inner4 + headOffset;

  var query0: array<vec4<f32>, MAX_DH4>;
  var query1: array<vec4<f32>, MAX_DH4>;
  var acc0: array<vec4<f32>, MAX_DH4>;
  var acc1: array<vec4<f32>, MAX_DH4>;
  for (var t = 0u; t < params.dh4; t++) {
    query0[t] = w[queryBase0 + t] * params.scale;
    query1[t] = w[queryBase1 + t] * params.scale;
  }

  var runningMax = vec2<f32>(-3.0e38);
  var runningSum = vec2<f32>(0.0);
  for (var j = 0u; j < params.tokens; j++) {
    let keyBase = j * params.inner4 + headOffset;
    let s = scores(&query0, &query1, keyBase);
    let newMax = max(runningMax, s);
    if (any(newMax > runningMax)) {
      let correction = exp(runningMax - newMax);
      runningSum *= correction;
      for (var t = 0u; t < params.dh4; t++) {
        acc0[t] *= correction.x;
        acc1[t] *= correction.y;
      }
      runningMax = newMax;
    }
    let p = exp(s - runningMax);
    runningSum += p;
    for (var t = 0u; t < params.dh4; t++) {
      let value = w[keyBase + t];
      acc0[t] += p.x * value;
      acc1[t] += p.y * value;
    }
  }

  let inverseSum = 1.0 / runningSum;
  for (var t = 0u; t < params.dh4; t++) {
    out[queryBase0 + t] = acc0[t] * inverseSum.x;
    out[queryBase1 + t] = acc1[t] * inverseSum.y;
  }

  if (WRITE_PROBS) {
    let rowBase0 = (head * params.tokens + i0) * params.tokens;
    let rowBase1 = (head * params.tokens + i1) * params.tokens;
    for (var j = 0u; j < params.tokens; j++) {
      let p = exp(scores(&query0, &query1, j * params.inner4 + headOffset) - runningMax) * inverseSum;
      probabilities[rowBase0 + j] = p.x;
      probabilities[rowBase1 + j] = p.y;
    }
  }
}
