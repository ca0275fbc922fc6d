// The interface every matmul variant shares (src/kernels/matmul.ts declares
// it): C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ), its Params, its bindings, the
// edge clamps and the fused epilogue. A variant's pipeline is this file
// followed by the variant's own (matmul.wgsl, matmulTiled.wgsl, or a
// register block from matmulBlocked.ts).

override NORM_A: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

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
