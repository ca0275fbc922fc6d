/**
 * The CRATE-α ISTA kernel (src/kernels/alphaIsta.ts) against its WGSL, as
 * kernelDeclarations.test.ts checks the shared kernels: bindings and Params in
 * the declared order, for every combination of its options the engine uses.
 */
import { describe, expect, it } from 'vitest';
import { alphaIstaDeclaration, alphaIstaParams, alphaIstaSpec } from '../../src/kernels/alphaIsta.ts';
import { reflectBindings, reflectParams } from '../../src/kernels/wgslReflect.ts';

describe('alphaIsta declaration', () => {
  it.each([{ normA: true }, { reluA: true }, { residual: true, residualPlusRelu: true, relu: true }])('matches its WGSL with %o', (options) => {
    const spec = alphaIstaSpec(options);
    expect(reflectBindings(spec.code).map(({ binding, name, kind }) => ({ binding, name, kind }))).toEqual(alphaIstaDeclaration.bindings.map(({ name, kind }, binding) => ({ binding, name, kind })));
    expect(reflectParams(spec.code)).toEqual(alphaIstaDeclaration.uniforms);
  });

  it('packs alpha, beta, shift and eps where the shader reads them', () => {
    const packed = alphaIstaParams({ M: 5, N: 8, K: 12, alpha: -0.1, shift: 0.25 }, 1e-6);
    expect([...new Uint32Array(packed, 0, 3)]).toEqual([5, 8, 3]);
    const floats = new Float32Array(packed, 12, 4);
    expect(floats[0]).toBeCloseTo(-0.1, 7);
    expect(floats[1]).toBe(1);
    expect(floats[2]).toBe(0.25);
    expect(floats[3]).toBeCloseTo(1e-6, 12);
    expect(() => alphaIstaParams({ M: 1, N: 1, K: 6 })).toThrow(/multiple of 4/);
  });
});
