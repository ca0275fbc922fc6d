// C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ), both operands contiguous along K.
// Every product in CRATE has this form once weights are stored as torch's
// Linear does ([out, in]); the engine transposes the ISTA dictionary once at
// upload so that (X − X·Dᵀ)·D is also A·Bᵀ.
//
// Each invocation owns a 4×4 block of C and walks K four at a time with vec4
// loads: register blocking without workgroup memory, which is what a
// barrier-averse software adapter rewards (docs/PLATFORM.md); only the fused
// LayerNorm below shares row statistics through workgroup memory.
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

// NORM_A statistics are shared by the WG_X invocations that work on the same
// four rows: each sums a 1/WG_X slice of K and the partial sums meet in
// workgroup memory (two passes, mean then centred squares, as torch does).
// Three barriers per workgroup cost far less than every invocation re-reading
// whole rows, which made the fused LayerNorm cost 3× the product itself.
const MAX_INVOCATIONS: u32 = 256u;
var<workgroup> partial: array<vec4<f32>, MAX_INVOCATIONS>;

fn reduceRowGroup(localY: u32) -> vec4<f32> {
  var total = vec4<f32>(0.0);
  for (var x = 0u; x < WG_X; x++) {
    total += partial[localY * WG_X + x];
  }
  return total;
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
    // Every invocation takes part, even past the edge of C: barriers need the whole workgroup.
    let slot = lid.y * WG_X + lid.x;
    let sliceLength = (params.K4 + WG_X - 1u) / WG_X;
    let begin = min(lid.x * sliceLength, params.K4);
    let end = min(begin + sliceLength, params.K4);
    let ones = vec4<f32>(1.0);
    var sums = vec4<f32>(0.0);
    for (var k = begin; k < end; k++) {
      sums += vec4<f32>(dot(a[r0 + k], ones), dot(a[r1 + k], ones), dot(a[r2 + k], ones), dot(a[r3 + k], ones));
    }
    partial[slot] = sums;
    workgroupBarrier();
    let count = f32(params.K4 * 4u);
    mean = reduceRowGroup(lid.y) / count;
    workgroupBarrier();
    var squares = vec4<f32>(0.0);
    for (var k = begin; k < end; k++) {
      let d0 = a[r0 + k] - vec4<f32>(mean.x);
      let d1 = a[r1 + k] - vec4<f32>(mean.y);
      let d2 = a[r2 + k] - vec4<f32>(mean.z);
      let d3 = a[r3 + k] - vec4<f32>(mean.w);
      squares += vec4<f32>(dot(d0, d0), dot(d1, d1), dot(d2, d2), dot(d3, d3));
    }
    partial[slot] = squares;
    workgroupBarrier();
    rstd = inverseSqrt(reduceRowGroup(lid.y) / count + vec4<f32>(params.eps));
  }
  if (row0 >= params.M || col0 >= params.N) {
    return;
  }
  let c0 = clampCol(col0) * params.K4;
  let c1 = clampCol(col0 + 1u) * params.K4;
  let c2 = clampCol(col0 + 2u) * params.K4;
  let c3 = clampCol(col0 + 3u) * params.K4;

  // acc[r][c] accumulates row r of the block against column c.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < params.K4; k++) {
    var a0 = a[r0 + k];
    var a1 = a[r1 + k];
    var a2 = a[r2 + k];
    var a3 = a[r3 + k];
    if (NORM_A) {
      a0 = (a0 - vec4<f32>(mean.x)) * rstd.x;
      a1 = (a1 - vec4<f32>(mean.y)) * rstd.y;
      a2 = (a2 - vec4<f32>(mean.z)) * rstd.z;
      a3 = (a3 - vec4<f32>(mean.w)) * rstd.w;
    }
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
