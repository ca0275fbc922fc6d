// Patchify `b c (h p1) (w p2) -> b (h w) (p1 p2 c)` (docs/MEASUREMENTS.md §1, step 1)
// fused with the first LayerNorm of the patch embedding, one invocation per
// patch. Rows are written with a stride padded to a multiple of 4 and zero
// padding, so the following Linear can read them as vec4.

override WG_X: u32 = 64;

struct Params {
  channels: u32,
  height: u32,
  width: u32,
  patchSize: u32,
  gridWidth: u32,
  patches: u32,
  patchDim: u32,
  paddedDim: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
/// The normalised image, [C, H, W].
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn pixel(patchIndex: u32, e: u32) -> f32 {
  // e walks (p1 p2 c) with c fastest.
  let c = e % params.channels;
  let p2 = (e / params.channels) % params.patchSize;
  let p1 = e / (params.channels * params.patchSize);
  let y = (patchIndex / params.gridWidth) * params.patchSize + p1;
  let x = (patchIndex % params.gridWidth) * params.patchSize + p2;
  return image[(c * params.height + y) * params.width + x];
}

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= params.patches) {
    return;
  }
  var sum = 0.0;
  for (var e = 0u; e < params.patchDim; e++) {
    sum += pixel(p, e);
  }
  let mean = sum / f32(params.patchDim);
  var squares = 0.0;
  for (var e = 0u; e < params.patchDim; e++) {
    let centred = pixel(p, e) - mean;
    squares += centred * centred;
  }
  let rstd = inverseSqrt(squares / f32(params.patchDim) + params.eps);
  let base = p * params.paddedDim;
  for (var e = 0u; e < params.patchDim; e++) {
    out[base + e] = (pixel(p, e) - mean) * rstd * gamma[e] + beta[e];
  }
  for (var e = params.patchDim; e < params.paddedDim; e++) {
    out[base + e] = 0.0;
  }
}
