/**
 * Fuzzing the URL codec (parseUrlState, serialiseUrlState): links built from
 * known and unknown keys, hostile values (script injection, javascript: and
 * data: URLs, control characters, huge numbers, overlong values), in every
 * encoding, duplicated and reordered; plus random text. parseUrlState must
 * never throw, and must give a state every property accepts, that serialises
 * and reads back to itself with no notices; notices stay few, short and free
 * of control characters; a hosted model is only ever an http(s) URL.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_SEARCH_LENGTH, URL_PROPS, parseUrlState, serialiseUrlState, type UrlState } from '../../src/state/urlState.ts';
import { CASES_PER_PARSER, fuzz, runCase, runsFor, Tally } from '../helpers/fuzz.ts';

const tally = new Tally();
let clean = 0;
let noticed = 0;
const NAMES = URL_PROPS.map((p) => p.name);

export const HOSTILE_VALUES = [
  'javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'blob:https://x/1', 'vbscript:x',
  '"><script>alert(1)</script>', '<img src=x onerror=alert(1)>', "'><svg onload=alert(1)>", '{{constructor.constructor("alert(1)")()}}', '${alert(1)}',
  'https://evil.example/m.onnx', 'https://evil.example/m.onnx#<script>', 'https://evil.example/"onmouseover="alert(1)', 'http://a b/m.onnx', 'https://user:pw@evil.example/m.onnx', '//evil.example/m.onnx',
  '\u0000', '\n', '\r\n', '\u2028', '\u202e', '\ud800', '%00', '%', '%zz', '%E0%A4%A', '+', '&', '=', '#',
  '-0', '+1', '1e3', '0x10', '00', '1.', '.5', 'NaN', 'Infinity', '9'.repeat(20), '9'.repeat(400), '4294967296', '1023', '1024', '65535', '65536',
  '0', '1', 'mean', 'all', 'true', 'false', '0.6', '1.0000', '1.00001', '0.00001', 'ort-wasm', 'wgsl', 'auto', 'digits', '__proto__', 'constructor', 'toString', 'x'.repeat(129), 'x'.repeat(513),
];
const KEYS = [...NAMES, ...NAMES.map((n) => n.toUpperCase()), `${NAMES[0]} `, '__proto__', 'constructor', 'hasOwnProperty', '', 'model[]', 'model.x', '<script>', 'x'.repeat(200)];

/** encodeURIComponent throws on a lone surrogate; such text then goes in raw, as a hand-typed link would. */
const encode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return s;
  }
};
const encodings = [(s: string) => s, encode, (s: string) => encode(encode(s)), (s: string) => s.replace(/ /g, '+'), escape];

const pairArb = fc.record({
  key: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
  value: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HOSTILE_VALUES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 70000 }).map(String) }),
  encoding: fc.integer({ min: 0, max: encodings.length - 1 }),
  separator: fc.constantFrom('&', '&&', '&', '&', ';', '&amp;'),
  equals: fc.constantFrom('=', '=', '=', '==', ''),
});
const linkArb = fc.tuple(fc.constantFrom('?', '', '??', '#'), fc.array(pairArb, { maxLength: 20 })).map(([lead, pairs]) =>
  lead + pairs.map((p) => `${encodings[p.encoding](p.key)}${p.equals}${encodings[p.encoding](p.value)}${p.separator}`).join(''),
);

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The properties every parse must keep; throws (recording a counterexample) otherwise. */
async function check(search: string): Promise<void> {
  tally.cases++;
  let parsed: ReturnType<typeof parseUrlState> | undefined;
  tally.add(await runCase(() => (parsed = parseUrlState(search)), { allowed: () => false, allocationLimit: 1 << 20, describe: `parseUrlState(${JSON.stringify(search.slice(0, 200))})` }));
  const { state, notices } = parsed!;
  if (notices.length) noticed++;
  else clean++;
  for (const prop of URL_PROPS) {
    const problem = prop.validate(state[prop.name] as never);
    if (problem !== null) throw new Error(`"${prop.name}" = ${JSON.stringify(state[prop.name])} ${problem}`);
  }
  if (!/^(https?:\/\/|[A-Za-z0-9])/.test(state.model) || /["'<>\s]|^javascript:|^data:/i.test(state.model)) throw new Error(`model ${JSON.stringify(state.model)} got through`);
  const link = serialiseUrlState(state);
  const again = parseUrlState(link);
  if (again.notices.length || !sameState(again.state, state)) throw new Error(`${link} does not read back to itself: ${JSON.stringify(again)}`);
  if (notices.length > 2 * URL_PROPS.length + 4) throw new Error(`${notices.length} notices`);
  for (const line of notices) {
    if (line.length > 300) throw new Error(`notice of ${line.length} characters: ${line.slice(0, 100)}`);
    if (CONTROL.test(line)) throw new Error(`notice with a control character: ${JSON.stringify(line)}`);
  }
}

function sameState(a: UrlState, b: UrlState): boolean {
  return URL_PROPS.every((p) => Object.is(a[p.name], b[p.name]));
}

describe('URL codec fuzzing', () => {
  afterAll(() => console.log(`${tally.summary('url')}; ${clean} clean, ${noticed} with notices`));

  it('links of known and unknown keys with hostile values, in every encoding', async () => {
    await fuzz(fc.asyncProperty(linkArb, check), runsFor(0.6), 31);
  });

  it('random text, and random text after each known key', async () => {
    await fuzz(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom(...NAMES), async (text, key) => {
        await check(text);
        await check(`?${key}=${text}`);
      }),
      runsFor(0.2),
      32,
    );
  });

  it('very long links: at, just under and far over the parse limit', async () => {
    await fuzz(
      fc.asyncProperty(fc.integer({ min: MAX_SEARCH_LENGTH - 20, max: MAX_SEARCH_LENGTH + 20 }), fc.constantFrom('model=', 'layer=', 'x=', '&'), fc.boolean(), async (length, unit, huge) => {
        const body = unit.repeat(Math.ceil((huge ? 50 * length : length) / unit.length));
        await check(`?${body}`.slice(0, huge ? 50 * length : length));
      }),
      runsFor(0.05),
      33,
    );
  });

  it('never reflects hostile text into the state; refuses it with a notice', async () => {
    for (const value of HOSTILE_VALUES.filter((v) => /[<>"'`]|script:|^data:/i.test(v))) {
      for (const name of NAMES) {
        const { state, notices } = parseUrlState(`?${name}=${encodeURIComponent(value)}`);
        expect(JSON.stringify(state), `${name}=${value}`).not.toMatch(/[<>]|script:/i);
        expect(notices.length, `${name}=${value}`).toBeGreaterThan(0);
      }
    }
  });

  it('ran the budgeted number of cases, with clean links and links that needed notices both reached', () => {
    expect(tally.cases).toBeGreaterThanOrEqual(CASES_PER_PARSER * 0.99);
    expect(tally.refused).toBe(0);
    expect(clean).toBeGreaterThan(CASES_PER_PARSER * 0.02);
    expect(noticed).toBeGreaterThan(CASES_PER_PARSER * 0.25);
  });
});
