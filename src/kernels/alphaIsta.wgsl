// The products of CRATE-α's ISTA block (docs/MEASUREMENTS.md §1.1), written so
// that the block needs no LN2 output buffer and no separate z1:
//   P  = η·LN2(Z½)·D − ηλ             NORM_A: the LayerNorm, γ and β included, applied as A is loaded
//   Y  = ReLU(P)·Dᵀ                    RELU_A: z1 = ReLU(P) is formed as A is loaded
//   z2 = ReLU(ReLU(P) + P − η·Y·D)     RESIDUAL_PLUS_RELU: the residual P enters as P + ReLU(P)
// since z1 − η·(z1·Dᵀ − X)·D − ηλ = z1 + (η·X·D − ηλ) − η·(z1·Dᵀ)·D.
// C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ), both operands contiguous along K, each
// invocation a 4×4 block of C with vec4 loads, as matmul.wgsl; unlike the shared
// matmul, γ and β are applied here rather than folded into B, so the engine keeps
// no second copy of D. The pipeline is matmulShape.wgsl (Params and the edge
// clamps, shared with the matmul), this file, then matmulRowStatistics.wgsl
// (the LayerNorm's row statistics, shared with the matmul variants). Here
// out = act(alpha·acc + shift + beta·r), r = residual[i, j] (+ max(residual[i, j], 0)
// with RESIDUAL_PLUS_RELU).

override NORM_A: bool = false;
override RELU_A: bool = false;
override HAS_RESIDUAL: bool = false;
override RESIDUAL_PLUS_RELU: bool = false;
override RELU: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> gamma: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> beta: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

// A row's element (a vec4 along K): LayerNormed with the row's mean and 1/std and
// this k's γ, β (loaded once per k for all four rows), then ReLU'd, as the options say.
fn prepareA(value: vec4<f32>, mean: f32, rstd: f32, g: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  var out = value;
  if (NORM_A) {
    out = (out - vec4<f32>(mean)) * rstd * g + b;
  }
  if (RELU_A) {
    out = max(out, vec4<f32>(0.0));
  }
  return out;
}

fn store(row: u32, col0: u32, acc: vec4<f32>) {
  if (row >= params.M) {
    return;
  }
  for (var c = 0u; c < 4u; c++) {
    let col = col0 + c;
    if (col >= params.N) {
      return;
    }
    var value = params.alpha * acc[c] + params.shift;
    let index = row * params.N + col;
    if (HAS_RESIDUAL) {
      var r = residual[index];
      if (RESIDUAL_PLUS_RELU) {
        r += max(r, 0.0);
      }
      value += params.beta * r;
    }
    if (RELU) {
      value = max(value, 0.0);
    }
    out[index] = value;
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  let r0 = clampRow(row0) * params.K4;
  let r1 = clampRow(row0 + 1u) * params.K4;
  let r2 = clampRow(row0 + 2u) * params.K4;
  let r3 = clampRow(row0 + 3u) * params.K4;
  var mean = vec4<f32>(0.0);
  var rstd = vec4<f32>(1.0);
  if (NORM_A) {
    // Before any early return: the statistics use workgroup barriers.
    let stats = rowStatistics(lid, vec4<u32>(r0, r1, r2, r3));
    mean = stats[0];
    rstd = stats[1];
  }
  if (row0 >= params.M || col0 >= params.N) {
    return;
  }
  let c0 = clampCol(col0) * params.K4;
  let c1 = clampCol(col0 + 1u) * params.K4;
  let c2 = clampCol(col0 + 2u) * params.K4;
  let c3 = clampCol(col0 + 3u) * params.K4;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < params.K4; k++) {
    var g = vec4<f32>(1.0);
    var shiftK = vec4<f32>(0.0);
    if (NORM_A) {
      g = gamma[k];
      shiftK = beta[k];
    }
    let a0 = prepareA(a[r0 + k], mean.x, rstd.x, g, shiftK);
    let a1 = prepareA(a[r1 + k], mean.y, rstd.y, g, shiftK);
    let a2 = prepareA(a[r2 + k], mean.z, rstd.z, g, shiftK);
    let a3 = prepareA(a[r3 + k], mean.w, rstd.w, g, shiftK);
    let b0 = b[c0 + k];
    let b1 = b[c1 + k];
    let b2 = b[c2 + k];
    let b3 = b[c3 + k];
    acc0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
    acc1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
    acc2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
    acc3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
  }
  store(row0, col0, acc0);
  store(row0 + 1u, col0, acc1);
  store(row0 + 2u, col0, acc2);
  store(row0 + 3u, col0, acc3);
}
