/**
 * Each kernel declared once: its bindings by name and its uniform fields by
 * name and type. The bind-group layout, the positional buffer list and the
 * packed uniform block all derive from the declaration, so a binding is
 * written once in TypeScript (and once in WGSL, where
 * test/unit/kernelDeclarations.test.ts holds the two together).
 */
import type { BindingKind, ProgramSpec } from './program.ts';

export type UniformType = 'u32' | 'f32';

export interface KernelDeclaration<B extends string = string, U extends string = string> {
  /** Kernel name; also the profile bucket every variant of it reports under. */
  name: string;
  /** Group-0 bindings; a binding's number is its position here. */
  bindings: readonly { name: B; kind: BindingKind }[];
  /** Fields of the shader's `struct Params`, in order (bound as `params`). Names starting with `_` are padding. */
  uniforms: readonly { name: U; type: UniformType }[];
  /** Integer `const`s of the WGSL that TypeScript relies on; checked at pipeline creation. */
  sharedConstants?: Readonly<Record<string, number>>;
}

export function declareKernel<const B extends string, const U extends string>(declaration: KernelDeclaration<B, U>): KernelDeclaration<B, U> {
  const names = declaration.bindings.map((b) => b.name);
  if (new Set(names).size !== names.length) throw new Error(`${declaration.name}: a binding is declared twice`);
  return declaration;
}

/** Uniform values by field name; padding fields may be left out (they are 0). */
export type UniformValues<U extends string> = { [K in U as K extends `_${string}` ? never : K]: number };

export function bindingKinds(declaration: KernelDeclaration): BindingKind[] {
  return declaration.bindings.map((b) => b.kind);
}

/** The buffers in binding order, from buffers by binding name. */
export function bufferList<B extends string>(declaration: KernelDeclaration<B>, buffers: Readonly<Record<B, GPUBuffer>>): GPUBuffer[] {
  return declaration.bindings.map(({ name }) => {
    const buffer = buffers[name];
    if (!buffer) throw new Error(`${declaration.name}: no buffer for binding "${name}"`);
    return buffer;
  });
}

/**
 * The uniform block: every field is a 4-byte scalar, so field i sits at byte
 * 4·i (WGSL's alignment rules for scalar members); the block is padded to 16
 * bytes, the uniform address space's struct alignment for arrays of them.
 */
export function packUniforms<U extends string>(declaration: KernelDeclaration<string, U>, values: UniformValues<U>): ArrayBuffer {
  const { uniforms } = declaration;
  const buffer = new ArrayBuffer(Math.max(16, Math.ceil((4 * uniforms.length) / 16) * 16));
  const u32 = new Uint32Array(buffer);
  const f32 = new Float32Array(buffer);
  uniforms.forEach(({ name, type }, i) => {
    const value = (values as Record<string, number | undefined>)[name];
    if (value === undefined) {
      if (name.startsWith('_')) return;
      throw new Error(`${declaration.name}: no value for uniform "${name}"`);
    }
    if (type === 'u32') {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`${declaration.name}: uniform "${name}" must be a u32, got ${value}`);
      u32[i] = value;
    } else {
      f32[i] = value;
    }
  });
  return buffer;
}

/** One implementation of a kernel's declaration. */
export interface KernelVariant {
  /** WGSL source with exactly the declaration's bindings and Params. */
  code: string;
  workgroupSize: readonly [number, number, number];
  /** For the engine panel and the bench. */
  description: string;
  /** Adapter features the variant needs ('shader-f16', 'subgroups'); it is only a candidate where all are present. */
  requires?: readonly string[];
  /** Integer `const`s of this variant's WGSL that TypeScript relies on (beyond the declaration's); checked at pipeline creation. */
  sharedConstants?: Readonly<Record<string, number>>;
  /**
   * Largest relative deviation from the f32 reference the variant is allowed
   * (max |Δ| ÷ max |reference|); default 1e-4, a reordered f32 sum. The f16
   * variant declares its own; the autotuner drops a candidate that exceeds it.
   */
  tolerance?: number;
}

/** The deviation every f32 variant stays within: summation order only. */
export const F32_TOLERANCE = 1e-4;

/** The pipeline description of one variant of a declared kernel. */
export function kernelSpec(
  declaration: KernelDeclaration,
  variantName: string,
  variant: KernelVariant,
  constants: Readonly<Record<string, number>>,
): ProgramSpec {
  return {
    name: declaration.name,
    variant: variantName,
    code: variant.code,
    entryPoint: 'main',
    bindings: bindingKinds(declaration),
    workgroupSize: variant.workgroupSize,
    constants,
    sharedConstants: { ...declaration.sharedConstants, ...variant.sharedConstants },
    ...(variant.requires?.length ? { requires: variant.requires } : {}),
  };
}
