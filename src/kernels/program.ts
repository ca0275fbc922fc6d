/**
 * The typed description every kernel gives of itself, and the cache that
 * turns descriptions into pipelines (after tfjs-backend-webgpu's
 * program/pipeline-cache split): a pipeline is created once per distinct
 * spec and device, never per run.
 */
import { reflectConstants } from './wgslReflect.ts';

export type BindingKind = 'uniform' | 'read-only-storage' | 'storage';

export interface ProgramSpec {
  /** Kernel name; with the constants it forms the cache key. */
  name: string;
  /** WGSL source, one `.wgsl` file beside the kernel's module. */
  code: string;
  entryPoint: string;
  /** Bindings of group 0, in binding order. */
  bindings: readonly BindingKind[];
  /** Workgroup size, passed to the shader as override constants WG_X, WG_Y, WG_Z where it declares them. */
  workgroupSize: readonly [number, number, number];
  /** Override constants (WGSL `override`), booleans as 0/1. */
  constants: Readonly<Record<string, number>>;
  /** Which of the kernel's variants `code` is (src/kernels/variants.ts); part of the cache key. */
  variant?: string;
  /** Integer `const`s of the WGSL that the TypeScript side relies on; checked at pipeline creation. */
  sharedConstants?: Readonly<Record<string, number>>;
  /** Device features the shader enables ('shader-f16', 'subgroups'); checked at pipeline creation. */
  requires?: readonly string[];
}

/** One dispatch of a program over concrete buffers. */
export interface Dispatch {
  spec: ProgramSpec;
  /** One buffer per binding, in binding order. */
  buffers: readonly GPUBuffer[];
  workgroups: readonly [number, number, number];
  /** Profile bucket, e.g. "layer 3"; per-kernel totals use spec.name. */
  scope: string;
  /** The dispatch's role where one kernel has several, e.g. "qkv" or "ista step" for matmul. */
  role?: string;
}

export function specKey(spec: ProgramSpec): string {
  const constants = Object.keys(spec.constants)
    .sort()
    .map((k) => `${k}=${spec.constants[k]}`)
    .join(',');
  return `${spec.name}/${spec.variant ?? 'default'}:${spec.entryPoint}:${spec.workgroupSize.join('x')}:${constants}`;
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/**
 * What WGSL cannot check for itself, checked before a pipeline is created:
 * the device features the shader enables, the workgroup size against the adapter's limits and against the shader's
 * own `MAX_INVOCATIONS` (the size of the workgroup arrays the fused
 * LayerNorm reduces through), and every constant TypeScript shares with the
 * shader against the shader's value.
 */
export function checkPipeline(spec: ProgramSpec, limits: GPUSupportedLimits, features: { has(name: string): boolean } = new Set<string>()): void {
  const [x, y, z] = spec.workgroupSize;
  const invocations = x * y * z;
  const where = `${spec.name}${spec.variant ? ` (${spec.variant})` : ''}`;
  const missing = (spec.requires ?? []).filter((feature) => !features.has(feature));
  if (missing.length) throw new Error(`${where} needs the device feature ${missing.join(' and ')}, which this device was not given (the adapter lacks it)`);
  if (invocations > limits.maxComputeInvocationsPerWorkgroup) {
    throw new Error(`${where}: a ${x}×${y}×${z} workgroup has ${invocations} invocations; this adapter allows maxComputeInvocationsPerWorkgroup = ${limits.maxComputeInvocationsPerWorkgroup}`);
  }
  const sizes: [number, number, string][] = [
    [x, limits.maxComputeWorkgroupSizeX, 'X'],
    [y, limits.maxComputeWorkgroupSizeY, 'Y'],
    [z, limits.maxComputeWorkgroupSizeZ, 'Z'],
  ];
  for (const [size, limit, axis] of sizes) {
    if (size > limit) throw new Error(`${where}: workgroup size ${axis} = ${size} exceeds this adapter's maxComputeWorkgroupSize${axis} = ${limit}`);
  }
  const constants = reflectConstants(spec.code);
  if (constants.MAX_INVOCATIONS !== undefined && invocations > constants.MAX_INVOCATIONS) {
    throw new Error(`${where}: a ${x}×${y}×${z} workgroup has ${invocations} invocations but the shader's workgroup arrays hold MAX_INVOCATIONS = ${constants.MAX_INVOCATIONS}`);
  }
  for (const [name, value] of Object.entries(spec.sharedConstants ?? {})) {
    if (constants[name] !== value) throw new Error(`${where}: TypeScript assumes ${name} = ${value} but the shader has ${constants[name] ?? 'no such constant'}`);
  }
}

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const BUFFER_TYPES: Record<BindingKind, GPUBufferBindingType> = {
  uniform: 'uniform',
  'read-only-storage': 'read-only-storage',
  storage: 'storage',
};

export class PipelineCache {
  private readonly pipelines = new Map<string, CachedPipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  /** How many pipelines were compiled; tests use it to prove nothing is compiled per run. */
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  get(spec: ProgramSpec): CachedPipeline {
    const key = specKey(spec);
    let cached = this.pipelines.get(key);
    if (!cached) {
      checkPipeline(spec, this.device.limits, this.device.features);
      let module = this.modules.get(spec.code);
      if (!module) {
        module = this.device.createShaderModule({ label: spec.name, code: spec.code });
        this.modules.set(spec.code, module);
      }
      const layout = this.device.createBindGroupLayout({
        label: spec.variant ? `${spec.name} (${spec.variant})` : spec.name,
        entries: spec.bindings.map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: BUFFER_TYPES[kind] },
        })),
      });
      const constants: Record<string, number> = { ...spec.constants };
      const [x, y, z] = spec.workgroupSize;
      if (spec.code.includes('override WG_X')) constants.WG_X = x;
      if (spec.code.includes('override WG_Y')) constants.WG_Y = y;
      if (spec.code.includes('override WG_Z')) constants.WG_Z = z;
      const pipeline = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: spec.entryPoint, constants },
      });
      cached = { pipeline, layout };
      this.pipelines.set(key, cached);
      this.compiled++;
    }
    return cached;
  }
}

/** A dispatch with its pipeline and bind group resolved once, ready to encode on every run. */
export interface PreparedDispatch {
  dispatch: Dispatch;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
}

export function prepare(device: GPUDevice, cache: PipelineCache, dispatch: Dispatch): PreparedDispatch {
  if (dispatch.buffers.length !== dispatch.spec.bindings.length) {
    throw new Error(`${dispatch.spec.name}: ${dispatch.buffers.length} buffers for ${dispatch.spec.bindings.length} bindings`);
  }
  const { pipeline, layout } = cache.get(dispatch.spec);
  const bindGroup = device.createBindGroup({
    label: `${dispatch.spec.name} (${dispatch.scope})`,
    layout,
    entries: dispatch.buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return { dispatch, pipeline, bindGroup };
}

export function encodeDispatch(pass: GPUComputePassEncoder, prepared: PreparedDispatch): void {
  pass.setPipeline(prepared.pipeline);
  pass.setBindGroup(0, prepared.bindGroup);
  const [x, y, z] = prepared.dispatch.workgroups;
  pass.dispatchWorkgroups(x, y, z);
}
