/**
 * Just enough WGSL reflection to hold a kernel's TypeScript declaration to its
 * shader: the group-0 bindings, the fields of `struct Params`, and the
 * integer `const`s that TypeScript relies on. A regex reader, not a parser:
 * it covers the one-declaration-per-line style every kernel here is written in.
 */
import type { BindingKind } from './program.ts';

export interface ReflectedBinding {
  binding: number;
  name: string;
  kind: BindingKind;
}

const BINDING = /@group\(0\)\s*@binding\((\d+)\)\s*var<([^>]+)>\s*(\w+)\s*:/g;

function kindOf(addressSpace: string): BindingKind {
  const [space, access] = addressSpace.split(',').map((s) => s.trim());
  if (space === 'uniform') return 'uniform';
  if (space === 'storage') return access === 'read_write' ? 'storage' : 'read-only-storage';
  throw new Error(`unsupported address space <${addressSpace}>`);
}

export function reflectBindings(code: string): ReflectedBinding[] {
  return [...code.matchAll(BINDING)].map((m) => ({ binding: Number(m[1]), kind: kindOf(m[2]), name: m[3] })).sort((a, b) => a.binding - b.binding);
}

/** Fields of `struct Params` in order, with their WGSL types; [] when the shader has none. */
export function reflectParams(code: string): { name: string; type: string }[] {
  const body = /struct\s+Params\s*\{([^}]*)\}/.exec(code)?.[1];
  if (body === undefined) return [];
  return body
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const m = /^(\w+)\s*:\s*([\w<>]+)\s*,?$/.exec(line);
      if (!m) throw new Error(`cannot read Params field "${line}"`);
      return { name: m[1], type: m[2] };
    });
}

/** Module-scope `const NAME: u32 = 64u;` (or i32, or untyped) integer constants. */
export function reflectConstants(code: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of code.matchAll(/^const\s+(\w+)\s*(?::\s*[iu]32\s*)?=\s*(-?\d+)[iu]?\s*;/gm)) out[m[1]] = Number(m[2]);
  return out;
}
