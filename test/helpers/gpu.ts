import { requestNodeGpu, type NodeGpu } from '../../src/engine/node/nodeGpu.ts';

let pending: Promise<NodeGpu> | undefined;

/**
 * The test device. With no adapter this rejects, so every GPU test fails
 * (never skips) on a machine that cannot run WGSL.
 */
export function testGpu(): Promise<NodeGpu> {
  pending ??= requestNodeGpu((message) => console.error(message));
  return pending;
}
