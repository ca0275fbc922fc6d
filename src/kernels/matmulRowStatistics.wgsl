// Row statistics for the fused LayerNorm of the register-blocked matmul
// variants (matmul.wgsl and those matmulBlocked.ts writes); a variant's
// pipeline is matmulCommon.wgsl, this file, then the variant's main.

override WG_X: u32 = 8;
override WG_Y: u32 = 8;

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
