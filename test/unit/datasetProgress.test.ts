/** Issue 19: long dataset runs show images done, time per image and the time left (src/dataset/datasetProgress.ts). */
import { describe, expect, it } from 'vitest';
import { datasetProgress, datasetProgressText, formatDuration } from '../../src/dataset/datasetProgress.ts';
import { pickImageFiles } from '../../src/image/imageSet.ts';

describe('dataset progress', () => {
  it('estimates the time left from the pace so far', () => {
    const p = datasetProgress(12, 100, 12 * 4200);
    expect(p.perImageMs).toBeCloseTo(4200, 9);
    expect(p.remainingMs).toBeCloseTo(88 * 4200, 6);
    expect(datasetProgressText(p, 'CPU reference')).toBe('Dataset: 12 of 100 images · 4200 ms per image · about 6 min 10 s left (CPU reference)');
  });
  it('has no estimate before the first image and none left at the end', () => {
    expect(datasetProgressText(datasetProgress(0, 5, 0), 'WGSL')).toBe('Dataset: starting 5 images on WGSL…');
    expect(datasetProgressText(datasetProgress(5, 5, 5000), 'WGSL')).toBe('Dataset: 5 of 5 images · 1000 ms per image (WGSL)');
  });
  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(250_000)).toBe('4 min 10 s');
    expect(formatDuration(NaN)).toBe('—');
  });
});

describe('pickImageFiles', () => {
  it('keeps images by type or name, in natural name order, and names what it skipped', () => {
    const files = [
      { name: 'img10.png', type: 'image/png' },
      { name: 'labels.txt', type: 'text/plain' },
      { name: 'img2.JPG', type: '' },
      { name: 'img1.webp', type: 'image/webp' },
    ];
    const { images, skipped } = pickImageFiles(files);
    expect(images.map((f) => f.name)).toEqual(['img1.webp', 'img2.JPG', 'img10.png']);
    expect(skipped).toEqual(['"labels.txt": not an image']);
  });
});
