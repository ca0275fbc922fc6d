/**
 * The launcher's stderr filter (bin/nativeWarnings.mjs): Dawn's raw Vulkan
 * warnings are dropped, the command's own lines and its progress bar pass
 * through unchanged and at once, however the stream is cut into chunks.
 */
import { describe, expect, it } from 'vitest';
import { NativeWarningFilter } from '../../bin/nativeWarnings.mjs';

const DAWN_NO_DRIVERS =
  'Warning: vkCreateInstance: Found no drivers!\n' +
  'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\n' +
  '    at CheckVkSuccessImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)\n' +
  '\n';
const DAWN_FEATURES =
  'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.\n' +
  '    at Initialize (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)\n' +
  '\n';
const OURS = 'crate-explorer: no GPU driver found; using the SwiftShader software Vulkan driver (/usr/lib/chromium/vk_swiftshader_icd.json).\n';
const PROGRESS = '\r[###---] 1/2 a.png\x1b[K\r[######] 2/2 b.png\x1b[K\n';

/** The filter's output for `text` cut into chunks of `size` characters. */
function filtered(text: string, size: number): string {
  const filter = new NativeWarningFilter();
  let out = '';
  for (let i = 0; i < text.length; i += size) out += filter.push(text.slice(i, i + size));
  return out + filter.end();
}

describe('NativeWarningFilter', () => {
  it("drops Dawn's warning blocks and keeps the command's lines, in every chunking", () => {
    const input = DAWN_NO_DRIVERS + DAWN_FEATURES + OURS + PROGRESS + 'crate-explorer: done\n';
    for (const size of [1, 2, 7, 64, input.length]) expect(filtered(input, size), `chunks of ${size}`).toBe(OURS + PROGRESS + 'crate-explorer: done\n');
  });

  it('passes a progress bar on before its line ends', () => {
    const filter = new NativeWarningFilter();
    expect(filter.push('\r[###---] 1/2 a.png\x1b[K')).toBe('\r[###---] 1/2 a.png\x1b[K');
  });

  it('keeps lines that only look alike, and a last line without a line feed', () => {
    const text = 'note: Warning: is not at the start\n(node:1) Warning: a Node warning\n    at f (x.ts:1)\nlast';
    expect(filtered(text, 3)).toBe(text);
  });
});
