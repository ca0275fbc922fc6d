// The interface every attention variant shares (src/kernels/attention.ts
// declares it): fused MSSA attention for one head (docs/MEASUREMENTS.md §1,
// step 4), A_k = softmax_row(W_k W_kᵀ·dh^-½), O_k = A_k W_k, where W_k is head
// k's column block of W = LN1(Z)·Uᵀ. Queries, keys and values are all W_k:
// CRATE ties them, so one buffer feeds every role. A variant's pipeline is
// this file followed by its main (attention.wgsl, or a block from
// attentionBlocked.ts).

override WRITE_PROBS: bool = false;
override WG_X: u32 = 64;

// dh ≤ 4·MAX_DH4 = 256; the engine checks this before dispatching
// (MAX_DIM_HEAD in attention.ts; checked against this at pipeline creation).
const MAX_DH4: u32 = 64u;

struct Params {
  tokens: u32,
  heads: u32,
  /// dim_head / 4
  dh4: u32,
  /// heads·dim_head / 4: the row stride of W and O in vec4s.
  inner4: u32,
  /// dh^-½
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> probabilities: array<f32>;
