// C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ), both operands contiguous along K.
// Every product in CRATE has this form once weights are stored as torch's
// Linear does ([out, in]); the engine transposes the ISTA dictionary once at
// upload so that (X − X·Dᵀ)·D is also A·Bᵀ.
//
// The "4x8" variant of matmul.wgsl (same bindings, Params and epilogue):
// each invocation owns a 4×8 block of C and walks K four at a time with vec4
// loads: register blocking without workgroup memory. A wider block serves
// more dot products per load, which is most of the speed on a software
// adapter where every load is costly (docs/PLATFORM.md). Generated from
// matmul.wgsl's structure; only the fused LayerNorm shares row statistics
// through workgroup memory.
//
// NORM_A fuses a LayerNorm into the A operand: rows of A are normalised with
// their own mean and variance (two passes over the row, as torch does); the
// LayerNorm's γ and β are folded into B and the bias at upload.

override NORM_A: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;

struct Params {
  M: u32,
  N: u32,
  /// K / 4: the operands are read as vec4 along K.
  K4: u32,
  /// out = act(alpha·acc + bias[j] + shift + beta·residual[i, j])
  alpha: f32,
  beta: f32,
  shift: f32,
  eps: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// Rows past M read row M−1 (a valid row), so loads need no bounds checks;
// their results are discarded at the store.
fn clampRow(row: u32) -> u32 {
  return min(row, params.M - 1u);
}
fn clampCol(col: u32) -> u32 {
  return min(col, params.N - 1u);
}


// NORM_A statistics: the WG_X invocations that work on the same rows each sum
// a 1/WG_X slice of K and meet in workgroup memory, as in matmul.wgsl, four
// rows (one vec4) at a time.
const MAX_INVOCATIONS: u32 = 256u;
var<workgroup> partial: array<vec4<f32>, MAX_INVOCATIONS>;

fn reduceRowGroup(localY: u32) -> vec4<f32> {
  var total = vec4<f32>(0.0);
  for (var x = 0u; x < WG_X; x++) {
    total += partial[localY * WG_X + x];
  }
  return total;
}

// Mean (x) and 1/std (y) of four rows starting at element offsets r.
fn rowStatistics(lid: vec3<u32>, r: vec4<u32>) -> array<vec4<f32>, 2> {
  // Every invocation takes part, even past the edge of C: barriers need the whole workgroup.
  let slot = lid.y * WG_X + lid.x;
  let sliceLength = (params.K4 + WG_X - 1u) / WG_X;
  let begin = min(lid.x * sliceLength, params.K4);
  let end = min(begin + sliceLength, params.K4);
  let ones = vec4<f32>(1.0);
  var sums = vec4<f32>(0.0);
  for (var k = begin; k < end; k++) {
    sums += vec4<f32>(dot(a[r.x + k], ones), dot(a[r.y + k], ones), dot(a[r.z + k], ones), dot(a[r.w + k], ones));
  }
  partial[slot] = sums;
  workgroupBarrier();
  let count = f32(params.K4 * 4u);
  let mean = reduceRowGroup(lid.y) / count;
  workgroupBarrier();
  var squares = vec4<f32>(0.0);
  for (var k = begin; k < end; k++) {
    let d0 = a[r.x + k] - vec4<f32>(mean.x);
    let d1 = a[r.y + k] - vec4<f32>(mean.y);
    let d2 = a[r.z + k] - vec4<f32>(mean.z);
    let d3 = a[r.w + k] - vec4<f32>(mean.w);
    squares += vec4<f32>(dot(d0, d0), dot(d1, d1), dot(d2, d2), dot(d3, d3));
  }
  partial[slot] = squares;
  workgroupBarrier();
  let rstd = inverseSqrt(reduceRowGroup(lid.y) / count + vec4<f32>(params.eps));
  workgroupBarrier();
  return array<vec4<f32>, 2>(mean, rstd);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 8u;
  let r0 = clampRow(row0 + 0u) * params.K4;
  let r1 = clampRow(row0 + 1u) * params.K4;
  let r2 = clampRow(row0 + 2u) * params.K4;
  let r3 = clampRow(row0 + 3u) * params.K4;
  var mean0 = vec4<f32>(0.0);
  var rstd0 = vec4<f32>(1.0);
  if (NORM_A) {
    let stats0 = rowStatistics(lid, vec4<u32>(r0, r1, r2, r3));
    mean0 = stats0[0];
    rstd0 = stats0[1];
  }
  if (row0 >= params.M || col0 >= params.N) {
    return;
  }
  let c0 = clampCol(col0 + 0u) * params.K4;
  let c1 = clampCol(col0 + 1u) * params.K4;
  let c2 = clampCol(col0 + 2u) * params.K4;
  let c3 = clampCol(col0 + 3u) * params.K4;
  let c4 = clampCol(col0 + 4u) * params.K4;
  let c5 = clampCol(col0 + 5u) * params.K4;
  let c6 = clampCol(col0 + 6u) * params.K4;
  let c7 = clampCol(col0 + 7u) * params.K4;

  // acc{r}_{q} accumulates row r of the block against columns 4q..4q+3.
  var acc0_0 = vec4<f32>(0.0);
  var acc0_1 = vec4<f32>(0.0);
  var acc1_0 = vec4<f32>(0.0);
  var acc1_1 = vec4<f32>(0.0);
  var acc2_0 = vec4<f32>(0.0);
  var acc2_1 = vec4<f32>(0.0);
  var acc3_0 = vec4<f32>(0.0);
  var acc3_1 = vec4<f32>(0.0);
  for (var k = 0u; k < params.K4; k++) {
    var a0 = a[r0 + k];
    var a1 = a[r1 + k];
    var a2 = a[r2 + k];
    var a3 = a[r3 + k];
    if (NORM_A) {
      a0 = (a0 - vec4<f32>(mean0.x)) * rstd0.x;
      a1 = (a1 - vec4<f32>(mean0.y)) * rstd0.y;
      a2 = (a2 - vec4<f32>(mean0.z)) * rstd0.z;
      a3 = (a3 - vec4<f32>(mean0.w)) * rstd0.w;
    }
    let b0 = b[c0 + k];
    let b1 = b[c1 + k];
    let b2 = b[c2 + k];
    let b3 = b[c3 + k];
    let b4 = b[c4 + k];
    let b5 = b[c5 + k];
    let b6 = b[c6 + k];
    let b7 = b[c7 + k];
    acc0_0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
    acc0_1 += vec4<f32>(dot(a0, b4), dot(a0, b5), dot(a0, b6), dot(a0, b7));
    acc1_0 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
    acc1_1 += vec4<f32>(dot(a1, b4), dot(a1, b5), dot(a1, b6), dot(a1, b7));
    acc2_0 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
    acc2_1 += vec4<f32>(dot(a2, b4), dot(a2, b5), dot(a2, b6), dot(a2, b7));
    acc3_0 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    acc3_1 += vec4<f32>(dot(a3, b4), dot(a3, b5), dot(a3, b6), dot(a3, b7));
  }
  store(row0 + 0u, col0 + 0u, acc0_0);
  store(row0 + 0u, col0 + 4u, acc0_1);
  store(row0 + 1u, col0 + 0u, acc1_0);
  store(row0 + 1u, col0 + 4u, acc1_1);
  store(row0 + 2u, col0 + 0u, acc2_0);
  store(row0 + 2u, col0 + 4u, acc2_1);
  store(row0 + 3u, col0 + 0u, acc3_0);
  store(row0 + 3u, col0 + 4u, acc3_1);
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
    if (HAS_BIAS) {
      value += bias[col];
    }
    let index = row * params.N + col;
    if (HAS_RESIDUAL) {
      value += params.beta * residual[index];
    }
    if (RELU) {
      value = max(value, 0.0);
    }
    out[index] = value;
  }
}
