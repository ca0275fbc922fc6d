// The shape every A·Bᵀ product here shares: its Params and the edge clamps.
// Prepended to matmulCommon.wgsl (the shared matmul's bindings and epilogue)
// and to alphaIsta.wgsl (CRATE-α's product, whose bindings differ). WGSL
// resolves module-scope names in any order, so `params` is bound by whichever
// file follows.

struct Params {
  M: u32,
  N: u32,
  /// K / 4: the operands are read as vec4 along K.
  K4: u32,
  /// out = act(alpha·acc + bias + shift + beta·residual); each kernel's store() says which terms it has.
  alpha: f32,
  beta: f32,
  shift: f32,
  eps: f32,
  _pad: u32,
}

// Rows past M read row M−1 (a valid row), so loads need no bounds checks;
// their results are discarded at the store.
fn clampRow(row: u32) -> u32 {
  return min(row, params.M - 1u);
}
fn clampCol(col: u32) -> u32 {
  return min(col, params.N - 1u);
}
