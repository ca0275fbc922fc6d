import { expect, test } from '@playwright/test';

/**
 * The browser really has WebGPU: an adapter, a device, and a compute pass
 * whose result is read back and checked. No adapter is a FAILURE, not a skip:
 * every GPU feature of the app depends on it.
 */
test('the page gets a WebGPU adapter and runs a compute pass', async ({ page }) => {
  await page.goto('/');
  const result = await page.evaluate(async () => {
    if (!window.isSecureContext) return { error: 'the page is not a secure context' };
    if (!('gpu' in navigator)) return { error: 'navigator.gpu is missing' };
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { error: 'navigator.gpu.requestAdapter() returned null' };
    const device = await adapter.requestDevice();
    const errors: string[] = [];
    device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));

    // out[i] = a[i] * a[i] + b[i], over 1000 elements in workgroups of 64 (the last one partly idle).
    const n = 1000;
    const a = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 100);
    const b = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
    const module = device.createShaderModule({
      code: /* wgsl */ `
        @group(0) @binding(0) var<storage, read> a: array<f32>;
        @group(0) @binding(1) var<storage, read> b: array<f32>;
        @group(0) @binding(2) var<storage, read_write> out: array<f32>;
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) id: vec3u) {
          let i = id.x;
          if (i >= arrayLength(&out)) { return; }
          out[i] = a[i] * a[i] + b[i];
        }`,
    });
    const info = await module.getCompilationInfo();
    const compileErrors = info.messages.filter((m) => m.type === 'error').map((m) => m.message);
    if (compileErrors.length) return { error: `WGSL did not compile: ${compileErrors.join('; ')}` };
    const upload = (data: Float32Array<ArrayBuffer>) => {
      const buffer = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buffer, 0, data);
      return buffer;
    };
    const out = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [upload(a), upload(b), out].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    encoder.copyBufferToBuffer(out, 0, readback, 0, n * 4);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const got = Array.from(new Float32Array(readback.getMappedRange().slice(0)));
    readback.unmap();
    const expected = Array.from(a, (v, i) => Math.fround(Math.fround(v * v) + b[i]));
    const mismatches = got.flatMap((v, i) => (v === expected[i] ? [] : [`out[${i}] = ${v}, expected ${expected[i]}`]));
    device.destroy();
    return {
      vendor: adapter.info.vendor,
      architecture: adapter.info.architecture,
      count: got.length,
      mismatches: mismatches.slice(0, 5),
      errors,
    };
  });

  expect(result.error, 'WebGPU must be available (see docs/PLATFORM.md for the Chromium flags)').toBeUndefined();
  expect(result.errors).toEqual([]);
  expect(result.count).toBe(1000);
  expect(result.mismatches).toEqual([]);
  test.info().annotations.push({ type: 'adapter', description: `${result.vendor} ${result.architecture}` });
});
