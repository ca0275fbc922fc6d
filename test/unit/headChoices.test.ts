/**
 * The heads form of a model whose config is inferred (ModelDrop) offers
 * headChoices(model): issue 20 #16 found it offering up to 1024 heads, beyond
 * the 256 a config accepts. Every count offered must be one parseConfig takes.
 */
import { describe, expect, it } from 'vitest';
import { MAX_HEADS, parseConfig } from '../../src/engine/config.ts';
import { headChoices } from '../../src/models/modelFile.ts';
import { randomModel } from '../helpers/randomModel.ts';

describe('headChoices', () => {
  it.each([
    [384, 6, 64],
    [512, 8, 128], // inner width 1024: its divisors 512 and 1024 are over the limit
  ])('for d = %i, %i heads of %i: every divisor of the MSSA width up to MAX_HEADS, each a config parseConfig accepts', (dim, heads, dimHead) => {
    const model = randomModel({ dim, depth: 1, heads, dim_head: dimHead, image_size: 32 }, 1);
    const inner = heads * dimHead;
    const choices = headChoices(model);
    const expected = Array.from({ length: MAX_HEADS }, (_, i) => i + 1).filter((h) => inner % h === 0);
    expect(choices).toEqual(expected);
    expect(Math.max(...choices)).toBeLessThanOrEqual(MAX_HEADS);
    for (const h of choices) expect(parseConfig({ ...model.config, heads: h, dim_head: inner / h }).heads).toBe(h);
  });
});
