// The "tiled32" matmul variant (interface in matmulCommon.wgsl), shaped for real GPUs as
// tfjs and onnxruntime-web do it: 8×8 invocations each own a 4×4 block of C,
// so a workgroup owns a 32×32 tile, and walks K in steps of 32 through tiles
// of A and B staged in workgroup memory, read 8 (rows) or 8 (columns) times
// each. Barriers make this slow on a software adapter (docs/PLATFORM.md); the
// autotuner decides where it pays.
//
// NORM_A fuses a LayerNorm into the A operand: the statistics of the tile's
// 32 rows are computed first (two invocations per row, mean then centred
// squares, as torch does), and A is normalised as it is staged.

// The workgroup is exactly 8×8 (matmul.ts declares the same): the tile
// layout below depends on it, so it is not an override.
const WG: u32 = 8u;
const MAX_INVOCATIONS: u32 = 64u;
/// Rows (and columns) of C per workgroup.
const TILE: u32 = 32u;
/// K per step, in vec4s.
const TILE_K4: u32 = 8u;

var<workgroup> tileA: array<vec4<f32>, 256>; // [TILE rows][TILE_K4]
var<workgroup> tileB: array<vec4<f32>, 256>; // [TILE columns][TILE_K4]
var<workgroup> partialStats: array<f32, MAX_INVOCATIONS>;
var<workgroup> rowStats: array<vec2<f32>, TILE>; // (mean, 1/std) per tile row

fn rowStatistics(local: u32, tileRow0: u32) {
  // Two invocations per row, each over half of K.
  let row = local / 2u;
  let half = local % 2u;
  let base = clampRow(tileRow0 + row) * params.K4;
  let sliceLength = (params.K4 + 1u) / 2u;
  let begin = min(half * sliceLength, params.K4);
  let end = min(begin + sliceLength, params.K4);
  let ones = vec4<f32>(1.0);
  var sum = 0.0;
  for (var k = begin; k < end; k++) {
    sum += dot(a[base + k], ones);
  }
  partialStats[local] = sum;
  workgroupBarrier();
  let count = f32(params.K4 * 4u);
  let mean = (partialStats[row * 2u] + partialStats[row * 2u + 1u]) / count;
  workgroupBarrier();
  var squares = 0.0;
  for (var k = begin; k < end; k++) {
    let d = a[base + k] - vec4<f32>(mean);
    squares += dot(d, d);
  }
  partialStats[local] = squares;
  workgroupBarrier();
  if (half == 0u) {
    rowStats[row] = vec2<f32>(mean, inverseSqrt((partialStats[row * 2u] + partialStats[row * 2u + 1u]) / count + params.eps));
  }
  workgroupBarrier();
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let local = lid.y * WG + lid.x;
  let tileRow0 = wid.y * TILE;
  let tileCol0 = wid.x * TILE;
  // Every invocation takes part in every barrier, even past the edge of C.
  if (NORM_A) {
    rowStatistics(local, tileRow0);
  }

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let steps = (params.K4 + TILE_K4 - 1u) / TILE_K4;
  for (var step = 0u; step < steps; step++) {
    // Stage: 256 vec4s of each operand, four per invocation; past K they are 0.
    for (var q = 0u; q < 4u; q++) {
      let entry = local + q * MAX_INVOCATIONS;
      let tileRow = entry / TILE_K4;
      let k4 = step * TILE_K4 + entry % TILE_K4;
      var valueA = vec4<f32>(0.0);
      var valueB = vec4<f32>(0.0);
      if (k4 < params.K4) {
        valueA = a[clampRow(tileRow0 + tileRow) * params.K4 + k4];
        if (NORM_A) {
          let stats = rowStats[tileRow];
          valueA = (valueA - vec4<f32>(stats.x)) * stats.y;
        }
        valueB = b[clampCol(tileCol0 + tileRow) * params.K4 + k4];
      }
      tileA[entry] = valueA;
      tileB[entry] = valueB;
    }
    workgroupBarrier();
    let rowBase = lid.y * 4u * TILE_K4;
    let colBase = lid.x * 4u * TILE_K4;
    for (var kk = 0u; kk < TILE_K4; kk++) {
      let a0 = tileA[rowBase + kk];
      let a1 = tileA[rowBase + TILE_K4 + kk];
      let a2 = tileA[rowBase + 2u * TILE_K4 + kk];
      let a3 = tileA[rowBase + 3u * TILE_K4 + kk];
      let b0 = tileB[colBase + kk];
      let b1 = tileB[colBase + TILE_K4 + kk];
      let b2 = tileB[colBase + 2u * TILE_K4 + kk];
      let b3 = tileB[colBase + 3u * TILE_K4 + kk];
      acc0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
      acc1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
      acc2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
      acc3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    }
    workgroupBarrier();
  }
  let row0 = tileRow0 + lid.y * 4u;
  let col0 = tileCol0 + lid.x * 4u;
  store(row0, col0, acc0);
  store(row0 + 1u, col0, acc1);
  store(row0 + 2u, col0, acc2);
  store(row0 + 3u, col0, acc3);
}
