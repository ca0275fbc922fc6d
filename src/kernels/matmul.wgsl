// The "4x4" matmul variant, the original kernel (interface in matmulCommon.wgsl,
// LayerNorm statistics in matmulRowStatistics.wgsl):
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
