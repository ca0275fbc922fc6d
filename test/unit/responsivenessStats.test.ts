import { describe, expect, it } from 'vitest';
import { formatMs, longestTaskEntry, longestTaskIn, verdict } from '../../src/bench/responsivenessStats.ts';

describe('longest main-thread task in a window (issue 17 freezes)', () => {
  const tasks = [
    { start: 100, duration: 60 }, // 100–160
    { start: 500, duration: 300 }, // 500–800
    { start: 1000, duration: 90 }, // 1000–1090
  ];

  it('takes the longest task inside the window', () => {
    expect(longestTaskIn(tasks, 0, 2000)).toBe(300);
    expect(longestTaskIn(tasks, 900, 2000)).toBe(90);
  });

  it('counts a task that began before the window and ran into it', () => {
    expect(longestTaskIn(tasks, 700, 900)).toBe(300);
  });

  it('counts a task that began inside the window and ran past its end', () => {
    expect(longestTaskIn(tasks, 0, 520)).toBe(300);
  });

  it('ignores tasks wholly before or after the window', () => {
    expect(longestTaskIn(tasks, 170, 490)).toBe(0);
    expect(longestTaskIn(tasks, 1100, 5000)).toBe(0);
  });

  it('names the longest task, so a report can say when the page froze', () => {
    expect(longestTaskEntry(tasks, 0, 2000)).toEqual({ start: 500, duration: 300 });
    expect(longestTaskEntry(tasks, 170, 490)).toBeUndefined();
    expect(longestTaskEntry([{ start: 0, duration: 80 }, { start: 200, duration: 80 }], 0, 300)).toEqual({ start: 0, duration: 80 });
  });

  it('is 0 with no tasks at all, and refuses a reversed window', () => {
    expect(longestTaskIn([], 0, 10)).toBe(0);
    expect(() => longestTaskIn(tasks, 10, 0)).toThrow(RangeError);
    expect(() => longestTaskIn(tasks, 0, Number.NaN)).toThrow(RangeError);
  });
});

describe('verdict against a target', () => {
  it('passes at and under the limit, fails over it', () => {
    expect(verdict(150, 150)).toBe('PASS');
    expect(verdict(149.9, 150)).toBe('PASS');
    expect(verdict(150.1, 150)).toBe('FAIL');
  });

  it('neither passes nor fails a figure that was not measured', () => {
    expect(verdict(Number.NaN, 150)).toBe('n/a');
    expect(verdict(Number.POSITIVE_INFINITY, 150)).toBe('n/a');
  });
});

describe('formatMs', () => {
  it('shows ms below 10 s and seconds above, and an empty long-task window as under 50 ms', () => {
    expect(formatMs(123.4)).toBe('123 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
    expect(formatMs(0, true)).toBe('< 50 ms');
    expect(formatMs(0)).toBe('0 ms');
    expect(formatMs(Number.NaN)).toBe('—');
  });
});
