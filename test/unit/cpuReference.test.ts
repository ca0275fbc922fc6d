import { describe, expect, it } from 'vitest';
import { cpuForward } from '../../src/engine/cpu/reference.ts';
import { fixtureNames, goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';

// Tolerance set by issue 2: max |error| ≤ 1e-5 × max |value| at every intermediate.
const TOLERANCE = 1e-5;
const LAYER_TENSORS = [
  ['z', 'z'],
  ['ln1', 'ln1'],
  ['w', 'w'],
  ['attention', 'attention'],
  ['z_half', 'zHalf'],
  ['ln2', 'ln2'],
  ['z_next', 'zNext'],
] as const;

describe.each(fixtureNames())('CPU reference against PyTorch fixture %s', (name) => {
  const fixture = loadFixture(name);

  it('has fixtures to compare', () => {
    expect(fixture.inputs).toBeGreaterThanOrEqual(2);
  });

  for (let input = 0; input < 2; input++) {
    it(`matches every intermediate of input ${input}`, () => {
      const trace = cpuForward(fixture.model, goldenTensor(fixture, `input.${input}`));
      const errors: Record<string, number> = {
        patches: relativeError(trace.patches, goldenTensor(fixture, `input.${input}.patches`)),
        logits: relativeError(trace.logits, goldenTensor(fixture, `input.${input}.logits`)),
      };
      trace.layers.forEach((layer, l) => {
        for (const [goldenName, traceName] of LAYER_TENSORS) {
          errors[`layer ${l} ${goldenName}`] = relativeError(layer[traceName], goldenTensor(fixture, `input.${input}.layers.${l}.${goldenName}`));
        }
      });
      expect(trace.layers).toHaveLength(fixture.model.config.depth);
      for (const [tensor, error] of Object.entries(errors)) {
        expect(error, `${name} input ${input} ${tensor}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
});
