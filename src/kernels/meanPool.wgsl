// Mean over all tokens (class token included), the official `pool = 'mean'`
// head input; one invocation per feature.

override WG_X: u32 = 64;

struct Params {
  tokens: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= params.dim) {
    return;
  }
  var sum = 0.0;
  for (var r = 0u; r < params.tokens; r++) {
    sum += z[r * params.dim + j];
  }
  out[j] = sum / f32(params.tokens);
}
