// The interface every matmul variant shares (src/kernels/matmul.ts declares
// it): C[M, N] = epilogue(A[M, K] · B[N, K]ᵀ), its bindings and the fused
// epilogue; Params and the edge clamps are in matmulShape.wgsl, which comes
// first. A variant's pipeline is matmulShape.wgsl, this file, then the
// variant's own (matmul.wgsl, matmulTiled.wgsl, or a main() that
// matmulBlocked.ts or matmulSplitK.ts writes).

override NORM_A: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

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
