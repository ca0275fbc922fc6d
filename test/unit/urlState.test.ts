import { PREP_CHOICES } from '../../src/image/inputPreprocessing.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DETAIL_VIEWS,
  ENGINE_CHOICES,
  IMAGE_SOURCES,
  MAX_HEADS,
  MAX_INPUT_SIDE,
  PCA_MODES,
  RATE_VARIANTS,
  SEGMENTATION_METHODS,
  MAX_MODEL_URL_LENGTH,
  MAX_SEARCH_LENGTH,
  MAX_VALUE_LENGTH,
  URL_PROPS,
  defaultUrlState,
  encodeUrlState,
  parseUrlState,
  quote,
  serialiseUrlState,
  type UrlState,
} from '../../src/state/urlState.ts';
import { MAX_HEADS as CONFIG_MAX_HEADS, parseConfig } from '../../src/engine/config.ts';

const DEFAULTS = defaultUrlState();

describe('the URL property list', () => {
  it('has one entry per UrlState field, each with a default it accepts', () => {
    const names = URL_PROPS.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.sort()).toEqual(Object.keys(DEFAULTS).sort());
    for (const prop of URL_PROPS) {
      expect(prop.validate(prop.default as never), prop.name).toBeNull();
    }
  });

  it('serialises every property, in list order, with a leading "?"', () => {
    expect(serialiseUrlState(DEFAULTS)).toBe(
      '?model=digits&sample=0&layer=0&source=sample&head=mean&query=0&view=attention&seg=top&p=0.1&tau=0.6&rate=official&dataset=0&teach=1',
    );
  });
});

describe('parseUrlState', () => {
  it('gives the defaults and no notices for an empty query', () => {
    for (const search of ['', '?', '?&&']) {
      expect(parseUrlState(search)).toEqual({ state: DEFAULTS, notices: [] });
    }
  });

  it('reads good values with or without the leading "?"', () => {
    const want: UrlState = { ...DEFAULTS, model: 'crate-t.in1k', sample: 12, layer: 11 };
    expect(parseUrlState('?model=crate-t.in1k&sample=12&layer=11')).toEqual({ state: want, notices: [] });
    expect(parseUrlState('layer=11&model=crate-t.in1k&sample=12')).toEqual({ state: want, notices: [] });
  });

  it('falls back to the default, with a notice, for values that are not whole numbers', () => {
    for (const raw of ['abc', '-1', '1.5', '1e3', '0x10', ' 3', '3 ', '+3', '03', '', 'NaN', 'Infinity', '٣']) {
      const { state, notices } = parseUrlState(`?layer=${encodeURIComponent(raw)}`);
      expect(state.layer, raw).toBe(DEFAULTS.layer);
      expect(notices, raw).toHaveLength(1);
      expect(notices[0]).toContain('"layer"');
      expect(notices[0]).toContain('not a whole number');
    }
  });

  it('rejects out-of-range and huge numbers', () => {
    for (const raw of ['1024', '99999', '999999999', '9'.repeat(40), '9'.repeat(400)]) {
      const { state, notices } = parseUrlState(`?layer=${raw}`);
      expect(state.layer, raw).toBe(0);
      expect(notices, raw).toHaveLength(1);
    }
    expect(parseUrlState('?layer=1023').state.layer).toBe(1023);
    expect(parseUrlState('?sample=9999').state.sample).toBe(9999);
    expect(parseUrlState('?sample=10000').state.sample).toBe(0);
  });

  it('rejects model ids that are not ids', () => {
    for (const raw of ['', '../secret', 'a/b', 'ftp://evil.example/x', '<script>', '.hidden', 'x'.repeat(65), 'mödel', 'a b']) {
      const { state, notices } = parseUrlState(`?model=${encodeURIComponent(raw)}`);
      expect(state.model, raw).toBe(DEFAULTS.model);
      expect(notices, raw).toHaveLength(1);
    }
  });

  it('uses the first of duplicated parameters and says so', () => {
    const { state, notices } = parseUrlState('?layer=2&layer=5&layer=7');
    expect(state.layer).toBe(2);
    expect(notices).toEqual(['"layer" appears 3 times in the link; the first is used']);
  });

  it('reports a bad first duplicate as well as the duplication', () => {
    const { state, notices } = parseUrlState('?sample=x&sample=4');
    expect(state.sample).toBe(0);
    expect(notices).toHaveLength(2);
  });

  it('ignores unknown parameters, with a bounded number of notices', () => {
    expect(parseUrlState('?colour=red&layer=1')).toEqual({
      state: { ...DEFAULTS, layer: 1 },
      notices: ['unknown parameter "colour" was ignored'],
    });
    const many = Array.from({ length: 100 }, (_, i) => `k${i}=1`).join('&');
    const { notices } = parseUrlState(`?${many}`);
    expect(notices).toHaveLength(4);
    expect(notices[3]).toBe('97 more unknown parameters were ignored');
  });

  it('refuses over-long values and queries without reading them', () => {
    const long = 'a'.repeat(MAX_VALUE_LENGTH + 1);
    const value = parseUrlState(`?layer=${long}`);
    expect(value.state).toEqual(DEFAULTS);
    expect(value.notices[0]).toContain(`${MAX_VALUE_LENGTH + 1} characters long`);
    const longUrl = `https://a.example/${'m'.repeat(MAX_MODEL_URL_LENGTH)}`;
    expect(parseUrlState(`?model=${longUrl}`).notices[0]).toContain(`${longUrl.length} characters long`);

    const huge = `?layer=3&pad=${'x'.repeat(MAX_SEARCH_LENGTH)}`;
    const query = parseUrlState(huge);
    expect(query.state).toEqual(DEFAULTS);
    expect(query.notices).toHaveLength(1);
    expect(query.notices[0]).toContain('all were ignored');
  });

  it('keeps notices short and free of control characters, whatever the link holds', () => {
    const nasty = encodeURIComponent('\u0000\n\u2028<b>x</b>' + 'y'.repeat(100));
    const { notices } = parseUrlState(`?${nasty}=1&model=${nasty}`);
    for (const line of notices) {
      expect(line.length).toBeLessThan(200);
      // eslint-disable-next-line no-control-regex
      expect(line).not.toMatch(/[\u0000-\u001f\u2028]/);
    }
  });

  it('never throws, and always returns valid state, on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 100 }), (a, b) => {
        for (const search of [a, `?${b}`, `?layer=${b}`, `?model=${encodeURIComponent(b)}&sample=${a}`]) {
          const { state, notices } = parseUrlState(search);
          expect(() => serialiseUrlState(state)).not.toThrow();
          expect(Array.isArray(notices)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('size (finer maps, issue 16)', () => {
  it('is 0 (the model\'s own size) by default and left out of links until chosen', () => {
    expect(DEFAULTS.size).toBe(0);
    expect(serialiseUrlState(DEFAULTS)).not.toContain('size=');
    expect(serialiseUrlState({ ...DEFAULTS, size: 448 })).toMatch(/&size=448$/);
    expect(parseUrlState('?size=448')).toEqual({ state: { ...DEFAULTS, size: 448 }, notices: [] });
  });

  it('falls back to 0 with a notice for garbled or out-of-range sides, never throwing', () => {
    for (const raw of ['abc', '-448', '448.5', '1e3', '0x1c0', '', `${MAX_INPUT_SIDE + 1}`, '99999999999']) {
      const { state, notices } = parseUrlState(`?size=${encodeURIComponent(raw)}`);
      expect(state.size, raw).toBe(0);
      expect(notices, raw).toHaveLength(1);
      expect(notices[0], raw).toMatch(/^"size" = .*using the default "0"$/);
    }
    expect(parseUrlState(`?size=${MAX_INPUT_SIDE}`).state.size).toBe(MAX_INPUT_SIDE);
    expect(() => serialiseUrlState({ ...DEFAULTS, size: -1 })).toThrow(RangeError);
    expect(encodeUrlState({ ...DEFAULTS, size: 1.5 }).omitted[0]).toMatch(/"size"/);
  });
});

describe('round trip', () => {
  const validState = fc.record({
    model: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
    sample: fc.integer({ min: 0, max: 9999 }),
    layer: fc.integer({ min: 0, max: 1023 }),
    engine: fc.constantFrom(...ENGINE_CHOICES),
    source: fc.constantFrom(...IMAGE_SOURCES),
    head: fc.oneof(fc.constant<'mean'>('mean'), fc.integer({ min: 0, max: MAX_HEADS - 1 })),
    query: fc.integer({ min: 0, max: 65535 }),
    view: fc.constantFrom(...DETAIL_VIEWS),
    seg: fc.constantFrom(...SEGMENTATION_METHODS),
    p: fc.integer({ min: 1, max: 10000 }).map((n) => n / 10000),
    tau: fc.integer({ min: 1, max: 10000 }).map((n) => n / 10000),
    rate: fc.constantFrom(...RATE_VARIANTS),
    dataset: fc.boolean(),
    teach: fc.boolean(),
    present: fc.boolean(),
    tour: fc.integer({ min: 0, max: 99 }),
    embed: fc.boolean(),
    pca: fc.constantFrom(...PCA_MODES),
    prep: fc.constantFrom(...PREP_CHOICES),
    size: fc.integer({ min: 0, max: MAX_INPUT_SIDE }),
  });

  it('parse(serialise(s)) gives s back, with no notices', () => {
    fc.assert(
      fc.property(validState, (state) => {
        expect(parseUrlState(serialiseUrlState(state))).toEqual({ state, notices: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('serialise(parse(q)) is stable: a cleaned link cleans to itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (raw) => {
        const once = serialiseUrlState(parseUrlState(raw).state);
        expect(serialiseUrlState(parseUrlState(once).state)).toBe(once);
      }),
    );
  });

  it('serialise refuses state that could not be read back', () => {
    expect(() => serialiseUrlState({ ...DEFAULTS, layer: -1 })).toThrow(RangeError);
    expect(() => serialiseUrlState({ ...DEFAULTS, sample: 1.5 })).toThrow(RangeError);
    expect(() => serialiseUrlState({ ...DEFAULTS, model: 'a/b' })).toThrow(RangeError);
  });
});

describe('quote', () => {
  it('quotes, truncates and neutralises control characters', () => {
    expect(quote('abc')).toBe('"abc"');
    expect(quote('x'.repeat(50))).toBe(`"${'x'.repeat(40)}…"`);
    expect(quote('a\nb')).toBe('"a\uFFFDb"');
  });
});

describe('engine and hosted-model properties', () => {
  it('leaves the engine out of links until the user chooses one', () => {
    const base = parseUrlState('').state;
    expect(serialiseUrlState(base)).not.toContain('engine');
    expect(serialiseUrlState({ ...base, engine: 'ort-wasm' })).toContain('engine=ort-wasm');
    expect(parseUrlState('?engine=ort-wasm').state.engine).toBe('ort-wasm');
  });

  it('refuses unknown engines with a notice', () => {
    const { state, notices } = parseUrlState('?engine=tpu');
    expect(state.engine).toBe('auto');
    expect(notices[0]).toContain('"engine"');
  });

  it('accepts http(s) model URLs and refuses other schemes and injections', () => {
    const url = 'https://models.example.org/crate/digits.onnx?v=2';
    expect(parseUrlState(`?model=${encodeURIComponent(url)}`)).toEqual({ state: { ...parseUrlState('').state, model: url }, notices: [] });
    for (const bad of ['javascript:alert(1)', 'data:text/html,<script>', 'https://a.example/"><script>alert(1)</script>', 'file:///etc/passwd', `https://x.example/${'a'.repeat(600)}`]) {
      const { state, notices } = parseUrlState(`?model=${encodeURIComponent(bad)}`);
      expect(state.model, bad).toBe('digits');
      expect(notices, bad).toHaveLength(1);
    }
  });
});

describe('view properties', () => {
  it('reads heads, fractions and switches, and refuses garbage in each with a notice', () => {
    const { state, notices } = parseUrlState('?head=3&p=0.25&tau=1&dataset=1&teach=0&view=pca&seg=mass&query=17');
    expect(notices).toEqual([]);
    expect(state).toMatchObject({ head: 3, p: 0.25, tau: 1, dataset: true, teach: false, view: 'pca', seg: 'mass', query: 17 });
    for (const bad of ['head=-1', `head=${MAX_HEADS}`, 'head=avg', 'p=0', 'p=1.5', 'p=.5', 'p=NaN', 'tau=0.12345', 'dataset=yes', 'teach=true', 'view=<b>', 'seg=otsu', 'query=70000']) {
      const parsed = parseUrlState(`?${bad}`);
      expect(parsed.notices, bad).toHaveLength(1);
      expect(parsed.state, bad).toEqual(DEFAULTS);
    }
  });
});

describe('head limit (issue 20 #1): one limit, the config\'s', () => {
  it('is the config\'s MAX_HEADS, and a config with that many heads parses', () => {
    expect(MAX_HEADS).toBe(CONFIG_MAX_HEADS);
    expect(parseConfig({ image_size: 32, patch_size: 16, channels: 3, dim: MAX_HEADS, depth: 1, heads: MAX_HEADS, dim_head: 1, num_classes: 2 }).heads).toBe(MAX_HEADS);
  });

  it.each([70, 100, 255])('head %i of a model with 256 heads round-trips through a link', (head) => {
    const state = { ...DEFAULTS, head };
    const search = serialiseUrlState(state);
    expect(search).toContain(`head=${head}`);
    expect(parseUrlState(search)).toEqual({ state, notices: [] });
    expect(encodeUrlState(state)).toEqual({ search, omitted: [] });
  });

  it('a head past the limit is refused when read, with a notice naming the range', () => {
    const { state, notices } = parseUrlState(`?head=${MAX_HEADS}`);
    expect(state.head).toBe('mean');
    expect(notices).toEqual([expect.stringContaining(`from 0 to ${MAX_HEADS - 1}`)]);
  });

  it('encodeUrlState never throws: a value a link cannot carry goes out as its default, reported, and the rest is kept', () => {
    for (const head of [MAX_HEADS, 1e6, -1, 2.5, Number.NaN]) {
      const state: UrlState = { ...DEFAULTS, head, layer: 3, sample: 7 };
      let encoded: ReturnType<typeof encodeUrlState> | undefined;
      expect(() => (encoded = encodeUrlState(state)), String(head)).not.toThrow();
      expect(encoded!.omitted, String(head)).toEqual([expect.stringMatching(/^URL state "head" = .* the link carries its default instead$/)]);
      expect(parseUrlState(encoded!.search)).toEqual({ state: { ...state, head: 'mean' }, notices: [] });
    }
  });
});
