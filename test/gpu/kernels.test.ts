// Kernel-level checks, parameterised over variants and shapes in the manner
// of gpuweb/cts: every variant of each kernel against the CPU reference's own
// building blocks, on shapes that are and are not multiples of the tile
// sizes (N = 197 and 785, dh = 48 and 12, odd dimensions).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerNorm, linear } from '../../src/engine/cpu/linalg.ts';
import { multiHeadSelfAttention } from '../../src/engine/cpu/reference.ts';
import { ATTENTION_VARIANTS, attentionDispatch, attentionParams, type AttentionVariantName } from '../../src/kernels/attention.ts';
import { layerNormDispatch, layerNormParams } from '../../src/kernels/layerNorm.ts';
import { F16_CODE_AS_F32, MATMUL_VARIANTS, matmulDispatch, matmulParams, type MatmulVariant, type MatmulVariantName } from '../../src/kernels/matmul.ts';
import { relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';
import { KernelRunner } from '../helpers/kernelRunner.ts';
import { gaussian, seededRandom } from '../helpers/randomModel.ts';

const TOLERANCE = 1e-5;
let runner: KernelRunner;
beforeAll(async () => {
  runner = new KernelRunner((await testGpu()).device);
});
afterAll(() => runner?.destroy());

function randomArray(length: number, seed: number, scale = 1, offset = 0): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length }, () => offset + scale * gaussian(random));
}

const matmulVariants = Object.keys(MATMUL_VARIANTS) as MatmulVariantName[];
const attentionVariants = Object.keys(ATTENTION_VARIANTS) as AttentionVariantName[];

/**
 * A variant whose shader enables a feature this device lacks has no
 * pipeline here; where it has a stand-in on every adapter (the f16 variant's
 * main() with P = f32), the stand-in is what runs.
 */
const STAND_INS: Partial<Record<MatmulVariantName, string>> = { '8x8-f16': F16_CODE_AS_F32 };

describe.each(matmulVariants)('matmul %s: C = epilogue(A·Bᵀ)', (variant) => {
  const declared: MatmulVariant = MATMUL_VARIANTS[variant];
  const shapes = [
    [1, 10, 48],
    [17, 48, 48],
    [50, 40, 48],
    [197, 384, 64],
    [197, 197, 48],
    [785, 33, 128],
    [197, 35, 12],
    [31, 7, 4],
  ];
  const epilogues = [
    { name: 'plain', options: {}, alpha: 1, beta: 1, shift: 0 },
    { name: 'bias + residual', options: { bias: true, residual: true }, alpha: 1, beta: 1, shift: 0 },
    { name: 'ISTA step (scale, shift, residual, ReLU)', options: { residual: true, relu: true }, alpha: 0.1, beta: 1, shift: -0.01 },
    { name: 'LayerNorm-fused A', options: { normA: true, bias: true }, alpha: 1, beta: 1, shift: 0 },
  ];
  for (const [M, N, K] of shapes) {
    for (const epilogue of epilogues) {
      it(`M=${M} N=${N} K=${K}, ${epilogue.name}`, async () => {
        const a = randomArray(M * K, M + N + K, 2, 0.5);
        const b = randomArray(N * K, 7 * K, 1 / Math.sqrt(K));
        const bias = randomArray(N, 3);
        const residual = randomArray(M * N, 5);
        const { normA, bias: hasBias, residual: hasResidual, relu } = epilogue.options as Record<string, boolean | undefined>;
        const unit = { weight: new Float32Array(K).fill(1), bias: new Float32Array(K) };
        const product = linear(normA ? layerNorm(a, M, K, unit) : a, M, K, b, N, hasBias ? bias : undefined);
        const expected = product.map((v, i) => {
          // Bias sits inside linear(); every epilogue with a bias has alpha = 1, so that equals the kernel's alpha·acc + bias.
          let value = epilogue.alpha * v + epilogue.shift;
          if (hasResidual) value += epilogue.beta * residual[i];
          return relu ? Math.max(0, value) : value;
        });
        const out = runner.output(M * N);
        const shape = { M, N, K, alpha: epilogue.alpha, beta: epilogue.beta, shift: epilogue.shift };
        let dispatch = matmulDispatch(epilogue.options, shape, { params: runner.uniform(matmulParams(shape)), a: runner.input(a), b: runner.input(b), bias: runner.input(bias), residual: runner.input(residual), out }, 'test', variant);
        let tolerance = declared.tolerance ?? TOLERANCE;
        const missing = (declared.requires ?? []).filter((feature) => !runner.device.features.has(feature));
        if (missing.length) {
          // Refused with the feature named, before any shader reaches the device.
          await expect(runner.run(dispatch)).rejects.toThrow(new RegExp(`needs the device feature ${missing[0]}`));
          const standIn = STAND_INS[variant];
          if (!standIn) return;
          dispatch = { ...dispatch, spec: { ...dispatch.spec, variant: `${variant} as f32`, code: standIn, requires: undefined } };
          tolerance = TOLERANCE;
        }
        await runner.run(dispatch);
        expect(relativeError(await runner.read(out, M * N), expected)).toBeLessThanOrEqual(tolerance);
      });
    }
  }
});

describe.each(attentionVariants)('attention %s: softmax(W_k W_kᵀ/√dh)·W_k', (variant) => {
  const shapes = [
    [17, 4, 12],
    [50, 3, 16],
    [18, 2, 4],
    [199, 2, 48],
    [197, 6, 64],
    [197, 12, 48],
    [197, 3, 12],
    [785, 1, 128],
    [785, 2, 12],
    [33, 1, 256],
  ];
  for (const [tokens, heads, dimHead] of shapes) {
    it(`N=${tokens} heads=${heads} dh=${dimHead}, without probabilities (the plain forward)`, async () => {
      const w = randomArray(tokens * heads * dimHead, tokens * dimHead + 1, 1.5);
      const expected = multiHeadSelfAttention(w, tokens, heads, dimHead);
      const shape = { tokens, heads, dimHead };
      const out = runner.output(tokens * heads * dimHead);
      await runner.run(attentionDispatch(shape, false, { params: runner.uniform(attentionParams(shape)), w: runner.input(w), out, probabilities: runner.output(4) }, 'test', variant));
      expect(relativeError(await runner.read(out, tokens * heads * dimHead), expected.out), 'O').toBeLessThanOrEqual(TOLERANCE);
    });

    it(`N=${tokens} heads=${heads} dh=${dimHead}, with probabilities`, async () => {
      const w = randomArray(tokens * heads * dimHead, tokens * dimHead, 1.5);
      const expected = multiHeadSelfAttention(w, tokens, heads, dimHead);
      const shape = { tokens, heads, dimHead };
      const out = runner.output(tokens * heads * dimHead);
      const probabilities = runner.output(heads * tokens * tokens);
      await runner.run(attentionDispatch(shape, true, { params: runner.uniform(attentionParams(shape)), w: runner.input(w), out, probabilities }, 'test', variant));
      expect(relativeError(await runner.read(out, tokens * heads * dimHead), expected.out), 'O').toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(await runner.read(probabilities, heads * tokens * tokens), expected.attention), 'A').toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe('layerNorm', () => {
  for (const [rows, cols] of [
    [17, 48],
    [197, 384],
    [785, 49],
  ]) {
    it(`${rows}×${cols}`, async () => {
      const x = randomArray(rows * cols, rows, 3, 2);
      const norm = { weight: randomArray(cols, 1, 0.1, 1), bias: randomArray(cols, 2, 0.1) };
      const out = runner.output(rows * cols);
      const shape = { rows, cols };
      await runner.run(
        layerNormDispatch(shape, { params: runner.uniform(layerNormParams(shape)), x: runner.input(x), gamma: runner.input(norm.weight), beta: runner.input(norm.bias), out, unused: runner.output(4) }, 'test'),
      );
      expect(relativeError(await runner.read(out, rows * cols), layerNorm(x, rows, cols, norm))).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
