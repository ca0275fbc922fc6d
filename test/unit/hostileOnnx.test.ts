/**
 * Issue 20 #2 and #3: an ONNX file whose initializers are honest but whose
 * graph lies (wrong output shapes, NaN, constants) or does far more work than
 * its config implies. The graph check refuses the slow and foreign graphs when
 * the file is opened; the ORT runner refuses an output whose shape is not the
 * config's; non-finite outputs are named by describeNonFinite.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { anyModelFromOnnx, modelFromOnnx } from '../../src/engine/onnx/onnxModel.ts';
import { OnnxError } from '../../src/engine/onnx/onnxFile.ts';
import { createOrtRunner, OrtRunnerError } from '../../src/engine/ort/ortRunner.ts';
import { describeNonFinite, outputShapes } from '../../src/engine/outputCheck.ts';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { FIXTURE_DIR, goldenTensor, loadFixture } from '../helpers/fixtures.ts';
import { constant, replaceOutput, withExtraProducts, withNode } from '../helpers/hostileOnnx.ts';

ort.env.wasm.numThreads = 1;

const NAME = 'grey17';
const fixture = loadFixture(NAME);
const honest: Uint8Array = new Uint8Array(readFileSync(join(FIXTURE_DIR, `${NAME}.onnx`)));
const config = fixture.model.config;
const input = goldenTensor(fixture, 'input.0');
const { num_classes: classes, depth } = config;

async function runGraph(bytes: Uint8Array) {
  const { model } = modelFromOnnx(bytes);
  const runner = await createOrtRunner(ort, bytes, model.config, 'wasm');
  try {
    return await runner.run(input);
  } finally {
    await runner.dispose();
  }
}

describe('ORT outputs are checked against the config (issue 20 #2)', () => {
  it('the honest graph passes, with every output of the declared shape', async () => {
    const out = await runGraph(honest);
    const shapes = outputShapes(config);
    expect(out.logits.length).toBe(shapes.logits.reduce((a, b) => a * b));
    expect(out.layers[0].attention.length).toBe(shapes.layer.attention.reduce((a, b) => a * b));
    expect(describeNonFinite(out)).toBeUndefined();
  });

  it.each([
    ['an attention of 10 values', 'layers.0.attention', [10], /"layers\.0\.attention" is float32\[10\], but the model's config implies float32\[1, \d+, \d+, \d+\]/],
    ['3 logits for 10 classes', 'logits', [1, 3], /"logits" is float32\[1, 3\], but the model's config implies float32\[1, 10\]/],
    ['logits with the right count in the wrong shape', 'logits', [classes], /"logits" is float32\[10\]/],
    ['a last-layer Z^{l+1} of the wrong shape', `layers.${depth - 1}.z_next`, [1, 2, 3], /z_next" is float32\[1, 2, 3\]/],
  ])('refuses a graph returning %s with an OrtRunnerError naming the output', async (_, output, dims, message) => {
    const size = dims.reduce((a, b) => a * b, 1);
    const hostile = replaceOutput(honest, output, [constant(output, dims, new Float32Array(size).fill(0.5))]);
    const error = await runGraph(hostile).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OrtRunnerError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/not the CRATE graph its metadata describes/);
  });

  it('names the first non-finite output in forward order: a NaN in the logits, or in a layer', async () => {
    const nanLogits = replaceOutput(honest, 'logits', [constant('logits', [1, classes], new Float32Array(classes).fill(Number.NaN))]);
    expect(describeNonFinite(await runGraph(nanLogits))).toBe('the classifier produced NaN logits');
    const attention = new Float32Array(outputShapes(config).layer.attention.reduce((a, b) => a * b)).fill(Number.POSITIVE_INFINITY);
    const infLayer = replaceOutput(honest, 'layers.1.attention', [constant('layers.1.attention', outputShapes(config).layer.attention, attention)]);
    expect(describeNonFinite(await runGraph(infLayer))).toBe('layer 1 produced Infinity in the attention A');
  });

  it('a graph of the right shape that returns constant logits runs: only the second engine exposes it', async () => {
    const fake = new Float32Array(classes);
    fake[7] = 20;
    const out = await runGraph(replaceOutput(honest, 'logits', [constant('logits', [1, classes], fake)]));
    expect([...out.logits]).toEqual([...fake]);
    const reference = cpuForward(fixture.model, input).logits;
    expect(Math.max(...reference.map((v, i) => Math.abs(v - out.logits[i])))).toBeGreaterThan(1);
  });
});

describe('the graph is checked against the CRATE graph its config implies (issue 20 #3)', () => {
  it('refuses the probe\'s slow graph (100 extra 2048² products) when the file is opened, in milliseconds', () => {
    const slow = withExtraProducts(honest, 100);
    expect(slow.length - honest.length).toBeLessThan(10_000); // a few KB of nodes: as the probe's 742 KB file
    const start = performance.now();
    expect(() => modelFromOnnx(slow)).toThrowError(OnnxError);
    expect(() => modelFromOnnx(slow)).toThrowError(new RegExp(`the graph has ${7 * depth + 2 + 100} matrix products, but a CRATE model of depth ${depth} needs ${7 * depth + 2}`));
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('still opens the honest graph, and one with a couple of products more (exporter leeway)', () => {
    expect(modelFromOnnx(honest).model.config).toEqual(config);
    expect(() => modelFromOnnx(withExtraProducts(honest, 2, 4))).not.toThrow();
  });

  it.each([
    ['Loop', ''],
    ['Scan', ''],
    ['Tile', ''],
    ['MatMul', 'com.microsoft'],
    ['<img src=x onerror=alert(1)>', ''],
  ])('refuses an operator a CRATE graph never has: %s (domain %j)', (op, domain) => {
    expect(() => modelFromOnnx(withNode(honest, op, domain))).toThrowError(/the graph uses the operator ".*", which a CRATE graph \(tools\/onnx_export\.py\) never contains/);
  });

  it('refuses a graph that builds many tensors from computed shapes', () => {
    let bytes = honest;
    for (let i = 0; i < 2; i++) bytes = withNode(bytes, 'ConstantOfShape');
    expect(() => modelFromOnnx(bytes)).toThrowError(/builds 4 tensors from computed shapes/);
  });

  it('refuses a graph with far more nodes than its depth implies', () => {
    let bytes = honest;
    for (let i = 0; i < 64 * depth + 128; i++) bytes = withNode(bytes, 'Identity');
    expect(() => modelFromOnnx(bytes)).toThrowError(/the graph has \d+ nodes, but a CRATE model of depth/);
  });
});

describe('the graph check knows CRATE-α graphs too (8 products per layer, a Conv patch embedding)', () => {
  const ALPHA_DIR = join(FIXTURE_DIR, 'alpha');
  it.each(['alpha_r2_dh6', 'alpha_r3_odd40', 'alpha_r4'])('opens the honest export %s, and refuses it with 100 products more', (name) => {
    const bytes = new Uint8Array(readFileSync(join(ALPHA_DIR, `${name}.onnx`)));
    const { model } = anyModelFromOnnx(bytes);
    expect(model.config.arch).toBe('crate-alpha');
    const alphaDepth = model.config.depth;
    expect(() => anyModelFromOnnx(withExtraProducts(bytes, 100, 4))).toThrowError(
      new RegExp(`the graph has ${8 * alphaDepth + 2 + 100} matrix products, but a CRATE model of depth ${alphaDepth} needs ${8 * alphaDepth + 2} \\(8 per layer`),
    );
  });
});
