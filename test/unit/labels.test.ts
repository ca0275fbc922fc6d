/** Issue 19: a labels file for a model without class names (src/models/labels.ts). */
import { describe, expect, it } from 'vitest';
import { hasDefaultLabels, parseLabelsFile, MAX_LABEL_LENGTH } from '../../src/models/labels.ts';

describe('labels files', () => {
  it('reads a JSON list and one name per line', () => {
    expect(parseLabelsFile('["cat", "dog", "bird"]', 3)).toEqual(['cat', 'dog', 'bird']);
    expect(parseLabelsFile('\uFEFFcat\r\ndog\nbird\n\n', 3)).toEqual(['cat', 'dog', 'bird']);
    expect(parseLabelsFile('[1, 2]', 2)).toEqual(['1', '2']);
  });
  it('says why a file does not fit the model', () => {
    expect(parseLabelsFile('cat\ndog', 3)).toBe('the file has 2 names, but the model has 3 classes');
    expect(parseLabelsFile('[cat]', 1)).toMatch(/^the file starts like a JSON list but is not valid JSON/);
    expect(parseLabelsFile('[{"a":1}]', 1)).toBe('the JSON must be a list of names (strings)');
    expect(parseLabelsFile('cat\n \ndog', 3)).toBe('name 2 is empty');
  });
  it('bounds long names', () => {
    const list = parseLabelsFile('x'.repeat(5000), 1) as string[];
    expect(list[0]).toHaveLength(MAX_LABEL_LENGTH);
  });
  it('tells default numeric labels from real names', () => {
    expect(hasDefaultLabels(['0', '1', '2'])).toBe(true);
    expect(hasDefaultLabels(['cat', 'dog'])).toBe(false);
  });
});
