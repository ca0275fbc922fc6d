/**
 * The fuzz harness must be able to fail: each of its checks is shown to
 * catch the fault it exists for (a foreign exception, a slow case, an
 * oversized allocation), and the mutations do what they say.
 */
import { describe, expect, it } from 'vitest';
import { applyMutation, isNamedError, mutate, runCase } from '../helpers/fuzz.ts';

class ParserError extends Error {
  override name = 'ParserError';
}
const rules = { allowed: isNamedError('ParserError'), allocationLimit: 1000, describe: 'self-test' };

describe('the fuzz harness', () => {
  it('accepts a return and a typed refusal', async () => {
    expect((await runCase(() => 1, rules)).outcome).toBe('accepted');
    expect((await runCase(() => { throw new ParserError('no'); }, rules)).outcome).toBe('refused');
  });

  it('rejects any other exception, a plain Error included', async () => {
    await expect(runCase(() => { throw new TypeError('x is undefined'); }, rules)).rejects.toThrow(/threw TypeError \(not a typed parser error\)/);
    await expect(runCase(() => { throw new Error('plain'); }, rules)).rejects.toThrow(/not a typed parser error/);
    await expect(runCase(() => { throw new RangeError('Maximum call stack size exceeded'); }, rules)).rejects.toThrow(/RangeError/);
  });

  it('rejects an allocation larger than the limit, even one that is refused afterwards', async () => {
    await expect(runCase(() => new Float32Array(1 << 20), rules)).rejects.toThrow(/asked for a 4194304-byte array/);
    await expect(runCase(() => { new Uint8Array(5000); throw new ParserError('too short'); }, rules)).rejects.toThrow(/5000-byte array.*before refusing it: too short/);
    await expect(runCase(() => new ArrayBuffer(2000), rules)).rejects.toThrow(/2000-byte/);
    expect((await runCase(() => new Float64Array(100), rules)).largestAllocation).toBe(800);
    // Outside a case nothing is recorded, and the constructors still behave.
    const a = new Float32Array(1 << 20);
    expect(a).toBeInstanceOf(Float32Array);
    expect(Float32Array.from([1, 2]).length).toBe(2);
  });

  it('rejects a case that uses more than a second of CPU, but not one that only waits', async () => {
    const spin = () => {
      const cpu = process.cpuUsage();
      let x = 0;
      while (process.cpuUsage(cpu).user < 1_100_000) x += Math.sqrt(x + 1);
      return x;
    };
    await expect(runCase(spin, rules)).rejects.toThrow(/took \d+ ms of CPU \(limit 1000 ms\)/);
    const waited = await runCase(() => new Promise((resolve) => setTimeout(resolve, 1100)), rules);
    expect(waited.ms).toBeGreaterThanOrEqual(1000);
    expect(waited.cpuMs).toBeLessThan(1000);
  });

  it('mutates copies, as described', () => {
    const original = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...applyMutation(original.slice(), { kind: 'flip', at: 0, bit: 1 })]).toEqual([3, 2, 3, 4, 5, 6, 7, 8]);
    expect([...applyMutation(original.slice(), { kind: 'truncate', at: 3 })]).toEqual([1, 2, 3]);
    expect([...applyMutation(original.slice(), { kind: 'insert', at: 8, bytes: Uint8Array.from([9]) })]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...applyMutation(original.slice(), { kind: 'delete', at: 6, length: 5 })]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...applyMutation(original.slice(), { kind: 'zero', at: 2, length: 2 })]).toEqual([1, 2, 0, 0, 5, 6, 7, 8]);
    expect([...applyMutation(original.slice(), { kind: 'huge', at: 4, width: 4, value: 0xffff_ffffn })]).toEqual([1, 2, 3, 4, 255, 255, 255, 255]);
    expect([...applyMutation(Uint8Array.from([0, 0x96, 0x01, 7]), { kind: 'varint', at: 1, value: 2n ** 32n })]).toEqual([0, 0x80, 0x80, 0x80, 0x80, 0x10, 7]);
    expect([...applyMutation(original.slice(), { kind: 'duplicate', at: 0, length: 2, to: 8 })]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1, 2]);
    const copy = mutate(original, [() => ({ kind: 'zero', at: 0, length: 8 })]);
    expect([...copy]).toEqual(new Array(8).fill(0));
    expect(original[0]).toBe(1);
  });
});
