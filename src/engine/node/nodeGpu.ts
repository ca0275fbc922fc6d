/**
 * A WebGPU device in Node through Dawn (the npm package `webgpu`). Where the
 * machine has no usable GPU driver, Dawn is pointed at the SwiftShader
 * Vulkan driver that Debian's chromium ships (docs/PLATFORM.md), and the caller
 * is told so.
 */
import { existsSync } from 'node:fs';
import { deviceDescriptor } from '../gpu/deviceRequest.ts';

const SOFTWARE_VULKAN_DRIVERS = ['/usr/lib/chromium/vk_swiftshader_icd.json'];

export interface NodeGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** Human-readable adapter name, e.g. "SwiftShader Device (Subzero)". */
  adapterName: string;
  software: boolean;
}

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

type Dawn = typeof import('webgpu');

/**
 * Dawn's instances must outlive their devices: if the GPU object returned by
 * `create()` is garbage-collected, Dawn tears the instance down under a live
 * device and the process aborts or hangs. Every instance is kept here.
 */
const liveInstances: GPU[] = [];

async function requestAdapter(dawn: Dawn): Promise<GPUAdapter | null> {
  const gpu = dawn.create([]);
  liveInstances.push(gpu);
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

function describe(adapter: GPUAdapter): string {
  const info = adapter.info;
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
}

export async function requestNodeGpu(log: (message: string) => void = () => {}): Promise<NodeGpu> {
  // Dawn's Vulkan loader warns to stderr without it; it has no other effect here.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals);

  let adapter = await requestAdapter(dawn);
  let software = false;
  const driverChosen = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  if (!adapter && !driverChosen) {
    const driver = SOFTWARE_VULKAN_DRIVERS.find((path) => existsSync(path));
    if (driver) {
      process.env.VK_ICD_FILENAMES = driver;
      adapter = await requestAdapter(dawn);
      software = adapter !== null;
      if (software) log(`crate-explorer: no GPU driver found; using the SwiftShader software Vulkan driver (${driver}).`);
    }
  }
  if (!adapter) {
    throw new NoAdapterError(
      'no WebGPU adapter: install a Vulkan driver, or Debian\'s chromium and libvulkan1 for the SwiftShader software driver',
    );
  }
  software ||= /swiftshader/i.test(describe(adapter));
  const device = await adapter.requestDevice(deviceDescriptor(adapter, 'crate explorer (node)'));
  return { adapter, device, adapterName: describe(adapter), software };
}
