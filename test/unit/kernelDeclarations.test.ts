// Each kernel is declared once in TypeScript; this holds every variant's WGSL
// to that declaration: the same bindings (number, name, kind), the same
// Params fields (name, type, order), and the same shared constants. CPU only.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alphaIstaDeclaration, alphaIstaSpec } from '../../src/kernels/alphaIsta.ts';
import { ATTENTION_VARIANTS, attentionDeclaration, attentionSpec, type AttentionVariantName } from '../../src/kernels/attention.ts';
import { declareKernel, packUniforms, type KernelDeclaration } from '../../src/kernels/declaration.ts';
import { layerNormDeclaration, layerNormSpec } from '../../src/kernels/layerNorm.ts';
import { MATMUL_VARIANTS, matmulDeclaration, matmulSpec, type MatmulVariantName } from '../../src/kernels/matmul.ts';
import { meanPoolDeclaration, meanPoolSpec } from '../../src/kernels/meanPool.ts';
import { patchifyDeclaration, patchifySpec } from '../../src/kernels/patchify.ts';
import { checkPipeline, type ProgramSpec } from '../../src/kernels/program.ts';
import { reflectBindings, reflectConstants, reflectParams } from '../../src/kernels/wgslReflect.ts';

/** Every shader a declaration has, as the pipeline spec the engine would build. */
const kernels: [KernelDeclaration, ProgramSpec[]][] = [
  [matmulDeclaration, (Object.keys(MATMUL_VARIANTS) as MatmulVariantName[]).map((v) => matmulSpec({ normA: true }, v))],
  [attentionDeclaration, (Object.keys(ATTENTION_VARIANTS) as AttentionVariantName[]).map((v) => attentionSpec(true, v))],
  [layerNormDeclaration, [layerNormSpec(true)]],
  [meanPoolDeclaration, [meanPoolSpec]],
  [patchifyDeclaration, [patchifySpec]],
  [alphaIstaDeclaration, [alphaIstaSpec({ normA: true }), alphaIstaSpec({ normA: false })]],
];

function mismatches(declaration: KernelDeclaration, spec: ProgramSpec): string[] {
  const problems: string[] = [];
  const bindings = reflectBindings(spec.code).map(({ binding, name, kind }) => ({ binding, name, kind }));
  const expected = declaration.bindings.map(({ name, kind }, binding) => ({ binding, name, kind }));
  if (JSON.stringify(bindings) !== JSON.stringify(expected)) problems.push(`bindings: WGSL ${JSON.stringify(bindings)} vs declared ${JSON.stringify(expected)}`);
  const params = reflectParams(spec.code);
  if (JSON.stringify(params) !== JSON.stringify(declaration.uniforms)) problems.push(`Params: WGSL ${JSON.stringify(params)} vs declared ${JSON.stringify(declaration.uniforms)}`);
  const constants = reflectConstants(spec.code);
  for (const [name, value] of Object.entries(spec.sharedConstants ?? {})) if (constants[name] !== value) problems.push(`const ${name}: WGSL ${constants[name]} vs ${value}`);
  return problems;
}

describe('kernel declarations match their WGSL', () => {
  for (const [declaration, specs] of kernels) {
    for (const spec of specs) {
      it(`${declaration.name} (${spec.variant})`, () => {
        expect(mismatches(declaration, spec)).toEqual([]);
      });
    }
  }

  it('every .wgsl file in src/kernels is part of some declared kernel variant', () => {
    const codes = kernels.flatMap(([, specs]) => specs.map((s) => s.code));
    const folder = new URL('../../src/kernels/', import.meta.url);
    const files = readdirSync(folder).filter((f) => f.endsWith('.wgsl'));
    expect(files.length).toBeGreaterThan(5);
    const orphans = files.filter((f) => !codes.some((code) => code.includes(readFileSync(new URL(f, folder), 'utf8'))));
    expect(orphans).toEqual([]);
  });

  it('catches a declaration that disagrees with its shader', () => {
    const [first, second, ...rest] = matmulDeclaration.bindings;
    const swapped = { ...matmulDeclaration, bindings: [second, first, ...rest] };
    expect(mismatches(swapped, matmulSpec({}, '8x8')).join()).toMatch(/bindings/);
    const renamed = { ...matmulDeclaration, uniforms: matmulDeclaration.uniforms.map((u, i) => (i === 3 ? { ...u, name: 'gain' } : u)) };
    expect(mismatches(renamed, matmulSpec({}, '8x8')).join()).toMatch(/Params/);
    expect(mismatches(attentionDeclaration, { ...attentionSpec(false, 'blocked'), sharedConstants: { MAX_DH4: 32 } }).join()).toMatch(/MAX_DH4/);
  });
});

describe('packUniforms', () => {
  const declaration = declareKernel({
    name: 'test',
    bindings: [{ name: 'params', kind: 'uniform' }],
    uniforms: [
      { name: 'count', type: 'u32' },
      { name: 'scale', type: 'f32' },
      { name: '_pad', type: 'u32' },
      { name: 'offset', type: 'u32' },
      { name: 'eps', type: 'f32' },
    ],
  });

  it('puts field i at byte 4·i and pads the block to 16 bytes', () => {
    const buffer = packUniforms(declaration, { count: 7, scale: 0.5, offset: 3, eps: 1e-5 });
    expect(buffer.byteLength).toBe(32);
    const view = new DataView(buffer);
    expect(view.getUint32(0, true)).toBe(7);
    expect(view.getFloat32(4, true)).toBe(0.5);
    expect(view.getUint32(8, true)).toBe(0);
    expect(view.getUint32(12, true)).toBe(3);
    expect(view.getFloat32(16, true)).toBeCloseTo(1e-5, 12);
  });

  it('refuses a missing field or a u32 that is not one', () => {
    expect(() => packUniforms(declaration, { count: 7, scale: 0.5, offset: 3 } as never)).toThrow(/no value for uniform "eps"/);
    expect(() => packUniforms(declaration, { count: -1, scale: 0.5, offset: 3, eps: 0 })).toThrow(/"count" must be a u32/);
    expect(() => packUniforms(declaration, { count: 1.5, scale: 0.5, offset: 3, eps: 0 })).toThrow(/"count" must be a u32/);
  });
});

describe('checkPipeline', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupSizeZ: 64 } as GPUSupportedLimits;

  const allFeatures = new Set(['shader-f16', 'subgroups']);

  it('accepts every variant the engine can choose, given the features it enables', () => {
    for (const [, specs] of kernels) for (const spec of specs) expect(() => checkPipeline(spec, limits, allFeatures)).not.toThrow();
  });

  it('refuses a variant whose feature the device lacks, naming it', () => {
    expect(() => checkPipeline(matmulSpec({}, '8x8-f16'), limits, new Set(['subgroups']))).toThrow(/8x8-f16\) needs the device feature shader-f16/);
    expect(() => checkPipeline(matmulSpec({}, 'splitK-subgroup'), limits, new Set(['shader-f16']))).toThrow(/needs the device feature subgroups/);
    expect(() => checkPipeline(matmulSpec({}, 'splitK'), limits, new Set())).not.toThrow();
  });

  it('a variant that enables an extension requires its feature, and only such a variant', () => {
    for (const [, specs] of kernels) {
      for (const spec of specs) {
        const enabled = [...spec.code.matchAll(/^enable (\w+);/gm)].map((m) => (m[1] === 'f16' ? 'shader-f16' : m[1]));
        expect([...(spec.requires ?? [])].sort(), `${spec.name} (${spec.variant})`).toEqual(enabled.sort());
      }
    }
  });

  it("refuses a workgroup larger than the adapter's limits", () => {
    const spec = { ...matmulSpec({}, '8x8'), workgroupSize: [16, 16, 1] as const };
    expect(() => checkPipeline(spec, { ...limits, maxComputeInvocationsPerWorkgroup: 128 } as GPUSupportedLimits)).toThrow(/maxComputeInvocationsPerWorkgroup = 128/);
    expect(() => checkPipeline({ ...spec, workgroupSize: [512, 1, 1] }, { ...limits, maxComputeInvocationsPerWorkgroup: 1024 } as GPUSupportedLimits)).toThrow(/maxComputeWorkgroupSizeX = 256/);
  });

  it('refuses WG_X·WG_Y beyond the workgroup arrays the fused LayerNorm reduces through', () => {
    const spec = { ...matmulSpec({ normA: true }, '4x4'), workgroupSize: [32, 16, 1] as const };
    expect(() => checkPipeline(spec, { ...limits, maxComputeInvocationsPerWorkgroup: 1024 } as GPUSupportedLimits)).toThrow(/MAX_INVOCATIONS = 256/);
  });

  it('refuses a shared constant the shader disagrees with', () => {
    const spec = { ...attentionSpec(false, 'blocked'), sharedConstants: { QUERIES_PER_INVOCATION: 2 } };
    expect(() => checkPipeline(spec, limits)).toThrow(/QUERIES_PER_INVOCATION = 2 but the shader has 4/);
  });
});
