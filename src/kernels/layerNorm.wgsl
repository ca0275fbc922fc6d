// torch.nn.LayerNorm over rows, one invocation per row: mean, then the
// biased variance of the centred values (two passes, as torch computes it),
// then out = (x − μ)·rstd·γ + β (+ add, e.g. the positional embedding).
// Output rows start at outRowOffset, which lets the patch embedding write
// below the class token's row of Z⁰.

override HAS_ADD: bool = false;
override WG_X: u32 = 64;

struct Params {
  rows: u32,
  cols: u32,
  outRowOffset: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
/// Indexed by output row, like out.
@group(0) @binding(4) var<storage, read> addend: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var sum = 0.0;
  for (var i = 0u; i < params.cols; i++) {
    sum += x[base + i];
  }
  let mean = sum / f32(params.cols);
  var squares = 0.0;
  for (var i = 0u; i < params.cols; i++) {
    let centred = x[base + i] - mean;
    squares += centred * centred;
  }
  let rstd = inverseSqrt(squares / f32(params.cols) + params.eps);
  let outBase = (row + params.outRowOffset) * params.cols;
  for (var i = 0u; i < params.cols; i++) {
    var value = (x[base + i] - mean) * rstd * gamma[i] + beta[i];
    if (HAS_ADD) {
      value += addend[outBase + i];
    }
    out[outBase + i] = value;
  }
}
